/* test_conns.c - connections against a real natterd: idle and trickling
 * connections cost no thread and cannot lock anyone out, every limit
 * answers a JSON 503 (or 408) instead of a reset, long polls wait with no
 * thread, and a stop answers them at once. */
#include <check.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/encoding.h"
#include "crypto/identity.h"
#include "crypto/rng.h"
#include "server/channel/handshake.h"
#include "server/core/node.h"
#include "tests/integration/harness.h"
#include "tests/test_main.h"

#define IO_TIMEOUT_MS 10000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A TCP connection to 127.0.0.1:port from src (e.g. "127.0.0.2"). */
static int connect_from(const char *src, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in me = {.sin_family = AF_INET}, to = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, src, &me.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&to, sizeof to), 0);
    return fd;
}

static void send_all(int fd, const char *s)
{
    size_t n = strlen(s);
    ck_assert_int_eq(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Read until the peer closes, timeout_ms passes, or cap bytes: what came
 * (NUL-terminated) and whether it ended with a close (true) or a reset. */
typedef struct {
    char buf[8192];
    size_t len;
    bool closed, reset, timed_out;
} reading;

static void read_until_close(int fd, int timeout_ms, reading *r)
{
    memset(r, 0, sizeof *r);
    int64_t end = mono_ms() + timeout_ms;
    for (;;) {
        int left = (int)(end - mono_ms());
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0) {
            r->timed_out = true;
            return;
        }
        ssize_t k = recv(fd, r->buf + r->len, sizeof r->buf - 1 - r->len, 0);
        if (k < 0) {
            r->reset = errno == ECONNRESET;
            return;
        }
        if (k == 0) {
            r->closed = true;
            return;
        }
        r->len += (size_t)k;
        r->buf[r->len] = '\0';
        if (r->len == sizeof r->buf - 1)
            return;
    }
}

/* Send piece every 200 ms, at most times, until the node answers; then
 * read its answer to the close. */
static void trickle(int fd, const char *piece, int times, reading *r)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < times; i++) {
        if (send(fd, piece, strlen(piece), MSG_NOSIGNAL) < 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) > 0)
            break;
    }
    read_until_close(fd, IO_TIMEOUT_MS, r);
}

static int status_of(const reading *r)
{
    int st = 0;
    return sscanf(r->buf, "HTTP/1.1 %d", &st) == 1 ? st : 0;
}

static json_t *body_of(const reading *r)
{
    const char *b = strstr(r->buf, "\r\n\r\n");
    return b ? json_loads(b + 4, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
}

static json_t *listener_status(harness_node *n, const char *which)
{
    harness_resp r;
    ck_assert_int_eq(harness_get(n, HARNESS_CLIENT, "/v1/client/status", &r), 0);
    ck_assert_int_eq(r.status, 200);
    json_t *l = json_incref(json_object_get(json_object_get(r.json, "listeners"), which));
    harness_resp_free(&r);
    ck_assert_ptr_nonnull(l);
    return l;
}

static json_int_t shed_count(harness_node *n, const char *which, const char *why)
{
    json_t *l = listener_status(n, which);
    json_int_t v = json_integer_value(json_object_get(json_object_get(l, "shed"), why));
    json_decref(l);
    return v;
}

static const char health[] = "GET /v1/health HTTP/1.1\r\nHost: node\r\n\r\n";

typedef struct {
    harness_node *n;
    json_int_t want;
} accepted_cond;

/* The node has taken that many connections on its peer listener (a
 * connection the kernel completed may wait in the listen queue a while,
 * and two event threads take them in no set order). */
static bool peer_conns_at_least(void *arg)
{
    accepted_cond *c = arg;
    json_t *l = listener_status(c->n, "peer");
    bool ok = json_integer_value(json_object_get(l, "connections")) >= c->want;
    json_decref(l);
    return ok;
}

static void wait_accepted(harness_node *n, json_int_t want)
{
    accepted_cond c = {n, want};
    ck_assert_msg(harness_wait(peer_conns_at_least, &c, 20000), "the node did not take %lld connections",
                  (long long)want);
}

/* Over the per-source cap a request gets a JSON 503 with Retry-After and
 * the connection is closed; another address is served as before. */
START_TEST(per_source_cap_answers_503)
{
    harness_node n;
    const char *args[] = {"--max-connections-per-source", "4", NULL};
    ck_assert_int_eq(harness_start(&n, NULL, args), 0);
    int idle[4];
    for (int i = 0; i < 4; i++)
        idle[i] = connect_from("127.0.0.2", n.peer_port);
    wait_accepted(&n, 4);
    int over = connect_from("127.0.0.2", n.peer_port);
    send_all(over, health);
    reading r;
    read_until_close(over, IO_TIMEOUT_MS, &r);
    ck_assert_msg(status_of(&r) == 503, "got: %s", r.buf);
    ck_assert_ptr_nonnull(strcasestr(r.buf, "\r\nRetry-After: 1\r\n"));
    ck_assert_ptr_nonnull(strcasestr(r.buf, "\r\nConnection: close\r\n"));
    json_t *j = body_of(&r);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")), "busy");
    json_decref(j);
    ck_assert(r.closed);
    close(over);
    /* another address is not held back by the first one's connections */
    harness_resp ok;
    char url[128];
    snprintf(url, sizeof url, "%s/v1/health", n.peer_url);
    ck_assert_int_eq(harness_request_from("127.0.0.3", "GET", url, NULL, 0, &ok), 0);
    ck_assert_int_eq(ok.status, 200);
    harness_resp_free(&ok);
    ck_assert_int_ge(shed_count(&n, "peer", "per_source"), 1);
    json_t *l = listener_status(&n, "peer");
    ck_assert_int_eq(json_integer_value(json_object_get(l, "max_per_source")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(l, "max_jobs_per_source")), 16);
    ck_assert(json_is_integer(json_object_get(json_object_get(l, "shed"), "per_source_jobs")));
    json_decref(l);
    for (int i = 0; i < 4; i++)
        close(idle[i]);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

/* A connection over the per-source cap that sends nothing, or trickles,
 * is answered 503 (JSON, Retry-After) within a few seconds and closed. */
START_TEST(over_source_silent_gets_503)
{
    harness_node n;
    const char *args[] = {"--max-connections-per-source", "2", NULL};
    ck_assert_int_eq(harness_start(&n, NULL, args), 0);
    int held[2] = {connect_from("127.0.0.2", n.peer_port), connect_from("127.0.0.2", n.peer_port)};
    wait_accepted(&n, 2);
    int silent = connect_from("127.0.0.2", n.peer_port), slow = connect_from("127.0.0.2", n.peer_port);
    reading r;
    /* one byte at a time keeps libmicrohttpd's idle timer from firing */
    trickle(slow, "G", 50, &r);
    ck_assert_msg(status_of(&r) == 503, "trickling: %s", r.buf);
    ck_assert_ptr_nonnull(strcasestr(r.buf, "\r\nRetry-After: 1\r\n"));
    read_until_close(silent, IO_TIMEOUT_MS, &r);
    ck_assert_msg(status_of(&r) == 503, "silent: %s", r.buf);
    json_t *j = body_of(&r);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")), "busy");
    json_decref(j);
    close(silent);
    close(slow);
    close(held[0]);
    close(held[1]);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

/* Over three quarters of the cap, idle keep-alive connections are closed
 * first (after a second idle), and requests are served again. */
START_TEST(pressure_reclaims_idle_connections)
{
    harness_node n;
    const char *args[] = {"--max-connections", "8", NULL};
    ck_assert_int_eq(harness_start(&n, NULL, args), 0);
    int fds[7];
    for (int i = 0; i < 7; i++)
        fds[i] = connect_from("127.0.0.1", n.peer_port);
    for (int i = 0; i < 7; i++) {
        reading r;
        read_until_close(fds[i], IO_TIMEOUT_MS, &r);
        ck_assert_msg(r.closed && r.len == 0, "connection %d: closed %d, %zu bytes", i, r.closed, r.len);
        close(fds[i]);
    }
    ck_assert_int_ge(shed_count(&n, "peer", "idle"), 1);
    harness_resp ok;
    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, "/v1/health", &ok), 0);
    ck_assert_int_eq(ok.status, 200);
    harness_resp_free(&ok);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

/* A request line trickled past --conn-timeout is answered 408 and closed. */
START_TEST(trickled_request_line_gets_408)
{
    harness_node n;
    const char *args[] = {"--conn-timeout", "1", NULL};
    ck_assert_int_eq(harness_start(&n, NULL, args), 0);
    int fd = connect_from("127.0.0.1", n.peer_port);
    reading r;
    send_all(fd, "GET /v1/health?");
    trickle(fd, "a", 70, &r);
    ck_assert_msg(status_of(&r) == 408, "got %zu bytes: %s", r.len, r.buf);
    close(fd);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

/* A request whose head trickles in is answered 408 and closed once its
 * deadline passes, however often it sends a byte. */
START_TEST(slowloris_gets_408_at_its_deadline)
{
    harness_node n;
    const char *args[] = {"--request-timeout", "1", NULL};
    ck_assert_int_eq(harness_start(&n, NULL, args), 0);
    int fd = connect_from("127.0.0.1", n.peer_port);
    send_all(fd, "GET /v1/health HTTP/1.1\r\nHost: node\r\n");
    reading r;
    int64_t start = mono_ms();
    /* one header line every 200 ms, bounded: far past the deadline */
    trickle(fd, "X-A: b\r\n", 100, &r);
    ck_assert_msg(status_of(&r) == 408, "got %zu bytes: %s", r.len, r.buf);
    json_t *j = body_of(&r);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")), "request_timeout");
    json_decref(j);
    /* closed well before the trickle would have ended (100 x 200 ms) */
    ck_assert_int_lt(mono_ms() - start, 15000);
    close(fd);
    ck_assert_int_ge(shed_count(&n, "peer", "deadline"), 1);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

/* A body that trickles after its head is cut at the same deadline. */
START_TEST(slow_body_gets_408)
{
    harness_node n;
    const char *args[] = {"--request-timeout", "1", NULL};
    ck_assert_int_eq(harness_start(&n, NULL, args), 0);
    int fd = connect_from("127.0.0.1", n.client_port);
    char head[512];
    snprintf(head, sizeof head,
             "PUT /v1/client/name HTTP/1.1\r\nHost: node\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"name\":\"",
             n.token);
    send_all(fd, head);
    reading r;
    trickle(fd, "x", 100, &r);
    ck_assert_msg(status_of(&r) == 408 || r.closed, "got %zu bytes: %s", r.len, r.buf);
    close(fd);
    /* the name did not change */
    harness_resp st;
    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, "/v1/node", &st), 0);
    ck_assert_str_eq(json_string_value(json_object_get(st.json, "name")), "test");
    harness_resp_free(&st);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

/* libmicrohttpd's own Content-Length error names no connection: with
 * other heads half read on the event threads, the JSON 400 goes to the
 * request that had the bad header, and the others are served. */
START_TEST(bad_content_length_among_half_read_heads)
{
    harness_node n;
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    int half[6];
    for (int i = 0; i < 6; i++) {
        half[i] = connect_from("127.0.0.1", n.peer_port);
        send_all(half[i], "GET /v1/health HTTP/1.1\r\nHost: node\r\n");
    }
    wait_accepted(&n, 6);
    for (int k = 0; k < 4; k++) {
        int bad = connect_from("127.0.0.1", n.peer_port);
        send_all(bad, "POST /v1/handshake HTTP/1.1\r\nHost: node\r\nContent-Length: 12x\r\n\r\n");
        reading r;
        read_until_close(bad, IO_TIMEOUT_MS, &r);
        ck_assert_msg(status_of(&r) == 400, "bad: %s", r.buf);
        ck_assert_msg(strstr(r.buf + 4, "HTTP/1.1") == NULL, "two status lines: %s", r.buf);
        close(bad);
    }
    for (int i = 0; i < 6; i++) {
        reading r;
        send_all(half[i], "Connection: close\r\n\r\n");
        read_until_close(half[i], IO_TIMEOUT_MS, &r);
        ck_assert_msg(status_of(&r) == 200, "half %d: %s", i, r.buf);
        close(half[i]);
    }
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

/* A query of hundreds of parameters ran libmicrohttpd's per-connection
 * buffer out while it parsed them, and the request hung (a 408 after
 * --request-timeout at best): it is refused at once. */
START_TEST(query_of_many_parameters_is_400)
{
    harness_node n;
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    static char path[12288];
    int o = snprintf(path, sizeof path, "/v1/health?");
    for (int i = 0; i < 2000; i++)
        o += snprintf(path + o, sizeof path - (size_t)o, "%sa=b", i ? "&" : "");
    harness_resp r;
    int64_t t0 = mono_ms();
    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, path, &r), 0);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(harness_error_code(&r), "bad_request");
    ck_assert_ptr_nonnull(strstr(r.body, "too many parameters"));
    ck_assert_int_lt(mono_ms() - t0, 5000);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, "/v1/health", &r), 0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

#define POLLS 48

static int proc_threads(pid_t pid)
{
    char path[64], line[256];
    int n = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

typedef struct {
    harness_node *n;
    unsigned want;
} parked_cond;

static bool parked_at_least(void *arg)
{
    parked_cond *c = arg;
    json_t *l = listener_status(c->n, "client");
    bool ok = json_integer_value(json_object_get(l, "parked")) >= (json_int_t)c->want;
    json_decref(l);
    return ok;
}

static bool fewer_threads_than_polls(void *arg)
{
    const harness_node *n = arg;
    int t = proc_threads(n->pid);
    return t > 0 && t < POLLS;
}

static void start_polls(harness_node *n, int fds[POLLS])
{
    char req[512];
    snprintf(req, sizeof req,
             "GET /v1/client/events?since=now&wait=30 HTTP/1.1\r\nHost: node\r\nAuthorization: Bearer %s\r\n\r\n",
             n->token);
    for (int i = 0; i < POLLS; i++) {
        fds[i] = connect_from("127.0.0.1", n->client_port);
        send_all(fds[i], req);
    }
    parked_cond c = {n, POLLS};
    ck_assert_msg(harness_wait(parked_at_least, &c, 20000), "the long polls are not parked");
}

/* Long polls wait with no thread: 48 of them parked, the node's thread
 * count stays well under 48, other requests are served, and one event
 * answers every one of them. */
/* One address may start only so many handshakes (each costs the node an
 * RSA signature): above its rate it gets a JSON 429 with Retry-After before
 * its body is even parsed, and another address is not held back. */
static json_int_t channel_counter(harness_node *n, const char *field)
{
    harness_resp r;
    ck_assert_int_eq(harness_get(n, HARNESS_CLIENT, "/v1/client/status", &r), 0);
    ck_assert_int_eq(r.status, 200);
    json_t *v = json_object_get(json_object_get(r.json, "peer_channel"), field);
    ck_assert_msg(json_is_integer(v), "status has no peer_channel.%s: %s", field, r.body);
    json_int_t k = json_integer_value(v);
    harness_resp_free(&r);
    return k;
}

static long handshake_from(harness_node *n, const char *src, harness_resp *r)
{
    char url[128];
    snprintf(url, sizeof url, "%s/v1/handshake", n->peer_url);
    ck_assert_int_eq(harness_request_from(src, "POST", url, "{}", 2, r), 0);
    return r->status;
}

START_TEST(handshakes_rate_limited_per_address)
{
    enum { TRIES = 20, RATE = 1, BURST = 4 * RATE };
    harness_node n;
    const char *args[] = {"--handshake-rate", "1", NULL};
    ck_assert_int_eq(harness_start(&n, NULL, args), 0);
    int64_t t0 = mono_ms();
    int limited = 0, parsed = 0;
    for (int i = 0; i < TRIES; i++) {
        harness_resp r;
        long st = handshake_from(&n, "127.0.0.2", &r);
        if (st == 429) {
            ck_assert_str_eq(harness_error_code(&r), "rate_limited");
            char ra[16];
            ck_assert_ptr_nonnull(harness_resp_header(&r, "Retry-After", ra, sizeof ra));
            ck_assert_int_ge(atoi(ra), 1);
            limited++;
        } else {
            ck_assert_msg(st == 400, "try %d: %ld %s", i, st, r.body);
            ck_assert_str_eq(harness_error_code(&r), "malformed");
            ck_assert_msg(limited == 0 || i >= BURST, "try %d parsed after a 429", i);
            parsed++;
        }
        harness_resp_free(&r);
    }
    /* the bucket starts full (BURST) and refills RATE a second */
    int64_t secs = (mono_ms() - t0) / 1000 + 1;
    ck_assert_int_ge(parsed, BURST);
    ck_assert_int_le(parsed, BURST + RATE * secs);
    ck_assert_int_ge(limited, 1);
    /* what was refused at the door was never parsed */
    ck_assert_int_eq(channel_counter(&n, "handshakes_rate_limited"), limited);
    ck_assert_int_eq(channel_counter(&n, "handshakes_refused"), parsed);
    /* another address has its own bucket */
    harness_resp r;
    ck_assert_int_eq(handshake_from(&n, "127.0.0.3", &r), 400);
    ck_assert_str_eq(harness_error_code(&r), "malformed");
    harness_resp_free(&r);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

/* Signed handshakes (each costs the node a signature) from FLOOD_SOURCES
 * addresses at once, each address under its rate, against a node that
 * takes one handshake at a time: one in progress, the others are refused
 * with a JSON 503 busy and Retry-After before they are parsed or queued.
 * Once the flood is over a handshake from another address is served. */
#define FLOOD_SOURCES 8
#define FLOOD_ROUNDS 50 /* bounded: the first round nearly always overlaps */

typedef struct {
    char src[16], url[128];
    char *body;
    pthread_barrier_t *go;
    harness_resp r;
} flood_shot;

static void *flood_shoot(void *arg)
{
    flood_shot *f = arg;
    pthread_barrier_wait(f->go);
    ck_assert_int_eq(harness_request_from(f->src, "POST", f->url, f->body, strlen(f->body), &f->r), 0);
    return NULL;
}

/* A handshake request to n, signed with key (a fresh nonce each time). */
static char *signed_handshake(const identity *key, const harness_node *n)
{
    uint8_t nid[IDENTITY_ID_LEN];
    size_t got = 0;
    hs_pending *p = NULL;
    json_t *req = NULL;
    ck_assert_int_eq(encoding_hex_decode(n->node_id, IDENTITY_ID_HEX_LEN, nid, sizeof nid, &got), NT_OK);
    ck_assert_int_eq(handshake_start(key, "flood", 7711, nid, HS_MODE_ECDH, ECDH_X25519, (int64_t)time(NULL), &p, &req),
                     NT_OK);
    char *body = json_dumps(req, JSON_COMPACT);
    ck_assert_ptr_nonnull(body);
    json_decref(req);
    handshake_pending_free(p);
    return body;
}

/* One round of FLOOD_SOURCES handshakes at once, from as many addresses
 * or from one; the 503s it got. */
static int flood_round(const identity *key, harness_node *n, bool one_address, int *served)
{
    pthread_barrier_t go;
    flood_shot f[FLOOD_SOURCES];
    pthread_t t[FLOOD_SOURCES];
    int busy = 0;
    pthread_barrier_init(&go, NULL, FLOOD_SOURCES);
    for (int i = 0; i < FLOOD_SOURCES; i++) {
        memset(&f[i], 0, sizeof f[i]);
        snprintf(f[i].src, sizeof f[i].src, "127.0.0.%d", one_address ? 10 : 10 + i);
        snprintf(f[i].url, sizeof f[i].url, "%s/v1/handshake", n->peer_url);
        f[i].body = signed_handshake(key, n);
        f[i].go = &go;
    }
    for (int i = 0; i < FLOOD_SOURCES; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, flood_shoot, &f[i]), 0);
    for (int i = 0; i < FLOOD_SOURCES; i++) {
        pthread_join(t[i], NULL);
        if (f[i].r.status == 503) {
            char ra[16];
            ck_assert_str_eq(harness_error_code(&f[i].r), "busy");
            ck_assert_ptr_nonnull(harness_resp_header(&f[i].r, "Retry-After", ra, sizeof ra));
            ck_assert_int_ge(atoi(ra), 1);
            busy++;
        } else {
            ck_assert_msg(f[i].r.status == 200, "%s: %ld %s", f[i].src, f[i].r.status, f[i].r.body);
            (*served)++;
        }
        harness_resp_free(&f[i].r);
        free(f[i].body);
    }
    pthread_barrier_destroy(&go);
    return busy;
}

/* The identity key of node a, read from its data dir (the caller frees it). */
static identity *node_key(const harness_node *a)
{
    char path[PATH_MAX + 32];
    identity *key = NULL;
    snprintf(path, sizeof path, "%s/%s", a->data_dir, NODE_KEY_FILE);
    ck_assert_int_eq(identity_load(&key, path), NT_OK);
    return key;
}

/* A handshake signed with key, from src, that n must serve. */
static void expect_handshake_served(identity *key, harness_node *n, const char *src)
{
    char *body = signed_handshake(key, n), url[128];
    snprintf(url, sizeof url, "%s/v1/handshake", n->peer_url);
    harness_resp r;
    ck_assert_int_eq(harness_request_from(src, "POST", url, body, strlen(body), &r), 0);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    harness_resp_free(&r);
    free(body);
}

START_TEST(handshake_flood_across_addresses_is_503)
{
    harness_node a, n;
    const char *args[] = {"--max-handshakes", "1", "--max-sessions-per-peer", "100000", NULL};
    ck_assert_int_eq(harness_start(&a, "flood", NULL), 0);
    ck_assert_int_eq(harness_start(&n, NULL, args), 0);
    ck_assert_int_eq(channel_counter(&n, "max_handshakes"), 1);
    identity *key = node_key(&a);
    int busy = 0, served = 0;
    for (int round = 0; round < FLOOD_ROUNDS && busy == 0; round++)
        busy += flood_round(key, &n, false, &served);
    ck_assert_msg(busy > 0, "no handshake refused in %d rounds of %d at once", FLOOD_ROUNDS, FLOOD_SOURCES);
    ck_assert_int_ge(served, 1);
    ck_assert_int_eq(channel_counter(&n, "handshakes_busy"), busy);
    ck_assert_int_eq(channel_counter(&n, "handshakes_in_progress"), 0);
    /* the flood is over: another address is served */
    expect_handshake_served(key, &n, "127.0.0.99");
    identity_free(key);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
    harness_cleanup(&a);
}
END_TEST

/* Handshakes from one address at once, against a node that runs one job
 * per address: the others get 503 busy with Retry-After at once (counted
 * in the listener's shed.per_source_jobs), while another address is
 * served. */
START_TEST(jobs_per_source_cap_refuses_one_address)
{
    harness_node a, n;
    const char *args[] = {"--max-jobs-per-source", "1", "--max-handshakes", "16", "--handshake-rate", "0",
                          "--max-sessions-per-peer", "100000", NULL};
    ck_assert_int_eq(harness_start(&a, "flood", NULL), 0);
    ck_assert_int_eq(harness_start(&n, NULL, args), 0);
    identity *key = node_key(&a);
    int busy = 0, served = 0;
    for (int round = 0; round < FLOOD_ROUNDS && busy == 0; round++)
        busy += flood_round(key, &n, true, &served);
    ck_assert_msg(busy > 0, "no request refused in %d rounds of %d at once", FLOOD_ROUNDS, FLOOD_SOURCES);
    ck_assert_int_ge(served, 1);
    ck_assert_int_eq(shed_count(&n, "peer", "per_source_jobs"), busy);
    ck_assert_int_eq(channel_counter(&n, "handshakes_busy"), 0);
    expect_handshake_served(key, &n, "127.0.0.11");
    identity_free(key);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
    harness_cleanup(&a);
}
END_TEST

START_TEST(long_polls_park_without_threads)
{
    harness_node n;
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    int fds[POLLS];
    start_polls(&n, fds);
    /* no worker is held by a waiting poll (the status request itself runs
     * on one) */
    json_t *l = listener_status(&n, "client");
    ck_assert_int_le(json_integer_value(json_object_get(l, "workers_busy")), 1);
    json_decref(l);
    /* the workers the burst started leave once idle (10 s), while the
     * polls (30 s) still wait */
    ck_assert_msg(harness_wait(fewer_threads_than_polls, &n, 25000), "%d threads for %d waiting polls",
                  proc_threads(n.pid), POLLS);
    parked_cond still = {&n, POLLS};
    ck_assert(parked_at_least(&still));
    harness_resp r;
    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, "/v1/health", &r), 0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    /* one event (a room made) ends every wait with it */
    ck_assert_int_eq(harness_post(&n, HARNESS_CLIENT, "/v1/client/rooms", "{\"name\":\"wake\"}", &r), 0);
    ck_assert_int_eq(r.status, 201);
    harness_resp_free(&r);
    for (int i = 0; i < POLLS; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLIN};
        ck_assert_int_eq(poll(&p, 1, IO_TIMEOUT_MS), 1);
        char buf[4096];
        ssize_t k = recv(fds[i], buf, sizeof buf - 1, 0);
        ck_assert_int_gt(k, 0);
        buf[k] = '\0';
        ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0, "poll %d: %s", i, buf);
        ck_assert_ptr_nonnull(strstr(buf, "\"events\":[{"));
        close(fds[i]);
    }
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

/* A stop answers the parked long polls at once instead of waiting them
 * out (30 s each here). */
START_TEST(stop_answers_parked_polls)
{
    harness_node n;
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    int fds[POLLS];
    start_polls(&n, fds);
    int64_t t0 = mono_ms();
    ck_assert_int_eq(kill(n.pid, SIGTERM), 0);
    for (int i = 0; i < POLLS; i++) {
        reading r;
        read_until_close(fds[i], IO_TIMEOUT_MS, &r);
        ck_assert_msg(status_of(&r) == 200, "poll %d: %s", i, r.buf);
        close(fds[i]);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(n.pid, &st, 0), n.pid);
    n.pid = 0;
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* well inside the polls' own 30 s */
    ck_assert_int_lt(mono_ms() - t0, 20000);
    harness_cleanup(&n);
}
END_TEST

int test_setup(void)
{
    return rng_init() ? EXIT_FAILURE : TEST_GO;
}

Suite *test_suite(void)
{
    Suite *s = suite_create("conns");
    TCase *t = tcase_create("limits");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, per_source_cap_answers_503);
    tcase_add_test(t, handshakes_rate_limited_per_address);
    tcase_add_test(t, handshake_flood_across_addresses_is_503);
    tcase_add_test(t, jobs_per_source_cap_refuses_one_address);
    tcase_add_test(t, slowloris_gets_408_at_its_deadline);
    tcase_add_test(t, over_source_silent_gets_503);
    tcase_add_test(t, trickled_request_line_gets_408);
    tcase_add_test(t, pressure_reclaims_idle_connections);
    tcase_add_test(t, bad_content_length_among_half_read_heads);
    tcase_add_test(t, query_of_many_parameters_is_400);
    tcase_add_test(t, slow_body_gets_408);
    tcase_add_test(t, long_polls_park_without_threads);
    tcase_add_test(t, stop_answers_parked_polls);
    suite_add_tcase(s, t);
    return s;
}
