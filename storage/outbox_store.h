/* outbox_store.h - a member's outbox (table room_outbox): what the user
 * typed, kept until the host acknowledges it (sent, with its seq) or
 * refuses it (failed, with the reason and the host's status). Entries of
 * a room are ordered by their insertion (rowid).
 *
 * Threads: one thread at a time on the roomdb handle (the caller holds
 * the rooms lock). Room ids and txn ids are passed through unchecked: the
 * caller validated them. */
#ifndef NATTER_OUTBOX_STORE_H
#define NATTER_OUTBOX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"
#include "roomdb.h"

#define OUTBOX_ROOM_MAX 32    /* a room id: 32 hex */
#define OUTBOX_TXN_MAX 64     /* a txn id */
#define OUTBOX_REASON_MAX 256 /* a refusal or retry reason, as stored (longer ones are cut) */

/* Stored as text ("pending", "sent", "failed"). */
typedef enum { OUTBOX_PENDING = 0, OUTBOX_SENT, OUTBOX_FAILED } outbox_state;

const char *outbox_state_name(outbox_state s);
/* NT_ERR_INVALID for any other text. */
NT_MUST_USE nt_err outbox_state_parse(const char *s, outbox_state *out);

typedef struct {
    outbox_state state;
    bool has_seq;
    int64_t seq; /* the host's seq once sent */
    char reason[OUTBOX_REASON_MAX];
    int64_t attempts;
    int64_t code; /* the host's HTTP status of a refusal (0: none) */
    int64_t created; /* when it was written, ms since the Unix epoch */
    char *text;   /* owned: outbox_entry_clear */
} outbox_entry;

/* Wipe and free e->text. NULL-safe. */
void outbox_entry_clear(outbox_entry *e);

/* The entry (room, txn); NT_ERR_NOT_FOUND if none. With want_text false
 * e->text stays NULL. On error nothing is left to clear. */
NT_MUST_USE nt_err outbox_store_get(roomdb *db, const char *room, const char *txn, bool want_text, outbox_entry *e);
/* A new pending entry. NT_ERR_EXISTS if (room, txn) is taken. */
NT_MUST_USE nt_err outbox_store_add(roomdb *db, const char *room, const char *txn, const char *text, int64_t created);
/* Set the state (with seq and reason, NULL for none) unless it already is
 * that state; *changed tells which. NT_ERR_NOT_FOUND if no such entry. */
NT_MUST_USE nt_err outbox_store_set_state(roomdb *db, const char *room, const char *txn, outbox_state state,
                                          int64_t seq, const char *reason, bool *changed);
/* The number of the next attempt (attempts + 1). */
NT_MUST_USE nt_err outbox_store_next_attempt(roomdb *db, const char *room, const char *txn, int64_t *attempt);
/* Record an attempt that must be retried at next_try (ms), and why. */
NT_MUST_USE nt_err outbox_store_retry(roomdb *db, const char *room, const char *txn, int64_t attempts,
                                      int64_t next_try, const char *reason);
/* Make every pending entry of the rooms hosted by host (64 hex digits)
 * due at now: the host came back, its messages need not wait out their
 * backoff. */
NT_MUST_USE nt_err outbox_store_due_for_host(roomdb *db, const char *host, int64_t now);
/* Record the host's status for a refusal. */
NT_MUST_USE nt_err outbox_store_set_code(roomdb *db, const char *room, const char *txn, int64_t code);

/* Called with each txn id of a listing, in insertion order (borrowed for
 * the call; the callback may read the outbox, not write it). */
typedef void outbox_store_fn(void *arg, const char *txn);
/* The room's entries not sent (pending or failed), at most max. */
NT_MUST_USE nt_err outbox_store_unsent(roomdb *db, const char *room, size_t max, outbox_store_fn *fn, void *arg);
/* The room's pending entries, at most max. */
NT_MUST_USE nt_err outbox_store_pending(roomdb *db, const char *room, size_t max, outbox_store_fn *fn, void *arg);
/* Whether txn is the room's oldest pending entry. */
NT_MUST_USE nt_err outbox_store_is_oldest(roomdb *db, const char *room, const char *txn, bool *oldest);
/* The oldest pending entry of some room, if it is due (next_try <= now)
 * and the room's id is not in skip (a list of room ids). NT_ERR_NOT_FOUND
 * when none is due. */
NT_MUST_USE nt_err outbox_store_next_due(roomdb *db, int64_t now, const char *skip,
                                         char room[static OUTBOX_ROOM_MAX + 1], char txn[static OUTBOX_TXN_MAX + 1]);

#endif
