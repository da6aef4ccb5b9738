/* log_store.c - see log_store.h. */
#include "log_store.h"

nt_err log_store_find(roomdb *db, const char *room, const char *sender, const char *txn, int64_t *seq, int64_t *ts)
{
    sqlite3_stmt *st = roomdb_prep(db, "SELECT seq,ts FROM room_messages WHERE room=? AND sender=? AND txn_id=?",
                                   "sss", room, sender, txn);
    if (!st)
        return NT_ERR_DB;
    int s = sqlite3_step(st);
    nt_err rc = s == SQLITE_ROW ? NT_OK : s == SQLITE_DONE ? NT_ERR_NOT_FOUND : NT_ERR_DB;
    if (!rc) {
        *seq = sqlite3_column_int64(st, 0);
        *ts = sqlite3_column_int64(st, 1);
    }
    roomdb_done(db, st);
    return rc;
}

nt_err log_store_append(roomdb *db, const log_entry *e)
{
    return roomdb_exec(db,
                       "INSERT INTO room_messages(room,seq,sender,epoch,txn_id,ts,body,sig,text) "
                       "VALUES(?,?,?,?,?,?,?,?,?)",
                       "sisisibbs", e->room, e->seq, e->sender, e->epoch, e->txn, e->ts, e->body, e->body_len, e->sig,
                       e->sig_len, e->text);
}

nt_err log_store_apply(roomdb *db, const log_entry *e)
{
    return roomdb_exec(db,
                       "INSERT OR IGNORE INTO room_messages(room,seq,sender,epoch,txn_id,ts,body,sig,text) "
                       "VALUES(?,?,?,?,?,?,?,?,?)",
                       "sisisibbs", e->room, e->seq, e->sender, e->epoch, e->txn, e->ts, e->body, e->body_len, e->sig,
                       e->sig_len, e->text);
}

/* Rows of (seq, sender, epoch, txn_id, ts, body, sig, text) to fn. */
static nt_err each_row(roomdb *db, sqlite3_stmt *st, const char *room, log_store_fn *fn, void *arg)
{
    if (!st)
        return NT_ERR_DB;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        log_entry e = {.room = room, .seq = sqlite3_column_int64(st, 0), .sender = roomdb_text(st, 1),
                       .epoch = sqlite3_column_int64(st, 2), .txn = roomdb_text(st, 3),
                       .ts = sqlite3_column_int64(st, 4), .body = sqlite3_column_blob(st, 5),
                       .body_len = (size_t)sqlite3_column_bytes(st, 5), .sig = sqlite3_column_blob(st, 6),
                       .sig_len = (size_t)sqlite3_column_bytes(st, 6),
                       .text = (const char *)sqlite3_column_text(st, 7)};
        if (!fn(arg, &e)) {
            s = SQLITE_DONE;
            break;
        }
    }
    roomdb_done(db, st);
    return s == SQLITE_DONE ? NT_OK : NT_ERR_DB;
}

nt_err log_store_each(roomdb *db, const char *room, int64_t after, int64_t limit, log_store_fn *fn, void *arg)
{
    return each_row(db,
                    roomdb_prep(db,
                                "SELECT seq,sender,epoch,txn_id,ts,body,sig,NULL FROM room_messages WHERE room=? AND "
                                "seq>? ORDER BY seq LIMIT ?",
                                "sii", room, after, limit),
                    room, fn, arg);
}

#define TEXT_COLS "seq,sender,epoch,txn_id,ts,NULL,NULL,text"

nt_err log_store_texts(roomdb *db, const char *room, int64_t after, int64_t before, int64_t limit, log_store_fn *fn,
                       void *arg)
{
    sqlite3_stmt *st = after >= 0
        ? roomdb_prep(db, "SELECT " TEXT_COLS " FROM room_messages WHERE room=? AND text IS NOT NULL AND seq>? "
                      "AND seq<? ORDER BY seq LIMIT ?", "siii", room, after, before, limit)
        : roomdb_prep(db, "SELECT * FROM (SELECT " TEXT_COLS " FROM room_messages WHERE room=? AND text IS NOT "
                      "NULL AND seq<? ORDER BY seq DESC LIMIT ?) ORDER BY seq", "sii", room, before, limit);
    return each_row(db, st, room, fn, arg);
}

typedef struct {
    log_store_fn *fn;
    void *arg;
    bool found;
} one_row;

static bool one(void *arg, const log_entry *e)
{
    one_row *o = arg;
    o->found = true;
    (void)o->fn(o->arg, e);
    return false;
}

nt_err log_store_text_at(roomdb *db, const char *room, int64_t seq, log_store_fn *fn, void *arg)
{
    one_row o = {fn, arg, false};
    nt_err rc = each_row(db,
                         roomdb_prep(db, "SELECT " TEXT_COLS " FROM room_messages WHERE room=? AND seq=? AND text "
                                     "IS NOT NULL", "si", room, seq),
                         room, one, &o);
    return rc ? rc : o.found ? NT_OK : NT_ERR_NOT_FOUND;
}
