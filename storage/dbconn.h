/* dbconn.h - the one place a SQLite connection to the node's database is
 * opened, and the PRAGMA policy of each kind of connection.
 *
 *   DBCONN_STORE   the store's connection (storage/store.c): creates the
 *                  file, serialized mode (one mutex inside SQLite as well
 *                  as the store's), extended result codes.
 *   DBCONN_WRITER  the rooms module's own writing connection, guarded by
 *                  the rooms lock (no SQLite mutex).
 *   DBCONN_READER  a rooms read-only connection (query_only), for the
 *                  checks that run before a message's verify.
 *
 * Writers (store and rooms) get journal_mode=WAL (checked: the answer must
 * be "wal"), synchronous=FULL (a message is acknowledged only after its
 * commit is on disk) and foreign_keys=ON. Every kind waits up to
 * DBCONN_BUSY_TIMEOUT_MS for a lock held by another connection. */
#ifndef NATTER_DBCONN_H
#define NATTER_DBCONN_H

#include <stdbool.h>
#include <sqlite3.h>
#include "../common/err.h"

#define DBCONN_BUSY_TIMEOUT_MS 5000

typedef enum {
    DBCONN_STORE,
    DBCONN_WRITER,
    DBCONN_READER,
} dbconn_kind;

/* Process-wide SQLite settings, before any other SQLite call: no global
 * lock around every SQLite allocation (the node reads no memory
 * statistics). NT_ERR_DB if SQLite refused (then they stay on). */
NT_MUST_USE nt_err dbconn_init(void);

/* A writer's durability: synchronous=FULL (full true, the policy) or
 * NORMAL (WAL: safe from corruption and from a crash of the process, a
 * power cut may take the last commits). */
NT_MUST_USE nt_err dbconn_durable(sqlite3 *db, bool full);

/* Called after the open and before any PRAGMA that writes the file (the
 * store reads its schema version there, so that a file from a newer
 * program is refused untouched). Its error ends the open. */
typedef nt_err dbconn_check_fn(sqlite3 *db, void *arg);

/* Open path as a connection of the given kind and apply its policy. check
 * may be NULL. *out is owned by the caller (sqlite3_close). NT_ERR_DB if
 * the file cannot be opened or a PRAGMA fails; check's error as is. */
NT_MUST_USE nt_err dbconn_open(const char *path, dbconn_kind kind, dbconn_check_fn *check, void *check_arg,
                               sqlite3 **out);

#endif
