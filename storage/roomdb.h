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
#include "dbconn.h"

/* A connection with its own statement cache. Like the sqlite3 it wraps,
 * one thread at a time: the caller guards it (the rooms lock, a reader's
 * mutex). */
typedef struct roomdb roomdb;

/* Open path (DBCONN_WRITER or DBCONN_READER, see dbconn.h). *out owned by
 * the caller (roomdb_close). */
NT_MUST_USE nt_err roomdb_open(const char *path, dbconn_kind kind, roomdb **out);
/* Wrap an open connection (tests: an in-memory database); the handle owns
 * db from here on, even on error (then db is closed). */
NT_MUST_USE nt_err roomdb_adopt(sqlite3 *db, roomdb **out);
/* Finalize the cached statements and close the connection. NULL-safe. */
void roomdb_close(roomdb *h);
/* dbconn_durable on h's connection. */
NT_MUST_USE nt_err roomdb_durable(roomdb *h, bool full);
/* The connection (borrowed; tests); do not close it. */
sqlite3 *roomdb_sqlite(roomdb *h);

/* Change notices on h (caller's lock held, as for any use of h):
 * on_change(arg, table, deleted) runs inside each row write, on_commit(arg)
 * once a commit is visible to other connections (WAL). SQLite's automatic
 * checkpoint goes on as before (every ROOMDB_CHECKPOINT_FRAMES frames).
 * roomdb_watch(h, NULL, NULL, NULL) ends the notices. */
#define ROOMDB_CHECKPOINT_FRAMES 1000 /* SQLite's own autocheckpoint default */
typedef void roomdb_change_fn(void *arg, const char *table, bool deleted);
typedef void roomdb_commit_fn(void *arg);
void roomdb_watch(roomdb *h, roomdb_change_fn *on_change, roomdb_commit_fn *on_commit, void *arg);

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
/* The step after: rooms.epoch_cause, on a host what began the room's
 * current epoch (rooms_store.h room_rotation, stored as its name), so that
 * the previous epoch's grace (api-spec/protocol.md, "Epoch check at the
 * host") holds across a restart. Rows from before it read "unknown". Also
 * a store migration; never edit it either. */
extern const char ROOMDB_EPOCH_CAUSE[];
/* The step after that: rooms.from_epoch, on a member the first epoch of
 * its membership (keys of older epochs are never its to hold), 0 when not
 * known; a member room of an older database takes the oldest epoch it
 * holds a key of. Also a store migration; never edit it either. */
extern const char ROOMDB_FROM_EPOCH[];
/* The step after that: rooms.joined_ver, on a member the host's
 * member-list version at which its membership began (its row's version
 * in the host's join reply), 0 when not known; a kick the host recorded
 * before it is stale. Also a store migration; never edit it either. */
extern const char ROOMDB_JOINED_VER[];

/* Apply ROOMDB_SCHEMA if the rooms tables are missing, then
 * ROOMDB_MEMBERS_VER, ROOMDB_EPOCH_CAUSE, ROOMDB_FROM_EPOCH and
 * ROOMDB_JOINED_VER if they are not there yet (standalone use, tests). In natterd the store's migration list applies
 * them. */
NT_MUST_USE nt_err roomdb_migrate(roomdb *db);

/* Prepare sql (a string literal: statements are cached in db's handle by
 * its address) and bind the parameters described by fmt. NULL on error
 * (the caller maps to NT_ERR_DB). Hand it back with roomdb_done(db, st). */
sqlite3_stmt *roomdb_prep(roomdb *db, const char *sql, const char *fmt, ...);
/* Reset a statement from roomdb_prep(db, ...) for reuse (or finalize it).
 * st may be NULL. */
void roomdb_done(roomdb *db, sqlite3_stmt *st);

/* Prepare, bind, step to completion, finalize. NT_ERR_EXISTS on a
 * constraint violation, NT_ERR_DB otherwise. */
#define ROOMDB_N_WORDS(a) (sizeof(a) / sizeof((a)[0]))
/* The index of s among words[0..n) (the names of an enum, indexed by its
 * values), or -1 (also for s NULL). */
int roomdb_word_index(const char *s, const char *const *words, size_t n);

NT_MUST_USE nt_err roomdb_exec(roomdb *db, const char *sql, const char *fmt, ...);

/* First column of the first row as an integer; NT_ERR_NOT_FOUND if no row. */
NT_MUST_USE nt_err roomdb_int(roomdb *db, int64_t *out, const char *sql, const char *fmt, ...);

/* Statement hygiene. A statement stepped and never reset (roomdb_prep
 * without roomdb_done) keeps a read snapshot open; once another
 * connection commits, every write on db fails with SQLITE_BUSY_SNAPSHOT.
 * roomdb_sweep resets every active statement of db and rolls back an open
 * transaction, counting each as a leak: call it only where nothing may be
 * in use on db (the caller holds db's lock and uses no statement).
 * roomdb_active counts the active statements (0 after every call of the
 * rooms modules); roomdb_leaked is the process-wide count of leaks swept. */
size_t roomdb_sweep(roomdb *db);
size_t roomdb_active(roomdb *db);
unsigned long roomdb_leaked(void);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. No statement of db may be active at
 * roomdb_begin outside a transaction: one that is was leaked, and is
 * swept (see roomdb_sweep) before the BEGIN. */
NT_MUST_USE nt_err roomdb_begin(roomdb *db);
NT_MUST_USE nt_err roomdb_commit(roomdb *db);
void roomdb_rollback(roomdb *db);

/* Column text as a string, "" for NULL. */
const char *roomdb_text(sqlite3_stmt *st, int col);

#endif
