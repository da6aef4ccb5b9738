/* seal.c - AES-256-CBC + PKCS#7, then HMAC-SHA256 (encrypt-then-MAC).
 *
 * The shape of Signal's and Megolm's message encryption: the MAC covers the
 * version, the length-prefixed associated data, the IV and the ciphertext,
 * and is checked in constant time before any byte is decrypted, so a bad
 * padding can only be seen by someone who already holds the MAC key: there
 * is no padding oracle. Layout in api-spec/protocol.md ("Seal"). */
#include "seal.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include <mbedtls/aes.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include "rng.h"

#define SEAL_HDR_LEN (1 + SEAL_IV_LEN)   /* version || iv */
#define SEAL_AD_LEN_BYTES 8               /* be64(ad_len) */

static_assert(SEAL_BLOCK == 16, "AES block");
static_assert(SEAL_IV_LEN == SEAL_BLOCK, "CBC IV is one block");
static_assert(SEAL_KEY_LEN * 8 == 256, "AES-256 and a 256-bit MAC key");
static_assert(SEAL_MAC_LEN == 32, "HMAC-SHA256 output, untruncated");
static_assert(SEAL_MIN_LEN == SEAL_HDR_LEN + SEAL_BLOCK + SEAL_MAC_LEN, "one padded block at least");
static_assert(SEAL_OVERHEAD_MAX == SEAL_MIN_LEN, "overhead: header, one padding block, MAC");

static bool bad_buf(const void *p, size_t len)
{
    return p == NULL && len != 0;
}

/* PKCS#7 always adds 1..16 bytes. */
static size_t padded_len(size_t n)
{
    return (n / SEAL_BLOCK + 1) * SEAL_BLOCK;
}

size_t seal_len(size_t n)
{
    return SEAL_HDR_LEN + padded_len(n) + SEAL_MAC_LEN;
}

static bool key_len_ok(size_t key_len)
{
    return key_len == 16 || key_len == 24 || key_len == 32;
}

/* CBC-encrypt pt[0..n) with PKCS#7 into out (padded_len(n) bytes). */
static nt_err cbc_encrypt(const uint8_t *key, size_t key_len, const uint8_t iv_in[static SEAL_IV_LEN],
                          const uint8_t *pt, size_t n, uint8_t *out)
{
    mbedtls_aes_context aes;
    uint8_t iv[SEAL_IV_LEN], last[SEAL_BLOCK];
    size_t full = n / SEAL_BLOCK * SEAL_BLOCK, rest = n - full;
    uint8_t pad = (uint8_t)(SEAL_BLOCK - rest);
    nt_err rc = NT_OK;

    mbedtls_aes_init(&aes);
    memcpy(iv, iv_in, SEAL_IV_LEN); /* mbedtls_aes_crypt_cbc advances the IV in place */
    if (mbedtls_aes_setkey_enc(&aes, key, (unsigned)(key_len * 8)) != 0) {
        rc = NT_ERR_CRYPTO;
        goto out;
    }
    if (full && mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_ENCRYPT, full, iv, pt, out) != 0) {
        rc = NT_ERR_CRYPTO;
        goto out;
    }
    if (rest)
        memcpy(last, pt + full, rest);
    memset(last + rest, pad, pad);
    if (mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_ENCRYPT, SEAL_BLOCK, iv, last, out + full) != 0)
        rc = NT_ERR_CRYPTO;
out:
    mbedtls_platform_zeroize(last, sizeof(last));
    mbedtls_platform_zeroize(iv, sizeof(iv));
    mbedtls_aes_free(&aes); /* zeroes the key schedule */
    return rc;
}

/* Returns 0 when blk ends in valid PKCS#7 padding (pad in 1..16, every pad
 * byte equal to pad), non-zero otherwise, and the pad length. Branch-free
 * over the block, although the MAC already rules out a padding oracle. */
static unsigned pkcs7_bad(const uint8_t blk[static SEAL_BLOCK], size_t *pad_out)
{
    unsigned pad = blk[SEAL_BLOCK - 1];
    unsigned bad = ((pad - 1u) >> 31) | (((unsigned)SEAL_BLOCK - pad) >> 31); /* pad == 0 or pad > 16 */
    for (unsigned i = 0; i < SEAL_BLOCK; i++) {
        unsigned dist = SEAL_BLOCK - 1 - i;            /* distance from the last byte */
        unsigned in_pad = 0u - ((dist - pad) >> 31);   /* all ones when dist < pad */
        bad |= in_pad & (unsigned)(blk[i] ^ pad);
    }
    *pad_out = pad;
    return bad;
}

/* CBC-decrypt ct[0..ct_len) into pt and strip the padding. NT_ERR_AUTH on a
 * bad length or padding, pt zeroed then. */
static nt_err cbc_decrypt(const uint8_t *key, size_t key_len, const uint8_t iv_in[static SEAL_IV_LEN],
                          const uint8_t *ct, size_t ct_len, uint8_t *pt, size_t *pt_len)
{
    mbedtls_aes_context aes;
    uint8_t iv[SEAL_IV_LEN];
    size_t pad = 0;
    nt_err rc = NT_OK;

    mbedtls_aes_init(&aes);
    memcpy(iv, iv_in, SEAL_IV_LEN);
    if (ct_len == 0 || ct_len % SEAL_BLOCK) {
        rc = NT_ERR_AUTH;
        goto out;
    }
    if (mbedtls_aes_setkey_dec(&aes, key, (unsigned)(key_len * 8)) != 0 ||
        mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_DECRYPT, ct_len, iv, ct, pt) != 0) {
        rc = NT_ERR_CRYPTO;
        goto out;
    }
    if (pkcs7_bad(pt + ct_len - SEAL_BLOCK, &pad)) {
        rc = NT_ERR_AUTH;
        goto out;
    }
    *pt_len = ct_len - pad;
out:
    if (rc)
        mbedtls_platform_zeroize(pt, ct_len);
    mbedtls_platform_zeroize(iv, sizeof(iv));
    mbedtls_aes_free(&aes);
    return rc;
}

static void put_be64(uint8_t b[static SEAL_AD_LEN_BYTES], uint64_t v)
{
    for (int i = SEAL_AD_LEN_BYTES - 1; i >= 0; i--) {
        b[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* mac = HMAC-SHA256(key, version || be64(ad_len) || ad || iv || ct); the
 * ad length prefix keeps the (ad, iv || ct) split unambiguous. */
static nt_err mac_compute(const uint8_t key[static SEAL_KEY_LEN], uint8_t version, const uint8_t *ad,
                          size_t ad_len, const uint8_t *iv_ct, size_t iv_ct_len, uint8_t mac[static SEAL_MAC_LEN])
{
    mbedtls_md_context_t md;
    uint8_t adlen[SEAL_AD_LEN_BYTES];
    nt_err rc = NT_OK;

    mbedtls_md_init(&md);
    put_be64(adlen, (uint64_t)ad_len);
    if (mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1) != 0) {
        rc = NT_ERR_NOMEM;
        goto out;
    }
    if (mbedtls_md_hmac_starts(&md, key, SEAL_KEY_LEN) != 0 || mbedtls_md_hmac_update(&md, &version, 1) != 0 ||
        mbedtls_md_hmac_update(&md, adlen, sizeof(adlen)) != 0 ||
        (ad_len && mbedtls_md_hmac_update(&md, ad, ad_len) != 0) ||
        mbedtls_md_hmac_update(&md, iv_ct, iv_ct_len) != 0 || mbedtls_md_hmac_finish(&md, mac) != 0)
        rc = NT_ERR_CRYPTO;
out:
    mbedtls_md_free(&md); /* zeroes the HMAC pads */
    if (rc)
        mbedtls_platform_zeroize(mac, SEAL_MAC_LEN);
    return rc;
}

nt_err seal_encrypt_iv(const seal_key *k, const uint8_t iv[static SEAL_IV_LEN], const uint8_t *ad, size_t ad_len,
                       const uint8_t *pt, size_t pt_len, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!k || !iv || !out || !out_len || bad_buf(ad, ad_len) || bad_buf(pt, pt_len))
        return NT_ERR_INVALID;
    if (pt_len > SEAL_MAX_PLAIN || ad_len > SEAL_AD_MAX || cap < seal_len(pt_len))
        return NT_ERR_TOO_BIG;

    size_t ct_len = padded_len(pt_len);
    uint8_t *ct = out + SEAL_HDR_LEN, *mac = ct + ct_len;
    out[0] = SEAL_VERSION;
    memcpy(out + 1, iv, SEAL_IV_LEN);
    nt_err rc = cbc_encrypt(k->enc, SEAL_KEY_LEN, iv, pt, pt_len, ct);
    if (!rc)
        rc = mac_compute(k->mac, SEAL_VERSION, ad, ad_len, out + 1, SEAL_IV_LEN + ct_len, mac);
    if (rc) {
        mbedtls_platform_zeroize(out, seal_len(pt_len));
        return rc;
    }
    *out_len = seal_len(pt_len);
    return NT_OK;
}

nt_err seal_encrypt(const seal_key *k, const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len,
                    uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t iv[SEAL_IV_LEN];

    /* Check before drawing from the DRBG, so a bad call costs nothing. */
    if (!k || !out || !out_len || bad_buf(ad, ad_len) || bad_buf(pt, pt_len))
        return NT_ERR_INVALID;
    if (pt_len > SEAL_MAX_PLAIN || ad_len > SEAL_AD_MAX || cap < seal_len(pt_len))
        return NT_ERR_TOO_BIG;
    if (rng_bytes(iv, sizeof(iv)) != NT_OK)
        return NT_ERR_CRYPTO;
    return seal_encrypt_iv(k, iv, ad, ad_len, pt, pt_len, out, cap, out_len);
}

nt_err seal_open(const seal_key *k, const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t in_len, uint8_t *pt,
                 size_t cap, size_t *pt_len)
{
    uint8_t mac[SEAL_MAC_LEN];
    nt_err rc = NT_OK;

    if (!k || !in || !pt || !pt_len || bad_buf(ad, ad_len))
        return NT_ERR_INVALID;
    /* Everything below depends on the box or the associated data: one
     * error for all of it. */
    if (in_len < SEAL_MIN_LEN || in_len > seal_len(SEAL_MAX_PLAIN) || ad_len > SEAL_AD_MAX)
        return NT_ERR_AUTH;
    size_t ct_len = in_len - SEAL_HDR_LEN - SEAL_MAC_LEN;
    if (ct_len % SEAL_BLOCK)
        return NT_ERR_AUTH;
    if (cap < ct_len)
        return NT_ERR_TOO_BIG;
    if (in[0] != SEAL_VERSION) {
        rc = NT_ERR_AUTH;
        goto out;
    }

    rc = mac_compute(k->mac, in[0], ad, ad_len, in + 1, SEAL_IV_LEN + ct_len, mac);
    if (rc)
        goto out;
    if (mbedtls_ct_memcmp(mac, in + in_len - SEAL_MAC_LEN, SEAL_MAC_LEN) != 0) {
        rc = NT_ERR_AUTH;
        goto out;
    }
    rc = cbc_decrypt(k->enc, SEAL_KEY_LEN, in + 1, in + SEAL_HDR_LEN, ct_len, pt, pt_len);
    if (rc == NT_ERR_CRYPTO) /* keep the single error; nothing was decrypted */
        rc = NT_ERR_AUTH;
out:
    mbedtls_platform_zeroize(mac, sizeof(mac));
    if (rc)
        mbedtls_platform_zeroize(pt, ct_len);
    return rc;
}

void seal_key_wipe(seal_key *k)
{
    if (k)
        mbedtls_platform_zeroize(k, sizeof(*k));
}

nt_err seal_raw_cbc_encrypt(const uint8_t *key, size_t key_len, const uint8_t iv[static SEAL_IV_LEN],
                            const uint8_t *pt, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!key || !key_len_ok(key_len) || !iv || !out || !out_len || bad_buf(pt, n))
        return NT_ERR_INVALID;
    if (n > SEAL_MAX_PLAIN || cap < padded_len(n))
        return NT_ERR_TOO_BIG;
    nt_err rc = cbc_encrypt(key, key_len, iv, pt, n, out);
    if (rc)
        return rc;
    *out_len = padded_len(n);
    return NT_OK;
}

nt_err seal_raw_cbc_decrypt(const uint8_t *key, size_t key_len, const uint8_t iv[static SEAL_IV_LEN],
                            const uint8_t *ct, size_t ct_len, uint8_t *pt, size_t cap, size_t *pt_len)
{
    if (!key || !key_len_ok(key_len) || !iv || !pt || !pt_len || bad_buf(ct, ct_len))
        return NT_ERR_INVALID;
    if (ct_len == 0 || ct_len % SEAL_BLOCK)
        return NT_ERR_AUTH;
    if (ct_len > padded_len(SEAL_MAX_PLAIN) || cap < ct_len)
        return NT_ERR_TOO_BIG;
    return cbc_decrypt(key, key_len, iv, ct, ct_len, pt, pt_len);
}
