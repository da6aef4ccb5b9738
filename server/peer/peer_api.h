/* peer_api.h - the serving side of the peer channel: POST /v1/handshake,
 * the sealed /v1/peer/... dispatcher, POST /v1/peer/ping, and the table
 * through which other modules add sealed peer endpoints.
 *
 * SEALED ROUTES. A module exports a peer_route table and adds ONE line to
 * peer_routes_all in server/peer/peer_routes.c:
 *
 *     // server/rooms/rooms_peer.c (abridged)
 *     static int rooms_submit(peer_req *rq, json_t **reply);
 *     const peer_route rooms_peer_routes[] = {
 *         {"POST", "/v1/peer/rooms/{id}/messages", rooms_submit, 64 * 1024, PEER_RESEND},
 *         {"GET",  "/v1/peer/rooms/{id}/messages", rooms_poll, 0, PEER_RESEND},
 *         {0},
 *     };
 *
 * Before a handler runs, the dispatcher has: found the session, checked
 * the replay window, verified the MAC (AD: session, direction, seq, method,
 * path, query), checked key confirmation, recorded seq, refused a query
 * with a bad escape or a NUL or control byte (sealed 400), and parsed the
 * plaintext as a JSON object (or NULL when empty). Which members that
 * object may hold is the handler's to check (json_check_fields). The handler returns an
 * HTTP status and sets *reply to a JSON value (stolen; NULL means {}),
 * which the dispatcher seals under the session's reply key. Use
 * peer_error() for error replies: they are sealed too. Handlers run on the
 * connection's thread and may block (long poll: keep under
 * HTTP_LONG_POLL_MAX_S and watch node_stopping).
 *
 * A sealed request carries no URL query: parameters like ?after=5 travel
 * in the envelope (authenticated); read them with peer_req_query(). */
#ifndef NATTER_PEER_API_H
#define NATTER_PEER_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "crypto/identity.h"
#include "server/core/http.h"
#include "server/core/node.h"
#include "server/channel/session.h"

#define PEER_ENVELOPE_HTTP_MAX (512 * 1024) /* sealed request body on the wire */
#define PEER_PLAIN_MAX (384 * 1024)         /* largest plaintext a route may ask for */

typedef struct peer_req peer_req;

/* Returns the HTTP status (200..599); *reply is stolen (NULL = {}). */
typedef int peer_handler(peer_req *rq, json_t **reply);

typedef struct peer_route {
    const char *method;  /* "GET", "POST", "PUT", "DELETE"; NULL ends a table */
    const char *pattern; /* "/v1/peer/rooms/{id}/messages" (see http_match) */
    peer_handler *fn;
    size_t body_max;     /* plaintext cap in bytes; 0 = --max-body; at most PEER_PLAIN_MAX */
    unsigned flags;      /* PEER_RESEND or PEER_ONCE, and PEER_QUICK */
} peer_route;

#define PEER_ONCE 0u      /* not idempotent: join, leave (a second one would not answer the same) */
#define PEER_RESEND 1u    /* idempotent: may be sent again after a plaintext unknown_session */
/* The handler never blocks (it parses, queues and waits with
 * peer_req_wait): it runs on the connection's event thread, not on a
 * worker (server/core/http.h). */
#define PEER_QUICK 2u

/* Whether a request may be sent again on a new session after a plaintext
 * (unauthenticated, so possibly forged) unknown_session answer: the
 * request may have been processed already. True for GET and for the
 * routes marked resend (same effect when repeated, like a txn-keyed
 * submit); false for unknown routes. path may carry a query. */
bool peer_route_resendable(const char *method, const char *path);

/* NULL-terminated list of sealed route tables (server/peer/peer_routes.c). */
extern const peer_route *const peer_routes_all[];
/* Ours: POST /v1/peer/ping. */
extern const peer_route peer_api_peer_routes[];
/* Ours on the HTTP layer: POST /v1/handshake and the sealed dispatcher. */
extern const http_route peer_api_routes[];

/* ---- accessors for handlers (valid during the handler) ---- */
node *peer_req_node(const peer_req *rq);
/* The authenticated peer: raw id and lowercase hex. */
const uint8_t *peer_req_peer(const peer_req *rq);
const char *peer_req_peer_hex(const peer_req *rq);
/* The decrypted body as a JSON object, borrowed; NULL when empty. */
json_t *peer_req_body(const peer_req *rq);
/* A {name} segment of the matched pattern; NULL if none. */
const char *peer_req_param(const peer_req *rq, const char *name);
/* A parameter of the authenticated query (?a=1&b=x), URL-decoded into buf
 * (cap bytes); NULL when absent or too long. */
const char *peer_req_query(const peer_req *rq, const char *name, char *buf, size_t cap);
/* The session id (hex) and sequence number, e.g. for logs. */
const char *peer_req_session_hex(const peer_req *rq);
uint64_t peer_req_seq(const peer_req *rq);

/* A long poll with nothing to answer yet returns peer_req_wait(rq, q,
 * gen, wait_ms) (PEER_WAIT) and sets no reply: it runs again, on the same
 * request, when q is woken after generation gen (common/waitq.h), when
 * wait_ms have passed since its first wait, or when the node stops; when
 * peer_req_wait_over(rq) it must answer. */
#define PEER_WAIT 0
struct waitq;
int peer_req_wait(peer_req *rq, struct waitq *q, uint64_t gen, unsigned wait_ms);
bool peer_req_wait_over(const peer_req *rq);

/* State a waiting handler keeps between its runs (PEER_WAIT), freed with
 * fr when the request ends. */
void peer_req_set_ctx(peer_req *rq, void *ctx, void (*fr)(void *));
void *peer_req_ctx(const peer_req *rq);

/* Build {"error":{"code","message"}} into *reply and return status. */
int peer_error(json_t **reply, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- service (server/core/services.c) ---- */
nt_err peer_api_start(node *nd, char err[static NODE_ERR_MAX]);
void peer_api_stop(node *nd);

/* The inbound sessions of one peer (for the client API); returns count. */
size_t peer_api_sessions(node *nd, const uint8_t peer[static IDENTITY_ID_LEN], session_info *out, size_t cap);

/* Counters for GET /v1/client/status: a JSON object (owned by the caller). */
json_t *peer_api_status(node *nd);

#endif
