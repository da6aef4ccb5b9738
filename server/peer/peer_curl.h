/* peer_curl.h - the libcurl plumbing of the peer link (peerlink.c): one
 * connection and DNS cache shared by every call, response bodies capped at
 * PEERLINK_RESPONSE_MAX, calls that leave from our peer address
 * (source_addr.h), transfers cut short when the node stops.
 *
 * Threads: a peer_curl is shared by every calling thread once initialised
 * (its share has its own locks); a peer_curl_buf belongs to one call. */
#ifndef NATTER_PEER_CURL_H
#define NATTER_PEER_CURL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include "common/err.h"
#include "server/core/node.h"
#include "server/core/source_addr.h"

/* A response body, NUL-terminated; `over` when it passed the cap (the
 * transfer was aborted). Free with peer_curl_buf_free. */
typedef struct {
    char *data;
    size_t len, cap;
    bool over;
} peer_curl_buf;

void peer_curl_buf_free(peer_curl_buf *b);

typedef struct {
    node *nd;        /* borrowed: node_stopping() */
    source_addr src; /* where our calls leave from */
    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
} peer_curl;

/* libcurl's global state and the share, for nd's calls. NT_ERR_NOMEM
 * with err set (one line) when libcurl cannot be set up; then nothing is
 * left to clean up. */
NT_MUST_USE nt_err peer_curl_init(peer_curl *c, node *nd, char err[static NODE_ERR_MAX]);
/* Undo peer_curl_init; no call may be running. */
void peer_curl_cleanup(peer_curl *c);

/* An easy handle for one request through c (the caller's to clean up);
 * body may be NULL (no body); the response goes to rb. NULL on error. */
CURL *peer_curl_easy(peer_curl *c, const char *method, const char *url, const char *body, int timeout_ms,
                     peer_curl_buf *rb, struct curl_slist *hdrs);
/* A transfer's result as an nt_err. */
nt_err peer_curl_rc(CURLcode code);
/* One blocking exchange. *status set when an answer came. */
NT_MUST_USE nt_err peer_curl_do(peer_curl *c, const char *method, const char *url, const char *body, int timeout_ms,
                                long *status, peer_curl_buf *rb);

#endif
