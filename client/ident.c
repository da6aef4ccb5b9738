/* ident.c - labels and trust of peers (see ident.h). */
#include "client/ident.h"

#include <stdio.h>
#include <string.h>
#include "client/field.h"

#define ID_KEYS "id|node_id"
#define NAME_KEYS "name"

static const char *const trusts[] = {"self", "trusted", "untrusted", "unknown"};

void ident_label(const char *name, const char *id, const char *trust, bool shared,
                 char out[static IDENT_LABEL_MAX])
{
    name = name ? name : "";
    bool plain = name[0] && (!strcmp(trust, "self") || (!strcmp(trust, "trusted") && !shared));
    if (plain)
        snprintf(out, IDENT_LABEL_MAX, "%s", name);
    else
        snprintf(out, IDENT_LABEL_MAX, "%s~%.*s", name, IDENT_SUFFIX_HEX, id && id[0] ? id : "????");
}

/* One of the four words, as a static string; NULL when t is none. */
static const char *known_trust(const char *t)
{
    for (size_t i = 0; t && i < sizeof trusts / sizeof trusts[0]; i++)
        if (!strcmp(t, trusts[i]))
            return trusts[i];
    return NULL;
}

const char *ident_trust(const json_t *peer)
{
    const char *t = known_trust(field_str(peer, "trust"));
    if (t)
        return t;
    return field_bool(peer, "trusted", false) ? trusts[1] : trusts[2];
}

bool ident_doubtful(const char *trust)
{
    return !trust || (strcmp(trust, "self") && strcmp(trust, "trusted"));
}

/* Another object in peers than p has p's name. */
static bool name_shared(const json_t *p, const json_t *peers)
{
    const char *n = field_str(p, NAME_KEYS), *id = field_str(p, ID_KEYS);
    size_t i;
    json_t *o;
    if (field_bool(p, "name_collision", false))
        return true;
    json_array_foreach(peers, i, o) {
        const char *on = field_str(o, NAME_KEYS), *oid = field_str(o, ID_KEYS);
        if (o != p && n && on && !strcmp(n, on) && !(id && oid && !strcmp(id, oid)))
            return true;
    }
    return false;
}

const char *ident_peer_label(const json_t *peer, const json_t *peers, char buf[static IDENT_LABEL_MAX])
{
    const char *l = field_str(peer, "label");
    if (l && l[0]) {
        snprintf(buf, IDENT_LABEL_MAX, "%s", l);
        return buf;
    }
    ident_label(field_str(peer, NAME_KEYS), field_str(peer, ID_KEYS), ident_trust(peer),
                name_shared(peer, peers), buf);
    return buf;
}

static int map_add(json_t *map, const char *id, const char *name, const char *label, const char *trust)
{
    json_t *e = json_pack("{s:s, s:s, s:s}", "name", name ? name : "", "label", label, "trust", trust);
    return e ? json_object_set_new(map, id, e) : -1;
}

json_t *ident_map(const json_t *peers, const char *self_id, const char *self_name)
{
    json_t *map = json_object(), *p;
    char buf[IDENT_LABEL_MAX];
    size_t i;
    if (!map)
        return NULL;
    json_array_foreach(peers, i, p) {
        const char *id = field_str(p, ID_KEYS);
        if (id && (!self_id || strcmp(id, self_id)) &&
            map_add(map, id, field_str(p, NAME_KEYS), ident_peer_label(p, peers, buf), ident_trust(p))) {
            json_decref(map);
            return NULL;
        }
    }
    if (self_id && self_id[0]) {
        ident_label(self_name, self_id, "self", false, buf);
        if (map_add(map, self_id, self_name, buf, "self")) {
            json_decref(map);
            return NULL;
        }
    }
    return map;
}

const char *ident_label_of(const json_t *map, const char *id, const char *fallback_name,
                           const char *fallback_label, char buf[static IDENT_LABEL_MAX])
{
    const json_t *e = id ? json_object_get(map, id) : NULL;
    const char *l = json_is_object(e) ? json_string_value(json_object_get(e, "label")) : NULL;
    if (l && l[0])
        return l;
    if (json_is_string(e)) /* a plain id -> name map: a name we cannot vouch for */
        fallback_name = json_string_value(e);
    else if (fallback_label && fallback_label[0])
        return fallback_label;
    ident_label(fallback_name, id, "unknown", true, buf);
    return buf;
}

const char *ident_trust_of(const json_t *map, const char *id, const char *fallback_trust)
{
    const json_t *e = id ? json_object_get(map, id) : NULL;
    const char *t = known_trust(json_is_object(e) ? json_string_value(json_object_get(e, "trust")) : NULL);
    if (t)
        return t;
    t = known_trust(fallback_trust);
    return t ? t : trusts[3];
}

void ident_renamed(json_t *map, const json_t *ev)
{
    const char *id = field_str(ev, "peer"), *name = field_str(ev, "name");
    if (!id || !name || !json_is_object(map))
        return;
    const char *trust = known_trust(field_str(ev, "trust"));
    if (!trust)
        trust = ident_trust_of(map, id, NULL);
    char buf[IDENT_LABEL_MAX];
    const char *label = field_str(ev, "label");
    if (!label || !label[0]) {
        ident_label(name, id, trust, true, buf); /* shared or not is for the next refresh to say */
        label = buf;
    }
    if (map_add(map, id, name, label, trust))
        return; /* out of memory: the next refresh has it */
}

/* ev's label_key, else the rule with its name_key as a shared name. */
static const char *event_label(const json_t *ev, const char *label_key, const char *name_key,
                               char buf[static IDENT_LABEL_MAX])
{
    const char *l = field_str(ev, label_key), *name = field_str(ev, name_key);
    if (l && l[0])
        return l;
    if (!name || !name[0])
        return NULL;
    ident_label(name, field_str(ev, "peer"), "unknown", true, buf);
    return buf;
}

const char *ident_old_label(const json_t *ev, char buf[static IDENT_LABEL_MAX])
{
    return event_label(ev, "old_label", "old_name", buf);
}

const char *ident_new_label(const json_t *ev, char buf[static IDENT_LABEL_MAX])
{
    return event_label(ev, "label", "name", buf);
}
