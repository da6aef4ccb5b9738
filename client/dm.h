/* dm.h - direct messages: a conversation with one peer is an invite-only
 * room whose members are exactly this node and that peer.
 *
 * A new one is hosted here, named DM_PREFIX and the peer's name ("@bob",
 * cut to the node's 100-byte room name cap) and the peer is invited. An
 * existing one is reused: hosted here or by the peer, invite-only, with
 * this node joined (or invited: then it joins) and no joined or invited
 * member but the two of us. Both front ends (`natter msg`, /msg) use it. */
#ifndef NATTER_CLIENT_DM_H
#define NATTER_CLIENT_DM_H

#include <jansson.h>
#include <stdbool.h>
#include "client/api.h"
#include "client/ident.h"
#include "client/node.h"
#include "common/err.h"

#define DM_PREFIX "@"
#define DM_NAME_MAX 100 /* bytes, the node's room name cap */
#define DM_SCAN_MAX 64  /* rooms whose member lists are asked, at most */
#define DM_NAME_TRIES 9 /* "@bob", then "@bob (2)" .. "@bob (9)" when the name is taken */

/* The conversation with peer (a Peer object from the node, borrowed):
 * found or made as above. rid (cap NODE_ID_MAX) gets the room id,
 * *created whether it was made now. On failure err says why (the node's
 * answer to the create, invite or join that failed). */
NT_MUST_USE nt_err dm_open(api *a, const json_t *peer, char rid[static NODE_ID_MAX], bool *created,
                           api_error *err);

/* Whether room (a Room object) reads as a conversation: invite-only and
 * named with DM_PREFIX. */
bool dm_is(const json_t *room);

/* What to call a conversation room: the host's label when a peer hosts
 * it, else the peer's label looked up by the name after DM_PREFIX in
 * names (node_names), else that name. Raw text: show through term.h.
 * Returns buf or a string borrowed from names/room. */
const char *dm_title(const json_t *room, const json_t *names, const char *self_id,
                     char buf[static IDENT_LABEL_MAX]);

#endif
