/* harness_discovery.h - helpers for the discovery integration tests: a
 * private multicast group and port per test, the peer list and the
 * discovery counters of a node. */
#ifndef NATTER_HARNESS_DISCOVERY_H
#define NATTER_HARNESS_DISCOVERY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "harness.h"

/* A random group in 239.255.0.0/16 and a UDP port free on this host
 * (checked by binding it), so that parallel test runs never meet. */
void hd_private_group(char group[static 16], char port[static 8]);

/* GET /v1/client/peers: the array of peers (new reference) or NULL. */
json_t *hd_peers(const harness_node *n);
/* The peer with this id in a peer array (borrowed) or NULL. */
json_t *hd_peer(json_t *peers, const char *id);
/* GET /v1/client/status "discovery" object (new reference) or NULL. */
json_t *hd_discovery(const harness_node *n);
/* A counter of hd_discovery: "sent", "dropped.bad_signature", ...; -1 if absent. */
long long hd_counter(const harness_node *n, const char *path);

/* True if n lists every node of want[0..k) (skipping n itself) as found by
 * multicast, online, at the expected address (host given, port = that
 * node's peer port) with its name. */
bool hd_lists_all(const harness_node *n, harness_node *const *want, int k, const char *const *hosts);

long long hd_now_ms(void);
/* Sleep between two polls of a bounded wait. */
void hd_pause_ms(int ms);

#endif
