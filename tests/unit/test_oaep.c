/* test_oaep.c - RSAES-OAEP-SHA256 with labels, against every Wycheproof
 * RSA-OAEP (2048 and 3072, SHA-256, MGF1-SHA256) vector.
 *
 * Wycheproof verdicts: "valid" must decrypt to the given message, "invalid"
 * must give NT_ERR_AUTH (the same error for malformed ciphertexts and for
 * bad padding). "acceptable" (none in these files today) is treated as
 * must-be-refused, so a new file with such cases makes a decision visible. */
#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/pem.h>

#include "crypto/identity.h"
#include "crypto/oaep.h"
#include "crypto/rng.h"
#include "vectors_util.h"
#include "unit_util.h"
#include "tests/test_main.h"

static identity *key; /* RSA-2048 with private half, made once in main() */

static const char *const oaep_files[] = {
    "wycheproof/rsa_oaep_2048_sha256_mgf1sha256_test.json",
    "wycheproof/rsa_oaep_3072_sha256_mgf1sha256_test.json",
};

/* A private identity from a Wycheproof group's PKCS#8 DER (hex). */
static identity *group_key(const json_t *g)
{
    size_t der_len = 0, pem_len = 0;
    uint8_t *der = vec_hex(vec_str(g, "privateKeyPkcs8"), &der_len);
    unsigned char pem[8192];
    identity *id = NULL;

    ck_assert_ptr_nonnull(der);
    ck_assert_int_eq(mbedtls_pem_write_buffer("-----BEGIN PRIVATE KEY-----\n", "-----END PRIVATE KEY-----\n", der,
                                              der_len, pem, sizeof pem, &pem_len),
                     0);
    ck_assert_int_eq(identity_from_private_pem(&id, (const char *)pem, pem_len), NT_OK);
    free(der);
    return id;
}

START_TEST(test_wycheproof_oaep)
{
    json_t *j = vec_load_json(oaep_files[_i]), *g, *t;
    size_t gi, ti, run = 0, valid = 0, invalid = 0, acceptable = 0;

    ck_assert_msg(j != NULL, "cannot load %s", oaep_files[_i]);
    ck_assert_str_eq(vec_str(j, "algorithm"), "RSAES-OAEP");
    json_array_foreach(json_object_get(j, "testGroups"), gi, g)
    {
        ck_assert_str_eq(vec_str(g, "sha"), "SHA-256");
        ck_assert_str_eq(vec_str(g, "mgf"), "MGF1");
        ck_assert_str_eq(vec_str(g, "mgfSha"), "SHA-256");
        identity *priv = group_key(g);
        ck_assert_uint_eq(identity_bits(priv), (unsigned)json_integer_value(json_object_get(g, "keySize")));

        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t mlen = 0, clen = 0, llen = 0, outlen = 99;
            uint8_t *msg = vec_hex(vec_str(t, "msg"), &mlen), *ct = vec_hex(vec_str(t, "ct"), &clen),
                    *label = vec_hex(vec_str(t, "label"), &llen);
            uint8_t out[512];
            const char *result = vec_str(t, "result");
            long id = (long)json_integer_value(json_object_get(t, "tcId"));
            nt_err rc;

            ck_assert_ptr_nonnull(msg);
            ck_assert_ptr_nonnull(ct);
            ck_assert_ptr_nonnull(label);
            rc = oaep_decrypt(priv, label, llen, ct, clen, out, sizeof out, &outlen);
            if (strcmp(result, "valid") == 0) {
                ck_assert_msg(rc == NT_OK, "%s tcId %ld: valid ciphertext refused (%d)", oaep_files[_i], id, rc);
                ck_assert_uint_eq(outlen, mlen);
                ck_assert_mem_eq(out, msg, mlen);
                /* the same ciphertext under another label is refused */
                label = realloc(label, llen + 1);
                label[llen] = 0x5a;
                ck_assert_int_eq(oaep_decrypt(priv, label, llen + 1, ct, clen, out, sizeof out, &outlen),
                                 NT_ERR_AUTH);
                valid++;
            } else if (strcmp(result, "invalid") == 0) {
                ck_assert_msg(rc == NT_ERR_AUTH, "%s tcId %ld: invalid ciphertext gave %d", oaep_files[_i], id, rc);
                ck_assert_uint_eq(outlen, 0);
                invalid++;
            } else {
                ck_assert_str_eq(result, "acceptable");
                ck_assert_msg(rc == NT_ERR_AUTH, "%s tcId %ld: acceptable ciphertext gave %d", oaep_files[_i], id,
                              rc);
                acceptable++;
            }
            run++;
            free(msg);
            free(ct);
            free(label);
        }
        identity_free(priv);
    }
    ck_assert_uint_eq(run, (size_t)json_integer_value(json_object_get(j, "numberOfTests")));
    ck_assert_uint_eq(valid + invalid + acceptable, run);
    ck_assert_uint_gt(valid, 0);
    ck_assert_uint_gt(invalid, 0);
    json_decref(j);
}
END_TEST

/* Our own encryption decrypts with the Wycheproof private key too, and the
 * Wycheproof ciphertexts do not decrypt under our key. */
START_TEST(test_interop_with_vector_key)
{
    json_t *j = vec_load_json(oaep_files[0]);
    ck_assert_ptr_nonnull(j);
    json_t *g = json_array_get(json_object_get(j, "testGroups"), 0);
    identity *priv = group_key(g), *pub = NULL;
    static const uint8_t secret[32] = "thirty-two bytes of room key...";
    uint8_t ct[512], out[512];
    size_t clen = 0, olen = 0;

    ck_assert_int_eq(identity_public_copy(&pub, priv), NT_OK);
    ck_assert_int_eq(oaep_encrypt(pub, (const uint8_t *)"room", 4, secret, sizeof secret, ct, sizeof ct, &clen), NT_OK);
    ck_assert_int_eq(oaep_decrypt(priv, (const uint8_t *)"room", 4, ct, clen, out, sizeof out, &olen), NT_OK);
    ck_assert_uint_eq(olen, sizeof secret);
    ck_assert_mem_eq(out, secret, sizeof secret);
    /* wrong private key */
    ck_assert_int_eq(oaep_decrypt(key, (const uint8_t *)"room", 4, ct, clen, out, sizeof out, &olen), NT_ERR_AUTH);
    identity_free(pub);
    identity_free(priv);
    json_decref(j);
}
END_TEST

START_TEST(test_max_plain)
{
    ck_assert_uint_eq(oaep_max_plain(2048), 190);
    ck_assert_uint_eq(oaep_max_plain(3072), 318);
    ck_assert_uint_eq(oaep_max_plain(4096), 446);
    ck_assert_uint_eq(oaep_max_plain(512), 0);
    ck_assert_uint_eq(oaep_max_plain(0), 0);
}
END_TEST

/* Every plaintext length 0..190, alternating empty and non-empty labels. */
START_TEST(test_round_trip_lengths)
{
    uint8_t pt[256], ct[512], out[256];
    static const uint8_t label[] = "natter/v1/room-key";
    size_t clen, olen, max = oaep_max_plain(2048);

    for (size_t n = 0; n <= max; n++) {
        const uint8_t *l = n % 2 ? label : NULL;
        size_t ll = n % 2 ? sizeof label : 0;
        ck_assert_int_eq(rng_bytes(pt, n), NT_OK);
        ck_assert_int_eq(oaep_encrypt(key, l, ll, pt, n, ct, sizeof ct, &clen), NT_OK);
        ck_assert_uint_eq(clen, 256);
        olen = 999;
        ck_assert_int_eq(oaep_decrypt(key, l, ll, ct, clen, out, sizeof out, &olen), NT_OK);
        ck_assert_uint_eq(olen, n);
        ck_assert_mem_eq(out, pt, n);
    }
    ck_assert_int_eq(oaep_encrypt(key, NULL, 0, pt, max + 1, ct, sizeof ct, &clen), NT_ERR_TOO_BIG);
    ck_assert_uint_eq(clen, 0);
}
END_TEST

START_TEST(test_rejections)
{
    static const uint8_t msg[] = "key material";
    uint8_t ct[513], bad[513], out[64];
    size_t clen = 0, olen = 0;
    identity *pub = NULL;

    ck_assert_int_eq(oaep_encrypt(key, (const uint8_t *)"A", 1, msg, sizeof msg, ct, sizeof ct, &clen), NT_OK);
    /* randomised: a second encryption differs */
    ck_assert_int_eq(oaep_encrypt(key, (const uint8_t *)"A", 1, msg, sizeof msg, bad, sizeof bad, &olen), NT_OK);
    ck_assert(memcmp(ct, bad, clen) != 0);
    /* wrong label, missing label, extra label */
    ck_assert_int_eq(oaep_decrypt(key, (const uint8_t *)"B", 1, ct, clen, out, sizeof out, &olen), NT_ERR_AUTH);
    ck_assert_int_eq(oaep_decrypt(key, NULL, 0, ct, clen, out, sizeof out, &olen), NT_ERR_AUTH);
    ck_assert_int_eq(oaep_decrypt(key, (const uint8_t *)"AA", 2, ct, clen, out, sizeof out, &olen), NT_ERR_AUTH);
    /* single-bit flips across the ciphertext (every 7th bit, to keep it fast) */
    for (size_t bit = 0; bit < clen * 8; bit += 7) {
        memcpy(bad, ct, clen);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_int_eq(oaep_decrypt(key, (const uint8_t *)"A", 1, bad, clen, out, sizeof out, &olen), NT_ERR_AUTH);
        ck_assert_uint_eq(olen, 0);
    }
    /* wrong lengths, zero and >= modulus */
    ck_assert_int_eq(oaep_decrypt(key, (const uint8_t *)"A", 1, ct, clen - 1, out, sizeof out, &olen), NT_ERR_AUTH);
    memcpy(bad, ct, clen);
    bad[clen] = 0;
    ck_assert_int_eq(oaep_decrypt(key, (const uint8_t *)"A", 1, bad, clen + 1, out, sizeof out, &olen), NT_ERR_AUTH);
    ck_assert_int_eq(oaep_decrypt(key, (const uint8_t *)"A", 1, ct, 0, out, sizeof out, &olen), NT_ERR_AUTH);
    memset(bad, 0, clen);
    ck_assert_int_eq(oaep_decrypt(key, (const uint8_t *)"A", 1, bad, clen, out, sizeof out, &olen), NT_ERR_AUTH);
    memset(bad, 0xff, clen);
    ck_assert_int_eq(oaep_decrypt(key, (const uint8_t *)"A", 1, bad, clen, out, sizeof out, &olen), NT_ERR_AUTH);
    /* output cap: one short is TOO_BIG, exact is fine */
    ck_assert_int_eq(oaep_decrypt(key, (const uint8_t *)"A", 1, ct, clen, out, sizeof msg - 1, &olen), NT_ERR_TOO_BIG);
    ck_assert_uint_eq(olen, 0);
    ck_assert_int_eq(oaep_decrypt(key, (const uint8_t *)"A", 1, ct, clen, out, sizeof msg, &olen), NT_OK);
    ck_assert_mem_eq(out, msg, sizeof msg);
    /* ciphertext buffer cap */
    ck_assert_int_eq(oaep_encrypt(key, NULL, 0, msg, sizeof msg, bad, 255, &olen), NT_ERR_TOO_BIG);
    /* public-only: encrypts, cannot decrypt */
    ck_assert_int_eq(identity_public_copy(&pub, key), NT_OK);
    ck_assert_int_eq(oaep_encrypt(pub, NULL, 0, msg, sizeof msg, bad, sizeof bad, &olen), NT_OK);
    ck_assert_int_eq(oaep_decrypt(pub, NULL, 0, bad, olen, out, sizeof out, &clen), NT_ERR_INVALID);
    ck_assert_int_eq(oaep_decrypt(key, NULL, 0, bad, olen, out, sizeof out, &clen), NT_OK);
    ck_assert_uint_eq(clen, sizeof msg);
    identity_free(pub);
    /* bad arguments */
    ck_assert_int_eq(oaep_encrypt(key, NULL, 3, msg, sizeof msg, bad, sizeof bad, &olen), NT_ERR_INVALID);
    ck_assert_int_eq(oaep_encrypt(key, NULL, 0, NULL, 3, bad, sizeof bad, &olen), NT_ERR_INVALID);
    ck_assert_int_eq(oaep_decrypt(key, NULL, 3, ct, 256, out, sizeof out, &olen), NT_ERR_INVALID);
}
END_TEST

enum { THREADS = 4, ROUNDS = 10 };
static void *oaep_worker(void *arg)
{
    intptr_t failures = 0;
    uint8_t pt[32], ct[512], out[64];
    size_t clen, olen;

    for (int r = 0; r < ROUNDS; r++) {
        memset(pt, (int)(intptr_t)arg + r, sizeof pt);
        if (oaep_encrypt(key, NULL, 0, pt, sizeof pt, ct, sizeof ct, &clen) != NT_OK ||
            oaep_decrypt(key, NULL, 0, ct, clen, out, sizeof out, &olen) != NT_OK || olen != sizeof pt ||
            memcmp(out, pt, sizeof pt) != 0)
            failures++;
    }
    return (void *)failures;
}

START_TEST(test_threads)
{
    run_workers(oaep_worker, THREADS);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("oaep");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_wycheproof_oaep, 0, (int)(sizeof oaep_files / sizeof oaep_files[0]));
    tcase_add_test(tc, test_interop_with_vector_key);
    tcase_add_test(tc, test_max_plain);
    tcase_add_test(tc, test_round_trip_lengths);
    tcase_add_test(tc, test_rejections);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    return s;
}

int test_setup(void)
{
    if (rng_init() != NT_OK || identity_generate(&key, 2048) != NT_OK) {
        fprintf(stderr, "setup: cannot make the test key\n");
        return EXIT_FAILURE;
    }
    return TEST_GO;
}

int test_teardown(int failed)
{
    identity_free(key);
    rng_free();
    return failed;
}
