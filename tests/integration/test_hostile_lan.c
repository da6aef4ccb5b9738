/* Integration: a hostile LAN around two real natterd processes.
 *
 * - A handshake replayed from another source address does not move the
 *   peer: the address is learned only from a session whose key was
 *   confirmed (the test plays the attacker with the victim's own handshake
 *   body, sent from 127.0.0.2, and then the victim itself from there).
 * - A handshake that fails at the serving node or in its reply is
 *   handshake_failed in the client API, not peer_unreachable.
 * - After a plaintext (forgeable) unknown_session answer, only idempotent
 *   requests are sent again.
 * A small libmicrohttpd proxy between the nodes plays the attacker on the
 * path. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/encoding.h"
#include "crypto/rng.h"
#include "harness.h"
#include "harness_client.h"
#include "harness_proxy.h"
#include "server/channel/envelope.h"
#include "server/channel/handshake.h"
#include "server/core/node.h"
#include "tests/test_main.h"

/* ---- helpers ---- */

/* The address node n has stored for peer id ("" if none). */
static void stored_address(const harness_node *n, const char *id, char out[64])
{
    char path[160];
    snprintf(path, sizeof path, "/v1/client/peers/%s", id);
    json_t *p = client_json(n, HARNESS_CLIENT, "GET", path, NULL, 200);
    const char *a = json_string_value(json_object_get(p, "address"));
    snprintf(out, 64, "%s", a ? a : "");
    json_decref(p);
}

/* POST body to url from the local address src; the status, and the body
 * as JSON into *out (NULL if not JSON; owned by the caller). */
static long post_from(const char *src, const char *url, const char *body, json_t **out)
{
    harness_resp r;
    ck_assert_int_eq(harness_request_from(src, "POST", url, body, strlen(body), &r), 0);
    long status = r.status;
    *out = r.json ? json_incref(r.json) : NULL;
    harness_resp_free(&r);
    return status;
}

/* ---- a proxy in front of a node, playing the attacker on the path ---- */

typedef enum {
    PX_PASS = 0,
    PX_HS_REFUSED,   /* the handshake answered 400 malformed */
    PX_HS_CURVE,     /* reply's curve changed (does not match the request) */
    PX_HS_NO_SIG,    /* reply's signature removed */
    PX_HS_JUNK_SIG,  /* reply's signature replaced by junk of the same length */
    PX_HS__COUNT,
    PX_FORGE_UNKNOWN /* requests to forge_path are delivered, the answer is a plaintext unknown_session */
} px_mode;

static struct {
    harness_proxy hp;
    char upstream[96];
    px_mode mode;
    const char *forge_path;
    int forge_left, forged_seen; /* answers still to forge; requests to forge_path seen */
} px;

static void px_tamper(json_t *reply)
{
    switch (px.mode) {
    case PX_HS_CURVE: json_object_set_new(reply, "curve", json_string("p256")); break;
    case PX_HS_NO_SIG: json_object_del(reply, "signature"); break;
    case PX_HS_JUNK_SIG: {
        uint8_t junk[256];
        char b64[400];
        ck_assert_int_eq(rng_bytes(junk, sizeof junk), NT_OK);
        ck_assert_int_eq(encoding_b64_encode(junk, sizeof junk, B64_STD, b64, sizeof b64), NT_OK);
        json_object_set_new(reply, "signature", json_string(b64));
        break;
    }
    default: break;
    }
}

static enum MHD_Result px_answer(struct MHD_Connection *c, unsigned status, const char *body)
{
    return harness_proxy_answer(c, status, body, strlen(body));
}

/* Forward to the node, then tamper with or replace the answer. */
static enum MHD_Result px_forward(void *arg, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *body, size_t len)
{
    (void)arg;
    bool hs = !strcmp(url, "/v1/handshake");
    if (hs && px.mode == PX_HS_REFUSED)
        return px_answer(c, 400, "{\"error\":{\"code\":\"malformed\",\"message\":\"refused by the proxy\"}}");
    char full[256];
    snprintf(full, sizeof full, "%s%s", px.upstream, url);
    harness_resp resp;
    if (harness_request(method, full, NULL, body, len, &resp))
        return MHD_NO;
    char *out = NULL;
    if (hs && resp.status == 200 && resp.json && px.mode < PX_HS__COUNT) {
        px_tamper(resp.json);
        out = json_dumps(resp.json, JSON_COMPACT);
    }
    if (px.mode == PX_FORGE_UNKNOWN && strstr(url, px.forge_path)) {
        px.forged_seen++;
        if (px.forge_left > 0) {
            px.forge_left--;
            free(out);
            out = strdup("{\"error\":{\"code\":\"unknown_session\",\"message\":\"no such session\"}}");
            resp.status = 401;
        }
    }
    enum MHD_Result q = px_answer(c, (unsigned)resp.status, out ? out : resp.body ? resp.body : "");
    free(out);
    harness_resp_free(&resp);
    return q;
}

static void px_start(const harness_node *upstream)
{
    memset(&px, 0, sizeof px);
    snprintf(px.upstream, sizeof px.upstream, "%s", upstream->peer_url);
    harness_proxy_start(&px.hp, px_forward, NULL);
}

/* ---- tests ---- */

/* A handshake request signed with A's key (as if captured on the wire
 * before it reached B), port = A's peer port. */
static json_t *a_handshake(const harness_node *a, const harness_node *b, identity **akey, hs_pending **p)
{
    char path[PATH_MAX + 32];
    uint8_t bid[IDENTITY_ID_LEN];
    size_t got = 0;
    json_t *req = NULL;
    snprintf(path, sizeof path, "%s/%s", a->data_dir, NODE_KEY_FILE);
    if (!*akey)
        ck_assert_int_eq(identity_load(akey, path), NT_OK);
    ck_assert_int_eq(encoding_hex_decode(b->node_id, IDENTITY_ID_HEX_LEN, bid, sizeof bid, &got), NT_OK);
    ck_assert_int_eq(handshake_start(*akey, "alice", a->peer_port, bid, HS_MODE_ECDH, ECDH_X25519,
                                     (int64_t)time(NULL), p, &req),
                     NT_OK);
    return req;
}

static bool next_second(void *arg)
{
    return time(NULL) > *(time_t *)arg;
}

START_TEST(address_learned_only_from_confirmed_session)
{
    harness_node a, b;
    ck_assert_int_eq(harness_start(&a, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(&b, "bob", NULL), 0);
    client_add_peer(&a, b.peer, b.node_id);
    harness_resp r;
    client_peer_action(&a, b.node_id, "ping", NULL, &r);
    ck_assert_msg(r.status == 200, "ping: %ld %s", r.status, r.body);
    harness_resp_free(&r);
    char addr[64], want[64];
    snprintf(want, sizeof want, "127.0.0.1:%u", (unsigned)a.peer_port);
    stored_address(&b, a.node_id, addr);
    ck_assert_str_eq(addr, want);

    /* The attacker sends A's handshake from 127.0.0.2: B answers it (the
     * signature is A's), but the session never confirms and A stays put.
     * (The peer table orders addresses by last use in whole seconds: each
     * step starts in a later second than the one before.) */
    ck_assert(harness_wait(next_second, &(time_t){time(NULL)}, 3000));
    identity *akey = NULL;
    hs_pending *p = NULL;
    json_t *req = a_handshake(&a, &b, &akey, &p), *reply = NULL;
    char *body = json_dumps(req, JSON_COMPACT), url[160];
    snprintf(url, sizeof url, "%s/v1/handshake", b.peer_url);
    ck_assert_int_eq(post_from("127.0.0.2", url, body, &reply), 200);
    stored_address(&b, a.node_id, addr);
    ck_assert_str_eq(addr, want);
    free(body);
    json_decref(reply);
    json_decref(req);
    handshake_pending_free(p);

    /* A itself from 127.0.0.2, with a session it confirms: B moves it. */
    ck_assert(harness_wait(next_second, &(time_t){time(NULL)}, 3000));
    req = a_handshake(&a, &b, &akey, &p);
    body = json_dumps(req, JSON_COMPACT);
    ck_assert_int_eq(post_from("127.0.0.2", url, body, &reply), 200);
    identity *bkey = NULL;
    harness_resp nr;
    ck_assert_int_eq(harness_get(&b, HARNESS_PEER, "/v1/node", &nr), 0);
    const char *pem = json_string_value(json_object_get(nr.json, "public_key"));
    ck_assert_int_eq(identity_from_pem(&bkey, pem, strlen(pem) + 1), NT_OK);
    harness_resp_free(&nr);
    hs_session s;
    ck_assert_int_eq(handshake_finish(p, bkey, reply, (int64_t)time(NULL), &s), NT_OK);
    char *env = NULL;
    ck_assert_int_eq(envelope_seal(&s.c2s, ENVELOPE_C2S, s.session_id, 0, "POST", "/v1/peer/ping", NULL, 0,
                                   s.confirm, (const uint8_t *)"{}", 2, &env),
                     NT_OK);
    json_decref(reply);
    snprintf(url, sizeof url, "%s/v1/peer/ping", b.peer_url);
    ck_assert_int_eq(post_from("127.0.0.2", url, env, &reply), 200);
    snprintf(want, sizeof want, "127.0.0.2:%u", (unsigned)a.peer_port);
    stored_address(&b, a.node_id, addr);
    ck_assert_str_eq(addr, want);
    free(env);
    free(body);
    json_decref(reply);
    json_decref(req);
    handshake_pending_free(p);
    handshake_session_wipe(&s);
    identity_free(akey);
    identity_free(bkey);
    harness_cleanup(&a);
    harness_cleanup(&b);
}
END_TEST

START_TEST(failed_handshake_is_handshake_failed)
{
    harness_node a, b;
    ck_assert_int_eq(harness_start(&a, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(&b, "bob", NULL), 0);
    px_start(&b);
    px.mode = PX_HS_REFUSED; /* the add handshakes at once: no session may come of it */
    client_add_peer(&a, px.hp.addr, b.node_id);
    static const char *what[PX_HS__COUNT] = {"", "refused", "curve changed", "no signature", "junk signature"};
    harness_resp r;
    for (px_mode m = PX_HS_REFUSED; m < PX_HS__COUNT; m++) {
        px.mode = m;
        client_peer_action(&a, b.node_id, "connect", NULL, &r);
        ck_assert_msg(r.status == 502, "%s: %ld %s", what[m], r.status, r.body);
        ck_assert_msg(!strcmp(harness_error_code(&r), "handshake_failed"), "%s: %s", what[m], r.body);
        harness_resp_free(&r);
        client_peer_action(&a, b.node_id, "ping", NULL, &r);
        ck_assert_msg(r.status == 502, "%s: %ld %s", what[m], r.status, r.body);
        ck_assert_msg(!strcmp(harness_error_code(&r), "handshake_failed"), "ping, %s: %s", what[m], r.body);
        harness_resp_free(&r);
    }
    /* Nothing answers: that one is peer_unreachable. */
    harness_proxy_stop(&px.hp);
    client_peer_action(&a, b.node_id, "connect", NULL, &r);
    ck_assert_int_eq(r.status, 502);
    ck_assert_str_eq(harness_error_code(&r), "peer_unreachable");
    harness_resp_free(&r);
    harness_cleanup(&a);
    harness_cleanup(&b);
}
END_TEST

START_TEST(only_idempotent_requests_resent)
{
    harness_node a, b;
    ck_assert_int_eq(harness_start(&a, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(&b, "bob", NULL), 0);
    px_start(&b);
    client_add_peer(&a, px.hp.addr, b.node_id);
    json_t *j = client_json(&b, HARNESS_CLIENT, "POST", "/v1/client/rooms", "{\"name\":\"lobby\",\"access\":\"open\"}",
                            201);
    char room[64], path[160], body[160];
    snprintf(room, sizeof room, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    harness_resp r;
    client_peer_action(&a, b.node_id, "connect", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);

    /* Idempotent (ping): the forged answer makes A handshake and send again. */
    px.mode = PX_FORGE_UNKNOWN;
    px.forge_path = "/v1/peer/ping";
    px.forge_left = 1;
    client_peer_action(&a, b.node_id, "ping", NULL, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    harness_resp_free(&r);
    ck_assert_int_eq(px.forged_seen, 2);

    /* Not idempotent (join): B got it once, A does not send it again and
     * says so; the user retries. */
    px.forge_path = "/join";
    px.forge_left = 1;
    px.forged_seen = 0;
    snprintf(path, sizeof path, "/v1/client/rooms/%s/join", room);
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", b.node_id);
    ck_assert_int_eq(harness_post(&a, HARNESS_CLIENT, path, body, &r), 0);
    ck_assert_msg(r.status >= 500, "%ld %s", r.status, r.body);
    harness_resp_free(&r);
    ck_assert_int_eq(px.forged_seen, 1);
    snprintf(path, sizeof path, "/v1/client/peers/%s", b.node_id);
    j = client_json(&a, HARNESS_CLIENT, "GET", path, NULL, 200);
    const char *err = json_string_value(json_object_get(json_object_get(j, "session"), "last_error"));
    ck_assert_msg(err && strstr(err, "not sent again"), "last_error: %s", err ? err : "(none)");
    json_decref(j);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/join", room);
    json_decref(client_json(&a, HARNESS_CLIENT, "POST", path, body, 200));
    ck_assert_int_eq(px.forged_seen, 2);
    harness_proxy_stop(&px.hp);
    harness_cleanup(&a);
    harness_cleanup(&b);
}
END_TEST

int test_setup(void)
{
    if (rng_init())
        return EXIT_FAILURE;
    return TEST_GO;
}

Suite *test_suite(void)
{
    Suite *s = suite_create("hostile_lan");
    TCase *tc = tcase_create("hostile_lan");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, address_learned_only_from_confirmed_session);
    tcase_add_test(tc, failed_handshake_is_handshake_failed);
    tcase_add_test(tc, only_idempotent_requests_resent);
    suite_add_tcase(s, tc);
    return s;
}
