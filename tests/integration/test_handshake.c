/* Integration: the handshake and the sealed channel between real natterd
 * processes, and every attack of the threat list refused with its status
 * and no state change. Attacks that need a hand-made requestor use the
 * project's own handshake/envelope modules from this process (the "test
 * requestor", with its own RSA-2048 identity); attacks on the requestor
 * side put a small tampering HTTP proxy (libmicrohttpd) between two nodes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/encoding.h"
#include "crypto/rng.h"
#include "harness.h"
#include "harness_client.h"
#include "harness_proxy.h"
#include "server/channel/envelope.h"
#include "server/channel/handshake.h"
#include "tests/test_main.h"

static identity *me, *other; /* the test requestor's key, and a second key */

/* ---- small helpers ---- */

static json_t *peer_of(const harness_node *a, const char *id)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/client/peers/%s", id);
    return client_json(a, HARNESS_CLIENT, "GET", path, NULL, 200);
}

static const char *session_state(json_t *peer)
{
    return json_string_value(json_object_get(json_object_get(peer, "session"), "state"));
}

/* Sealed ping a -> b through a's client API; returns the session id used. */
static void ping_ok(const harness_node *a, const char *b_id, char sid[33])
{
    harness_resp r;
    client_peer_action(a, b_id, "ping", "{\"echo\":\"hi\"}", &r);
    if (r.status != 200)
        harness_dump_log(a);
    ck_assert_msg(r.status == 200, "ping: %ld %s", r.status, r.body);
    json_t *reply = json_object_get(r.json, "reply");
    ck_assert_str_eq(json_string_value(json_object_get(reply, "echo")), "hi");
    ck_assert_str_eq(json_string_value(json_object_get(reply, "node_id")), b_id);
    const char *s = json_string_value(json_object_get(r.json, "session"));
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(json_string_value(json_object_get(reply, "session")), s);
    snprintf(sid, 33, "%s", s);
    harness_resp_free(&r);
}

static json_int_t channel_count(const harness_node *n, const char *what)
{
    json_t *st = client_json(n, HARNESS_CLIENT, "GET", "/v1/client/status", NULL, 200);
    json_int_t v = json_integer_value(json_object_get(json_object_get(st, "peer_channel"), what));
    json_decref(st);
    return v;
}

static size_t peer_count(const harness_node *n)
{
    json_t *l = client_json(n, HARNESS_CLIENT, "GET", "/v1/client/peers", NULL, 200);
    size_t c = json_array_size(json_object_get(l, "peers"));
    json_decref(l);
    return c;
}

/* ---- the test requestor ---- */

typedef struct {
    const harness_node *srv;
    identity *srv_key;
    uint8_t srv_id[IDENTITY_ID_LEN];
    hs_session s;
    bool up;
} treq;

static void treq_init(treq *t, const harness_node *srv)
{
    memset(t, 0, sizeof(*t));
    t->srv = srv;
    json_t *n = client_json(srv, HARNESS_PEER, "GET", "/v1/node", NULL, 200);
    const char *pem = json_string_value(json_object_get(n, "public_key"));
    ck_assert_int_eq(identity_from_pem(&t->srv_key, pem, strlen(pem) + 1), NT_OK);
    memcpy(t->srv_id, identity_id(t->srv_key), IDENTITY_ID_LEN);
    json_decref(n);
}

static void treq_free(treq *t)
{
    identity_free(t->srv_key);
    handshake_session_wipe(&t->s);
}

static long post_json(const harness_node *srv, const char *path, json_t *j, harness_resp *r)
{
    char *body = json_dumps(j, JSON_COMPACT);
    ck_assert_ptr_nonnull(body);
    ck_assert_int_eq(harness_post(srv, HARNESS_PEER, path, body, r), 0);
    free(body);
    return r->status;
}

/* Make a request (signed by `self`, timestamped now+skew); *req and *p owned
 * by the caller. */
static void treq_request(treq *t, identity *self, uint8_t mode, int64_t skew, json_t **req, hs_pending **p)
{
    ck_assert_int_eq(handshake_start(self, "tester", 0, t->srv_id, mode, ECDH_X25519, (int64_t)time(NULL) + skew, p,
                                     req),
                     NT_OK);
}

/* Full handshake; returns the status. On 200 the session is in t->s. */
static long treq_handshake(treq *t, uint8_t mode)
{
    json_t *req = NULL;
    hs_pending *p = NULL;
    harness_resp r;
    treq_request(t, me, mode, 0, &req, &p);
    long st = post_json(t->srv, "/v1/handshake", req, &r);
    if (st == 200) {
        ck_assert_int_eq(handshake_finish(p, t->srv_key, r.json, (int64_t)time(NULL), &t->s), NT_OK);
        t->up = true;
    }
    harness_resp_free(&r);
    json_decref(req);
    handshake_pending_free(p);
    return st;
}

/* The envelope text for a sealed request on t's session. */
static char *treq_seal(treq *t, const seal_key *k, uint64_t seq, const char *path, const char *pt, bool confirm)
{
    char *j = NULL;
    ck_assert_int_eq(envelope_seal(k, ENVELOPE_C2S, t->s.session_id, seq, "POST", path, NULL, 0,
                                   confirm ? t->s.confirm : NULL, (const uint8_t *)pt, strlen(pt), &j),
                     NT_OK);
    return j;
}

static long send_raw(const harness_node *srv, const char *path, const char *body, harness_resp *r)
{
    ck_assert_int_eq(harness_post(srv, HARNESS_PEER, path, body, r), 0);
    return r->status;
}

/* Send a sealed ping and, on 200, open and check the sealed answer. */
static long treq_ping(treq *t, uint64_t seq, bool confirm, const char **code)
{
    static char codebuf[64];
    char *body = treq_seal(t, &t->s.c2s, seq, "/v1/peer/ping", "{\"echo\":42}", confirm);
    harness_resp r;
    long st = send_raw(t->srv, "/v1/peer/ping", body, &r);
    free(body);
    codebuf[0] = 0;
    if (st == 200) {
        envelope e;
        ck_assert_int_eq(envelope_parse(r.body, r.len, ENVELOPE_S2C, &e), NT_OK);
        ck_assert_uint_eq(e.seq, seq);
        ck_assert_int_eq(e.status, 200);
        uint8_t *pt = NULL;
        size_t n = 0;
        ck_assert_int_eq(envelope_open(&t->s.s2c, &e, ENVELOPE_S2C, "POST", "/v1/peer/ping", NULL, &pt, &n), NT_OK);
        json_error_t jerr;
        json_t *j = json_loadb((const char *)pt, n, 0, &jerr);
        ck_assert_ptr_nonnull(j);
        ck_assert_int_eq(json_integer_value(json_object_get(j, "echo")), 42);
        ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), (json_int_t)seq);
        json_decref(j);
        free(pt);
        envelope_clear(&e);
    } else {
        const char *c = harness_error_code(&r);
        snprintf(codebuf, sizeof codebuf, "%s", c ? c : "");
    }
    if (code)
        *code = codebuf;
    harness_resp_free(&r);
    return st;
}

/* ---- a tampering proxy in front of a node ---- */

typedef enum { PX_PASS = 0, PX_TAMPER_REPLY, PX_HANDSHAKE_TO_OTHER, PX_ALL_TO_OTHER } px_mode;

static struct {
    harness_proxy hp;
    char upstream[96], other[96];
    px_mode mode;
    int tampered;
} px;

static bool px_tamper(void *arg, const char *url, long status, json_t *reply)
{
    (void)arg;
    if (px.mode != PX_TAMPER_REPLY || strcmp(url, "/v1/handshake") || status != 200)
        return false;
    /* One field changed: the session's absolute expiry. */
    json_t *e = json_object_get(reply, "expires_at");
    json_object_set_new(reply, "expires_at", json_integer(json_integer_value(e) + 1000000));
    px.tampered++;
    return true;
}

static enum MHD_Result px_forward(void *arg, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *body, size_t len)
{
    (void)arg;
    const char *up = px.upstream;
    if (px.mode == PX_ALL_TO_OTHER || (px.mode == PX_HANDSHAKE_TO_OTHER && strcmp(url, "/v1/node")))
        up = px.other;
    return harness_proxy_relay(c, up, url, method, body, len, px_tamper, NULL);
}

static void px_start(const harness_node *upstream, const harness_node *other_node, px_mode mode)
{
    memset(&px, 0, sizeof px);
    snprintf(px.upstream, sizeof px.upstream, "%s", upstream->peer_url);
    if (other_node)
        snprintf(px.other, sizeof px.other, "%s", other_node->peer_url);
    px.mode = mode;
    harness_proxy_start(&px.hp, px_forward, NULL);
}

/* ---- tests ---- */

START_TEST(modes_and_ping_both_ways)
{
    harness_node a, b;
    ck_assert_int_eq(harness_start(&a, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(&b, "bob", NULL), 0);
    client_add_peer(&a, b.peer, b.node_id);
    client_add_peer(&b, a.peer, a.node_id);
    static const char *modes[][2] = {{"ecdh", "ecdh-x25519"}, {"rsa", "rsa"}, {"ecdh-p256", "ecdh-p256"}};
    for (size_t i = 0; i < 3; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"mode\":\"%s\"}", modes[i][0]);
        harness_resp r;
        client_peer_action(&a, b.node_id, "connect", body, &r);
        ck_assert_msg(r.status == 200, "connect %s: %ld %s", modes[i][0], r.status, r.body);
        json_t *s = json_object_get(r.json, "session");
        ck_assert_str_eq(json_string_value(json_object_get(s, "state")), "established");
        ck_assert_str_eq(json_string_value(json_object_get(s, "mode")), modes[i][1]);
        ck_assert(json_is_true(json_object_get(s, "confirmed")));
        harness_resp_free(&r);
    }
    char s1[33], s2[33];
    ping_ok(&a, b.node_id, s1);
    ping_ok(&b, a.node_id, s2);
    ck_assert_str_ne(s1, s2);
    /* B served three handshakes from A (one per mode, after the one of
     * the add that brought B's name) and knows A. */
    json_t *pa = peer_of(&b, a.node_id);
    ck_assert_int_ge(json_integer_value(json_object_get(json_object_get(pa, "session"), "inbound")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(pa, "name")), "alice");
    json_decref(pa);
    ck_assert_int_eq(channel_count(&b, "handshakes_ok"), 4);
    ck_assert_int_eq(channel_count(&b, "handshakes_refused"), 0);
    harness_cleanup(&a);
    harness_cleanup(&b);
}
END_TEST

START_TEST(restart_either_side_rehandshakes)
{
    harness_node a, b;
    ck_assert_int_eq(harness_start(&a, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(&b, "bob", NULL), 0);
    client_add_peer(&a, b.peer, b.node_id);
    char s1[33], s2[33], s3[33];
    ping_ok(&a, b.node_id, s1);
    /* The serving side restarts (same port): it forgot every session. */
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)b.peer_port);
    const char *keep_port[] = {"--listen", listen, NULL};
    ck_assert_int_eq(harness_stop(&b), 0);
    ck_assert_int_eq(harness_restart(&b, keep_port), 0);
    ping_ok(&a, b.node_id, s2);
    ck_assert_str_ne(s1, s2);
    /* The requestor restarts: its sessions are gone, its peer table is not. */
    ck_assert_int_eq(harness_stop(&a), 0);
    ck_assert_int_eq(harness_restart(&a, NULL), 0);
    json_t *p = peer_of(&a, b.node_id);
    ck_assert_str_eq(session_state(p), "none");
    json_decref(p);
    ping_ok(&a, b.node_id, s3);
    ck_assert_str_ne(s2, s3);
    harness_cleanup(&a);
    harness_cleanup(&b);
}
END_TEST

typedef struct {
    const harness_node *n;
    const char *id;
} inbound_arg;

static bool no_inbound(void *arg)
{
    inbound_arg *x = arg;
    json_t *p = peer_of(x->n, x->id);
    json_int_t in = json_integer_value(json_object_get(json_object_get(p, "session"), "inbound"));
    json_decref(p);
    return in == 0;
}

START_TEST(expiry_by_short_timeout)
{
    harness_node a, b;
    const char *short_idle[] = {"--session-idle", "2", NULL};
    ck_assert_int_eq(harness_start(&a, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(&b, "bob", short_idle), 0);
    client_add_peer(&a, b.peer, b.node_id);
    char s1[33], s2[33];
    ping_ok(&a, b.node_id, s1);
    treq t;
    treq_init(&t, &b);
    ck_assert_int_eq(treq_handshake(&t, HS_MODE_ECDH), 200);
    ck_assert_uint_eq(t.s.idle_timeout, 2);
    ck_assert_int_eq(treq_ping(&t, 0, true, NULL), 200);
    /* B drops A's session after 2 s idle (no long sleep: bounded wait). */
    inbound_arg x = {&b, a.node_id};
    ck_assert(harness_wait(no_inbound, &x, 10000));
    /* Our own session was used after A's, possibly a (whole-second) tick
     * later: wait for it to idle out as well before expecting the 401. */
    char me_hex[IDENTITY_ID_HEX_LEN + 1];
    identity_id_hex(me, me_hex);
    inbound_arg y = {&b, me_hex};
    ck_assert(harness_wait(no_inbound, &y, 10000));
    const char *code = NULL;
    ck_assert_int_eq(treq_ping(&t, 1, false, &code), 401);
    ck_assert_msg(!strcmp(code, "session_expired") || !strcmp(code, "unknown_session"), "code %s", code);
    /* A re-opens a session by itself. */
    ping_ok(&a, b.node_id, s2);
    ck_assert_str_ne(s1, s2);
    treq_free(&t);
    harness_cleanup(&a);
    harness_cleanup(&b);
}
END_TEST

static void set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, json_string(v));
}

/* Post a (mutated) handshake request: status and error code. */
static void expect_refused(treq *t, json_t *req, long want, const char *code)
{
    harness_resp r;
    long st = post_json(t->srv, "/v1/handshake", req, &r);
    ck_assert_msg(st == want, "want %ld %s, got %ld %s", want, code, st, r.body);
    ck_assert_str_eq(harness_error_code(&r), code);
    harness_resp_free(&r);
}

START_TEST(handshake_attacks)
{
    harness_node a, b;
    const char *limit[] = {"--max-sessions-per-peer", "3", NULL};
    ck_assert_int_eq(harness_start(&a, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(&b, "bob", limit), 0);
    treq t;
    treq_init(&t, &b);
    json_t *req = NULL;
    hs_pending *p = NULL;
    harness_resp r;

    /* A replayed handshake request. */
    treq_request(&t, me, HS_MODE_ECDH, 0, &req, &p);
    ck_assert_int_eq(post_json(&b, "/v1/handshake", req, &r), 200);
    harness_resp_free(&r);
    ck_assert_int_eq(channel_count(&b, "sessions"), 1);
    ck_assert_uint_eq(peer_count(&b), 1);
    expect_refused(&t, req, 409, "nonce_replay");
    json_decref(req);
    handshake_pending_free(p);

    /* A valid signature, but by another key than the one claimed. */
    treq_request(&t, me, HS_MODE_RSA, 0, &req, &p);
    ck_assert_int_eq(handshake_resign(other, req), NT_OK);
    expect_refused(&t, req, 401, "bad_signature");
    /* An id that is not the hash of the key sent. */
    uint8_t der[IDENTITY_PUB_DER_MAX];
    size_t dl = 0;
    char b64[1024];
    ck_assert_int_eq(identity_public_der(other, der, sizeof der, &dl), NT_OK);
    ck_assert_int_eq(encoding_b64_encode(der, dl, B64_STD, b64, sizeof b64), NT_OK);
    set_str(req, "initiator_key", b64);
    expect_refused(&t, req, 401, "id_key_mismatch");
    json_decref(req);
    handshake_pending_free(p);

    /* Timestamps outside +-300 s, properly signed: a minute beyond, so the
     * seconds the signing and the request take under a sanitizer cannot
     * bring one back inside (the unit test checks the exact edge). */
    static const int64_t skews[] = {-360, -3600, 360};
    for (size_t i = 0; i < 3; i++) {
        treq_request(&t, me, HS_MODE_ECDH, skews[i], &req, &p);
        expect_refused(&t, req, 401, "timestamp_out_of_window");
        json_decref(req);
        handshake_pending_free(p);
    }
    /* Meant for another node. */
    treq_request(&t, me, HS_MODE_ECDH, 0, &req, &p);
    set_str(req, "responder_id", a.node_id);
    ck_assert_int_eq(handshake_resign(me, req), NT_OK);
    expect_refused(&t, req, 421, "wrong_responder");
    /* Version, mode, shape. */
    json_object_set_new(req, "version", json_integer(2));
    expect_refused(&t, req, 400, "unsupported_version");
    json_object_set_new(req, "version", json_integer(1));
    set_str(req, "mode", "dh");
    expect_refused(&t, req, 400, "unsupported_mode");
    json_object_del(req, "nonce");
    expect_refused(&t, req, 400, "malformed");
    json_decref(req);
    handshake_pending_free(p);
    ck_assert_int_eq(send_raw(&b, "/v1/handshake", "not json", &r), 400);
    ck_assert_str_eq(harness_error_code(&r), "malformed");
    harness_resp_free(&r);

    /* None of that changed anything. */
    ck_assert_int_eq(channel_count(&b, "sessions"), 1);
    ck_assert_int_eq(channel_count(&b, "handshakes_ok"), 1);
    ck_assert_int_ge(channel_count(&b, "handshakes_refused"), 11);
    ck_assert_uint_eq(peer_count(&b), 1);

    /* Too many sessions from one peer (limit 3). */
    ck_assert_int_eq(treq_handshake(&t, HS_MODE_ECDH), 200);
    ck_assert_int_eq(treq_handshake(&t, HS_MODE_RSA), 200);
    treq_request(&t, me, HS_MODE_ECDH, 0, &req, &p);
    expect_refused(&t, req, 429, "too_many_sessions");
    json_decref(req);
    handshake_pending_free(p);
    ck_assert_int_eq(channel_count(&b, "sessions"), 3);
    treq_free(&t);
    harness_cleanup(&a);
    harness_cleanup(&b);
}
END_TEST

static char *with_box(const char *env_json, const uint8_t *box, size_t n)
{
    json_error_t jerr;
    json_t *o = json_loads(env_json, 0, &jerr);
    ck_assert_ptr_nonnull(o);
    char b64[4096];
    ck_assert_int_eq(encoding_b64_encode(box, n, B64_STD, b64, sizeof b64), NT_OK);
    set_str(o, "box", b64);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

START_TEST(sealed_attacks)
{
    harness_node b;
    ck_assert_int_eq(harness_start(&b, "bob", NULL), 0);
    treq t;
    treq_init(&t, &b);
    ck_assert_int_eq(treq_handshake(&t, HS_MODE_ECDH), 200);
    const char *code = NULL;
    harness_resp r;

    /* Key confirmation: missing, then wrong, then right. */
    ck_assert_int_eq(treq_ping(&t, 0, false, &code), 401);
    ck_assert_str_eq(code, "key_confirmation_required");
    t.s.confirm[0] ^= 1;
    ck_assert_int_eq(treq_ping(&t, 0, true, &code), 401);
    ck_assert_str_eq(code, "bad_key_confirmation");
    t.s.confirm[0] ^= 1;
    ck_assert_int_eq(treq_ping(&t, 0, true, NULL), 200);
    ck_assert_int_eq(treq_ping(&t, 1, false, NULL), 200); /* confirmed now */

    /* A replayed sealed request. */
    char *body = treq_seal(&t, &t.s.c2s, 2, "/v1/peer/ping", "{\"echo\":42}", false);
    ck_assert_int_eq(send_raw(&b, "/v1/peer/ping", body, &r), 200);
    harness_resp_free(&r);
    ck_assert_int_eq(send_raw(&b, "/v1/peer/ping", body, &r), 409);
    ck_assert_str_eq(harness_error_code(&r), "replayed");
    harness_resp_free(&r);
    free(body);

    /* One bit flipped anywhere in the box: refused, and the untouched
     * request with that seq still goes through afterwards. */
    body = treq_seal(&t, &t.s.c2s, 3, "/v1/peer/ping", "{\"echo\":42}", false);
    envelope e;
    ck_assert_int_eq(envelope_parse(body, strlen(body), ENVELOPE_C2S, &e), NT_OK);
    json_int_t refused_before = channel_count(&b, "sealed_refused");
    for (size_t bit = 0; bit < e.box_len * 8; bit++) {
        e.box[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        char *bad = with_box(body, e.box, e.box_len);
        long st = send_raw(&b, "/v1/peer/ping", bad, &r);
        ck_assert_msg(st == 401, "bit %zu: %ld", bit, st);
        ck_assert_str_eq(harness_error_code(&r), "bad_envelope");
        harness_resp_free(&r);
        free(bad);
        e.box[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    ck_assert_int_eq(channel_count(&b, "sealed_refused"), refused_before + (json_int_t)(e.box_len * 8));
    /* The fields around the box are under the MAC too. */
    json_error_t jerr;
    json_t *o = json_loads(body, 0, &jerr);
    json_object_set_new(o, "seq", json_integer(4));
    char *bad = json_dumps(o, JSON_COMPACT);
    ck_assert_int_eq(send_raw(&b, "/v1/peer/ping", bad, &r), 401);
    ck_assert_str_eq(harness_error_code(&r), "bad_envelope");
    harness_resp_free(&r);
    free(bad);
    json_object_set_new(o, "seq", json_integer(3));
    json_object_set_new(o, "query", json_string("x=1"));
    bad = json_dumps(o, JSON_COMPACT);
    ck_assert_int_eq(send_raw(&b, "/v1/peer/ping", bad, &r), 401);
    harness_resp_free(&r);
    free(bad);
    json_decref(o);
    ck_assert_int_eq(send_raw(&b, "/v1/peer/ping", body, &r), 200);
    harness_resp_free(&r);
    envelope_clear(&e);
    free(body);

    /* Sealed with the other direction's key. */
    body = treq_seal(&t, &t.s.s2c, 5, "/v1/peer/ping", "{\"echo\":42}", false);
    ck_assert_int_eq(send_raw(&b, "/v1/peer/ping", body, &r), 401);
    ck_assert_str_eq(harness_error_code(&r), "bad_envelope");
    harness_resp_free(&r);
    free(body);

    /* An unknown session. */
    hs_session saved = t.s;
    t.s.session_id[0] ^= 0xff;
    ck_assert_int_eq(treq_ping(&t, 6, false, &code), 401);
    ck_assert_str_eq(code, "unknown_session");
    t.s = saved;
    /* Not an envelope at all. */
    ck_assert_int_eq(send_raw(&b, "/v1/peer/ping", "{\"v\":1}", &r), 400);
    ck_assert_str_eq(harness_error_code(&r), "malformed_envelope");
    harness_resp_free(&r);
    /* Out of order within the window still works; far behind does not. */
    ck_assert_int_eq(treq_ping(&t, 3000, false, NULL), 200);
    ck_assert_int_eq(treq_ping(&t, 2990, false, NULL), 200);
    ck_assert_int_eq(treq_ping(&t, 7, false, &code), 409);
    ck_assert_str_eq(code, "replayed");
    ck_assert_int_eq(channel_count(&b, "sealed_ok"), 6);
    treq_free(&t);
    harness_cleanup(&b);
}
END_TEST

START_TEST(requestor_refuses_tampered_or_foreign_replies)
{
    harness_node a, b, c;
    ck_assert_int_eq(harness_start(&a, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(&b, "bob", NULL), 0);
    ck_assert_int_eq(harness_start(&c, "carol", NULL), 0);
    px_start(&b, &c, PX_TAMPER_REPLY);
    client_add_peer(&a, px.hp.addr, b.node_id); /* B pinned, reached through the proxy (its handshake refused) */
    harness_resp r;

    static const struct {
        px_mode mode;
        const char *what;
    } cases[] = {
        {PX_TAMPER_REPLY, "tampered handshake reply"},
        {PX_HANDSHAKE_TO_OTHER, "handshake answered by another node"},
        {PX_ALL_TO_OTHER, "another node at the address"},
    };
    for (size_t i = 0; i < 3; i++) {
        px.mode = cases[i].mode;
        client_peer_action(&a, b.node_id, "connect", NULL, &r);
        ck_assert_msg(r.status == 502, "%s: %ld %s", cases[i].what, r.status, r.body);
        harness_resp_free(&r);
        json_t *p = peer_of(&a, b.node_id);
        ck_assert_str_eq(session_state(p), "none");
        ck_assert_ptr_nonnull(json_object_get(json_object_get(p, "session"), "last_error"));
        ck_assert_str_eq(json_string_value(json_object_get(p, "id")), b.node_id);
        json_decref(p);
        /* A sealed call refuses the same way (it would handshake first). */
        client_peer_action(&a, b.node_id, "ping", NULL, &r);
        ck_assert_int_eq(r.status, 502);
        harness_resp_free(&r);
    }
    ck_assert_int_ge(px.tampered, 2);
    /* The same path untouched works. */
    px.mode = PX_PASS;
    client_peer_action(&a, b.node_id, "connect", NULL, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    harness_resp_free(&r);
    harness_proxy_stop(&px.hp);
    harness_cleanup(&a);
    harness_cleanup(&b);
    harness_cleanup(&c);
}
END_TEST

START_TEST(client_api_peers)
{
    harness_node a, b;
    ck_assert_int_eq(harness_start(&a, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(&b, "bob", NULL), 0);
    harness_resp r;
    ck_assert_int_eq(harness_post(&a, HARNESS_CLIENT, "/v1/client/peers", "{\"address\":\"nothing\"}", &r), 0);
    ck_assert_int_eq(r.status, 400);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_post(&a, HARNESS_CLIENT, "/v1/client/peers", "{\"address\":\"127.0.0.1:1\"}", &r), 0);
    ck_assert_int_eq(r.status, 502);
    ck_assert_str_eq(harness_error_code(&r), "peer_unreachable");
    harness_resp_free(&r);
    ck_assert_int_eq(harness_post(&a, HARNESS_CLIENT, "/v1/client/peers", "{\"address\":\"x\"}", &r), 0);
    ck_assert_int_eq(r.status, 400);
    harness_resp_free(&r);
    char body[128];
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", a.peer);
    ck_assert_int_eq(harness_post(&a, HARNESS_CLIENT, "/v1/client/peers", body, &r), 0);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(harness_error_code(&r), "self");
    harness_resp_free(&r);
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", b.peer);
    ck_assert_int_eq(harness_post(&a, HARNESS_CLIENT, "/v1/client/peers", body, &r), 0);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "source")), "manual");
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "address")), b.peer);
    ck_assert(json_is_false(json_object_get(r.json, "trusted")));
    ck_assert_int_eq(strlen(json_string_value(json_object_get(r.json, "fingerprint"))) > 20, 1);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_post(&a, HARNESS_CLIENT, "/v1/client/peers", body, &r), 0);
    ck_assert_int_eq(r.status, 200); /* known already */
    harness_resp_free(&r);
    client_peer_action(&a, b.node_id, "trust", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(json_is_true(json_object_get(r.json, "trusted")));
    harness_resp_free(&r);
    client_peer_action(&a, b.node_id, "trust", "{\"trusted\":false}", &r);
    ck_assert(json_is_false(json_object_get(r.json, "trusted")));
    harness_resp_free(&r);
    char path[160];
    snprintf(path, sizeof path, "/v1/client/peers/%s/delivery", b.node_id);
    ck_assert_int_eq(harness_put(&a, HARNESS_CLIENT, path, "{\"delivery\":\"poll\"}", &r), 0);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "delivery")), "poll");
    harness_resp_free(&r);
    client_peer_action(&a, b.node_id, "connect", "{\"mode\":\"nope\"}", &r);
    ck_assert_int_eq(r.status, 400);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_get(&a, HARNESS_CLIENT, "/v1/client/peers/zz", &r), 0);
    ck_assert_int_eq(r.status, 400);
    harness_resp_free(&r);
    snprintf(path, sizeof path, "/v1/client/peers/%s", b.node_id);
    ck_assert_int_eq(harness_delete(&a, HARNESS_CLIENT, path, &r), 0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_get(&a, HARNESS_CLIENT, path, &r), 0);
    ck_assert_int_eq(r.status, 404);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_delete(&a, HARNESS_CLIENT, path, &r), 0);
    ck_assert_int_eq(r.status, 404);
    harness_resp_free(&r);
    client_peer_action(&a, b.node_id, "connect", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    harness_resp_free(&r);
    /* No token, no peers. */
    snprintf(path, sizeof path, "%s/v1/client/peers", a.client_url);
    ck_assert_int_eq(harness_request("GET", path, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 401);
    harness_resp_free(&r);
    harness_cleanup(&a);
    harness_cleanup(&b);
}
END_TEST

int test_setup(void)
{
    if (rng_init() || identity_generate(&me, 2048) || identity_generate(&other, 2048))
        return EXIT_FAILURE;
    return TEST_GO;
}

Suite *test_suite(void)
{
    Suite *s = suite_create("handshake");
    TCase *tc = tcase_create("handshake");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, modes_and_ping_both_ways);
    tcase_add_test(tc, restart_either_side_rehandshakes);
    tcase_add_test(tc, expiry_by_short_timeout);
    tcase_add_test(tc, handshake_attacks);
    tcase_add_test(tc, sealed_attacks);
    tcase_add_test(tc, requestor_refuses_tampered_or_foreign_replies);
    tcase_add_test(tc, client_api_peers);
    suite_add_tcase(s, tc);
    return s;
}

int test_teardown(int failed)
{
    identity_free(me);
    identity_free(other);
    return failed;
}
