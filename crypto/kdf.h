/* kdf.h - HKDF-SHA256 (RFC 5869) and labelled multi-key derivation. */
#ifndef NATTER_KDF_H
#define NATTER_KDF_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"

#define KDF_HASH_LEN 32
#define KDF_MAX_OUT (255 * KDF_HASH_LEN) /* RFC 5869 limit per expand */
#define KDF_LABEL_MAX 64                 /* bytes of a kdf_output label */
#define KDF_CONTEXT_MAX 1024             /* bytes of kdf_derive context */
#define KDF_MAX_OUTPUTS 16               /* outputs per kdf_derive call */
#define KDF_INPUT_MAX (64 * 1024)        /* salt, ikm and info each */

/* Plain HKDF: extract(salt, ikm) then expand(info) into out[0..out_len).
 * salt may be NULL when salt_len is 0 (RFC 5869: a zero salt), likewise
 * ikm and info. NT_ERR_TOO_BIG if out_len > KDF_MAX_OUT or an input is over
 * KDF_INPUT_MAX; NT_ERR_INVALID for a NULL pointer with a non-zero length.
 * On error out is zeroed. */
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
 * Labels are non-empty, at most KDF_LABEL_MAX bytes and distinct within a
 * call (a repeated label would give two roles the same key): NT_ERR_INVALID
 * otherwise, as for 0 or more than KDF_MAX_OUTPUTS outputs or an output with
 * len 0. context may be NULL when context_len is 0.
 * The PRK is zeroed before return; on error every output is zeroed. */
NT_MUST_USE nt_err kdf_derive(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                              const uint8_t *context, size_t context_len, kdf_output *outs, size_t n);

#endif
