/* bench/conns.c - how natterd's peer listener holds up under many
 * connections: a flood of idle and slowloris connections, 10,000 idle
 * connections, and keep-alive GET /v1/health throughput.
 *
 *   NATTERD=build/natterd build/bench/conns [--scenario flood|idle10k|health|all]
 *       [--seconds S] [--rate R] [--hold S] [--idle N] [--slow N]
 *       [--conns N] [--sources K] [--clients 16,64,256,1024]
 *       [--health-seconds S] [--timeout-ms MS] [--max-connections N]
 *
 * Each scenario starts its own natterd ($NATTERD, default build/natterd;
 * a temp data dir, a 2048-bit identity made at start, port 0 on 127.0.0.1,
 * RLIMIT_NOFILE raised to the hard limit) and stops it (SIGTERM, wait).
 * All traffic is on loopback; client sockets are bound to a 127.0.0.x
 * source before connect, so a per-address cap sees distinct addresses.
 * Every wait is bounded; a reset, refused or unanswered connection is
 * counted, never fatal. Output lines are "name value unit ..." (see
 * bench/README.md, "Connections"); lines starting with # are comments. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_node.h"
#include "bench/bench_util.h"
#include "bench/conns_net.h"

#define HRX_MAX 2048         /* a health answer (headers + body) must fit */
#define FRESH_THREADS 4      /* threads making the fresh requests of the flood */
#define MAX_CLIENT_STEPS 8   /* --clients values */
#define OPEN_PENDING 128     /* connects in flight at once (idle10k, health); the listen backlog is 128 */

static const char HEALTH_REQ[] = "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/* ---- options ---- */

static const char *o_scenario = "all";
static double o_seconds = 10, o_rate = 20, o_hold = 35, o_health_s = 3;
static int o_idle = 1000, o_slow = 300, o_conns = 10000, o_sources = 20, o_timeout_ms = 2000;
static unsigned o_max_conn; /* 0: the scenario's own choice */
static int o_clients[MAX_CLIENT_STEPS] = {16, 64, 256, 1024}, o_nclients = 4;

/* VmRSS in kB of bench/rss_floor, run from this binary's directory: what
 * the libraries alone hold (-1 if it cannot run). */
static long rss_floor_kb(void)
{
    char self[4096], cmd[4200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    snprintf(cmd, sizeof cmd, "'%s/rss_floor'", self);
    FILE *p = popen(cmd, "r");
    long kb = -1;
    if (p) {
        if (fscanf(p, "rss-floor %ld kB-rss", &kb) != 1)
            kb = -1;
        pclose(p);
    }
    return kb;
}

/* Starts the node for a scenario, says how, and prints its idle figures. */
static void scenario_node(const char *name, unsigned max_conn, unsigned per_source, const char *why)
{
    if (o_max_conn) {
        max_conn = o_max_conn;
        why = "--max-connections given to the bench";
    }
    node_start(max_conn, per_source);
    if (max_conn)
        printf("# %s: natterd --max-connections %u (%s)\n", name, max_conn, why);
    else
        printf("# %s: natterd with its default --max-connections (%s)\n", name, why);
    if (per_source)
        printf("# %s: natterd --max-connections-per-source %u (the scenario's sources are its own)\n", name,
               per_source);
    usleep(500000); /* the node's start-up allocations settle before the idle figure */
    char label[64];
    snprintf(label, sizeof label, "%s-node-idle", name);
    print_node(label);
    long rss = proc_status(g_node.pid, "VmRSS"), floor = rss_floor_kb();
    printf("# %s: node idle RSS %.1f MB, target <= 8 MB: %s\n", name, rss / 1024.0,
           rss >= 0 && rss <= 8 * 1024 ? "met" : "missed");
    if (rss >= 0 && floor > 0)
        printf("# %s: the libraries' floor (rss_floor) %.1f MB: node idle RSS = %.2f x the floor, %.1f MB its own\n",
               name, floor / 1024.0, (double)rss / (double)floor, (rss - floor) / 1024.0);
}

/* ---- fresh requests: a new connection each, bounded by o_timeout_ms ---- */

/* outcomes up to F_OTHER are HTTP answers */
enum { F_200, F_503RA, F_503, F_OTHER, F_CLOSED, F_RESET, F_REFUSED, F_TIMEOUT, F_N };
static const char *const F_NAMES[F_N] = {"200",    "503-retry-after", "503-no-retry-after", "other-status",
                                         "closed-no-answer", "reset", "refused", "timeout"};

typedef struct {
    double ms;
    int out;
} fresh_sample;

static int fresh_read(int fd, double deadline)
{
    char buf[HRX_MAX];
    size_t len = 0, used;
    int st;
    bool ra, cl;
    for (;;) {
        if (!wait_fd(fd, POLLIN, deadline))
            return F_TIMEOUT;
        ssize_t r = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r < 0)
            return F_RESET;
        len += (size_t)r;
        int done = http_answer(buf, len, r == 0 || len == sizeof buf - 1, &st, &used, &ra, &cl);
        if (done < 0 || (r == 0 && done == 0))
            return len ? F_OTHER : F_CLOSED;
        if (done)
            return st == 200 ? F_200 : st == 503 ? (ra ? F_503RA : F_503) : F_OTHER;
    }
}

static int fresh_get(double *ms)
{
    double t0 = now_s(), deadline = t0 + o_timeout_ms / 1000.0;
    int err, out;
    int fd = open_from(src_addr(0, 1), &err);
    if (fd < 0) {
        out = err == ECONNREFUSED ? F_REFUSED : F_RESET;
        goto done;
    }
    if (err == EINPROGRESS && !wait_fd(fd, POLLOUT, deadline)) {
        out = F_TIMEOUT;
        goto done;
    }
    socklen_t el = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        out = err == ECONNREFUSED ? F_REFUSED : F_RESET;
        goto done;
    }
    if (send(fd, HEALTH_REQ, sizeof HEALTH_REQ - 1, MSG_NOSIGNAL) != (ssize_t)sizeof HEALTH_REQ - 1)
        out = F_RESET;
    else
        out = fresh_read(fd, deadline);
done:
    if (fd >= 0)
        close(fd);
    *ms = (now_s() - t0) * 1000;
    return out;
}

typedef struct {
    int id;
    double t0;
    fresh_sample *s;
    size_t n, cap;
} fresh_job;

/* One of FRESH_THREADS threads, each at o_rate / FRESH_THREADS, staggered. */
static void *fresh_thread(void *arg)
{
    fresh_job *j = arg;
    double gap = FRESH_THREADS / o_rate, t = j->t0 + j->id * (1.0 / o_rate);
    while (t < j->t0 + o_seconds && j->n < j->cap) {
        double d = t - now_s();
        if (d > 0)
            usleep((useconds_t)(d * 1e6));
        fresh_sample *s = &j->s[j->n++];
        s->out = fresh_get(&s->ms);
        t += gap;
        if (t < now_s())
            t = now_s(); /* behind (a slow answer): no burst to catch up */
    }
    return NULL;
}

/* Prints the fresh requests' outcomes and latencies. Latency of answered
 * requests (any status); "all" counts every request that got no HTTP
 * answer as infinitely slow, so its p99 is what a user saw. */
static void print_fresh(const char *label, fresh_sample *s, size_t n, double secs)
{
    size_t cnt[F_N] = {0}, na = 0;
    double *ans = calloc(n + 1, sizeof *ans), *all = calloc(n + 1, sizeof *all);
    for (size_t i = 0; i < n; i++) {
        cnt[s[i].out]++;
        bool answered = s[i].out <= F_OTHER;
        if (answered)
            ans[na++] = s[i].ms;
        all[i] = answered ? s[i].ms : INFINITY;
    }
    qsort(ans, na, sizeof *ans, cmp_double);
    qsort(all, n, sizeof *all, cmp_double);
    printf("%s %zu requests %.1f s", label, n, secs);
    for (int k = 0; k < F_N; k++)
        printf(" %zu %s", cnt[k], F_NAMES[k]);
    printf("\n%s-answered-ms %.2f p50 %.2f p99 %.2f max (%zu answered)\n", label, quantile(ans, na, 0.5),
           quantile(ans, na, 0.99), na ? ans[na - 1] : NAN, na);
    printf("%s-all-ms %.2f p50 %.2f p99 (no answer counts as inf)\n", label, quantile(all, n, 0.5),
           quantile(all, n, 0.99));
    double p99 = quantile(all, n, 0.99);
    char p99s[32] = "inf";
    if (!isinf(p99))
        snprintf(p99s, sizeof p99s, "%.2f ms", p99);
    printf("# %s: p99 over all requests %s, target < 50 ms: %s; %zu of %zu got 200\n", label, p99s,
           p99 < 50 ? "met" : "missed", cnt[F_200], n);
    free(ans);
    free(all);
}

/* Fresh requests for o_seconds at o_rate from 127.0.0.1. */
static void run_fresh(const char *label)
{
    pthread_t th[FRESH_THREADS];
    fresh_job jobs[FRESH_THREADS];
    double t0 = now_s() + 0.05;
    for (int i = 0; i < FRESH_THREADS; i++) {
        jobs[i] = (fresh_job){.id = i, .t0 = t0, .cap = (size_t)(o_seconds * o_rate / FRESH_THREADS) + 2};
        jobs[i].s = calloc(jobs[i].cap, sizeof(fresh_sample));
        if (!jobs[i].s || pthread_create(&th[i], NULL, fresh_thread, &jobs[i]))
            die("fresh threads");
    }
    size_t n = 0;
    for (int i = 0; i < FRESH_THREADS; i++) {
        pthread_join(th[i], NULL);
        n += jobs[i].n;
    }
    fresh_sample *all = calloc(n + 1, sizeof *all);
    n = 0;
    for (int i = 0; i < FRESH_THREADS; i++) {
        memcpy(all + n, jobs[i].s, jobs[i].n * sizeof *all);
        n += jobs[i].n;
        free(jobs[i].s);
    }
    print_fresh(label, all, n, now_s() - t0);
    free(all);
}

/* ---- scenario: flood ---- */

static void scenario_flood(void)
{
    scenario_node("flood", 0, 0, "the node as deployed: the flood must not need a bigger cap");
    pool p;
    size_t n = (size_t)o_idle + (size_t)o_slow;
    pool_init(&p, n, n);
    /* one slowloris request long enough to last the whole hold, 1 byte/s */
    size_t pad = (size_t)o_hold + 30;
    char *req = malloc(pad + 128);
    int hl = sprintf(req, "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    memset(req + hl, 'a', pad);
    strcpy(req + hl + pad, "\r\n\r\n");
    p.slow_req = req;
    p.slow_len = strlen(req);
    /* interleaved, so that both kinds reach the node while it still accepts */
    for (size_t i = 0, si = 0; i < n; i++) {
        bool slow = si < (size_t)o_slow && (i + 1) * (size_t)o_slow > si * n + n / 2;
        si += slow;
        p.c[i].kind = slow ? K_SLOW : K_IDLE;
        p.c[i].src = src_addr(0, slow ? 3 : 2);
    }
    printf("# flood: %d idle connections from 127.0.0.2, %d slowloris (1 byte/s of a %zu-byte request) from "
           "127.0.0.3; fresh GET /v1/health from 127.0.0.1 at %.0f/s for %.0f s (timeout %d ms); flood held %.0f s\n",
           o_idle, o_slow, p.slow_len, o_rate, o_seconds, o_timeout_ms, o_hold);
    fflush(stdout);
    double t0 = now_s();
    pthread_t th;
    if (pthread_create(&th, NULL, pool_thread, &p))
        die("pthread_create");
    pool_settle(&p, 3.0);
    printf("# flood: opening took %.2f s (%zu connects still in flight)\n", now_s() - t0, atomic_load(&p.pending));
    print_node("flood-node-flooded");
    run_fresh("flood-fresh");
    print_node("flood-node-after-fresh");
    while (now_s() < t0 + o_hold)
        usleep(100000);
    atomic_store(&p.stop, true);
    pthread_join(th, NULL);
    print_pool(&p, K_IDLE, "flood-idle");
    print_pool(&p, K_SLOW, "flood-slow");
    print_node("flood-node-end");
    pool_free(&p);
    free(req);
    node_stop(&g_node);
}

/* ---- scenario: idle10k ---- */

static void scenario_idle10k(void)
{
    scenario_node("idle10k", 0, (unsigned)((o_conns + o_sources - 1) / o_sources),
                  "the node as deployed: its cap comes from the open-file limit");
    long fds0 = proc_fds(g_node.pid);
    pool p;
    pool_init(&p, (size_t)o_conns, OPEN_PENDING);
    p.gate_pid = g_node.pid;
    p.gate_fds0 = fds0;
    for (size_t i = 0; i < p.n; i++) {
        p.c[i].kind = K_IDLE;
        p.c[i].src = src_addr(1, 1 + (int)(i % (size_t)o_sources));
    }
    printf("# idle10k: %d idle connections from %d sources 127.0.1.1-%d (%d each), at most %d connects in flight\n",
           o_conns, o_sources, o_sources, (o_conns + o_sources - 1) / o_sources, OPEN_PENDING);
    fflush(stdout);
    double t0 = now_s();
    pthread_t th;
    if (pthread_create(&th, NULL, pool_thread, &p))
        die("pthread_create");
    pool_settle(&p, 30.0);
    double opened = now_s() - t0;
    /* the node accepts what sits in its listen queue */
    for (double until = now_s() + 2; now_s() < until; usleep(100000))
        if (proc_fds(g_node.pid) - fds0 >= (long)o_conns)
            break;
    printf("# idle10k: opening took %.2f s; figures read %.2f s after the first connect\n", opened, now_s() - t0);
    long fds = proc_fds(g_node.pid);
    print_node("idle10k-node-held");
    printf("idle10k-node-accepted %ld fds-over-idle\n", fds - fds0);
    long rss = proc_status(g_node.pid, "VmRSS");
    printf("# idle10k: node RSS %.1f MB with the connections held, target < 64 MB: %s\n", rss / 1024.0,
           rss >= 0 && rss < 64 * 1024 ? "met" : "missed");
    atomic_store(&p.stop, true);
    pthread_join(th, NULL);
    print_pool(&p, K_IDLE, "idle10k");
    pool_free(&p);
    node_stop(&g_node);
}

/* ---- scenario: health (keep-alive clients, one request in flight each) ---- */

enum { H_IDLE, H_CONNECTING, H_WAIT };

typedef struct {
    int fd, state;
    bool answered;
    struct in_addr src;
    double t; /* H_WAIT: request sent; H_IDLE: reconnect not before */
    size_t len;
    char buf[HRX_MAX];
} hconn;

typedef struct {
    hconn *c;
    int n, next, connecting, ready, ep;
    bool counting;
    size_t ok, errors, reconnects, timeouts;
} hrun;

static void h_watch(hrun *r, hconn *c, int op, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(r->ep, op, c->fd, &e);
}

static void h_connect(hrun *r, hconn *c)
{
    int err;
    c->fd = open_from(c->src, &err);
    if (c->fd < 0) {
        c->state = H_IDLE;
        c->t = now_s() + 0.05;
        r->errors += r->counting;
        return;
    }
    c->state = H_CONNECTING;
    r->connecting++;
    h_watch(r, c, EPOLL_CTL_ADD, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
}

/* The connection failed (reset, EOF, timeout, send error): closed, and
 * opened again after a short pause (no busy loop when the node refuses). */
static void h_fail(hrun *r, hconn *c, bool is_error)
{
    if (c->state == H_CONNECTING)
        r->connecting--;
    close(c->fd);
    c->fd = -1;
    c->state = H_IDLE;
    c->t = now_s() + (is_error ? 0.05 : 0);
    r->errors += is_error && r->counting;
    r->reconnects += r->counting;
}

static void h_send(hrun *r, hconn *c)
{
    if (send(c->fd, HEALTH_REQ, sizeof HEALTH_REQ - 1, MSG_NOSIGNAL) != (ssize_t)sizeof HEALTH_REQ - 1) {
        h_fail(r, c, true);
        return;
    }
    c->state = H_WAIT;
    c->t = now_s();
    c->len = 0;
}

static void h_read(hrun *r, hconn *c)
{
    ssize_t got = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (got <= 0) {
        h_fail(r, c, true);
        return;
    }
    c->len += (size_t)got;
    int st;
    size_t used;
    bool ra, cl;
    int done = http_answer(c->buf, c->len, c->len == sizeof c->buf, &st, &used, &ra, &cl);
    if (done == 0)
        return;
    if (done < 0 || st != 200) {
        r->errors += r->counting;
    } else {
        r->ok += r->counting;
        r->ready += !c->answered;
        c->answered = true;
    }
    if (done < 0 || cl)
        h_fail(r, c, false); /* the node closes it: open a new one */
    else
        h_send(r, c);
}

static void h_event(hrun *r, hconn *c, uint32_t ev)
{
    if (c->state == H_CONNECTING) {
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el);
        if (e || (ev & (EPOLLERR | EPOLLHUP))) {
            h_fail(r, c, true);
            return;
        }
        if (!(ev & EPOLLOUT))
            return;
        r->connecting--;
        h_watch(r, c, EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP);
        h_send(r, c);
        return;
    }
    if (c->state == H_WAIT)
        h_read(r, c);
}

/* Opens what is due (at most OPEN_PENDING connects in flight) and
 * times out requests unanswered for o_timeout_ms. */
static void h_housekeep(hrun *r)
{
    double t = now_s();
    while (r->next < r->n && r->connecting < OPEN_PENDING)
        h_connect(r, &r->c[r->next++]);
    for (int i = 0; i < r->next; i++) {
        hconn *c = &r->c[i];
        if (c->state == H_IDLE && t >= c->t && r->connecting < OPEN_PENDING)
            h_connect(r, c);
        else if (c->state == H_WAIT && (t - c->t) * 1000 > o_timeout_ms) {
            r->timeouts += r->counting;
            h_fail(r, c, true);
        }
    }
}

/* Runs the clients until `until`, or (warm-up) until every one has had an answer. */
static void h_loop(hrun *r, double until, bool warmup)
{
    struct epoll_event evs[EP_BATCH];
    double next_hk = 0;
    for (double t = now_s(); t < until; t = now_s()) {
        if (warmup && r->ready == r->n)
            break;
        if (t >= next_hk) {
            h_housekeep(r);
            next_hk = t + 0.05;
        }
        int n = epoll_wait(r->ep, evs, EP_BATCH, 10);
        for (int i = 0; i < n; i++)
            h_event(r, evs[i].data.ptr, evs[i].events);
    }
}

typedef struct {
    int clients;
    double rps, cpu_us, gen_us, secs;
    size_t ok, errors, reconnects, timeouts;
    int ready;
} h_result;

static h_result health_step(int clients)
{
    hrun r = {.n = clients, .ep = epoll_create1(EPOLL_CLOEXEC)};
    r.c = calloc((size_t)clients, sizeof *r.c);
    if (!r.c || r.ep < 0)
        die("out of memory or fds");
    for (int i = 0; i < clients; i++)
        r.c[i] = (hconn){.fd = -1, .src = src_addr(2, 1 + i % o_sources)};
    h_loop(&r, now_s() + 10, true);
    h_result res = {.clients = clients, .ready = r.ready};
    r.counting = true;
    double cpu0 = bench_proc_cpu_s(g_node.pid), gen0 = bench_self_cpu_s(), t0 = now_s();
    h_loop(&r, t0 + o_health_s, false);
    res.secs = now_s() - t0;
    double cpu = bench_proc_cpu_s(g_node.pid) - cpu0, gen = bench_self_cpu_s() - gen0;
    res.ok = r.ok;
    res.errors = r.errors;
    res.reconnects = r.reconnects;
    res.timeouts = r.timeouts;
    res.rps = (double)r.ok / res.secs;
    res.cpu_us = r.ok ? cpu * 1e6 / (double)r.ok : NAN;
    res.gen_us = r.ok ? gen * 1e6 / (double)r.ok : NAN;
    for (int i = 0; i < clients; i++)
        if (r.c[i].fd >= 0)
            close(r.c[i].fd);
    close(r.ep);
    free(r.c);
    return res;
}

static void scenario_health(void)
{
    scenario_node("health", 0, 0, "the node as deployed");
    printf("# health: keep-alive clients from %d sources 127.0.2.1-%d, one GET /v1/health in flight each, "
           "one epoll thread, %.1f s per step after every client had an answer (or 10 s)\n",
           o_sources, o_sources, o_health_s);
    fflush(stdout);
    long fds0 = proc_fds(g_node.pid);
    h_result res[MAX_CLIENT_STEPS];
    double peak = 0, self0 = bench_self_cpu_s();
    for (int i = 0; i < o_nclients; i++) {
        res[i] = health_step(o_clients[i]);
        h_result *h = &res[i];
        printf("health %d clients %.0f req/s %zu ok %zu errors %zu timeouts %zu reconnects %.1f node-cpu-us/req "
               "%.1f bench-cpu-us/req %.2f s (%d of %d clients answered before the step)\n",
               h->clients, h->rps, h->ok, h->errors, h->timeouts, h->reconnects, h->cpu_us, h->gen_us, h->secs,
               h->ready, h->clients);
        fflush(stdout);
        peak = h->rps > peak ? h->rps : peak;
        /* the node lets go of the closed connections before the next step */
        for (double until = now_s() + 10; now_s() < until && proc_fds(g_node.pid) > fds0 + 4;)
            usleep(50000);
    }
    for (int i = 0; i < o_nclients; i++) {
        double tot = (double)(res[i].ok + res[i].errors);
        printf("health-vs-peak %d clients %.1f %% of-peak-req/s %.2f %% errors\n", res[i].clients,
               peak > 0 ? 100 * res[i].rps / peak : 0, tot > 0 ? 100 * (double)res[i].errors / tot : 0);
    }
    h_result *last = &res[o_nclients - 1];
    printf("# health: %d clients at %.1f %% of the peak (target: within 15 %%, i.e. >= 85 %%): %s; "
           "load generator used %.2f CPU-s in all\n",
           last->clients, peak > 0 ? 100 * last->rps / peak : 0, peak > 0 && last->rps >= 0.85 * peak ? "met" : "missed",
           bench_self_cpu_s() - self0);
    print_node("health-node-end");
    node_stop(&g_node);
}

/* ---- main ---- */

static void parse_clients(const char *s)
{
    o_nclients = 0;
    for (char *end; *s && o_nclients < MAX_CLIENT_STEPS; s = *end ? end + 1 : end) {
        long v = strtol(s, &end, 10);
        if (v < 1 || v > 16384 || (*end && *end != ','))
            die("--clients wants numbers 1..16384 separated by commas");
        o_clients[o_nclients++] = (int)v;
    }
    if (!o_nclients)
        die("--clients is empty");
}

static void usage(void)
{
    fprintf(stderr, "usage: conns [--scenario flood|idle10k|health|all] [--seconds S] [--rate R] [--hold S]\n"
                    "  [--idle N] [--slow N] [--conns N] [--sources K] [--clients 16,64,256,1024]\n"
                    "  [--health-seconds S] [--timeout-ms MS] [--max-connections N]   (see bench/README.md)\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--scenario"))
            o_scenario = v;
        else if (!strcmp(a, "--seconds"))
            o_seconds = atof(v);
        else if (!strcmp(a, "--rate"))
            o_rate = atof(v);
        else if (!strcmp(a, "--hold"))
            o_hold = atof(v);
        else if (!strcmp(a, "--idle"))
            o_idle = atoi(v);
        else if (!strcmp(a, "--slow"))
            o_slow = atoi(v);
        else if (!strcmp(a, "--conns"))
            o_conns = atoi(v);
        else if (!strcmp(a, "--sources"))
            o_sources = atoi(v);
        else if (!strcmp(a, "--clients"))
            parse_clients(v);
        else if (!strcmp(a, "--health-seconds"))
            o_health_s = atof(v);
        else if (!strcmp(a, "--timeout-ms"))
            o_timeout_ms = atoi(v);
        else if (!strcmp(a, "--max-connections"))
            o_max_conn = (unsigned)atoi(v);
        else
            usage();
    }
    if (o_seconds <= 0 || o_seconds > 3600 || o_rate <= 0 || o_rate > 10000 || o_hold < o_seconds ||
        o_hold > 3600 || o_idle < 0 || o_slow < 0 || o_conns < 1 || o_sources < 1 || o_sources > 254 ||
        o_health_s <= 0 || o_health_s > 600 || o_timeout_ms < 1 || o_max_conn > 65536)
        die("an option is out of range (see bench/README.md)");
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    bool all = !strcmp(o_scenario, "all");
    if (!all && strcmp(o_scenario, "flood") && strcmp(o_scenario, "idle10k") && strcmp(o_scenario, "health"))
        usage();
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max; /* natterd inherits it */
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    atexit(at_exit_stop);
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
    double load[1] = {0};
    getloadavg(load, 1);
    printf("# natter conns bench: scenario %s, RLIMIT_NOFILE %lu, %ld cores, load average %.2f\n", o_scenario,
           (unsigned long)rl.rlim_cur, sysconf(_SC_NPROCESSORS_ONLN), load[0]);
    fflush(stdout);
    if (all || !strcmp(o_scenario, "flood"))
        scenario_flood();
    if (all || !strcmp(o_scenario, "idle10k"))
        scenario_idle10k();
    if (all || !strcmp(o_scenario, "health"))
        scenario_health();
    return 0;
}
