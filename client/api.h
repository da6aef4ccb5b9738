/* api.h - the terminal client's calls to its own node's client API.
 *
 * One libcurl easy handle per api object, reused for every call so that the
 * connection to the node stays open. An api object is not thread-safe: the
 * full-screen client gives each thread its own.
 *
 * Every call is bounded: a connect timeout and a total timeout (the events
 * long-poll passes its own, longer bound), and the response body is capped
 * at API_RESPONSE_MAX. */
#ifndef NATTER_CLIENT_API_H
#define NATTER_CLIENT_API_H

#include <jansson.h>
#include "common/err.h"

#define API_RESPONSE_MAX (4u * 1024 * 1024)
#define API_CONNECT_TIMEOUT_MS 2000L
#define API_TIMEOUT_MS 10000L
#define API_URL_MAX 512
#define API_TOKEN_MAX 512
#define API_CODE_MAX 64
#define API_MSG_MAX 512

/* What went wrong on a failed call, for the user. */
typedef struct api_error {
    long status;                 /* HTTP status; 0 when no answer came */
    char code[API_CODE_MAX];     /* node's error.code, or a client-side code */
    char message[API_MSG_MAX];   /* one line, ready to show */
} api_error;

typedef struct api api;

/* Make a client for base_url ("http://127.0.0.1:7710", no trailing path)
 * with bearer token (may be NULL: requests go without Authorization).
 * Both strings are copied. */
NT_MUST_USE nt_err api_new(api **out, const char *base_url, const char *token);

/* NULL-safe; zeroes the token copy. */
void api_free(api *a);

/* Before the token goes anywhere, the listener must prove that it holds it
 * (GET /v1/client/hello, common/hello.h), once per connection: the token
 * never travels on a connection opened before the proof. expect_id (may be
 * NULL) is the node id the answer must name; data_dir (may be NULL) is the
 * data dir the URL and token came from, for messages ("natterd is not
 * running (data dir X)"). Both copied. A listener that does not prove
 * itself gives NT_ERR_NET (code "not_our_node"), or NT_ERR_AUTH when no
 * data_dir is set and the proof is wrong (a wrong --token). */
void api_set_expect(api *a, const char *node_id, const char *data_dir);

/* Talk to base_url from now on (the node moved to another port). Not
 * during a call. NT_ERR_INVALID when empty or too long. */
NT_MUST_USE nt_err api_set_url(api *a, const char *base_url);

/* The base URL this client talks to (borrowed). */
const char *api_url(const api *a);

/* One request: method ("GET", "POST", "PUT", "DELETE"), path beginning
 * with '/', optional JSON body (not stolen). timeout_ms 0 = API_TIMEOUT_MS.
 * On NT_OK, *reply (if reply is non-NULL) is the parsed JSON answer, owned by
 * the caller (json_null() for an empty body). On failure *reply is NULL and
 * err (if non-NULL) says why:
 *   NT_ERR_NET        node not reachable ("natterd is not running at URL")
 *   NT_ERR_TIMEOUT    no complete answer within the bound
 *   NT_ERR_AUTH       401: token refused
 *   NT_ERR_NOT_FOUND  404, NT_ERR_FORBIDDEN 403, NT_ERR_EXISTS 409,
 *   NT_ERR_INVALID    400, NT_ERR_TOO_BIG 413 or answer over the cap,
 *   NT_ERR_BUSY       429/503, NT_ERR_STATE any other error status or a
 *                     reply that is not JSON. */
NT_MUST_USE nt_err api_call(api *a, const char *method, const char *path, const json_t *body,
                            long timeout_ms, json_t **reply, api_error *err);

/* Make calls on a abort soon after *flag becomes non-zero (checked about
 * once a second and on every byte received), with NT_ERR_NET "cancelled".
 * flag must outlive a; NULL turns this off. For threads that must stop. */
void api_set_cancel(api *a, const volatile int *flag);

/* Map an HTTP error status to the status codes above (exposed for tests). */
nt_err api_status_err(long http_status);

#endif
