/* roomdb.c - see roomdb.h. */
#include "roomdb.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

const char ROOMDB_SCHEMA[] =
    "CREATE TABLE rooms("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, topic TEXT NOT NULL DEFAULT '',"
    " host TEXT NOT NULL, access TEXT NOT NULL DEFAULT 'invite',"
    " pw_salt BLOB, pw_hash BLOB, pw_iter INTEGER NOT NULL DEFAULT 0,"
    " rot_msgs INTEGER NOT NULL DEFAULT 100, rot_secs INTEGER NOT NULL DEFAULT 604800,"
    " epoch INTEGER NOT NULL DEFAULT 0, epoch_ts INTEGER NOT NULL DEFAULT 0,"
    " since_rot INTEGER NOT NULL DEFAULT 0, head INTEGER NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL, delivery TEXT NOT NULL DEFAULT 'push',"
    " from_seq INTEGER NOT NULL DEFAULT 0, dropped INTEGER NOT NULL DEFAULT 0,"
    " need TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL);"
    "CREATE TABLE room_members("
    " room TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE, peer TEXT NOT NULL,"
    " role TEXT NOT NULL DEFAULT 'member', state TEXT NOT NULL, pub BLOB,"
    " delivery TEXT NOT NULL DEFAULT 'push', cursor INTEGER NOT NULL DEFAULT 0,"
    " key_epoch INTEGER NOT NULL DEFAULT 0, from_epoch INTEGER NOT NULL DEFAULT 0,"
    " from_seq INTEGER NOT NULL DEFAULT 0, notice TEXT NOT NULL DEFAULT '',"
    " next_try INTEGER NOT NULL DEFAULT 0, fails INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(room, peer));"
    "CREATE TABLE room_keys("
    " room TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE, epoch INTEGER NOT NULL,"
    " key BLOB NOT NULL, created INTEGER NOT NULL, PRIMARY KEY(room, epoch));"
    "CREATE TABLE room_messages("
    " room TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE, seq INTEGER NOT NULL,"
    " sender TEXT NOT NULL, epoch INTEGER NOT NULL, txn_id TEXT NOT NULL, ts INTEGER NOT NULL,"
    " body BLOB NOT NULL, sig BLOB NOT NULL, text TEXT,"
    " PRIMARY KEY(room, seq), UNIQUE(room, sender, txn_id));"
    "CREATE TABLE room_outbox("
    " room TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE, txn_id TEXT NOT NULL,"
    " text TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', seq INTEGER,"
    " reason TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,"
    " code INTEGER NOT NULL DEFAULT 0, next_try INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
    " PRIMARY KEY(room, txn_id));"
    "CREATE INDEX room_outbox_due ON room_outbox(state, next_try);"
    "CREATE TABLE room_events("
    " token INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, type TEXT NOT NULL,"
    " room TEXT, data TEXT NOT NULL);";

const char ROOMDB_MEMBERS_VER[] =
    "ALTER TABLE rooms ADD COLUMN members_ver INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE room_members ADD COLUMN mver INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE room_members ADD COLUMN members_seen INTEGER NOT NULL DEFAULT 0;";

nt_err roomdb_migrate(sqlite3 *db)
{
    int64_t n = 0;
    nt_err rc = roomdb_int(db, &n, "SELECT count(*) FROM sqlite_master WHERE name='rooms'", "");
    if (rc)
        return rc;
    if (!n && sqlite3_exec(db, ROOMDB_SCHEMA, NULL, NULL, NULL) != SQLITE_OK)
        return NT_ERR_DB;
    rc = roomdb_int(db, &n, "SELECT count(*) FROM pragma_table_info('rooms') WHERE name='members_ver'", "");
    if (rc || n)
        return rc;
    return sqlite3_exec(db, ROOMDB_MEMBERS_VER, NULL, NULL, NULL) == SQLITE_OK ? NT_OK : NT_ERR_DB;
}

/* Statement cache: SQL texts are string literals, so their address is the
 * key. A statement in use (a nested use of the same text) is not shared:
 * the nested caller gets a fresh one that roomdb_done() finalizes. */
#define CACHE_MAX 256

typedef struct {
    sqlite3 *db;
    const char *sql;
    sqlite3_stmt *st;
    bool busy;
} cache_entry;

static cache_entry cache[CACHE_MAX];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_ulong leaked; /* statements roomdb_sweep found active */

static sqlite3_stmt *cache_get(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int free_slot = -1;
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_MAX; i++) {
        if (cache[i].db == db && cache[i].sql == sql) {
            if (!cache[i].busy) {
                cache[i].busy = true;
                st = cache[i].st;
            }
            pthread_mutex_unlock(&cache_lock);
            if (!st && sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
                st = NULL;
            return st;
        }
        if (!cache[i].db && free_slot < 0)
            free_slot = i;
    }
    if (sqlite3_prepare_v3(db, sql, -1, free_slot >= 0 ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) != SQLITE_OK)
        st = NULL;
    else if (free_slot >= 0)
        cache[free_slot] = (cache_entry){db, sql, st, true};
    pthread_mutex_unlock(&cache_lock);
    return st;
}

void roomdb_done(sqlite3_stmt *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_MAX; i++) {
        if (cache[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            cache[i].busy = false;
            pthread_mutex_unlock(&cache_lock);
            return;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    sqlite3_finalize(st);
}

void roomdb_forget(sqlite3 *db)
{
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_MAX; i++) {
        if (cache[i].db == db) {
            sqlite3_finalize(cache[i].st);
            cache[i] = (cache_entry){0};
        }
    }
    pthread_mutex_unlock(&cache_lock);
}

static sqlite3_stmt *vprep(sqlite3 *db, const char *sql, const char *fmt, va_list ap)
{
    sqlite3_stmt *st = cache_get(db, sql);
    if (!st)
        return NULL;
    int ok = SQLITE_OK;
    for (int i = 1; fmt[i - 1] && ok == SQLITE_OK; i++) {
        switch (fmt[i - 1]) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            ok = s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
            break;
        }
        case 'i':
            ok = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
            break;
        case 'b': {
            const void *p = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            ok = p ? sqlite3_bind_blob(st, i, p, (int)n, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
            break;
        }
        default:
            ok = sqlite3_bind_null(st, i);
        }
    }
    if (ok != SQLITE_OK) {
        roomdb_done(st);
        return NULL;
    }
    return st;
}

sqlite3_stmt *roomdb_prep(sqlite3 *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = vprep(db, sql, fmt, ap);
    va_end(ap);
    return st;
}

nt_err roomdb_exec(sqlite3 *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = vprep(db, sql, fmt, ap);
    va_end(ap);
    if (!st)
        return NT_ERR_DB;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        ;
    roomdb_done(st);
    if (r == SQLITE_DONE)
        return NT_OK;
    return (r & 0xff) == SQLITE_CONSTRAINT ? NT_ERR_EXISTS : NT_ERR_DB;
}

nt_err roomdb_int(sqlite3 *db, int64_t *out, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = vprep(db, sql, fmt, ap);
    va_end(ap);
    if (!st)
        return NT_ERR_DB;
    int r = sqlite3_step(st);
    nt_err rc = NT_OK;
    if (r == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = r == SQLITE_DONE ? NT_ERR_NOT_FOUND : NT_ERR_DB;
    roomdb_done(st);
    return rc;
}

size_t roomdb_sweep(sqlite3 *db)
{
    size_t n = 0;
    for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st; st = sqlite3_next_stmt(db, st)) {
        if (!sqlite3_stmt_busy(st))
            continue;
        n++;
        sqlite3_reset(st);
        /* a cached one handed out and never handed back: take it back */
        pthread_mutex_lock(&cache_lock);
        for (int i = 0; i < CACHE_MAX; i++)
            if (cache[i].st == st)
                cache[i].busy = false;
        pthread_mutex_unlock(&cache_lock);
    }
    if (!sqlite3_get_autocommit(db)) {
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        n++;
    }
    atomic_fetch_add(&leaked, n);
    return n;
}

size_t roomdb_active(sqlite3 *db)
{
    size_t n = 0;
    for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st; st = sqlite3_next_stmt(db, st))
        n += sqlite3_stmt_busy(st) != 0;
    return n;
}

unsigned long roomdb_leaked(void)
{
    return atomic_load(&leaked);
}

nt_err roomdb_begin(sqlite3 *db)
{
    /* Nothing may be active at a BEGIN: a statement left stepped holds a
     * snapshot that goes stale when the store's connection commits, and
     * then every BEGIN IMMEDIATE here fails (SQLITE_BUSY_SNAPSHOT). Inside
     * a transaction, no sweep: this BEGIN fails as it should. */
    if (sqlite3_get_autocommit(db))
        (void)roomdb_sweep(db);
    if (roomdb_exec(db, "BEGIN IMMEDIATE", "") == NT_OK)
        return NT_OK;
    return NT_ERR_DB;
}

nt_err roomdb_commit(sqlite3 *db)
{
    if (roomdb_exec(db, "COMMIT", "") == NT_OK)
        return NT_OK;
    roomdb_rollback(db);
    return NT_ERR_DB;
}

void roomdb_rollback(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

const char *roomdb_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? (const char *)t : "";
}
