/* seal.h - AES-256-CBC + HMAC-SHA256, encrypt-then-MAC.
 *
 * Layout (version 1), documented in api-spec/protocol.md:
 *   version(1) = 0x01 || iv(16) || ciphertext(16*k, PKCS#7) || mac(32)
 *   mac = HMAC-SHA256(mac_key, version || be64(ad_len) || ad || iv || ciphertext)
 * seal_open() checks the MAC in constant time before decrypting and returns
 * NT_ERR_AUTH for every failure (bad MAC, bad padding, bad length, bad
 * version), so it leaks nothing about which check failed. */
#ifndef NATTER_SEAL_H
#define NATTER_SEAL_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"

#define SEAL_VERSION 1
#define SEAL_KEY_LEN 32
#define SEAL_IV_LEN 16
#define SEAL_BLOCK 16
#define SEAL_MAC_LEN 32
#define SEAL_MIN_LEN (1 + SEAL_IV_LEN + SEAL_BLOCK + SEAL_MAC_LEN)
#define SEAL_MAX_PLAIN (1u << 20) /* 1 MiB: larger plaintexts are refused */
#define SEAL_AD_MAX (64u * 1024)  /* associated data cap */
#define SEAL_OVERHEAD_MAX (1 + SEAL_IV_LEN + SEAL_BLOCK + SEAL_MAC_LEN) /* seal_len(n) - n <= this */

typedef struct {
    uint8_t enc[SEAL_KEY_LEN];
    uint8_t mac[SEAL_KEY_LEN];
} seal_key;

/* Sealed size for a plaintext of n bytes: 1 + 16 + 16*(n/16 + 1) + 32. */
size_t seal_len(size_t n);

/* Seal pt under k with associated data ad (may be NULL when ad_len is 0;
 * pt likewise). out needs seal_len(pt_len) bytes and must not overlap pt.
 * Fresh IV from the DRBG. NT_ERR_TOO_BIG if pt_len > SEAL_MAX_PLAIN,
 * ad_len > SEAL_AD_MAX or cap is short; NT_ERR_INVALID for NULL arguments;
 * NT_ERR_CRYPTO if the DRBG or mbedTLS fails. out is zeroed on error. */
NT_MUST_USE nt_err seal_encrypt(const seal_key *k, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                                size_t pt_len, uint8_t *out, size_t cap, size_t *out_len);

/* Same with a caller-supplied IV (tests only). */
NT_MUST_USE nt_err seal_encrypt_iv(const seal_key *k, const uint8_t iv[static SEAL_IV_LEN], const uint8_t *ad,
                                   size_t ad_len, const uint8_t *pt, size_t pt_len, uint8_t *out, size_t cap,
                                   size_t *out_len);

/* Open a sealed box. pt needs in_len - 49 bytes (the ciphertext length;
 * in_len always suffices) and must not overlap in. NT_ERR_AUTH for every
 * problem with the box or the associated data (length, version, MAC,
 * padding: one error, so nothing tells which check failed); the only other
 * errors are caller mistakes that do not depend on the box's contents:
 * NT_ERR_INVALID for NULL arguments and NT_ERR_TOO_BIG if cap is short.
 * The MAC is checked before anything is decrypted. On error pt holds no
 * plaintext: every byte written to it is zeroed. */
NT_MUST_USE nt_err seal_open(const seal_key *k, const uint8_t *ad, size_t ad_len, const uint8_t *in,
                             size_t in_len, uint8_t *pt, size_t cap, size_t *pt_len);

/* Zero a key. seal_key_wipe(NULL) is a no-op. */
void seal_key_wipe(seal_key *k);

/* Raw AES-CBC with PKCS#7 padding and NO authentication: the building block
 * of seal, exposed only so that known-answer tests (Wycheproof
 * aes_cbc_pkcs5) reach the same code. Never use it to protect data.
 * key_len is 16, 24 or 32. The encryptor needs cap >= 16*(n/16 + 1); the
 * decryptor refuses an empty or non-block-multiple ciphertext and bad padding
 * with NT_ERR_AUTH (pt zeroed) and needs cap >= ct_len. */
NT_MUST_USE nt_err seal_raw_cbc_encrypt(const uint8_t *key, size_t key_len, const uint8_t iv[static SEAL_IV_LEN],
                                        const uint8_t *pt, size_t n, uint8_t *out, size_t cap, size_t *out_len);
NT_MUST_USE nt_err seal_raw_cbc_decrypt(const uint8_t *key, size_t key_len, const uint8_t iv[static SEAL_IV_LEN],
                                        const uint8_t *ct, size_t ct_len, uint8_t *pt, size_t cap,
                                        size_t *pt_len);

#endif
