#include "services.h"

#include "discovery_node.h"

/* One line per service, in start order. */
const node_service node_services[] = {
    {"discovery", discovery_node_start, discovery_node_stop},
    {NULL, NULL, NULL},
};
