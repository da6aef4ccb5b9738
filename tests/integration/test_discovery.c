/* Integration: discovery between real natterd processes on loopback.
 * Each test uses its own random group and free UDP port and --interface lo,
 * so nothing leaves the host and parallel runs do not meet. */
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
#include "crypto/sign.h"
#include "harness.h"
#include "server/discovery/discovery_packet.h"
#include "harness_discovery.h"
#include "tests/test_main.h"

#define N 3
#define FIND_WITHIN_MS 2000

START_TEST(three_nodes_find_each_other_on_lo)
{
    char group[16], port[8];
    hd_private_group(group, port);
    const char *args[] = {"--no-discovery=off", "--interface", "lo", "--discovery-group", group,
                          "--discovery-port", port, NULL};
    harness_node nodes[N], *all[N];
    const char *hosts[N] = {"127.0.0.1", "127.0.0.1", "127.0.0.1"};
    static const char *const names[N] = {"disc-a", "disc-b", "disc-c"};
    for (int i = 0; i < N; i++) {
        all[i] = &nodes[i];
        ck_assert_int_eq(harness_start(&nodes[i], names[i], args), 0);
    }
    long long ready = hd_now_ms(), found_at = -1;
    while (hd_now_ms() - ready <= FIND_WITHIN_MS + 500) { /* bounded; judged below */
        bool done = true;
        for (int i = 0; i < N && done; i++)
            done = hd_lists_all(&nodes[i], all, N, hosts);
        if (done) {
            found_at = hd_now_ms();
            break;
        }
        hd_pause_ms(20);
    }
    if (found_at < 0)
        for (int i = 0; i < N; i++)
            harness_dump_log(&nodes[i]);
    ck_assert_msg(found_at >= 0, "the three nodes did not all list each other");
    ck_assert_msg(found_at - ready <= FIND_WITHIN_MS, "found each other after %lld ms", found_at - ready);
    fprintf(stderr, "discovery on lo: all 3 listed %lld ms after the last node was ready\n", found_at - ready);

    for (int i = 0; i < N; i++) {
        json_t *peers = hd_peers(&nodes[i]);
        ck_assert_ptr_nonnull(peers);
        ck_assert_ptr_null(hd_peer(peers, nodes[i].node_id)); /* never itself */
        json_decref(peers);
        ck_assert_int_eq(hd_counter(&nodes[i], "peers"), N - 1);
        ck_assert_int_ge(hd_counter(&nodes[i], "sent"), 2); /* announcement and query */
        ck_assert_int_ge(hd_counter(&nodes[i], "dropped.own"), 1);
        ck_assert_int_eq(hd_counter(&nodes[i], "dropped.bad_signature"), 0);
        ck_assert_int_eq(hd_counter(&nodes[i], "interfaces"), 1);
    }
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(harness_stop(&nodes[i]), 0);
        harness_cleanup(&nodes[i]);
    }
}
END_TEST

/* The harness default: discovery off, nothing sent, nothing found. */
START_TEST(off_by_default_in_tests)
{
    harness_node n;
    ck_assert_int_eq(harness_start(&n, "quiet", NULL), 0);
    json_t *d = hd_discovery(&n);
    ck_assert_ptr_nonnull(d);
    ck_assert(json_is_false(json_object_get(d, "enabled")));
    ck_assert_ptr_null(json_object_get(d, "sent"));
    json_decref(d);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

/* Bad settings are refused at start with a reason, not ignored. */
START_TEST(bad_settings_refused)
{
    static const char *const bad[][3] = {
        {"--discovery-group", "10.1.2.3", "multicast"},
        {"--interface", "nosuchif0", "nosuchif0"},
        {"--peer-expiry", "1", "peer-expiry"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char dir[] = "/tmp/natter-test-XXXXXX", data[64], err[4096];
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(data, sizeof data, "%s/data", dir);
        const char *args[] = {"--data-dir", data, "--listen", "127.0.0.1:0", "--client-listen", "127.0.0.1:0",
                              "--key-bits", "2048", bad[i][0], bad[i][1], NULL};
        int st = harness_run(args, 60000, err, sizeof err);
        ck_assert_msg(st != 0, "%s %s accepted", bad[i][0], bad[i][1]);
        ck_assert_msg(strstr(err, bad[i][2]) != NULL, "no reason for %s in: %s", bad[i][0], err);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        ck_assert_int_eq(system(cmd), 0);
    }
}
END_TEST

/* A signed announcement from k named name (any bytes: written over a
 * placeholder of its length, then signed), to the group on lo. */
static void announce_as(const identity *k, const char *name, uint32_t seq, const char *group, const char *port)
{
    uint8_t buf[DISCOVERY_PACKET_MAX], der[IDENTITY_PUB_DER_MAX];
    char placeholder[DISCOVERY_NAME_MAX + 1];
    size_t len = 0, der_len = 0, sig_len = 0, nl = strlen(name);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    memset(placeholder, 'x', nl);
    placeholder[nl] = 0;
    discovery_announce_fields f = {.timestamp_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, .seq = seq,
                                   .peer_port = 9, .name = placeholder};
    memset(f.instance_id, 0xAB, sizeof f.instance_id);
    ck_assert_int_eq(identity_public_der(k, der, sizeof der, &der_len), NT_OK);
    ck_assert_int_eq(discovery_packet_encode_unsigned(identity_id(k), &f, der, der_len, buf, sizeof buf, &len),
                     NT_OK);
    uint8_t *at = memmem(buf, len, placeholder, nl);
    ck_assert_ptr_nonnull(at);
    memcpy(at, name, nl);
    ck_assert_int_eq(sign_create(k, SIGN_ANNOUNCE, buf, len, buf + len + 2, sizeof buf - len - 2, &sig_len), NT_OK);
    buf[len] = (uint8_t)(sig_len >> 8), buf[len + 1] = (uint8_t)sig_len;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo), 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    ck_assert_int_eq(inet_pton(AF_INET, group, &to.sin_addr), 1);
    ck_assert_int_eq(sendto(fd, buf, len + 2 + sig_len, 0, (struct sockaddr *)&to, sizeof to),
                     (ssize_t)(len + 2 + sig_len));
    close(fd);
}

/* A signed announcement whose name could pass for another one (a space at
 * either end, an invisible character) is dropped as bad_name and records
 * nothing; the same sender named properly is listed under that name. */
START_TEST(lookalike_names_dropped)
{
    char group[16], port[8], hex[IDENTITY_ID_HEX_LEN + 1];
    hd_private_group(group, port);
    const char *args[] = {"--no-discovery=off", "--interface", "lo", "--discovery-group", group,
                          "--discovery-port", port, NULL};
    harness_node n;
    ck_assert_int_eq(harness_start(&n, "disc-a", args), 0);
    identity *k = NULL;
    ck_assert_int_eq(rng_init(), NT_OK);
    ck_assert_int_eq(identity_generate(&k, 2048), NT_OK);
    identity_id_hex(k, hex);
    static const char *const refused[] = {"mallory ", " mallory", "mallory\xe2\x80\x8d", "mallory\xe3\x85\xa4",
                                          "   "};
    uint32_t seq = 1;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        announce_as(k, refused[i], seq++, group, port);
    announce_as(k, "mallory", seq++, group, port);
    json_t *p = NULL, *peers = NULL;
    for (long long t0 = hd_now_ms(); !p && hd_now_ms() - t0 < 10000; hd_pause_ms(20)) {
        json_decref(peers);
        peers = hd_peers(&n);
        p = hd_peer(peers, hex);
    }
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(json_string_value(json_object_get(p, "name")), "mallory");
    json_decref(peers);
    ck_assert_int_eq(hd_counter(&n, "dropped.bad_name"), (long long)(sizeof refused / sizeof refused[0]));
    identity_free(k);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("discovery");
    TCase *tc = tcase_create("loopback");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, three_nodes_find_each_other_on_lo);
    tcase_add_test(tc, off_by_default_in_tests);
    tcase_add_test(tc, bad_settings_refused);
    tcase_add_test(tc, lookalike_names_dropped);
    suite_add_tcase(s, tc);
    return s;
}
