/* kdf.c - HKDF-SHA256 (RFC 5869) on mbedtls_hkdf, and the labelled
 * multi-output derivation every session and room key comes from. */
#include "kdf.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#define KDF_PREFIX "natter/v1/"
#define KDF_PREFIX_LEN (sizeof(KDF_PREFIX) - 1)
#define KDF_INFO_MAX (KDF_PREFIX_LEN + KDF_LABEL_MAX + 1 + KDF_CONTEXT_MAX)

static_assert(KDF_HASH_LEN == 32, "SHA-256 output");
static_assert(KDF_INFO_MAX <= KDF_INPUT_MAX, "derive info fits the plain HKDF input cap");

static const mbedtls_md_info_t *sha256(void)
{
    return mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
}

/* A buffer may be NULL only when it is empty. */
static bool bad_buf(const void *p, size_t len)
{
    return p == NULL && len != 0;
}

nt_err kdf_hkdf(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len, const uint8_t *info,
                size_t info_len, uint8_t *out, size_t out_len)
{
    /* mbedtls_hkdf_extract refuses a NULL ikm even when empty. */
    static const uint8_t empty[1];

    if (!out || bad_buf(salt, salt_len) || bad_buf(ikm, ikm_len) || bad_buf(info, info_len))
        return NT_ERR_INVALID;
    if (out_len > KDF_MAX_OUT || salt_len > KDF_INPUT_MAX || ikm_len > KDF_INPUT_MAX ||
        info_len > KDF_INPUT_MAX) {
        mbedtls_platform_zeroize(out, out_len); /* the caller vouches for out_len bytes */
        return NT_ERR_TOO_BIG;
    }
    int ret = mbedtls_hkdf(sha256(), salt_len ? salt : NULL, salt_len, ikm ? ikm : empty, ikm_len, info,
                           info_len, out, out_len);
    if (ret != 0) {
        mbedtls_platform_zeroize(out, out_len);
        return NT_ERR_CRYPTO;
    }
    return NT_OK;
}

static nt_err check_outputs(const kdf_output *outs, size_t n)
{
    if (!outs || n == 0 || n > KDF_MAX_OUTPUTS)
        return NT_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        if (!outs[i].label || !outs[i].out || outs[i].len == 0)
            return NT_ERR_INVALID;
        size_t l = strnlen(outs[i].label, KDF_LABEL_MAX + 1);
        if (l == 0 || l > KDF_LABEL_MAX)
            return NT_ERR_INVALID;
        if (outs[i].len > KDF_MAX_OUT)
            return NT_ERR_TOO_BIG;
        for (size_t j = 0; j < i; j++)
            if (strcmp(outs[i].label, outs[j].label) == 0)
                return NT_ERR_INVALID;
    }
    return NT_OK;
}

static void wipe_outputs(kdf_output *outs, size_t n)
{
    if (!outs)
        return;
    for (size_t i = 0; i < n; i++) /* the caller vouches for n outputs of len bytes */
        if (outs[i].out)
            mbedtls_platform_zeroize(outs[i].out, outs[i].len);
}

nt_err kdf_derive(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len, const uint8_t *context,
                  size_t context_len, kdf_output *outs, size_t n)
{
    static const uint8_t empty[1];
    uint8_t prk[KDF_HASH_LEN];
    uint8_t info[KDF_INFO_MAX];
    nt_err rc = NT_OK;

    rc = check_outputs(outs, n);
    if (rc)
        goto out;
    if (bad_buf(salt, salt_len) || bad_buf(ikm, ikm_len) || bad_buf(context, context_len)) {
        rc = NT_ERR_INVALID;
        goto out;
    }
    if (salt_len > KDF_INPUT_MAX || ikm_len > KDF_INPUT_MAX || context_len > KDF_CONTEXT_MAX) {
        rc = NT_ERR_TOO_BIG;
        goto out;
    }
    if (mbedtls_hkdf_extract(sha256(), salt_len ? salt : NULL, salt_len, ikm ? ikm : empty, ikm_len, prk) != 0) {
        rc = NT_ERR_CRYPTO;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        /* The label holds no NUL, so the 0x00 separator makes the
         * (label, context) encoding unambiguous. */
        size_t l = strlen(outs[i].label), pos = 0;
        memcpy(info + pos, KDF_PREFIX, KDF_PREFIX_LEN);
        pos += KDF_PREFIX_LEN;
        memcpy(info + pos, outs[i].label, l);
        pos += l;
        info[pos++] = 0x00;
        if (context_len) {
            memcpy(info + pos, context, context_len);
            pos += context_len;
        }
        if (mbedtls_hkdf_expand(sha256(), prk, sizeof(prk), info, pos, outs[i].out, outs[i].len) != 0) {
            rc = NT_ERR_CRYPTO;
            goto out;
        }
    }
out:
    mbedtls_platform_zeroize(prk, sizeof(prk));
    mbedtls_platform_zeroize(info, sizeof(info));
    if (rc)
        wipe_outputs(outs, n);
    return rc;
}
