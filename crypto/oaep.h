/* oaep.h - RSAES-OAEP with SHA-256 and MGF1-SHA256 (key transport). */
#ifndef NATTER_OAEP_H
#define NATTER_OAEP_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"
#include "identity.h"

/* Most plaintext bytes for a key of `bits`: bits/8 - 2*32 - 2. */
size_t oaep_max_plain(unsigned bits);

/* Encrypt pt to id's public key with optional label; ct gets bits/8 bytes. */
NT_MUST_USE nt_err oaep_encrypt(const identity *id, const uint8_t *label, size_t label_len,
                                const uint8_t *pt, size_t pt_len, uint8_t *ct, size_t cap, size_t *ct_len);

/* Decrypt with id's private key. NT_ERR_AUTH on any decryption failure. */
NT_MUST_USE nt_err oaep_decrypt(const identity *id, const uint8_t *label, size_t label_len,
                                const uint8_t *ct, size_t ct_len, uint8_t *pt, size_t cap, size_t *pt_len);

#endif
