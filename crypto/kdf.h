/* kdf.h - HKDF-SHA256 (RFC 5869) and labelled multi-key derivation. */
#ifndef NATTER_KDF_H
#define NATTER_KDF_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"

#define KDF_HASH_LEN 32
#define KDF_MAX_OUT (255 * KDF_HASH_LEN)

/* Plain HKDF: extract(salt, ikm) then expand(info) into out[0..out_len). */
NT_MUST_USE nt_err kdf_hkdf(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                            const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

/* One named output of kdf_derive(). */
typedef struct {
    const char *label; /* e.g. "c2s enc"; NUL-terminated ASCII */
    uint8_t *out;
    size_t len;
} kdf_output;

/* PRK = HKDF-Extract(salt, ikm), then for each output
 * out = HKDF-Expand(PRK, "natter/v1/" || label || 0x00 || context, len).
 * The PRK is zeroed before return; on error every output is zeroed. */
NT_MUST_USE nt_err kdf_derive(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                              const uint8_t *context, size_t context_len, kdf_output *outs, size_t n);

#endif
