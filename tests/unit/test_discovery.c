/* The discovery engine in one process on loopback: several instances on a
 * random group/port find each other; forged, oversized, malformed and
 * flooding datagrams are dropped and counted. Traffic stays on lo. Waits
 * are bounded polls, never bare sleeps. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "crypto/identity.h"
#include "crypto/rng.h"
#include "crypto/sign.h"
#include "server/discovery/discovery.h"
#include "tests/test_main.h"

#define N 3
#define MAX_SEEN 8

typedef struct {
    pthread_mutex_t mu;
    int n;
    uint8_t ids[MAX_SEEN][IDENTITY_ID_LEN];
    char names[MAX_SEEN][DISCOVERY_NAME_MAX + 1];
    char addrs[MAX_SEEN][64];
    int calls;
    bool at_cap; /* the peer table refuses new ids (a source at its cap) */
    bool maybe_replay; /* of the last call */
} seen_log;

static identity *keys[N + 1];
static char group[32];
static uint16_t port;

static nt_err observe(void *ctx, const identity *pub, const char *name, const char *addr, const uint8_t *inst,
                      int64_t now_unix, bool maybe_replay, bool *is_new, bool *expendable)
{
    (void)inst, (void)now_unix, (void)expendable;
    seen_log *l = ctx;
    pthread_mutex_lock(&l->mu);
    l->calls++;
    l->maybe_replay = maybe_replay;
    if (l->at_cap) {
        pthread_mutex_unlock(&l->mu);
        return NT_ERR_BUSY;
    }
    int i;
    for (i = 0; i < l->n; i++)
        if (memcmp(l->ids[i], identity_id(pub), IDENTITY_ID_LEN) == 0)
            break;
    *is_new = i == l->n;
    if (i == l->n && l->n < MAX_SEEN)
        l->n++;
    if (i < MAX_SEEN) {
        memcpy(l->ids[i], identity_id(pub), IDENTITY_ID_LEN);
        snprintf(l->names[i], sizeof l->names[i], "%s", name);
        snprintf(l->addrs[i], sizeof l->addrs[i], "%s", addr);
    }
    pthread_mutex_unlock(&l->mu);
    return NT_OK;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int seen_count(seen_log *l)
{
    pthread_mutex_lock(&l->mu);
    int n = l->n;
    pthread_mutex_unlock(&l->mu);
    return n;
}

static discovery_config cfg(void)
{
    discovery_config c;
    discovery_config_defaults(&c);
    c.group = group;
    c.port = port;
    c.interface = "lo";
    c.sched.interval_ms = 1000;
    return c;
}

static discovery *start(int i, seen_log *l, const discovery_config *c)
{
    discovery *d = NULL;
    char err[DISCOVERY_ERR_MAX], name[32];
    snprintf(name, sizeof name, "node-%d", i);
    pthread_mutex_init(&l->mu, NULL);
    discovery_hooks h = {.ctx = l, .observe = observe};
    nt_err rc = discovery_start(&d, c, keys[i], name, (uint16_t)(7000 + i), &h, err);
    ck_assert_msg(rc == NT_OK, "start %d: %s", i, err);
    return d;
}

/* Random group in 239.255.0.0/16 and port, so parallel runs do not meet. */
static void pick_group(void)
{
    uint8_t r[4];
    ck_assert_int_eq(rng_bytes(r, sizeof r), NT_OK);
    snprintf(group, sizeof group, "239.255.%u.%u", r[0], r[1] | 1);
    port = (uint16_t)(20000 + (r[2] << 8 | r[3]) % 40000);
}

static void send_raw(const uint8_t *buf, size_t len)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo), 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, group, &to.sin_addr);
    ck_assert_int_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)len);
    close(fd);
}

static bool wait_stat(discovery *d, discovery_drop reason, uint64_t at_least, int timeout_ms)
{
    discovery_stats s;
    for (int64_t end = now_ms() + timeout_ms; now_ms() < end; pause_ms(20)) {
        discovery_stats_get(d, &s);
        if (s.dropped[reason] >= at_least)
            return true;
    }
    return false;
}

static bool wait_calls(seen_log *l, int at_least, int timeout_ms)
{
    for (int64_t end = now_ms() + timeout_ms; now_ms() < end; pause_ms(10)) {
        pthread_mutex_lock(&l->mu);
        int n = l->calls;
        pthread_mutex_unlock(&l->mu);
        if (n >= at_least)
            return true;
    }
    return false;
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An announcement named "ghost" from an unknown id (all id_byte) with no
 * key, and sig_len bytes of junk as its signature: the receiver has to
 * fetch the key from peer_port before it can check it. */
static void send_ghost(uint8_t id_byte, uint16_t peer_port, size_t sig_len)
{
    uint8_t id[IDENTITY_ID_LEN], buf[DISCOVERY_PACKET_MAX];
    size_t len = 0;
    memset(id, id_byte, sizeof id);
    discovery_announce_fields f = {.timestamp_ms = unix_ms(), .seq = 1, .peer_port = peer_port, .name = "ghost"};
    ck_assert_int_eq(discovery_packet_encode_unsigned(id, &f, NULL, 0, buf, sizeof buf, &len), NT_OK);
    ck_assert_uint_le(len + 2 + sig_len, sizeof buf);
    buf[len] = (uint8_t)(sig_len >> 8), buf[len + 1] = (uint8_t)sig_len;
    memset(buf + len + 2, 0x5A, sig_len);
    send_raw(buf, len + 2 + sig_len);
}

START_TEST(three_find_each_other_on_lo)
{
    pick_group();
    discovery_config c = cfg();
    seen_log logs[N] = {0};
    discovery *d[N];
    int64_t t0 = now_ms();
    for (int i = 0; i < N; i++)
        d[i] = start(i, &logs[i], &c);
    bool all = false;
    while (!all && now_ms() - t0 < 2000) {
        all = true;
        for (int i = 0; i < N; i++)
            all &= seen_count(&logs[i]) == N - 1;
        if (!all)
            pause_ms(10);
    }
    ck_assert_msg(all, "not all found each other within 2 s");
    for (int i = 0; i < N; i++) {
        discovery_stats s;
        discovery_stats_get(d[i], &s);
        ck_assert_uint_ge(s.sent, 2);      /* announce + query */
        ck_assert_uint_ge(s.dropped[DISC_OWN], 1); /* loop on lo: heard itself */
        ck_assert_uint_eq(s.peers, N - 1);
        ck_assert_uint_eq(s.interfaces, 1);
        ck_assert_uint_eq(s.dropped[DISC_BAD_SIGNATURE], 0);
        for (int k = 0; k < logs[i].n; k++) {
            int j = 0;
            while (j < N && memcmp(logs[i].ids[k], identity_id(keys[j]), IDENTITY_ID_LEN) != 0)
                j++;
            ck_assert_int_lt(j, N);
            ck_assert_int_ne(j, i);
            char want_addr[32], want_name[32];
            snprintf(want_addr, sizeof want_addr, "127.0.0.1:%d", 7000 + j);
            snprintf(want_name, sizeof want_name, "node-%d", j);
            ck_assert_str_eq(logs[i].addrs[k], want_addr);
            ck_assert_str_eq(logs[i].names[k], want_name);
        }
    }
    for (int i = 0; i < N; i++)
        discovery_stop(d[i]);
}
END_TEST

/* A peer table that refuses a new id because its source is at its cap
 * of new peers: the announcement is dropped and counted as peer_cap. */
START_TEST(new_peer_over_cap_dropped_and_counted)
{
    pick_group();
    discovery_config c = cfg();
    seen_log logs[2] = {0};
    logs[0].at_cap = true;
    discovery *d0 = start(0, &logs[0], &c), *d1 = start(1, &logs[1], &c);
    ck_assert(wait_stat(d0, DISC_PEER_CAP, 1, 5000));
    discovery_stats s;
    discovery_stats_get(d0, &s);
    ck_assert_uint_eq(s.peers, 0);
    ck_assert_uint_eq(s.dropped[DISC_STORE], 0);
    ck_assert_str_eq(discovery_drop_str(DISC_PEER_CAP), "peer_cap");
    discovery_stop(d0);
    discovery_stop(d1);
}
END_TEST

/* Discovery remembers no announcement across a restart, so one signed
 * before it started could be replayed once: observe is told so for every
 * announcement timestamped before the start, and not after. */
START_TEST(announcements_that_may_predate_start_are_flagged)
{
    pick_group();
    discovery_config c = cfg();
    c.sched.interval_ms = 60000;
    seen_log l = {0};
    int64_t t0 = unix_ms();
    discovery *d = start(0, &l, &c);
    uint8_t buf[DISCOVERY_PACKET_MAX];
    size_t len = 0;
    discovery_announce_fields f = {.timestamp_ms = t0 - 1000, .seq = 1, .peer_port = 9, .name = "bob"};
    ck_assert_int_eq(discovery_packet_encode_announce(keys[1], &f, buf, sizeof buf, &len), NT_OK);
    send_raw(buf, len);
    ck_assert(wait_calls(&l, 1, 5000));
    pthread_mutex_lock(&l.mu);
    ck_assert(l.maybe_replay);
    pthread_mutex_unlock(&l.mu);
    f.seq = 2;
    f.timestamp_ms = unix_ms();
    ck_assert_int_eq(discovery_packet_encode_announce(keys[1], &f, buf, sizeof buf, &len), NT_OK);
    send_raw(buf, len);
    ck_assert(wait_calls(&l, 2, 5000));
    pthread_mutex_lock(&l.mu);
    ck_assert(!l.maybe_replay);
    pthread_mutex_unlock(&l.mu);
    discovery_stop(d);
}
END_TEST

START_TEST(bad_datagrams_are_dropped_and_counted)
{
    pick_group();
    discovery_config c = cfg();
    c.sched.interval_ms = 60000;
    seen_log l = {0};
    discovery *d = start(0, &l, &c);

    /* forged: node 1's id and key, signed by node 2 */
    uint8_t der[IDENTITY_PUB_DER_MAX], buf[DISCOVERY_PACKET_MAX + 100];
    size_t der_len = 0, len = 0, sig_len = 0;
    ck_assert_int_eq(identity_public_der(keys[1], der, sizeof der, &der_len), NT_OK);
    discovery_announce_fields f = {.timestamp_ms = unix_ms(), .seq = 1, .peer_port = 9, .name = "mallory"};
    ck_assert_int_eq(discovery_packet_encode_unsigned(identity_id(keys[1]), &f, der, der_len, buf, sizeof buf, &len),
                     NT_OK);
    ck_assert_int_eq(sign_create(keys[2], SIGN_ANNOUNCE, buf, len, buf + len + 2, 512, &sig_len), NT_OK);
    buf[len] = (uint8_t)(sig_len >> 8), buf[len + 1] = (uint8_t)sig_len;
    send_raw(buf, len + 2 + sig_len);
    ck_assert(wait_stat(d, DISC_BAD_SIGNATURE, 1, 2000));

    /* too big, bad magic, stale */
    memset(buf, 'x', sizeof buf);
    send_raw(buf, DISCOVERY_PACKET_MAX + 1);
    ck_assert(wait_stat(d, DISC_TOO_BIG, 1, 2000));
    send_raw(buf, 100);
    ck_assert(wait_stat(d, DISC_BAD_MAGIC, 1, 2000));
    f.timestamp_ms = unix_ms() - 301000;
    ck_assert_int_eq(discovery_packet_encode_announce(keys[1], &f, buf, sizeof buf, &len), NT_OK);
    send_raw(buf, len);
    ck_assert(wait_stat(d, DISC_TIME_SKEW, 1, 2000));

    /* a valid one is accepted once; the same bytes again are a replay */
    f.timestamp_ms = unix_ms();
    f.name = "node-1";
    ck_assert_int_eq(discovery_packet_encode_announce(keys[1], &f, buf, sizeof buf, &len), NT_OK);
    send_raw(buf, len);
    send_raw(buf, len);
    ck_assert(wait_stat(d, DISC_REPLAY, 1, 2000));
    ck_assert_int_eq(seen_count(&l), 1);
    ck_assert_str_eq(l.names[0], "node-1");
    ck_assert_str_eq(l.addrs[0], "127.0.0.1:9");
    ck_assert_int_eq(l.calls, 1);

    /* a flood from one source is rate-limited (all come from 127.0.0.1) */
    for (int i = 0; i < 100; i++)
        send_raw(buf, 10);
    ck_assert(wait_stat(d, DISC_RATE_LIMITED, 50, 2000));
    discovery_stop(d);
}
END_TEST


/* --- keys that do not fit: RSA-4096 with a long name ------------------ */

/* A one-route HTTP server for GET /v1/node, serving `body`. */
typedef struct {
    int fd;
    uint16_t port;
    char *body;
    volatile int requests;
    volatile bool stop;
    pthread_t th;
} mini_http;

static void *mini_http_run(void *arg)
{
    mini_http *m = arg;
    while (!m->stop) {
        struct timeval tv = {.tv_sec = 0, .tv_usec = 50000};
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(m->fd, &rd);
        if (select(m->fd + 1, &rd, NULL, NULL, &tv) <= 0)
            continue;
        int c = accept(m->fd, NULL, NULL);
        if (c < 0)
            continue;
        char req[4096];
        size_t got = 0;
        while (got < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
            ssize_t n = read(c, req + got, sizeof req - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            req[got] = '\0';
        }
        m->requests++;
        char head[256];
        int hl = snprintf(head, sizeof head,
                          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                          "Connection: close\r\n\r\n",
                          strlen(m->body));
        if (write(c, head, (size_t)hl) != hl || write(c, m->body, strlen(m->body)) < 0)
            (void)0;
        close(c);
    }
    return NULL;
}

static void mini_http_start(mini_http *m, const identity *serve)
{
    char pem[IDENTITY_PUB_PEM_MAX];
    ck_assert_int_eq(identity_public_pem(serve, pem, sizeof pem), NT_OK);
    json_t *j = json_pack("{s:s}", "public_key", pem);
    memset(m, 0, sizeof *m);
    m->body = json_dumps(j, 0);
    json_decref(j);
    m->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    ck_assert_int_eq(bind(m->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(m->fd, 8), 0);
    ck_assert_int_eq(getsockname(m->fd, (struct sockaddr *)&sa, &len), 0);
    m->port = ntohs(sa.sin_port);
    ck_assert_int_eq(pthread_create(&m->th, NULL, mini_http_run, m), 0);
}

static void mini_http_stop(mini_http *m)
{
    m->stop = true;
    pthread_join(m->th, NULL);
    close(m->fd);
    free(m->body);
}

static identity *big_key, *pinned_for_test;

static identity *pinned(void *ctx, const uint8_t id[static IDENTITY_ID_LEN])
{
    (void)ctx;
    identity *k = NULL;
    if (pinned_for_test && memcmp(identity_id(pinned_for_test), id, IDENTITY_ID_LEN) == 0 &&
        identity_public_copy(&k, pinned_for_test) == NT_OK)
        return k;
    return NULL;
}

#define LONG_NAME "a node with a long name that does not fit next to an RSA-4096 key in 1200 bytes"

static discovery *start_big_sender(uint16_t peer_port)
{
    discovery_config c = cfg();
    discovery *d = NULL;
    char err[DISCOVERY_ERR_MAX];
    ck_assert_int_eq(discovery_start(&d, &c, big_key, LONG_NAME, peer_port, NULL, err), NT_OK);
    return d;
}

static bool wait_seen(seen_log *l, int n, int timeout_ms)
{
    for (int64_t end = now_ms() + timeout_ms; now_ms() < end; pause_ms(20))
        if (seen_count(l) >= n)
            return true;
    return false;
}

/* No key in the packet: the receiver fetches GET /v1/node from the source
 * address and the announced port, checks it against the id, caches it. */
START_TEST(keyless_announcement_fetches_key)
{
    pick_group();
    mini_http m;
    mini_http_start(&m, big_key);
    seen_log l = {0};
    discovery_config c = cfg();
    discovery *rx = start(0, &l, &c);
    discovery *tx = start_big_sender(m.port);
    ck_assert(wait_seen(&l, 1, 3000));
    ck_assert_str_eq(l.names[0], LONG_NAME);
    ck_assert_mem_eq(l.ids[0], identity_id(big_key), IDENTITY_ID_LEN);
    /* later announcements (interval 1 s) use the cached key */
    for (int64_t end = now_ms() + 3000; now_ms() < end && l.calls < 3; pause_ms(20))
        ;
    ck_assert_int_ge(l.calls, 2);
    discovery_stats s;
    discovery_stats_get(rx, &s);
    ck_assert_uint_eq(s.key_fetches, 1);
    ck_assert_int_eq(m.requests, 1);
    discovery_stop(tx);
    discovery_stop(rx);
    mini_http_stop(&m);
}
END_TEST

/* The address serves a key that is not the id's: dropped, counted, and not
 * fetched again for 10 s. */
START_TEST(keyless_announcement_wrong_key_served)
{
    pick_group();
    mini_http m;
    mini_http_start(&m, keys[1]);
    seen_log l = {0};
    discovery_config c = cfg();
    discovery *rx = start(0, &l, &c);
    discovery *tx = start_big_sender(m.port);
    ck_assert(wait_stat(rx, DISC_ID_MISMATCH, 1, 3000));
    ck_assert(wait_stat(rx, DISC_KEY_UNAVAILABLE, 1, 3000)); /* next announcement: back-off */
    ck_assert_int_eq(seen_count(&l), 0);
    ck_assert_int_eq(m.requests, 1);
    discovery_stop(tx);
    discovery_stop(rx);
    mini_http_stop(&m);
}
END_TEST

/* A key pinned in the peer table is used without any fetch. */
START_TEST(keyless_announcement_uses_pinned_key)
{
    pick_group();
    pinned_for_test = big_key;
    seen_log l = {0};
    discovery_config c = cfg();
    discovery *rx = NULL;
    char err[DISCOVERY_ERR_MAX];
    pthread_mutex_init(&l.mu, NULL);
    discovery_hooks h = {.ctx = &l, .observe = observe, .pinned_key = pinned};
    ck_assert_int_eq(discovery_start(&rx, &c, keys[0], "rx", 7000, &h, err), NT_OK);
    discovery *tx = start_big_sender(9); /* nothing listens on port 9 */
    ck_assert(wait_seen(&l, 1, 3000));
    discovery_stats s;
    discovery_stats_get(rx, &s);
    ck_assert_uint_eq(s.key_fetches, 0);
    discovery_stop(tx);
    discovery_stop(rx);
    pinned_for_test = NULL;
}
END_TEST

/* Keyless announcements under ever new ids: fetches stay few node-wide. */
START_TEST(key_fetches_are_budgeted)
{
    pick_group();
    seen_log l = {0};
    discovery_config c = cfg();
    c.sched.interval_ms = 60000;
    discovery *rx = start(0, &l, &c);
    for (int i = 0; i < 10; i++)
        send_ghost((uint8_t)(0x30 + i), 9, 512);
    ck_assert(wait_stat(rx, DISC_KEY_UNAVAILABLE, 10, 5000));
    discovery_stats s;
    discovery_stats_get(rx, &s);
    ck_assert_uint_le(s.key_fetches, 5); /* burst 4, +1 per second */
    ck_assert_uint_ge(s.key_fetches, 1);
    ck_assert_int_eq(seen_count(&l), 0);
    discovery_stop(rx);
}
END_TEST

/* A TCP port that accepts connections (the kernel's backlog) and never
 * answers: a key fetch from it takes its whole timeout. */
static int hang_listener(uint16_t *port_out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port_out = ntohs(sa.sin_port);
    return fd;
}

static bool wait_fetches(discovery *d, uint64_t n, int timeout_ms)
{
    discovery_stats s;
    for (int64_t end = now_ms() + timeout_ms; now_ms() < end; pause_ms(20)) {
        discovery_stats_get(d, &s);
        if (s.key_fetches >= n)
            return true;
    }
    return false;
}

/* A key fetch that hangs (10 s timeout here) does not hold up the other
 * announcements: they are checked while it waits. */
START_TEST(hanging_key_fetch_does_not_stall)
{
    pick_group();
    uint16_t hport = 0;
    int hfd = hang_listener(&hport);
    seen_log l = {0};
    discovery_config c = cfg();
    c.fetch_timeout_ms = 10000;
    discovery *rx = start(0, &l, &c);
    discovery *tx = start_big_sender(hport);
    ck_assert(wait_fetches(rx, 1, 3000));
    int64_t t0 = now_ms();
    seen_log l1 = {0};
    discovery_config c1 = cfg();
    discovery *tx1 = start(1, &l1, &c1);
    ck_assert_msg(wait_seen(&l, 1, 3000), "an announcement waited behind a hanging key fetch");
    ck_assert_int_lt(now_ms() - t0, 5000);
    ck_assert_mem_eq(l.ids[0], identity_id(keys[1]), IDENTITY_ID_LEN);
    discovery_stats s;
    discovery_stats_get(rx, &s);
    ck_assert_uint_eq(s.key_fetches, 1); /* the big sender's later announcements wait for the first fetch */
    discovery_stop(tx1);
    discovery_stop(tx);
    discovery_stop(rx);
    close(hfd);
}
END_TEST

/* Keyless announcements under many ids from one source: one fetch at a
 * time from it, the others dropped at once (key_unavailable). */
START_TEST(one_key_fetch_per_source)
{
    pick_group();
    uint16_t hport = 0;
    int hfd = hang_listener(&hport);
    seen_log l = {0};
    discovery_config c = cfg();
    c.sched.interval_ms = 60000;
    c.fetch_timeout_ms = 10000;
    discovery *rx = start(0, &l, &c);
    for (int i = 0; i < 4; i++)
        send_ghost((uint8_t)(0x60 + i), hport, 256);
    ck_assert(wait_stat(rx, DISC_KEY_UNAVAILABLE, 3, 3000));
    discovery_stats s;
    discovery_stats_get(rx, &s);
    ck_assert_uint_eq(s.key_fetches, 1);
    ck_assert_uint_eq(s.received, 4 + s.dropped[DISC_OWN]);
    discovery_stop(rx);
    close(hfd);
}
END_TEST

START_TEST(start_refuses_bad_config)
{
    discovery_config c = cfg();
    discovery *d = NULL;
    char err[DISCOVERY_ERR_MAX];
    c.group = "10.0.0.1";
    ck_assert_int_ne(discovery_start(&d, &c, keys[0], "x", 1, NULL, err), NT_OK);
    ck_assert_ptr_null(d);
    ck_assert(strstr(err, "multicast") != NULL);
    c = cfg();
    c.interface = "no-such-if0";
    ck_assert_int_ne(discovery_start(&d, &c, keys[0], "x", 1, NULL, err), NT_OK);
    c = cfg();
    ck_assert_int_ne(discovery_start(&d, &c, keys[0], "bad\nname", 1, NULL, err), NT_OK);
    ck_assert_int_ne(discovery_start(&d, &c, keys[0], "x", 0, NULL, err), NT_OK);
    discovery_stop(NULL);
}
END_TEST

int test_setup(void)
{
    if (rng_init() != NT_OK)
        return EXIT_FAILURE;
    for (int i = 0; i <= N; i++)
        if (identity_generate(&keys[i], 2048) != NT_OK)
            return EXIT_FAILURE;
    if (identity_load(&big_key, "tests/vectors/discovery/test-rsa4096.pem") != NT_OK) {
        fprintf(stderr, "run from the repository root (tests/vectors/discovery/test-rsa4096.pem)\n");
        return EXIT_FAILURE;
    }
    return TEST_GO;
}

Suite *test_suite(void)
{
    Suite *s = suite_create("discovery");
    TCase *tc = tcase_create("loopback");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, three_find_each_other_on_lo);
    tcase_add_test(tc, bad_datagrams_are_dropped_and_counted);
    tcase_add_test(tc, new_peer_over_cap_dropped_and_counted);
    tcase_add_test(tc, announcements_that_may_predate_start_are_flagged);
    tcase_add_test(tc, start_refuses_bad_config);
    tcase_add_test(tc, keyless_announcement_fetches_key);
    tcase_add_test(tc, keyless_announcement_wrong_key_served);
    tcase_add_test(tc, keyless_announcement_uses_pinned_key);
    tcase_add_test(tc, key_fetches_are_budgeted);
    tcase_add_test(tc, hanging_key_fetch_does_not_stall);
    tcase_add_test(tc, one_key_fetch_per_source);
    suite_add_tcase(s, tc);
    return s;
}

int test_teardown(int failed)
{
    for (int i = 0; i <= N; i++)
        identity_free(keys[i]);
    identity_free(big_key);
    return failed;
}
