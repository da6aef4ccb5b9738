/* handshake.h - the mutual handshake, both sides, without I/O
 * (api-spec/protocol.md, "Handshake" and "Key schedule").
 *
 * The serving side turns a request JSON into a reply JSON and a session in
 * the session table; the requestor side makes a request and checks the
 * reply (signature first, against the pinned key of the id it meant to
 * reach) before it derives anything. HTTP lives elsewhere (server/hs_http,
 * server/peerlink). The clock is passed in. */
#ifndef NATTER_HANDSHAKE_H
#define NATTER_HANDSHAKE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "common/err.h"
#include "crypto/ecdh.h"
#include "crypto/identity.h"
#include "server/channel/keysched.h"
#include "server/channel/session.h"
#include "server/channel/transcript.h"

/* Every way the serving node refuses a handshake; each has its own
 * error.code and HTTP status (handshake_code, handshake_http_status). */
typedef enum {
    HS_OK = 0,
    HS_E_MALFORMED,        /* 400 malformed */
    HS_E_VERSION,          /* 400 unsupported_version */
    HS_E_MODE,             /* 400 unsupported_mode */
    HS_E_WRONG_RESPONDER,  /* 421 wrong_responder */
    HS_E_ID_KEY,           /* 401 id_key_mismatch */
    HS_E_SELF,             /* 400 self_handshake */
    HS_E_TIMESTAMP,        /* 401 timestamp_out_of_window */
    HS_E_SIGNATURE,        /* 401 bad_signature */
    HS_E_KEY_MISMATCH,     /* 403 key_mismatch (id pinned to another key) */
    HS_E_NONCE_REPLAY,     /* 409 nonce_replay */
    HS_E_TOO_MANY,         /* 429 too_many_sessions */
    HS_E_BUSY,             /* 503 busy */
    HS_E_KEY_SHARE,        /* 400 bad_key_share */
    HS_E_INTERNAL,         /* 500 internal */
    HS_E__COUNT
} hs_status;

const char *handshake_code(hs_status st);    /* "malformed", ... */
const char *handshake_message(hs_status st); /* one human sentence */
int handshake_http_status(hs_status st);

/* ---- serving side ---- */

typedef struct {
    const identity *self; /* with the private key */
    const char *name;     /* our display name */
    session_table *sessions;
    int64_t now;
} hs_server;

/* What the serving node learned about the requestor. peer_key is owned:
 * handshake_accepted_clear(). */
typedef struct {
    uint8_t peer_id[IDENTITY_ID_LEN];
    identity *peer_key;
    char name[HS_NAME_MAX + 1];
    uint16_t port;
    uint8_t session_id[HS_SESSION_ID_LEN];
    uint8_t mode, curve;
} hs_accepted;

/* Check req (borrowed) and on HS_OK create a session and set *reply (owned
 * by the caller) and *acc. On any refusal nothing changed (no nonce, no
 * session) and *reply is NULL. */
hs_status handshake_serve(const hs_server *srv, const json_t *req, json_t **reply, hs_accepted *acc);
void handshake_accepted_clear(hs_accepted *acc);

/* ---- requestor side ---- */

typedef struct hs_pending hs_pending;

/* An outbound session: what the requestor keeps. Holds keys: wipe with
 * handshake_session_wipe(). */
typedef struct {
    uint8_t session_id[HS_SESSION_ID_LEN];
    seal_key c2s, s2c;
    uint8_t confirm[KEYSCHED_CONFIRM_LEN];
    uint8_t mode, curve;
    int64_t established;   /* requestor's clock */
    uint64_t idle_timeout; /* from the reply */
    int64_t expires_at;    /* serving node's clock (from the reply) */
    int64_t server_time;   /* serving node's clock when it answered */
    char peer_name[HS_NAME_MAX + 1];
} hs_session;

/* Make a request from self (with private key) to responder_id. mode is
 * HS_MODE_ECDH (curve ECDH_X25519 or ECDH_P256) or HS_MODE_RSA (curve
 * ignored). *pending and *req are owned by the caller. */
NT_MUST_USE nt_err handshake_start(const identity *self, const char *name, uint16_t port,
                                   const uint8_t responder_id[static IDENTITY_ID_LEN], uint8_t mode,
                                   ecdh_curve curve, int64_t now, hs_pending **pending, json_t **req);

/* Check the reply against responder (the pinned public key of the id we
 * meant to reach): NT_ERR_INVALID malformed or not matching our request,
 * NT_ERR_AUTH bad signature, wrong id or auth key that does not open. Only
 * then are keys derived into *out. The pending state's secrets are zeroed
 * either way; free it with handshake_pending_free(). */
NT_MUST_USE nt_err handshake_finish(hs_pending *pending, const identity *responder, const json_t *reply,
                                    int64_t now, hs_session *out);

void handshake_pending_free(hs_pending *p);
void handshake_session_wipe(hs_session *s);

/* Recompute and replace req's "signature" with one by signer over the
 * request's current fields (tests and attack tools). */
NT_MUST_USE nt_err handshake_resign(const identity *signer, json_t *req);

#endif
