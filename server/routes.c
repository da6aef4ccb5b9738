#include "routes.h"

const http_route *const routes_all[] = {
    node_api_routes,
    rooms_routes,
    NULL,
};
