/* sign.h - RSASSA-PSS-SHA256 signatures over domain-separated messages.
 *
 * sign_create() signs SHA-256("natter/v1/sig/" || label || 0x00 || msg),
 * where label is fixed per sign_domain, so a signature made for one purpose
 * never verifies for another. Salt length 32, MGF1-SHA256, the DRBG is
 * always passed (blinding). */
#ifndef NATTER_SIGN_H
#define NATTER_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"
#include "identity.h"

#define SIGN_MAX_LEN 512 /* RSA-4096 */

typedef enum {
    SIGN_HANDSHAKE = 1,      /* "handshake" */
    SIGN_HANDSHAKE_REPLY,    /* "handshake-reply" */
    SIGN_MESSAGE,            /* "message" */
    SIGN_ANNOUNCE,           /* "announce" */
    SIGN_ROOM_KEY,           /* "room-key" */
} sign_domain;

/* Sign msg for domain d with id's private key; sig gets identity_bits/8
 * bytes (cap must be at least that), *siglen set. NT_ERR_INVALID for a
 * public-only identity or an unknown domain, NT_ERR_TOO_BIG if cap is
 * short. Safe to call from several threads on one identity. */
NT_MUST_USE nt_err sign_create(const identity *id, sign_domain d, const uint8_t *msg, size_t len,
                               uint8_t *sig, size_t cap, size_t *siglen);

/* NT_OK if sig is a valid PSS signature over msg for domain d; NT_ERR_AUTH
 * otherwise (one error for every kind of failure, including a signature
 * length other than the key's, NULL arguments and an unknown domain). */
NT_MUST_USE nt_err sign_verify(const identity *id, sign_domain d, const uint8_t *msg, size_t len,
                               const uint8_t *sig, size_t siglen);

/* Raw primitives, no domain (for interoperability and test vectors):
 * verify a PSS (salt 32, MGF1-SHA256) or PKCS#1 v1.5 signature over the
 * SHA-256 of msg. NT_ERR_AUTH on any failure. PSS takes only salt length
 * 32; v1.5 compares the whole re-encoded DigestInfo block. */
NT_MUST_USE nt_err sign_verify_pss_raw(const identity *id, const uint8_t *msg, size_t len,
                                       const uint8_t *sig, size_t siglen);
NT_MUST_USE nt_err sign_verify_pkcs1v15_raw(const identity *id, const uint8_t *msg, size_t len,
                                            const uint8_t *sig, size_t siglen);

#endif
