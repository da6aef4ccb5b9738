#include "server/core/routes.h"

const http_route *const routes_all[] = {
    node_api_routes,
    peer_api_routes,
    client_peers_routes,
    rooms_routes,
    NULL,
};
