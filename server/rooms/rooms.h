/* rooms.h - rooms, room keys, messages, delivery and the client events log.
 *
 * One `rooms` object per node. It hosts the rooms this node created (the
 * master side: member list, keys, ordered log, push) and follows the rooms
 * it joined (the member side: keys, applied log, outbox, polling). Wire
 * formats: api-spec/protocol.md "Rooms" .. "Delivery"; client API:
 * api-spec/openapi.yaml.
 *
 * The HTTP layer routes each request once and hands it in as (route op,
 * path parameters, query, JSON body) and
 * gets (status, JSON reply) back; node-to-node calls go out through the
 * typed peer port in rooms_opts (peer_port.h), so this module knows nothing of
 * libmicrohttpd, libcurl or sessions. Thread-safe: handlers may run on any
 * number of threads. */
#ifndef NATTER_ROOMS_H
#define NATTER_ROOMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "common/err.h"
#include "crypto/identity.h"
#include "server/rooms/peer_port.h"
#include "server/rooms/refusal.h"

struct peer_ident; /* storage/peers.h */
struct roomdb;     /* storage/roomdb.h */

typedef struct rooms rooms;

/* Milliseconds on some clock that does not jump (tests may drive it). */
typedef int64_t rooms_clock_fn(void *arg);
/* Query parameter lookup; NULL when absent. */
typedef const char *rooms_query_fn(void *arg, const char *key);

typedef struct {
    struct roomdb *db;   /* storage/roomdb.h, with ROOMDB_SCHEMA applied: borrowed,
                          * or owned once rooms_new succeeds when owns_db */
    bool owns_db;        /* rooms_free closes db */
    const char *read_path; /* optional: the file behind db (in WAL mode). The
                            * checks before a message's verify then run on
                            * read-only connections of their own, so they wait
                            * neither for a commit's fsync nor for each other */
    const identity *me;  /* borrowed; holds our private key */
    peer_port_fn *call;  /* borrowed: calls to other nodes */
    void *call_arg;
    rooms_clock_fn *clock; /* NULL: CLOCK_REALTIME in ms */
    void *clock_arg;
    unsigned pbkdf2_iter;  /* 0: 150000 */
    unsigned poll_wait_s;  /* member long-poll wait; 0: 5 */
    unsigned epoch_grace_s; /* previous epoch accepted this long after a policy rotation; 0: 60 */
    unsigned join_rate;    /* joins one peer may ask of this host per minute, in
                            * bursts as large (rooms_int.h); 0: ROOM_JOIN_RATE_DEFAULT */
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
/* A peer came back (an announcement after it was away, a handshake, an
 * answer): the pending messages of the rooms it hosts become due now and
 * their sync backoff ends, so that they go out without waiting out their
 * retry delay. arg is the rooms. Takes no rooms lock and never blocks: it
 * may run on any thread, the rooms' own included (node_on_peer_up). */
void rooms_peer_up(void *arg, const uint8_t peer_id[static IDENTITY_ID_LEN]);
/* Start the push and sync threads (unless no_threads). */
NT_MUST_USE nt_err rooms_start(rooms *r);
/* Stop and join the threads; wakes long-polls. Safe to call twice. */
void rooms_stop(rooms *r);
/* Stop, then free. rooms_free(NULL) is a no-op. */
void rooms_free(rooms *r);

/* One round of push (host side) and sync (outbox, key/member fetch,
 * catch-up polls; member side), for tests without threads. */
void rooms_tick(rooms *r);

/* A call run again after it waited on a->wait.q (below): where its first
 * run stood and whether the wait is over. The call reads its query as q
 * answers it, but "since" at cursor (so "now" keeps its meaning) and, once
 * over, "wait" as 0: it answers with what there is. NULL on a first run. */
typedef struct {
    int64_t cursor; /* a->wait.cursor of the run that waited (0 where the op sets none) */
    bool over;
} rooms_rerun;

/* A sealed peer request from the authenticated peer `peer` (64 hex): the
 * route op (peer_port.h names the routes) on room (32 hex; not
 * for PORT_LIST), its query through q, its body (may be NULL). Returns
 * REFUSE_NONE when done, else the refusal; *a is filled either way (the
 * caller maps it to HTTP with rooms_answer_http and owns a->body).
 *
 * Done with no body and a->wait.q set: nothing to answer yet. The caller
 * waits on that queue (refusal.h) and calls again with again set. A submission
 * (PORT_SUBMIT, PORT_BATCH) waiting for its commit also sets
 * a->wait.pending: the caller owns it, passes it back as resume on the
 * next call (which answers it) and then releases it. */
typedef struct rooms_pending rooms_pending;
rooms_refusal rooms_peer_op(rooms *r, port_op op, const char *peer, const char *room, rooms_query_fn *q, void *qarg,
                            json_t *body, rooms_pending *resume, const rooms_rerun *again, rooms_answer *a);
/* Drop the caller's hold on a pending submission (NULL-safe). */
void rooms_pending_release(rooms_pending *p);
/* The client API routes (already bearer-authenticated). */
typedef enum {
    ROOMS_API_LIST,       /* GET  /v1/client/rooms */
    ROOMS_API_CREATE,     /* POST /v1/client/rooms */
    ROOMS_API_GET,        /* GET  /v1/client/rooms/{id} */
    ROOMS_API_UPDATE,     /* PATCH /v1/client/rooms/{id} */
    ROOMS_API_MEMBERS,    /* GET  /v1/client/rooms/{id}/members */
    ROOMS_API_MESSAGES,   /* GET  /v1/client/rooms/{id}/messages */
    ROOMS_API_SEND,       /* PUT  /v1/client/rooms/{id}/messages/{txn_id} */
    ROOMS_API_INVITE,     /* POST /v1/client/rooms/{id}/invite */
    ROOMS_API_KICK,       /* POST /v1/client/rooms/{id}/kick */
    ROOMS_API_REKEY,      /* POST /v1/client/rooms/{id}/rekey */
    ROOMS_API_JOIN,       /* POST /v1/client/rooms/{id}/join */
    ROOMS_API_LEAVE,      /* POST /v1/client/rooms/{id}/leave */
    ROOMS_API_DELIVERY,   /* POST /v1/client/rooms/{id}/delivery */
    ROOMS_API_EVENTS,     /* GET  /v1/client/events */
    ROOMS_API_PEER_ROOMS, /* GET  /v1/client/peers/{id}/rooms */
} rooms_api_op;

/* A client API request: the route op with its path parameters id (a room
 * id, or for ROOMS_API_PEER_ROOMS a peer id; NULL when the route has
 * none) and txn (ROOMS_API_SEND), its query through q and its body (may
 * be NULL). Returns REFUSE_NONE or why it was refused, with *a filled
 * in (a->body owned by the caller); rooms_answer_http (refusal.h) maps it
 * to HTTP. A long poll waits as rooms_peer_op's do. */
rooms_refusal rooms_client_op(rooms *r, rooms_api_op op, const char *id, const char *txn, rooms_query_fn *q,
                              void *qarg, json_t *body, const rooms_rerun *again, rooms_answer *a);
/* Counters for status: messages dropped as unverifiable. */
uint64_t rooms_dropped(rooms *r);
/* The rooms section of GET /v1/client/status: {dropped, password_checks
 * (hashes running now), poll_backoffs, joins_rate_limited}; owned by the
 * caller. */
json_t *rooms_status(rooms *r);

#endif
