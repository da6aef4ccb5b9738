/* transcript.h - the handshake's messages as bytes (api-spec/protocol.md,
 * "Handshake"): T_req (signed by the requestor), T_core (hashed into the key
 * schedule) and T_reply (signed by the serving node).
 *
 * Pure functions: no I/O, no allocation; the structs borrow their byte
 * fields. Every variable field is length-prefixed (be16), so no two
 * different messages encode to the same bytes. */
#ifndef NATTER_TRANSCRIPT_H
#define NATTER_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>
#include "common/err.h"
#include "crypto/identity.h"

#define HS_VERSION 1
#define HS_NONCE_LEN 32
#define HS_SESSION_ID_LEN 16
#define HS_SECRET_LEN 32   /* rsa mode session secret S */
#define HS_AUTH_KEY_LEN 32 /* authentication key A */
#define HS_NAME_MAX 100    /* bytes of UTF-8 */
#define HS_KX_MAX 512      /* ephemeral key or OAEP ciphertext (RSA-4096) */
#define HS_SIG_MAX 512
#define HS_AUTH_SEALED_LEN 97 /* seal_len(32) */
#define HS_TIME_WINDOW 300 /* seconds either side */
#define TRANSCRIPT_MAX 4096
#define TRANSCRIPT_MAGIC "natter-handshake-v1"

typedef enum { HS_MODE_ECDH = 1, HS_MODE_RSA = 2 } hs_mode;

/* The signed part of a handshake request. */
typedef struct {
    uint8_t version;
    uint8_t mode;  /* hs_mode */
    uint8_t curve; /* ecdh_curve, 0 in rsa mode */
    const uint8_t *initiator_key; size_t initiator_key_len; /* DER SPKI */
    uint8_t initiator_id[IDENTITY_ID_LEN];
    uint8_t responder_id[IDENTITY_ID_LEN];
    const uint8_t *ephemeral; size_t ephemeral_len; /* 0 in rsa mode */
    uint8_t nonce[HS_NONCE_LEN];
    int64_t timestamp;
    const char *name; /* NUL-terminated, <= HS_NAME_MAX bytes */
    uint16_t port;
} hs_request;

/* The serving node's reply fields. */
typedef struct {
    uint8_t session_id[HS_SESSION_ID_LEN];
    const uint8_t *kx; size_t kx_len; /* ephemeral (ecdh) or OAEP ciphertext (rsa) */
    uint8_t nonce[HS_NONCE_LEN];
    int64_t timestamp;
    uint64_t idle_timeout;
    int64_t expires_at;
    const char *name;
    const uint8_t *auth_sealed; size_t auth_sealed_len;
} hs_reply;

/* T_req into out (cap bytes); *len set. NT_ERR_TOO_BIG if it does not fit
 * or a field exceeds its cap. */
NT_MUST_USE nt_err transcript_request(const hs_request *rq, uint8_t *out, size_t cap, size_t *len);

/* T_core = T_req || lp(sig) || reply fields except the sealed auth key. */
NT_MUST_USE nt_err transcript_core(const hs_request *rq, const uint8_t *sig, size_t sig_len,
                                   const hs_reply *rp, uint8_t *out, size_t cap, size_t *len);

/* T_reply = T_core || lp(auth_sealed). */
NT_MUST_USE nt_err transcript_reply(const hs_request *rq, const uint8_t *sig, size_t sig_len,
                                    const hs_reply *rp, uint8_t *out, size_t cap, size_t *len);

/* "ecdh"/"rsa"; NULL for anything else. */
const char *transcript_mode_name(uint8_t mode);
/* 0 for an unknown name. */
uint8_t transcript_mode_parse(const char *name);

#endif
