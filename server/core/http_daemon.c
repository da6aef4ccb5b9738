/* http_daemon.c - libmicrohttpd's callbacks and the server's life: start,
 * quiesce, drain, stop, statistics (http_int.h says how the files fit). */
#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <mbedtls/platform_util.h>

#include "common/log.h"
#include "server/core/http_int.h"
#include "server/core/http_listen.h"
#include "server/core/http_mhd_fix.h"

#define HTTP_BUSY_SLACK 64   /* connections above the cap still taken (and answered 503) */
#define HTTP_DISCARD_MAX (1024 * 1024) /* over-cap body bytes read before cutting the connection */
#define HTTP_HEADS_MAX 64              /* requests per event thread between request line and handler */
#define HTTP_POOL_MEM (16 * 1024)      /* libmicrohttpd's buffer per connection (zeroed after every request) */
#define HTTP_QUERY_PARAMS_MAX 32       /* more in a query: 400 (no route takes more than a few) */

int64_t http_now_ms(void)
{
    return waitq_now_ms();
}

/* ---- the connections of this event thread whose head is being read ----
 * libmicrohttpd's log line for its own Content-Length error names no
 * connection (http_mhd_fix.h). It comes on the connection's event thread
 * while its head is parsed, after the URI callback and before the access
 * handler: it is one of the connections this thread holds in that
 * stretch, and the one whose Content-Length is bad. */

static _Thread_local struct MHD_Connection *tl_heads[HTTP_HEADS_MAX];
static _Thread_local size_t tl_n_heads;

static void heads_add(struct MHD_Connection *c)
{
    if (tl_n_heads < HTTP_HEADS_MAX)
        tl_heads[tl_n_heads++] = c;
}

static void heads_remove(struct MHD_Connection *c)
{
    for (size_t i = 0; i < tl_n_heads; i++)
        if (tl_heads[i] == c) {
            tl_heads[i] = tl_heads[--tl_n_heads];
            return;
        }
}

/* The Content-Length libmicrohttpd 0.9.75 refuses: not all digits, or
 * over 2^64 - 1. */
static bool cl_refused(const char *v)
{
    if (!v)
        return false;
    size_t n = strspn(v, "0123456789");
    if (n == 0 || v[n] != '\0')
        return true;
    while (*v == '0' && v[1])
        v++, n--;
    return n > 20 || (n == 20 && strcmp(v, "18446744073709551615") > 0);
}

static void answer_heads(const char *line)
{
    size_t i = 0;
    while (i < tl_n_heads) {
        struct MHD_Connection *c = tl_heads[i];
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl_refused(cl) && http_mhd_fix_answer(c, line)) {
            tl_heads[i] = tl_heads[--tl_n_heads];
            continue;
        }
        i++;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[LOG_LINE_MAX];
    vsnprintf(buf, sizeof buf, fmt, ap);
    log_debug("libmicrohttpd: %s", buf);
    if (tl_n_heads)
        answer_heads(buf);
}

/* ---- requests ------------------------------------------------------- */

static void set_remote(http_req *rq)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    strcpy(rq->remote, "?");
    strcpy(rq->remote_ip, "?");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    memcpy(&rq->remote_sa, sa, len);
    rq->remote_sa_len = len;
    char host[INET6_ADDRSTRLEN], serv[8];
    if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return;
    snprintf(rq->remote_ip, sizeof rq->remote_ip, "%s", host);
    snprintf(rq->remote, sizeof rq->remote, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

static bool body_append(http_req *rq, const char *data, size_t n)
{
    if (n > rq->body_max - rq->body_len)
        return false;
    if (rq->body_len + n + 1 > rq->body_cap) {
        size_t cap = rq->body_cap ? rq->body_cap : 1024;
        while (cap < rq->body_len + n + 1)
            cap *= 2;
        if (cap > rq->body_max + 1)
            cap = rq->body_max + 1;
        char *b = realloc(rq->body, cap);
        if (!b)
            return false;
        rq->body = b;
        rq->body_cap = cap;
    }
    memcpy(rq->body + rq->body_len, data, n);
    rq->body_len += n;
    rq->body[rq->body_len] = '\0';
    return true;
}

static enum MHD_Result queue_reply(http_req *rq)
{
    http_server *h = rq->h;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(rq->out_len, rq->out ? rq->out : (char *)"", MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rq->content_type ? rq->content_type : "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (size_t i = 0; i < rq->n_extra; i++)
        MHD_add_response_header(r, rq->extra[i].name, rq->extra[i].value);
    if (rq->close_after && !MHD_get_response_header(r, MHD_HTTP_HEADER_CONNECTION))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(rq->conn, rq->status, r);
    MHD_destroy_response(r);
    rq->queued = true;
    atomic_fetch_add(&h->requests, 1);
    if (rq->status >= 500)
        atomic_fetch_add(&h->errors_5xx, 1);
    else if (rq->status >= 400)
        atomic_fetch_add(&h->errors_4xx, 1);
    log_debug("http %s %s %s -> %u", rq->remote, rq->method, rq->path, rq->status);
    return ret;
}

/* The whole request is in (or a worker or a wake gave it back): run it
 * here, hand it to a worker, or send what is ready. */
static enum MHD_Result dispatch(http_req *rq)
{
    http_server *h = rq->h;
    if (rq->park != PARK_NONE)
        http_pool_unpark(h, rq);
    if (rq->replied)
        return queue_reply(rq);
    if (rq->route->flags & HTTP_INLINE) {
        rq->on_worker = false;
        http_run_handler(rq);
        if (rq->replied)
            return queue_reply(rq);
        if (!rq->want_defer) {
            MHD_suspend_connection(rq->conn);
            http_pool_park(h, rq);
            return MHD_YES;
        }
    }
    if (!http_conns_job_take(rq))
        return queue_reply(rq);
    if (!http_pool_submit(h, rq)) {
        http_conns_job_done(rq);
        http_conns_count_shed(h, &h->conns.shed.workers);
        http_reply_header(rq, "Retry-After", "1");
        http_reply_error(rq, 503, "busy", "every worker is busy; try again");
        return queue_reply(rq);
    }
    return MHD_YES;
}

static enum MHD_Result first_call(http_server *h, struct MHD_Connection *c, http_req *rq, const char *url,
                                  const char *method, const char *version)
{
    rq->started = true;
    rq->h = h;
    rq->conn = c;
    rq->cn = http_conn_of(c);
    rq->method = method;
    rq->path = url;
    rq->body_max = h->body_max;
    heads_remove(c);
    pthread_mutex_lock(&h->mu);
    h->active++;
    pthread_mutex_unlock(&h->mu);
    set_remote(rq);
    http_precheck(rq, version);
    /* Errors go out at once, so an unwanted body is never read (MHD
     * then closes the connection). A good request waits for the next
     * call: queueing now would cost keep-alive. */
    return rq->replied ? queue_reply(rq) : MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    http_server *h = cls;
    http_req *rq = *con_cls;
    if (!rq || !rq->started) {
        if (!rq && !(rq = calloc(1, sizeof *rq)))
            return MHD_NO;
        *con_cls = rq;
        return first_call(h, c, rq, url, method, version);
    }
    if (rq->queued) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->cn && rq->cn->st == CONN_CLOSING)
        return MHD_NO; /* its deadline passed: the reaper answered and shut it */
    if (*upload_size) {
        /* MHD refuses a response queued mid-upload, so an over-long body of
         * unknown length (chunked) is read and dropped until it ends, then
         * answered with 413; past HTTP_DISCARD_MAX the connection is cut. */
        if (rq->too_big || !body_append(rq, upload, *upload_size)) {
            rq->too_big = true;
            rq->discarded += *upload_size;
            if (rq->discarded > HTTP_DISCARD_MAX)
                return MHD_NO;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->cn && !http_conn_enter(h, rq->cn, CONN_HANDLING))
        return MHD_NO;
    if (rq->too_big) {
        http_reply_error(rq, 413, "too_large", "request body over %zu bytes", rq->body_max);
        return queue_reply(rq);
    }
    return dispatch(rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    http_server *h = cls;
    http_req *rq = *con_cls;
    heads_remove(c);
    if (!rq)
        return;
    *con_cls = NULL;
    bool started = rq->started;
    http_conn *cn = rq->cn;
    /* A request that was resumed from a park and ended before its handler
     * ran again (its connection gone) leaves the parked list here. */
    if (atomic_load(&rq->park) != PARK_NONE) {
        (void)waitq_remove(&rq->we);
        http_pool_unpark(h, rq);
    }
    http_conns_job_done(rq); /* nothing left by now (the worker gave it back): a safety net */
    http_req_free(rq);
    if (cn)
        (void)http_conn_enter(h, cn, CONN_IDLE);
    if (!started) /* libmicrohttpd answered the request itself */
        return;
    pthread_mutex_lock(&h->mu);
    if (--h->active == 0)
        pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->mu);
}

/* The raw request target, before libmicrohttpd decodes it: the request
 * starts here (freed by on_completed). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    http_server *h = cls;
    http_conn *cn = http_conn_of(c);
    if (cn && !http_conn_enter(h, cn, CONN_READING))
        return NULL;
    http_req *rq = calloc(1, sizeof *rq);
    if (!rq)
        return NULL;
    heads_add(c);
    rq->nul_in_target = strstr(uri, "%00") != NULL;
    rq->raw_target_end = uri + strlen(uri);
    /* libmicrohttpd 0.9.75 parses the query into the connection's buffer
     * right after this callback, in place; a query of hundreds of
     * parameters runs that buffer out and the request hangs. Such a query
     * is cut here (the request gets 400) and never parsed. */
    char *q = strchr((char *)uri, '?');
    size_t params = 0;
    for (const char *p = q; p && *p; p++)
        params += *p == '&' || *p == '?';
    if (params > HTTP_QUERY_PARAMS_MAX) {
        rq->query_overflow = true;
        q[1] = '\0';
    }
    return rq;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx, enum MHD_ConnectionNotificationCode toe)
{
    if (toe != MHD_CONNECTION_NOTIFY_STARTED)
        heads_remove(c);
    http_conns_notify(cls, c, socket_ctx, toe);
}

/* ---- server --------------------------------------------------------- */

static unsigned event_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 16 ? 16 : (unsigned)n;
}

static nt_err start_daemon(http_server *h, const http_opts *o, bool v6)
{
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
                            MHD_OPTION_LISTEN_SOCKET, h->listen_fd,
                            MHD_OPTION_THREAD_POOL_SIZE, event_threads(),
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)(h->conns.cap + HTTP_BUSY_SLACK),
                            MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_POOL_MEM,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                            MHD_OPTION_END);
    return h->d ? NT_OK : NT_ERR_NET;
}

nt_err http_start(const http_opts *o, const http_route *const *tables, struct node *nd, http_server **out,
                  char err[static HTTP_ERR_MAX])
{
    nt_err rc;
    http_server *h = calloc(1, sizeof *h);
    *out = NULL;
    err[0] = '\0';
    if (!h)
        return NT_ERR_NOMEM;
    h->listen_fd = -1;
    pthread_mutex_init(&h->mu, NULL);
    waitq_cond_init(&h->idle);
    h->api = o->api;
    h->body_max = o->body_max;
    h->tables = tables;
    h->nd = nd;
    if (o->token) {
        h->token_len = strlen(o->token);
        if (h->token_len >= sizeof h->token) {
            rc = NT_ERR_INVALID;
            goto fail;
        }
        memcpy(h->token, o->token, h->token_len);
    }
    if ((rc = http_conns_init(&h->conns, o)) ||
        (rc = http_pool_init(h, o->workers ? o->workers : HTTP_WORKERS_DEFAULT,
                                     o->queue_max ? o->queue_max : HTTP_QUEUE_MAX,
                                     o->worker_idle_ms ? o->worker_idle_ms : HTTP_WORKER_IDLE_MS))) {
        snprintf(err, HTTP_ERR_MAX, "%s: cannot start the HTTP server's threads", o->bind);
        goto fail;
    }
    if ((rc = http_listen_bind(o->bind, &h->listen_fd, err)))
        goto fail;
    bool v6 = false;
    http_listen_describe(h->listen_fd, h->addr, &h->port, &v6);
    if ((rc = start_daemon(h, o, v6))) {
        snprintf(err, HTTP_ERR_MAX, "%s: cannot start the HTTP server", o->bind);
        goto fail;
    }
    *out = h;
    return NT_OK;
fail:
    http_stop(h);
    return rc;
}

const char *http_addr(const http_server *h) { return h->addr; }
uint16_t http_port(const http_server *h) { return h->port; }

/* The listening socket stays open until http_stop: a request that comes
 * meanwhile gets a JSON 503 "stopping", not a refused connection (and
 * libmicrohttpd's quiesce could abort with an epoll thread pool). */
void http_quiesce(http_server *h)
{
    if (!h || !h->d)
        return;
    atomic_store(&h->stopping, true);
    http_pool_release_all(h);
}

bool http_drain(http_server *h, unsigned timeout_ms)
{
    struct timespec until = waitq_deadline(timeout_ms);
    pthread_mutex_lock(&h->mu);
    while (h->active > 0)
        if (pthread_cond_timedwait(&h->idle, &h->mu, &until) == ETIMEDOUT)
            break;
    bool done = h->active == 0;
    pthread_mutex_unlock(&h->mu);
    return done;
}

/* libmicrohttpd must not be stopped with a connection suspended: the
 * workers finish (each resumes its connection) and nothing stays parked
 * before the daemon stops. */
void http_stop(http_server *h)
{
    if (!h)
        return;
    atomic_store(&h->stopping, true);
    if (h->d)
        http_pool_release_all(h);
    http_pool_fini(&h->pool);
    if (h->d) /* a request done now gets 503: the pool is stopped, not gone */
        MHD_stop_daemon(h->d);
    http_pool_destroy(&h->pool);
    http_conns_fini(&h->conns);
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    pthread_cond_destroy(&h->idle);
    pthread_mutex_destroy(&h->mu);
    mbedtls_platform_zeroize(h->token, sizeof h->token);
    free(h);
}

void http_stats_get(const http_server *h, http_stats *out)
{
    http_server *m = (http_server *)h;
    memset(out, 0, sizeof *out);
    out->requests = atomic_load(&m->requests);
    out->errors_4xx = atomic_load(&m->errors_4xx);
    out->errors_5xx = atomic_load(&m->errors_5xx);
    pthread_mutex_lock(&m->mu);
    out->active = m->active;
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_lock(&m->conns.mu);
    out->connections = m->conns.open;
    out->max_connections = m->conns.cap;
    out->max_per_source = m->conns.per_source;
    out->shed_connections = m->conns.shed.connections;
    out->shed_per_source = m->conns.shed.per_source;
    out->shed_workers = m->conns.shed.workers;
    out->shed_stopping = m->conns.shed.stopping;
    out->shed_deadline = m->conns.shed.deadline;
    out->shed_idle = m->conns.shed.idle;
    out->shed_source_jobs = m->conns.shed.source_jobs;
    out->shed_costly = m->conns.shed.costly;
    out->max_jobs_per_source = m->conns.jobs_per_source;
    out->costly = m->conns.costly;
    out->max_costly = m->conns.costly_max;
    pthread_mutex_unlock(&m->conns.mu);
    pthread_mutex_lock(&m->pool.mu);
    out->parked = m->pool.n_parked;
    out->workers = m->pool.threads;
    out->workers_busy = m->pool.threads - m->pool.idle;
    out->queued = m->pool.queued;
    pthread_mutex_unlock(&m->pool.mu);
}
