/* store.h - the node's SQLite database: open, migrate, prepared statements.
 *
 * One file (<data-dir>/natter.db) in WAL mode with synchronous=FULL (set
 * explicitly: a message is acknowledged only after its commit is on disk),
 * foreign_keys=ON and a busy timeout. The schema version is
 * PRAGMA user_version; storage/migrations.c holds the ordered list of
 * migrations, and store_open applies those above the file's version, each
 * in its own transaction. A file from a newer schema is refused
 * (NT_ERR_VERSION), never touched.
 *
 * Threads: a store is ONE connection guarded by ONE mutex. Every use of
 * store_db()/store_stmt() and every transaction must happen between
 * store_lock() and store_unlock() on the same thread; keep the critical
 * section short (no network calls, no waiting inside it). libmicrohttpd runs
 * handlers on many threads; they all go through this lock. Domain modules
 * wrap their SQL in functions named store_<area>_<verb> or <module>_... that
 * take the lock themselves.
 *
 * Typical use:
 *     store_lock(st);
 *     sqlite3_stmt *s = store_stmt(st, "SELECT value FROM node_meta WHERE key = ?1");
 *     if (s) { sqlite3_bind_text(s, 1, "k", -1, SQLITE_STATIC); ... sqlite3_step(s) ... }
 *     store_unlock(st);
 */
#ifndef NATTER_STORE_H
#define NATTER_STORE_H

#include <sqlite3.h>
#include <stddef.h>
#include "../common/err.h"

#define STORE_FILE_NAME "natter.db"
#define STORE_BUSY_TIMEOUT_MS 5000

typedef struct store store;

/* Open (creating if absent) the database at path and migrate it to the
 * latest schema. *out owned by the caller (store_close). NT_ERR_VERSION if
 * the file's schema is newer than this program's; NT_ERR_DB otherwise. */
NT_MUST_USE nt_err store_open(const char *path, store **out);

/* As store_open but with an explicit migration list (migs[0..n)); for tests
 * that need an "older" program or a custom schema. migs must outlive the
 * store. */
NT_MUST_USE nt_err store_open_with(const char *path, const char *const *migs, size_t n, store **out);

/* Finalize statements and close. NULL-safe. Must not be locked. */
void store_close(store *st);

/* PRAGMA user_version after migration (= number of migrations applied). */
int store_schema_version(store *st);
/* The number of migrations this program knows. */
size_t store_latest_version(void);

void store_lock(store *st);
/* Ends the critical section. No statement may stay active past it: any
 * that does (stepped and never reset) is reset here and counted as a leak,
 * and a transaction left open is rolled back, so that a forgotten reset
 * can never hold a stale snapshot that fails every later write. */
void store_unlock(store *st);

/* Statements active now (takes the lock; 0 outside a critical section),
 * and the leaks store_unlock/store_begin have swept since the open. For
 * tests: both stay 0 when every caller resets what it steps. */
size_t store_active_statements(store *st);
unsigned long store_leaked_statements(store *st);

/* The connection (lock held). Borrowed; do not close. */
sqlite3 *store_db(store *st);

/* A prepared statement for sql, compiled once and cached for the life of
 * the store (lock held). It comes back reset with bindings cleared; do not
 * finalize it. NULL if sql does not compile (the reason is in
 * sqlite3_errmsg(store_db(st))). */
sqlite3_stmt *store_stmt(store *st, const char *sql);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (lock held). No statement may be
 * active at store_begin (one that is is reset and counted as a leak); a
 * BEGIN that fails leaves no transaction open. */
NT_MUST_USE nt_err store_begin(store *st);
NT_MUST_USE nt_err store_commit(store *st);
void store_rollback(store *st);

/* Convenience for the node_meta key/value table (takes the lock itself).
 * store_meta_get: NT_ERR_NOT_FOUND when absent; copies into buf (cap bytes,
 * NUL-terminated), NT_ERR_TOO_BIG when it does not fit. */
NT_MUST_USE nt_err store_meta_get(store *st, const char *key, char *buf, size_t cap);
NT_MUST_USE nt_err store_meta_set(store *st, const char *key, const char *value);

#endif
