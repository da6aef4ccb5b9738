/* peerlink_wire.h - the libcurl transport under peerlink: one shared
 * connection cache (and DNS cache) for all calls to peers, easy handles
 * set up the same way for blocking and multi transfers, answers read into
 * a capped buffer (PEERLINK_RESPONSE_MAX), and calls leaving from the
 * peer API's address (source_addr.h). It knows HTTP, not sessions.
 *
 * Thread-safe: the shared cache is locked per data kind; handles and
 * buffers belong to the one thread that made them. */
#ifndef NATTER_PEERLINK_WIRE_H
#define NATTER_PEERLINK_WIRE_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include "common/err.h"
#include "server/core/node.h"

typedef struct peerlink_wire peerlink_wire;

/* A peer's answer, NUL-terminated; over is set (and the transfer aborted)
 * when it would pass PEERLINK_RESPONSE_MAX. Zero-initialise before use;
 * data owned by the buffer (peerlink_wire_buf_free). */
typedef struct {
    char *data;
    size_t len, cap;
    bool over;
} peerlink_buf;

/* Initialise libcurl and the shared cache. nd (borrowed, must outlive the
 * wire) stops transfers in progress when node_stopping. *out owned by the
 * caller (peerlink_wire_free). On failure a one-line reason in err. */
NT_MUST_USE nt_err peerlink_wire_new(node *nd, peerlink_wire **out, char err[static NODE_ERR_MAX]);

/* Free the cache and release libcurl. NULL is a no-op. No handle made by
 * peerlink_wire_easy may still be in use. */
void peerlink_wire_free(peerlink_wire *w);

/* An easy handle for one request to url (owned by the caller:
 * curl_easy_cleanup), the answer going into rb. body (borrowed, must
 * outlive the transfer) may be NULL for none; hdrs (borrowed, likewise)
 * may be NULL. NULL when out of memory. */
CURL *peerlink_wire_easy(peerlink_wire *w, const char *method, const char *url, const char *body, int timeout_ms,
                         peerlink_buf *rb, struct curl_slist *hdrs);

/* One blocking exchange (a JSON body when body is not NULL). *status is the
 * HTTP status when an answer came, else 0; the answer is in rb. */
NT_MUST_USE nt_err peerlink_wire_do(peerlink_wire *w, const char *method, const char *url, const char *body,
                                    int timeout_ms, long *status, peerlink_buf *rb);

/* A transfer's outcome as nt_err (timeout, too big, else network). */
nt_err peerlink_wire_curl_err(CURLcode c);

/* What a plaintext refusal's HTTP status means (auth, replay, busy, ...). */
nt_err peerlink_wire_status_err(long status);

/* The error.code of a plaintext JSON error in rb, into code (or ""). */
void peerlink_wire_error_code(const peerlink_buf *rb, char *code, size_t cap);

/* Free rb's data and zero it. */
void peerlink_wire_buf_free(peerlink_buf *rb);

#endif
