#include "server/core/services.h"
#include "server/rooms/rooms_node.h"

#include "server/discovery/discovery_node.h"
#include "server/peer/peer_api.h"
#include "server/peer/peerlink.h"

/* One line per service, in start order. */
const node_service node_services[] = {
    {"peer channel", peer_api_start, peer_api_stop},
    {"peer client", peerlink_start, peerlink_stop},
    {"discovery", discovery_node_start, discovery_node_stop},
    {"rooms", rooms_service_start, rooms_service_stop},
    {NULL, NULL, NULL},
};
