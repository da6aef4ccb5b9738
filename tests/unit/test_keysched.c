/* Unit tests for server/keysched: a fixed vector made once by the
 * independent implementation in tests/vectors/gen_keysched.py (X25519
 * from RFC 7748 section 6.1, transcript of hs_vector.h). */
#include <check.h>
#include <stdlib.h>
#include "hs_vector.h"
#include "crypto/ecdh.h"
#include "crypto/rng.h"
#include "server/channel/keysched.h"
#include "tests/test_main.h"

static const char *const IKM = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
static const char *const TH = "ef2c55bf9793d944119f6a8443e53676cd92b9e6f572082f41df540d9ebea6a8";
static const char *const CONFIRM = "6f288a897177217a19e29b7bf0c0dc024d4bc5d6ead448db0f51fb0f493adcfa";
static const struct {
    const char *label;
    const char *hex;
} KEYS[] = {
    {"c2s enc", "86e4e294f481e8f1e317785e707ef472cd653dcd64c5a0ecdb9afbb7101b1251"},
    {"c2s mac", "b85cc48c73ec67cf36a699e88b33a71072f40569718a10e69ac41633e07bb402"},
    {"s2c enc", "bac13dc186ac746f9946dfa0ef066168177701440961ffac7abb7bf17efca0e9"},
    {"s2c mac", "27ca29968793152e2ec051a37131db48b118dd54a0927f2428d34c321fe2c8fe"},
    {"auth-key enc", "89836e0ab6bff438e960b11bb7d198f1b82f8772bed010faf671bc34af95da86"},
    {"auth-key mac", "fef8ecc38be0ce6290ffd0d97c5575901995748686ca9fe18e67a7db86c34c80"},
};

static const uint8_t *key_of(const session_keys *k, size_t i)
{
    const uint8_t *p[] = {k->c2s.enc, k->c2s.mac, k->s2c.enc, k->s2c.mac, k->ak.enc, k->ak.mac};
    return p[i];
}

static void th_of_vector(uint8_t th[32])
{
    hs_vector v;
    hs_vector_init(&v);
    static uint8_t t[TRANSCRIPT_MAX];
    size_t n = 0;
    ck_assert_int_eq(transcript_core(&v.rq, v.sig, sizeof(v.sig), &v.rp, t, sizeof(t), &n), NT_OK);
    ck_assert_int_eq(keysched_hash(t, n, th), NT_OK);
}

START_TEST(vector)
{
    /* IKM from the ECDH module with the RFC 7748 keys. */
    static const char *alice_priv = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    uint8_t priv[32], ikm[32], want[32], th[32];
    hex_to(alice_priv, priv, 32);
    ecdh_key *k = NULL;
    ck_assert_int_eq(ecdh_from_private(&k, ECDH_X25519, priv, 32), NT_OK);
    ck_assert_int_eq(ecdh_shared(k, VEC_BOB_PUB, 32, ikm), NT_OK);
    ecdh_free(k);
    hex_to(IKM, want, 32);
    ck_assert_mem_eq(ikm, want, 32);

    th_of_vector(th);
    hex_to(TH, want, 32);
    ck_assert_mem_eq(th, want, 32);

    hs_vector v;
    hs_vector_init(&v);
    session_keys keys;
    ck_assert_int_eq(keysched_derive(ikm, v.rq.nonce, v.rp.nonce, th, &keys), NT_OK);
    for (size_t i = 0; i < sizeof(KEYS) / sizeof(KEYS[0]); i++) {
        hex_to(KEYS[i].hex, want, 32);
        ck_assert_msg(!memcmp(key_of(&keys, i), want, 32), "key %s", KEYS[i].label);
    }
    keysched_wipe(&keys);
    static const uint8_t zero[sizeof(keys)];
    ck_assert_mem_eq(&keys, zero, sizeof(keys));

    uint8_t a[HS_AUTH_KEY_LEN], conf[KEYSCHED_CONFIRM_LEN];
    memset(a, 0x42, sizeof(a));
    ck_assert_int_eq(keysched_confirm(a, v.rp.session_id, th, conf), NT_OK);
    hex_to(CONFIRM, want, 32);
    ck_assert_mem_eq(conf, want, 32);
}
END_TEST

/* Every input changes every key; the six keys differ from each other. */
START_TEST(inputs_bound)
{
    uint8_t ikm[32], nc[32], ns[32], th[32];
    memset(ikm, 1, 32);
    memset(nc, 2, 32);
    memset(ns, 3, 32);
    memset(th, 4, 32);
    session_keys base, k;
    ck_assert_int_eq(keysched_derive(ikm, nc, ns, th, &base), NT_OK);
    for (size_t i = 0; i < 6; i++)
        for (size_t j = i + 1; j < 6; j++)
            ck_assert(memcmp(key_of(&base, i), key_of(&base, j), 32));
    uint8_t *inputs[] = {ikm, nc, ns, th};
    for (size_t in = 0; in < 4; in++) {
        inputs[in][7] ^= 1;
        ck_assert_int_eq(keysched_derive(ikm, nc, ns, th, &k), NT_OK);
        for (size_t i = 0; i < 6; i++)
            ck_assert_msg(memcmp(key_of(&k, i), key_of(&base, i), 32), "input %zu key %zu", in, i);
        inputs[in][7] ^= 1;
    }
    /* Swapping the nonces (a reflected handshake) gives other keys. */
    ck_assert_int_eq(keysched_derive(ikm, ns, nc, th, &k), NT_OK);
    ck_assert(memcmp(&k, &base, sizeof(k)));
}
END_TEST

START_TEST(auth_ad)
{
    uint8_t sid[HS_SESSION_ID_LEN], ad[KEYSCHED_AUTH_AD_MAX];
    memset(sid, 0xee, sizeof(sid));
    size_t n = keysched_auth_ad(sid, ad);
    ck_assert_uint_eq(n, strlen("natter/v1/auth-key") + 1 + HS_SESSION_ID_LEN);
    ck_assert_mem_eq(ad, "natter/v1/auth-key\0", 19);
    ck_assert_mem_eq(ad + 19, sid, HS_SESSION_ID_LEN);
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
    Suite *s = suite_create("keysched");
    TCase *tc = tcase_create("derive");
    tcase_add_test(tc, vector);
    tcase_add_test(tc, inputs_bound);
    tcase_add_test(tc, auth_ad);
    suite_add_tcase(s, tc);
    return s;
}

int test_teardown(int failed)
{
    rng_free();
    return failed;
}
