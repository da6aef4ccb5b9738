/* Integration: what a hostile machine on the LAN can do with signed
 * announcements it captured or made. Real natterd processes on loopback,
 * each test on its own random group and free UDP port; the attacker is
 * this process, sending from other loopback addresses (127.0.0.x).
 *  - a node that restarted has forgotten which announcements it heard: a
 *    peer's old announcement replayed from elsewhere must not move the
 *    peer there;
 *  - a signed goodbye from a node nobody knows takes no place in a node's
 *    memory of who it heard (it would push real peers out of it);
 *  - nor can a known peer's goodbye from before a restart, replayed
 *    after it, show the peer offline;
 *  - an announcement that says nothing new writes nothing (a commit);
 *  - a call to a peer whose newest address does not answer tries its other
 *    addresses (the handshake proves which one is the peer). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/identity.h"
#include "crypto/rng.h"
#include "harness.h"
#include "harness_client.h"
#include "harness_discovery.h"
#include "server/core/node.h"
#include "server/discovery/discovery_packet.h"
#include "tests/test_main.h"

#define WAIT_MS 5000

static char group[16], port[8];
static const char *disc_args[] = {"--no-discovery=off", "--discovery-group", group, "--discovery-port", port,
                                  "--interface", "lo", NULL};

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One datagram to the test's group on lo, from source address src. */
static void send_from(const char *src, const uint8_t *buf, size_t len)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in me = {.sin_family = AF_INET};
    ck_assert_int_eq(inet_pton(AF_INET, src, &me.sin_addr), 1);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
    struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo), 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    ck_assert_int_eq(inet_pton(AF_INET, group, &to.sin_addr), 1);
    ck_assert_int_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)len);
    close(fd);
}

/* A signed announcement of k into buf; its length. */
static size_t announcement(const identity *k, uint32_t seq, int64_t ts_ms, uint8_t inst, uint8_t flags,
                           uint16_t peer_port, uint8_t buf[static DISCOVERY_PACKET_MAX])
{
    size_t len = 0;
    discovery_announce_fields f = {.timestamp_ms = ts_ms, .seq = seq, .peer_port = peer_port, .name = "bob",
                                   .flags = flags};
    memset(f.instance_id, inst, sizeof f.instance_id);
    ck_assert_int_eq(discovery_packet_encode_announce(k, &f, buf, DISCOVERY_PACKET_MAX, &len), NT_OK);
    return len;
}

typedef struct {
    const harness_node *n;
    const char *counter;
    long long at_least;
} counter_arg;

static bool counter_reached(void *arg)
{
    const counter_arg *c = arg;
    return hd_counter(c->n, c->counter) >= c->at_least;
}

static void wait_counter(const harness_node *n, const char *counter, long long at_least)
{
    counter_arg c = {n, counter, at_least};
    bool ok = harness_wait(counter_reached, &c, WAIT_MS);
    if (!ok)
        harness_dump_log(n);
    ck_assert_msg(ok, "%s did not reach %lld within %d ms", counter, at_least, WAIT_MS);
}

/* The peer id's row as n lists it (new reference) or NULL. */
static json_t *peer_row(const harness_node *n, const char *id)
{
    json_t *peers = hd_peers(n);
    json_t *p = hd_peer(peers, id);
    json_incref(p);
    json_decref(peers);
    return p;
}

static void dial_address(const harness_node *n, const char *id, char out[64])
{
    json_t *p = peer_row(n, id);
    const char *a = json_string_value(json_object_get(p, "address"));
    snprintf(out, 64, "%s", a ? a : "");
    json_decref(p);
}

typedef struct {
    const harness_node *n;
    const char *id, *addr;
} addr_arg;

static bool dial_address_is(void *arg)
{
    const addr_arg *w = arg;
    char got[64];
    dial_address(w->n, w->id, got);
    return !strcmp(got, w->addr);
}

static bool later_than(void *arg)
{
    return unix_ms() > *(int64_t *)arg;
}

static identity *bob;
static char bob_hex[IDENTITY_ID_HEX_LEN + 1];

static void setup(void)
{
    ck_assert_int_eq(rng_init(), NT_OK);
    if (!bob) {
        ck_assert_int_eq(identity_generate(&bob, 2048), NT_OK);
        identity_id_hex(bob, bob_hex);
    }
    hd_private_group(group, port);
}

/* Bob's announcement, heard from 127.0.0.2 before the node restarts, is
 * replayed from 127.0.0.3 after: the node has no memory of it, but the
 * announcement was signed before the node started, so it cannot move Bob. */
START_TEST(replay_after_restart_does_not_move_address)
{
    harness_node a;
    ck_assert_int_eq(harness_start(&a, "alice", disc_args), 0);
    uint8_t ann[DISCOVERY_PACKET_MAX];
    size_t len = announcement(bob, 5, unix_ms(), 0xB0, 0, 7711, ann);
    send_from("127.0.0.2", ann, len);
    addr_arg w = {&a, bob_hex, "127.0.0.2:7711"};
    ck_assert_msg(harness_wait(dial_address_is, &w, WAIT_MS), "bob not recorded at 127.0.0.2:7711");

    ck_assert_int_eq(harness_stop(&a), 0);
    ck_assert_int_eq(harness_restart(&a, disc_args), 0);
    send_from("127.0.0.3", ann, len);
    wait_counter(&a, "announces", 1); /* heard, checked and accepted: bob is up */
    char got[64];
    dial_address(&a, bob_hex, got);
    ck_assert_msg(!strcmp(got, "127.0.0.2:7711"), "a replayed announcement moved bob to %s", got);
    json_t *p = peer_row(&a, bob_hex);
    ck_assert_uint_eq(json_array_size(json_object_get(p, "addresses")), 1);
    ck_assert(json_is_true(json_object_get(p, "online")));
    json_decref(p);
    ck_assert_int_eq(harness_stop(&a), 0);
    harness_cleanup(&a);
}
END_TEST

/* A goodbye asks nothing of the peer table, so a stranger's goodbye must
 * not take a place among the nodes discovery remembers (peers). */
START_TEST(goodbye_from_stranger_is_not_remembered)
{
    harness_node a;
    identity *x = NULL;
    ck_assert_int_eq(identity_generate(&x, 2048), NT_OK);
    ck_assert_int_eq(harness_start(&a, "alice", disc_args), 0);
    uint8_t bye[DISCOVERY_PACKET_MAX];
    size_t len = announcement(x, 1, unix_ms(), 0xEE, DISCOVERY_FLAG_GOODBYE, 7711, bye);
    send_from("127.0.0.9", bye, len);
    wait_counter(&a, "announces", 1);
    ck_assert_int_eq(hd_counter(&a, "peers"), 0);
    identity_free(x);
    ck_assert_int_eq(harness_stop(&a), 0);
    harness_cleanup(&a);
}
END_TEST

/* Bob's goodbye, signed before the node restarts (say, captured on the
 * LAN), is replayed after it, before bob has been heard again: the node
 * remembers nothing of bob's announcements, and a goodbye from a node not
 * heard since start is not remembered either, so nothing would stop it
 * being replayed over and over; it is ignored, as an announcement from
 * before the start may not move a peer. A stranger's goodbye, sent after
 * it, marks when it has been handled. */
START_TEST(goodbye_from_before_restart_is_ignored)
{
    harness_node a;
    identity *x = NULL;
    ck_assert_int_eq(identity_generate(&x, 2048), NT_OK);
    ck_assert_int_eq(harness_start(&a, "alice", disc_args), 0);
    uint8_t ann[DISCOVERY_PACKET_MAX], bye[DISCOVERY_PACKET_MAX], mark[DISCOVERY_PACKET_MAX];
    size_t len = announcement(bob, 1, unix_ms(), 0xB3, 0, 7711, ann);
    send_from("127.0.0.2", ann, len);
    wait_counter(&a, "announces", 1);
    size_t bye_len = announcement(bob, 2, unix_ms(), 0xB3, DISCOVERY_FLAG_GOODBYE, 7711, bye);

    ck_assert_int_eq(harness_stop(&a), 0);
    ck_assert_int_eq(harness_restart(&a, disc_args), 0);
    json_t *p = peer_row(&a, bob_hex);
    ck_assert(json_is_true(json_object_get(p, "online"))); /* seen a moment ago */
    json_decref(p);
    send_from("127.0.0.2", bye, bye_len);
    size_t mark_len = announcement(x, 1, unix_ms(), 0xEF, DISCOVERY_FLAG_GOODBYE, 7711, mark);
    send_from("127.0.0.9", mark, mark_len);
    wait_counter(&a, "announces", 1);
    p = peer_row(&a, bob_hex);
    ck_assert_msg(json_is_true(json_object_get(p, "online")), "a goodbye from before the restart showed bob offline");
    json_decref(p);
    ck_assert_int_eq(hd_counter(&a, "dropped.replay"), 1);
    identity_free(x);
    ck_assert_int_eq(harness_stop(&a), 0);
    harness_cleanup(&a);
}
END_TEST

/* The same peer, name, address and instance a moment later: no write, so
 * last_seen (seconds) stays where the first announcement put it. */
START_TEST(unchanged_announcement_writes_nothing)
{
    harness_node a;
    ck_assert_int_eq(harness_start(&a, "alice", disc_args), 0);
    uint8_t ann[DISCOVERY_PACKET_MAX];
    size_t len = announcement(bob, 1, unix_ms(), 0xB1, 0, 7711, ann);
    send_from("127.0.0.2", ann, len);
    wait_counter(&a, "announces", 1);
    json_t *p = peer_row(&a, bob_hex);
    ck_assert_ptr_nonnull(p);
    json_int_t first = json_integer_value(json_object_get(p, "last_seen"));
    json_decref(p);
    int64_t next_s = (int64_t)first + 1000; /* ms, whole seconds */
    ck_assert(harness_wait(later_than, &next_s, 3000));
    len = announcement(bob, 2, unix_ms(), 0xB1, 0, 7711, ann);
    send_from("127.0.0.2", ann, len);
    wait_counter(&a, "announces", 2);
    p = peer_row(&a, bob_hex);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "last_seen")), first);
    json_decref(p);
    ck_assert_int_eq(harness_stop(&a), 0);
    harness_cleanup(&a);
}
END_TEST

typedef struct {
    harness_node *const *all;
} pair_arg;

static bool pair_found(void *arg)
{
    const pair_arg *w = arg;
    static const char *const hosts[2] = {"127.0.0.1", "127.0.0.1"};
    return hd_lists_all(w->all[0], w->all, 2, hosts) && hd_lists_all(w->all[1], w->all, 2, hosts);
}

/* B's newest address is one where nothing listens (B's own signed
 * announcement, sent from 127.0.0.5 with port 1): a connect goes on to
 * B's other address, and that one is the one dialled from then on. */
START_TEST(connect_tries_other_addresses)
{
    harness_node n[2];
    ck_assert_int_eq(harness_start(&n[0], "alice", disc_args), 0);
    ck_assert_int_eq(harness_start(&n[1], "bob", disc_args), 0);
    harness_node *all[2] = {&n[0], &n[1]};
    pair_arg pw = {all};
    ck_assert_msg(harness_wait(pair_found, &pw, WAIT_MS), "the nodes did not find each other");

    char path[PATH_MAX + 32], real[64];
    identity *bkey = NULL;
    snprintf(path, sizeof path, "%s/%s", n[1].data_dir, NODE_KEY_FILE);
    ck_assert_int_eq(identity_load(&bkey, path), NT_OK);
    snprintf(real, sizeof real, "127.0.0.1:%u", (unsigned)n[1].peer_port);
    /* A later second than the real address's, so the dead one is newest. */
    json_t *p = peer_row(&n[0], n[1].node_id);
    int64_t after = (int64_t)json_integer_value(json_object_get(p, "last_seen")) + 1000; /* ms, whole seconds */
    json_decref(p);
    ck_assert(harness_wait(later_than, &after, 3000));
    uint8_t ann[DISCOVERY_PACKET_MAX];
    /* a new instance, so it is not older than bob's own announcements */
    size_t len = announcement(bkey, 1, unix_ms() + 1000, 0xD0, 0, 1, ann);
    send_from("127.0.0.5", ann, len);
    addr_arg w = {&n[0], n[1].node_id, "127.0.0.5:1"};
    ck_assert_msg(harness_wait(dial_address_is, &w, WAIT_MS), "the dead address did not become the newest");

    harness_resp r;
    client_peer_action(&n[0], n[1].node_id, "connect", NULL, &r);
    ck_assert_msg(r.status == 200, "connect: %ld %s", r.status, r.body);
    harness_resp_free(&r);
    w.addr = real;
    ck_assert_msg(dial_address_is(&w), "the address that answered is not the one dialled now");
    identity_free(bkey);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(harness_stop(&n[i]), 0);
        harness_cleanup(&n[i]);
    }
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("discovery_replay");
    TCase *tc = tcase_create("loopback");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, replay_after_restart_does_not_move_address);
    tcase_add_test(tc, goodbye_from_stranger_is_not_remembered);
    tcase_add_test(tc, goodbye_from_before_restart_is_ignored);
    tcase_add_test(tc, unchanged_announcement_writes_nothing);
    tcase_add_test(tc, connect_tries_other_addresses);
    suite_add_tcase(s, tc);
    return s;
}
