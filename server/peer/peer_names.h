/* peer_names.h - how natterd learns and shows who a peer is.
 *
 * A node id is the identity; a name is display text that anyone can
 * choose. So a name is taken only from signed data (the handshake
 * transcript, a signed discovery announcement), never from the
 * unauthenticated GET /v1/node; a change of a known peer's name is a
 * client event ("peer_renamed"); and every JSON that names a peer carries
 * its trust and its label (peers_label: the one rule). New peer rows
 * first learned from one address are capped per hour
 * (--max-new-peers-per-source). */
#ifndef NATTER_PEER_NAMES_H
#define NATTER_PEER_NAMES_H

#include <jansson.h>
#include "server/core/node.h"
#include "storage/peers.h"

/* peers_record of a sighting from signed data, with origin (the source
 * IP; NULL for none) capped per the node's config; on a rename, a
 * peer_renamed event {peer, old_name, old_label (the label it had), name,
 * label, trust}. NT_ERR_BUSY when the origin is at its cap
 * (sg->retry_after set). sg may be NULL. */
NT_MUST_USE nt_err peer_names_record(node *nd, const identity *pub, const char *name, const char *addr,
                                     const char *source, const uint8_t *instance_id, const char *origin,
                                     int64_t now_unix, peers_sighting *sg);

/* name, trust and label of peer (64 hex) as this node shows it; arg is
 * the node (the rooms' ident callback). */
void peer_names_ident(void *arg, const char *peer, peer_ident *out);

/* The peer id is up (up) or down now (server/core/presence.h: going up runs
 * the node's "peer is up" callbacks, also every time when always_hooks).
 * A change from up or unknown to down, and from down to up, is a client
 * event "peer" {peer, online, name, label, trust}; why is logged. */
void peer_names_presence(node *nd, const uint8_t id[static IDENTITY_ID_LEN], bool up, bool always_hooks,
                         const char *why);

/* Set "trust", "label" and "name_collision" of p in its JSON object o (a
 * name alike the node's own is shared too). */
void peer_names_json(node *nd, const peer_info *p, json_t *o);

#endif
