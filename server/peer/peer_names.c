/* peer_names.c - see peer_names.h. */
#include "server/peer/peer_names.h"

#include <string.h>

#include "common/log.h"
#include "crypto/encoding.h"
#include "server/core/presence.h"
#include "server/rooms/rooms.h"

static void renamed(node *nd, const identity *pub, const char *old_name, const char *old_label)
{
    char hex[IDENTITY_ID_HEX_LEN + 1];
    peer_ident pi;
    rooms *r = nd->rooms;
    identity_id_hex(pub, hex);
    peer_names_ident(nd, hex, &pi);
    log_info("peer %.16s... is now known as %s (was %s)", hex, pi.name, old_name);
    if (r && !node_stopping(nd)) /* the rooms stop first at shutdown */
        rooms_peer_event(r, "peer_renamed",
                         json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "peer", hex, "old_name", old_name, "old_label",
                                   old_label, "name", pi.name, "label", pi.label, "trust",
                                   peers_trust_name(pi.trust)));
}

nt_err peer_names_record(node *nd, const identity *pub, const char *name, const char *addr, const char *source,
                         const uint8_t *instance_id, const char *origin, int64_t now_unix, peers_sighting *sg)
{
    peers_sighting own;
    char self_name[TEXT_NAME_MAX + 1];
    if (!sg)
        sg = &own;
    memset(sg, 0, sizeof *sg);
    node_name(nd, self_name);
    sg->origin = origin;
    sg->origin_cap = (unsigned)nd->cfg->max_new_peers_per_source;
    sg->self_name = self_name;
    nt_err rc = peers_record(nd->db, pub, name, addr, source, instance_id, now_unix, sg);
    sg->self_name = NULL; /* the caller's sg outlives self_name */
    if (!rc && sg->renamed)
        renamed(nd, pub, sg->old_name, sg->old_label);
    return rc;
}

void peer_names_presence(node *nd, const uint8_t id[static IDENTITY_ID_LEN], bool up, bool always_hooks,
                         const char *why)
{
    presence_state before = presence_set(nd->presence, id, up, always_hooks);
    if (up ? before != PRESENCE_DOWN : before == PRESENCE_DOWN)
        return;
    char hex[IDENTITY_ID_HEX_LEN + 1];
    peer_ident pi;
    rooms *r = nd->rooms;
    if (encoding_hex_encode(id, IDENTITY_ID_LEN, hex, sizeof hex) != NT_OK)
        return;
    peer_names_ident(nd, hex, &pi);
    log_info("peer %s (%.16s...) is %s: %s", pi.label, hex, up ? "online" : "offline", why);
    if (r && !node_stopping(nd))
        rooms_peer_event(r, "peer", json_pack("{s:s,s:b,s:s,s:s,s:s}", "peer", hex, "online", up, "name", pi.name,
                                              "label", pi.label, "trust", peers_trust_name(pi.trust)));
}

void peer_names_ident(void *arg, const char *peer, peer_ident *out)
{
    node *nd = arg;
    char self_hex[IDENTITY_ID_HEX_LEN + 1], self_name[TEXT_NAME_MAX + 1];
    identity_id_hex(nd->id, self_hex);
    node_name(nd, self_name);
    peers_identify(nd->db, self_hex, self_name, peer, out);
}

void peer_names_json(node *nd, const peer_info *p, json_t *o)
{
    char label[PEERS_LABEL_MAX], self_name[TEXT_NAME_MAX + 1];
    node_name(nd, self_name);
    peers_info_label(p, self_name, label);
    json_object_set_new(o, "name_collision",
                        json_boolean(p->name_collision || peers_names_alike(p->name, self_name)));
    json_object_set_new(o, "trust", json_string(peers_trust_name(p->trusted ? PEER_TRUST_TRUSTED
                                                                            : PEER_TRUST_UNTRUSTED)));
    json_object_set_new(o, "label", json_string(label));
}
