#include "server/peer/peer_api.h"
#include "server/rooms/rooms_peer.h"

/* Every table of sealed /v1/peer/... endpoints, searched in order. To add
 * yours: declare it in your header and add one line here. */
const peer_route *const peer_routes_all[] = {
    peer_api_peer_routes,
    rooms_peer_routes,
    NULL,
};
