/* Unit tests for server/handshake and server/session: both sides of the
 * handshake in one process, every refusal, and the session table. Three
 * RSA-2048 identities are made once per binary. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "crypto/ecdh.h"
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include "crypto/encoding.h"
#include "crypto/rng.h"
#include "server/channel/envelope.h"
#include "server/channel/handshake.h"
#include "tests/test_main.h"

static identity *ka, *kb, *kc; /* requestor, serving node, a third node */
static const int64_t NOW = 1700000000;

typedef struct {
    session_table *t;
    hs_server srv;
} fixture;

static void fx_init(fixture *f, const session_limits *lim)
{
    ck_assert_int_eq(session_table_new(&f->t, lim), NT_OK);
    f->srv = (hs_server){.self = kb, .name = "bob", .sessions = f->t, .now = NOW};
}

/* Run a full handshake A -> B; returns the serving status. */
static hs_status run(fixture *f, uint8_t mode, ecdh_curve curve, hs_session *out, hs_accepted *acc)
{
    hs_pending *p = NULL;
    json_t *req = NULL, *reply = NULL;
    ck_assert_int_eq(handshake_start(ka, "alice", 7711, identity_id(kb), mode, curve, NOW, &p, &req), NT_OK);
    hs_status st = handshake_serve(&f->srv, req, &reply, acc);
    if (st == HS_OK) {
        ck_assert_ptr_nonnull(reply);
        ck_assert_int_eq(handshake_finish(p, kb, reply, NOW, out), NT_OK);
    } else {
        ck_assert_ptr_null(reply);
    }
    json_decref(req);
    json_decref(reply);
    handshake_pending_free(p);
    return st;
}

static const struct {
    uint8_t mode;
    ecdh_curve curve;
} MODES[] = {{HS_MODE_ECDH, ECDH_X25519}, {HS_MODE_ECDH, ECDH_P256}, {HS_MODE_RSA, 0}};

START_TEST(both_sides_agree)
{
    fixture f;
    fx_init(&f, NULL);
    hs_session s;
    hs_accepted acc;
    ck_assert_int_eq(run(&f, MODES[_i].mode, MODES[_i].curve, &s, &acc), HS_OK);
    ck_assert_mem_eq(acc.peer_id, identity_id(ka), IDENTITY_ID_LEN);
    ck_assert_str_eq(acc.name, "alice");
    ck_assert_int_eq(acc.port, 7711);
    ck_assert_mem_eq(acc.session_id, s.session_id, HS_SESSION_ID_LEN);
    ck_assert_str_eq(s.peer_name, "bob");
    ck_assert_int_eq(s.mode, MODES[_i].mode);
    ck_assert_int_eq(s.expires_at, NOW + SESSION_DEFAULT_ABSOLUTE);
    ck_assert_uint_eq(s.idle_timeout, SESSION_DEFAULT_IDLE);
    session_view v;
    ck_assert_int_eq(session_begin(f.t, s.session_id, 0, NOW, &v), NT_OK);
    ck_assert_mem_eq(&v.c2s, &s.c2s, sizeof(seal_key));
    ck_assert_mem_eq(&v.s2c, &s.s2c, sizeof(seal_key));
    ck_assert(memcmp(&v.c2s, &v.s2c, sizeof(seal_key)));
    ck_assert_mem_eq(v.confirm, s.confirm, KEYSCHED_CONFIRM_LEN);
    ck_assert(!v.confirmed);
    ck_assert_mem_eq(v.peer, identity_id(ka), IDENTITY_ID_LEN);
    session_view_wipe(&v);
    /* Two handshakes never give the same keys. */
    hs_session s2;
    hs_accepted acc2;
    ck_assert_int_eq(run(&f, MODES[_i].mode, MODES[_i].curve, &s2, &acc2), HS_OK);
    ck_assert(memcmp(&s.c2s, &s2.c2s, sizeof(seal_key)));
    ck_assert(memcmp(s.session_id, s2.session_id, HS_SESSION_ID_LEN));
    ck_assert_uint_eq(session_count(f.t, identity_id(ka), NOW), 2);
    handshake_accepted_clear(&acc);
    handshake_accepted_clear(&acc2);
    session_table_free(f.t);
}
END_TEST

/* ---- refusals: each a mutation of a valid, signed request ---- */

typedef void (*req_mut)(json_t *req);
static void set_str(json_t *r, const char *k, const char *v) { json_object_set_new(r, k, json_string(v)); }
static void m_version(json_t *r) { json_object_set_new(r, "version", json_integer(2)); }
static void m_mode(json_t *r) { set_str(r, "mode", "dh"); }
static void m_curve(json_t *r) { set_str(r, "curve", "x448"); }
static void m_eph_len(json_t *r) { set_str(r, "ephemeral", "AAAA"); }
static void m_nonce_len(json_t *r) { set_str(r, "nonce", "AAAA"); }
static void m_no_sig(json_t *r) { json_object_del(r, "signature"); }
static void m_bad_b64(json_t *r) { set_str(r, "initiator_key", "!!!"); }
static void m_name_type(json_t *r) { json_object_set_new(r, "name", json_integer(1)); }
static void m_port(json_t *r) { json_object_set_new(r, "port", json_integer(70000)); }
static void m_ts_type(json_t *r) { set_str(r, "timestamp", "now"); }
static void m_responder(json_t *r) { set_str(r, "responder_id", "00000000000000000000000000000000000000000000000000000000000000aa"); }
static void m_id(json_t *r)
{
    char hex[65];
    identity_id_hex(kc, hex);
    set_str(r, "initiator_id", hex);
}
/* Change one base64 character of string field key (at index at). */
static void flip_char(json_t *r, const char *key, size_t at)
{
    char *s = strdup(json_string_value(json_object_get(r, key)));
    ck_assert_ptr_nonnull(s);
    s[at] = s[at] == 'A' ? 'B' : 'A';
    set_str(r, key, s);
    free(s);
}
static void m_sig_flip(json_t *r) { flip_char(r, "signature", 10); }
static void m_name_after_sig(json_t *r) { set_str(r, "name", "mallory"); }
static void m_zero_eph(json_t *r) { set_str(r, "ephemeral", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="); }
static void m_no_eph(json_t *r) { json_object_del(r, "ephemeral"); }
/* A P-256 share of len bytes (at most ECDH_P256_PUB_LEN), all 1s after
 * the leading byte `first`. */
static void set_p256_share(json_t *r, uint8_t first, size_t len)
{
    uint8_t pt[ECDH_P256_PUB_LEN];
    char b64[128];
    memset(pt, 1, len);
    pt[0] = first;
    ck_assert_int_eq(encoding_b64_encode(pt, len, B64_STD, b64, sizeof(b64)), NT_OK);
    set_str(r, "curve", "p256");
    set_str(r, "ephemeral", b64);
}
/* A P-256 share of the right length that is not a point on the curve. */
static void m_p256_off_curve(json_t *r) { set_p256_share(r, 0x04, ECDH_P256_PUB_LEN); }
/* A compressed P-256 point (33 bytes): not the encoding natter uses. */
static void m_p256_compressed(json_t *r) { set_p256_share(r, 0x02, 33); }
/* The requestor's id in upper case: hex is lowercase only on the wire. */
static void m_upper_id(json_t *r)
{
    char *s = strdup(json_string_value(json_object_get(r, "initiator_id")));
    ck_assert_ptr_nonnull(s);
    bool changed = false;
    for (char *c = s; *c; c++)
        if (*c >= 'a' && *c <= 'f') {
            *c = (char)(*c - 'a' + 'A');
            changed = true;
        }
    ck_assert(changed);
    set_str(r, "initiator_id", s);
    free(s);
}

static const struct {
    const char *what;
    req_mut fn;
    bool resign; /* re-sign by A after the change (so only the check under test fails) */
    hs_status want;
} REFUSALS[] = {
    {"version", m_version, false, HS_E_VERSION},
    {"mode", m_mode, false, HS_E_MODE},
    {"curve", m_curve, false, HS_E_MODE},
    {"ephemeral length", m_eph_len, false, HS_E_KEY_SHARE},
    {"no ephemeral in ecdh mode", m_no_eph, false, HS_E_KEY_SHARE},
    {"compressed P-256 share", m_p256_compressed, false, HS_E_KEY_SHARE},
    {"P-256 share off the curve", m_p256_off_curve, true, HS_E_KEY_SHARE},
    {"upper-case id", m_upper_id, false, HS_E_MALFORMED},
    {"nonce length", m_nonce_len, false, HS_E_MALFORMED},
    {"no signature", m_no_sig, false, HS_E_MALFORMED},
    {"bad base64", m_bad_b64, false, HS_E_MALFORMED},
    {"name type", m_name_type, false, HS_E_MALFORMED},
    {"port range", m_port, false, HS_E_MALFORMED},
    {"timestamp type", m_ts_type, false, HS_E_MALFORMED},
    {"wrong responder", m_responder, true, HS_E_WRONG_RESPONDER},
    {"id/key mismatch", m_id, false, HS_E_ID_KEY},
    {"flipped signature", m_sig_flip, false, HS_E_SIGNATURE},
    {"field changed after signing", m_name_after_sig, false, HS_E_SIGNATURE},
    {"all-zero X25519 share", m_zero_eph, true, HS_E_KEY_SHARE},
};

START_TEST(refusals)
{
    fixture f;
    fx_init(&f, NULL);
    hs_pending *p = NULL;
    json_t *req = NULL, *reply = NULL;
    ck_assert_int_eq(handshake_start(ka, "alice", 0, identity_id(kb), HS_MODE_ECDH, ECDH_X25519, NOW, &p, &req),
                     NT_OK);
    REFUSALS[_i].fn(req);
    if (REFUSALS[_i].resign)
        ck_assert_int_eq(handshake_resign(ka, req), NT_OK);
    hs_accepted acc;
    hs_status st = handshake_serve(&f.srv, req, &reply, &acc);
    ck_assert_msg(st == REFUSALS[_i].want, "%s: got %s", REFUSALS[_i].what, handshake_code(st));
    ck_assert_ptr_null(reply);
    ck_assert_uint_eq(session_count(f.t, NULL, NOW), 0);
    ck_assert_ptr_null(acc.peer_key);
    json_decref(req);
    handshake_pending_free(p);
    session_table_free(f.t);
}
END_TEST

/* A valid signature by another key: C signs a request that claims A. */
START_TEST(signature_by_other_key)
{
    fixture f;
    fx_init(&f, NULL);
    hs_pending *p = NULL;
    json_t *req = NULL, *reply = NULL;
    ck_assert_int_eq(handshake_start(ka, "alice", 0, identity_id(kb), HS_MODE_RSA, 0, NOW, &p, &req), NT_OK);
    ck_assert_int_eq(handshake_resign(kc, req), NT_OK);
    hs_accepted acc;
    ck_assert_int_eq(handshake_serve(&f.srv, req, &reply, &acc), HS_E_SIGNATURE);
    ck_assert_uint_eq(session_count(f.t, NULL, NOW), 0);
    json_decref(req);
    handshake_pending_free(p);
    session_table_free(f.t);
}
END_TEST

START_TEST(timestamp_window_and_replay)
{
    fixture f;
    fx_init(&f, NULL);
    static const struct {
        int64_t skew;
        hs_status want;
    } cases[] = {{-301, HS_E_TIMESTAMP}, {301, HS_E_TIMESTAMP}, {-300, HS_OK}, {300, HS_OK}, {-100000, HS_E_TIMESTAMP}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hs_pending *p = NULL;
        json_t *req = NULL, *reply = NULL;
        ck_assert_int_eq(handshake_start(ka, "a", 0, identity_id(kb), HS_MODE_ECDH, ECDH_X25519,
                                         NOW + cases[i].skew, &p, &req),
                         NT_OK);
        hs_accepted acc;
        ck_assert_int_eq(handshake_serve(&f.srv, req, &reply, &acc), cases[i].want);
        if (cases[i].want == HS_OK) {
            /* The same request again: a replay, refused, nothing added. */
            size_t before = session_count(f.t, NULL, NOW);
            json_t *reply2 = NULL;
            hs_accepted acc2;
            ck_assert_int_eq(handshake_serve(&f.srv, req, &reply2, &acc2), HS_E_NONCE_REPLAY);
            ck_assert_ptr_null(reply2);
            ck_assert_uint_eq(session_count(f.t, NULL, NOW), before);
        }
        handshake_accepted_clear(&acc);
        json_decref(req);
        json_decref(reply);
        handshake_pending_free(p);
    }
    session_table_free(f.t);
}
END_TEST

/* A signature that is not one: right length, random bytes. */
static void garble_sig(json_t *req)
{
    uint8_t junk[256];
    char b64[400];
    ck_assert_int_eq(rng_bytes(junk, sizeof(junk)), NT_OK);
    ck_assert_int_eq(encoding_b64_encode(junk, sizeof(junk), B64_STD, b64, sizeof(b64)), NT_OK);
    set_str(req, "signature", b64);
}

/* The nonce is looked at before the RSA verification: a replay is refused
 * as such even when its signature is garbage (so it cost no verification),
 * while a forged signature on a fresh nonce does not burn that nonce. */
START_TEST(replay_refused_before_signature_check)
{
    fixture f;
    fx_init(&f, NULL);
    hs_pending *p = NULL, *p2 = NULL;
    json_t *req = NULL, *reply = NULL, *forged = NULL;
    hs_accepted acc, acc2;
    ck_assert_int_eq(handshake_start(ka, "alice", 0, identity_id(kb), HS_MODE_ECDH, ECDH_X25519, NOW, &p, &req),
                     NT_OK);
    ck_assert_int_eq(handshake_serve(&f.srv, req, &reply, &acc), HS_OK);
    json_decref(reply);
    handshake_accepted_clear(&acc);
    forged = json_deep_copy(req);
    garble_sig(forged);
    ck_assert_int_eq(handshake_serve(&f.srv, forged, &reply, &acc), HS_E_NONCE_REPLAY);
    ck_assert_ptr_null(reply);
    json_decref(forged);
    /* Fresh nonce, forged signature first, then the genuine request. */
    ck_assert_int_eq(handshake_start(ka, "alice", 0, identity_id(kb), HS_MODE_ECDH, ECDH_X25519, NOW, &p2, &forged),
                     NT_OK);
    json_t *genuine = json_deep_copy(forged);
    garble_sig(forged);
    ck_assert_int_eq(handshake_serve(&f.srv, forged, &reply, &acc), HS_E_SIGNATURE);
    ck_assert_int_eq(handshake_serve(&f.srv, genuine, &reply, &acc2), HS_OK);
    ck_assert_uint_eq(session_count(f.t, NULL, NOW), 2);
    json_decref(reply);
    handshake_accepted_clear(&acc2);
    json_decref(genuine);
    json_decref(forged);
    json_decref(req);
    handshake_pending_free(p);
    handshake_pending_free(p2);
    session_table_free(f.t);
}
END_TEST

/* An rsa-mode request from a key pair with e = 3, properly signed by it
 * (made with mbedTLS directly: natter refuses to load such a key). */
static json_t *request_from_e3(void)
{
    mbedtls_pk_context pk;
    uint8_t tmp[1024], t[TRANSCRIPT_MAX], hash[32], sig[256];
    char b64[1024];
    size_t n = 0;
    mbedtls_pk_init(&pk);
    ck_assert_int_eq(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)), 0);
    ck_assert_int_eq(mbedtls_rsa_gen_key(mbedtls_pk_rsa(pk), rng_mbedtls, NULL, 2048, 3), 0);
    int der_len = mbedtls_pk_write_pubkey_der(&pk, tmp, sizeof(tmp));
    ck_assert_int_gt(der_len, 0);
    hs_request rq = {.version = HS_VERSION, .mode = HS_MODE_RSA, .initiator_key = tmp + sizeof(tmp) - der_len,
                     .initiator_key_len = (size_t)der_len, .timestamp = NOW, .name = "e3", .port = 0};
    ck_assert_int_eq(mbedtls_sha256_ret(rq.initiator_key, rq.initiator_key_len, rq.initiator_id, 0), 0);
    memcpy(rq.responder_id, identity_id(kb), IDENTITY_ID_LEN);
    ck_assert_int_eq(rng_bytes(rq.nonce, HS_NONCE_LEN), NT_OK);
    ck_assert_int_eq(transcript_request(&rq, t, sizeof(t), &n), NT_OK);
    /* sign_create's message: "natter/v1/sig/handshake" 0x00 T_req */
    mbedtls_sha256_context h;
    mbedtls_sha256_init(&h);
    ck_assert_int_eq(mbedtls_sha256_starts_ret(&h, 0), 0);
    ck_assert_int_eq(mbedtls_sha256_update_ret(&h, (const uint8_t *)"natter/v1/sig/handshake", 24), 0);
    ck_assert_int_eq(mbedtls_sha256_update_ret(&h, t, n), 0);
    ck_assert_int_eq(mbedtls_sha256_finish_ret(&h, hash), 0);
    mbedtls_sha256_free(&h);
    mbedtls_rsa_set_padding(mbedtls_pk_rsa(pk), MBEDTLS_RSA_PKCS_V21, MBEDTLS_MD_SHA256);
    ck_assert_int_eq(mbedtls_rsa_rsassa_pss_sign_ext(mbedtls_pk_rsa(pk), rng_mbedtls, NULL, MBEDTLS_MD_SHA256, 32,
                                                     hash, 32, sig),
                     0);
    char id_hex[65], rid_hex[65], nonce_b64[64];
    ck_assert_int_eq(encoding_hex_encode(rq.initiator_id, 32, id_hex, sizeof(id_hex)), NT_OK);
    identity_id_hex(kb, rid_hex);
    ck_assert_int_eq(encoding_b64_encode(rq.nonce, HS_NONCE_LEN, B64_STD, nonce_b64, sizeof(nonce_b64)), NT_OK);
    json_t *req = json_pack("{s:i,s:s,s:s,s:s,s:s,s:I,s:s,s:i}", "version", HS_VERSION, "mode", "rsa",
                            "initiator_id", id_hex, "responder_id", rid_hex, "nonce", nonce_b64, "timestamp",
                            (json_int_t)NOW, "name", "e3", "port", 0);
    ck_assert_int_eq(encoding_b64_encode(rq.initiator_key, rq.initiator_key_len, B64_STD, b64, sizeof(b64)), NT_OK);
    set_str(req, "initiator_key", b64);
    ck_assert_int_eq(encoding_b64_encode(sig, sizeof(sig), B64_STD, b64, sizeof(b64)), NT_OK);
    set_str(req, "signature", b64);
    mbedtls_pk_free(&pk);
    return req;
}

/* A requestor key with e != 65537 is refused at the key check, before any
 * signature verification with it. */
START_TEST(exponent_other_than_65537_refused)
{
    fixture f;
    fx_init(&f, NULL);
    json_t *req = request_from_e3(), *reply = NULL;
    hs_accepted acc;
    hs_status st = handshake_serve(&f.srv, req, &reply, &acc);
    ck_assert_msg(st == HS_E_ID_KEY, "got %s", handshake_code(st));
    ck_assert_str_eq(handshake_code(st), "id_key_mismatch");
    ck_assert_int_eq(handshake_http_status(st), 401);
    ck_assert_ptr_null(reply);
    ck_assert_uint_eq(session_count(f.t, NULL, NOW), 0);
    handshake_accepted_clear(&acc);
    json_decref(req);
    session_table_free(f.t);
}
END_TEST

START_TEST(too_many_sessions)
{
    fixture f;
    session_limits lim = {.max_per_peer = 2};
    fx_init(&f, &lim);
    hs_session s;
    hs_accepted acc;
    ck_assert_int_eq(run(&f, HS_MODE_ECDH, ECDH_X25519, &s, &acc), HS_OK);
    handshake_accepted_clear(&acc);
    ck_assert_int_eq(run(&f, HS_MODE_ECDH, ECDH_X25519, &s, &acc), HS_OK);
    handshake_accepted_clear(&acc);
    ck_assert_int_eq(run(&f, HS_MODE_ECDH, ECDH_X25519, &s, &acc), HS_E_TOO_MANY);
    ck_assert_uint_eq(session_count(f.t, NULL, NOW), 2);
    /* Sessions left idle (a restarted or reconnecting peer) give way to a
     * new one; the limit still holds. */
    {
        fixture g;
        session_limits lim2 = {.max_per_peer = 2, .idle = 3600};
        fx_init(&g, &lim2);
        ck_assert_int_eq(run(&g, HS_MODE_ECDH, ECDH_X25519, &s, &acc), HS_OK);
        handshake_accepted_clear(&acc);
        uint8_t first[HS_SESSION_ID_LEN];
        memcpy(first, s.session_id, sizeof(first));
        session_view v;
        ck_assert_int_eq(session_begin(g.t, first, 0, NOW, &v), NT_OK);
        ck_assert_int_eq(session_commit(g.t, first, 0, NOW), NT_OK); /* confirmed: idle 3600 */
        ck_assert_int_eq(run(&g, HS_MODE_ECDH, ECDH_X25519, &s, &acc), HS_OK);
        handshake_accepted_clear(&acc);
        ck_assert_int_eq(session_begin(g.t, s.session_id, 0, NOW, &v), NT_OK);
        ck_assert_int_eq(session_commit(g.t, s.session_id, 0, NOW), NT_OK);
        g.srv.now = NOW + SESSION_EVICT_IDLE - 1;
        ck_assert_int_eq(session_commit(g.t, s.session_id, 1, g.srv.now), NT_OK); /* second one in use */
        ck_assert_int_eq(run(&g, HS_MODE_ECDH, ECDH_X25519, &s, &acc), HS_E_TOO_MANY);
        g.srv.now = NOW + SESSION_EVICT_IDLE;
        ck_assert_int_eq(run(&g, HS_MODE_ECDH, ECDH_X25519, &s, &acc), HS_OK);
        handshake_accepted_clear(&acc);
        ck_assert_uint_eq(session_count(g.t, NULL, g.srv.now), 2);
        ck_assert_int_eq(session_begin(g.t, first, 1, g.srv.now, &v), NT_ERR_NOT_FOUND); /* the idle one went */
        session_view_wipe(&v);
        session_table_free(g.t);
    }
    /* Once one is dropped there is room again. */
    session_info info[4];
    ck_assert_uint_eq(session_list_peer(f.t, identity_id(ka), NOW, info, 4), 2);
    ck_assert_int_eq(session_drop(f.t, info[0].id), NT_OK);
    ck_assert_int_eq(run(&f, HS_MODE_RSA, 0, &s, &acc), HS_OK);
    handshake_accepted_clear(&acc);
    session_table_free(f.t);
}
END_TEST

/* The requestor refuses a tampered reply, and one from another node. */
typedef void (*rep_mut)(json_t *rep);
static void r_flip_auth(json_t *r) { flip_char(r, "auth_key", 5); }
static void r_session(json_t *r) { set_str(r, "session", "000102030405060708090a0b0c0d0e0f"); }
static void r_expiry(json_t *r) { json_object_set_new(r, "expires_at", json_integer(1)); }
static void r_name(json_t *r) { set_str(r, "name", "eve"); }
static void r_responder(json_t *r)
{
    char hex[65];
    identity_id_hex(kc, hex);
    set_str(r, "responder_id", hex);
}
static void r_mode(json_t *r) { set_str(r, "mode", "rsa"); }
static void r_nosig(json_t *r) { json_object_del(r, "signature"); }

static const struct {
    const char *what;
    rep_mut fn;
    nt_err want;
} TAMPER[] = {
    {"auth key", r_flip_auth, NT_ERR_AUTH},  {"session", r_session, NT_ERR_AUTH},
    {"expiry", r_expiry, NT_ERR_AUTH},       {"name", r_name, NT_ERR_AUTH},
    {"responder", r_responder, NT_ERR_AUTH}, {"mode", r_mode, NT_ERR_INVALID},
    {"no signature", r_nosig, NT_ERR_INVALID},
};

START_TEST(tampered_reply)
{
    fixture f;
    fx_init(&f, NULL);
    hs_pending *p = NULL;
    json_t *req = NULL, *reply = NULL;
    ck_assert_int_eq(handshake_start(ka, "a", 0, identity_id(kb), HS_MODE_ECDH, ECDH_X25519, NOW, &p, &req), NT_OK);
    hs_accepted acc;
    ck_assert_int_eq(handshake_serve(&f.srv, req, &reply, &acc), HS_OK);
    TAMPER[_i].fn(reply);
    hs_session s;
    ck_assert_msg(handshake_finish(p, kb, reply, NOW, &s) == TAMPER[_i].want, "%s", TAMPER[_i].what);
    static const hs_session zero;
    ck_assert_mem_eq(&s, &zero, sizeof(s));
    handshake_accepted_clear(&acc);
    json_decref(req);
    json_decref(reply);
    handshake_pending_free(p);
    session_table_free(f.t);
}
END_TEST

/* C answers a request meant for B, signing with its own key: refused. */
START_TEST(reply_from_other_node)
{
    fixture f;
    fx_init(&f, NULL);
    f.srv.self = kc;
    hs_pending *p = NULL;
    json_t *req = NULL, *reply = NULL;
    ck_assert_int_eq(handshake_start(ka, "a", 0, identity_id(kb), HS_MODE_ECDH, ECDH_X25519, NOW, &p, &req), NT_OK);
    /* An honest C refuses (wrong responder)... */
    hs_accepted acc;
    ck_assert_int_eq(handshake_serve(&f.srv, req, &reply, &acc), HS_E_WRONG_RESPONDER);
    /* ...a dishonest one answers as if it were B; the requestor checks the
     * reply against B's pinned key and refuses. */
    char hex[65];
    identity_id_hex(kc, hex);
    set_str(req, "responder_id", hex);
    ck_assert_int_eq(handshake_resign(ka, req), NT_OK);
    ck_assert_int_eq(handshake_serve(&f.srv, req, &reply, &acc), HS_OK);
    identity_id_hex(kb, hex);
    set_str(reply, "responder_id", hex);
    hs_session s;
    ck_assert_int_eq(handshake_finish(p, kb, reply, NOW, &s), NT_ERR_AUTH);
    /* And with C's own id left in the reply: not the id we meant. */
    json_decref(reply);
    handshake_accepted_clear(&acc);
    hs_pending *p2 = NULL;
    json_t *req2 = NULL;
    ck_assert_int_eq(handshake_start(ka, "a", 0, identity_id(kb), HS_MODE_RSA, 0, NOW, &p2, &req2), NT_OK);
    set_str(req2, "responder_id", hex);
    identity_id_hex(kc, hex);
    set_str(req2, "responder_id", hex);
    ck_assert_int_eq(handshake_resign(ka, req2), NT_OK);
    ck_assert_int_eq(handshake_serve(&f.srv, req2, &reply, &acc), HS_OK);
    ck_assert_int_eq(handshake_finish(p2, kc, reply, NOW, &s), NT_ERR_AUTH);
    handshake_accepted_clear(&acc);
    json_decref(reply);
    json_decref(req);
    json_decref(req2);
    handshake_pending_free(p);
    handshake_pending_free(p2);
    session_table_free(f.t);
}
END_TEST

/* ---- session table: expiry, replay, confirmation bookkeeping ---- */

START_TEST(session_expiry)
{
    session_limits lim = {.idle = 100, .absolute = 1000};
    fixture f;
    fx_init(&f, &lim);
    hs_session s;
    hs_accepted acc;
    ck_assert_int_eq(run(&f, HS_MODE_ECDH, ECDH_X25519, &s, &acc), HS_OK);
    handshake_accepted_clear(&acc);
    session_view v;
    /* Unconfirmed: dies after 60 s idle. */
    ck_assert_int_eq(session_begin(f.t, s.session_id, 0, NOW + 59, &v), NT_OK);
    ck_assert_int_eq(session_commit(f.t, s.session_id, 0, NOW + 59), NT_OK);
    /* Confirmed now: idle 100. */
    ck_assert_int_eq(session_begin(f.t, s.session_id, 1, NOW + 158, &v), NT_OK);
    ck_assert_int_eq(session_commit(f.t, s.session_id, 1, NOW + 158), NT_OK);
    ck_assert_int_eq(session_begin(f.t, s.session_id, 2, NOW + 258, &v), NT_ERR_EXPIRED);
    ck_assert_int_eq(session_begin(f.t, s.session_id, 2, NOW + 258, &v), NT_ERR_NOT_FOUND);
    /* Absolute expiry however busy the session is. */
    ck_assert_int_eq(run(&f, HS_MODE_ECDH, ECDH_X25519, &s, &acc), HS_OK);
    handshake_accepted_clear(&acc);
    for (int64_t t = 0; t < 1000; t += 50) {
        ck_assert_int_eq(session_begin(f.t, s.session_id, (uint64_t)t, NOW + t, &v), NT_OK);
        ck_assert_int_eq(session_commit(f.t, s.session_id, (uint64_t)t, NOW + t), NT_OK);
    }
    ck_assert_int_eq(session_begin(f.t, s.session_id, 5000, NOW + 1000, &v), NT_ERR_EXPIRED);
    session_view_wipe(&v);
    /* An unconfirmed session left alone is swept. */
    ck_assert_int_eq(run(&f, HS_MODE_RSA, 0, &s, &acc), HS_OK);
    handshake_accepted_clear(&acc);
    ck_assert_uint_eq(session_sweep(f.t, NOW + 30), 0);
    ck_assert_uint_eq(session_sweep(f.t, NOW + 61), 1);
    ck_assert_uint_eq(session_count(f.t, NULL, NOW + 61), 0);
    session_table_free(f.t);
}
END_TEST

START_TEST(session_replay)
{
    fixture f;
    fx_init(&f, NULL);
    hs_session s;
    hs_accepted acc;
    ck_assert_int_eq(run(&f, HS_MODE_ECDH, ECDH_X25519, &s, &acc), HS_OK);
    handshake_accepted_clear(&acc);
    session_view v;
    ck_assert_int_eq(session_begin(f.t, s.session_id, 5, NOW, &v), NT_OK);
    ck_assert_int_eq(session_commit(f.t, s.session_id, 5, NOW), NT_OK);
    ck_assert_int_eq(session_begin(f.t, s.session_id, 5, NOW, &v), NT_ERR_REPLAY);
    /* Two concurrent requests with one seq: only one commit wins. */
    ck_assert_int_eq(session_begin(f.t, s.session_id, 6, NOW, &v), NT_OK);
    ck_assert_int_eq(session_begin(f.t, s.session_id, 6, NOW, &v), NT_OK);
    ck_assert_int_eq(session_commit(f.t, s.session_id, 6, NOW), NT_OK);
    ck_assert_int_eq(session_commit(f.t, s.session_id, 6, NOW), NT_ERR_REPLAY);
    ck_assert_int_eq(session_begin(f.t, s.session_id, 3, NOW, &v), NT_OK);
    ck_assert(v.confirmed);
    ck_assert_uint_eq(v.requests, 2);
    session_view_wipe(&v);
    uint8_t unknown[HS_SESSION_ID_LEN] = {0};
    ck_assert_int_eq(session_begin(f.t, unknown, 0, NOW, &v), NT_ERR_NOT_FOUND);
    ck_assert_int_eq(session_commit(f.t, unknown, 0, NOW), NT_ERR_NOT_FOUND);
    session_table_free(f.t);
}
END_TEST

START_TEST(status_table)
{
    for (int i = 0; i < HS_E__COUNT; i++) {
        ck_assert_ptr_nonnull(handshake_code((hs_status)i));
        ck_assert_int_ge(handshake_http_status((hs_status)i), 200);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(handshake_code((hs_status)i), handshake_code((hs_status)j));
    }
    ck_assert_int_eq(handshake_http_status(HS_E_NONCE_REPLAY), 409);
    ck_assert_int_eq(handshake_http_status(HS_E_SIGNATURE), 401);
    ck_assert_int_eq(handshake_http_status(HS_E_TOO_MANY), 429);
}
END_TEST

int test_setup(void)
{
    if (rng_init() || identity_generate(&ka, 2048) || identity_generate(&kb, 2048) || identity_generate(&kc, 2048))
        return EXIT_FAILURE;
    return TEST_GO;
}

Suite *test_suite(void)
{
    Suite *s = suite_create("handshake");
    TCase *tc = tcase_create("handshake");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, both_sides_agree, 0, 3);
    tcase_add_loop_test(tc, refusals, 0, (int)(sizeof(REFUSALS) / sizeof(REFUSALS[0])));
    tcase_add_test(tc, signature_by_other_key);
    tcase_add_test(tc, timestamp_window_and_replay);
    tcase_add_test(tc, too_many_sessions);
    tcase_add_test(tc, replay_refused_before_signature_check);
    tcase_add_test(tc, exponent_other_than_65537_refused);
    tcase_add_loop_test(tc, tampered_reply, 0, (int)(sizeof(TAMPER) / sizeof(TAMPER[0])));
    tcase_add_test(tc, reply_from_other_node);
    tcase_add_test(tc, session_expiry);
    tcase_add_test(tc, session_replay);
    tcase_add_test(tc, status_table);
    suite_add_tcase(s, tc);
    return s;
}

int test_teardown(int failed)
{
    identity_free(ka);
    identity_free(kb);
    identity_free(kc);
    return failed;
}
