/* http_int.h - what the HTTP core's files share (http.c: routing, checks
 * and replies; http_daemon.c: libmicrohttpd's callbacks and the server's
 * life; http_conn.c: the connection table, its limits and deadlines;
 * http_work.c: worker threads and parked requests). Not for other modules.
 *
 * Threads: libmicrohttpd runs an epoll event loop on a few event threads
 * (one per core); each connection stays on one of them, and every
 * libmicrohttpd callback for it runs there. A route marked HTTP_INLINE
 * runs on that thread; any other is handed to a worker with its
 * connection suspended, and the worker resumes it when the reply is set.
 * A handler that waits (http_req_wait) parks its request: the connection
 * stays suspended with no thread until a wake, its deadline or the stop
 * resumes it, and the handler runs again. */
#ifndef NATTER_HTTP_INT_H
#define NATTER_HTTP_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/waitq.h"
#include "server/core/http.h"

#define HTTP_TOKEN_MAX 128
#define HTTP_SRC_BUCKETS 1024

/* ---- connections (http_conn.c) ---- */

typedef enum {
    CONN_IDLE,     /* no request under way: since accept or the last reply */
    CONN_READING,  /* a request line came: its head and body are being read */
    CONN_HANDLING, /* the whole request is in: a handler, a worker or a park has it */
    CONN_CLOSING,  /* shut by the node (deadline, pressure): only closing is left */
} conn_state;

typedef struct http_src {
    uint8_t key[16];
    uint8_t len;
    unsigned open; /* connections from this address now */
    unsigned jobs; /* its requests queued for or running on a worker now */
    struct http_src *next;
} http_src;

typedef struct http_conn {
    struct MHD_Connection *c;
    int fd;
    _Atomic conn_state st; /* written under the table's lock; the event thread reads it without */
    int64_t since_ms;  /* when it entered st (monotonic ms) */
    int64_t idle_ms;   /* when it last became idle: its next request may start any time after */
    bool over_source;  /* opened over the per-source cap: answered 503 */
    http_src *src;
    struct http_conn *prev, *next;
} http_conn;

typedef struct http_shed {
    uint64_t connections;  /* 503: over the connection cap */
    uint64_t per_source;   /* 503: over the per-source cap */
    uint64_t workers;      /* 503: every worker busy and the queue full */
    uint64_t stopping;     /* 503: the node is stopping */
    uint64_t deadline;     /* 408 and closed: a request not read in time */
    uint64_t idle;         /* closed: idle while connections ran short */
    uint64_t source_jobs;  /* 503: over the per-source cap of worker jobs */
    uint64_t costly;       /* 503: over the cap of costly requests */
} http_shed;

typedef struct http_conns {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    http_conn *head;
    unsigned open;
    http_src *buckets[HTTP_SRC_BUCKETS];
    unsigned cap, per_source;   /* 503 above these */
    unsigned idle_ms;           /* a connection with no request this long is closed */
    unsigned request_ms;        /* a request's head and body must be read within this */
    unsigned jobs_per_source;   /* worker jobs (queued or running) per source; 503 above; 0: no cap */
    unsigned costly, costly_max; /* HTTP_COSTLY jobs now, and the cap (0: none) */
    http_shed shed;             /* under mu */
    pthread_t reaper;
    bool ready, reaper_started, stop;
} http_conns;

/* ---- workers and parked requests (http_work.c) ---- */

typedef struct http_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* a job came, or stop */
    pthread_cond_t gone;     /* a worker exited */
    pthread_cond_t timer_cv; /* a park with an earlier deadline, or stop */
    struct http_req *q_head, *q_tail;
    unsigned queued, queue_max;
    unsigned threads, idle, threads_max;
    unsigned idle_ms; /* a worker this long without work leaves */
    struct http_req *parked; /* parked or resuming, until their event thread takes them */
    unsigned n_parked;
    int64_t timer_next; /* when the timer looks next (monotonic ms) */
    pthread_t timer;
    bool ready, timer_started, stop;
} http_pool;

typedef struct {
    char *name, *value;
} http_header;

typedef enum { PARK_NONE, PARK_PARKED, PARK_RESUMING } park_state;

struct http_server {
    struct MHD_Daemon *d;
    int listen_fd;
    http_api api;
    char token[HTTP_TOKEN_MAX];
    size_t token_len;
    size_t body_max;
    const http_route *const *tables;
    struct node *nd;
    char addr[HTTP_ADDR_MAX];
    uint16_t port;
    atomic_uint_fast64_t requests, errors_4xx, errors_5xx;
    atomic_bool stopping;
    uint64_t active; /* requests started and not completed; under mu */
    pthread_mutex_t mu;
    pthread_cond_t idle;
    http_conns conns;
    http_pool pool;
};

struct http_req {
    http_server *h;
    struct MHD_Connection *conn;
    http_conn *cn;
    bool started;         /* the access handler has seen it */
    bool nul_in_target;   /* "%00" in the request target */
    bool query_overflow;  /* more query parameters than any route takes (cut before parsing) */
    const char *raw_target_end; /* where the request target read as a C string ends */
    const char *method, *path;
    const http_route *route;
    http_params params;
    size_t body_max;
    char *body;
    size_t body_len, body_cap;
    bool too_big;
    size_t discarded;
    char remote[HTTP_ADDR_MAX], remote_ip[HTTP_ADDR_MAX];
    struct sockaddr_storage remote_sa;
    socklen_t remote_sa_len;
    /* the reply, built by the handler, sent from the event thread */
    bool replied, queued, close_after;
    unsigned runs;           /* handler runs so far */
    unsigned status;
    char *out;
    size_t out_len;
    const char *content_type;
    http_header extra[HTTP_EXTRA_HEADERS_MAX];
    size_t n_extra;
    /* waiting (http_req_wait) */
    bool want_wait, wait_over;
    bool want_defer, on_worker;
    waitq *wait_q;
    uint64_t wait_gen;
    int64_t wait_deadline_ms; /* set by the first wait; 0 before */
    waitq_entry we;
    _Atomic park_state park;
    struct http_req *park_prev, *park_next;
    http_ctx ctx;
    struct http_req *job_next; /* in the worker queue */
    /* what this request's worker job holds (http_conns_job_take) */
    http_src *job_src;    /* counted in job_src->jobs */
    bool job_costly;      /* counted in conns.costly */
};

int64_t http_now_ms(void);

/* http.c */
void http_precheck(http_req *rq, const char *version);
/* Run the route's handler once; afterwards the request has a reply or
 * wants to wait. */
void http_run_handler(http_req *rq);
void http_req_free(http_req *rq);

/* http_conn.c */
nt_err http_conns_init(http_conns *cs, const http_opts *o);
/* Stop the reaper; the table must be empty (the daemon stopped). */
void http_conns_fini(http_conns *cs);
/* libmicrohttpd's connection notification (opened, closed). */
void http_conns_notify(http_server *h, struct MHD_Connection *c, void **socket_ctx, enum MHD_ConnectionNotificationCode toe);
http_conn *http_conn_of(struct MHD_Connection *c);
/* The connection's request line came (READING), or its whole request
 * (HANDLING), or its reply went (IDLE). false when the node already shut
 * it (the callback then refuses: MHD_NO). */
bool http_conn_enter(http_server *h, http_conn *cn, conn_state st);
/* Over a cap: answers 503 (with Retry-After and Connection: close) and
 * returns true. */
bool http_conns_shed(http_req *rq);
void http_conns_count_shed(http_server *h, uint64_t *counter);
/* rq is about to be handed to a worker: count it against its source's
 * cap of worker jobs and, for an HTTP_COSTLY route, the server's cap of
 * costly ones. Over either: answers 503 (Retry-After), counts nothing and
 * returns false. What it took is given back by http_conns_job_done. */
bool http_conns_job_take(http_req *rq);
/* Give back what http_conns_job_take took, if anything (idempotent): when
 * the worker's run ends, before its connection is resumed, or when the
 * request ends without one. */
void http_conns_job_done(http_req *rq);

/* http_work.c */
/* Start the timer thread (workers start as needed). */
nt_err http_pool_init(http_server *h, unsigned threads_max, unsigned queue_max, unsigned idle_ms);
/* Let every worker and the timer finish (nothing parked); from then on
 * http_pool_submit refuses. */
void http_pool_fini(http_pool *p);
/* Free the pool's locks: after fini, once no event thread can call in. */
void http_pool_destroy(http_pool *p);
/* Hand rq to a worker: suspends its connection. false (nothing done)
 * when the queue is full. */
bool http_pool_submit(http_server *h, http_req *rq);
/* rq wants to wait and its connection is suspended: park it, or resume it
 * at once if it was woken meanwhile or its time is up. */
void http_pool_park(http_server *h, http_req *rq);
/* rq came back from a park: take it off the parked list. */
void http_pool_unpark(http_server *h, http_req *rq);
/* Resume every parked request with its wait over (the stop). */
void http_pool_release_all(http_server *h);

#endif
