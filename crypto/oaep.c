/* oaep.c - RSAES-OAEP with SHA-256 and MGF1-SHA256.
 *
 * mbedTLS takes the OAEP hash from the RSA context, which identity.c fixes
 * to SHA-256 for every identity. Decryption always writes into a buffer of
 * the full key size first, so the caller's capacity cannot turn into a
 * second, distinguishable error during the padding check (Manger); every
 * decryption failure is the same NT_ERR_AUTH. */
#include "oaep.h"

#include <assert.h>
#include <string.h>

#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>

#include "rng.h"

#define OAEP_HASH_LEN 32
#define OAEP_MAX_KEY_BYTES 512 /* RSA-4096 */

static_assert(OAEP_MAX_KEY_BYTES * 8 >= 4096, "OAEP buffer below RSA-4096");

size_t oaep_max_plain(unsigned bits)
{
    size_t k = bits / 8;
    return k > 2 * OAEP_HASH_LEN + 2 ? k - 2 * OAEP_HASH_LEN - 2 : 0;
}

static mbedtls_rsa_context *rsa_of(const identity *id)
{
    return mbedtls_pk_rsa(*identity_pk(id));
}

nt_err oaep_encrypt(const identity *id, const uint8_t *label, size_t label_len, const uint8_t *pt, size_t pt_len,
                    uint8_t *ct, size_t cap, size_t *ct_len)
{
    size_t k;
    int ret;

    if (ct_len)
        *ct_len = 0;
    if (!id || !ct || !ct_len || (label_len > 0 && !label) || (pt_len > 0 && !pt))
        return NT_ERR_INVALID;
    k = mbedtls_rsa_get_len(rsa_of(id));
    if (pt_len > oaep_max_plain(identity_bits(id)) || cap < k)
        return NT_ERR_TOO_BIG;
    identity_lock(id);
    ret = mbedtls_rsa_rsaes_oaep_encrypt(rsa_of(id), rng_mbedtls, NULL, MBEDTLS_RSA_PUBLIC, label, label_len, pt_len,
                                         pt, ct);
    identity_unlock(id);
    if (ret != 0)
        return NT_ERR_CRYPTO;
    *ct_len = k;
    return NT_OK;
}

nt_err oaep_decrypt(const identity *id, const uint8_t *label, size_t label_len, const uint8_t *ct, size_t ct_len,
                    uint8_t *pt, size_t cap, size_t *pt_len)
{
    uint8_t buf[OAEP_MAX_KEY_BYTES];
    size_t k, olen = 0;
    nt_err rc = NT_ERR_AUTH;
    int ret;

    if (pt_len)
        *pt_len = 0;
    if (!id || !pt_len || (label_len > 0 && !label) || (cap > 0 && !pt) || !identity_has_private(id))
        return NT_ERR_INVALID;
    k = mbedtls_rsa_get_len(rsa_of(id));
    if (!ct || ct_len != k || k > sizeof buf)
        return NT_ERR_AUTH;
    /* The private operation uses the DRBG for blinding. */
    identity_lock(id);
    ret = mbedtls_rsa_rsaes_oaep_decrypt(rsa_of(id), rng_mbedtls, NULL, MBEDTLS_RSA_PRIVATE, label, label_len, &olen,
                                         ct, buf, sizeof buf);
    identity_unlock(id);
    if (ret != 0)
        goto out;
    if (olen > cap) {
        rc = NT_ERR_TOO_BIG;
        goto out;
    }
    if (olen > 0)
        memcpy(pt, buf, olen);
    *pt_len = olen;
    rc = NT_OK;
out:
    mbedtls_platform_zeroize(buf, sizeof buf);
    return rc;
}
