/* rooms_node.h - rooms as a natterd service: the service entry, the client
 * route table, and the hook for the sealed peer transport. */
#ifndef NATTER_ROOMS_NODE_H
#define NATTER_ROOMS_NODE_H

#include "server/core/http.h"
#include "server/rooms/rooms.h"
#include "server/core/services.h"

/* The service (server/core/services.c): opens the rooms' own database
 * connection, starts push and sync; stop joins them. */
NT_MUST_USE nt_err rooms_service_start(node *nd, char err[static NODE_ERR_MAX]);
void rooms_service_stop(node *nd);
extern const http_route rooms_routes[];

/* The running node's rooms object (NULL when not started). Borrowed. */
rooms *rooms_node_get(void);

/* Route peer calls through fn (the sealed peer link); arg is passed to it. */
void rooms_node_set_transport(rooms_call_fn *fn, void *arg);

#endif
