/* test_ecdh.c - X25519 and P-256 key agreement against RFC 7748 and
 * Project Wycheproof (x25519, ecdh_secp256r1 ecpoint and SPKI forms), with
 * every verdict checked, plus the API's refusals. */
#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>

#include "crypto/ecdh.h"
#include "crypto/rng.h"
#include "vectors_util.h"
#include "unit_util.h"
#include "tests/test_main.h"

static void setup(void)
{
    ck_assert_int_eq(rng_init(), NT_OK);
}

static void teardown(void)
{
    rng_free();
}

/* X25519(scalar, u) through the public API. */
static nt_err x25519(const uint8_t k[32], const uint8_t *u, size_t ulen, uint8_t out[32])
{
    ecdh_key *key = NULL;
    nt_err rc = ecdh_from_private(&key, ECDH_X25519, k, 32);
    ck_assert_int_eq(rc, NT_OK);
    rc = ecdh_shared(key, u, ulen, out);
    ecdh_free(key);
    return rc;
}

START_TEST(test_rfc7748_scalar_mult)
{
    json_t *j = vec_load_json("rfc7748_x25519.json");
    ck_assert_ptr_nonnull(j);
    json_t *arr = json_object_get(j, "scalar_mult");
    ck_assert_int_eq(json_array_size(arr), 2);
    size_t i;
    json_t *t;
    json_array_foreach(arr, i, t) {
        uint8_t k[32], u[32], want[32], got[32];
        ck_assert_int_eq(vec_hex_into(t, "scalar", k, 32), 32);
        ck_assert_int_eq(vec_hex_into(t, "u", u, 32), 32);
        ck_assert_int_eq(vec_hex_into(t, "out", want, 32), 32);
        ck_assert_int_eq(x25519(k, u, 32, got), NT_OK);
        ck_assert_msg(memcmp(got, want, 32) == 0, "RFC 7748 5.2 vector %zu", i);
    }
    json_decref(j);
}
END_TEST

/* RFC 7748 5.2: k = u = 9; repeat k, u = X25519(k, u), k. */
START_TEST(test_rfc7748_iterated)
{
    json_t *j = vec_load_json("rfc7748_x25519.json");
    ck_assert_ptr_nonnull(j);
    json_t *it = json_object_get(j, "iterated");
    uint8_t k[32], u[32], next[32];
    ck_assert_int_eq(vec_hex_into(it, "start", k, 32), 32);
    memcpy(u, k, 32);
    json_t *after = json_object_get(it, "after");
    ck_assert_int_eq(json_array_size(after), 2);
    size_t done = 0, idx;
    json_t *want_o;
    json_array_foreach(after, idx, want_o) {
        size_t target = (size_t)json_integer_value(json_object_get(want_o, "iterations"));
        ck_assert(target > done && target <= 1000);
        for (; done < target; done++) {
            ck_assert_int_eq(x25519(k, u, 32, next), NT_OK);
            memcpy(u, k, 32);
            memcpy(k, next, 32);
        }
        uint8_t want[32];
        ck_assert_int_eq(vec_hex_into(want_o, "k", want, 32), 32);
        ck_assert_msg(memcmp(k, want, 32) == 0, "after %zu iterations", target);
    }
    ck_assert_uint_eq(done, 1000);
    json_decref(j);
}
END_TEST

START_TEST(test_rfc7748_dh)
{
    json_t *j = vec_load_json("rfc7748_x25519.json");
    ck_assert_ptr_nonnull(j);
    json_t *dh = json_object_get(j, "dh");
    uint8_t apriv[32], apub[32], bpriv[32], bpub[32], shared[32], pub[ECDH_PUB_MAX], s1[32], s2[32];
    size_t len = 0;
    vec_hex_into(dh, "alice_priv", apriv, 32);
    vec_hex_into(dh, "alice_pub", apub, 32);
    vec_hex_into(dh, "bob_priv", bpriv, 32);
    vec_hex_into(dh, "bob_pub", bpub, 32);
    vec_hex_into(dh, "shared", shared, 32);
    ecdh_key *a = NULL, *b = NULL;
    ck_assert_int_eq(ecdh_from_private(&a, ECDH_X25519, apriv, 32), NT_OK);
    ck_assert_int_eq(ecdh_from_private(&b, ECDH_X25519, bpriv, 32), NT_OK);
    ck_assert_int_eq(ecdh_public(a, pub, sizeof pub, &len), NT_OK);
    ck_assert_uint_eq(len, 32);
    ck_assert(memcmp(pub, apub, 32) == 0);
    ck_assert_int_eq(ecdh_public(b, pub, sizeof pub, &len), NT_OK);
    ck_assert(memcmp(pub, bpub, 32) == 0);
    ck_assert_int_eq(ecdh_shared(a, bpub, 32, s1), NT_OK);
    ck_assert_int_eq(ecdh_shared(b, apub, 32, s2), NT_OK);
    ck_assert(memcmp(s1, shared, 32) == 0);
    ck_assert(memcmp(s2, shared, 32) == 0);
    ecdh_free(a);
    ecdh_free(b);
    json_decref(j);
}
END_TEST

static bool has_flag(const json_t *t, const char *flag)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(t, "flags"), i, f) {
        if (strcmp(json_string_value(f), flag) == 0)
            return true;
    }
    return false;
}

/* Wycheproof x25519: every vector. Policy (RFC 7748): non-canonical u and
 * twist points are accepted and must give the RFC's result; an all-zero
 * result (low-order point, section 6.1) is refused whatever the verdict.
 * The file has no "invalid" vectors; one would have to be refused. */
START_TEST(test_wycheproof_x25519)
{
    json_t *j = vec_load_json("wycheproof/x25519_test.json");
    ck_assert_ptr_nonnull(j);
    size_t total = 0, matched = 0, refused_zero = 0, noncanonical = 0, twist = 0, gi, ti;
    json_t *g, *t;
    json_array_foreach(json_object_get(j, "testGroups"), gi, g) {
        ck_assert_str_eq(vec_str(g, "curve"), "curve25519");
        json_array_foreach(json_object_get(g, "tests"), ti, t) {
            uint8_t priv[32], pub[64], want[32], got[32];
            int id = (int)json_integer_value(json_object_get(t, "tcId"));
            const char *res = vec_str(t, "result");
            ck_assert_int_eq(vec_hex_into(t, "private", priv, sizeof priv), 32);
            size_t publen = vec_hex_into(t, "public", pub, sizeof pub);
            ck_assert_int_eq(vec_hex_into(t, "shared", want, sizeof want), 32);
            nt_err rc = x25519(priv, pub, publen, got);
            total++;
            if (strcmp(res, "invalid") == 0) {
                ck_assert_msg(rc == NT_ERR_AUTH, "tcId %d invalid but accepted", id);
            } else if (all_zero(want, 32)) {
                ck_assert_msg(rc == NT_ERR_AUTH, "tcId %d: all-zero secret must be refused", id);
                ck_assert(all_zero(got, 32));
                ck_assert_msg(has_flag(t, "ZeroSharedSecret") || has_flag(t, "LowOrderPublic"),
                              "tcId %d zero without flag", id);
                refused_zero++;
            } else {
                ck_assert_msg(rc == NT_OK, "tcId %d (%s) refused: %s", id, res, err_str(rc));
                ck_assert_msg(memcmp(got, want, 32) == 0, "tcId %d (%s) wrong secret", id, res);
                matched++;
                if (has_flag(t, "NonCanonicalPublic"))
                    noncanonical++;
                if (has_flag(t, "Twist"))
                    twist++;
            }
        }
    }
    ck_assert_int_eq(total, json_integer_value(json_object_get(j, "numberOfTests")));
    ck_assert(refused_zero > 0 && matched > 0);
    /* Accepted as RFC 7748 says, with the RFC's result (not just refused). */
    ck_assert(noncanonical > 0 && twist > 0);
    json_decref(j);
}
END_TEST

/* Wycheproof private keys are big-endian integers, sometimes with a
 * leading zero byte or fewer than 32 bytes: normalise to 32. */
static void p256_priv(const json_t *t, uint8_t out[32])
{
    uint8_t raw[64];
    size_t n = vec_hex_into(t, "private", raw, sizeof raw), off = 0;
    while (n - off > 32) {
        ck_assert(raw[off] == 0);
        off++;
    }
    memset(out, 0, 32);
    memcpy(out + 32 - (n - off), raw + off, n - off);
}

/* Raw public key (SEC1 bytes) -> shared secret with the vector's key. */
static nt_err p256_exchange(const json_t *t, const uint8_t *pub, size_t publen, uint8_t got[32])
{
    uint8_t priv[32];
    ecdh_key *k = NULL;
    p256_priv(t, priv);
    ck_assert_int_eq(ecdh_from_private(&k, ECDH_P256, priv, 32), NT_OK);
    nt_err rc = ecdh_shared(k, pub, publen, got);
    ecdh_free(k);
    return rc;
}

/* Policy for both P-256 files: valid must match, invalid must be refused
 * (NT_ERR_AUTH), acceptable may be refused (here: compressed points, which
 * our fixed 65-byte encoding does not take, and lenient ASN.1 forms) but
 * must match when accepted. */
static void p256_verdict(const json_t *t, nt_err rc, const uint8_t got[32], size_t *acc_ok, size_t *acc_refused)
{
    uint8_t want[32];
    int id = (int)json_integer_value(json_object_get(t, "tcId"));
    const char *res = vec_str(t, "result");
    size_t wl = vec_hex_into(t, "shared", want, sizeof want);
    if (strcmp(res, "valid") == 0) {
        ck_assert_msg(rc == NT_OK, "tcId %d valid but refused: %s", id, err_str(rc));
        ck_assert_int_eq(wl, 32);
        ck_assert_msg(memcmp(got, want, 32) == 0, "tcId %d wrong secret", id);
    } else if (strcmp(res, "invalid") == 0) {
        ck_assert_msg(rc != NT_OK, "tcId %d invalid but accepted", id);
        ck_assert(all_zero(got, 32));
    } else {
        ck_assert_str_eq(res, "acceptable");
        if (rc == NT_OK) {
            ck_assert_msg(wl == 32 && memcmp(got, want, 32) == 0, "tcId %d accepted with wrong secret", id);
            (*acc_ok)++;
        } else {
            (*acc_refused)++;
        }
    }
}

START_TEST(test_wycheproof_p256_ecpoint)
{
    json_t *j = vec_load_json("wycheproof/ecdh_secp256r1_ecpoint_test.json");
    ck_assert_ptr_nonnull(j);
    size_t total = 0, acc_ok = 0, acc_refused = 0, gi, ti;
    json_t *g, *t;
    json_array_foreach(json_object_get(j, "testGroups"), gi, g) {
        ck_assert_str_eq(vec_str(g, "curve"), "secp256r1");
        ck_assert_str_eq(vec_str(g, "encoding"), "ecpoint");
        json_array_foreach(json_object_get(g, "tests"), ti, t) {
            uint8_t pub[256], got[32];
            size_t publen = vec_hex_into(t, "public", pub, sizeof pub);
            nt_err rc = p256_exchange(t, pub, publen, got);
            if (rc != NT_OK)
                ck_assert_int_eq(rc, NT_ERR_AUTH); /* a bad peer key is an auth failure */
            /* Our wire form is the 65-byte uncompressed point only. */
            if (has_flag(t, "CompressedPublic") || has_flag(t, "CompressedPoint"))
                ck_assert_int_eq(rc, NT_ERR_AUTH);
            p256_verdict(t, rc, got, &acc_ok, &acc_refused);
            total++;
        }
    }
    ck_assert_int_eq(total, json_integer_value(json_object_get(j, "numberOfTests")));
    ck_assert_uint_eq(acc_ok, 0); /* the one acceptable vector is a compressed point */
    ck_assert_uint_eq(acc_refused, 1);
    json_decref(j);
}
END_TEST

/* SPKI (DER) public key -> the 65-byte point our API takes: parsed with
 * mbedTLS, which must name secp256r1 (explicit parameters are accepted only
 * when they are exactly P-256's). */
static nt_err spki_to_point(const uint8_t *der, size_t len, uint8_t pt[ECDH_P256_PUB_LEN])
{
    mbedtls_pk_context pk;
    nt_err rc = NT_ERR_AUTH;
    size_t olen = 0;

    mbedtls_pk_init(&pk);
    if (mbedtls_pk_parse_public_key(&pk, der, len) != 0)
        goto out;
    if (mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECKEY && mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECKEY_DH)
        goto out;
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(pk);
    if (ec->grp.id != MBEDTLS_ECP_DP_SECP256R1)
        goto out;
    if (mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, pt,
                                       ECDH_P256_PUB_LEN) != 0 ||
        olen != ECDH_P256_PUB_LEN)
        goto out;
    rc = NT_OK;
out:
    mbedtls_pk_free(&pk);
    return rc;
}

START_TEST(test_wycheproof_p256_spki)
{
    json_t *j = vec_load_json("wycheproof/ecdh_secp256r1_test.json");
    ck_assert_ptr_nonnull(j);
    size_t total = 0, acc_ok = 0, acc_refused = 0, gi, ti;
    json_t *g, *t;
    json_array_foreach(json_object_get(j, "testGroups"), gi, g) {
        ck_assert_str_eq(vec_str(g, "curve"), "secp256r1");
        ck_assert_str_eq(vec_str(g, "encoding"), "asn");
        json_array_foreach(json_object_get(g, "tests"), ti, t) {
            uint8_t der[8192], pt[ECDH_P256_PUB_LEN], got[32];
            size_t derlen = vec_hex_into(t, "public", der, sizeof der);
            memset(got, 0, sizeof got);
            nt_err rc = spki_to_point(der, derlen, pt);
            if (rc == NT_OK)
                rc = p256_exchange(t, pt, sizeof pt, got);
            p256_verdict(t, rc, got, &acc_ok, &acc_refused);
            total++;
        }
    }
    ck_assert_int_eq(total, json_integer_value(json_object_get(j, "numberOfTests")));
    fprintf(stderr, "ecdh_secp256r1_test: %zu acceptable accepted (correct secret), %zu refused\n", acc_ok,
            acc_refused);
    json_decref(j);
}
END_TEST

static const ecdh_curve curves[] = {ECDH_X25519, ECDH_P256};

START_TEST(test_generate_agree)
{
    ecdh_curve c = curves[_i];
    ecdh_key *a = NULL, *b = NULL;
    uint8_t pa[ECDH_PUB_MAX], pb[ECDH_PUB_MAX], sa[ECDH_SECRET_LEN], sb[ECDH_SECRET_LEN];
    size_t la = 0, lb = 0;
    ck_assert_int_eq(ecdh_generate(&a, c), NT_OK);
    ck_assert_int_eq(ecdh_generate(&b, c), NT_OK);
    ck_assert_int_eq(ecdh_public(a, pa, sizeof pa, &la), NT_OK);
    ck_assert_int_eq(ecdh_public(b, pb, sizeof pb, &lb), NT_OK);
    ck_assert_uint_eq(la, ecdh_public_len(c));
    ck_assert_uint_eq(lb, ecdh_public_len(c));
    ck_assert(memcmp(pa, pb, la) != 0);
    if (c == ECDH_P256)
        ck_assert_int_eq(pa[0], 0x04);
    ck_assert_int_eq(ecdh_shared(a, pb, lb, sa), NT_OK);
    ck_assert_int_eq(ecdh_shared(b, pa, la, sb), NT_OK);
    ck_assert(memcmp(sa, sb, sizeof sa) == 0);
    ck_assert(!all_zero(sa, sizeof sa));
    /* Our own public key: still a valid exchange (same secret both ways). */
    ck_assert_int_eq(ecdh_shared(a, pa, la, sa), NT_OK);
    /* Short output buffer for the public key. */
    ck_assert_int_eq(ecdh_public(a, pa, ecdh_public_len(c) - 1, &la), NT_ERR_TOO_BIG);
    ecdh_free(a);
    ecdh_free(b);
}
END_TEST

/* Peer keys that must be refused, with the output zeroed. */
START_TEST(test_bad_peer_keys)
{
    ecdh_key *x = NULL, *p = NULL;
    uint8_t good_x[32], good_p[65], bad[66], out[32];
    size_t l = 0;
    ck_assert_int_eq(ecdh_generate(&x, ECDH_X25519), NT_OK);
    ck_assert_int_eq(ecdh_generate(&p, ECDH_P256), NT_OK);
    ck_assert_int_eq(ecdh_public(x, good_x, sizeof good_x, &l), NT_OK);
    ck_assert_int_eq(ecdh_public(p, good_p, sizeof good_p, &l), NT_OK);

    static const size_t xlens[] = {0, 1, 31, 33, 65};
    for (size_t i = 0; i < sizeof xlens / sizeof xlens[0]; i++) {
        memset(bad, 0x42, sizeof bad);
        memset(out, 0xee, sizeof out);
        ck_assert_int_eq(ecdh_shared(x, bad, xlens[i], out), NT_ERR_AUTH);
        ck_assert(all_zero(out, sizeof out));
    }
    ck_assert_int_eq(ecdh_shared(x, NULL, 32, out), NT_ERR_AUTH);
    /* Low-order u: 0, 1 (both refused, output all zero). */
    memset(bad, 0, 32);
    ck_assert_int_eq(ecdh_shared(x, bad, 32, out), NT_ERR_AUTH);
    bad[0] = 1;
    ck_assert_int_eq(ecdh_shared(x, bad, 32, out), NT_ERR_AUTH);
    ck_assert(all_zero(out, sizeof out));

    static const size_t plens[] = {0, 1, 33, 64, 66};
    for (size_t i = 0; i < sizeof plens / sizeof plens[0]; i++) {
        memcpy(bad, good_p, 65);
        bad[65] = 0;
        ck_assert_int_eq(ecdh_shared(p, bad, plens[i], out), NT_ERR_AUTH);
    }
    /* Wrong prefix (compressed / hybrid / infinity marker) on a good point. */
    static const uint8_t prefixes[] = {0x00, 0x02, 0x03, 0x06, 0x07};
    for (size_t i = 0; i < sizeof prefixes; i++) {
        memcpy(bad, good_p, 65);
        bad[0] = prefixes[i];
        ck_assert_int_eq(ecdh_shared(p, bad, 65, out), NT_ERR_AUTH);
    }
    /* Off the curve: flip one bit of y. */
    memcpy(bad, good_p, 65);
    bad[64] ^= 1;
    memset(out, 0xee, sizeof out);
    ck_assert_int_eq(ecdh_shared(p, bad, 65, out), NT_ERR_AUTH);
    ck_assert(all_zero(out, sizeof out));
    /* Cross-curve keys. */
    ck_assert_int_eq(ecdh_shared(p, good_x, 32, out), NT_ERR_AUTH);
    ck_assert_int_eq(ecdh_shared(x, good_p, 65, out), NT_ERR_AUTH);
    ecdh_free(x);
    ecdh_free(p);
}
END_TEST

START_TEST(test_api_edges)
{
    ecdh_curve c;
    ck_assert_int_eq(ecdh_curve_parse("x25519", &c), NT_OK);
    ck_assert_int_eq(c, ECDH_X25519);
    ck_assert_int_eq(ecdh_curve_parse("p256", &c), NT_OK);
    ck_assert_int_eq(c, ECDH_P256);
    ck_assert_int_eq(ecdh_curve_parse("P256", &c), NT_ERR_INVALID);
    ck_assert_int_eq(ecdh_curve_parse("", &c), NT_ERR_INVALID);
    ck_assert_int_eq(ecdh_curve_parse(NULL, &c), NT_ERR_INVALID);
    ck_assert_str_eq(ecdh_curve_name(ECDH_X25519), "x25519");
    ck_assert_str_eq(ecdh_curve_name(ECDH_P256), "p256");
    ck_assert_ptr_null(ecdh_curve_name((ecdh_curve)7));
    ck_assert_uint_eq(ecdh_public_len((ecdh_curve)7), 0);

    ecdh_key *k = (ecdh_key *)1;
    ck_assert_int_eq(ecdh_generate(&k, (ecdh_curve)7), NT_ERR_INVALID);
    ck_assert_ptr_null(k);
    uint8_t s[33] = {0};
    ck_assert_int_eq(ecdh_from_private(&k, ECDH_X25519, s, 31), NT_ERR_INVALID);
    ck_assert_int_eq(ecdh_from_private(&k, ECDH_P256, s, 33), NT_ERR_INVALID);
    /* P-256 scalar 0 and n (group order) are not private keys. */
    ck_assert_int_eq(ecdh_from_private(&k, ECDH_P256, s, 32), NT_ERR_INVALID);
    static const uint8_t n[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                  0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
    ck_assert_int_eq(ecdh_from_private(&k, ECDH_P256, n, 32), NT_ERR_INVALID);
    ck_assert_ptr_null(k);
    /* Any 32 bytes are an X25519 scalar once clamped, zeros included. */
    ck_assert_int_eq(ecdh_from_private(&k, ECDH_X25519, s, 32), NT_OK);
    ecdh_free(k);
    ecdh_free(NULL);
}
END_TEST

/* Fresh keys: the DRBG is in use, two keys never collide. */
START_TEST(test_generate_distinct)
{
    uint8_t seen[16][ECDH_X25519_PUB_LEN];
    for (size_t i = 0; i < 16; i++) {
        ecdh_key *k = NULL;
        size_t l = 0;
        ck_assert_int_eq(ecdh_generate(&k, ECDH_X25519), NT_OK);
        ck_assert_int_eq(ecdh_public(k, seen[i], sizeof seen[i], &l), NT_OK);
        for (size_t j = 0; j < i; j++)
            ck_assert(memcmp(seen[i], seen[j], l) != 0);
        ecdh_free(k);
    }
}
END_TEST

/* One const key used from several threads at once (the header allows it):
 * every thread gets the same, correct secret. */
typedef struct {
    const ecdh_key *k;
    const uint8_t *peer;
    size_t peer_len;
    const uint8_t *want;
    int bad;
} thread_arg;

static void *shared_thread(void *p)
{
    thread_arg *a = p;
    for (int i = 0; i < 20; i++) {
        uint8_t s[ECDH_SECRET_LEN];
        if (ecdh_shared(a->k, a->peer, a->peer_len, s) != NT_OK || memcmp(s, a->want, sizeof s) != 0)
            a->bad++;
    }
    return NULL;
}

START_TEST(test_shared_threads)
{
    ecdh_curve c = curves[_i];
    ecdh_key *a = NULL, *b = NULL;
    uint8_t pb[ECDH_PUB_MAX], want[ECDH_SECRET_LEN];
    size_t lb = 0;
    ck_assert_int_eq(ecdh_generate(&a, c), NT_OK);
    ck_assert_int_eq(ecdh_generate(&b, c), NT_OK);
    ck_assert_int_eq(ecdh_public(b, pb, sizeof pb, &lb), NT_OK);
    ck_assert_int_eq(ecdh_shared(a, pb, lb, want), NT_OK);
    enum { T = 4 };
    pthread_t th[T];
    thread_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (thread_arg){a, pb, lb, want, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, shared_thread, &args[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(args[i].bad, 0);
    }
    ecdh_free(a);
    ecdh_free(b);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("ecdh");
    TCase *kat = tcase_create("vectors");
    tcase_add_checked_fixture(kat, setup, teardown);
    tcase_set_timeout(kat, 120);
    tcase_add_test(kat, test_rfc7748_scalar_mult);
    tcase_add_test(kat, test_rfc7748_iterated);
    tcase_add_test(kat, test_rfc7748_dh);
    tcase_add_test(kat, test_wycheproof_x25519);
    tcase_add_test(kat, test_wycheproof_p256_ecpoint);
    tcase_add_test(kat, test_wycheproof_p256_spki);
    suite_add_tcase(s, kat);

    TCase *api = tcase_create("api");
    tcase_add_checked_fixture(api, setup, teardown);
    tcase_add_loop_test(api, test_generate_agree, 0, (int)(sizeof curves / sizeof curves[0]));
    tcase_add_test(api, test_bad_peer_keys);
    tcase_add_test(api, test_api_edges);
    tcase_add_test(api, test_generate_distinct);
    tcase_add_loop_test(api, test_shared_threads, 0, (int)(sizeof curves / sizeof curves[0]));
    suite_add_tcase(s, api);
    return s;
}
