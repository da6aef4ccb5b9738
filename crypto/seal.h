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

typedef struct {
    uint8_t enc[SEAL_KEY_LEN];
    uint8_t mac[SEAL_KEY_LEN];
} seal_key;

/* Sealed size for a plaintext of n bytes. */
size_t seal_len(size_t n);

/* Seal pt under k with associated data ad (may be NULL when ad_len is 0).
 * out needs seal_len(pt_len) bytes. Fresh IV from the DRBG. */
NT_MUST_USE nt_err seal_encrypt(const seal_key *k, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                                size_t pt_len, uint8_t *out, size_t cap, size_t *out_len);

/* Same with a caller-supplied IV (tests only). */
NT_MUST_USE nt_err seal_encrypt_iv(const seal_key *k, const uint8_t iv[static SEAL_IV_LEN], const uint8_t *ad,
                                   size_t ad_len, const uint8_t *pt, size_t pt_len, uint8_t *out, size_t cap,
                                   size_t *out_len);

/* Open a sealed box. pt needs at least in_len bytes. NT_ERR_AUTH on any
 * failure; pt is zeroed then. */
NT_MUST_USE nt_err seal_open(const seal_key *k, const uint8_t *ad, size_t ad_len, const uint8_t *in,
                             size_t in_len, uint8_t *pt, size_t cap, size_t *pt_len);

/* Zero a key. */
void seal_key_wipe(seal_key *k);

#endif
