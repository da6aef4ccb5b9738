/* test_kdf.c - HKDF-SHA256 against RFC 5869 and Wycheproof, and the
 * labelled derivation against its kept vectors and its own rules. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kdf.h"
#include "vectors_util.h"
#include "unit_util.h"
#include "tests/test_main.h"

START_TEST(test_rfc5869)
{
    json_t *j = vec_load_json("rfc5869_hkdf_sha256.json");
    ck_assert_ptr_nonnull(j);
    size_t i;
    json_t *t;
    ck_assert_int_eq(json_array_size(json_object_get(j, "tests")), 3);
    json_array_foreach(json_object_get(j, "tests"), i, t) {
        size_t ikm_len, salt_len, info_len, okm_len;
        uint8_t *ikm = vec_hex_field(t, "ikm", &ikm_len), *salt = vec_hex_field(t, "salt", &salt_len);
        uint8_t *info = vec_hex_field(t, "info", &info_len), *okm = vec_hex_field(t, "okm", &okm_len);
        size_t L = (size_t)json_integer_value(json_object_get(t, "L"));
        ck_assert_uint_eq(L, okm_len);
        uint8_t *out = malloc(L);
        ck_assert_ptr_nonnull(out);
        /* Empty salt/info given as NULL, as callers will. */
        ck_assert_int_eq(kdf_hkdf(salt_len ? salt : NULL, salt_len, ikm, ikm_len, info_len ? info : NULL, info_len,
                                  out, L),
                         NT_OK);
        ck_assert_msg(memcmp(out, okm, L) == 0, "RFC 5869 %s", vec_str(t, "comment"));
        /* A zero-length salt means HashLen zero bytes (RFC 5869 2.2). */
        if (salt_len == 0) {
            uint8_t zeros[KDF_HASH_LEN] = {0};
            ck_assert_int_eq(kdf_hkdf(zeros, sizeof zeros, ikm, ikm_len, info, info_len, out, L), NT_OK);
            ck_assert(memcmp(out, okm, L) == 0);
        }
        free(out);
        free(ikm);
        free(salt);
        free(info);
        free(okm);
    }
    json_decref(j);
}
END_TEST

/* Every vector: valid ones match, SizeTooLarge ones are refused with the
 * output zeroed. */
START_TEST(test_wycheproof_hkdf)
{
    json_t *j = vec_load_json("wycheproof/hkdf_sha256_test.json");
    ck_assert_ptr_nonnull(j);
    size_t total = 0, valid = 0, invalid = 0, gi, ti;
    json_t *g, *t;
    json_array_foreach(json_object_get(j, "testGroups"), gi, g) {
        json_array_foreach(json_object_get(g, "tests"), ti, t) {
            int id = (int)json_integer_value(json_object_get(t, "tcId"));
            size_t ikm_len, salt_len, info_len, okm_len;
            uint8_t *ikm = vec_hex_field(t, "ikm", &ikm_len), *salt = vec_hex_field(t, "salt", &salt_len);
            uint8_t *info = vec_hex_field(t, "info", &info_len), *okm = vec_hex_field(t, "okm", &okm_len);
            size_t size = (size_t)json_integer_value(json_object_get(t, "size"));
            uint8_t *out = malloc(size + 1);
            ck_assert_ptr_nonnull(out);
            memset(out, 0xA5, size + 1);
            nt_err rc = kdf_hkdf(salt, salt_len, ikm, ikm_len, info, info_len, out, size);
            const char *res = vec_str(t, "result");
            if (strcmp(res, "valid") == 0) {
                ck_assert_msg(rc == NT_OK, "tcId %d refused: %s", id, err_str(rc));
                ck_assert_uint_eq(size, okm_len);
                ck_assert_msg(memcmp(out, okm, size) == 0, "tcId %d wrong okm", id);
                ck_assert_int_eq(out[size], 0xA5); /* no write past the end */
                valid++;
            } else {
                ck_assert_str_eq(res, "invalid");
                ck_assert_msg(rc != NT_OK, "tcId %d invalid but accepted", id);
                ck_assert(size > KDF_MAX_OUT);
                invalid++;
            }
            free(out);
            free(ikm);
            free(salt);
            free(info);
            free(okm);
            total++;
        }
    }
    ck_assert_int_eq(total, json_integer_value(json_object_get(j, "numberOfTests")));
    ck_assert(valid > 0 && invalid > 0);
    json_decref(j);
}
END_TEST

START_TEST(test_hkdf_edges)
{
    uint8_t ikm[32] = {1}, out[KDF_MAX_OUT + 1];
    ck_assert_int_eq(kdf_hkdf(NULL, 0, ikm, sizeof ikm, NULL, 0, out, KDF_MAX_OUT), NT_OK);
    memset(out, 0xA5, sizeof out);
    ck_assert_int_eq(kdf_hkdf(NULL, 0, ikm, sizeof ikm, NULL, 0, out, KDF_MAX_OUT + 1), NT_ERR_TOO_BIG);
    ck_assert(all_zero(out, KDF_MAX_OUT));
    ck_assert_int_eq(kdf_hkdf(NULL, 1, ikm, sizeof ikm, NULL, 0, out, 32), NT_ERR_INVALID);
    ck_assert_int_eq(kdf_hkdf(NULL, 0, NULL, 1, NULL, 0, out, 32), NT_ERR_INVALID);
    ck_assert_int_eq(kdf_hkdf(NULL, 0, ikm, sizeof ikm, NULL, 3, out, 32), NT_ERR_INVALID);
    ck_assert_int_eq(kdf_hkdf(NULL, 0, ikm, sizeof ikm, NULL, 0, NULL, 32), NT_ERR_INVALID);
    /* Empty ikm given as NULL is a valid (if useless) input. */
    ck_assert_int_eq(kdf_hkdf(NULL, 0, NULL, 0, NULL, 0, out, 32), NT_OK);
}
END_TEST

/* The kept vectors from tests/vectors/make_natter_vectors.py. */
START_TEST(test_derive_kat)
{
    json_t *j = vec_load_json("natter_kdf_derive.json");
    ck_assert_ptr_nonnull(j);
    size_t i, oi;
    json_t *t, *o;
    ck_assert(json_array_size(json_object_get(j, "tests")) >= 3);
    json_array_foreach(json_object_get(j, "tests"), i, t) {
        size_t salt_len, ikm_len, ctx_len;
        uint8_t *salt = vec_hex_field(t, "salt", &salt_len), *ikm = vec_hex_field(t, "ikm", &ikm_len);
        uint8_t *ctx = vec_hex_field(t, "context", &ctx_len);
        json_t *outs_j = json_object_get(t, "outputs");
        size_t n = json_array_size(outs_j);
        ck_assert(n > 0 && n <= KDF_MAX_OUTPUTS);
        kdf_output outs[KDF_MAX_OUTPUTS];
        uint8_t *want[KDF_MAX_OUTPUTS];
        json_array_foreach(outs_j, oi, o) {
            size_t wl;
            want[oi] = vec_hex_field(o, "okm", &wl);
            outs[oi].label = vec_str(o, "label");
            outs[oi].len = (size_t)json_integer_value(json_object_get(o, "len"));
            ck_assert_uint_eq(wl, outs[oi].len);
            outs[oi].out = malloc(outs[oi].len);
            ck_assert_ptr_nonnull(outs[oi].out);
        }
        ck_assert_int_eq(kdf_derive(salt_len ? salt : NULL, salt_len, ikm, ikm_len, ctx_len ? ctx : NULL, ctx_len,
                                    outs, n),
                         NT_OK);
        for (oi = 0; oi < n; oi++) {
            ck_assert_msg(memcmp(outs[oi].out, want[oi], outs[oi].len) == 0, "%s: %s", vec_str(t, "comment"),
                          outs[oi].label);
            free(outs[oi].out);
            free(want[oi]);
        }
        free(salt);
        free(ikm);
        free(ctx);
    }
    json_decref(j);
}
END_TEST

static const char *const labels[] = {"c2s enc", "c2s mac", "s2c enc", "s2c mac", "auth",
                                     "room msg enc", "room msg mac", "a", "b", "c2s enc "};

/* Distinct labels give distinct keys; each output depends only on its
 * label (order and company do not matter); it equals plain HKDF with the
 * documented info. */
START_TEST(test_derive_labels)
{
    enum { N = sizeof labels / sizeof labels[0], L = 32 };
    uint8_t keys[N][L], again[N][L];
    kdf_output outs[N];
    const uint8_t salt[] = "salt", ikm[] = "input keying material", ctx[] = "context";
    for (size_t i = 0; i < N; i++)
        outs[i] = (kdf_output){labels[i], keys[i], L};
    ck_assert_int_eq(kdf_derive(salt, sizeof salt, ikm, sizeof ikm, ctx, sizeof ctx, outs, N), NT_OK);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(memcmp(keys[i], keys[j], L) != 0, "'%s' and '%s' collide", labels[i], labels[j]);
    /* Reverse order, one at a time. */
    for (size_t i = 0; i < N; i++) {
        kdf_output one = {labels[N - 1 - i], again[N - 1 - i], L};
        ck_assert_int_eq(kdf_derive(salt, sizeof salt, ikm, sizeof ikm, ctx, sizeof ctx, &one, 1), NT_OK);
    }
    ck_assert(memcmp(keys, again, sizeof keys) == 0);
    /* = HKDF(salt, ikm, "natter/v1/" || label || 0 || context). */
    uint8_t info[128], plain[L];
    size_t pos = 0;
    memcpy(info, "natter/v1/c2s enc", 17);
    pos = 17;
    info[pos++] = 0;
    memcpy(info + pos, ctx, sizeof ctx);
    pos += sizeof ctx;
    ck_assert_int_eq(kdf_hkdf(salt, sizeof salt, ikm, sizeof ikm, info, pos, plain, L), NT_OK);
    ck_assert(memcmp(plain, keys[0], L) == 0);
    /* Another context, salt or ikm changes every key. */
    const uint8_t ctx2[] = "context2";
    for (size_t i = 0; i < N; i++)
        outs[i].out = again[i];
    ck_assert_int_eq(kdf_derive(salt, sizeof salt, ikm, sizeof ikm, ctx2, sizeof ctx2, outs, N), NT_OK);
    for (size_t i = 0; i < N; i++)
        ck_assert(memcmp(keys[i], again[i], L) != 0);
    ck_assert_int_eq(kdf_derive(NULL, 0, ikm, sizeof ikm, ctx, sizeof ctx, outs, N), NT_OK);
    for (size_t i = 0; i < N; i++)
        ck_assert(memcmp(keys[i], again[i], L) != 0);
    ck_assert_int_eq(kdf_derive(salt, sizeof salt, ikm, sizeof ikm - 1, ctx, sizeof ctx, outs, N), NT_OK);
    for (size_t i = 0; i < N; i++)
        ck_assert(memcmp(keys[i], again[i], L) != 0);
}
END_TEST

/* Refusals, and every output zeroed on error. */
typedef struct {
    const char *what;
    const char *l0, *l1;
    size_t len0;
    size_t ctx_len;
    size_t n;
    nt_err want;
} bad_case;

static char long_label[KDF_LABEL_MAX + 2];
static char max_label[KDF_LABEL_MAX + 1];

static const bad_case bad_cases[] = {
    {"duplicate labels", "enc", "enc", 32, 0, 2, NT_ERR_INVALID},
    {"empty label", "", "mac", 32, 0, 2, NT_ERR_INVALID},
    {"NULL label", NULL, "mac", 32, 0, 2, NT_ERR_INVALID},
    {"label too long", long_label, "mac", 32, 0, 2, NT_ERR_INVALID},
    {"zero-length output", "enc", "mac", 0, 0, 2, NT_ERR_INVALID},
    {"output too long", "enc", "mac", KDF_MAX_OUT + 1, 0, 2, NT_ERR_TOO_BIG},
    {"no outputs", "enc", "mac", 32, 0, 0, NT_ERR_INVALID},
    {"too many outputs", "enc", "mac", 32, 0, KDF_MAX_OUTPUTS + 1, NT_ERR_INVALID},
    {"context too long", "enc", "mac", 32, KDF_CONTEXT_MAX + 1, 2, NT_ERR_TOO_BIG},
};

START_TEST(test_derive_refusals)
{
    const bad_case *c = &bad_cases[_i];
    memset(long_label, 'x', KDF_LABEL_MAX + 1);
    static uint8_t buf0[KDF_MAX_OUT + 1], buf1[32], ctx[KDF_CONTEXT_MAX + 1];
    memset(buf0, 0xA5, sizeof buf0);
    memset(buf1, 0xA5, sizeof buf1);
    kdf_output outs[KDF_MAX_OUTPUTS + 1] = {{c->l0, buf0, c->len0 <= KDF_MAX_OUT ? c->len0 : KDF_MAX_OUT + 1},
                                            {c->l1, buf1, sizeof buf1}};
    for (size_t i = 2; i < KDF_MAX_OUTPUTS + 1; i++)
        outs[i] = (kdf_output){labels[i % 10], buf1, sizeof buf1};
    const uint8_t ikm[] = "ikm";
    nt_err rc = kdf_derive(NULL, 0, ikm, sizeof ikm, ctx, c->ctx_len, outs, c->n);
    ck_assert_msg(rc == c->want, "%s: got %s", c->what, err_str(rc));
    if (c->n > 0 && c->n <= KDF_MAX_OUTPUTS && c->len0 <= KDF_MAX_OUT)
        ck_assert_msg(all_zero(buf0, c->len0) && all_zero(buf1, sizeof buf1), "%s: outputs not zeroed", c->what);
}
END_TEST

START_TEST(test_derive_limits_ok)
{
    memset(max_label, 'y', KDF_LABEL_MAX);
    static uint8_t big[KDF_MAX_OUT], ctx[KDF_CONTEXT_MAX];
    kdf_output outs[] = {{max_label, big, KDF_MAX_OUT}};
    const uint8_t ikm[] = "ikm";
    ck_assert_int_eq(kdf_derive(NULL, 0, ikm, sizeof ikm, ctx, sizeof ctx, outs, 1), NT_OK);
    ck_assert(!all_zero(big, sizeof big));
    ck_assert_int_eq(kdf_derive(NULL, 0, ikm, sizeof ikm, NULL, 5, outs, 1), NT_ERR_INVALID);
    ck_assert_int_eq(kdf_derive(NULL, 0, ikm, sizeof ikm, NULL, 0, NULL, 1), NT_ERR_INVALID);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("kdf");
    TCase *kat = tcase_create("vectors");
    tcase_add_test(kat, test_rfc5869);
    tcase_add_test(kat, test_wycheproof_hkdf);
    tcase_add_test(kat, test_hkdf_edges);
    tcase_add_test(kat, test_derive_kat);
    suite_add_tcase(s, kat);
    TCase *api = tcase_create("derive");
    tcase_add_test(api, test_derive_labels);
    tcase_add_loop_test(api, test_derive_refusals, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(api, test_derive_limits_ok);
    suite_add_tcase(s, api);
    return s;
}
