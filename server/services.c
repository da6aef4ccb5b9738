#include "services.h"
#include "rooms_node.h"

/* One line per service, in start order. */
const node_service node_services[] = {
    {"rooms", rooms_service_start, rooms_service_stop},
    {NULL, NULL, NULL},
};
