/* keysched.c - see keysched.h and api-spec/protocol.md. */
#include "server/channel/keysched.h"

#include <string.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#define CONFIRM_LABEL "natter/v1/key-confirm"
#define AUTH_AD_LABEL "natter/v1/auth-key"

_Static_assert(KEYSCHED_IKM_LEN == 32, "ECDH output and rsa secret are 32 bytes");
_Static_assert(HS_SECRET_LEN == KEYSCHED_IKM_LEN, "rsa secret is the IKM");
_Static_assert(sizeof(AUTH_AD_LABEL) + HS_SESSION_ID_LEN <= KEYSCHED_AUTH_AD_MAX, "AD fits");

nt_err keysched_hash(const uint8_t *t, size_t n, uint8_t th[static KEYSCHED_TH_LEN])
{
    return mbedtls_sha256_ret(t, n, th, 0) ? NT_ERR_CRYPTO : NT_OK;
}

nt_err keysched_derive(const uint8_t ikm[static KEYSCHED_IKM_LEN], const uint8_t nonce_c[static HS_NONCE_LEN],
                       const uint8_t nonce_s[static HS_NONCE_LEN], const uint8_t th[static KEYSCHED_TH_LEN],
                       session_keys *out)
{
    uint8_t salt[2 * HS_NONCE_LEN];
    memcpy(salt, nonce_c, HS_NONCE_LEN);
    memcpy(salt + HS_NONCE_LEN, nonce_s, HS_NONCE_LEN);
    kdf_output outs[] = {
        {"c2s enc", out->c2s.enc, SEAL_KEY_LEN},      {"c2s mac", out->c2s.mac, SEAL_KEY_LEN},
        {"s2c enc", out->s2c.enc, SEAL_KEY_LEN},      {"s2c mac", out->s2c.mac, SEAL_KEY_LEN},
        {"auth-key enc", out->ak.enc, SEAL_KEY_LEN}, {"auth-key mac", out->ak.mac, SEAL_KEY_LEN},
    };
    nt_err rc = kdf_derive(salt, sizeof(salt), ikm, KEYSCHED_IKM_LEN, th, KEYSCHED_TH_LEN, outs,
                           sizeof(outs) / sizeof(outs[0]));
    if (rc)
        keysched_wipe(out);
    return rc;
}

nt_err keysched_confirm(const uint8_t auth_key[static HS_AUTH_KEY_LEN], const uint8_t sid[static HS_SESSION_ID_LEN],
                        const uint8_t th[static KEYSCHED_TH_LEN], uint8_t out[static KEYSCHED_CONFIRM_LEN])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    mbedtls_md_context_t ctx;
    mbedtls_md_init(&ctx);
    const uint8_t zero = 0;
    nt_err rc = NT_ERR_CRYPTO;
    if (!md || mbedtls_md_setup(&ctx, md, 1) || mbedtls_md_hmac_starts(&ctx, auth_key, HS_AUTH_KEY_LEN) ||
        mbedtls_md_hmac_update(&ctx, (const uint8_t *)CONFIRM_LABEL, strlen(CONFIRM_LABEL)) ||
        mbedtls_md_hmac_update(&ctx, &zero, 1) || mbedtls_md_hmac_update(&ctx, sid, HS_SESSION_ID_LEN) ||
        mbedtls_md_hmac_update(&ctx, th, KEYSCHED_TH_LEN) || mbedtls_md_hmac_finish(&ctx, out))
        goto out;
    rc = NT_OK;
out:
    mbedtls_md_free(&ctx); /* zeroes the HMAC pads */
    if (rc)
        mbedtls_platform_zeroize(out, KEYSCHED_CONFIRM_LEN);
    return rc;
}

size_t keysched_auth_ad(const uint8_t sid[static HS_SESSION_ID_LEN], uint8_t out[static KEYSCHED_AUTH_AD_MAX])
{
    size_t n = strlen(AUTH_AD_LABEL);
    memcpy(out, AUTH_AD_LABEL, n);
    out[n++] = 0;
    memcpy(out + n, sid, HS_SESSION_ID_LEN);
    return n + HS_SESSION_ID_LEN;
}

void keysched_wipe(session_keys *k)
{
    mbedtls_platform_zeroize(k, sizeof(*k));
}
