#include "services.h"

/* One line per service, in start order. */
const node_service node_services[] = {
    {NULL, NULL, NULL},
};
