/* ecdh.h - ephemeral key agreement: X25519 (default) and P-256.
 *
 * Public keys are fixed-length byte strings: X25519 32 bytes (RFC 7748
 * little-endian u-coordinate), P-256 65 bytes (uncompressed SEC1 point).
 * The shared secret is 32 bytes (X25519 per RFC 7748; P-256 the big-endian
 * x-coordinate). All-zero X25519 outputs and invalid P-256 points are
 * refused with NT_ERR_AUTH. */
#ifndef NATTER_ECDH_H
#define NATTER_ECDH_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"

#define ECDH_X25519_PUB_LEN 32
#define ECDH_P256_PUB_LEN 65
#define ECDH_PUB_MAX 65
#define ECDH_SECRET_LEN 32

typedef enum { ECDH_X25519 = 1, ECDH_P256 = 2 } ecdh_curve;

typedef struct ecdh_key ecdh_key;

size_t ecdh_public_len(ecdh_curve c);
/* "x25519" / "p256"; NULL for an unknown curve. */
const char *ecdh_curve_name(ecdh_curve c);
/* Parse a curve name; NT_ERR_INVALID if unknown. */
NT_MUST_USE nt_err ecdh_curve_parse(const char *name, ecdh_curve *out);

/* Fresh ephemeral key pair from the DRBG (rng_init() first). *out is owned
 * by the caller: ecdh_free() it as soon as the secret is derived. */
NT_MUST_USE nt_err ecdh_generate(ecdh_key **out, ecdh_curve c);
/* Key from a given private scalar (tests): X25519 32 bytes LE as in
 * RFC 7748 (clamped internally), P-256 32 bytes big-endian. */
NT_MUST_USE nt_err ecdh_from_private(ecdh_key **out, ecdh_curve c, const uint8_t *priv, size_t len);

/* Our public key into out (ecdh_public_len bytes). */
NT_MUST_USE nt_err ecdh_public(const ecdh_key *k, uint8_t *out, size_t cap, size_t *len);

/* Shared secret with the peer's public key (exactly ecdh_public_len bytes).
 * NT_ERR_AUTH for a peer key of the wrong length or encoding, off the curve,
 * of low order, or giving an all-zero X25519 secret; out is zeroed on every
 * error. k is only read, so one key may be used from several threads. The
 * DRBG is passed to mbedTLS (blinding); rng_init() must have run. */
NT_MUST_USE nt_err ecdh_shared(const ecdh_key *k, const uint8_t *peer, size_t peer_len,
                               uint8_t out[static ECDH_SECRET_LEN]);

/* Zero and free; ecdh_free(NULL) is a no-op. */
void ecdh_free(ecdh_key *k);

#endif
