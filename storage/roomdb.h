/* roomdb.h - the rooms tables (schema) and a small prepared-statement
 * helper used by the rooms, messages and delivery modules.
 *
 * Tables (see ROOMDB_SCHEMA): rooms, room_members, room_keys (the 32-byte
 * room key of every epoch this node holds: a secret that must persist, so
 * it lives only in the data dir's database), room_messages (the host's log,
 * or a member's applied copy; UNIQUE(room, sender, txn_id)), room_outbox
 * (unacknowledged sends) and room_events (the client events log; the
 * AUTOINCREMENT token is the since-token).
 *
 * Binding formats for roomdb_prep(): one char per parameter:
 *   's' const char * (NULL binds NULL)   'i' int64_t
 *   'b' const void *, size_t (a blob)     'n' NULL */
#ifndef NATTER_ROOMDB_H
#define NATTER_ROOMDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include "../common/err.h"

/* The schema, as one migration step (several statements). It is also an
 * entry of store_migrations (storage/migrations.c): never edit it, append
 * a new migration instead. */
extern const char ROOMDB_SCHEMA[];
/* The next step: member-list versions. rooms.members_ver is, on a host,
 * the version of the room's member list (bumped on every join, leave,
 * invite and kick) and, on a member, the version it holds;
 * room_members.mver is the version at which that row last changed and
 * room_members.members_seen the version the host knows that member
 * holds. Also a store migration; never edit it either. */
extern const char ROOMDB_MEMBERS_VER[];

/* Apply ROOMDB_SCHEMA if the rooms tables are missing, then
 * ROOMDB_MEMBERS_VER if it is not there yet (standalone use, tests). In
 * natterd the store's migration list applies them. */
NT_MUST_USE nt_err roomdb_migrate(sqlite3 *db);

/* Prepare sql (a string literal: statements are cached per connection by
 * its address) and bind the parameters described by fmt. NULL on error
 * (the caller maps to NT_ERR_DB). Hand it back with roomdb_done(). */
sqlite3_stmt *roomdb_prep(sqlite3 *db, const char *sql, const char *fmt, ...);
/* Reset a statement from roomdb_prep for reuse (or finalize it). NULL-safe. */
void roomdb_done(sqlite3_stmt *st);
/* Finalize every cached statement of db; call before sqlite3_close(db). */
void roomdb_forget(sqlite3 *db);

/* Prepare, bind, step to completion, finalize. NT_ERR_EXISTS on a
 * constraint violation, NT_ERR_DB otherwise. */
NT_MUST_USE nt_err roomdb_exec(sqlite3 *db, const char *sql, const char *fmt, ...);

/* First column of the first row as an integer; NT_ERR_NOT_FOUND if no row. */
NT_MUST_USE nt_err roomdb_int(sqlite3 *db, int64_t *out, const char *sql, const char *fmt, ...);

/* Statement hygiene. A statement stepped and never reset (roomdb_prep
 * without roomdb_done) keeps a read snapshot open; once another
 * connection commits, every write on db fails with SQLITE_BUSY_SNAPSHOT.
 * roomdb_sweep resets every active statement of db and rolls back an open
 * transaction, counting each as a leak: call it only where nothing may be
 * in use on db (the caller holds db's lock and uses no statement).
 * roomdb_active counts the active statements (0 after every call of the
 * rooms modules); roomdb_leaked is the process-wide count of leaks swept. */
size_t roomdb_sweep(sqlite3 *db);
size_t roomdb_active(sqlite3 *db);
unsigned long roomdb_leaked(void);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. No statement of db may be active at
 * roomdb_begin outside a transaction: one that is was leaked, and is
 * swept (see roomdb_sweep) before the BEGIN. */
NT_MUST_USE nt_err roomdb_begin(sqlite3 *db);
NT_MUST_USE nt_err roomdb_commit(sqlite3 *db);
void roomdb_rollback(sqlite3 *db);

/* For best-effort statements whose failure changes nothing the caller
 * could act on (counters, hints for the sync loop). */
static inline void roomdb_ignore(nt_err rc)
{
    (void)rc;
}

/* Column text as a string, "" for NULL. */
const char *roomdb_text(sqlite3_stmt *st, int col);

#endif
