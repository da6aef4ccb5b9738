/* test_seal.c - the seal's parts against public vectors (RFC 4231 and
 * Wycheproof HMAC-SHA256, NIST SP 800-38A and Wycheproof AES-CBC-PKCS5),
 * the kept seal vectors, and the seal's properties: round trips, every
 * flipped bit, wrong keys, bad lengths, a valid MAC over bad contents. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/aes.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/md.h>

#include "crypto/rng.h"
#include "crypto/seal.h"
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

static void hmac256(const uint8_t *key, size_t klen, const uint8_t *msg, size_t mlen, uint8_t out[32])
{
    ck_assert_int_eq(mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, klen, msg, mlen, out), 0);
}

/* ---- HMAC-SHA256 ------------------------------------------------------- */

START_TEST(test_rfc4231)
{
    json_t *j = vec_load_json("rfc4231_hmac_sha256.json");
    ck_assert_ptr_nonnull(j);
    size_t i;
    json_t *t;
    ck_assert_int_eq(json_array_size(json_object_get(j, "tests")), 7);
    json_array_foreach(json_object_get(j, "tests"), i, t) {
        size_t kl, dl, ml;
        uint8_t *key = vec_hex_field(t, "key", &kl), *data = vec_hex_field(t, "data", &dl), *mac = vec_hex_field(t, "mac", &ml);
        uint8_t out[32];
        ck_assert(ml == 16 || ml == 32); /* case 5 is truncated to 128 bits */
        hmac256(key, kl, data, dl, out);
        ck_assert_msg(memcmp(out, mac, ml) == 0, "RFC 4231 case %lld",
                      (long long)json_integer_value(json_object_get(t, "case")));
        free(key);
        free(data);
        free(mac);
    }
    json_decref(j);
}
END_TEST

/* A verifier for a tag truncated to tag_bits: the tag must have exactly that
 * length and match the leading bytes of the full HMAC in constant time. */
static bool hmac_verify(const uint8_t *key, size_t kl, const uint8_t *msg, size_t ml, const uint8_t *tag, size_t tl,
                        size_t tag_bits)
{
    uint8_t full[32];
    if (tag_bits % 8 || tag_bits == 0 || tag_bits > 256 || tl != tag_bits / 8)
        return false;
    hmac256(key, kl, msg, ml, full);
    return mbedtls_ct_memcmp(full, tag, tl) == 0;
}

START_TEST(test_wycheproof_hmac)
{
    json_t *j = vec_load_json("wycheproof/hmac_sha256_test.json");
    ck_assert_ptr_nonnull(j);
    size_t total = 0, truncated = 0, gi, ti;
    json_t *g, *t;
    json_array_foreach(json_object_get(j, "testGroups"), gi, g) {
        size_t tag_bits = (size_t)json_integer_value(json_object_get(g, "tagSize"));
        if (tag_bits < 256)
            truncated++;
        json_array_foreach(json_object_get(g, "tests"), ti, t) {
            int id = (int)json_integer_value(json_object_get(t, "tcId"));
            size_t kl, ml, tl;
            uint8_t *key = vec_hex_field(t, "key", &kl), *msg = vec_hex_field(t, "msg", &ml), *tag = vec_hex_field(t, "tag", &tl);
            bool ok = hmac_verify(key, kl, msg, ml, tag, tl, tag_bits);
            const char *res = vec_str(t, "result");
            if (strcmp(res, "valid") == 0)
                ck_assert_msg(ok, "tcId %d valid but refused", id);
            else
                ck_assert_msg(!ok && strcmp(res, "invalid") == 0, "tcId %d (%s) accepted", id, res);
            free(key);
            free(msg);
            free(tag);
            total++;
        }
    }
    ck_assert_int_eq(total, json_integer_value(json_object_get(j, "numberOfTests")));
    ck_assert(truncated > 0); /* the file's truncated-tag groups were exercised */
    json_decref(j);
}
END_TEST

/* ---- AES-256-CBC ------------------------------------------------------- */

/* NIST SP 800-38A F.2.5 (encrypt) and F.2.6 (decrypt): raw CBC through
 * mbedTLS, then the seal's CBC code, whose output for the same blocks must
 * start with the NIST ciphertext (it appends one full padding block). */
START_TEST(test_sp800_38a)
{
    json_t *j = vec_load_json("sp800_38a_aes256_cbc.json");
    ck_assert_ptr_nonnull(j);
    json_t *t = json_array_get(json_object_get(j, "tests"), 0);
    ck_assert_ptr_nonnull(t);
    size_t kl, il, pl, cl;
    uint8_t *key = vec_hex_field(t, "key", &kl), *iv = vec_hex_field(t, "iv", &il), *pt = vec_hex_field(t, "plaintext", &pl),
            *ct = vec_hex_field(t, "ciphertext", &cl);
    ck_assert_uint_eq(kl, 32);
    ck_assert_uint_eq(il, 16);
    ck_assert_uint_eq(pl, 64);
    ck_assert_uint_eq(cl, 64);
    uint8_t out[96], ivc[16], back[96];
    mbedtls_aes_context aes;
    mbedtls_aes_init(&aes);
    ck_assert_int_eq(mbedtls_aes_setkey_enc(&aes, key, 256), 0);
    memcpy(ivc, iv, 16);
    ck_assert_int_eq(mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_ENCRYPT, pl, ivc, pt, out), 0);
    ck_assert(memcmp(out, ct, cl) == 0); /* F.2.5 */
    ck_assert_int_eq(mbedtls_aes_setkey_dec(&aes, key, 256), 0);
    memcpy(ivc, iv, 16);
    ck_assert_int_eq(mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_DECRYPT, cl, ivc, ct, out), 0);
    ck_assert(memcmp(out, pt, pl) == 0); /* F.2.6 */
    mbedtls_aes_free(&aes);

    size_t olen = 0, blen = 0;
    ck_assert_int_eq(seal_raw_cbc_encrypt(key, kl, iv, pt, pl, out, sizeof out, &olen), NT_OK);
    ck_assert_uint_eq(olen, 80);
    ck_assert(memcmp(out, ct, cl) == 0);
    ck_assert_int_eq(seal_raw_cbc_decrypt(key, kl, iv, out, olen, back, sizeof back, &blen), NT_OK);
    ck_assert_uint_eq(blen, pl);
    ck_assert(memcmp(back, pt, pl) == 0);
    free(key);
    free(iv);
    free(pt);
    free(ct);
    json_decref(j);
}
END_TEST

/* Every vector (AES-128/192/256): valid ones decrypt to msg and encrypt to
 * ct; invalid ones (bad padding, empty ciphertext) are refused, output
 * zeroed. */
START_TEST(test_wycheproof_aes_cbc)
{
    json_t *j = vec_load_json("wycheproof/aes_cbc_pkcs5_test.json");
    ck_assert_ptr_nonnull(j);
    size_t total = 0, refused = 0, gi, ti;
    json_t *g, *t;
    json_array_foreach(json_object_get(j, "testGroups"), gi, g) {
        json_array_foreach(json_object_get(g, "tests"), ti, t) {
            int id = (int)json_integer_value(json_object_get(t, "tcId"));
            size_t kl, il, ml, cl, n = 0;
            uint8_t *key = vec_hex_field(t, "key", &kl), *iv = vec_hex_field(t, "iv", &il), *msg = vec_hex_field(t, "msg", &ml),
                    *ct = vec_hex_field(t, "ct", &cl);
            ck_assert_uint_eq(il, SEAL_IV_LEN);
            uint8_t *buf = malloc(cl + ml + 32);
            ck_assert_ptr_nonnull(buf);
            memset(buf, 0xA5, cl + ml + 32);
            nt_err rc = seal_raw_cbc_decrypt(key, kl, iv, cl ? ct : NULL, cl, buf, cl + ml + 32, &n);
            if (strcmp(vec_str(t, "result"), "valid") == 0) {
                ck_assert_msg(rc == NT_OK, "tcId %d refused", id);
                ck_assert_uint_eq(n, ml);
                ck_assert_msg(memcmp(buf, msg, ml) == 0, "tcId %d wrong plaintext", id);
                ck_assert_int_eq(seal_raw_cbc_encrypt(key, kl, iv, msg, ml, buf, cl + ml + 32, &n), NT_OK);
                ck_assert_uint_eq(n, cl);
                ck_assert_msg(memcmp(buf, ct, cl) == 0, "tcId %d wrong ciphertext", id);
            } else {
                ck_assert_str_eq(vec_str(t, "result"), "invalid");
                ck_assert_msg(rc == NT_ERR_AUTH, "tcId %d invalid: got %s", id, err_str(rc));
                ck_assert(all_zero(buf, cl)); /* no partial plaintext left */
                refused++;
            }
            free(buf);
            free(key);
            free(iv);
            free(msg);
            free(ct);
            total++;
        }
    }
    ck_assert_int_eq(total, json_integer_value(json_object_get(j, "numberOfTests")));
    ck_assert(refused > 0);
    json_decref(j);
}
END_TEST

/* ---- seal -------------------------------------------------------------- */

START_TEST(test_seal_kat)
{
    json_t *j = vec_load_json("natter_seal_v1.json");
    ck_assert_ptr_nonnull(j);
    size_t i;
    json_t *t;
    ck_assert(json_array_size(json_object_get(j, "tests")) >= 5);
    json_array_foreach(json_object_get(j, "tests"), i, t) {
        size_t el, ml, il, al, pl, sl, n = 0;
        uint8_t *enc = vec_hex_field(t, "enc_key", &el), *mac = vec_hex_field(t, "mac_key", &ml), *iv = vec_hex_field(t, "iv", &il),
                *ad = vec_hex_field(t, "ad", &al), *pt = vec_hex_field(t, "pt", &pl), *sealed = vec_hex_field(t, "sealed", &sl);
        seal_key k;
        ck_assert_uint_eq(el, SEAL_KEY_LEN);
        ck_assert_uint_eq(ml, SEAL_KEY_LEN);
        ck_assert_uint_eq(il, SEAL_IV_LEN);
        memcpy(k.enc, enc, SEAL_KEY_LEN);
        memcpy(k.mac, mac, SEAL_KEY_LEN);
        ck_assert_uint_eq(seal_len(pl), sl);
        uint8_t *out = malloc(sl), *back = malloc(sl);
        ck_assert(out && back);
        ck_assert_int_eq(seal_encrypt_iv(&k, iv, al ? ad : NULL, al, pl ? pt : NULL, pl, out, sl, &n), NT_OK);
        ck_assert_uint_eq(n, sl);
        ck_assert_msg(memcmp(out, sealed, sl) == 0, "seal vector: %s", vec_str(t, "comment"));
        ck_assert_int_eq(seal_open(&k, al ? ad : NULL, al, sealed, sl, back, sl, &n), NT_OK);
        ck_assert_uint_eq(n, pl);
        ck_assert(memcmp(back, pt, pl) == 0);
        free(out);
        free(back);
        free(enc);
        free(mac);
        free(iv);
        free(ad);
        free(pt);
        free(sealed);
    }
    json_decref(j);
}
END_TEST

static void random_key(seal_key *k)
{
    ck_assert_int_eq(rng_bytes(k->enc, sizeof k->enc), NT_OK);
    ck_assert_int_eq(rng_bytes(k->mac, sizeof k->mac), NT_OK);
}

/* Seal then open pt_len random bytes (with some associated data). */
static void round_trip(const seal_key *k, size_t pt_len, size_t ad_len)
{
    uint8_t *pt = malloc(pt_len + 1), *ad = malloc(ad_len + 1);
    size_t cap = seal_len(pt_len), n = 0, m = 0;
    uint8_t *box = malloc(cap), *back = malloc(cap);
    ck_assert(pt && ad && box && back);
    ck_assert_int_eq(rng_bytes(pt, pt_len), NT_OK);
    ck_assert_int_eq(rng_bytes(ad, ad_len), NT_OK);
    ck_assert_int_eq(seal_encrypt(k, ad, ad_len, pt, pt_len, box, cap, &n), NT_OK);
    ck_assert_uint_eq(n, cap);
    ck_assert_uint_eq(n, 1 + 16 + (pt_len / 16 + 1) * 16 + 32);
    ck_assert_int_eq(box[0], SEAL_VERSION);
    /* The plaintext does not appear in the box. */
    if (pt_len >= 16)
        ck_assert(memmem(box, n, pt, 16) == NULL);
    ck_assert_int_eq(seal_open(k, ad, ad_len, box, n, back, cap, &m), NT_OK);
    ck_assert_uint_eq(m, pt_len);
    ck_assert(memcmp(back, pt, pt_len) == 0);
    /* The documented minimum output capacity (ciphertext length) suffices. */
    ck_assert_int_eq(seal_open(k, ad, ad_len, box, n, back, n - 1 - SEAL_IV_LEN - SEAL_MAC_LEN, &m), NT_OK);
    ck_assert_int_eq(seal_open(k, ad, ad_len, box, n, back, n - 1 - SEAL_IV_LEN - SEAL_MAC_LEN - 1, &m),
                     NT_ERR_TOO_BIG);
    free(pt);
    free(ad);
    free(box);
    free(back);
}

START_TEST(test_round_trip_lengths)
{
    seal_key k;
    random_key(&k);
    for (size_t n = 0; n <= 300; n++)
        round_trip(&k, n, n % 37);
    round_trip(&k, SEAL_MAX_PLAIN, 64);
    round_trip(&k, SEAL_MAX_PLAIN - 1, 0);
    round_trip(&k, 100, SEAL_AD_MAX);
}
END_TEST

/* Every single bit of the box (version, IV, ciphertext, MAC) and of the
 * associated data, flipped one at a time, is refused; pt stays zero. */
static const size_t flip_lens[] = {0, 15, 16, 47};

START_TEST(test_bit_flips)
{
    seal_key k;
    random_key(&k);
    size_t pt_len = flip_lens[_i], n = 0, m = 0;
    uint8_t pt[64], ad[24], box[160], back[160];
    ck_assert_int_eq(rng_bytes(pt, sizeof pt), NT_OK);
    ck_assert_int_eq(rng_bytes(ad, sizeof ad), NT_OK);
    ck_assert_int_eq(seal_encrypt(&k, ad, sizeof ad, pt, pt_len, box, sizeof box, &n), NT_OK);
    for (size_t bit = 0; bit < n * 8; bit++) {
        box[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        memset(back, 0xEE, sizeof back);
        ck_assert_msg(seal_open(&k, ad, sizeof ad, box, n, back, sizeof back, &m) == NT_ERR_AUTH,
                      "box bit %zu accepted", bit);
        ck_assert(all_zero(back, n - 49) && back[n - 49] == 0xEE);
        box[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (size_t bit = 0; bit < sizeof ad * 8; bit++) {
        ad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_msg(seal_open(&k, ad, sizeof ad, box, n, back, sizeof back, &m) == NT_ERR_AUTH,
                      "ad bit %zu accepted", bit);
        ad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* Shorter, longer or missing associated data. */
    ck_assert_int_eq(seal_open(&k, ad, sizeof ad - 1, box, n, back, sizeof back, &m), NT_ERR_AUTH);
    ck_assert_int_eq(seal_open(&k, NULL, 0, box, n, back, sizeof back, &m), NT_ERR_AUTH);
    uint8_t ad2[sizeof ad + 1];
    memcpy(ad2, ad, sizeof ad);
    ad2[sizeof ad] = 0;
    ck_assert_int_eq(seal_open(&k, ad2, sizeof ad2, box, n, back, sizeof back, &m), NT_ERR_AUTH);
    /* Untouched, it still opens. */
    ck_assert_int_eq(seal_open(&k, ad, sizeof ad, box, n, back, sizeof back, &m), NT_OK);
    ck_assert_uint_eq(m, pt_len);
    ck_assert(memcmp(back, pt, pt_len) == 0);
}
END_TEST

/* A wrong MAC key is always refused. A wrong encryption key with the right
 * MAC key is not something a MAC can see: the box is authentic and decrypts
 * to garbage, which the padding check refuses almost always (about 255 in
 * 256). It must never give back the original plaintext. Keys come in pairs
 * from one kdf_derive call, so in practice both are wrong together. */
START_TEST(test_wrong_keys)
{
    seal_key k, other, mixed;
    random_key(&k);
    random_key(&other);
    uint8_t pt[40], box[128], back[128];
    size_t n = 0, m = 0, enc_refused = 0;
    for (int trial = 0; trial < 64; trial++) {
        ck_assert_int_eq(rng_bytes(pt, sizeof pt), NT_OK);
        ck_assert_int_eq(seal_encrypt(&k, NULL, 0, pt, sizeof pt, box, sizeof box, &n), NT_OK);
        ck_assert_int_eq(seal_open(&other, NULL, 0, box, n, back, sizeof back, &m), NT_ERR_AUTH);
        mixed = k;
        memcpy(mixed.mac, other.mac, SEAL_KEY_LEN);
        ck_assert_int_eq(seal_open(&mixed, NULL, 0, box, n, back, sizeof back, &m), NT_ERR_AUTH);
        mixed = k;
        mixed.mac[trial % SEAL_KEY_LEN] ^= 0x01;
        ck_assert_int_eq(seal_open(&mixed, NULL, 0, box, n, back, sizeof back, &m), NT_ERR_AUTH);
        mixed = k;
        memcpy(mixed.enc, other.enc, SEAL_KEY_LEN);
        nt_err rc = seal_open(&mixed, NULL, 0, box, n, back, sizeof back, &m);
        if (rc == NT_ERR_AUTH)
            enc_refused++;
        else
            ck_assert(rc == NT_OK && (m != sizeof pt || memcmp(back, pt, m) != 0));
    }
    ck_assert_uint_ge(enc_refused, 56);
    seal_key_wipe(&mixed);
    ck_assert(all_zero((uint8_t *)&mixed, sizeof mixed));
    seal_key_wipe(NULL);
}
END_TEST

START_TEST(test_truncated_extended)
{
    seal_key k;
    random_key(&k);
    uint8_t pt[50], box[256], back[256];
    size_t n = 0, m = 0;
    ck_assert_int_eq(rng_bytes(pt, sizeof pt), NT_OK);
    ck_assert_int_eq(seal_encrypt(&k, NULL, 0, pt, sizeof pt, box, sizeof box, &n), NT_OK);
    for (size_t len = 0; len < n; len++)
        ck_assert_msg(seal_open(&k, NULL, 0, box, len, back, sizeof back, &m) == NT_ERR_AUTH, "prefix %zu", len);
    /* Dropping the front (a shifted box) is refused too. */
    for (size_t skip = 1; skip < n; skip++)
        ck_assert_int_eq(seal_open(&k, NULL, 0, box + skip, n - skip, back, sizeof back, &m), NT_ERR_AUTH);
    ck_assert_int_eq(rng_bytes(box + n, sizeof box - n), NT_OK);
    for (size_t extra = 1; extra <= 48; extra++)
        ck_assert_msg(seal_open(&k, NULL, 0, box, n + extra, back, sizeof back, &m) == NT_ERR_AUTH, "+%zu", extra);
    /* Over the largest possible box. */
    ck_assert_int_eq(seal_open(&k, NULL, 0, box, seal_len(SEAL_MAX_PLAIN) + 16, back, sizeof back, &m),
                     NT_ERR_AUTH);
}
END_TEST

/* Boxes with a correct MAC (made here with the MAC key) but bad contents:
 * ciphertext not a block multiple, empty ciphertext, bad padding, unknown
 * version. The MAC alone must not let any of them through. */
static size_t forge(const seal_key *k, uint8_t version, const uint8_t *ct, size_t ct_len, uint8_t *box)
{
    uint8_t macin[512];
    size_t pos = 0;
    box[0] = version;
    memset(box + 1, 0x11, SEAL_IV_LEN);
    memcpy(box + 1 + SEAL_IV_LEN, ct, ct_len);
    macin[pos++] = version;
    memset(macin + pos, 0, 8); /* be64(0): no associated data */
    pos += 8;
    memcpy(macin + pos, box + 1, SEAL_IV_LEN + ct_len);
    pos += SEAL_IV_LEN + ct_len;
    hmac256(k->mac, SEAL_KEY_LEN, macin, pos, box + 1 + SEAL_IV_LEN + ct_len);
    return 1 + SEAL_IV_LEN + ct_len + SEAL_MAC_LEN;
}

START_TEST(test_valid_mac_bad_contents)
{
    seal_key k;
    random_key(&k);
    uint8_t ct[64], box[256], back[256], iv[SEAL_IV_LEN];
    size_t n, m = 0;
    ck_assert_int_eq(rng_bytes(ct, sizeof ct), NT_OK);
    for (size_t len = 0; len <= 40; len++) {
        if (len % 16 == 0 && len > 0)
            continue;
        n = forge(&k, SEAL_VERSION, ct, len, box);
        ck_assert_msg(seal_open(&k, NULL, 0, box, n, back, sizeof back, &m) == NT_ERR_AUTH, "ct_len %zu", len);
    }
    /* Bad padding: CBC of blocks whose last byte is 0, 17 or an
     * inconsistent pad, encrypted under the right key. */
    static const uint8_t last_blocks[][16] = {
        {0}, {[15] = 17}, {[14] = 1, [15] = 2}, {[0] = 15, [1] = 16, [2] = 16, [3] = 16, [15] = 16},
    };
    mbedtls_aes_context aes;
    mbedtls_aes_init(&aes);
    ck_assert_int_eq(mbedtls_aes_setkey_enc(&aes, k.enc, 256), 0);
    for (size_t i = 0; i < sizeof last_blocks / sizeof last_blocks[0]; i++) {
        memset(iv, 0x11, sizeof iv);
        ck_assert_int_eq(mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_ENCRYPT, 16, iv, last_blocks[i], ct), 0);
        n = forge(&k, SEAL_VERSION, ct, 16, box);
        memset(back, 0xEE, sizeof back);
        ck_assert_msg(seal_open(&k, NULL, 0, box, n, back, sizeof back, &m) == NT_ERR_AUTH, "padding %zu", i);
        ck_assert(all_zero(back, 16));
    }
    /* Good padding, wrong version (MAC computed over that version). */
    static const uint8_t good[16] = {[15] = 1};
    memset(iv, 0x11, sizeof iv);
    ck_assert_int_eq(mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_ENCRYPT, 16, iv, good, ct), 0);
    mbedtls_aes_free(&aes);
    n = forge(&k, SEAL_VERSION, ct, 16, box);
    ck_assert_int_eq(seal_open(&k, NULL, 0, box, n, back, sizeof back, &m), NT_OK); /* the forger is right */
    ck_assert_uint_eq(m, 15);
    for (unsigned v = 0; v < 256; v++) {
        if (v == SEAL_VERSION)
            continue;
        n = forge(&k, (uint8_t)v, ct, 16, box);
        ck_assert_int_eq(seal_open(&k, NULL, 0, box, n, back, sizeof back, &m), NT_ERR_AUTH);
    }
}
END_TEST

START_TEST(test_api_edges)
{
    seal_key k;
    random_key(&k);
    uint8_t pt[32] = {0}, box[128], back[128], iv[SEAL_IV_LEN] = {0};
    size_t n = 0, m = 0;
    ck_assert_uint_eq(seal_len(0), SEAL_MIN_LEN);
    ck_assert_uint_eq(seal_len(15), SEAL_MIN_LEN);
    ck_assert_uint_eq(seal_len(16), SEAL_MIN_LEN + 16);
    for (size_t i = 0; i < 100; i++)
        ck_assert(seal_len(i) - i <= SEAL_OVERHEAD_MAX && seal_len(i) > i + 1 + SEAL_IV_LEN + SEAL_MAC_LEN);
    /* Output capacity one short. */
    ck_assert_int_eq(seal_encrypt(&k, NULL, 0, pt, 16, box, seal_len(16) - 1, &n), NT_ERR_TOO_BIG);
    ck_assert_int_eq(seal_encrypt_iv(&k, iv, NULL, 0, pt, 16, box, seal_len(16) - 1, &n), NT_ERR_TOO_BIG);
    /* Caps. */
    ck_assert_int_eq(seal_encrypt(&k, NULL, 0, pt, SEAL_MAX_PLAIN + 1, box, SIZE_MAX, &n), NT_ERR_TOO_BIG);
    ck_assert_int_eq(seal_encrypt(&k, pt, SEAL_AD_MAX + 1, pt, 1, box, sizeof box, &n), NT_ERR_TOO_BIG);
    /* NULL with a length. */
    ck_assert_int_eq(seal_encrypt(&k, NULL, 1, pt, 1, box, sizeof box, &n), NT_ERR_INVALID);
    ck_assert_int_eq(seal_encrypt(&k, NULL, 0, NULL, 1, box, sizeof box, &n), NT_ERR_INVALID);
    ck_assert_int_eq(seal_encrypt(NULL, NULL, 0, pt, 1, box, sizeof box, &n), NT_ERR_INVALID);
    ck_assert_int_eq(seal_encrypt(&k, NULL, 0, pt, 1, NULL, sizeof box, &n), NT_ERR_INVALID);
    ck_assert_int_eq(seal_encrypt(&k, NULL, 0, pt, 1, box, sizeof box, NULL), NT_ERR_INVALID);
    /* Fresh IVs: the same plaintext seals differently each time. */
    uint8_t box2[128];
    size_t n2 = 0;
    ck_assert_int_eq(seal_encrypt(&k, NULL, 0, pt, sizeof pt, box, sizeof box, &n), NT_OK);
    ck_assert_int_eq(seal_encrypt(&k, NULL, 0, pt, sizeof pt, box2, sizeof box2, &n2), NT_OK);
    ck_assert_uint_eq(n, n2);
    ck_assert(memcmp(box + 1, box2 + 1, SEAL_IV_LEN) != 0);
    ck_assert(memcmp(box, box2, n) != 0);
    /* Open: caller errors are not NT_ERR_AUTH; box errors all are. */
    ck_assert_int_eq(seal_open(NULL, NULL, 0, box, n, back, sizeof back, &m), NT_ERR_INVALID);
    ck_assert_int_eq(seal_open(&k, NULL, 0, NULL, n, back, sizeof back, &m), NT_ERR_INVALID);
    ck_assert_int_eq(seal_open(&k, NULL, 0, box, n, NULL, sizeof back, &m), NT_ERR_INVALID);
    ck_assert_int_eq(seal_open(&k, NULL, 3, box, n, back, sizeof back, &m), NT_ERR_INVALID);
    ck_assert_int_eq(seal_open(&k, pt, SEAL_AD_MAX + 1, box, n, back, sizeof back, &m), NT_ERR_AUTH);
    ck_assert_int_eq(seal_open(&k, NULL, 0, box, n, back, sizeof back, &m), NT_OK);
    /* Raw CBC: key sizes and lengths. */
    ck_assert_int_eq(seal_raw_cbc_encrypt(k.enc, 20, iv, pt, 1, box, sizeof box, &n), NT_ERR_INVALID);
    ck_assert_int_eq(seal_raw_cbc_encrypt(k.enc, 32, iv, pt, 16, box, 31, &n), NT_ERR_TOO_BIG);
    ck_assert_int_eq(seal_raw_cbc_decrypt(k.enc, 32, iv, box, 0, back, sizeof back, &m), NT_ERR_AUTH);
    ck_assert_int_eq(seal_raw_cbc_decrypt(k.enc, 32, iv, box, 17, back, sizeof back, &m), NT_ERR_AUTH);
    ck_assert_int_eq(seal_raw_cbc_decrypt(k.enc, 32, iv, box, 32, back, 31, &m), NT_ERR_TOO_BIG);
}
END_TEST

/* Without rng_init() seal_encrypt fails cleanly (no IV, no box). */
START_TEST(test_no_rng)
{
    seal_key k;
    memset(&k, 7, sizeof k);
    uint8_t box[64];
    size_t n = 0;
    rng_free();
    ck_assert_int_ne(seal_encrypt(&k, NULL, 0, (const uint8_t *)"x", 1, box, sizeof box, &n), NT_OK);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("seal");
    TCase *kat = tcase_create("vectors");
    tcase_add_checked_fixture(kat, setup, teardown);
    tcase_add_test(kat, test_rfc4231);
    tcase_add_test(kat, test_wycheproof_hmac);
    tcase_add_test(kat, test_sp800_38a);
    tcase_add_test(kat, test_wycheproof_aes_cbc);
    tcase_add_test(kat, test_seal_kat);
    suite_add_tcase(s, kat);

    TCase *prop = tcase_create("properties");
    tcase_add_checked_fixture(prop, setup, teardown);
    tcase_set_timeout(prop, 120);
    tcase_add_test(prop, test_round_trip_lengths);
    tcase_add_loop_test(prop, test_bit_flips, 0, (int)(sizeof flip_lens / sizeof flip_lens[0]));
    tcase_add_test(prop, test_wrong_keys);
    tcase_add_test(prop, test_truncated_extended);
    tcase_add_test(prop, test_valid_mac_bad_contents);
    tcase_add_test(prop, test_api_edges);
    tcase_add_test(prop, test_no_rng);
    suite_add_tcase(s, prop);
    return s;
}
