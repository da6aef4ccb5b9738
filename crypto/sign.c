/* sign.c - RSASSA-PSS-SHA256 over domain-separated messages.
 *
 * The signed digest is SHA-256("natter/v1/sig/" || label || 0x00 || msg).
 * The labels are distinct and contain no NUL, so the prefix up to and
 * including the 0x00 is prefix-free: no (domain, msg) pair hashes the same
 * input as another domain's.
 *
 * The identity's RSA context is fixed to PKCS#1 v2.1 with SHA-256, which
 * the PSS calls below read for MGF1; all parameters that matter are also
 * passed explicitly (hash, MGF1 hash, salt length 32). */
#include "sign.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>

#include "rng.h"

#define SIGN_HASH_LEN 32
#define SIGN_SALT_LEN 32
static const char SIGN_PREFIX[] = "natter/v1/sig/";

static_assert(SIGN_MAX_LEN * 8 >= 4096, "SIGN_MAX_LEN below RSA-4096");

static const char *domain_label(sign_domain d)
{
    switch (d) {
    case SIGN_HANDSHAKE:
        return "handshake";
    case SIGN_HANDSHAKE_REPLY:
        return "handshake-reply";
    case SIGN_MESSAGE:
        return "message";
    case SIGN_ANNOUNCE:
        return "announce";
    case SIGN_ROOM_KEY:
        return "room-key";
    }
    return NULL;
}

static bool domain_digest(sign_domain d, const uint8_t *msg, size_t len, uint8_t hash[static SIGN_HASH_LEN])
{
    static const unsigned char sep = 0x00;
    const char *label = domain_label(d);
    mbedtls_sha256_context sha;
    bool ok;

    if (!label || (len > 0 && !msg))
        return false;
    mbedtls_sha256_init(&sha);
    ok = mbedtls_sha256_starts_ret(&sha, 0) == 0 &&
         mbedtls_sha256_update_ret(&sha, (const unsigned char *)SIGN_PREFIX, sizeof SIGN_PREFIX - 1) == 0 &&
         mbedtls_sha256_update_ret(&sha, (const unsigned char *)label, strlen(label)) == 0 &&
         mbedtls_sha256_update_ret(&sha, &sep, 1) == 0 && mbedtls_sha256_update_ret(&sha, msg, len) == 0 &&
         mbedtls_sha256_finish_ret(&sha, hash) == 0;
    mbedtls_sha256_free(&sha);
    return ok;
}

static size_t key_len(const identity *id)
{
    return mbedtls_rsa_get_len(mbedtls_pk_rsa(*identity_pk(id)));
}

nt_err sign_create(const identity *id, sign_domain d, const uint8_t *msg, size_t len, uint8_t *sig, size_t cap,
                   size_t *siglen)
{
    uint8_t hash[SIGN_HASH_LEN];
    size_t k;
    int ret;

    if (siglen)
        *siglen = 0;
    if (!id || !sig || !siglen || !identity_has_private(id))
        return NT_ERR_INVALID;
    k = key_len(id);
    if (cap < k)
        return NT_ERR_TOO_BIG;
    if (!domain_digest(d, msg, len, hash))
        return NT_ERR_INVALID;
    /* The DRBG doubles as the blinding source for the private operation. */
    identity_lock(id);
    ret = mbedtls_rsa_rsassa_pss_sign_ext(mbedtls_pk_rsa(*identity_pk(id)), rng_mbedtls, NULL, MBEDTLS_MD_SHA256,
                                          SIGN_HASH_LEN, hash, SIGN_SALT_LEN, sig);
    identity_unlock(id);
    mbedtls_platform_zeroize(hash, sizeof hash);
    if (ret != 0) {
        mbedtls_platform_zeroize(sig, k);
        return NT_ERR_CRYPTO;
    }
    *siglen = k;
    return NT_OK;
}

/* PSS verify of a SHA-256 digest; 0 if valid. */
static int pss_verify_digest(const identity *id, const uint8_t hash[static SIGN_HASH_LEN], const uint8_t *sig)
{
    int ret;

    identity_lock(id);
    ret = mbedtls_rsa_rsassa_pss_verify_ext(mbedtls_pk_rsa(*identity_pk(id)), rng_mbedtls, NULL,
                                            MBEDTLS_RSA_PUBLIC, MBEDTLS_MD_SHA256, SIGN_HASH_LEN, hash,
                                            MBEDTLS_MD_SHA256, SIGN_SALT_LEN, sig);
    identity_unlock(id);
    return ret;
}

static bool sig_shape_ok(const identity *id, const uint8_t *msg, size_t len, const uint8_t *sig, size_t siglen)
{
    return id && sig && (msg || len == 0) && siglen == key_len(id);
}

nt_err sign_verify(const identity *id, sign_domain d, const uint8_t *msg, size_t len, const uint8_t *sig,
                   size_t siglen)
{
    uint8_t hash[SIGN_HASH_LEN];

    if (!sig_shape_ok(id, msg, len, sig, siglen) || !domain_digest(d, msg, len, hash))
        return NT_ERR_AUTH;
    return pss_verify_digest(id, hash, sig) == 0 ? NT_OK : NT_ERR_AUTH;
}

nt_err sign_verify_pss_raw(const identity *id, const uint8_t *msg, size_t len, const uint8_t *sig, size_t siglen)
{
    uint8_t hash[SIGN_HASH_LEN];

    if (!sig_shape_ok(id, msg, len, sig, siglen) || mbedtls_sha256_ret(msg, len, hash, 0) != 0)
        return NT_ERR_AUTH;
    return pss_verify_digest(id, hash, sig) == 0 ? NT_OK : NT_ERR_AUTH;
}

nt_err sign_verify_pkcs1v15_raw(const identity *id, const uint8_t *msg, size_t len, const uint8_t *sig,
                                size_t siglen)
{
    uint8_t hash[SIGN_HASH_LEN];
    int ret;

    if (!sig_shape_ok(id, msg, len, sig, siglen) || mbedtls_sha256_ret(msg, len, hash, 0) != 0)
        return NT_ERR_AUTH;
    /* Does not read the context's padding mode, so the fixed v2.1 setting
     * is left alone. mbedTLS compares the whole encoded block. */
    identity_lock(id);
    ret = mbedtls_rsa_rsassa_pkcs1_v15_verify(mbedtls_pk_rsa(*identity_pk(id)), rng_mbedtls, NULL,
                                              MBEDTLS_RSA_PUBLIC, MBEDTLS_MD_SHA256, SIGN_HASH_LEN, hash, sig);
    identity_unlock(id);
    return ret == 0 ? NT_OK : NT_ERR_AUTH;
}
