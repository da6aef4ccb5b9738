/* harness_client.h - client API calls on a harness node that fail the
 * running check test on a transport error or an unexpected status, for
 * the peer and handshake integration tests. */
#ifndef NATTER_HARNESS_CLIENT_H
#define NATTER_HARNESS_CLIENT_H

#include <jansson.h>

#include "harness.h"

/* method path (body may be NULL) on n's listener api; fails the test
 * (after printing n's log) unless the status is want. Returns the reply's
 * JSON (NULL if none; the caller decrefs it). */
json_t *client_json(const harness_node *n, harness_api api, const char *method, const char *path, const char *body,
                    long want);

/* a adds the peer at addr (200 or 201) and it must turn out to be want_id. */
void client_add_peer(const harness_node *a, const char *addr, const char *want_id);

/* POST /v1/client/peers/{id}/{what} on a with body (may be NULL); the
 * response into *r (the caller frees it), whatever its status. */
void client_peer_action(const harness_node *a, const char *id, const char *what, const char *body, harness_resp *r);

#endif
