/* events_store.c - see events_store.h. */
#include "events_store.h"

nt_err events_store_add(roomdb *db, int64_t ts, const char *type, const char *room, const char *data)
{
    return roomdb_exec(db, "INSERT INTO room_events(ts,type,room,data) VALUES(?,?,?,?)", "isss", ts, type, room,
                       data);
}

nt_err events_store_last(roomdb *db, int64_t *token)
{
    *token = 0;
    return roomdb_int(db, token, "SELECT coalesce(max(token),0) FROM room_events", "");
}

nt_err events_store_trim(roomdb *db, int64_t keep)
{
    int64_t last = 0;
    nt_err rc = events_store_last(db, &last);
    if (rc || last <= keep)
        return rc;
    return roomdb_exec(db, "DELETE FROM room_events WHERE token<=?", "i", last - keep);
}

nt_err events_store_each(roomdb *db, int64_t after, int64_t limit, events_store_fn *fn, void *arg)
{
    sqlite3_stmt *st = roomdb_prep(db, "SELECT token,ts,type,room,data FROM room_events WHERE token>? "
                                   "ORDER BY token LIMIT ?", "ii", after, limit);
    if (!st)
        return NT_ERR_DB;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        room_event ev = {.token = sqlite3_column_int64(st, 0), .ts = sqlite3_column_int64(st, 1),
                         .type = roomdb_text(st, 2), .room = roomdb_text(st, 3), .data = roomdb_text(st, 4)};
        fn(arg, &ev);
    }
    roomdb_done(db, st);
    return s == SQLITE_DONE ? NT_OK : NT_ERR_DB;
}
