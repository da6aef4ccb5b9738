/* ident.h - who a peer is, as a person should read it: label and trust.
 *
 * The node computes both (api-spec: Peer.label, Peer.trust, Message.
 * sender_label, sender_trust); an older node does not, and then the client
 * computes them here with the same rule, in ident_label alone:
 *   trust: "self" (this node), "trusted", "untrusted" (a known peer not
 *          marked trusted), "unknown" (no peer row)
 *   label: the name for "self", and for "trusted" when no other known peer
 *          has the same name; otherwise name + "~" + the first 8 hex digits
 *          of the id ("bob~3fa2c9d1"), "~3fa2c9d1" when the name is empty.
 * The node's label is the one to show whenever there is one: it also
 * compares names folded (case, spaces, invisible characters), with this
 * node's own name, and shows more digits while another peer of a name
 * alike has an id that starts the same; ident_label is the fallback.
 * A names map (node_names in node.h) holds id -> {"name","label","trust"}
 * for this node and every peer. Labels and names are raw text: show them
 * through term.h. */
#ifndef NATTER_CLIENT_IDENT_H
#define NATTER_CLIENT_IDENT_H

#include <jansson.h>
#include <stdbool.h>
#include "common/text.h"

#define IDENT_LABEL_MAX (TEXT_NAME_MAX * 4 + 72) /* a long name from an older node, "~", up to 64 hex */
#define IDENT_SUFFIX_HEX 8 /* as the node's PEERS_SUFFIX_MIN */

/* The label rule. name and id may be NULL; trust one of the four words. */
void ident_label(const char *name, const char *id, const char *trust, bool shared,
                 char out[static IDENT_LABEL_MAX]);

/* A peer object's trust: its "trust" when it is one of the four words,
 * else "trusted" or "untrusted" from its "trusted". Static string. */
const char *ident_trust(const json_t *peer);

/* Not only "self" or "trusted": shown with a mark. */
bool ident_doubtful(const char *trust);

/* A peer object's label into buf: its "label", else ident_label with the
 * name shared when its name_collision is true or another object in peers
 * (may be NULL) has the same name. Returns buf. */
const char *ident_peer_label(const json_t *peer, const json_t *peers, char buf[static IDENT_LABEL_MAX]);

/* id -> {"name","label","trust"} for every peer in peers (may be NULL) and
 * for this node (self_id, self_name; skipped when self_id is NULL or "").
 * New reference; NULL when out of memory. */
json_t *ident_map(const json_t *peers, const char *self_id, const char *self_name);

/* Label and trust of id from map; for an id not in it, fallback_label
 * when given, else the rule with fallback_name and trust "unknown".
 * Returns the label (borrowed from map or fallback_label, or buf). */
const char *ident_label_of(const json_t *map, const char *id, const char *fallback_name,
                           const char *fallback_label, char buf[static IDENT_LABEL_MAX]);
const char *ident_trust_of(const json_t *map, const char *id, const char *fallback_trust);

/* Fold a peer_renamed event into map (name, label, trust of its peer). */
void ident_renamed(json_t *map, const json_t *ev);

/* How a peer_renamed event names the peer before: its "old_label" (the
 * node's label then), else the rule with "old_name" as a name shared (an
 * older node), else NULL. Returns the label (borrowed from ev, or buf). */
const char *ident_old_label(const json_t *ev, char buf[static IDENT_LABEL_MAX]);
/* ... and after: its "label", else the rule with "name" (NULL without). */
const char *ident_new_label(const json_t *ev, char buf[static IDENT_LABEL_MAX]);

#endif
