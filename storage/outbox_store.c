/* outbox_store.c - see outbox_store.h. */
#include "outbox_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/platform_util.h>

static const char *const state_names[] = {
    [OUTBOX_PENDING] = "pending",
    [OUTBOX_SENT] = "sent",
    [OUTBOX_FAILED] = "failed",
};

const char *outbox_state_name(outbox_state s)
{
    return (unsigned)s < ROOMDB_N_WORDS(state_names) ? state_names[s] : "failed";
}

nt_err outbox_state_parse(const char *s, outbox_state *out)
{
    int i = roomdb_word_index(s, state_names, ROOMDB_N_WORDS(state_names));
    if (i < 0)
        return NT_ERR_INVALID;
    *out = (outbox_state)i;
    return NT_OK;
}

void outbox_entry_clear(outbox_entry *e)
{
    if (!e || !e->text)
        return;
    mbedtls_platform_zeroize(e->text, strlen(e->text));
    free(e->text);
    e->text = NULL;
}

static nt_err entry_row(sqlite3_stmt *st, bool want_text, outbox_entry *e)
{
    memset(e, 0, sizeof *e);
    if (outbox_state_parse(roomdb_text(st, 0), &e->state))
        return NT_ERR_DB;
    e->has_seq = sqlite3_column_type(st, 1) != SQLITE_NULL;
    e->seq = sqlite3_column_int64(st, 1);
    snprintf(e->reason, sizeof e->reason, "%s", roomdb_text(st, 2));
    e->attempts = sqlite3_column_int64(st, 3);
    e->code = sqlite3_column_int64(st, 5);
    e->created = sqlite3_column_int64(st, 6);
    if (want_text && !(e->text = strdup(roomdb_text(st, 4))))
        return NT_ERR_NOMEM;
    return NT_OK;
}

nt_err outbox_store_get(roomdb *db, const char *room, const char *txn, bool want_text, outbox_entry *e)
{
    memset(e, 0, sizeof *e);
    sqlite3_stmt *st = roomdb_prep(db,
                                   "SELECT state,seq,reason,attempts,text,code,created FROM room_outbox WHERE room=? AND "
                                   "txn_id=?",
                                   "ss", room, txn);
    if (!st)
        return NT_ERR_DB;
    int s = sqlite3_step(st);
    nt_err rc = s == SQLITE_ROW ? entry_row(st, want_text, e) : s == SQLITE_DONE ? NT_ERR_NOT_FOUND : NT_ERR_DB;
    roomdb_done(db, st);
    if (rc)
        outbox_entry_clear(e);
    return rc;
}

nt_err outbox_store_add(roomdb *db, const char *room, const char *txn, const char *text, int64_t created)
{
    return roomdb_exec(db, "INSERT INTO room_outbox(room,txn_id,text,created) VALUES(?,?,?,?)", "sssi", room, txn,
                       text, created);
}

nt_err outbox_store_set_state(roomdb *db, const char *room, const char *txn, outbox_state state, int64_t seq,
                              const char *reason, bool *changed)
{
    int64_t differs = 0;
    const char *name = outbox_state_name(state);
    *changed = false;
    nt_err rc = roomdb_int(db, &differs, "SELECT state!=? FROM room_outbox WHERE room=? AND txn_id=?", "sss", name,
                           room, txn);
    if (rc || !differs)
        return rc;
    rc = roomdb_exec(db, "UPDATE room_outbox SET state=?, seq=?, reason=? WHERE room=? AND txn_id=?", "sisss", name,
                     seq, reason ? reason : "", room, txn);
    *changed = rc == NT_OK;
    return rc;
}

nt_err outbox_store_next_attempt(roomdb *db, const char *room, const char *txn, int64_t *attempt)
{
    return roomdb_int(db, attempt, "SELECT attempts+1 FROM room_outbox WHERE room=? AND txn_id=?", "ss", room, txn);
}

nt_err outbox_store_due_for_host(roomdb *db, const char *host, int64_t now)
{
    return roomdb_exec(db,
                       "UPDATE room_outbox SET next_try=? WHERE state='pending' AND next_try>? AND "
                       "room IN (SELECT id FROM rooms WHERE host=?)",
                       "iis", now, now, host);
}

nt_err outbox_store_retry(roomdb *db, const char *room, const char *txn, int64_t attempts, int64_t next_try,
                          const char *reason)
{
    return roomdb_exec(db, "UPDATE room_outbox SET attempts=?, next_try=?, reason=? WHERE room=? AND txn_id=?",
                       "iisss", attempts, next_try, reason, room, txn);
}

nt_err outbox_store_set_code(roomdb *db, const char *room, const char *txn, int64_t code)
{
    return roomdb_exec(db, "UPDATE room_outbox SET code=? WHERE room=? AND txn_id=?", "iss", code, room, txn);
}

static nt_err each_txn(roomdb *db, sqlite3_stmt *st, outbox_store_fn *fn, void *arg)
{
    if (!st)
        return NT_ERR_DB;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        fn(arg, roomdb_text(st, 0));
    roomdb_done(db, st);
    return s == SQLITE_DONE ? NT_OK : NT_ERR_DB;
}

nt_err outbox_store_unsent(roomdb *db, const char *room, size_t max, outbox_store_fn *fn, void *arg)
{
    return each_txn(db,
                    roomdb_prep(db, "SELECT txn_id FROM room_outbox WHERE room=? AND state!='sent' "
                                "ORDER BY rowid LIMIT ?", "si", room, (int64_t)max),
                    fn, arg);
}

nt_err outbox_store_pending(roomdb *db, const char *room, size_t max, outbox_store_fn *fn, void *arg)
{
    return each_txn(db,
                    roomdb_prep(db, "SELECT txn_id FROM room_outbox WHERE room=? AND state='pending' "
                                "ORDER BY rowid LIMIT ?", "si", room, (int64_t)max),
                    fn, arg);
}

nt_err outbox_store_is_oldest(roomdb *db, const char *room, const char *txn, bool *oldest)
{
    int64_t v = 0;
    *oldest = false;
    nt_err rc = roomdb_int(db, &v, "SELECT txn_id=? FROM room_outbox WHERE room=? AND state='pending' "
                           "ORDER BY rowid LIMIT 1", "ss", txn, room);
    if (rc == NT_ERR_NOT_FOUND)
        return NT_OK;
    *oldest = !rc && v;
    return rc;
}

nt_err outbox_store_next_due(roomdb *db, int64_t now, const char *skip, char room[static OUTBOX_ROOM_MAX + 1],
                             char txn[static OUTBOX_TXN_MAX + 1])
{
    sqlite3_stmt *st = roomdb_prep(db,
                                   "SELECT o.room,o.txn_id FROM room_outbox o WHERE o.state='pending' AND o.next_try<=? "
                                   "AND o.rowid=(SELECT min(rowid) FROM room_outbox WHERE room=o.room AND "
                                   "state='pending') AND instr(?, o.room)=0 LIMIT 1",
                                   "is", now, skip);
    if (!st)
        return NT_ERR_DB;
    int s = sqlite3_step(st);
    nt_err rc = s == SQLITE_ROW ? NT_OK : s == SQLITE_DONE ? NT_ERR_NOT_FOUND : NT_ERR_DB;
    if (!rc) {
        snprintf(room, OUTBOX_ROOM_MAX + 1, "%s", roomdb_text(st, 0));
        snprintf(txn, OUTBOX_TXN_MAX + 1, "%s", roomdb_text(st, 1));
    }
    roomdb_done(db, st);
    return rc;
}
