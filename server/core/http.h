/* http.h - the HTTP core: libmicrohttpd listeners, route tables, requests,
 * JSON replies and the error model.
 *
 * ROUTES. A module exports a table and server/core/routes.c lists it (one line):
 *
 *     // rooms.c
 *     const http_route rooms_routes[] = {
 *         {"GET",  "/v1/client/rooms",      HTTP_API_CLIENT, rooms_list, 0, NULL},
 *         {"PUT",  "/v1/client/rooms/{id}/messages/{txn_id}", HTTP_API_CLIENT, msg_put, 0, NULL},
 *         {"POST", "/v1/peer/rooms/{id}/push", HTTP_API_PEER, push_in, 256 * 1024, NULL},
 *         {0} // terminator
 *     };
 *
 * A pattern is an absolute path whose segments are literals or {name}; a
 * {name} segment matches one non-empty segment (no '/'), read with
 * http_req_param(rq, "name"). The first route (in table order) whose pattern
 * and method match wins. A path that matches a pattern under another method
 * only gets 405 with Allow; no pattern at all gets 404.
 *
 * HANDLERS. libmicrohttpd reads every connection from a few event threads
 * (epoll, one per core), so an open connection costs no thread. A route
 * flagged HTTP_INLINE runs on its connection's event thread: it must not
 * block (no peer calls, no lock held across I/O, no RSA). Any other route
 * runs on a worker thread while its connection is suspended; workers are
 * started as needed up to a bound, and when all are busy and the queue is
 * full the request gets 503 with Retry-After. Two caps keep one client from
 * taking the workers (each 503 busy with Retry-After, decided on the event
 * thread before the handler's worker run): the requests of one source
 * address queued for or running on a worker (http_opts.max_jobs_per_source),
 * and those of HTTP_COSTLY routes (http_opts.max_costly).
 *
 * A LONG POLL never holds a thread while it waits: when there is nothing
 * to answer yet the handler calls http_req_wait(rq, q, gen, wait_ms)
 * instead of replying and returns. The connection stays suspended until q
 * is woken (see common/waitq.h: gen is the queue's generation read while
 * the handler checked, so a wake in between is not lost), the wait is
 * over, or the server stops; then the handler runs again, with everything
 * it kept in http_req_set_ctx. When http_req_wait_over(rq) it must reply.
 * Keep waits below HTTP_LONG_POLL_MAX_S.
 *
 * A handler must reply exactly once: http_reply_json / http_reply_error /
 * http_reply_raw (a handler that does not reply yields 500). Before the
 * request reaches the handler the core has: checked the bearer token on the
 * client API (401), refused a NUL anywhere in the target or a control byte
 * in its path (400), matched the route (404/405), read the whole body with
 * the route's cap (413), refused new work when over the connection limit
 * (503). The body is NOT parsed: call http_req_json_object.
 *
 * Threads: http_req is used by one thread only. The node is shared: see
 * server/core/node.h. */
#ifndef NATTER_HTTP_H
#define NATTER_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "common/err.h"
#include "common/json.h"

struct node;

typedef struct http_req http_req;
typedef struct http_server http_server;

typedef void http_handler(http_req *rq, struct node *nd);

/* HTTP_API_OPEN, or-ed into a client route's api, serves it without the
 * bearer token (GET /v1/client/hello). */
typedef enum { HTTP_API_PEER = 1, HTTP_API_CLIENT = 2, HTTP_API_OPEN = 4 } http_api;

typedef struct http_route {
    const char *method;   /* "GET", "POST", "PUT", "DELETE", or HTTP_ANY_METHOD; NULL ends a table */
    const char *pattern;  /* "/v1/client/peers/{id}" */
    http_api api;         /* which listener serves it */
    http_handler *fn;
    size_t body_max;      /* request body cap in bytes; 0 = the server's (--max-body) */
    const char *query;    /* the query parameters it takes, "a,b,c"; NULL: none (any other
                           * gets 400 naming it); HTTP_ANY_QUERY: not checked here */
    unsigned flags;       /* HTTP_INLINE */
} http_route;

/* The handler is quick and never blocks: run it on the event thread. */
#define HTTP_INLINE 1u
/* The handler's worker run costs much CPU (an RSA signature): such runs,
 * queued or running, count against http_opts.max_costly. With HTTP_INLINE
 * the inline run is free and may refuse cheaply before it defers. */
#define HTTP_COSTLY 2u

/* A route whose query the handler checks itself (sealed routes: theirs
 * travels in the envelope). */
#define HTTP_ANY_QUERY "*"

/* A route for every method: its handler answers 405 (with Allow) itself
 * for the methods it does not serve. */
#define HTTP_ANY_METHOD "*"

#define HTTP_ADDR_MAX 64          /* "[v6]:port" or "a.b.c.d:port" with NUL */
#define HTTP_PATH_MAX 1024        /* longer paths get 404 */
#define HTTP_PARAMS_MAX 8         /* {name} segments per pattern */
#define HTTP_PARAM_MAX 256        /* bytes per matched segment */
#define HTTP_EXTRA_HEADERS_MAX 8
#define HTTP_LONG_POLL_MAX_S 60   /* longest wait a long-poll handler may use */
#define HTTP_ERR_MAX 256

/* ---- server --------------------------------------------------------- */

typedef struct http_opts {
    const char *bind;          /* "host:port"; port 0 picks a free port */
    http_api api;              /* HTTP_API_CLIENT requires the bearer token */
    const char *token;         /* client API token (copied); NULL for the peer API */
    size_t body_max;           /* default request body cap */
    unsigned max_connections;  /* above this new requests get 503 */
    unsigned max_per_source;   /* connections from one address above this get 503; 0 = no cap */
    unsigned timeout_s;        /* a connection with no request this long is closed */
    unsigned request_timeout_s;/* a request's head and body must arrive within this (408 after) */
    unsigned workers;          /* worker threads at most (0: HTTP_WORKERS_DEFAULT) */
    unsigned queue_max;        /* requests waiting for a worker at most (0: HTTP_QUEUE_MAX) */
    unsigned worker_idle_ms;   /* a worker this long without work leaves (0: HTTP_WORKER_IDLE_MS) */
    unsigned max_jobs_per_source; /* requests from one address queued for or running on a worker
                                   * at most, 503 above; 0 = no cap */
    unsigned max_costly;       /* HTTP_COSTLY requests queued for or running on a worker at most,
                                * 503 above; 0 = no cap */
} http_opts;

#define HTTP_WORKERS_DEFAULT 64
#define HTTP_QUEUE_MAX 4096   /* requests waiting for a worker; 503 above */
#define HTTP_WORKER_IDLE_MS 10000

typedef struct http_stats {
    uint64_t requests;         /* requests answered */
    uint64_t errors_4xx, errors_5xx;
    uint64_t active;           /* requests in flight now */
    uint64_t connections;      /* open connections now */
    uint64_t max_connections, max_per_source;
    uint64_t parked;           /* long polls waiting with no thread */
    uint64_t workers, workers_busy, queued;
    uint64_t max_jobs_per_source;
    uint64_t costly, max_costly; /* HTTP_COSTLY requests queued or running now; the cap */
    /* what was shed, by why: 503 over the connection cap, over the
     * per-source cap, with every worker busy, while stopping, over the
     * per-source cap of worker jobs, over the cap of costly requests; 408
     * for a request not read within its deadline; idle connections closed
     * while connections ran short */
    uint64_t shed_connections, shed_per_source, shed_workers, shed_stopping, shed_deadline, shed_idle;
    uint64_t shed_source_jobs, shed_costly;
} http_stats;

/* Bind, listen and start serving. tables is a NULL-terminated list of
 * route tables (borrowed: must outlive the server), nd is passed to
 * handlers. On failure err holds a one-line reason (e.g. "127.0.0.1:7710:
 * Address already in use"). *out owned by the caller (http_stop). */
NT_MUST_USE nt_err http_start(const http_opts *o, const http_route *const *tables, struct node *nd,
                              http_server **out, char err[static HTTP_ERR_MAX]);

/* The bound address ("127.0.0.1:41234") and port; valid until http_stop. */
const char *http_addr(const http_server *h);
uint16_t http_port(const http_server *h);

/* Refuse new requests (503 "stopping") and answer every parked long
 * poll at once; requests in flight continue. */
void http_quiesce(http_server *h);
/* Wait up to timeout_ms for the requests in flight to finish. true if none left. */
bool http_drain(http_server *h, unsigned timeout_ms);
/* Stop the daemon, close every connection and free. NULL-safe. */
void http_stop(http_server *h);

void http_stats_get(const http_server *h, http_stats *out);

/* ---- request accessors (valid during the handler) ------------------- */

const char *http_req_method(const http_req *rq);
const char *http_req_path(const http_req *rq);
/* A {name} segment of the matched pattern; NULL if the pattern has none. */
const char *http_req_param(const http_req *rq, const char *name);
/* A query argument (?name=value), decoded; NULL when absent. */
const char *http_req_query(const http_req *rq, const char *name);
/* A request header (case-insensitive name); NULL when absent. */
const char *http_req_header(const http_req *rq, const char *name);
/* The raw body (NUL-terminated for convenience; len excludes the NUL).
 * Never NULL: an empty body is "". */
const char *http_req_body(const http_req *rq, size_t *len);
/* The peer's address and port, e.g. "127.0.0.1:53312", and the address only. */
const char *http_req_remote(const http_req *rq);
const char *http_req_remote_ip(const http_req *rq);
const struct sockaddr *http_req_remote_sa(const http_req *rq, socklen_t *len);
/* The address alone as bytes (4 for IPv4, 16 for IPv6), for per-source
 * limits: its length, 0 when the request has no IP source. */
size_t http_req_source_key(const http_req *rq, uint8_t key[static 16]);
http_api http_req_api(const http_req *rq);

/* ---- waiting (long polls; see HANDLERS above) ---------------------- */

struct waitq;
/* Instead of a reply: run the handler again when q is woken after
 * generation gen, or wait_ms after the request's first wait (later waits
 * keep the first deadline), or when the server stops. */
void http_req_wait(http_req *rq, struct waitq *q, uint64_t gen, unsigned wait_ms);
/* Running on the connection's event thread (an HTTP_INLINE route). */
bool http_req_inline(const http_req *rq);
/* From a handler on the event thread: it would block from here on. Reply
 * nothing and return: it runs again on a worker (what it kept with
 * http_req_set_ctx stays). */
void http_req_defer(http_req *rq);
/* The time is up or the server is stopping: the handler must reply now. */
bool http_req_wait_over(const http_req *rq);
/* This run follows a wait (the handler ran before for this request). */
bool http_req_rerun(const http_req *rq);
/* State a waiting handler keeps between its runs; freed with fr (may be
 * NULL) when the request ends. Replaces (and frees) an earlier one. */
void http_req_set_ctx(http_req *rq, void *ctx, void (*fr)(void *));
void *http_req_ctx(const http_req *rq);
/* The slot behind http_req_set_ctx, for a request of another layer (the
 * peer API's) that keeps its handler's state the same way. Zeroed: empty. */
typedef struct {
    void *ctx;
    void (*fr)(void *); /* may be NULL */
} http_ctx;
/* Hold ctx, freed with fr; an earlier one (not ctx itself) is freed now. */
void http_ctx_set(http_ctx *c, void *ctx, void (*fr)(void *));
/* Free what c holds, leaving it empty. */
void http_ctx_clear(http_ctx *c);

/* Parse the body as a JSON object (nesting capped). On failure replies
 * 400 ("bad_json") itself and returns the error, so a handler just returns:
 *     json_t *body; if (http_req_json_object(rq, &body)) return;
 * *out owned by the caller (json_decref). */
NT_MUST_USE nt_err http_req_json_object(http_req *rq, json_t **out);

/* As http_req_json_object, then json_check_fields: a member not in fields
 * (or of the wrong type or value) gets 400 bad_request naming it. */
NT_MUST_USE nt_err http_req_json_fields(http_req *rq, const json_field fields[], json_t **out);

/* ---- replies -------------------------------------------------------- */

/* Add a response header (copied), before the reply. At most
 * HTTP_EXTRA_HEADERS_MAX; extras are dropped. */
void http_reply_header(http_req *rq, const char *name, const char *value);
/* Reply with body serialised as JSON. Steals the reference to body. */
void http_reply_json(http_req *rq, unsigned status, json_t *body);
/* Reply {"error":{"code":code,"message":...}} with status. */
void http_reply_error(http_req *rq, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Reply with raw bytes (copied) and a content type. */
void http_reply_raw(http_req *rq, unsigned status, const char *content_type, const void *data, size_t len);
/* Reply the error that fits rc (see http_status_for), message err_str(rc)
 * unless msg is given. */
void http_reply_nt_err(http_req *rq, nt_err rc, const char *msg);
bool http_replied(const http_req *rq);

/* The status and error code used for an nt_err: INVALID 400 bad_request,
 * AUTH 401 unauthorized, FORBIDDEN 403 forbidden, NOT_FOUND 404 not_found,
 * EXISTS/STATE 409 conflict, TOO_BIG 413 too_large, BUSY 503 busy,
 * REPLAY/EXPIRED 401, others 500 internal. */
unsigned http_status_for(nt_err rc, const char **code);

/* ---- pieces exposed for unit tests ---------------------------------- */

typedef struct http_params {
    size_t n;
    const char *names[HTTP_PARAMS_MAX]; /* point into the pattern (no NUL: see lens) */
    size_t name_lens[HTTP_PARAMS_MAX];
    char values[HTTP_PARAMS_MAX][HTTP_PARAM_MAX];
} http_params;

/* Match path against pattern; fills out (may be NULL). */
bool http_match(const char *pattern, const char *path, http_params *out);

#endif
