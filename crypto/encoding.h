/* encoding.h - strict base64 (RFC 4648 standard with padding, and URL-safe
 * without padding) and lowercase hex.
 *
 * Decoders reject bad characters, bad or missing padding, non-canonical
 * trailing bits and wrong lengths with NT_ERR_INVALID; every function checks
 * its output capacity (NT_ERR_TOO_BIG). Encoders NUL-terminate. */
#ifndef NATTER_ENCODING_H
#define NATTER_ENCODING_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"

typedef enum { B64_STD = 0, B64_URL = 1 } b64_variant;

/* Characters needed to encode n bytes, plus 1 for the NUL. */
size_t encoding_b64_len(size_t n, b64_variant v);
NT_MUST_USE nt_err encoding_b64_encode(const uint8_t *in, size_t n, b64_variant v, char *out, size_t cap);
NT_MUST_USE nt_err encoding_b64_decode(const char *in, size_t n, b64_variant v, uint8_t *out, size_t cap,
                                       size_t *out_len);
/* The same result as encoding_b64_decode, by table lookup and not in
 * constant time: only for data that is public anyway (ciphertext,
 * signatures, public keys). */
NT_MUST_USE nt_err encoding_b64_decode_public(const char *in, size_t n, b64_variant v, uint8_t *out, size_t cap,
                                              size_t *out_len);

NT_MUST_USE nt_err encoding_hex_encode(const uint8_t *in, size_t n, char *out, size_t cap);
/* Lowercase only (what encoding_hex_encode writes): an upper-case digit,
 * like any other non-hex byte or an odd length, is NT_ERR_INVALID. */
NT_MUST_USE nt_err encoding_hex_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len);

#endif
