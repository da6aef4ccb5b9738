/* oaep.h - RSAES-OAEP with SHA-256 and MGF1-SHA256 (key transport). */
#ifndef NATTER_OAEP_H
#define NATTER_OAEP_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"
#include "identity.h"

/* Most plaintext bytes for a key of `bits`: bits/8 - 2*32 - 2. */
size_t oaep_max_plain(unsigned bits);

/* Encrypt pt to id's public key with optional label (NULL if label_len is
 * 0); ct gets bits/8 bytes, *ct_len set. NT_ERR_TOO_BIG if pt_len is over
 * oaep_max_plain() or cap is short. */
NT_MUST_USE nt_err oaep_encrypt(const identity *id, const uint8_t *label, size_t label_len,
                                const uint8_t *pt, size_t pt_len, uint8_t *ct, size_t cap, size_t *ct_len);

/* Decrypt with id's private key; the label must match the one used to
 * encrypt. NT_ERR_AUTH on any decryption failure (wrong length, wrong key,
 * wrong label, bad padding: one error); NT_ERR_TOO_BIG if the valid
 * plaintext is longer than cap; NT_ERR_INVALID for a public-only identity.
 * Safe to call from several threads on one identity. The caller zeroes pt. */
NT_MUST_USE nt_err oaep_decrypt(const identity *id, const uint8_t *label, size_t label_len,
                                const uint8_t *ct, size_t ct_len, uint8_t *pt, size_t cap, size_t *pt_len);

#endif
