/* hostile.h - the runner behind test_hostile_input: one natterd,
 * raw keep-alive sockets to both listeners, a judge for each answer and a
 * state check after each batch.
 *
 * A case is a request (built here or given as raw bytes) and an `expect`:
 * the statuses that are right (none: any documented error status), and
 * optionally the error code, text the message must hold, the Allow set.
 * Every answer must also be exactly one response with a matching
 * Content-Length and a JSON error body (see hx_judge). Failures are
 * collected, not aborted on, and listed by hx_report. */
#ifndef NATTER_HOSTILE_H
#define NATTER_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "harness.h"
#include "harness_raw.h"
#include "server/channel/handshake.h"

#define HX_ST_MAX 6
#define HX_IO_MS 4000

enum {
    X_MHD = 1u << 0,    /* libmicrohttpd may answer by itself: then any body, connection closed */
    X_EDGE = 1u << 1,   /* the HTTP-edge work makes this pass (listed apart) */
    X_SEALED = 1u << 2, /* a sealed answer: opened with the live session, the error inside */
    X_SILENT = 1u << 3, /* libmicrohttpd may drop it without an answer (noted in the report) */
};

typedef struct expect {
    int st[HX_ST_MAX];   /* right statuses, 0-terminated; none: any documented error */
    const char *code;    /* error.code or NULL */
    const char *msg_has; /* text the message must contain or NULL */
    const char *allow;   /* Allow, compared as a set, or NULL */
    unsigned flags;
    int timeout_ms;      /* per read; 0: HX_IO_MS */
} expect;

#define ST(...) ((expect){.st = {__VA_ARGS__}})
#define STC(c, ...) ((expect){.st = {__VA_ARGS__}, .code = (c)})
#define STF(f, ...) ((expect){.st = {__VA_ARGS__}, .flags = (f)})

typedef struct hx {
    harness_node n;
    raw_conn conn[2];            /* [0] peer API, [1] client API */
    identity *me, *srv_key;      /* the test's own identity (a known peer of the node) */
    uint8_t srv_id[IDENTITY_ID_LEN];
    char me_hex[IDENTITY_ID_HEX_LEN + 1];
    char room[33];               /* a room the node hosts */
    char bearer[128];            /* "Bearer <token>" */
    hs_session s;                /* a live, key-confirmed session */
    uint64_t seq;                /* last seq used on it */
    json_t *hs_req;              /* the handshake request that opened it (replayed later) */
    json_t *state;               /* peers, rooms, name: what no case may change */
    const char *batch;
    char method[16], path[1024]; /* of the sealed case being judged */
    char prev[160];
    int cases, fails, edge_cases, edge_fails, mhd_cases;
    char *log, *mhd_log;
    size_t log_len, mhd_len;
    bool edge_pending, verbose;
} hx;

/* Start the node, make a room, handshake and confirm a session as `me`,
 * take the state. Aborts (ck) on failure. */
void hx_setup(hx *h, identity *me);
void hx_teardown(hx *h);

/* Start a batch (name for the report) / end it: health 200 and state
 * unchanged (a change is an [http-edge] failure when edge). */
void hx_batch(hx *h, const char *name);
void hx_batch_end(hx *h, bool edge);

/* Send raw bytes to a listener and judge the answer; returns the status
 * (0 when none came back). */
int hx_raw(hx *h, harness_api api, const char *label, const void *req, size_t len, expect x);
/* Build and send a request: "METHOD target HTTP/1.1", Host, auth (the
 * whole Authorization value, or NULL), headers (extra lines each ending in
 * CRLF, or NULL), and body when not NULL (with Content-Type and, unless
 * headers set Content-Length or Transfer-Encoding, Content-Length). */
int hx_send(hx *h, harness_api api, const char *label, const char *method, const char *target, const char *auth,
             const char *headers, const char *body, size_t blen, expect x);
/* hx_send with the bearer token on the client API, none on the peer API;
 * label is made from method and target. */
void hx_call(hx *h, harness_api api, const char *method, const char *target, const char *body, size_t blen,
             expect x);
/* "{peer}", "{room}" and "{xroom}" (a room nobody has) in pattern replaced
 * by the test's ids. */
void hx_expand(const hx *h, const char *pattern, char *out, size_t cap);

/* A sealed request on the live session (next seq, confirm if asked) with
 * plaintext pt; the sealed answer is opened and judged (X_SEALED). */
void hx_sealed(hx *h, const char *label, const char *method, const char *path, const char *pt, size_t pt_len,
               expect x);
/* An envelope (JSON text, malloc'd) for the live session; seq 0 = next. */
char *hx_envelope(hx *h, const char *method, const char *path, uint64_t seq, const char *pt, size_t pt_len);

/* Stop the node (it must exit 0: under sanitizers leaks show there), then
 * print the failures and a summary to stderr. */
void hx_report(hx *h);

/* ---- the corpus (hostile_corpus.c) ---- */

/* Ways to spoil an id segment of a path: name, the segment (in buf), the
 * status it must get (0: 400 or 404) and flags. Returns how many. */
#define HX_SEG_TRICKS_MAX 24
typedef struct {
    const char *name, *seg;
    int want;
    unsigned flags;
} hx_seg_trick;
size_t hx_seg_tricks(const char *good, hx_seg_trick t[static HX_SEG_TRICKS_MAX], char *buf, size_t cap);

/* Bodies no route may accept: not JSON, not an object, or ambiguous
 * (truncated, trailing garbage, 10k-deep nesting, huge numbers, duplicate
 * keys, NUL, invalid UTF-8, lone surrogates, BOM...). Texts are owned:
 * hx_blobs_free. Returns how many. */
#define HX_BLOBS_MAX 48
typedef struct {
    const char *name;
    char *text;
    size_t len;
} hx_blob;
size_t hx_malformed_json(hx_blob out[static HX_BLOBS_MAX]);
void hx_blobs_free(hx_blob *b, size_t n);

/* JSON text of o with field set to raw (JSON text, need not be valid), or
 * removed when raw is NULL. malloc'd. */
char *hx_json_with(const json_t *o, const char *field, const char *raw);
/* {<prefix>"<field>":"ccc..."} with n bytes of c; *len set. malloc'd. */
char *hx_long_field(const char *prefix, const char *field, size_t n, char c, size_t *len);

/* Values of the wrong type for a field of type 's' (string), 'b' (boolean)
 * or 'i' (integer); *n set. */
const char *const *hx_wrong_values(char type, size_t *n);

/* ---- the peer API's crypto batches (hostile_peer.c) ---- */

void hx_batch_handshake(hx *h);
void hx_batch_sealed(hx *h);

#endif
