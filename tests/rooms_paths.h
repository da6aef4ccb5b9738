/* rooms_paths.h - the rooms' peer and client APIs called by method and
 * path, for tests, the fuzzer and the ingest benchmark. natterd routes
 * each request once in its HTTP layer and calls rooms_peer_op and
 * rooms_client_op with the matched parameters; these helpers parse the
 * path the same way (api-spec/protocol.md "Rooms", api-spec/openapi.yaml)
 * and answer a path no route matches with the same 404 or 405. */
#ifndef NATTER_TESTS_ROOMS_PATHS_H
#define NATTER_TESTS_ROOMS_PATHS_H

#include <jansson.h>
#include "server/rooms/rooms.h"

/* A sealed peer request under /v1/peer/rooms from the authenticated peer
 * (64 hex). Returns the HTTP status; *reply is set (owned by the caller). */
int rooms_peer_handle(rooms *r, const char *peer, const char *method, const char *path, rooms_query_fn *q,
                      void *qarg, json_t *body, json_t **reply);
/* A client API request under /v1/client (already bearer-authenticated). */
int rooms_client_handle(rooms *r, const char *method, const char *path, rooms_query_fn *q, void *qarg,
                        json_t *body, json_t **reply);

#endif
