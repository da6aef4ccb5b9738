/* discovery_node.h - discovery as a natterd service.
 *
 * Reads the node's settings (--no-discovery, --discovery-group,
 * --discovery-port, --interface, --discovery-ttl, --announce-interval,
 * --peer-expiry), announces the node's current name and peer API port,
 * writes valid announcements into the peer table (source "multicast") and
 * reports its counters for GET /v1/client/status. Listed in
 * server/core/services.c; state in nd->discovery (NULL when off). */
#ifndef NATTER_DISCOVERY_NODE_H
#define NATTER_DISCOVERY_NODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "server/core/node.h"

/* Service start/stop (see services.h). With --no-discovery start does
 * nothing and succeeds. */
NT_MUST_USE nt_err discovery_node_start(node *nd, char err[static NODE_ERR_MAX]);
void discovery_node_stop(node *nd);

/* {"enabled", "group", "port", "interfaces", "announce_interval_s",
 * "peer_expiry_s", "instance_id", "peers", "sent", "send_errors",
 * "received", "announces", "queries", "restarts", "key_fetches",
 * "overflow", "dropped": {reason: n, ...}}; only "enabled": false when
 * off. New reference. */
json_t *discovery_node_status(node *nd);

#endif
