/* log_store.h - a room's log (table room_messages): on the host the
 * ordered log it commits, on a member its applied copy. An entry is
 * unique by (room, seq) and by (room, sender, txn_id). `text` is the
 * node's own decryption: NULL when the entry could not be read (dropped
 * for this node's user).
 *
 * Threads: one thread at a time on the roomdb handle (the caller holds
 * the rooms lock, or a reader's mutex). */
#ifndef NATTER_LOG_STORE_H
#define NATTER_LOG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"
#include "roomdb.h"

/* One log entry. In callbacks every pointer is borrowed from the row, for
 * the call only; given to log_store_append/apply, they are read only. */
typedef struct {
    const char *room;
    int64_t seq;
    const char *sender; /* 64 hex */
    int64_t epoch;
    const char *txn;
    int64_t ts;
    const uint8_t *body, *sig;
    size_t body_len, sig_len;
    const char *text; /* may be NULL */
} log_entry;

/* The seq and ts of (room, sender, txn); NT_ERR_NOT_FOUND if none. */
NT_MUST_USE nt_err log_store_find(roomdb *db, const char *room, const char *sender, const char *txn, int64_t *seq,
                                  int64_t *ts);
/* Host: append e. NT_ERR_EXISTS when its seq or its (sender, txn) is
 * taken. */
NT_MUST_USE nt_err log_store_append(roomdb *db, const log_entry *e);
/* Member: apply e from the host's log; an entry already held stays as it
 * is (NT_OK either way). */
NT_MUST_USE nt_err log_store_apply(roomdb *db, const log_entry *e);

/* Called with each entry of a listing, in seq order; return false to stop. */
typedef bool log_store_fn(void *arg, const log_entry *e);
/* The entries after seq `after`, at most limit (every entry, text or
 * none; text is not given). */
NT_MUST_USE nt_err log_store_each(roomdb *db, const char *room, int64_t after, int64_t limit, log_store_fn *fn,
                                  void *arg);
/* The readable entries (text not NULL; body and sig are not given) with
 * after < seq < before: the oldest `limit` of them when after >= 0, else
 * the newest `limit`; in seq order either way. */
NT_MUST_USE nt_err log_store_texts(roomdb *db, const char *room, int64_t after, int64_t before, int64_t limit,
                                   log_store_fn *fn, void *arg);
/* The readable entry at seq, as for log_store_texts; NT_ERR_NOT_FOUND if none. */
NT_MUST_USE nt_err log_store_text_at(roomdb *db, const char *room, int64_t seq, log_store_fn *fn, void *arg);

#endif
