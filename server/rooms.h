/* rooms.h - rooms, room keys, messages, delivery and the client events log.
 *
 * One `rooms` object per node. It hosts the rooms this node created (the
 * master side: member list, keys, ordered log, push) and follows the rooms
 * it joined (the member side: keys, applied log, outbox, polling). Wire
 * formats: api-spec/protocol.md "Rooms" .. "Delivery"; client API:
 * api-spec/openapi.yaml.
 *
 * The HTTP layer hands requests in as (method, path, query, JSON body) and
 * gets (status, JSON reply) back; node-to-node calls go out through the
 * call functions in rooms_opts, so this module knows nothing of
 * libmicrohttpd, libcurl or sessions. Thread-safe: handlers may run on any
 * number of threads. */
#ifndef NATTER_ROOMS_H
#define NATTER_ROOMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <sqlite3.h>
#include "../common/err.h"
#include "../crypto/identity.h"

struct peer_ident; /* storage/peers.h */

typedef struct rooms rooms;

/* One sealed request to a peer. `req` is borrowed (may be NULL); on return
 * `reply` (owned by the caller, may be NULL) and `status` are set when
 * rc == NT_OK (any HTTP status); rc != NT_OK means no answer. */
typedef struct {
    const char *peer; /* 64 hex */
    const char *method;
    const char *path;
    json_t *req;
    json_t *reply;
    int status;
    nt_err rc;
} rooms_call;

/* Run n calls concurrently and fill in their results. */
typedef void rooms_call_fn(void *arg, rooms_call *calls, size_t n, int timeout_ms);
/* Milliseconds on some clock that does not jump (tests may drive it). */
typedef int64_t rooms_clock_fn(void *arg);
/* Query parameter lookup; NULL when absent. */
typedef const char *rooms_query_fn(void *arg, const char *key);

typedef struct {
    sqlite3 *db;         /* borrowed, with ROOMDB_SCHEMA applied */
    const char *read_path; /* optional: the file behind db (in WAL mode). The
                            * checks before a message's verify then run on
                            * read-only connections of their own, so they wait
                            * neither for a commit's fsync nor for each other */
    const identity *me;  /* borrowed; holds our private key */
    rooms_call_fn *call; /* borrowed */
    void *call_arg;
    rooms_clock_fn *clock; /* NULL: CLOCK_REALTIME in ms */
    void *clock_arg;
    unsigned pbkdf2_iter;  /* 0: 150000 */
    unsigned poll_wait_s;  /* member long-poll wait; 0: 5 */
    unsigned epoch_grace_s; /* previous epoch accepted this long; 0: 60 */
    bool no_threads;       /* tests: no push/sync threads, drive rooms_tick() */
    bool (*should_stop)(void *arg); /* optional: long polls end early when true */
    void *stop_arg;
    /* optional: how this node shows the peer with id `peer` (64 hex) to
     * its user (name, trust, label: peers_identify). NULL: this node is
     * "self" with no name, everyone else "unknown". */
    void (*ident)(void *arg, const char *peer, struct peer_ident *out);
    void *ident_arg;
} rooms_opts;

NT_MUST_USE nt_err rooms_new(rooms **out, const rooms_opts *o);
/* Add a client event about a peer, not a room (e.g. "peer_renamed"):
 * data (stolen) holds its fields. Takes the rooms lock. */
void rooms_peer_event(rooms *r, const char *type, json_t *data);
/* Start the push and sync threads (unless no_threads). */
NT_MUST_USE nt_err rooms_start(rooms *r);
/* Stop and join the threads; wakes long-polls. Safe to call twice. */
void rooms_stop(rooms *r);
/* Stop, then free. rooms_free(NULL) is a no-op. */
void rooms_free(rooms *r);

/* One round of push (host side) and sync (outbox, key/member fetch,
 * catch-up polls; member side), for tests without threads. */
void rooms_tick(rooms *r);

/* A sealed peer request under /v1/peer/rooms from the authenticated peer
 * `peer` (64 hex). body may be NULL. Returns the HTTP status; *reply is
 * set (owned by the caller). */
int rooms_peer_handle(rooms *r, const char *peer, const char *method, const char *path, rooms_query_fn *q,
                      void *qarg, json_t *body, json_t **reply);

/* A client API request under /v1/client/rooms, /v1/client/events or
 * /v1/client/peers/{id}/rooms (already bearer-authenticated). */
int rooms_client_handle(rooms *r, const char *method, const char *path, rooms_query_fn *q, void *qarg,
                        json_t *body, json_t **reply);

/* Counters for status: messages dropped as unverifiable. */
uint64_t rooms_dropped(rooms *r);
/* The rooms section of GET /v1/client/status: {dropped, password_checks
 * (hashes running now)}; owned by the caller. */
json_t *rooms_status(rooms *r);

#endif
