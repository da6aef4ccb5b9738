/* peer_port.h - the rooms' calls to other nodes, typed: each call names
 * the operation and its parameters, not a URL. The port (rooms_opts.call)
 * runs them: in natterd over the sealed peer link (rooms_peer.c), in tests
 * a fake. peer_port_target gives the peer API route of a call
 * (api-spec/protocol.md "Rooms"), for a port that speaks HTTP. */
#ifndef NATTER_PEER_PORT_H
#define NATTER_PEER_PORT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "common/err.h"

typedef enum {
    PORT_LIST,     /* GET  /v1/peer/rooms: the rooms a peer lists */
    PORT_JOIN,     /* POST .../{room}/join      {pub, password?, delivery?} */
    PORT_LEAVE,    /* POST .../{room}/leave     {} */
    PORT_DELIVERY, /* POST .../{room}/delivery  {mode} */
    PORT_MEMBERS,  /* GET  .../{room}/members?since= */
    PORT_KEYS,     /* GET  .../{room}/keys?since= */
    PORT_POLL,     /* GET  .../{room}/messages?after=&limit=&wait= */
    PORT_SUBMIT,   /* POST .../{room}/messages  a Submit */
    PORT_BATCH,    /* POST .../{room}/batch     {messages: [Submit]} */
    PORT_NOTIFY,   /* POST .../{room}/notify    a Notify */
} port_op;

/* One call to a peer. In: op, peer, room (not for PORT_LIST), the op's
 * parameters and req (borrowed, may be NULL). Out: when rc == NT_OK the
 * peer answered with status and reply (owned by the caller, may be NULL);
 * rc != NT_OK means no answer. */
typedef struct {
    port_op op;
    const char *peer; /* 64 hex */
    const char *room; /* 32 hex */
    int64_t since;    /* PORT_MEMBERS, PORT_KEYS: -1 for all */
    int64_t after;    /* PORT_POLL */
    int limit;        /* PORT_POLL */
    unsigned wait;    /* PORT_POLL: seconds the host may hold the poll */
    json_t *req;
    json_t *reply;
    int status;
    nt_err rc;
} port_call;

/* Run n calls concurrently and fill in their results; timeout_ms bounds
 * each. */
typedef void peer_port_fn(void *arg, port_call *calls, size_t n, int timeout_ms);

/* The HTTP method and the path with its query ("/v1/peer/rooms/{room}/
 * messages?after=5&limit=500&wait=0") of c, into path (cap bytes).
 * NT_ERR_TOO_BIG when it does not fit, NT_ERR_INVALID for an unknown op. */
NT_MUST_USE nt_err peer_port_target(const port_call *c, const char **method, char *path, size_t cap);

#endif
