/* hostile_peer.c - test_hostile_input's batches against the peer API's
 * cryptography: the handshake with every field mutated, and sealed
 * requests (random envelopes, each envelope member mutated, unknown
 * sessions, tampered boxes and replays on the live session, hostile JSON
 * sealed under its keys). See hostile.h. */
#include "hostile.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/encoding.h"
#include "crypto/rng.h"
#include "server/channel/envelope.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the handshake ---- */

typedef struct {
    const char *field, *value; /* value: raw JSON; NULL removes the field */
    int st0, st1;
    bool resign;
} hs_mut;

static void hs_send(hx *h, const hs_mut *m)
{
    json_t *req = json_deep_copy(h->hs_req);
    char nonce[64], label[256];
    /* A fresh nonce: a replay is its own case. */
    uint8_t nb[HS_NONCE_LEN];
    ck_assert_int_eq(rng_bytes(nb, sizeof nb), NT_OK);
    ck_assert_int_eq(encoding_b64_encode(nb, sizeof nb, B64_STD, nonce, sizeof nonce), NT_OK);
    json_object_set_new(req, "nonce", json_string(nonce));
    json_object_set_new(req, "timestamp", json_integer((json_int_t)time(NULL)));
    ck_assert_int_eq(handshake_resign(h->me, req), NT_OK); /* only the mutation is wrong */
    char *body = hx_json_with(req, m->field, m->value);
    if (m->resign) {
        /* Sign what is sent, so the check under test is what refuses it. */
        json_error_t err;
        json_t *back = json_loads(body, 0, &err);
        if (back && handshake_resign(h->me, back) == NT_OK) {
            free(body);
            body = json_dumps(back, JSON_COMPACT);
        }
        json_decref(back);
    }
    snprintf(label, sizeof label, "POST /v1/handshake, %s: %.60s%s", m->field, m->value ? m->value : "(absent)",
             m->resign ? " (signed)" : "");
    hx_send(h, HARNESS_PEER, label, "POST", "/v1/handshake", NULL, NULL, body, strlen(body),
            m->st0 ? ST(m->st0, m->st1) : ST(400, 401, 421));
    free(body);
    json_decref(req);
}

/* The field removed, then set to each of vals and each wrong-typed value
 * (but never to the value it has: that would be a good request). */
static void hs_field_mutations(hx *h, const char *field, const char *const *vals, size_t n)
{
    hs_mut m = {field, NULL, 0, 0, false};
    size_t nw;
    const char *const *wrong = hx_wrong_values('s', &nw);
    char *orig = json_dumps(json_object_get(h->hs_req, field), JSON_ENCODE_ANY | JSON_COMPACT);
    hs_send(h, &m);
    for (size_t i = 0; i < n + nw; i++) {
        m.value = i < n ? vals[i] : wrong[i - n];
        if (!orig || strcmp(orig, m.value) != 0)
            hs_send(h, &m);
    }
    free(orig);
}

/* Good handshakes from one peer until the per-peer cap (16 by default, one
 * of them the live session) refuses them: 429, and from then on only 429. */
static void hs_flood(hx *h)
{
    int refused = 0;
    for (int i = 0; i < 20; i++) {
        json_t *req = NULL;
        hs_pending *p = NULL;
        char label[96];
        ck_assert_int_eq(handshake_start(h->me, "tester", 0, h->srv_id, HS_MODE_ECDH, ECDH_X25519, (int64_t)time(NULL),
                                         &p, &req),
                         NT_OK);
        char *body = json_dumps(req, JSON_COMPACT);
        snprintf(label, sizeof label, "POST /v1/handshake, good, %d of 20 from one peer", i + 1);
        expect x = refused ? STC("too_many_sessions", 429) : ST(200, 429);
        refused += hx_send(h, HARNESS_PEER, label, "POST", "/v1/handshake", NULL, NULL, body, strlen(body), x) == 429;
        free(body);
        json_decref(req);
        handshake_pending_free(p);
    }
    ck_assert_msg(refused > 0, "20 sessions from one peer were all accepted");
}

void hx_batch_handshake(hx *h)
{
    hx_batch(h, "hs");
    char id_up[70], id_short[70], id_long[70];
    snprintf(id_up, sizeof id_up, "\"%s\"", h->me_hex);
    for (char *c = id_up; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
    snprintf(id_short, sizeof id_short, "\"%.63s\"", h->me_hex);
    snprintf(id_long, sizeof id_long, "\"%s0\"", h->me_hex);
    const char *ids[] = {id_up, id_short, id_long, "\"\"", "\"zz\"",
                         "\"0000000000000000000000000000000000000000000000000000000000000000\""};
    static const char *const b64[] = {"\"!!!!\"", "\"\"", "\"AAAA====\"", "\"-_-_\"", "\"A\"", "\"QUJD\\u0000\"",
                                      "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", "\"AAA\""};
    static const char *const versions[] = {"0", "2", "255", "256", "-1", "1.0", "\"1\""};
    static const char *const modes[] = {"\"\"", "\"nope\"", "\"ECDH\"", "\"ecdh \"", "\"rsa\"", "\"none\""};
    static const char *const curves[] = {"\"\"", "\"x448\"", "\"X25519\"", "\"P-256\"", "\"p256\"", "\"secp256k1\""};
    static const char *const ports[] = {"-1", "65536", "1.5", "\"80\"", "99999999999"};
    static const char *const names[] = {"\"\\u0000\"", "\"\\ud800\"", "\"\xff\""};
    hs_field_mutations(h, "initiator_id", ids, LEN(ids));
    hs_field_mutations(h, "responder_id", ids, LEN(ids));
    static const char *const hs_b64_fields[] = {"initiator_key", "ephemeral", "nonce", "signature"};
    for (size_t i = 0; i < LEN(hs_b64_fields); i++)
        hs_field_mutations(h, hs_b64_fields[i], b64, LEN(b64));
    hs_field_mutations(h, "version", versions, LEN(versions));
    hs_field_mutations(h, "mode", modes, LEN(modes));
    hs_field_mutations(h, "curve", curves, LEN(curves));
    hs_field_mutations(h, "port", ports, LEN(ports));
    hs_field_mutations(h, "name", names, LEN(names));
    hs_field_mutations(h, "timestamp", (const char *const[]){"0", "-1", "9223372036854775807", "1e30"}, 4);
    /* Signed, so that the check itself refuses: the window, the name. */
    char far[4][32];
    int64_t now = (int64_t)time(NULL);
    snprintf(far[0], sizeof far[0], "%lld", (long long)(now + 360));
    snprintf(far[1], sizeof far[1], "%lld", (long long)(now - 360));
    snprintf(far[2], sizeof far[2], "%lld", (long long)(now + 86400 * 365));
    snprintf(far[3], sizeof far[3], "%lld", (long long)INT64_MIN);
    for (int i = 0; i < 4; i++)
        hs_send(h, &(hs_mut){"timestamp", far[i], 401, 0, true});
    char name101[112], name10k[10010];
    snprintf(name101, sizeof name101, "\"%0101d\"", 0);
    name10k[0] = '"';
    memset(name10k + 1, 'n', 10000);
    strcpy(name10k + 10001, "\"");
    hs_send(h, &(hs_mut){"name", name101, 400, 0, true});
    hs_send(h, &(hs_mut){"name", name10k, 400, 0, true});
    hs_send(h, &(hs_mut){"mode", "\"rsa\"", 400, 0, true}); /* rsa with a curve and a share */
    hs_send(h, &(hs_mut){"curve", "\"p256\"", 400, 0, true}); /* a share of the wrong length */
    hs_flood(h);
    /* The handshake that opened the session, again: a replay. */
    char *body = json_dumps(h->hs_req, JSON_COMPACT);
    hx_call(h, HARNESS_PEER, "POST", "/v1/handshake", body, strlen(body), ST(401, 409));
    free(body);
    hx_batch_end(h, false);
}

/* ---- sealed requests ---- */

static void sealed_shapes(hx *h, const char *path)
{
    static const struct {
        const char *field, *value;
    } m[] = {
        {"v", "0"}, {"v", "2"}, {"v", "\"1\""}, {"v", "null"}, {"v", NULL},
        {"session", "\"00\""}, {"session", "\"000000000000000000000000000000000\""}, {"session", "1"},
        {"session", "\"ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ\""}, {"session", NULL},
        {"seq", "-1"}, {"seq", "1.5"}, {"seq", "\"1\""}, {"seq", "18446744073709551616"}, {"seq", NULL},
        {"box", "\"!!\""}, {"box", "\"\""}, {"box", "\"AAAAAAAAAAAAAAAAAAAAAA==\""}, {"box", "1"}, {"box", NULL},
        {"confirm", "\"AA==\""}, {"confirm", "1"}, {"query", "1"}, {"status", "200"}, {"extra", "1"},
    };
    char label[256];
    for (size_t i = 0; i < LEN(m); i++) {
        char *env = hx_envelope(h, "POST", path, 0, "{}", 2);
        json_error_t err;
        json_t *o = json_loads(env, 0, &err);
        char *body = hx_json_with(o, m[i].field, m[i].value);
        snprintf(label, sizeof label, "POST %s, envelope %s: %s", path, m[i].field, m[i].value ? m[i].value : "(absent)");
        hx_send(h, HARNESS_PEER, label, "POST", path, NULL, NULL, body, strlen(body), ST(400, 401));
        free(body), free(env);
        json_decref(o);
    }
}

static void sealed_random(hx *h)
{
    char label[128], body[2048], b64[1500];
    uint8_t bytes[700];
    for (int i = 0; i < 40; i++) {
        size_t n = 1 + (size_t)(i * 37 % 600);
        ck_assert_int_eq(rng_bytes(bytes, n), NT_OK);
        snprintf(label, sizeof label, "POST /v1/peer/ping, %zu random bytes", n);
        hx_send(h, HARNESS_PEER, label, "POST", "/v1/peer/ping", NULL, NULL, (char *)bytes, n, STC("malformed_envelope", 400));
        /* Well-formed but unknown session, and the live session with a random box. */
        uint8_t sid[16];
        ck_assert_int_eq(rng_bytes(sid, sizeof sid), NT_OK);
        char sidhex[33];
        ck_assert_int_eq(encoding_hex_encode(i % 2 ? sid : h->s.session_id, 16, sidhex, sizeof sidhex), NT_OK);
        ck_assert_int_eq(encoding_b64_encode(bytes, 65 + (size_t)(i % 4) * 16, B64_STD, b64, sizeof b64), NT_OK);
        snprintf(body, sizeof body, "{\"v\":1,\"session\":\"%s\",\"seq\":%d,\"box\":\"%s\"}", sidhex, 100000 + i, b64);
        snprintf(label, sizeof label, "POST /v1/peer/ping, %s session, random box", i % 2 ? "unknown" : "live");
        hx_send(h, HARNESS_PEER, label, "POST", "/v1/peer/ping", NULL, NULL, body, strlen(body),
                i % 2 ? STC("unknown_session", 401) : STC("bad_envelope", 401));
    }
}

static void sealed_live(hx *h)
{
    char path[128], label[256], body[512], b64[200];
    uint8_t box[81];
    ck_assert_int_eq(rng_bytes(box, sizeof box), NT_OK);
    ck_assert_int_eq(encoding_b64_encode(box, sizeof box, B64_STD, b64, sizeof b64), NT_OK);
    char sid[33];
    ck_assert_int_eq(encoding_hex_encode(h->s.session_id, 16, sid, sizeof sid), NT_OK);
    /* The live session with a random box: a used seq is a replay before the
     * MAC is looked at; the highest seq moves nothing when the MAC fails. */
    snprintf(body, sizeof body, "{\"v\":1,\"session\":\"%s\",\"seq\":1,\"box\":\"%s\"}", sid, b64);
    hx_call(h, HARNESS_PEER, "POST", "/v1/peer/ping", body, strlen(body), STC("replayed", 409));
    snprintf(body, sizeof body, "{\"v\":1,\"session\":\"%s\",\"seq\":9223372036854775807,\"box\":\"%s\"}", sid,
             b64);
    hx_call(h, HARNESS_PEER, "POST", "/v1/peer/ping", body, strlen(body), STC("bad_envelope", 401));
    /* A good envelope sent twice: the second is a replay. */
    char *env = hx_envelope(h, "POST", "/v1/peer/ping", 0, "{}", 2);
    hx_send(h, HARNESS_PEER, "POST /v1/peer/ping, good", "POST", "/v1/peer/ping", NULL, NULL, env, strlen(env), ST(200));
    hx_send(h, HARNESS_PEER, "POST /v1/peer/ping, replayed", "POST", "/v1/peer/ping", NULL, NULL, env, strlen(env),
            STC("replayed", 409));
    free(env);
    /* Sealed for one path, sent to another. */
    env = hx_envelope(h, "POST", "/v1/peer/ping", 0, "{}", 2);
    hx_send(h, HARNESS_PEER, "POST /v1/peer/rooms (sealed for ping)", "POST", "/v1/peer/rooms/x/join", NULL, NULL, env,
            strlen(env), ST(400, 401, 404));
    free(env);
    hx_blob b[HX_BLOBS_MAX];
    size_t nb = hx_malformed_json(b);
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/join", h->room);
    for (size_t i = 0; i < nb; i++) {
        if (!b[i].len)
            continue; /* an empty sealed body is no body */
        snprintf(label, sizeof label, "sealed POST /v1/peer/ping [%s]", b[i].name);
        hx_sealed(h, label, "POST", "/v1/peer/ping", b[i].text, b[i].len, b[i].len > 4096 ? ST(400, 413) : ST(400));
        snprintf(label, sizeof label, "sealed POST /v1/peer/rooms/{room}/join [%s]", b[i].name);
        hx_sealed(h, label, "POST", path, b[i].text, b[i].len, ST(400));
    }
    hx_blobs_free(b, nb);
    /* Unknown sealed routes: refused before the envelope is looked at. */
    env = hx_envelope(h, "GET", "/v1/peer/nope", 0, "", 0);
    hx_send(h, HARNESS_PEER, "sealed GET /v1/peer/nope", "GET", "/v1/peer/nope", NULL, NULL, env, strlen(env),
            STC("not_found", 404));
    free(env);
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/nope", h->room);
    env = hx_envelope(h, "POST", path, 0, "", 0);
    hx_send(h, HARNESS_PEER, "sealed POST /v1/peer/rooms/{room}/nope", "POST", path, NULL, NULL, env, strlen(env),
            STC("not_found", 404));
    free(env);
}

/* Each member of each sealed body with each wrong type, under the live
 * session: refused and sealed, never a 500 (this peer is no member, so 403
 * may come first, and a "pub" that is not its key is 401). */
static void sealed_types(hx *h)
{
    static const struct {
        const char *path, *base, *fields[4];
    } t[] = {
        {"/v1/peer/rooms/{room}/join", "{\"pub\":\"AAAA\",\"delivery\":\"push\"}", {"pub", "password", "delivery"}},
        {"/v1/peer/rooms/{room}/messages", "{\"txn_id\":\"t\",\"epoch\":1,\"body\":\"AAAA\",\"sig\":\"AAAA\"}",
         {"txn_id", "epoch", "body", "sig"}},
        {"/v1/peer/rooms/{room}/batch", "{\"messages\":[]}", {"messages"}},
        {"/v1/peer/rooms/{room}/notify", "{\"head\":0,\"epoch\":1,\"event\":\"message\"}", {"head", "epoch", "event"}},
        {"/v1/peer/rooms/{room}/delivery", "{\"mode\":\"poll\"}", {"mode"}},
    };
    static const char *const wrong[] = {"1", "-1", "1.5", "true", "null", "\"\"", "\"!!\"", "{}", "[1]", "[null]",
                                        "[{\"txn_id\":1}]"};
    char path[256], label[512], base[256];
    for (size_t i = 0; i < LEN(t); i++) {
        hx_expand(h, t[i].path, path, sizeof path);
        json_error_t err;
        json_t *o = json_loads(t[i].base, 0, &err);
        ck_assert_ptr_nonnull(o);
        for (size_t f = 0; f < LEN(t[i].fields) && t[i].fields[f]; f++)
            for (size_t w = 0; w < LEN(wrong); w++) {
                char *body = hx_json_with(o, t[i].fields[f], wrong[w]);
                snprintf(base, sizeof base, "%s", body);
                snprintf(label, sizeof label, "sealed POST %s %s", t[i].path, base);
                hx_sealed(h, label, "POST", path, body, strlen(body), ST(400, 401, 403, 404, 409));
                free(body);
            }
        json_decref(o);
    }
}

void hx_batch_sealed(hx *h)
{
    hx_batch(h, "sealed");
    sealed_shapes(h, "/v1/peer/ping");
    sealed_random(h);
    sealed_live(h);
    sealed_types(h);
    /* The session still works. */
    char *env = hx_envelope(h, "POST", "/v1/peer/ping", 0, "{}", 2);
    hx_send(h, HARNESS_PEER, "POST /v1/peer/ping after the batch", "POST", "/v1/peer/ping", NULL, NULL, env,
            strlen(env), ST(200));
    free(env);
    hx_batch_end(h, false);
}

