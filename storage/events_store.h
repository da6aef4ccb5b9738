/* events_store.h - the client events log (table room_events): what the
 * client reads with GET /v1/client/events. The AUTOINCREMENT token is the
 * since-token.
 *
 * Threads: like the roomdb handle it uses, one thread at a time (the
 * caller holds the rooms lock). */
#ifndef NATTER_EVENTS_STORE_H
#define NATTER_EVENTS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"
#include "roomdb.h"

/* One stored event. Every pointer is borrowed from the row and valid only
 * during the callback that gets it. */
typedef struct {
    int64_t token, ts;
    const char *type;
    const char *room; /* "" when the event is about no room */
    const char *data; /* a JSON object, as stored */
} room_event;

/* Append an event (room may be NULL). data: a JSON text. */
NT_MUST_USE nt_err events_store_add(roomdb *db, int64_t ts, const char *type, const char *room, const char *data);
/* The last token given (0 when none). */
NT_MUST_USE nt_err events_store_last(roomdb *db, int64_t *token);
/* Forget all but the newest `keep` tokens. */
NT_MUST_USE nt_err events_store_trim(roomdb *db, int64_t keep);

/* Called for each event of events_store_each, oldest first. The callback
 * may use db (other statements) but must not write room_events. */
typedef void events_store_fn(void *arg, const room_event *ev);
/* The events after token `after`, at most limit. */
NT_MUST_USE nt_err events_store_each(roomdb *db, int64_t after, int64_t limit, events_store_fn *fn, void *arg);

#endif
