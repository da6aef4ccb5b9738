/* peerlink.h - the requestor side of the peer channel: a libcurl client
 * that opens sessions to other nodes (GET /v1/node, handshake, reply
 * signature checked against the pinned key before anything is used) and
 * sends sealed requests over them.
 *
 * Sessions are kept per peer and reused; connections are reused through a
 * shared libcurl connection cache. A session is re-opened by itself when it
 * expired (idle or absolute, as the serving node announced) or when the
 * serving node says it does not know it (it restarted): the request is then
 * sent again once if it is idempotent (peer_route_resendable: that answer
 * is not authenticated, so the request may have been processed).
 *
 * A session is opened at the peer's newest address, or when nothing (or
 * another node) answers there at its other kept addresses in turn; its
 * requests go where it was opened, and one that cannot connect there drops
 * it (peerlink_session_handshake_any).
 *
 * Thread-safe: any handler or service thread may call these. Calls block
 * (up to timeout_ms, plus up to timeout_ms more for a handshake when one
 * is needed, however many addresses it tries).
 *
 * Parts: peerlink.c (these calls, the sealed request path),
 * peerlink_session.{c,h} (a session towards one peer and the handshake that
 * opens it), peerlink_wire.{c,h} (the libcurl transport). */
#ifndef NATTER_PEERLINK_H
#define NATTER_PEERLINK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "crypto/identity.h"
#include "server/core/node.h"
#include "server/channel/transcript.h"

#define PEERLINK_RESPONSE_MAX (4u << 20) /* bytes of a peer's HTTP answer */
#define PEERLINK_DEFAULT_TIMEOUT_MS 10000
#define PEERLINK_ERR_MAX 160

/* Send a sealed request to peer_id (a known peer: its address and pinned
 * key come from the peer table) and wait for its sealed answer.
 *   method: "GET", "POST", "PUT" or "DELETE"; path: "/v1/peer/...", may
 *     carry a query ("?after=5"), which travels sealed.
 *   req: the JSON body (borrowed), or NULL for none.
 *   On NT_OK: *status is the peer's status (any, 2xx or an application
 *     error such as 404/403) and *reply its JSON answer (owned by the
 *     caller; never NULL), both authenticated.
 *   Errors: NT_ERR_NOT_FOUND unknown peer (or the path does not exist
 *     there: *status 404/405), NT_ERR_STATE no address known, NT_ERR_NET /
 *     NT_ERR_TIMEOUT transport, NT_ERR_AUTH handshake or answer did not
 *     authenticate (wrong node, tampered, or the peer refused the
 *     handshake), NT_ERR_BUSY peer refused a new session (429/503),
 *     NT_ERR_REPLAY peer refused the request as replayed, NT_ERR_EXPIRED the
 *     peer did not know our session and the request is not idempotent, so
 *     it was not sent again (the next call opens a new session).
 *     *reply is NULL and *status is the HTTP status seen (0 if none). */
NT_MUST_USE nt_err peerlink_call(node *n, const uint8_t peer_id[static IDENTITY_ID_LEN], const char *method,
                                 const char *path, json_t *req, json_t **reply, int *status, int timeout_ms);

/* One request of a batch. Fill the inputs; the outputs are set by
 * peerlink_call_many (reply owned by the caller, as in peerlink_call). */
typedef struct {
    const uint8_t *peer_id; /* in: IDENTITY_ID_LEN bytes */
    const char *method;     /* in */
    const char *path;       /* in */
    json_t *req;            /* in, borrowed, may be NULL */
    nt_err rc;              /* out */
    int status;             /* out */
    json_t *reply;          /* out */
} peerlink_op;

/* Run ops concurrently (libcurl multi) and wait for all, each within
 * timeout_ms. Returns NT_OK when the batch ran (look at each op's rc). */
NT_MUST_USE nt_err peerlink_call_many(node *n, peerlink_op *ops, size_t n_ops, int timeout_ms);

/* Session state towards one peer, for display. */
typedef struct {
    bool up;                                   /* a session is open */
    char session[2 * HS_SESSION_ID_LEN + 1];   /* hex, "" when down */
    char mode[16];                             /* "ecdh-x25519", "ecdh-p256", "rsa" */
    int64_t established;                       /* our clock */
    int64_t expires_at;                        /* our clock (absolute expiry) */
    int64_t idle_expires_at;                   /* our clock */
    uint64_t requests;                         /* sealed requests sent on it */
    bool confirmed;                            /* the peer answered one sealed request */
    int64_t last_ok;                           /* last authenticated answer (0: never) */
    char last_error[PEERLINK_ERR_MAX];         /* last failure towards this peer, "" if none */
} peerlink_state;

/* Open a fresh session to peer_id now (dropping any old one) and confirm it
 * with a sealed ping. mode: "ecdh", "ecdh-p256", "rsa" or NULL for
 * --handshake-mode. *st (may be NULL) gets the new state. */
NT_MUST_USE nt_err peerlink_connect(node *n, const uint8_t peer_id[static IDENTITY_ID_LEN], const char *mode,
                                    peerlink_state *st);

/* The state towards peer_id (st->up false when no session). */
void peerlink_state_get(node *n, const uint8_t peer_id[static IDENTITY_ID_LEN], peerlink_state *st);

/* Drop (and zero) our session to peer_id, if any. */
void peerlink_forget(node *n, const uint8_t peer_id[static IDENTITY_ID_LEN]);

/* GET http://address/v1/node: the node's public key (checked: it hashes to
 * the node id it claims, and to expected_id when that is not NULL) and its
 * name. *pub owned by the caller. NT_ERR_AUTH when the ids differ. */
NT_MUST_USE nt_err peerlink_fetch_node(node *n, const char *address, const uint8_t *expected_id, identity **pub,
                                       char name[static HS_NAME_MAX + 1], int timeout_ms);

/* Service (server/core/services.c). */
nt_err peerlink_start(node *nd, char err[static NODE_ERR_MAX]);
void peerlink_stop(node *nd);

#endif
