/* keys_store.c - see keys_store.h. */
#include "keys_store.h"

#include <string.h>

nt_err keys_store_get(roomdb *db, const char *room, int64_t epoch, uint8_t key[static KEYS_STORE_KEY_LEN])
{
    sqlite3_stmt *st = roomdb_prep(db, "SELECT key FROM room_keys WHERE room=? AND epoch=?", "si", room, epoch);
    if (!st)
        return NT_ERR_DB;
    int s = sqlite3_step(st);
    nt_err rc = s == SQLITE_ROW || s == SQLITE_DONE ? NT_ERR_NOT_FOUND : NT_ERR_DB;
    if (s == SQLITE_ROW && sqlite3_column_bytes(st, 0) == KEYS_STORE_KEY_LEN) {
        memcpy(key, sqlite3_column_blob(st, 0), KEYS_STORE_KEY_LEN);
        rc = NT_OK;
    }
    roomdb_done(db, st);
    return rc;
}

nt_err keys_store_add(roomdb *db, const char *room, int64_t epoch, const uint8_t key[static KEYS_STORE_KEY_LEN],
                      int64_t created)
{
    return roomdb_exec(db, "INSERT INTO room_keys(room,epoch,key,created) VALUES(?,?,?,?)", "sibi", room, epoch, key,
                       (size_t)KEYS_STORE_KEY_LEN, created);
}

nt_err keys_store_keep(roomdb *db, const char *room, int64_t epoch, const uint8_t key[static KEYS_STORE_KEY_LEN],
                       int64_t created)
{
    return roomdb_exec(db, "INSERT OR IGNORE INTO room_keys(room,epoch,key,created) VALUES(?,?,?,?)", "sibi", room,
                       epoch, key, (size_t)KEYS_STORE_KEY_LEN, created);
}

nt_err keys_store_oldest(roomdb *db, const char *room, int64_t *epoch)
{
    *epoch = 0;
    return roomdb_int(db, epoch, "SELECT coalesce(min(epoch),0) FROM room_keys WHERE room=?", "s", room);
}

nt_err keys_store_each(roomdb *db, const char *room, int64_t min_epoch, size_t max, keys_store_fn *fn, void *arg)
{
    sqlite3_stmt *st = roomdb_prep(db, "SELECT epoch,key FROM room_keys WHERE room=? AND epoch>=? ORDER BY epoch "
                                   "LIMIT ?", "sii", room, min_epoch, (int64_t)max);
    if (!st)
        return NT_ERR_DB;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        fn(arg, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
    roomdb_done(db, st);
    return s == SQLITE_DONE ? NT_OK : NT_ERR_DB;
}
