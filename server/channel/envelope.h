/* envelope.h - the sealed channel's message format (api-spec/protocol.md,
 * "Sealed channel"): JSON {"v","session","seq","box"[,"confirm"|"status"]}
 * where box = seal(key, AD, plaintext) and AD binds direction, session,
 * sequence number, method, path, query and (in replies) the status.
 *
 * Pure: no I/O, no global state besides the DRBG used by seal. */
#ifndef NATTER_ENVELOPE_H
#define NATTER_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"
#include "crypto/seal.h"
#include "server/channel/keysched.h"
#include "server/channel/transcript.h"

#define ENVELOPE_VERSION 1
#define ENVELOPE_METHOD_MAX 16
#define ENVELOPE_PATH_MAX 512
#define ENVELOPE_QUERY_MAX 1024
#define ENVELOPE_AD_MAX                                                                                  \
    (32 + HS_SESSION_ID_LEN + 8 + 2 + ENVELOPE_METHOD_MAX + 2 + ENVELOPE_PATH_MAX + 2 + ENVELOPE_QUERY_MAX + 2)
#define ENVELOPE_MAX_PLAIN SEAL_MAX_PLAIN
#define ENVELOPE_MAX_JSON (2 * SEAL_MAX_PLAIN) /* base64 + framing, generous */

typedef enum { ENVELOPE_C2S = 1, ENVELOPE_S2C = 2 } envelope_dir;

/* A parsed (not yet opened) envelope. box is owned: envelope_clear(). */
typedef struct {
    uint8_t session_id[HS_SESSION_ID_LEN];
    uint64_t seq;
    char query[ENVELOPE_QUERY_MAX + 1]; /* requests only; "" when absent */
    int status;        /* replies only; 0 in requests */
    bool has_confirm;  /* requests only */
    uint8_t confirm[KEYSCHED_CONFIRM_LEN];
    uint8_t *box;
    size_t box_len;
} envelope;

/* AD for one message into out; *len set. query may be NULL (= ""). 
 * NT_ERR_INVALID for a method, path or query over its cap or a status
 * outside 0..999. */
NT_MUST_USE nt_err envelope_ad(envelope_dir dir, const uint8_t sid[static HS_SESSION_ID_LEN], uint64_t seq,
                               const char *method, const char *path, const char *query, int status,
                               uint8_t out[static ENVELOPE_AD_MAX], size_t *len);

/* Seal pt (may be NULL when pt_len is 0) and write the envelope's JSON
 * text into *json (malloc'd, NUL-terminated, caller frees). query (may be
 * NULL) is the request's query string without '?': a request carries it in
 * the envelope, a reply only binds it in the AD. status is the reply
 * status (ignored and 0 for requests); confirm may be NULL. */
NT_MUST_USE nt_err envelope_seal(const seal_key *k, envelope_dir dir, const uint8_t sid[static HS_SESSION_ID_LEN],
                                 uint64_t seq, const char *method, const char *path, const char *query, int status,
                                 const uint8_t *confirm, const uint8_t *pt, size_t pt_len, char **json);

/* Parse the JSON text of an envelope in direction dir. NT_ERR_INVALID for
 * any shape error (missing field, wrong type, bad hex/base64, upper-case
 * hex, seq out of range, unknown member, version != 1, a box of a length
 * no seal has: shorter than SEAL_MIN_LEN or not whole blocks). On error *e
 * is cleared. */
NT_MUST_USE nt_err envelope_parse(const char *text, size_t len, envelope_dir dir, envelope *e);

/* Open e's box under k (MAC checked first). For a request the query is
 * e->query; for a reply pass the request's query (may be NULL). *pt is
 * malloc'd with a NUL after the *pt_len bytes (caller zeroes and frees).
 * NT_ERR_AUTH on any failure. */
NT_MUST_USE nt_err envelope_open(const seal_key *k, const envelope *e, envelope_dir dir, const char *method,
                                 const char *path, const char *query, uint8_t **pt, size_t *pt_len);

/* Free the box and zero e. NULL-safe. */
void envelope_clear(envelope *e);

#endif
