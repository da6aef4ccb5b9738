/* hello.c - the client API's proof of token (see hello.h). */
#include "hello.h"

#include <mbedtls/constant_time.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <string.h>

static nt_err mac(const char *token, const uint8_t nonce[static HELLO_NONCE_LEN], const char *node_id,
                  uint8_t out[static HELLO_PROOF_LEN])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    size_t tl = token ? strlen(token) : 0, il = node_id ? strlen(node_id) : 0;
    if (!md || tl == 0 || !node_id || il > HELLO_NODE_ID_MAX)
        return NT_ERR_INVALID;
    mbedtls_md_context_t c;
    mbedtls_md_init(&c);
    int r = mbedtls_md_setup(&c, md, 1);
    if (!r)
        r = mbedtls_md_hmac_starts(&c, (const unsigned char *)token, tl);
    if (!r) /* the domain with its NUL */
        r = mbedtls_md_hmac_update(&c, (const unsigned char *)HELLO_DOMAIN, sizeof HELLO_DOMAIN);
    if (!r)
        r = mbedtls_md_hmac_update(&c, nonce, HELLO_NONCE_LEN);
    if (!r)
        r = mbedtls_md_hmac_update(&c, (const unsigned char *)node_id, il);
    if (!r)
        r = mbedtls_md_hmac_finish(&c, out);
    mbedtls_md_free(&c);
    return r ? NT_ERR_CRYPTO : NT_OK;
}

nt_err hello_proof(const char *token, const uint8_t nonce[static HELLO_NONCE_LEN], const char *node_id,
                   char out[static HELLO_PROOF_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t m[HELLO_PROOF_LEN];
    nt_err rc = mac(token, nonce, node_id, m);
    out[0] = '\0';
    if (rc)
        return rc;
    for (size_t i = 0; i < HELLO_PROOF_LEN; i++) {
        out[2 * i] = hex[m[i] >> 4];
        out[2 * i + 1] = hex[m[i] & 15];
    }
    out[HELLO_PROOF_HEX_LEN] = '\0';
    mbedtls_platform_zeroize(m, sizeof m);
    return NT_OK;
}

bool hello_check(const char *token, const uint8_t nonce[static HELLO_NONCE_LEN], const char *node_id,
                 const char *proof)
{
    char want[HELLO_PROOF_HEX_LEN + 1], got[HELLO_PROOF_HEX_LEN + 1];
    if (!proof || strlen(proof) != HELLO_PROOF_HEX_LEN || hello_proof(token, nonce, node_id, want))
        return false;
    for (size_t i = 0; i <= HELLO_PROOF_HEX_LEN; i++) /* hex in any case */
        got[i] = (char)(proof[i] >= 'A' && proof[i] <= 'F' ? proof[i] - 'A' + 'a' : proof[i]);
    return mbedtls_ct_memcmp(want, got, HELLO_PROOF_HEX_LEN) == 0;
}
