/* roomdb.c - see roomdb.h. */
#include "roomdb.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

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

const char ROOMDB_EPOCH_CAUSE[] = "ALTER TABLE rooms ADD COLUMN epoch_cause TEXT NOT NULL DEFAULT 'unknown';";
const char ROOMDB_FROM_EPOCH[] =
    "ALTER TABLE rooms ADD COLUMN from_epoch INTEGER NOT NULL DEFAULT 0;"
    "UPDATE rooms SET from_epoch = coalesce((SELECT min(k.epoch) FROM room_keys k WHERE k.room = rooms.id), 0) "
    "WHERE state <> 'hosted';";
const char ROOMDB_JOINED_VER[] = "ALTER TABLE rooms ADD COLUMN joined_ver INTEGER NOT NULL DEFAULT 0;";

/* Statement cache, one per handle: SQL texts are string literals, so
 * their address is the key. A statement in use (a nested use of the same
 * text) is not shared: the nested caller gets a fresh one that
 * roomdb_done() finalizes. */
#define CACHE_MAX 256

typedef struct {
    const char *sql;
    sqlite3_stmt *st;
    bool busy;
} cache_entry;

struct roomdb {
    sqlite3 *db;
    pthread_mutex_t mu; /* the cache (the connection is the caller's to guard) */
    cache_entry cache[CACHE_MAX];
    roomdb_change_fn *on_change; /* roomdb_watch */
    roomdb_commit_fn *on_commit;
    void *watch_arg;
};

nt_err roomdb_migrate(roomdb *db)
{
    int64_t n = 0;
    nt_err rc = roomdb_int(db, &n, "SELECT count(*) FROM sqlite_master WHERE name='rooms'", "");
    if (rc)
        return rc;
    if (!n && sqlite3_exec(db->db, ROOMDB_SCHEMA, NULL, NULL, NULL) != SQLITE_OK)
        return NT_ERR_DB;
    rc = roomdb_int(db, &n, "SELECT count(*) FROM pragma_table_info('rooms') WHERE name='members_ver'", "");
    if (!rc && !n && sqlite3_exec(db->db, ROOMDB_MEMBERS_VER, NULL, NULL, NULL) != SQLITE_OK)
        rc = NT_ERR_DB;
    if (!rc)
        rc = roomdb_int(db, &n, "SELECT count(*) FROM pragma_table_info('rooms') WHERE name='epoch_cause'", "");
    if (!rc && !n && sqlite3_exec(db->db, ROOMDB_EPOCH_CAUSE, NULL, NULL, NULL) != SQLITE_OK)
        rc = NT_ERR_DB;
    if (!rc)
        rc = roomdb_int(db, &n, "SELECT count(*) FROM pragma_table_info('rooms') WHERE name='from_epoch'", "");
    if (!rc && !n && sqlite3_exec(db->db, ROOMDB_FROM_EPOCH, NULL, NULL, NULL) != SQLITE_OK)
        rc = NT_ERR_DB;
    if (!rc)
        rc = roomdb_int(db, &n, "SELECT count(*) FROM pragma_table_info('rooms') WHERE name='joined_ver'", "");
    if (!rc && !n && sqlite3_exec(db->db, ROOMDB_JOINED_VER, NULL, NULL, NULL) != SQLITE_OK)
        rc = NT_ERR_DB;
    return rc;
}

static atomic_ulong leaked; /* statements roomdb_sweep found active, in all handles */

nt_err roomdb_adopt(sqlite3 *db, roomdb **out)
{
    *out = NULL;
    roomdb *h = calloc(1, sizeof *h);
    if (!h) {
        sqlite3_close(db);
        return NT_ERR_NOMEM;
    }
    h->db = db;
    pthread_mutex_init(&h->mu, NULL);
    *out = h;
    return NT_OK;
}

nt_err roomdb_open(const char *path, dbconn_kind kind, roomdb **out)
{
    sqlite3 *db = NULL;
    *out = NULL;
    nt_err rc = dbconn_open(path, kind, NULL, NULL, &db);
    return rc ? rc : roomdb_adopt(db, out);
}

void roomdb_close(roomdb *h)
{
    if (!h)
        return;
    for (int i = 0; i < CACHE_MAX; i++)
        sqlite3_finalize(h->cache[i].st);
    sqlite3_close(h->db);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

nt_err roomdb_durable(roomdb *h, bool full)
{
    return dbconn_durable(h->db, full);
}

sqlite3 *roomdb_sqlite(roomdb *h)
{
    return h->db;
}

static sqlite3_stmt *cache_get(roomdb *h, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int free_slot = -1;
    pthread_mutex_lock(&h->mu);
    for (int i = 0; i < CACHE_MAX; i++) {
        if (h->cache[i].sql == sql) {
            if (!h->cache[i].busy) {
                h->cache[i].busy = true;
                st = h->cache[i].st;
            }
            pthread_mutex_unlock(&h->mu);
            if (!st && sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
                st = NULL;
            return st;
        }
        if (!h->cache[i].sql && free_slot < 0)
            free_slot = i;
    }
    if (sqlite3_prepare_v3(h->db, sql, -1, free_slot >= 0 ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) != SQLITE_OK)
        st = NULL;
    else if (free_slot >= 0)
        h->cache[free_slot] = (cache_entry){sql, st, true};
    pthread_mutex_unlock(&h->mu);
    return st;
}

void roomdb_done(roomdb *h, sqlite3_stmt *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&h->mu);
    for (int i = 0; i < CACHE_MAX; i++) {
        if (h->cache[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            h->cache[i].busy = false;
            pthread_mutex_unlock(&h->mu);
            return;
        }
    }
    pthread_mutex_unlock(&h->mu);
    sqlite3_finalize(st);
}

static sqlite3_stmt *vprep(roomdb *db, const char *sql, const char *fmt, va_list ap)
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
        roomdb_done(db, st);
        return NULL;
    }
    return st;
}

sqlite3_stmt *roomdb_prep(roomdb *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = vprep(db, sql, fmt, ap);
    va_end(ap);
    return st;
}

nt_err roomdb_exec(roomdb *db, const char *sql, const char *fmt, ...)
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
    roomdb_done(db, st);
    if (r == SQLITE_DONE)
        return NT_OK;
    return (r & 0xff) == SQLITE_CONSTRAINT ? NT_ERR_EXISTS : NT_ERR_DB;
}

nt_err roomdb_int(roomdb *db, int64_t *out, const char *sql, const char *fmt, ...)
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
    roomdb_done(db, st);
    return rc;
}

size_t roomdb_sweep(roomdb *h)
{
    size_t n = 0;
    for (sqlite3_stmt *st = sqlite3_next_stmt(h->db, NULL); st; st = sqlite3_next_stmt(h->db, st)) {
        if (!sqlite3_stmt_busy(st))
            continue;
        n++;
        sqlite3_reset(st);
        /* a cached one handed out and never handed back: take it back */
        pthread_mutex_lock(&h->mu);
        for (int i = 0; i < CACHE_MAX; i++)
            if (h->cache[i].st == st)
                h->cache[i].busy = false;
        pthread_mutex_unlock(&h->mu);
    }
    if (!sqlite3_get_autocommit(h->db)) {
        (void)sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
        n++;
    }
    atomic_fetch_add(&leaked, n);
    return n;
}

size_t roomdb_active(roomdb *h)
{
    size_t n = 0;
    for (sqlite3_stmt *st = sqlite3_next_stmt(h->db, NULL); st; st = sqlite3_next_stmt(h->db, st))
        n += sqlite3_stmt_busy(st) != 0;
    return n;
}

unsigned long roomdb_leaked(void)
{
    return atomic_load(&leaked);
}

nt_err roomdb_begin(roomdb *db)
{
    /* Nothing may be active at a BEGIN: a statement left stepped holds a
     * snapshot that goes stale when the store's connection commits, and
     * then every BEGIN IMMEDIATE here fails (SQLITE_BUSY_SNAPSHOT). Inside
     * a transaction, no sweep: this BEGIN fails as it should. */
    if (sqlite3_get_autocommit(db->db))
        (void)roomdb_sweep(db);
    if (roomdb_exec(db, "BEGIN IMMEDIATE", "") == NT_OK)
        return NT_OK;
    return NT_ERR_DB;
}

nt_err roomdb_commit(roomdb *db)
{
    if (roomdb_exec(db, "COMMIT", "") == NT_OK)
        return NT_OK;
    roomdb_rollback(db);
    return NT_ERR_DB;
}

void roomdb_rollback(roomdb *db)
{
    if (!sqlite3_get_autocommit(db->db))
        (void)sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
}

const char *roomdb_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? (const char *)t : "";
}

static void update_hook(void *arg, int op, const char *dbname, const char *table, sqlite3_int64 rowid)
{
    roomdb *h = arg;
    (void)dbname;
    (void)rowid;
    h->on_change(h->watch_arg, table, op == SQLITE_DELETE);
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    roomdb *h = arg;
    h->on_commit(h->watch_arg);
    /* this hook replaces SQLite's autocheckpoint: do what it did */
    if (frames >= ROOMDB_CHECKPOINT_FRAMES)
        (void)sqlite3_wal_checkpoint(db, name);
    return SQLITE_OK;
}

void roomdb_watch(roomdb *h, roomdb_change_fn *on_change, roomdb_commit_fn *on_commit, void *arg)
{
    h->on_change = on_change;
    h->on_commit = on_commit;
    h->watch_arg = arg;
    if (on_change && on_commit) {
        sqlite3_update_hook(h->db, update_hook, h);
        sqlite3_wal_hook(h->db, wal_hook, h);
        return;
    }
    sqlite3_update_hook(h->db, NULL, NULL);
    sqlite3_wal_autocheckpoint(h->db, ROOMDB_CHECKPOINT_FRAMES); /* SQLite's own hook back */
}

int roomdb_word_index(const char *s, const char *const *words, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (words[i] && strcmp(s, words[i]) == 0)
            return (int)i;
    return -1;
}
