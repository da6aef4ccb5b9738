/* rooms_node.h - rooms as a natterd service: the service entry, the client
 * route table, and the hook for the sealed peer transport. */
#ifndef NATTER_ROOMS_NODE_H
#define NATTER_ROOMS_NODE_H

#include "server/core/http.h"
#include "server/rooms/rooms.h"
#include "server/core/services.h"

/* The service (server/core/services.c): opens the rooms' own database
 * connection, starts push and sync and sets nd->rooms; stop clears it and
 * joins them. */
NT_MUST_USE nt_err rooms_service_start(node *nd, char err[static NODE_ERR_MAX]);
void rooms_service_stop(node *nd);
extern const http_route rooms_routes[];

/* The running node's rooms object is nd->rooms (NULL when not started). */

#endif
