/* harness_proxy.h - a small HTTP proxy on loopback (libmicrohttpd) for
 * tests that play the attacker on the path between two nodes. The proxy
 * reads each request whole, then hands it to the test's function, which
 * forwards it (harness_request), changes what it likes and answers with
 * harness_proxy_answer.
 *
 *     static harness_proxy px;
 *     harness_proxy_start(&px, my_fn, my_arg);
 *     ... add the peer at px.addr ...
 *     harness_proxy_stop(&px);
 *
 * Requests are served on their own threads: what fn touches in common
 * with the test needs no more than plain counters read after stop. */
#ifndef NATTER_HARNESS_PROXY_H
#define NATTER_HARNESS_PROXY_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One request: url, method and the body (NUL-terminated, NULL when
 * empty); returns what MHD_queue_response returned. */
typedef enum MHD_Result (*harness_proxy_fn)(void *arg, struct MHD_Connection *c, const char *url,
                                            const char *method, const char *body, size_t len);

typedef struct harness_proxy {
    struct MHD_Daemon *d; /* NULL when stopped */
    harness_proxy_fn fn;
    void *arg;
    uint16_t port;
    char addr[64]; /* "127.0.0.1:port" */
} harness_proxy;

/* Starts the proxy on an ephemeral loopback port; fails the test if it
 * cannot. p must stay where it is until harness_proxy_stop. */
void harness_proxy_start(harness_proxy *p, harness_proxy_fn fn, void *arg);

/* Stops it; a no-op when stopped. */
void harness_proxy_stop(harness_proxy *p);

/* Answers c with status and body[0..len) as application/json. */
enum MHD_Result harness_proxy_answer(struct MHD_Connection *c, unsigned status, const char *body, size_t len);

/* May change a forwarded reply (JSON) in place; returns true if it did. */
typedef bool (*harness_proxy_edit)(void *arg, const char *url, long status, json_t *reply);

/* Forwards the request to upstream (a base URL such as a node's peer_url)
 * and answers c with the reply: as it came, or re-serialised when edit
 * (if given) changed its JSON. MHD_NO when the upstream cannot be reached. */
enum MHD_Result harness_proxy_relay(struct MHD_Connection *c, const char *upstream, const char *url,
                                    const char *method, const char *body, size_t len, harness_proxy_edit edit,
                                    void *arg);

#endif
