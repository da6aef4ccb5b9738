/* rooms_peer.h - rooms over the sealed peer channel: the sealed routes
 * under /v1/peer/rooms and the transport for rooms' calls to other nodes. */
#ifndef NATTER_ROOMS_PEER_H
#define NATTER_ROOMS_PEER_H

#include "server/core/node.h"
#include "server/peer/peer_api.h"

extern const peer_route rooms_peer_routes[];

/* Send rooms' node-to-node calls through peerlink for this node. */
void rooms_peer_install(node *nd);

#endif
