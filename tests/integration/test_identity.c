/* Integration: names are not identities, and no peer can wedge the peer
 * table. Hand-made requestors (this process, with identities of their own)
 * handshake with a real natterd under chosen names: two ids named alike,
 * a rename, a source minting ids; two real nodes show each other's
 * messages and members with trust and label. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/rng.h"
#include "harness.h"
#include "harness_proxy.h"
#include "rooms_util.h"
#include "server/channel/handshake.h"
#include "tests/test_main.h"

#define WAIT_MS 30000

static identity *keys[3]; /* requestor identities, made once (RSA is slow) */

/* Handshake with n as `self` named `name`, its signature spoilt when
 * forged; returns the HTTP status, and the response in *out when out is
 * not NULL. On 200 the signed reply is checked with n's key. */
static long handshake_req(const harness_node *n, const identity *self, const char *name, bool forged,
                          harness_resp *out)
{
    harness_resp r = {0};
    ck_assert_int_eq(harness_get(n, HARNESS_PEER, "/v1/node", &r), 0);
    const char *pem = json_string_value(json_object_get(r.json, "public_key"));
    identity *srv = NULL;
    ck_assert_int_eq(identity_from_pem(&srv, pem, strlen(pem) + 1), NT_OK);
    harness_resp_free(&r);
    json_t *req = NULL;
    hs_pending *p = NULL;
    ck_assert_int_eq(handshake_start(self, name, 0, identity_id(srv), HS_MODE_ECDH, ECDH_X25519,
                                     (int64_t)time(NULL), &p, &req),
                     NT_OK);
    if (forged) { /* one base64 digit changed: the same length, another signature */
        char sig[1024];
        snprintf(sig, sizeof sig, "%s", json_string_value(json_object_get(req, "signature")));
        sig[10] = sig[10] == 'A' ? 'B' : 'A';
        json_object_set_new(req, "signature", json_string(sig));
    }
    char *body = json_dumps(req, JSON_COMPACT);
    ck_assert_int_eq(harness_post(n, HARNESS_PEER, "/v1/handshake", body, &r), 0);
    long status = r.status;
    if (status == 200) {
        hs_session s;
        ck_assert_int_eq(handshake_finish(p, srv, r.json, (int64_t)time(NULL), &s), NT_OK);
        handshake_session_wipe(&s);
    }
    if (out)
        *out = r;
    else
        harness_resp_free(&r);
    free(body);
    json_decref(req);
    handshake_pending_free(p);
    identity_free(srv);
    return status;
}

static long handshake_as(const harness_node *n, const identity *self, const char *name, harness_resp *out)
{
    return handshake_req(n, self, name, false, out);
}

/* No statement was left active anywhere in the node (nothing swept). */
static void expect_no_leaks(harness_node *n)
{
    json_t *st = call(n, "GET", NULL, 200, "/v1/client/status");
    json_t *c = json_object_get(json_object_get(st, "counts"), "leaked_statements");
    ck_assert(json_is_integer(c));
    ck_assert_int_eq(json_integer_value(c), 0);
    json_decref(st);
}

static void hex_of(const identity *k, char out[static IDENTITY_ID_HEX_LEN + 1])
{
    identity_id_hex(k, out);
}

static json_t *peer_json(harness_node *n, const char *id)
{
    return call(n, "GET", NULL, 200, "/v1/client/peers/%s", id);
}

static void expect_peer(harness_node *n, const char *id, const char *trust, const char *label, bool collision)
{
    json_t *p = peer_json(n, id);
    ck_assert_str_eq(json_string_value(json_object_get(p, "trust")), trust);
    ck_assert_str_eq(json_string_value(json_object_get(p, "label")), label);
    ck_assert(json_is_boolean(json_object_get(p, "name_collision")));
    ck_assert_int_eq(json_is_true(json_object_get(p, "name_collision")), collision);
    json_decref(p);
}

/* Two ids named "twin" handshake, then a room is created (a write on the
 * rooms' own connection): trust, rename and delete must still work, and
 * later handshakes must still be recorded. This wedged the peer table
 * (500 "database error" until a restart). Labels tell the twins apart. */
START_TEST(twins_do_not_wedge_the_peer_table)
{
    harness_node a;
    ck_assert_int_eq(harness_start(&a, "alice", NULL), 0);
    char h0[65], h1[65], h2[65], l0[80], l1[80];
    hex_of(keys[0], h0);
    hex_of(keys[1], h1);
    hex_of(keys[2], h2);
    snprintf(l0, sizeof l0, "twin~%.8s", h0);
    snprintf(l1, sizeof l1, "twin~%.8s", h1);
    ck_assert_int_eq(handshake_as(&a, keys[0], "twin", NULL), 200);
    ck_assert_int_eq(handshake_as(&a, keys[1], "twin", NULL), 200);
    json_decref(call(&a, "POST", "{\"name\":\"lobby\"}", 201, "/v1/client/rooms"));

    json_decref(call(&a, "POST", "{\"trusted\":true}", 200, "/v1/client/peers/%s/trust", h0));
    json_decref(call(&a, "PUT", "{\"name\":\"alice2\"}", 200, "/v1/client/name"));
    expect_peer(&a, h0, "trusted", l0, true); /* trusted, but not the only "twin" */
    expect_peer(&a, h1, "untrusted", l1, true);
    json_decref(call(&a, "DELETE", NULL, 200, "/v1/client/peers/%s", h1));
    expect_peer(&a, h0, "trusted", "twin", false);

    /* Later handshakes are still recorded. */
    ck_assert_int_eq(handshake_as(&a, keys[2], "third", NULL), 200);
    json_t *p = peer_json(&a, h2);
    ck_assert_str_eq(json_string_value(json_object_get(p, "name")), "third");
    json_decref(p);
    expect_no_leaks(&a);
    harness_cleanup(&a);
}
END_TEST

/* A known peer's new name (from a signed handshake) is an event. */
START_TEST(rename_is_an_event)
{
    harness_node a;
    ck_assert_int_eq(harness_start(&a, "alice", NULL), 0);
    char h0[65], label[80], old_label[80];
    hex_of(keys[0], h0);
    ck_assert_int_eq(handshake_as(&a, keys[0], "bob", NULL), 200);
    json_t *ev = call(&a, "GET", NULL, 200, "/v1/client/events?since=now");
    char since[32];
    snprintf(since, sizeof since, "%s", json_string_value(json_object_get(ev, "next")));
    json_decref(ev);
    ck_assert_int_eq(handshake_as(&a, keys[0], "bob", NULL), 200); /* same name: no event */
    ck_assert_int_eq(handshake_as(&a, keys[0], "robert", NULL), 200);
    ev = call(&a, "GET", NULL, 200, "/v1/client/events?since=%s&wait=5", since);
    ck_assert_uint_eq(json_array_size(json_object_get(ev, "events")), 1);
    json_t *e = harness_json_find(ev, "events", "type", "peer_renamed");
    ck_assert_ptr_nonnull(e);
    snprintf(label, sizeof label, "robert~%.8s", h0);
    snprintf(old_label, sizeof old_label, "bob~%.8s", h0);
    ck_assert_str_eq(json_string_value(json_object_get(e, "peer")), h0);
    ck_assert_str_eq(json_string_value(json_object_get(e, "old_name")), "bob");
    /* the old name as it was shown: untrusted, so with the id */
    ck_assert_ptr_nonnull(json_string_value(json_object_get(e, "old_label")));
    ck_assert_str_eq(json_string_value(json_object_get(e, "old_label")), old_label);
    ck_assert_str_eq(json_string_value(json_object_get(e, "name")), "robert");
    ck_assert_str_eq(json_string_value(json_object_get(e, "label")), label);
    ck_assert_str_eq(json_string_value(json_object_get(e, "trust")), "untrusted");
    ck_assert_ptr_nonnull(json_object_get(e, "token"));
    json_decref(ev);
    json_t *p = peer_json(&a, h0);
    ck_assert_str_eq(json_string_value(json_object_get(p, "name")), "robert");
    json_decref(p);
    harness_cleanup(&a);
}
END_TEST

/* One source minting ids: the cap of new peers per address, then 429
 * with Retry-After; known ids still handshake. */
START_TEST(new_peers_capped_per_source)
{
    harness_node a;
    const char *args[] = {"--max-new-peers-per-source", "2", NULL};
    ck_assert_int_eq(harness_start(&a, "alice", args), 0);
    ck_assert_int_eq(handshake_as(&a, keys[0], "one", NULL), 200);
    ck_assert_int_eq(handshake_as(&a, keys[1], "two", NULL), 200);
    harness_resp r;
    ck_assert_int_eq(handshake_as(&a, keys[2], "three", &r), 429);
    ck_assert_str_eq(harness_error_code(&r), "too_many_peers");
    char ra[32];
    ck_assert_ptr_nonnull(harness_resp_header(&r, "Retry-After", ra, sizeof ra));
    long secs = strtol(ra, NULL, 10);
    ck_assert(secs > 0 && secs <= 3600);
    harness_resp_free(&r);
    /* the cap is looked at before the signature: a new id from that source
     * is refused without costing the node an RSA verify, forged or not */
    ck_assert_int_eq(handshake_req(&a, keys[2], "three", true, &r), 429);
    ck_assert_str_eq(harness_error_code(&r), "too_many_peers");
    ck_assert_ptr_nonnull(harness_resp_header(&r, "Retry-After", ra, sizeof ra));
    harness_resp_free(&r);
    /* a known id's forged request is still a bad signature */
    ck_assert_int_eq(handshake_req(&a, keys[0], "one", true, &r), 401);
    ck_assert_str_eq(harness_error_code(&r), "bad_signature");
    harness_resp_free(&r);
    ck_assert_int_eq(handshake_as(&a, keys[0], "one", NULL), 200);
    json_t *l = call(&a, "GET", NULL, 200, "/v1/client/peers");
    ck_assert_uint_eq(json_array_size(json_object_get(l, "peers")), 2);
    json_decref(l);
    harness_cleanup(&a);
}
END_TEST

typedef struct {
    harness_node *n;
    const char *room;
} room_arg;

static bool has_message(void *arg)
{
    room_arg *a = arg;
    json_t *j = call(a->n, "GET", NULL, 0, "/v1/client/rooms/%s/messages?after=0", a->room);
    bool ok = json_array_size(json_object_get(j, "messages")) >= 2;
    json_decref(j);
    return ok;
}

/* Two real nodes: adding by address learns the name from a handshake;
 * messages, members and invites carry name, trust and label. */
START_TEST(messages_members_invites_labelled)
{
    harness_node a, b;
    ck_assert_int_eq(harness_start(&a, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(&b, "bob", NULL), 0);
    char body[160], room[64], bob_label[80];
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", b.peer);
    /* the name came with the add's handshake (GET /v1/node is not signed) */
    json_t *j = call(&a, "POST", body, 201, "/v1/client/peers");
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "bob");
    json_decref(j);
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", a.peer);
    json_decref(call(&b, "POST", body, 0, "/v1/client/peers"));
    snprintf(bob_label, sizeof bob_label, "bob~%.8s", b.node_id);
    json_t *ev = call(&b, "GET", NULL, 200, "/v1/client/events?since=now");
    char since[32];
    snprintf(since, sizeof since, "%s", json_string_value(json_object_get(ev, "next")));
    json_decref(ev);

    j = call(&a, "POST", "{\"name\":\"lobby\"}", 201, "/v1/client/rooms");
    snprintf(room, sizeof room, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", b.node_id);
    json_decref(call(&a, "POST", body, 200, "/v1/client/rooms/%s/invite", room));
    ev = call(&b, "GET", NULL, 200, "/v1/client/events?since=%s&wait=10", since);
    json_t *inv = harness_json_find(ev, "events", "type", "invite");
    ck_assert_ptr_nonnull(inv);
    ck_assert_str_eq(json_string_value(json_object_get(inv, "name")), "alice");
    ck_assert_str_eq(json_string_value(json_object_get(inv, "trust")), "untrusted");
    json_decref(ev);
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", a.node_id);
    json_decref(call(&b, "POST", body, 200, "/v1/client/rooms/%s/join", room));
    json_decref(call(&b, "PUT", "{\"text\":\"hi\"}", 0, "/v1/client/rooms/%s/messages/t1", room));
    json_decref(call(&a, "PUT", "{\"text\":\"hello\"}", 0, "/v1/client/rooms/%s/messages/t2", room));
    room_arg ra = {&a, room};
    ck_assert(harness_wait(has_message, &ra, WAIT_MS));

    j = call(&a, "GET", NULL, 200, "/v1/client/rooms/%s/messages?after=0", room);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(j, "messages"), i, m) {
        bool mine = json_is_true(json_object_get(m, "mine"));
        ck_assert_str_eq(json_string_value(json_object_get(m, "sender_name")), mine ? "alice" : "bob");
        ck_assert_str_eq(json_string_value(json_object_get(m, "sender_trust")), mine ? "self" : "untrusted");
        ck_assert_str_eq(json_string_value(json_object_get(m, "sender_label")), mine ? "alice" : bob_label);
    }
    json_decref(j);
    json_decref(call(&a, "POST", NULL, 200, "/v1/client/peers/%s/trust", b.node_id));
    j = call(&a, "GET", NULL, 200, "/v1/client/rooms/%s/members", room);
    json_t *mb = harness_json_find(j, "members", "peer", b.node_id);
    json_t *ma = harness_json_find(j, "members", "peer", a.node_id);
    ck_assert_ptr_nonnull(mb);
    ck_assert_ptr_nonnull(ma);
    ck_assert_str_eq(json_string_value(json_object_get(mb, "name")), "bob");
    ck_assert_str_eq(json_string_value(json_object_get(mb, "trust")), "trusted");
    ck_assert_str_eq(json_string_value(json_object_get(mb, "label")), "bob"); /* trusted and unique */
    ck_assert_str_eq(json_string_value(json_object_get(ma, "trust")), "self");
    json_decref(j);
    expect_no_leaks(&a);
    expect_no_leaks(&b);
    harness_cleanup(&a);
    harness_cleanup(&b);
}
END_TEST

static const char *peer_name(harness_node *n, const char *id, char out[static 128])
{
    json_t *p = peer_json(n, id);
    snprintf(out, 128, "%s", json_string_value(json_object_get(p, "name")));
    json_decref(p);
    return out;
}

/* A peer named like this node, or like another peer but for case, shows
 * its id even when trusted; a name that could pass for another one
 * (surrounding space, an invisible character) is refused on the wire as
 * names are (the handshake records no name, PUT /v1/client/name is 400)
 * and changes nothing. */
START_TEST(alike_names_show_the_id)
{
    harness_node a;
    ck_assert_int_eq(harness_start(&a, "alice", NULL), 0);
    char h0[65], h1[65], h2[65], l[80], l2[80], nm[128];
    hex_of(keys[0], h0);
    hex_of(keys[1], h1);
    hex_of(keys[2], h2);
    ck_assert_int_eq(handshake_as(&a, keys[0], "Alice", NULL), 200);
    json_decref(call(&a, "POST", "{\"trusted\":true}", 200, "/v1/client/peers/%s/trust", h0));
    snprintf(l, sizeof l, "Alice~%.8s", h0);
    expect_peer(&a, h0, "trusted", l, true); /* this node is "alice" */

    ck_assert_int_eq(handshake_as(&a, keys[1], "Bob", NULL), 200);
    json_decref(call(&a, "POST", "{\"trusted\":true}", 200, "/v1/client/peers/%s/trust", h1));
    expect_peer(&a, h1, "trusted", "Bob", false);
    ck_assert_int_eq(handshake_as(&a, keys[2], "bob", NULL), 200);
    snprintf(l, sizeof l, "Bob~%.8s", h1);
    snprintf(l2, sizeof l2, "bob~%.8s", h2);
    expect_peer(&a, h1, "trusted", l, true);
    expect_peer(&a, h2, "untrusted", l2, true);

    static const char *const refused[] = {"Bob ", " Bob", "Bob\xe2\x80\x8d", "Bob\xe3\x85\xa4", "\xe3\x85\xa4"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ck_assert_int_eq(handshake_as(&a, keys[2], refused[i], NULL), 200);
        ck_assert_str_eq(peer_name(&a, h2, nm), "bob");
        harness_resp r;
        char body[128];
        snprintf(body, sizeof body, "{\"name\":\"%s\"}", refused[i]);
        ck_assert_int_eq(harness_put(&a, HARNESS_CLIENT, "/v1/client/name", body, &r), 0);
        ck_assert_int_eq(r.status, 400);
        ck_assert_str_eq(harness_error_code(&r), "bad_request");
        harness_resp_free(&r);
    }
    json_t *st = call(&a, "GET", NULL, 200, "/v1/client/status");
    ck_assert_str_eq(json_string_value(json_object_get(st, "name")), "alice");
    json_decref(st);
    expect_no_leaks(&a);
    harness_cleanup(&a);
}
END_TEST

/* ---- a proxy whose GET /v1/node lies about the name (nothing signs it) ---- */

static bool px_lie(void *arg, const char *url, long status, json_t *reply)
{
    (void)arg;
    (void)status;
    if (strcmp(url, "/v1/node"))
        return false;
    json_object_set_new(reply, "name", json_string("mallory"));
    return true;
}

static enum MHD_Result px_forward(void *arg, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *body, size_t len)
{
    return harness_proxy_relay(c, arg, url, method, body, len, px_lie, NULL);
}

/* A adds B through the lying proxy: the name it keeps is the one B signed
 * in its handshake reply, never the one GET /v1/node gave. */
START_TEST(name_from_signed_handshake_not_node_info)
{
    harness_node a, b;
    ck_assert_int_eq(harness_start(&a, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(&b, "bob", NULL), 0);
    harness_proxy px;
    harness_proxy_start(&px, px_forward, b.peer_url);
    char body[128];
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", px.addr);
    json_t *j = call(&a, "POST", body, 201, "/v1/client/peers");
    ck_assert_str_eq(json_string_value(json_object_get(j, "id")), b.node_id);
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "bob");
    json_decref(j);
    /* and again on a later handshake */
    json_decref(call(&a, "POST", "{\"mode\":\"rsa\"}", 200, "/v1/client/peers/%s/connect", b.node_id));
    j = peer_json(&a, b.node_id);
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "bob");
    json_decref(j);
    harness_proxy_stop(&px);
    harness_cleanup(&a);
    harness_cleanup(&b);
}
END_TEST

int test_setup(void)
{
    for (int i = 0; i < 3; i++)
        if (rng_init() || identity_generate(&keys[i], 2048))
            return EXIT_FAILURE;
    return TEST_GO;
}

Suite *test_suite(void)
{
    Suite *s = suite_create("identity");
    TCase *tc = tcase_create("identity");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, twins_do_not_wedge_the_peer_table);
    tcase_add_test(tc, rename_is_an_event);
    tcase_add_test(tc, new_peers_capped_per_source);
    tcase_add_test(tc, messages_members_invites_labelled);
    tcase_add_test(tc, name_from_signed_handshake_not_node_info);
    tcase_add_test(tc, alike_names_show_the_id);
    suite_add_tcase(s, tc);
    return s;
}

int test_teardown(int failed)
{
    for (int i = 0; i < 3; i++)
        identity_free(keys[i]);
    return failed;
}
