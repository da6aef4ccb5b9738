/* dm.c - conversations with one peer (see dm.h). */
#include "client/dm.h"

#include <stdio.h>
#include <string.h>
#include "client/field.h"

#define DM_PATH_MAX (NODE_ID_MAX + 64)

bool dm_is(const json_t *room)
{
    const char *name = field_str(room, F_NAME), *access = field_str(room, "access");
    return name && access && !strcmp(access, "invite") &&
           !strncmp(name, DM_PREFIX, strlen(DM_PREFIX)) && name[strlen(DM_PREFIX)];
}

static bool is_state(const char *s, const char *a, const char *b)
{
    return s && (!strcmp(s, a) || (b && !strcmp(s, b)));
}

/* The members of room rid that are joined or invited are exactly self and
 * pid. A list the node cannot give (the host is away) does not fit. */
static bool only_us(api *a, const char *rid, const char *self, const char *pid)
{
    char path[DM_PATH_MAX];
    json_t *l, *m;
    size_t i;
    api_error e;
    bool me = false, them = false, other = false;
    snprintf(path, sizeof path, "/v1/client/rooms/%s/members", rid);
    if (node_list(a, path, F_MEMBERS, &l, &e) != NT_OK)
        return false;
    json_array_foreach(l, i, m) {
        const char *id = field_str(m, "peer");
        if (!id || !is_state(field_str(m, "state"), "joined", "invited"))
            continue;
        if (!strcmp(id, self))
            me = true;
        else if (!strcmp(id, pid))
            them = true;
        else
            other = true;
    }
    json_decref(l);
    return me && them && !other;
}

static nt_err post(api *a, const char *path, json_t *body, api_error *err)
{
    json_t *r = NULL;
    nt_err rc = api_call(a, "POST", path, body, 0, &r, err);
    json_decref(body);
    json_decref(r);
    return rc;
}

/* Whether room is a conversation with pid that this node can use now; an
 * invitation to one from pid is taken (joined) first. */
static bool usable(api *a, const json_t *room, const char *self, const char *pid)
{
    const char *id = field_str(room, F_ID), *host = field_str(room, "host");
    const char *st = field_str(room, "state"), *access = field_str(room, "access");
    char path[DM_PATH_MAX];
    api_error e;
    if (!id || !host || !access || strcmp(access, "invite") || (strcmp(host, self) && strcmp(host, pid)))
        return false;
    if (is_state(st, "invited", NULL) && dm_is(room)) {
        snprintf(path, sizeof path, "/v1/client/rooms/%s/join", id);
        if (post(a, path, json_pack("{s:s}", "host", host), &e) != NT_OK)
            return false;
    } else if (!is_state(st, "hosted", "joined")) {
        return false;
    }
    return only_us(a, id, self, pid);
}

/* A conversation room with pid among my rooms: its id into rid. Rooms
 * named as conversations are tried first. */
static bool find_existing(api *a, const char *self, const char *pid, char rid[static NODE_ID_MAX])
{
    json_t *l, *r;
    size_t i, asked = 0;
    api_error e;
    bool hit = false;
    if (node_list(a, "/v1/client/rooms", F_ROOMS, &l, &e) != NT_OK)
        return false;
    for (int pass = 0; pass < 2 && !hit; pass++) {
        json_array_foreach(l, i, r) {
            if (dm_is(r) != (pass == 0) || asked >= DM_SCAN_MAX)
                continue;
            asked++;
            if (usable(a, r, self, pid)) {
                snprintf(rid, NODE_ID_MAX, "%s", field_str(r, F_ID));
                hit = true;
                break;
            }
        }
    }
    json_decref(l);
    return hit;
}

/* "@" and the peer's name, cut at a character boundary to the cap. */
static void dm_name(const json_t *peer, char out[static DM_NAME_MAX + 1])
{
    char lb[IDENT_LABEL_MAX];
    const char *name = field_str(peer, F_NAME);
    if (!name || !name[0])
        name = ident_peer_label(peer, NULL, lb);
    size_t n = snprintf(out, DM_NAME_MAX + 1, "%s%s", DM_PREFIX, name);
    if (n > DM_NAME_MAX) {
        n = DM_NAME_MAX;
        while (n > 1 && ((unsigned char)out[n] & 0xC0) == 0x80)
            n--;
        out[n] = '\0';
    }
}

static nt_err create(api *a, const json_t *peer, const char *pid, char rid[static NODE_ID_MAX],
                     api_error *err)
{
    char name[DM_NAME_MAX + 1], path[DM_PATH_MAX];
    json_t *r = NULL;
    dm_name(peer, name);
    nt_err rc = NT_ERR_EXISTS;
    /* room names are unique per host: an older conversation that can no
     * longer be used (the peer left it) keeps its name */
    for (int k = 1; rc == NT_ERR_EXISTS && k <= DM_NAME_TRIES; k++) {
        char try[DM_NAME_MAX + 8];
        snprintf(try, sizeof try, k == 1 ? "%s" : "%s (%d)", name, k);
        if (strlen(try) > DM_NAME_MAX)
            break; /* a name too long for a suffix: the first refusal stands */
        json_t *body = json_pack("{s:s, s:s}", "name", try, "access", "invite");
        json_decref(r);
        r = NULL;
        rc = api_call(a, "POST", "/v1/client/rooms", body, 0, &r, err);
        json_decref(body);
    }
    const char *id = field_str(json_is_object(field_get(r, "room")) ? field_get(r, "room") : r, F_ID);
    if (rc == NT_OK && !id)
        rc = NT_ERR_STATE;
    if (rc != NT_OK)
        goto out;
    snprintf(rid, NODE_ID_MAX, "%s", id);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/invite", rid);
    rc = post(a, path, json_pack("{s:s}", "peer", pid), err);
out:
    json_decref(r);
    return rc;
}

nt_err dm_open(api *a, const json_t *peer, char rid[static NODE_ID_MAX], bool *created, api_error *err)
{
    json_t *names = NULL;
    char self[NODE_ID_MAX];
    const char *pid = field_str(peer, F_ID);
    *created = false;
    rid[0] = '\0';
    if (!pid)
        return NT_ERR_INVALID;
    nt_err rc = node_names(a, &names, self, err);
    json_decref(names);
    if (rc != NT_OK)
        return rc;
    if (!strcmp(self, pid)) {
        snprintf(err->message, sizeof err->message, "that is this node: a conversation needs a peer");
        return NT_ERR_INVALID;
    }
    if (find_existing(a, self, pid, rid))
        return NT_OK;
    rc = create(a, peer, pid, rid, err);
    *created = rc == NT_OK;
    return rc;
}

const char *dm_title(const json_t *room, const json_t *names, const char *self_id,
                     char buf[static IDENT_LABEL_MAX])
{
    const char *host = field_str(room, "host"), *name = field_str(room, F_NAME);
    if (host && self_id && strcmp(host, self_id))
        return node_name_of(host, names, buf);
    const char *who = name ? name + strlen(DM_PREFIX) : "";
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)names, k, v) {
        const char *n = field_str(v, "name");
        if (n && !strcmp(n, who) && strcmp(k, self_id ? self_id : ""))
            return field_str(v, "label") ? field_str(v, "label") : who;
    }
    return who;
}
