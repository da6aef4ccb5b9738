/* keysched.h - session keys from a handshake (api-spec/protocol.md,
 * "Key schedule"): HKDF-SHA256 over the ECDH output (or the rsa-mode
 * secret), salted with both nonces, bound to TH = SHA-256(T_core). */
#ifndef NATTER_KEYSCHED_H
#define NATTER_KEYSCHED_H

#include <stddef.h>
#include <stdint.h>
#include "common/err.h"
#include "crypto/kdf.h"
#include "crypto/seal.h"
#include "server/channel/transcript.h"

#define KEYSCHED_IKM_LEN 32
#define KEYSCHED_TH_LEN 32
#define KEYSCHED_CONFIRM_LEN 32
#define KEYSCHED_AUTH_AD_MAX 64

typedef struct {
    seal_key c2s; /* requests: requestor -> serving node */
    seal_key s2c; /* replies: serving node -> requestor */
    seal_key ak;  /* seals the authentication key in the handshake reply */
} session_keys;

/* TH = SHA-256(t[0..n)). */
NT_MUST_USE nt_err keysched_hash(const uint8_t *t, size_t n, uint8_t th[static KEYSCHED_TH_LEN]);

/* Derive every session key. On error *out is zeroed. */
NT_MUST_USE nt_err keysched_derive(const uint8_t ikm[static KEYSCHED_IKM_LEN],
                                   const uint8_t nonce_c[static HS_NONCE_LEN],
                                   const uint8_t nonce_s[static HS_NONCE_LEN],
                                   const uint8_t th[static KEYSCHED_TH_LEN], session_keys *out);

/* confirm = HMAC-SHA256(A, "natter/v1/key-confirm" || 0 || SID || TH). */
NT_MUST_USE nt_err keysched_confirm(const uint8_t auth_key[static HS_AUTH_KEY_LEN],
                                    const uint8_t sid[static HS_SESSION_ID_LEN],
                                    const uint8_t th[static KEYSCHED_TH_LEN],
                                    uint8_t out[static KEYSCHED_CONFIRM_LEN]);

/* AD_ak = "natter/v1/auth-key" || 0 || SID into out; returns its length. */
size_t keysched_auth_ad(const uint8_t sid[static HS_SESSION_ID_LEN], uint8_t out[static KEYSCHED_AUTH_AD_MAX]);

void keysched_wipe(session_keys *k);

#endif
