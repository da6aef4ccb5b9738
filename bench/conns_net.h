/* conns_net.h - for bench/conns.c: non-blocking sockets bound to a
 * 127.0.0.x source, a minimal HTTP/1.1 answer parser, and a pool of
 * connections that send nothing or trickle a request one byte a second,
 * served by one epoll loop, with what the node did to each (closed, reset,
 * answered, when). */
#ifndef NATTER_BENCH_CONNS_NET_H
#define NATTER_BENCH_CONNS_NET_H

#include <math.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "bench/bench_node.h"

#define RX_KEEP 384  /* bytes of what the node sent a pool connection that are kept */
#define EP_BATCH 256 /* epoll events taken at once */

static struct in_addr src_addr(int b, int c)
{
    struct in_addr a;
    a.s_addr = htonl((127u << 24) | ((unsigned)b << 8) | (unsigned)c);
    return a;
}

/* A non-blocking TCP socket bound to src and connecting to the node: the
 * fd, with *err 0 (connected) or EINPROGRESS; -1 with *err set on failure. */
static int open_from(struct in_addr src, int *err)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr = src};
    *err = 0;
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    /* the port is chosen at connect, per destination, not at bind */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc == 0)
        rc = connect(fd, (struct sockaddr *)&g_node.addr, sizeof g_node.addr);
    if (rc && errno != EINPROGRESS) {
        *err = errno;
        close(fd);
        return -1;
    }
    *err = rc ? EINPROGRESS : 0;
    return fd;
}

/* The status of "HTTP/1.x NNN ..." in buf[0..len), 0 if there is none
 * (buf need not end with a NUL). */
static int http_status(const char *buf, size_t len)
{
    int st = 0;
    if (len < 12 || strncmp(buf, "HTTP/", 5) || buf[8] != ' ')
        return 0;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return 0;
        st = st * 10 + buf[i] - '0';
    }
    return st;
}

static bool says_close(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return !strncasecmp(p, "close", 5);
}

/* Parses an HTTP/1.x answer in buf: 1 when complete (status, length used,
 * Retry-After seen, Connection: close seen), 0 when more is needed, -1 if
 * it is not HTTP. Without Content-Length it is complete only at EOF. */
static int http_answer(const char *buf, size_t len, bool eof, int *status, size_t *used, bool *ra, bool *close_)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (len >= 5 && strncmp(buf, "HTTP/", 5))
        return -1;
    if (!end)
        return eof ? -1 : 0;
    size_t hlen = (size_t)(end - buf) + 4;
    long cl = -1;
    *status = http_status(buf, hlen);
    *ra = *close_ = false;
    for (const char *l = memchr(buf, '\n', hlen); l && l < end; l = memchr(l + 1, '\n', (size_t)(end - l))) {
        if (!strncasecmp(l + 1, "Content-Length:", 15))
            cl = atol(l + 16);
        else if (!strncasecmp(l + 1, "Retry-After:", 12))
            *ra = true;
        else if (!strncasecmp(l + 1, "Connection:", 11) && says_close(l + 12))
            *close_ = true;
    }
    if (cl < 0) {
        *used = len;
        return eof ? 1 : 0;
    }
    *used = hlen + (size_t)cl;
    return len >= *used ? 1 : 0;
}

/* ---- a pool of connections that send nothing or trickle a request ---- */

enum { K_IDLE, K_SLOW };
enum { C_NEW, C_CONNECTING, C_OPEN, C_CLOSED, C_FAILED };

typedef struct {
    int fd;
    uint8_t kind, state;
    bool rst;      /* ended by a reset rather than an EOF */
    int err;       /* why the connect failed */
    struct in_addr src;
    double t_open, t_conn, t_end;
    size_t sent;   /* K_SLOW: bytes of the request written */
    size_t got;    /* bytes received (the first RX_KEEP kept) */
    char rx[RX_KEEP];
} conn;

typedef struct {
    conn *c;
    size_t n, next;
    int ep;
    size_t max_pending;
    atomic_size_t pending; /* connects in flight */
    atomic_bool stop;
    double next_tick;
    const char *slow_req;
    size_t slow_len;
    size_t n_open;        /* connected and not closed */
    pid_t gate_pid;       /* if set: open more only while few connections wait in its listen queue */
    long gate_fds0, gate_fds;
    double gate_t;
} pool;

static void conn_end(pool *p, conn *c, bool rst)
{
    if (c->state == C_CONNECTING)
        atomic_fetch_sub(&p->pending, 1);
    p->n_open -= c->state == C_OPEN;
    close(c->fd);
    c->fd = -1;
    c->state = C_CLOSED;
    c->rst = rst;
    c->t_end = now_s();
}

static void pool_open(pool *p, conn *c)
{
    int err;
    c->t_open = now_s();
    c->fd = open_from(c->src, &err);
    if (c->fd < 0) {
        c->state = C_FAILED;
        c->err = err;
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLOUT, .data.ptr = c};
    c->state = C_CONNECTING;
    atomic_fetch_add(&p->pending, 1);
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, c->fd, &ev))
        die("epoll_ctl");
}

static void conn_read(pool *p, conn *c)
{
    char scratch[4096];
    for (;;) {
        char *dst = c->got < RX_KEEP ? c->rx + c->got : scratch;
        size_t room = c->got < RX_KEEP ? RX_KEEP - c->got : sizeof scratch;
        ssize_t r = recv(c->fd, dst, room, 0);
        if (r > 0) {
            c->got += (size_t)r;
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EINTR))
            conn_end(p, c, r < 0);
        return;
    }
}

static void pool_event(pool *p, conn *c, uint32_t ev)
{
    if (c->state == C_CONNECTING) {
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el);
        if (e) {
            conn_end(p, c, false);
            c->state = C_FAILED;
            c->err = e;
            return;
        }
        if (!(ev & EPOLLOUT))
            e = EINPROGRESS;
        if (e)
            return;
        atomic_fetch_sub(&p->pending, 1);
        c->state = C_OPEN;
        p->n_open++;
        c->t_conn = now_s();
        struct epoll_event mod = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(p->ep, EPOLL_CTL_MOD, c->fd, &mod);
    }
    if (c->state == C_OPEN && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        conn_read(p, c);
}

/* Once a second every open slowloris connection writes its next byte. */
static void pool_tick(pool *p)
{
    for (size_t i = 0; i < p->n; i++) {
        conn *c = &p->c[i];
        if (c->kind != K_SLOW || c->state != C_OPEN || c->sent >= p->slow_len)
            continue;
        if (send(c->fd, p->slow_req + c->sent, 1, MSG_NOSIGNAL) == 1)
            c->sent++;
        else if (errno != EAGAIN && errno != EINTR)
            conn_end(p, c, true);
    }
}

/* Whether to open another connection: at most max_pending connects in
 * flight and, when gated, fewer than max_pending connected but not yet
 * taken by the node (its open fds, read every 10 ms), so that its listen
 * queue never overflows (a dropped SYN is retried only after a second). */
static bool pool_may_open(pool *p, double t)
{
    if (p->next >= p->n || atomic_load(&p->pending) >= p->max_pending)
        return false;
    if (!p->gate_pid)
        return true;
    if (t - p->gate_t > 0.01) {
        p->gate_fds = proc_fds(p->gate_pid) - p->gate_fds0;
        p->gate_t = t;
    }
    return (long)(p->n_open + atomic_load(&p->pending)) - p->gate_fds < (long)p->max_pending;
}

/* Opens the pool's connections and serves them until `until` or p->stop. */
static void pool_run(pool *p, double until)
{
    struct epoll_event evs[EP_BATCH];
    while (!atomic_load(&p->stop)) {
        double t = now_s();
        if (t >= until)
            break;
        for (int k = 0; k < EP_BATCH && pool_may_open(p, t); k++)
            pool_open(p, &p->c[p->next++]);
        if (t >= p->next_tick) {
            pool_tick(p);
            p->next_tick = t + 1.0;
        }
        double wait = fmin(fmin(p->next_tick, until) - t, 0.05);
        int n = epoll_wait(p->ep, evs, EP_BATCH, (int)(wait * 1000) + 1);
        for (int i = 0; i < n; i++)
            pool_event(p, evs[i].data.ptr, evs[i].events);
    }
}

static void *pool_thread(void *arg)
{
    pool_run(arg, INFINITY);
    return NULL;
}

static void pool_init(pool *p, size_t n, size_t max_pending)
{
    memset(p, 0, sizeof *p);
    p->c = calloc(n, sizeof *p->c);
    p->n = n;
    p->max_pending = max_pending;
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!p->c || p->ep < 0)
        die("out of memory or fds");
    for (size_t i = 0; i < n; i++)
        p->c[i].fd = -1;
}

static void pool_free(pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->c[i].fd >= 0)
            close(p->c[i].fd);
    close(p->ep);
    free(p->c);
}

/* Waits until the pool has no connect in flight and all are opened, or `secs`. */
static void pool_settle(pool *p, double secs)
{
    for (double until = now_s() + secs; now_s() < until; usleep(20000))
        if (p->next >= p->n && atomic_load(&p->pending) == 0)
            break;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The sample at quantile q of a sorted array. */
static double quantile(const double *v, size_t n, double q)
{
    if (!n)
        return NAN;
    size_t i = (size_t)ceil(q * (double)n);
    return v[i ? i - 1 : 0];
}

typedef struct {
    size_t total, untried, connected, refused, conn_err, never, open, eof, rst, answered, ans_ra, ans_json;
    size_t by_status[6]; /* 408, 503, 400, 200, other status, not HTTP */
} pool_sum;

static const int SUM_STATUS[] = {408, 503, 400, 200};

static void sum_answer(pool_sum *s, const conn *c)
{
    size_t n = c->got < RX_KEEP ? c->got : RX_KEEP, k = 0;
    s->answered++;
    int st = http_status(c->rx, n);
    if (!st) {
        s->by_status[5]++;
        return;
    }
    while (k < 4 && SUM_STATUS[k] != st)
        k++;
    s->by_status[k]++;
    s->ans_ra += memmem(c->rx, n, "\nRetry-After:", 13) != NULL;
    s->ans_json += memmem(c->rx, n, "\r\n\r\n{", 5) != NULL;
}

/* Sums one kind of the pool; close times (s after connect) into ends[]. */
static pool_sum pool_summary(const pool *p, int kind, double *ends, size_t *nends)
{
    pool_sum s = {0};
    *nends = 0;
    for (size_t i = 0; i < p->n; i++) {
        const conn *c = &p->c[i];
        if (c->kind != kind)
            continue;
        s.total++;
        if (c->state == C_FAILED) {
            s.refused += c->err == ECONNREFUSED;
            s.conn_err += c->err != ECONNREFUSED;
            continue;
        }
        if (c->state == C_NEW || c->state == C_CONNECTING) {
            s.untried += c->state == C_NEW;
            s.never += c->state == C_CONNECTING;
            continue;
        }
        s.connected++;
        if (c->state == C_OPEN)
            s.open++;
        else {
            s.eof += !c->rst;
            s.rst += c->rst;
            ends[(*nends)++] = c->t_end - c->t_conn;
        }
        if (c->got)
            sum_answer(&s, c);
    }
    qsort(ends, *nends, sizeof *ends, cmp_double);
    return s;
}

static void print_pool(const pool *p, int kind, const char *label)
{
    double *ends = calloc(p->n + 1, sizeof *ends);
    size_t ne;
    pool_sum s = pool_summary(p, kind, ends, &ne);
    printf("%s %zu opened %zu connected %zu refused %zu connect-error %zu never-connected %zu not-tried "
           "%zu still-open %zu closed-eof %zu closed-reset\n",
           label, s.total - s.untried, s.connected, s.refused, s.conn_err, s.never, s.untried, s.open, s.eof, s.rst);
    printf("%s-answers %zu answered %zu 408 %zu 503 %zu 400 %zu 200 %zu other-status %zu not-http "
           "%zu retry-after %zu json\n",
           label, s.answered, s.by_status[0], s.by_status[1], s.by_status[2], s.by_status[3], s.by_status[4],
           s.by_status[5], s.ans_ra, s.ans_json);
    if (ne) {
        size_t b[4] = {0};
        for (size_t i = 0; i < ne; i++)
            b[ends[i] < 1 ? 0 : ends[i] < 10 ? 1 : ends[i] < 30 ? 2 : 3]++;
        printf("%s-closed-after-s %.2f min %.2f p50 %.2f p90 %.2f max %zu under-1s %zu 1-10s %zu 10-30s "
               "%zu over-30s\n",
               label, ends[0], quantile(ends, ne, 0.5), quantile(ends, ne, 0.9), ends[ne - 1], b[0], b[1], b[2],
               b[3]);
    }
    free(ends);
}

/* Waits for ev on fd until the deadline: 1 ready, 0 timed out. */
static int wait_fd(int fd, short ev, double deadline)
{
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0)
            return 0;
        struct pollfd pf = {.fd = fd, .events = ev};
        int r = poll(&pf, 1, (int)(left * 1000) + 1);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return 0;
    }
}

#endif
