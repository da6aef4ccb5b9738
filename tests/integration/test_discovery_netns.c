/* Integration: discovery over a real L2 segment. Three natterd nodes, each
 * in its own network namespace, joined by veth pairs to a bridge in a
 * fourth; a fifth namespace on the same bridge plays the attacker. Nodes
 * run with their default interface choice (every multicast-capable one),
 * a short announce interval and expiry. Checks, in order: they find each
 * other; a forged announcement (valid format, wrong signature) changes
 * nothing; a stopped node shows as gone (still listed) after the expiry; a
 * restarted node is seen again with a new instance id. A second test gives
 * one node a second interface on a second segment: it joins on both and is
 * found on both, and the segments stay apart.
 *
 * Needs root and iproute2. Where namespaces cannot be made the binary
 * prints "SKIPPED: <reason>" and runs no test (0 checks, nothing counted as
 * passed). Namespaces are removed on every exit path of the parent; the
 * next run reaps those of a run that was killed. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/identity.h"
#include "crypto/rng.h"
#include "crypto/sign.h"
#include "server/discovery/discovery_packet.h"
#include "harness.h"
#include "harness_discovery.h"
#include "harness_netns.h"
#include "tests/test_main.h"

#define N 3
#define ATTACKER N
#define FAR (N + 1) /* the namespace moved to a second segment */
#define NS_COUNT (N + 2)
#define EXPIRY_S 3
#define FIND_WITHIN_MS 5000
#define GONE_WITHIN_MS ((EXPIRY_S + 4) * 1000)

static harness_netns net;
static harness_node nodes[NS_COUNT];
static harness_node *all[N];
static const char *hosts[N];
static char group[16], port[8];

static void cleanup_net(void) { harness_netns_destroy(&net); }

static void on_signal(int sig)
{
    cleanup_net();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void in_ns(int i) { ck_assert_int_eq(harness_netns_enter(&net, i), 0); }

static const char *const base_args[] = {"--no-discovery=off", "--listen", "0.0.0.0:0", "--announce-interval", "1",
                                        "--peer-expiry", "3", "--discovery-group", group, "--discovery-port", port,
                                        NULL};

static int start_in(int i, const char *name, bool restart)
{
    in_ns(i);
    int rc = restart ? harness_restart(&nodes[i], base_args) : harness_start(&nodes[i], name, base_args);
    in_ns(-1);
    return rc;
}

static json_t *peers_of(int i)
{
    in_ns(i);
    json_t *p = hd_peers(&nodes[i]);
    in_ns(-1);
    return p;
}

static long long counter(int i, const char *path)
{
    in_ns(i);
    long long v = hd_counter(&nodes[i], path);
    in_ns(-1);
    return v;
}

static bool lists_all(int i)
{
    in_ns(i);
    bool ok = hd_lists_all(&nodes[i], all, N, hosts);
    in_ns(-1);
    return ok;
}

static const char *str_of(json_t *peers, int who, const char *field)
{
    return json_string_value(json_object_get(hd_peer(peers, nodes[who].node_id), field));
}

/* online flag of node `who` in node i's list: 1, 0, or -1 if not listed */
static int online_in(int i, int who)
{
    json_t *peers = peers_of(i);
    json_t *p = hd_peer(peers, nodes[who].node_id);
    int v = p ? json_is_true(json_object_get(p, "online")) : -1;
    json_decref(peers);
    return v;
}

static char *instance_of(int i)
{
    in_ns(i);
    json_t *d = hd_discovery(&nodes[i]);
    in_ns(-1);
    const char *s = json_string_value(json_object_get(d, "instance_id"));
    char *out = strdup(s ? s : "");
    json_decref(d);
    return out;
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* From the attacker's namespace, to the group on the shared segment. */
static void send_from_attacker(const uint8_t *buf, size_t len)
{
    in_ns(ATTACKER);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    struct in_addr me;
    ck_assert_int_eq(inet_pton(AF_INET, net.addr[ATTACKER], &me), 1);
    ck_assert_int_eq(setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &me, sizeof me), 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    ck_assert_int_eq(inet_pton(AF_INET, group, &to.sin_addr), 1);
    ck_assert_int_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)len);
    close(fd);
    in_ns(-1);
}

/* Node 1's id and real key, a new name and instance, signed by another key. */
static void forge_as_node1(void)
{
    harness_resp r;
    in_ns(1);
    ck_assert_int_eq(harness_get(&nodes[1], HARNESS_PEER, "/v1/node", &r), 0);
    in_ns(-1);
    const char *pem = json_string_value(json_object_get(r.json, "public_key"));
    ck_assert_ptr_nonnull(pem);
    identity *victim = NULL, *mallory = NULL;
    ck_assert_int_eq(identity_from_pem(&victim, pem, strlen(pem)), NT_OK);
    harness_resp_free(&r);
    ck_assert_int_eq(identity_generate(&mallory, 2048), NT_OK);

    uint8_t der[IDENTITY_PUB_DER_MAX], buf[DISCOVERY_PACKET_MAX];
    size_t der_len = 0, len = 0, sig_len = 0;
    ck_assert_int_eq(identity_public_der(victim, der, sizeof der, &der_len), NT_OK);
    discovery_announce_fields f = {.timestamp_ms = unix_ms(), .seq = 1000000, .peer_port = 9, .name = "mallory"};
    memset(f.instance_id, 0xEE, sizeof f.instance_id);
    ck_assert_int_eq(discovery_packet_encode_unsigned(identity_id(victim), &f, der, der_len, buf, sizeof buf, &len),
                     NT_OK);
    ck_assert_int_eq(sign_create(mallory, SIGN_ANNOUNCE, buf, len, buf + len + 2, sizeof buf - len - 2, &sig_len),
                     NT_OK);
    buf[len] = (uint8_t)(sig_len >> 8), buf[len + 1] = (uint8_t)sig_len;
    send_from_attacker(buf, len + 2 + sig_len);

    /* And a newcomer whose key and id match but whose signature is junk. */
    ck_assert_int_eq(identity_public_der(mallory, der, sizeof der, &der_len), NT_OK);
    f.name = "newcomer";
    ck_assert_int_eq(discovery_packet_encode_unsigned(identity_id(mallory), &f, der, der_len, buf, sizeof buf, &len),
                     NT_OK);
    buf[len] = 0x01, buf[len + 1] = 0x00;
    ck_assert_int_eq(rng_bytes(buf + len + 2, 256), NT_OK);
    send_from_attacker(buf, len + 2 + 256);
    identity_free(victim);
    identity_free(mallory);
}

START_TEST(netns_find_forge_gone_restart)
{
    static const char *const names[N] = {"ns-a", "ns-b", "ns-c"};
    hd_private_group(group, port);

    /* 1. three nodes find each other over the bridge */
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(start_in(i, names[i], false), 0);
    long long t0 = hd_now_ms(), found = -1;
    while (hd_now_ms() - t0 <= FIND_WITHIN_MS) {
        bool done = true;
        for (int i = 0; i < N && done; i++)
            done = lists_all(i);
        if (done) {
            found = hd_now_ms() - t0;
            break;
        }
        hd_pause_ms(20);
    }
    if (found < 0)
        for (int i = 0; i < N; i++)
            harness_dump_log(&nodes[i]);
    ck_assert_msg(found >= 0, "nodes in namespaces did not find each other within %d ms", FIND_WITHIN_MS);
    fprintf(stderr, "netns: all 3 listed each other %lld ms after the last start\n", found);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(counter(i, "interfaces"), 1); /* eth0; lo is not multicast-capable */

    /* 2. forged announcements from the attacker's namespace change nothing */
    json_t *before = peers_of(0);
    char *addr1 = strdup(str_of(before, 1, "address"));
    json_decref(before);
    long long bad0 = counter(0, "dropped.bad_signature"), bad2 = counter(2, "dropped.bad_signature");
    long long restarts0 = counter(0, "restarts");
    forge_as_node1();
    long long t1 = hd_now_ms();
    while ((counter(0, "dropped.bad_signature") < bad0 + 2 || counter(2, "dropped.bad_signature") < bad2 + 2) &&
           hd_now_ms() - t1 < 3000)
        hd_pause_ms(20);
    ck_assert_int_eq(counter(0, "dropped.bad_signature"), bad0 + 2);
    ck_assert_int_eq(counter(2, "dropped.bad_signature"), bad2 + 2);
    for (int i = 0; i < N; i += 2) {
        json_t *peers = peers_of(i);
        ck_assert_int_eq(json_array_size(peers), N - 1); /* no newcomer */
        ck_assert_str_eq(str_of(peers, 1, "name"), names[1]);
        ck_assert_str_eq(str_of(peers, 1, "address"), addr1);
        json_decref(peers);
    }
    ck_assert_int_eq(counter(0, "restarts"), restarts0);
    free(addr1);

    /* 3. a node that vanishes (killed: no goodbye) shows as gone after the
     * expiry, and stays listed */
    char *inst_old = instance_of(2);
    json_t *pl = peers_of(0);
    ck_assert_ptr_nonnull(str_of(pl, 2, "instance_id"));
    ck_assert_str_eq(str_of(pl, 2, "instance_id"), inst_old);
    json_decref(pl);
    harness_kill(&nodes[2]);
    long long t2 = hd_now_ms(), gone = -1;
    while (hd_now_ms() - t2 <= GONE_WITHIN_MS) {
        if (online_in(0, 2) == 0 && online_in(1, 2) == 0) {
            gone = hd_now_ms() - t2;
            break;
        }
        hd_pause_ms(50);
    }
    ck_assert_msg(gone >= 0, "killed node not shown gone within %d ms", GONE_WITHIN_MS);
    ck_assert_msg(gone >= (EXPIRY_S - 2) * 1000, "gone after only %lld ms", gone);
    ck_assert_int_eq(online_in(0, 1), 1); /* the others stay online */
    fprintf(stderr, "netns: killed node shown gone after %lld ms (expiry %d s)\n", gone, EXPIRY_S);

    /* 4. restarted: seen again, with a new instance id */
    ck_assert_int_eq(start_in(2, NULL, true), 0);
    char *inst_new = instance_of(2);
    ck_assert_str_ne(inst_new, inst_old);
    ck_assert_uint_eq(strlen(inst_new), 32);
    long long t3 = hd_now_ms();
    while (!(lists_all(0) && lists_all(1)) && hd_now_ms() - t3 <= FIND_WITHIN_MS)
        hd_pause_ms(20);
    ck_assert(lists_all(0) && lists_all(1));
    for (int i = 0; i < 2; i++) {
        ck_assert_int_ge(counter(i, "restarts"), 1);
        json_t *peers = peers_of(i);
        const char *seen_inst = str_of(peers, 2, "instance_id");
        ck_assert_ptr_nonnull(seen_inst);
        ck_assert_str_eq(seen_inst, inst_new);
        json_decref(peers);
    }
    free(inst_old);
    free(inst_new);

    /* 5. a clean stop says goodbye: gone at once on both other nodes */
    ck_assert_int_eq(harness_stop(&nodes[2]), 0);
    long long t4 = hd_now_ms(), bye = -1;
    while (hd_now_ms() - t4 <= GONE_WITHIN_MS) {
        if (online_in(0, 2) == 0 && online_in(1, 2) == 0) {
            bye = hd_now_ms() - t4;
            break;
        }
        hd_pause_ms(20);
    }
    ck_assert_msg(bye >= 0 && bye < (EXPIRY_S - 2) * 1000, "cleanly stopped node shown gone after %lld ms", bye);
    ck_assert_int_eq(online_in(0, 1), 1);
    fprintf(stderr, "netns: cleanly stopped node shown gone after %lld ms\n", bye);

    for (int i = 0; i < N; i++) {
        if (nodes[i].pid)
            ck_assert_int_eq(harness_stop(&nodes[i]), 0);
        harness_cleanup(&nodes[i]);
    }
}
END_TEST

/* Node 0 gets a second interface on a second segment (bridge br1) where
 * the FAR node lives alone: node 0 joins on both interfaces and is found on
 * both, while the two segments stay apart (TTL 1, no routing). */
START_TEST(netns_two_interfaces)
{
    char args[256];
    hd_private_group(group, port);
    /* second segment: br1 next to br0 in the bridge namespace */
    ck_assert_int_eq(harness_netns_ip(&net, -1, "link add br1 type bridge mcast_snooping 0"), 0);
    ck_assert_int_eq(harness_netns_ip(&net, -1, "link set br1 up"), 0);
    snprintf(args, sizeof args, "link add eth1 type veth peer name q0 netns %s", net.bridge);
    ck_assert_int_eq(harness_netns_ip(&net, 0, args), 0);
    ck_assert_int_eq(harness_netns_ip(&net, -1, "link set q0 master br1 up"), 0);
    ck_assert_int_eq(harness_netns_ip(&net, 0, "addr add 10.250.0.1/24 dev eth1"), 0);
    ck_assert_int_eq(harness_netns_ip(&net, 0, "link set eth1 up"), 0);
    snprintf(args, sizeof args, "link set p%d nomaster", FAR);
    ck_assert_int_eq(harness_netns_ip(&net, -1, args), 0);
    snprintf(args, sizeof args, "link set p%d master br1 up", FAR);
    ck_assert_int_eq(harness_netns_ip(&net, -1, args), 0);
    ck_assert_int_eq(harness_netns_ip(&net, FAR, "addr flush dev eth0"), 0);
    ck_assert_int_eq(harness_netns_ip(&net, FAR, "addr add 10.250.0.2/24 dev eth0"), 0);

    ck_assert_int_eq(start_in(0, "two-legs", false), 0);
    ck_assert_int_eq(start_in(1, "near", false), 0);
    ck_assert_int_eq(start_in(FAR, "far", false), 0);
    ck_assert_int_eq(counter(0, "interfaces"), 2);

    harness_node *near_pair[2] = {&nodes[0], &nodes[1]}, *far_pair[2] = {&nodes[0], &nodes[FAR]};
    const char *near_hosts[2] = {net.addr[0], net.addr[1]}, *far_hosts[2] = {"10.250.0.1", "10.250.0.2"};
    long long t0 = hd_now_ms();
    bool ok = false;
    while (!ok && hd_now_ms() - t0 <= FIND_WITHIN_MS) {
        in_ns(1);
        ok = hd_lists_all(&nodes[1], near_pair, 2, near_hosts);
        in_ns(FAR);
        ok = ok && hd_lists_all(&nodes[FAR], far_pair, 2, far_hosts);
        in_ns(-1);
        if (!ok)
            hd_pause_ms(20);
    }
    ck_assert_msg(ok, "the node with two interfaces was not found on both segments");
    /* node 0 lists both, each at its own segment's address */
    json_t *peers = peers_of(0);
    ck_assert_int_eq(json_array_size(peers), 2);
    ck_assert_str_eq(str_of(peers, FAR, "name"), "far");
    char want[64];
    snprintf(want, sizeof want, "10.250.0.2:%u", (unsigned)nodes[FAR].peer_port);
    ck_assert_str_eq(str_of(peers, FAR, "address"), want);
    json_decref(peers);
    /* after several more announcement rounds the segments are still apart */
    long long base = counter(FAR, "announces");
    for (long long t1 = hd_now_ms(); counter(FAR, "announces") < base + 3 && hd_now_ms() - t1 < 10000;)
        hd_pause_ms(50);
    ck_assert_int_ge(counter(FAR, "announces"), base + 3);
    ck_assert_int_eq(counter(FAR, "peers"), 1);
    ck_assert_int_eq(counter(1, "peers"), 1);

    int idx[3] = {0, 1, FAR};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(harness_stop(&nodes[idx[i]]), 0);
        harness_cleanup(&nodes[idx[i]]);
    }
}
END_TEST

int test_setup(void)
{
    if (rng_init() != NT_OK)
        return EXIT_FAILURE;
    return TEST_GO;
}

Suite *test_suite(void)
{
    char why[256];
    Suite *s = suite_create("discovery_netns");
    if (harness_netns_create(&net, NS_COUNT, why, sizeof why) != 0) {
        /* Nothing to run here: say so, and count nothing as passed. */
        printf("SKIPPED: discovery netns test: %s\n", why);
    } else {
        atexit(cleanup_net);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        for (int i = 0; i < N; i++) {
            all[i] = &nodes[i];
            hosts[i] = net.addr[i];
        }
        TCase *tc = tcase_create("netns");
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, netns_find_forge_gone_restart);
        tcase_add_test(tc, netns_two_interfaces);
        suite_add_tcase(s, tc);
    }
    return s;
}
