#include "services.h"
#include "rooms_node.h"

#include "discovery_node.h"

/* One line per service, in start order. */
const node_service node_services[] = {
    {"discovery", discovery_node_start, discovery_node_stop},
    {"rooms", rooms_service_start, rooms_service_stop},
    {NULL, NULL, NULL},
};
