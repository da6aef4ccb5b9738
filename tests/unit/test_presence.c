/* presence: the up/down table and its "peer is up" callbacks; then the
 * three triggers in two nodes run in this process (peer API, peer client
 * and discovery on lo, no rooms): an announcement from a peer that was
 * down or unknown, a completed handshake (on both sides), and a
 * successful call after the peer was down. Also: a clean discovery stop
 * sends a goodbye that marks the peer down, a forged one changes nothing,
 * and a call that cannot connect marks it down and names the address;
 * a call whose peer's newest addresses take connections and never answer
 * still reaches it at an older one, within its one timeout.
 * Waits are bounded polls. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "crypto/rng.h"
#include "crypto/sign.h"
#include "server/core/http.h"
#include "server/core/node.h"
#include "server/core/presence.h"
#include "server/core/routes.h"
#include "server/discovery/discovery.h"
#include "server/discovery/discovery_node.h"
#include "server/peer/peer_api.h"
#include "server/peer/peer_names.h"
#include "server/peer/peerlink.h"
#include "storage/peers.h"
#include "tests/test_main.h"

#define WAIT_MS 5000

/* --- the table -------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    int calls;
    uint8_t last[IDENTITY_ID_LEN];
} hook_log;

static void on_up(void *arg, const uint8_t id[static IDENTITY_ID_LEN])
{
    hook_log *h = arg;
    pthread_mutex_lock(&h->mu);
    h->calls++;
    memcpy(h->last, id, IDENTITY_ID_LEN);
    pthread_mutex_unlock(&h->mu);
}

static int calls_of(hook_log *h)
{
    pthread_mutex_lock(&h->mu);
    int n = h->calls;
    pthread_mutex_unlock(&h->mu);
    return n;
}

START_TEST(callbacks_run_when_a_peer_comes_back)
{
    presence *p = NULL;
    hook_log h = {.mu = PTHREAD_MUTEX_INITIALIZER};
    uint8_t a[IDENTITY_ID_LEN] = {1}, b[IDENTITY_ID_LEN] = {2};
    ck_assert_int_eq(presence_new(&p), NT_OK);
    ck_assert_int_eq(presence_on_up(p, on_up, &h), NT_OK);
    ck_assert_int_eq(presence_get(p, a), PRESENCE_UNKNOWN);
    ck_assert_int_eq(presence_set(p, a, true, false), PRESENCE_UNKNOWN); /* unknown -> up */
    ck_assert_int_eq(calls_of(&h), 1);
    ck_assert_mem_eq(h.last, a, IDENTITY_ID_LEN);
    ck_assert_int_eq(presence_set(p, a, true, false), PRESENCE_UP); /* up -> up: nothing */
    ck_assert_int_eq(calls_of(&h), 1);
    ck_assert_int_eq(presence_set(p, a, false, true), PRESENCE_UP); /* down never calls */
    ck_assert_int_eq(calls_of(&h), 1);
    ck_assert_int_eq(presence_get(p, a), PRESENCE_DOWN);
    ck_assert_int_eq(presence_get(p, b), PRESENCE_UNKNOWN);
    ck_assert_int_eq(presence_set(p, a, true, false), PRESENCE_DOWN); /* back */
    ck_assert_int_eq(calls_of(&h), 2);
    ck_assert_int_eq(presence_set(p, a, true, true), PRESENCE_UP); /* a handshake: always */
    ck_assert_int_eq(calls_of(&h), 3);
    presence_free(p);
    presence_free(NULL);
    ck_assert_int_eq(presence_get(NULL, a), PRESENCE_UNKNOWN);
}
END_TEST

START_TEST(callbacks_and_peers_are_capped)
{
    presence *p = NULL;
    hook_log h = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ck_assert_int_eq(presence_new(&p), NT_OK);
    for (int i = 0; i < PRESENCE_HOOKS_MAX; i++)
        ck_assert_int_eq(presence_on_up(p, on_up, &h), NT_OK);
    ck_assert_int_eq(presence_on_up(p, on_up, &h), NT_ERR_TOO_BIG);
    ck_assert_int_eq(presence_on_up(p, NULL, &h), NT_ERR_INVALID);
    uint8_t id[IDENTITY_ID_LEN] = {0};
    for (unsigned i = 0; i <= PRESENCE_PEERS_MAX; i++) {
        memcpy(id, &i, sizeof i);
        presence_set(p, id, false, false);
    }
    ck_assert_int_eq(presence_get(p, id), PRESENCE_DOWN); /* the newest stays */
    unsigned first = 0;
    memcpy(id, &first, sizeof first);
    ck_assert_int_eq(presence_get(p, id), PRESENCE_UNKNOWN); /* the oldest went */
    ck_assert_int_eq(calls_of(&h), 0);
    presence_free(p);
}
END_TEST

typedef struct {
    presence *p;
    atomic_int state; /* 0 not started, 1 in the callback, 2 returned */
} slow_arg;

static void slow_up(void *arg, const uint8_t id[static IDENTITY_ID_LEN])
{
    (void)id;
    slow_arg *a = arg;
    atomic_store(&a->state, 1);
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
    nanosleep(&ts, NULL);
    atomic_store(&a->state, 2);
}

static void *set_up(void *arg)
{
    slow_arg *a = arg;
    uint8_t id[IDENTITY_ID_LEN] = {9};
    presence_set(a->p, id, true, false);
    return NULL;
}

/* After presence_off_up returns, no callback runs or is running: the
 * module may free its state. */
START_TEST(off_waits_for_running_callbacks)
{
    slow_arg a = {0};
    hook_log h = {.mu = PTHREAD_MUTEX_INITIALIZER};
    uint8_t id[IDENTITY_ID_LEN] = {3};
    ck_assert_int_eq(presence_new(&a.p), NT_OK);
    ck_assert_int_eq(presence_on_up(a.p, on_up, &h), NT_OK);
    presence_off_up(a.p, on_up, &h);
    presence_set(a.p, id, true, false);
    ck_assert_int_eq(calls_of(&h), 0);

    ck_assert_int_eq(presence_on_up(a.p, slow_up, &a), NT_OK);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, set_up, &a), 0);
    for (int i = 0; i < 500 && atomic_load(&a.state) == 0; i++) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 2 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ck_assert_int_eq(atomic_load(&a.state), 1);
    presence_off_up(a.p, slow_up, &a);
    ck_assert_int_eq(atomic_load(&a.state), 2);
    pthread_join(t, NULL);
    presence_free(a.p);
}
END_TEST

/* --- two nodes in this process ---------------------------------------- */

typedef struct {
    char dir[64];
    config cfg;
    node *nd;
    http_server *peer;
    bool api, link, disc;
    hook_log hooks;
} tnode;

static char group[32], dport[8];

static void tnode_start(tnode *t, const char *name, bool with_discovery)
{
    char err[NODE_ERR_MAX], cerr[CONFIG_ERR_MAX], herr[HTTP_ERR_MAX];
    config_action act;
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->hooks.mu, NULL);
    snprintf(t->dir, sizeof t->dir, "/tmp/natter-presence-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(t->dir));
    char *argv[] = {"natterd", "--data-dir", t->dir, "--listen", "127.0.0.1:0", "--key-bits", "2048", "--name",
                    (char *)name, "--discovery-group", group, "--discovery-port", dport, NULL};
    ck_assert_int_eq(config_parse(&t->cfg, 13, argv, NULL, &act, cerr), NT_OK);
    ck_assert_int_eq(node_open(&t->cfg, &t->nd, err), NT_OK);
    http_opts o = {.bind = "127.0.0.1:0", .api = HTTP_API_PEER, .body_max = 1 << 20, .max_connections = 64,
                   .timeout_s = 10};
    ck_assert_int_eq(http_start(&o, routes_all, t->nd, &t->peer, herr), NT_OK);
    snprintf(t->nd->peer_addr, sizeof t->nd->peer_addr, "%s", http_addr(t->peer));
    ck_assert_int_eq(node_on_peer_up(t->nd, on_up, &t->hooks), NT_OK);
    ck_assert_int_eq(peer_api_start(t->nd, err), NT_OK);
    t->api = true;
    ck_assert_int_eq(peerlink_start(t->nd, err), NT_OK);
    t->link = true;
    if (with_discovery) {
        ck_assert_msg(discovery_node_start(t->nd, err) == NT_OK, "%s", err);
        t->disc = true;
    }
}

static void tnode_stop(tnode *t)
{
    node_begin_stop(t->nd);
    http_stop(t->peer);
    if (t->disc)
        discovery_node_stop(t->nd);
    if (t->link)
        peerlink_stop(t->nd);
    if (t->api)
        peer_api_stop(t->nd);
    node_close(t->nd, true);
    config_free(&t->cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    ck_assert_int_eq(system(cmd), 0);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait (bounded) until t's hooks were called at least n times. */
static bool hooks_reach(tnode *t, int n)
{
    long long end = now_ms() + WAIT_MS;
    while (calls_of(&t->hooks) < n && now_ms() < end)
        pause_ms(10);
    return calls_of(&t->hooks) >= n;
}

static bool state_reaches(tnode *t, const uint8_t *id, presence_state want)
{
    long long end = now_ms() + WAIT_MS;
    while (presence_get(t->nd->presence, id) != want && now_ms() < end)
        pause_ms(10);
    return presence_get(t->nd->presence, id) == want;
}

static nt_err ping(tnode *from, tnode *to)
{
    json_t *reply = NULL, *req = json_pack("{s:s}", "echo", "x");
    int status = 0;
    nt_err rc = peerlink_call(from->nd, identity_id(to->nd->id), "POST", "/v1/peer/ping", req, &reply, &status, 3000);
    json_decref(req);
    json_decref(reply);
    return rc;
}

START_TEST(handshake_and_call_bring_a_peer_up)
{
    tnode a, b;
    tnode_start(&a, "pa", false);
    tnode_start(&b, "pb", false);
    const uint8_t *bid = identity_id(b.nd->id), *aid = identity_id(a.nd->id);
    ck_assert_int_eq(peers_observe(a.nd->db, b.nd->id, "pb", b.nd->peer_addr, "manual", NULL, time(NULL), NULL), NT_OK);

    /* 1. a completed handshake: on the side that made it and the side that served it */
    ck_assert_int_eq(ping(&a, &b), NT_OK);
    ck_assert_int_eq(calls_of(&a.hooks), 1);
    ck_assert_mem_eq(a.hooks.last, bid, IDENTITY_ID_LEN);
    ck_assert(hooks_reach(&b, 1));
    ck_assert_mem_eq(b.hooks.last, aid, IDENTITY_ID_LEN);
    ck_assert_int_eq(presence_get(a.nd->presence, bid), PRESENCE_UP);

    /* 2. a successful call (same session, no handshake) after it was down */
    ck_assert_int_eq(ping(&a, &b), NT_OK);
    ck_assert_int_eq(calls_of(&a.hooks), 1); /* up already: nothing */
    peer_names_presence(a.nd, bid, false, false, "test");
    ck_assert_int_eq(ping(&a, &b), NT_OK);
    ck_assert_int_eq(calls_of(&a.hooks), 2);
    ck_assert_int_eq(presence_get(a.nd->presence, bid), PRESENCE_UP);

    /* 3. a call that cannot connect: down, and the error names the address */
    char addr[HTTP_ADDR_MAX];
    snprintf(addr, sizeof addr, "%s", b.nd->peer_addr);
    http_stop(b.peer);
    b.peer = NULL;
    peerlink_forget(a.nd, bid); /* a new handshake must connect */
    ck_assert_int_ne(ping(&a, &b), NT_OK);
    ck_assert_int_eq(presence_get(a.nd->presence, bid), PRESENCE_DOWN);
    peerlink_state st;
    peerlink_state_get(a.nd, bid, &st);
    ck_assert_msg(strstr(st.last_error, addr), "last_error \"%s\" does not name %s", st.last_error, addr);
    ck_assert_int_eq(calls_of(&a.hooks), 2);
    tnode_stop(&b);
    tnode_stop(&a);
}
END_TEST

/* A goodbye for id with a signature by another key, sent to the group on lo. */
static void send_forged_goodbye(const uint8_t *id, const uint8_t *instance)
{
    identity *other = NULL;
    uint8_t buf[DISCOVERY_PACKET_MAX];
    size_t head = 0, sig_len = 0;
    ck_assert_int_eq(identity_generate(&other, 2048), NT_OK);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    discovery_announce_fields f = {.timestamp_ms = (int64_t)ts.tv_sec * 1000, .seq = 1000000, .peer_port = 9,
                                   .name = "pb", .flags = DISCOVERY_FLAG_GOODBYE};
    memcpy(f.instance_id, instance, DISCOVERY_INSTANCE_LEN);
    ck_assert_int_eq(discovery_packet_encode_unsigned(id, &f, NULL, 0, buf, sizeof buf, &head), NT_OK);
    ck_assert_int_eq(sign_create(other, SIGN_ANNOUNCE, buf, head, buf + head + 2, sizeof buf - head - 2, &sig_len),
                     NT_OK);
    buf[head] = (uint8_t)(sig_len >> 8), buf[head + 1] = (uint8_t)sig_len;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo), 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(dport))};
    ck_assert_int_eq(inet_pton(AF_INET, group, &to.sin_addr), 1);
    ck_assert_int_eq(sendto(fd, buf, head + 2 + sig_len, 0, (struct sockaddr *)&to, sizeof to),
                     (ssize_t)(head + 2 + sig_len));
    close(fd);
    identity_free(other);
}

START_TEST(announcement_brings_up_goodbye_takes_down)
{
    tnode a, b;
    tnode_start(&a, "pa", true);
    tnode_start(&b, "pb", true);
    const uint8_t *bid = identity_id(b.nd->id);
    /* 1. an announcement from a peer not known up */
    ck_assert_msg(hooks_reach(&a, 1), "no announcement from b reached a");
    ck_assert_mem_eq(a.hooks.last, bid, IDENTITY_ID_LEN);
    peer_info *p = malloc(sizeof *p);
    ck_assert_int_eq(peers_get(a.nd->db, bid, p), NT_OK);
    ck_assert_str_eq(p->address, b.nd->peer_addr); /* 127.0.0.1:port: where b listens */
    free(p);

    /* a forged goodbye changes nothing */
    uint8_t inst[DISCOVERY_INSTANCE_LEN];
    discovery_stats s0, s1;
    discovery_instance_id(b.nd->discovery, inst);
    discovery_stats_get(a.nd->discovery, &s0);
    send_forged_goodbye(bid, inst);
    long long end = now_ms() + WAIT_MS;
    do {
        pause_ms(10);
        discovery_stats_get(a.nd->discovery, &s1);
    } while (s1.dropped[DISC_BAD_SIGNATURE] == s0.dropped[DISC_BAD_SIGNATURE] && now_ms() < end);
    ck_assert_uint_eq(s1.dropped[DISC_BAD_SIGNATURE], s0.dropped[DISC_BAD_SIGNATURE] + 1);
    ck_assert_int_eq(presence_get(a.nd->presence, bid), PRESENCE_UP);

    /* the real goodbye: down */
    discovery_node_stop(b.nd);
    b.disc = false;
    ck_assert(state_reaches(&a, bid, PRESENCE_DOWN));
    /* back: its next announcement brings it up and runs the callbacks */
    int before = calls_of(&a.hooks);
    char err[NODE_ERR_MAX];
    ck_assert_int_eq(discovery_node_start(b.nd, err), NT_OK);
    b.disc = true;
    ck_assert(hooks_reach(&a, before + 1));
    ck_assert_int_eq(presence_get(a.nd->presence, bid), PRESENCE_UP);
    tnode_stop(&b);
    tnode_stop(&a);
}
END_TEST

/* A socket on 127.0.0.1 that takes connections (the kernel completes
 * them) and never answers; its "host:port" in addr. */
static int silent_listener(char addr[static HTTP_ADDR_MAX])
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(addr, HTTP_ADDR_MAX, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    return fd;
}

/* b's three newest addresses take connections and never answer (a member
 * that planted them would stall every call to it, and a push round with
 * it, for a timeout per address): the tries share the call's one timeout,
 * so the call still reaches b at its oldest address, and in less than two
 * timeouts (each try used to get a whole one). */
START_TEST(call_shares_its_timeout_among_addresses)
{
    enum { TIMEOUT_MS = 2000, SILENT = PEERS_ADDRS_KEPT - 1 };
    tnode a, b;
    int fd[SILENT];
    char addr[HTTP_ADDR_MAX];
    tnode_start(&a, "pa", false);
    tnode_start(&b, "pb", false);
    const uint8_t *bid = identity_id(b.nd->id);
    int64_t t = (int64_t)time(NULL) - 100;
    ck_assert_int_eq(peers_observe(a.nd->db, b.nd->id, "pb", b.nd->peer_addr, "manual", NULL, t, NULL), NT_OK);
    for (int i = 0; i < SILENT; i++) {
        fd[i] = silent_listener(addr);
        ck_assert_int_eq(peers_observe(a.nd->db, b.nd->id, NULL, addr, "manual", NULL, t + 1 + i, NULL), NT_OK);
    }
    long long t0 = now_ms();
    json_t *reply = NULL, *req = json_pack("{s:s}", "echo", "x");
    int status = 0;
    nt_err rc = peerlink_call(a.nd, bid, "POST", "/v1/peer/ping", req, &reply, &status, TIMEOUT_MS);
    long long took = now_ms() - t0;
    json_decref(req);
    json_decref(reply);
    ck_assert_msg(rc == NT_OK, "call: %s", err_str(rc));
    ck_assert_msg(took < 2 * TIMEOUT_MS, "the call took %lld ms", took);
    peer_info *p = malloc(sizeof *p);
    ck_assert_int_eq(peers_get(a.nd->db, bid, p), NT_OK);
    ck_assert_str_eq(p->address, b.nd->peer_addr); /* the one that answered is the newest now */
    free(p);
    for (int i = 0; i < SILENT; i++)
        close(fd[i]);
    tnode_stop(&b);
    tnode_stop(&a);
}
END_TEST

int test_setup(void)
{
    uint8_t r[4];
    if (rng_init() != NT_OK || rng_bytes(r, sizeof r) != NT_OK)
        return EXIT_FAILURE;
    snprintf(group, sizeof group, "239.255.%u.%u", r[0], r[1] | 1);
    snprintf(dport, sizeof dport, "%u", 20000u + ((unsigned)r[2] << 8 | r[3]) % 40000u);
    return TEST_GO;
}

Suite *test_suite(void)
{
    Suite *s = suite_create("presence");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, callbacks_run_when_a_peer_comes_back);
    tcase_add_test(tc, callbacks_and_peers_are_capped);
    tcase_add_test(tc, off_waits_for_running_callbacks);
    suite_add_tcase(s, tc);
    tc = tcase_create("triggers");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, handshake_and_call_bring_a_peer_up);
    tcase_add_test(tc, announcement_brings_up_goodbye_takes_down);
    tcase_add_test(tc, call_shares_its_timeout_among_addresses);
    suite_add_tcase(s, tc);
    return s;
}
