/* fuzz_seal_open.c - libFuzzer harness for seal_open.
 *
 * Input: one header byte (bit 7: "forge", low 6 bits: associated-data
 * length), the associated data, then the box. The key is fixed. In forge
 * mode the harness first writes a correct MAC over the box (it knows the MAC
 * key), so the fuzzer also reaches decryption and the padding check, which
 * a random MAC would never pass.
 *
 * seal_open must never crash or overrun, must report a plaintext no longer
 * than the ciphertext, and whatever it opens must re-seal with the same IV
 * to exactly the same bytes. The seeds in corpus/fuzz_seal_open are valid
 * boxes for this key, written by tests/fuzz/make_seal_seeds.py. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>

#include "crypto/seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_BOX_MAX (64 * 1024)
#define FORGE 0x80
#define AD_MASK 0x3f

static void fixed_key(seal_key *k)
{
    for (unsigned i = 0; i < SEAL_KEY_LEN; i++) {
        k->enc[i] = (uint8_t)i;
        k->mac[i] = (uint8_t)(0x80 + i);
    }
}

/* MAC over version || be64(ad_len) || ad || iv || ct, as seal.c does. */
static void forge_mac(const seal_key *k, const uint8_t *ad, size_t ad_len, uint8_t *box, size_t n)
{
    mbedtls_md_context_t md;
    uint8_t adlen[8] = {0};
    adlen[7] = (uint8_t)ad_len;
    mbedtls_md_init(&md);
    if (mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1) != 0)
        abort();
    mbedtls_md_hmac_starts(&md, k->mac, SEAL_KEY_LEN);
    mbedtls_md_hmac_update(&md, box, 1);
    mbedtls_md_hmac_update(&md, adlen, sizeof adlen);
    if (ad_len)
        mbedtls_md_hmac_update(&md, ad, ad_len);
    mbedtls_md_hmac_update(&md, box + 1, n - 1 - SEAL_MAC_LEN);
    mbedtls_md_hmac_finish(&md, box + n - SEAL_MAC_LEN);
    mbedtls_md_free(&md);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t box[FUZZ_BOX_MAX], pt[FUZZ_BOX_MAX], again[FUZZ_BOX_MAX + SEAL_OVERHEAD_MAX];
    seal_key k;
    size_t pt_len = 0, n2 = 0;

    if (size < 1)
        return 0;
    size_t ad_len = data[0] & AD_MASK;
    int forge = data[0] & FORGE;
    if (size < 1 + ad_len)
        return 0;
    const uint8_t *ad = data + 1;
    size_t n = size - 1 - ad_len;
    if (n > FUZZ_BOX_MAX)
        return 0;
    memcpy(box, data + 1 + ad_len, n);
    fixed_key(&k);
    if (forge && n > SEAL_MAC_LEN)
        forge_mac(&k, ad, ad_len, box, n);

    /* seal_open writes at most n - 49 bytes; the guard byte after them
     * must survive. */
    size_t touched = n + 1 < sizeof pt ? n + 1 : sizeof pt;
    memset(pt, 0xEE, touched);
    nt_err rc = seal_open(&k, ad_len ? ad : NULL, ad_len, box, n, pt, sizeof pt, &pt_len);
    if (n >= SEAL_MIN_LEN && pt[n - SEAL_MIN_LEN + SEAL_BLOCK] != 0xEE)
        abort();
    if (rc != NT_OK) {
        if (rc != NT_ERR_AUTH)
            abort(); /* one error for every bad box */
        /* No plaintext left behind: whatever was written is zero, the
         * rest untouched. */
        for (size_t i = 0; i < touched; i++)
            if (pt[i] != 0 && pt[i] != 0xEE)
                abort();
        return 0;
    }
    if (n < SEAL_MIN_LEN || pt_len > n - SEAL_MIN_LEN + SEAL_BLOCK - 1 || seal_len(pt_len) != n)
        abort();
    if (seal_encrypt_iv(&k, box + 1, ad_len ? ad : NULL, ad_len, pt, pt_len, again, sizeof again, &n2) != NT_OK)
        abort();
    if (n2 != n || memcmp(again, box, n) != 0)
        abort();
    return 0;
}
