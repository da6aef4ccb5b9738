#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrations.h"

typedef struct {
    const char *sql;
    sqlite3_stmt *stmt;
} cached_stmt;

struct store {
    sqlite3 *db;
    pthread_mutex_t mu;
    cached_stmt *cache;
    size_t n_cache, cap_cache;
    int version;
    unsigned long leaks; /* statements found active at a boundary (under mu) */
};

#define STORE_STMT_CACHE_MAX 512 /* far above the number of distinct queries */

static nt_err exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? NT_OK : NT_ERR_DB;
}

static nt_err user_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *s = NULL;
    nt_err rc = NT_ERR_DB;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_step(s) != SQLITE_ROW)
        goto out;
    *out = sqlite3_column_int(s, 0);
    rc = NT_OK;
out:
    sqlite3_finalize(s);
    return rc;
}

/* Apply migs[from..n) one transaction each, bumping user_version inside the
 * same transaction so that a crash leaves a consistent version. */
static nt_err migrate(sqlite3 *db, const char *const *migs, size_t n, int from)
{
    for (size_t v = (size_t)from; v < n; v++) {
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %zu", v + 1);
        if (exec(db, "BEGIN IMMEDIATE"))
            return NT_ERR_DB;
        if (exec(db, migs[v]) || exec(db, bump)) {
            (void)exec(db, "ROLLBACK");
            return NT_ERR_DB;
        }
        if (exec(db, "COMMIT"))
            return NT_ERR_DB;
    }
    return NT_OK;
}

static nt_err set_pragmas(sqlite3 *db)
{
    /* journal_mode answers with a row; check it really became WAL. */
    sqlite3_stmt *s = NULL;
    nt_err rc = NT_ERR_DB;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_step(s) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0)
        goto out;
    if (exec(db, "PRAGMA synchronous = FULL") || exec(db, "PRAGMA foreign_keys = ON"))
        goto out;
    rc = NT_OK;
out:
    sqlite3_finalize(s);
    return rc;
}

nt_err store_open_with(const char *path, const char *const *migs, size_t n, store **out)
{
    nt_err rc = NT_ERR_DB;
    store *st = NULL;
    sqlite3 *db = NULL;
    int version = 0;
    *out = NULL;

    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK)
        goto out;
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
    /* Reading the version first also detects a file that is not a database. */
    if ((rc = user_version(db, &version)))
        goto out;
    if (version < 0 || (size_t)version > n) {
        rc = NT_ERR_VERSION;
        goto out;
    }
    if ((rc = set_pragmas(db)) || (rc = migrate(db, migs, n, version)))
        goto out;
    if ((rc = user_version(db, &version)))
        goto out;
    if (!(st = calloc(1, sizeof *st))) {
        rc = NT_ERR_NOMEM;
        goto out;
    }
    pthread_mutex_init(&st->mu, NULL);
    st->db = db;
    st->version = version;
    db = NULL;
    *out = st;
    rc = NT_OK;
out:
    sqlite3_close(db);
    return rc;
}

nt_err store_open(const char *path, store **out)
{
    return store_open_with(path, store_migrations, store_migrations_count, out);
}

void store_close(store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_cache; i++)
        sqlite3_finalize(st->cache[i].stmt);
    free(st->cache);
    /* sqlite3_close checkpoints the WAL when it is the last connection. */
    sqlite3_close(st->db);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

int store_schema_version(store *st) { return st->version; }
size_t store_latest_version(void) { return store_migrations_count; }
void store_lock(store *st) { pthread_mutex_lock(&st->mu); }
sqlite3 *store_db(store *st) { return st->db; }

/* A statement left active (stepped to a row, never reset) holds a read
 * transaction: its snapshot goes stale as soon as another connection
 * commits, and from then on every write and BEGIN IMMEDIATE on this
 * connection fails with SQLITE_BUSY_SNAPSHOT. At a boundary where no
 * statement may be in use, reset them all and count each as a leak, and
 * end a transaction left open. */
static void reset_active(store *st)
{
    for (sqlite3_stmt *s = sqlite3_next_stmt(st->db, NULL); s; s = sqlite3_next_stmt(st->db, s)) {
        if (sqlite3_stmt_busy(s)) {
            sqlite3_reset(s);
            st->leaks++;
        }
    }
}

static void sweep(store *st)
{
    reset_active(st);
    if (!sqlite3_get_autocommit(st->db)) {
        (void)exec(st->db, "ROLLBACK");
        st->leaks++;
    }
}

void store_unlock(store *st)
{
    sweep(st);
    pthread_mutex_unlock(&st->mu);
}

size_t store_active_statements(store *st)
{
    size_t n = 0;
    pthread_mutex_lock(&st->mu);
    for (sqlite3_stmt *s = sqlite3_next_stmt(st->db, NULL); s; s = sqlite3_next_stmt(st->db, s))
        n += sqlite3_stmt_busy(s) != 0;
    pthread_mutex_unlock(&st->mu);
    return n;
}

unsigned long store_leaked_statements(store *st)
{
    pthread_mutex_lock(&st->mu);
    unsigned long n = st->leaks;
    pthread_mutex_unlock(&st->mu);
    return n;
}

sqlite3_stmt *store_stmt(store *st, const char *sql)
{
    for (size_t i = 0; i < st->n_cache; i++) {
        if (st->cache[i].sql == sql || strcmp(st->cache[i].sql, sql) == 0) {
            sqlite3_reset(st->cache[i].stmt);
            sqlite3_clear_bindings(st->cache[i].stmt);
            return st->cache[i].stmt;
        }
    }
    if (st->n_cache == STORE_STMT_CACHE_MAX)
        return NULL;
    if (st->n_cache == st->cap_cache) {
        size_t cap = st->cap_cache ? st->cap_cache * 2 : 16;
        cached_stmt *c = realloc(st->cache, cap * sizeof *c);
        if (!c)
            return NULL;
        st->cache = c;
        st->cap_cache = cap;
    }
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
        sqlite3_finalize(s);
        return NULL;
    }
    /* Keep our own copy of the text: callers may pass a stack buffer. */
    st->cache[st->n_cache++] = (cached_stmt){sqlite3_sql(s), s};
    return s;
}

nt_err store_begin(store *st)
{
    /* Nothing may be active here (see sweep): a leak elsewhere must not
     * turn into a stale snapshot that fails this BEGIN. */
    reset_active(st);
    if (!exec(st->db, "BEGIN IMMEDIATE"))
        return NT_OK;
    store_rollback(st); /* a failed BEGIN leaves nothing open */
    return NT_ERR_DB;
}
nt_err store_commit(store *st) { return exec(st->db, "COMMIT"); }
void store_rollback(store *st)
{
    /* A failed ROLLBACK leaves nothing to do here: the next BEGIN reports it. */
    if (!sqlite3_get_autocommit(st->db))
        (void)exec(st->db, "ROLLBACK");
}

nt_err store_meta_get(store *st, const char *key, char *buf, size_t cap)
{
    nt_err rc = NT_ERR_DB;
    store_lock(st);
    sqlite3_stmt *s = store_stmt(st, "SELECT value FROM node_meta WHERE key = ?1");
    if (!s || sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
        goto out;
    int r = sqlite3_step(s);
    if (r == SQLITE_DONE) {
        rc = NT_ERR_NOT_FOUND;
        goto out;
    }
    if (r != SQLITE_ROW)
        goto out;
    const char *v = (const char *)sqlite3_column_text(s, 0);
    size_t n = (size_t)sqlite3_column_bytes(s, 0);
    if (n + 1 > cap) {
        rc = NT_ERR_TOO_BIG;
        goto out;
    }
    memcpy(buf, v ? v : "", n);
    buf[n] = '\0';
    rc = NT_OK;
out:
    if (s)
        sqlite3_reset(s);
    store_unlock(st);
    return rc;
}

nt_err store_meta_set(store *st, const char *key, const char *value)
{
    nt_err rc = NT_ERR_DB;
    store_lock(st);
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO node_meta(key, value) VALUES(?1, ?2) "
                                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (s && sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(s) == SQLITE_DONE)
        rc = NT_OK;
    if (s)
        sqlite3_reset(s);
    store_unlock(st);
    return rc;
}
