/* hello.h - how natterd proves to its own client that it holds the client
 * API token, before the client sends the token (GET /v1/client/hello).
 *
 * The client sends a fresh random nonce; the node answers its node id and
 *   proof = HMAC-SHA256(key = the token as written in <data-dir>/api-token,
 *                       HELLO_DOMAIN || 0x00 || nonce (raw bytes) || node id (hex))
 * in lowercase hex. Only a listener that knows the token can answer, so a
 * stale port file, the default port or a listener that took the port after
 * natterd stopped never sees the token. */
#ifndef NATTER_HELLO_H
#define NATTER_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define HELLO_DOMAIN "natter client hello v1"
#define HELLO_NONCE_LEN 32                       /* bytes */
#define HELLO_NONCE_HEX_LEN (2 * HELLO_NONCE_LEN)
#define HELLO_PROOF_LEN 32                       /* HMAC-SHA256 */
#define HELLO_PROOF_HEX_LEN (2 * HELLO_PROOF_LEN)
#define HELLO_NODE_ID_MAX 128                    /* hex characters */

/* The proof for token, nonce and node_id into out (lowercase hex + NUL).
 * NT_ERR_INVALID for an empty token or a node id over HELLO_NODE_ID_MAX. */
NT_MUST_USE nt_err hello_proof(const char *token, const uint8_t nonce[static HELLO_NONCE_LEN],
                               const char *node_id, char out[static HELLO_PROOF_HEX_LEN + 1]);

/* proof (hex, any case) is the right one for token, nonce and node_id;
 * compared in constant time. */
bool hello_check(const char *token, const uint8_t nonce[static HELLO_NONCE_LEN],
                 const char *node_id, const char *proof);

#endif
