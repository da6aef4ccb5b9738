/* routes.h - every route table natterd serves (see http.h for the format).
 *
 * To add routes: export `const http_route <module>_routes[]` (ended by {0})
 * from your module, declare it here, and add it to routes_all in
 * server/core/routes.c. */
#ifndef NATTER_ROUTES_H
#define NATTER_ROUTES_H

#include "server/core/http.h"

extern const http_route node_api_routes[];
extern const http_route peer_api_routes[];
extern const http_route client_peers_routes[];
extern const http_route rooms_routes[]; /* server/rooms/rooms_node.c */

/* NULL-terminated list of tables, searched in order. */
extern const http_route *const routes_all[];

#endif
