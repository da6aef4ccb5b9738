/* Integration: is a peer there? Real natterd processes on loopback, each
 * test on its own random group and free UDP port.
 *  - a node whose peer API listens on 127.0.0.1 announces on lo only (no
 *    --interface needed), so its peers record it at 127.0.0.1:port;
 *  - a node that stops cleanly says goodbye: its peers show it offline at
 *    once (not after --peer-expiry) and emit a "peer" event, and online
 *    again with an event when it is back;
 *  - a call to a peer that is gone (killed: no goodbye) marks it offline,
 *    and the error names the address tried. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_discovery.h"
#include "tests/test_main.h"

#define FIND_WITHIN_MS 5000
#define OFFLINE_WITHIN_MS 10000 /* the bound the user sees; in practice well under 1 s */

typedef struct {
    const harness_node *at;   /* the node asked */
    const harness_node *peer; /* the peer looked up */
    harness_node *const *all; /* hd_lists_all: every node */
    bool online;              /* peer_online: the state waited for */
} wait_arg;

static bool lists_both(void *arg)
{
    const wait_arg *w = arg;
    static const char *const hosts[2] = {"127.0.0.1", "127.0.0.1"};
    return hd_lists_all(w->all[0], w->all, 2, hosts) && hd_lists_all(w->all[1], w->all, 2, hosts);
}

static bool peer_online_is(void *arg)
{
    const wait_arg *w = arg;
    json_t *peers = hd_peers(w->at);
    json_t *p = hd_peer(peers, w->peer->node_id);
    bool ok = p && json_is_boolean(json_object_get(p, "online")) &&
              json_is_true(json_object_get(p, "online")) == w->online;
    json_decref(peers);
    return ok;
}

/* Two nodes on a private group, listening on 127.0.0.1 (the harness
 * default): they must find each other on lo, at 127.0.0.1. */
static char group[16], port[8];
static const char *pair_args[] = {"--no-discovery=off", "--discovery-group", group, "--discovery-port", port,
                                  NULL, NULL, NULL};

/* with_lo: also --interface lo (the usual way before listen-address
 * scoping, so the later checks stand on their own). */
static void start_pair(harness_node n[2], const char *const names[2], bool with_lo)
{
    hd_private_group(group, port);
    pair_args[5] = with_lo ? "--interface" : NULL;
    pair_args[6] = with_lo ? "lo" : NULL;
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(harness_start(&n[i], names[i], pair_args), 0);
    harness_node *all[2] = {&n[0], &n[1]};
    wait_arg w = {.all = all};
    bool found = harness_wait(lists_both, &w, FIND_WITHIN_MS);
    if (!found)
        for (int i = 0; i < 2; i++)
            harness_dump_log(&n[i]);
    ck_assert_msg(found, "the nodes did not list each other at 127.0.0.1:<peer port> within %d ms", FIND_WITHIN_MS);
}

static void stop_pair(harness_node n[2])
{
    for (int i = 0; i < 2; i++) {
        if (n[i].pid)
            ck_assert_int_eq(harness_stop(&n[i]), 0);
        harness_cleanup(&n[i]);
    }
}

/* The "peer" event about peer with this online state in at's event log. */
static bool has_peer_event(const harness_node *at, const harness_node *peer, bool online)
{
    harness_resp r;
    bool found = false;
    if (harness_get(at, HARNESS_CLIENT, "/v1/client/events?wait=0&limit=500", &r) != 0)
        return false;
    json_t *ev, *events = json_object_get(r.json, "events");
    size_t i;
    json_array_foreach(events, i, ev) {
        const char *type = json_string_value(json_object_get(ev, "type"));
        const char *id = json_string_value(json_object_get(ev, "peer"));
        json_t *on = json_object_get(ev, "online");
        if (type && !strcmp(type, "peer") && id && !strcmp(id, peer->node_id) && json_is_boolean(on) &&
            json_is_true(on) == online && json_is_string(json_object_get(ev, "label")))
            found = true;
    }
    harness_resp_free(&r);
    return found;
}

START_TEST(loopback_node_found_at_loopback_address)
{
    harness_node n[2];
    static const char *const names[2] = {"lo-a", "lo-b"};
    start_pair(n, names, false); /* no --interface: the listen address decides */
    /* start_pair checked the address; nothing was dropped as implausible */
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(hd_counter(&n[i], "interfaces"), 1);
        ck_assert_int_eq(hd_counter(&n[i], "dropped.bad_addr"), 0);
    }
    stop_pair(n);
}
END_TEST

START_TEST(clean_stop_shows_offline_at_once)
{
    harness_node n[2];
    static const char *const names[2] = {"bye-a", "bye-b"};
    start_pair(n, names, true);
    wait_arg w = {.at = &n[0], .peer = &n[1], .online = false};
    long long t0 = hd_now_ms();
    ck_assert_int_eq(harness_stop(&n[1]), 0);
    bool offline = harness_wait(peer_online_is, &w, OFFLINE_WITHIN_MS);
    long long took = hd_now_ms() - t0;
    if (!offline)
        harness_dump_log(&n[0]);
    ck_assert_msg(offline, "a cleanly stopped peer still shown online after %lld ms", took);
    fprintf(stderr, "goodbye: peer shown offline %lld ms after SIGTERM\n", took);
    ck_assert(has_peer_event(&n[0], &n[1], false));
    ck_assert_int_ge(hd_counter(&n[0], "announces"), 2); /* the announcement and the goodbye */

    /* Back: online again at once, with an event. */
    ck_assert_int_eq(harness_restart(&n[1], pair_args), 0);
    w.online = true;
    ck_assert_msg(harness_wait(peer_online_is, &w, FIND_WITHIN_MS), "the peer is back but still shown offline");
    ck_assert(has_peer_event(&n[0], &n[1], true));
    stop_pair(n);
}
END_TEST

START_TEST(failed_call_shows_offline_and_names_address)
{
    harness_node n[2];
    static const char *const names[2] = {"gone-a", "gone-b"};
    start_pair(n, names, true);
    char path[160], addr[96];
    snprintf(path, sizeof path, "/v1/client/peers/%s/connect", n[1].node_id);
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)n[1].peer_port);
    harness_kill(&n[1]); /* no goodbye */
    wait_arg w = {.at = &n[0], .peer = &n[1], .online = true};
    ck_assert(peer_online_is(&w)); /* nothing told n[0] yet */

    harness_resp r;
    ck_assert_int_eq(harness_post(&n[0], HARNESS_CLIENT, path, NULL, &r), 0);
    ck_assert_int_eq(r.status, 502);
    ck_assert_str_eq(harness_error_code(&r), "peer_unreachable");
    const char *msg = json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
    ck_assert_msg(msg && strstr(msg, addr), "error message \"%s\" does not name %s", msg ? msg : "", addr);
    harness_resp_free(&r);

    w.online = false;
    ck_assert_msg(peer_online_is(&w), "a peer that refused the connection is still shown online");
    ck_assert(has_peer_event(&n[0], &n[1], false));
    json_t *peers = hd_peers(&n[0]);
    const char *last = json_string_value(
        json_object_get(json_object_get(hd_peer(peers, n[1].node_id), "session"), "last_error"));
    ck_assert_msg(last && strstr(last, addr), "last_error \"%s\" does not name %s", last ? last : "", addr);
    json_decref(peers);
    stop_pair(n);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("discovery_presence");
    TCase *tc = tcase_create("loopback");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, loopback_node_found_at_loopback_address);
    tcase_add_test(tc, clean_stop_shows_offline_at_once);
    tcase_add_test(tc, failed_call_shows_offline_and_names_address);
    suite_add_tcase(s, tc);
    return s;
}
