/* source_addr.h - the address a node's calls to its peers leave from.
 *
 * A peer records the source address of a handshake, with the port the
 * handshake names, as where to reach the node that made it. So a node
 * whose peer API listens on one address (not a wildcard) makes its calls
 * from that address, when the destination is on the same side of loopback
 * as it (a loopback-only node still reaches LAN peers, e.g. to poll, from
 * whatever address the route gives it). */
#ifndef NATTER_SOURCE_ADDR_H
#define NATTER_SOURCE_ADDR_H

#include <stdbool.h>
#include <curl/curl.h>

#define SOURCE_ADDR_HOST_MAX 64

typedef struct {
    char host[SOURCE_ADDR_HOST_MAX];      /* "" when listening on a wildcard */
    char iface[SOURCE_ADDR_HOST_MAX + 8]; /* "host!<host>" for CURLOPT_INTERFACE */
    bool loopback, v6;
} source_addr;

/* From the peer API's bound address, "a.b.c.d:port" or "[v6]:port".
 * A wildcard (0.0.0.0, ::) or anything unparsable leaves host empty. */
void source_addr_init(source_addr *src, const char *listen);

/* The CURLOPT_INTERFACE value for a call to url ("http://host:port/..."),
 * or NULL when the call should leave as the route decides. The returned
 * string lives in src. */
const char *source_addr_for(const source_addr *src, const char *url);

/* Set CURLOPT_INTERFACE (and the matching CURLOPT_IPRESOLVE) on h for a
 * call to url, when source_addr_for gives one. */
void source_addr_bind(const source_addr *src, CURL *h, const char *url);

#endif
