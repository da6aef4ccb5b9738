/* http_conn.c - the connection table: caps (all connections, per source
 * address), the deadlines that close a connection whatever it trickles,
 * and idle connections reclaimed when connections run short.
 *
 * libmicrohttpd owns each socket; the node never closes one. To end a
 * connection early (a deadline, or over its source's cap) the reaper
 * thread writes a JSON 408 or 503 on it and shuts it down
 * (http_raw_answer), under the table's lock: libmicrohttpd's "closed"
 * notification takes that lock before it closes the socket, so the
 * descriptor is still this connection's. libmicrohttpd then reads the end
 * of the stream and closes it on its own event thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>

#include "common/log.h"
#include "server/core/http_int.h"
#include "server/core/http_mhd_fix.h"

#define REAP_INTERVAL_MS 250
#define PRESSURE_NUM 3          /* pressure: more open than 3/4 of the cap */
#define PRESSURE_DEN 4
#define PRESSED_IDLE_MS 1000    /* under pressure, idle this long is reclaimed */
#define OVER_SOURCE_IDLE_S 2    /* a connection over its source's cap waits this long for its request */

/* ---- sources -------------------------------------------------------- */

static size_t src_key(const struct sockaddr *sa, uint8_t key[static 16])
{
    if (sa && sa->sa_family == AF_INET) {
        memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 4;
    }
    if (sa && sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return 16;
    }
    return 0;
}

size_t http_req_source_key(const http_req *rq, uint8_t key[static 16])
{
    socklen_t len = 0;
    return src_key(http_req_remote_sa(rq, &len), key);
}

static size_t src_bucket(const uint8_t *key, size_t len)
{
    uint32_t x = 2166136261u;
    for (size_t i = 0; i < len; i++)
        x = (x ^ key[i]) * 16777619u;
    return x % HTTP_SRC_BUCKETS;
}

static http_src *src_take_locked(http_conns *cs, const struct sockaddr *sa)
{
    uint8_t key[16];
    size_t len = src_key(sa, key);
    size_t b = src_bucket(key, len);
    for (http_src *s = cs->buckets[b]; s; s = s->next)
        if (s->len == len && memcmp(s->key, key, len) == 0) {
            s->open++;
            return s;
        }
    http_src *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    memcpy(s->key, key, len);
    s->len = (uint8_t)len;
    s->open = 1;
    s->next = cs->buckets[b];
    cs->buckets[b] = s;
    return s;
}

static void src_drop_locked(http_conns *cs, http_src *s)
{
    if (!s || --s->open > 0)
        return;
    http_src **pp = &cs->buckets[src_bucket(s->key, s->len)];
    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (*pp)
        *pp = s->next;
    free(s);
}

/* ---- the table ------------------------------------------------------ */

static void opened(http_server *h, struct MHD_Connection *c, void **socket_ctx)
{
    http_conns *cs = &h->conns;
    http_conn *cn = calloc(1, sizeof *cn);
    const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ad = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    *socket_ctx = cn;
    if (!cn)
        return;
    cn->c = c;
    cn->fd = fd ? fd->connect_fd : -1;
    cn->st = CONN_IDLE;
    cn->since_ms = cn->idle_ms = http_now_ms();
    pthread_mutex_lock(&cs->mu);
    cn->src = src_take_locked(cs, ad ? ad->client_addr : NULL);
    cn->over_source = cs->per_source && cn->src && cn->src->open > cs->per_source;
    cn->next = cs->head;
    if (cs->head)
        cs->head->prev = cn;
    cs->head = cn;
    cs->open++;
    pthread_mutex_unlock(&cs->mu);
    /* Over its source's cap it may still send one request (answered 503),
     * but it does not get to hold a slot for long: the reaper answers it
     * 503 after OVER_SOURCE_IDLE_S, and libmicrohttpd's own timeout (a
     * silent close) comes only after that. */
    if (cn->over_source)
        MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)OVER_SOURCE_IDLE_S + 2);
}

static void closed(http_server *h, http_conn *cn)
{
    http_conns *cs = &h->conns;
    if (!cn)
        return;
    pthread_mutex_lock(&cs->mu);
    if (cn->prev)
        cn->prev->next = cn->next;
    else
        cs->head = cn->next;
    if (cn->next)
        cn->next->prev = cn->prev;
    src_drop_locked(cs, cn->src);
    cs->open--;
    pthread_mutex_unlock(&cs->mu);
    free(cn);
}

void http_conns_notify(http_server *h, struct MHD_Connection *c, void **socket_ctx, enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        opened(h, c, socket_ctx);
    else {
        closed(h, *socket_ctx);
        *socket_ctx = NULL;
    }
}

http_conn *http_conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

bool http_conn_enter(http_server *h, http_conn *cn, conn_state st)
{
    http_conns *cs = &h->conns;
    pthread_mutex_lock(&cs->mu);
    bool ok = cn->st != CONN_CLOSING;
    if (ok && cn->st != st) {
        cn->st = st;
        cn->since_ms = http_now_ms();
        if (st == CONN_IDLE)
            cn->idle_ms = cn->since_ms;
    }
    pthread_mutex_unlock(&cs->mu);
    return ok;
}

void http_conns_count_shed(http_server *h, uint64_t *counter)
{
    pthread_mutex_lock(&h->conns.mu);
    (*counter)++;
    pthread_mutex_unlock(&h->conns.mu);
}

static bool pressed_locked(const http_conns *cs)
{
    return (uint64_t)cs->open * PRESSURE_DEN > (uint64_t)cs->cap * PRESSURE_NUM;
}

bool http_conns_shed(http_req *rq)
{
    http_server *h = rq->h;
    http_conns *cs = &h->conns;
    const char *why = NULL;
    pthread_mutex_lock(&cs->mu);
    if (atomic_load(&h->stopping)) {
        cs->shed.stopping++;
        why = "the node is stopping";
    } else if (rq->cn && rq->cn->over_source) {
        cs->shed.per_source++;
        why = "too many connections from this address";
    } else if (cs->open > cs->cap) {
        cs->shed.connections++;
        why = "too many connections";
    }
    pthread_mutex_unlock(&cs->mu);
    if (!why)
        return false;
    rq->close_after = true;
    http_reply_header(rq, "Retry-After", "1");
    http_reply_error(rq, 503, "busy", "%s; try again", why);
    return true;
}

/* ---- worker jobs -------------------------------------------------- */

/* Both counts are taken on the event thread, before the job is queued,
 * under the table's lock (no other work under it); the worker gives them
 * back before it resumes the connection, so a connection that then ends
 * (a reset, a timeout) has nothing left to give back. The source record
 * lives as long as one of its connections is open: this one is, while its
 * job runs. */
bool http_conns_job_take(http_req *rq)
{
    http_conns *cs = &rq->h->conns;
    http_src *src = rq->cn ? rq->cn->src : NULL;
    bool costly = rq->route->flags & HTTP_COSTLY;
    bool per_source = false, over = true;
    pthread_mutex_lock(&cs->mu);
    if (src && cs->jobs_per_source && src->jobs >= cs->jobs_per_source) {
        cs->shed.source_jobs++;
        per_source = true;
    } else if (costly && cs->costly_max && cs->costly >= cs->costly_max) {
        cs->shed.costly++;
    } else {
        over = false;
        if (src) {
            src->jobs++;
            rq->job_src = src;
        }
        if (costly) {
            cs->costly++;
            rq->job_costly = true;
        }
    }
    pthread_mutex_unlock(&cs->mu);
    if (!over)
        return true;
    http_reply_header(rq, "Retry-After", "1");
    if (per_source)
        http_reply_error(rq, 503, "busy", "too many requests from this address in progress; try again");
    else
        http_reply_error(rq, 503, "busy", "too many %s %s requests in progress; try again", rq->method,
                         rq->route->pattern);
    return false;
}

void http_conns_job_done(http_req *rq)
{
    if (!rq->job_src && !rq->job_costly)
        return;
    http_conns *cs = &rq->h->conns;
    pthread_mutex_lock(&cs->mu);
    if (rq->job_src)
        rq->job_src->jobs--;
    if (rq->job_costly)
        cs->costly--;
    pthread_mutex_unlock(&cs->mu);
    rq->job_src = NULL;
    rq->job_costly = false;
}

/* ---- the reaper ----------------------------------------------------- */

/* What the reaper says before it shuts a connection. */
typedef enum { REAP_NONE, REAP_408, REAP_503, REAP_QUIET } reap_verdict;

static reap_verdict verdict_locked(const http_conns *cs, const http_conn *cn, int64_t now, bool pressed)
{
    int64_t age = now - cn->since_ms, waited = now - cn->idle_ms;
    if (cn->fd < 0 || cn->st == CONN_HANDLING || cn->st == CONN_CLOSING)
        return REAP_NONE;
    /* over its source's cap: its request, whole or not, had its 2 s */
    if (cn->over_source && waited > OVER_SOURCE_IDLE_S * 1000)
        return REAP_503;
    /* its head and body within request_ms of its request line; and the
     * whole request, line included, within idle_ms of the connection
     * becoming idle (libmicrohttpd closes a silent one itself: one still
     * open after that has been trickling) */
    if ((cn->st == CONN_READING && age > cs->request_ms) || waited > (int64_t)cs->idle_ms + 1000)
        return REAP_408;
    if (cn->st == CONN_IDLE && pressed && age > PRESSED_IDLE_MS)
        return REAP_QUIET;
    return REAP_NONE;
}

static void reap_once(http_conns *cs)
{
    int64_t now = http_now_ms();
    pthread_mutex_lock(&cs->mu);
    bool pressed = pressed_locked(cs);
    for (http_conn *cn = cs->head; cn; cn = cn->next) {
        reap_verdict v = verdict_locked(cs, cn, now, pressed);
        if (v == REAP_NONE)
            continue;
        cn->st = CONN_CLOSING;
        cn->since_ms = now;
        if (v == REAP_QUIET) {
            cs->shed.idle++;
            (void)shutdown(cn->fd, SHUT_RDWR);
            continue;
        }
        if (v == REAP_408) {
            cs->shed.deadline++;
            http_raw_answer(cn->fd, "408 Request Timeout", "request_timeout", "the request was not received in time",
                            false);
        } else {
            cs->shed.per_source++;
            http_raw_answer(cn->fd, "503 Service Unavailable", "busy",
                            "too many connections from this address; try again", true);
        }
    }
    pthread_mutex_unlock(&cs->mu);
}

static void *reaper_main(void *arg)
{
    http_conns *cs = arg;
    pthread_setname_np(pthread_self(), "http-reaper");
    pthread_mutex_lock(&cs->mu);
    while (!cs->stop) {
        struct timespec ts = waitq_deadline(REAP_INTERVAL_MS);
        pthread_cond_timedwait(&cs->cv, &cs->mu, &ts);
        if (cs->stop)
            break;
        pthread_mutex_unlock(&cs->mu);
        reap_once(cs);
        pthread_mutex_lock(&cs->mu);
    }
    pthread_mutex_unlock(&cs->mu);
    return NULL;
}

nt_err http_conns_init(http_conns *cs, const http_opts *o)
{
    pthread_mutex_init(&cs->mu, NULL);
    waitq_cond_init(&cs->cv);
    cs->cap = o->max_connections;
    cs->per_source = o->max_per_source;
    cs->idle_ms = o->timeout_s * 1000u;
    cs->request_ms = (o->request_timeout_s ? o->request_timeout_s : o->timeout_s) * 1000u;
    cs->jobs_per_source = o->max_jobs_per_source;
    cs->costly_max = o->max_costly;
    cs->ready = true;
    if (pthread_create(&cs->reaper, NULL, reaper_main, cs))
        return NT_ERR_NOMEM;
    cs->reaper_started = true;
    return NT_OK;
}

void http_conns_fini(http_conns *cs)
{
    if (!cs->ready)
        return;
    pthread_mutex_lock(&cs->mu);
    cs->stop = true;
    pthread_cond_broadcast(&cs->cv);
    pthread_mutex_unlock(&cs->mu);
    if (cs->reaper_started)
        pthread_join(cs->reaper, NULL);
    for (size_t b = 0; b < HTTP_SRC_BUCKETS; b++)
        while (cs->buckets[b]) {
            http_src *s = cs->buckets[b];
            cs->buckets[b] = s->next;
            free(s);
        }
    pthread_cond_destroy(&cs->cv);
    pthread_mutex_destroy(&cs->mu);
    cs->ready = false;
}
