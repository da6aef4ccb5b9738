/* rooms_peer.h - rooms over the sealed peer channel: the sealed routes
 * under /v1/peer/rooms and the transport for rooms' calls to other nodes. */
#ifndef NATTER_ROOMS_PEER_H
#define NATTER_ROOMS_PEER_H

#include "server/core/node.h"
#include "server/peer/peer_api.h"
#include "server/rooms/rooms.h"

extern const peer_route rooms_peer_routes[];

/* The peer port (a peer_port_fn, server/rooms/peer_port.h) over the
 * sealed peer link; arg is the node. */
void rooms_peer_call(void *arg, port_call *calls, size_t n, int timeout_ms);

#endif
