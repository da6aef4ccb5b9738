/* Integration: discovery between real natterd processes on loopback.
 * Each test uses its own random group and free UDP port and --interface lo,
 * so nothing leaves the host and parallel runs do not meet. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
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

Suite *test_suite(void)
{
    Suite *s = suite_create("discovery");
    TCase *tc = tcase_create("loopback");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, three_nodes_find_each_other_on_lo);
    tcase_add_test(tc, off_by_default_in_tests);
    tcase_add_test(tc, bad_settings_refused);
    suite_add_tcase(s, tc);
    return s;
}
