/* rooms_members.c - member lists: the host's member-list versions (a
 * change of any member's row bumps the room's members_ver; each row keeps
 * the version it changed at), the lists as JSON (whole, or the changes
 * since a version, which the push loop sends), and a member's stored copy
 * of its host's list. See api-spec/protocol.md "Member-list versions". */
#include "server/rooms/rooms_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/peers.h"

void rooms_ident_set(rooms *r, const char *peer, const char *prefix, json_t *obj)
{
    peer_ident pi;
    char k[32];
    if (r->o.ident)
        r->o.ident(r->o.ident_arg, peer, &pi);
    else
        peers_identify(NULL, r->me_hex, "", peer, &pi);
    snprintf(k, sizeof k, "%sname", prefix);
    json_object_set_new(obj, k, json_string(pi.name));
    snprintf(k, sizeof k, "%strust", prefix);
    json_object_set_new(obj, k, json_string(peers_trust_name(pi.trust)));
    snprintf(k, sizeof k, "%slabel", prefix);
    json_object_set_new(obj, k, json_string(pi.label));
}

void rooms_peer_event(rooms *r, const char *type, json_t *data)
{
    pthread_mutex_lock(&r->lock);
    rooms_event_locked(r, type, NULL, data);
    pthread_mutex_unlock(&r->lock);
}

bool rooms_pub_matches(const uint8_t *der, size_t n, const char *peer)
{
    identity *id = NULL;
    char hex[IDENTITY_ID_HEX_LEN + 1];
    if (identity_from_der(&id, der, n) != NT_OK)
        return false;
    identity_id_hex(id, hex);
    identity_free(id);
    return strcmp(hex, peer) == 0;
}

/* ---- the rows a room keeps ------------------------------------------------ */

/* Host: the rows a new peer's may replace at the cap. A kicked peer's
 * row is what keeps it out of an open or password room, so there only
 * rows of peers that left go; a kicked peer of an invite-only room comes
 * back only by invitation, row or not, so there kicked rows go too. */
static members_which replaceable(const room_row *rm)
{
    return rm->access == ROOM_ACCESS_INVITE ? MEMBERS_DEPARTED : MEMBERS_LEFT;
}

nt_err rooms_members_room_for_locked(rooms *r, const room_row *rm)
{
    int64_t rows = 0, spare = 0;
    if (members_store_count(r->o.db, rm->id, MEMBERS_ALL, &rows) ||
        members_store_replaceable(r->o.db, rm->id, replaceable(rm), &spare))
        return NT_ERR_DB;
    return rows < ROOM_MEMBER_ROWS_MAX || spare > 0 ? NT_OK : NT_ERR_TOO_BIG;
}

nt_err rooms_members_make_room_locked(rooms *r, const room_row *rm)
{
    int64_t rows = 0;
    if (members_store_count(r->o.db, rm->id, MEMBERS_ALL, &rows))
        return NT_ERR_DB;
    if (rows < ROOM_MEMBER_ROWS_MAX)
        return NT_OK;
    nt_err rc = members_store_drop_oldest(r->o.db, rm->id, replaceable(rm));
    return rc == NT_ERR_NOT_FOUND ? NT_ERR_TOO_BIG : rc;
}

/* Member: room for a row of a peer it has none of; *rows counts the
 * room's rows. Its rows are bounded as its host's, at ROOM_MEMBER_ROWS_MAX:
 * there a new row replaces the oldest departed one, or when none is left
 * the oldest row of any state but the host's and this node's own. No
 * list is refused for the current members (joined or invited) it would
 * make: the host replaces rows at its cap without a word to its members,
 * so rows a member holds as current may be long gone on the host, and an
 * honest host's lists would be refused for good. */
static nt_err member_row_room_locked(rooms *r, const char *room, int64_t *rows)
{
    room_row rm;
    if (*rows < ROOM_MEMBER_ROWS_MAX)
        return NT_OK;
    nt_err rc = rooms_load_locked(r, room, &rm);
    if (!rc)
        rc = members_store_drop_oldest_but(r->o.db, room, rm.host, r->me_hex);
    if (rc)
        return rc == NT_ERR_NOT_FOUND ? NT_ERR_TOO_BIG : rc;
    (*rows)--;
    return NT_OK;
}

/* One row of a host's list at version ver (known: rows held before the
 * list; *rows: rows held now, a new row replacing an old one at
 * ROOM_MEMBER_ROWS_MAX: member_row_room_locked). A list reaches a member
 * by push and by fetch, each built when the host sent it, so an older one
 * can arrive after a newer one. Every
 * change of a row on the host has a version of its own, above the
 * versions of all the lists sent before it, and a list's version is at
 * least that of each row it carries: a row of an older list than the one
 * that gave us ours is never newer than ours, and is not taken. */
static void member_take_locked(rooms *r, const char *room, json_t *m, int64_t ver, int64_t known, int64_t *rows)
{
    const char *peer = json_string_value(json_object_get(m, "peer"));
    member_role role;
    member_state state;
    member_rec old;
    if (!rooms_valid_hex(peer, IDENTITY_ID_HEX_LEN) ||
        member_role_parse(json_string_value(json_object_get(m, "role")), &role) ||
        member_state_parse(json_string_value(json_object_get(m, "state")), &state))
        return;
    bool had = members_store_get(r->o.db, room, peer, &old) == NT_OK;
    if (had && old.mver > ver)
        return;
    size_t n = 0;
    uint8_t *der = rooms_b64_get(json_object_get(m, "pub"), IDENTITY_PUB_DER_MAX, &n);
    if (der && !rooms_pub_matches(der, n, peer)) { /* a key that does not hash to the id is refused */
        free(der);
        return;
    }
    nt_err rc = had ? NT_OK : member_row_room_locked(r, room, rows);
    if (!rc)
        rc = members_store_put(r->o.db, room, peer, role, state, der, n, ver);
    free(der);
    *rows += !rc && !had;
    if (rc) {
        log_warn("rooms: cannot store a member of %s: %s", room, err_str(rc));
        return;
    }
    /* a member we never knew of who has already gone is history (a
     * joiner's later pages), not a change anyone saw */
    bool news = had || state == MEMBER_JOINED || state == MEMBER_INVITED;
    if (known > 0 && news && (!had || old.state != state) && strcmp(peer, r->me_hex))
        rooms_event_locked(r, "membership", room,
                           json_pack("{s:s,s:s}", "peer", peer, "membership", member_state_name(state)));
}

/* The record from the host: a topic that differs from ours is stored and
 * becomes a `room` event (change "topic"). ri may be NULL. */
static void record_take_locked(rooms *r, const char *room, json_t *ri)
{
    const char *topic = json_string_value(json_object_get(ri, "topic"));
    room_row rm;
    if (!topic || strlen(topic) > ROOM_TOPIC_MAX || rooms_load_locked(r, room, &rm) || !strcmp(rm.topic, topic))
        return;
    nt_err rc = rooms_store_set_topic(r->o.db, room, topic);
    if (rc)
        log_warn("rooms: cannot store the topic of %s: %s", room, err_str(rc));
    else
        rooms_event_locked(r, "room", room, json_pack("{s:s}", "change", "topic"));
}

nt_err rooms_store_members_locked(rooms *r, const char *room, json_t *members, int64_t ver, json_t *record,
                                  size_t cap)
{
    size_t i;
    json_t *m;
    int64_t known = 0, held = 0;
    if (json_array_size(members) > cap)
        return NT_ERR_TOO_BIG;
    if (ver < 0)
        ver = 0; /* not a version: below every one */
    /* the first list (at join) is the starting point; later lists are
     * compared with what we knew, and changes become membership events */
    if (members_store_count(r->o.db, room, MEMBERS_ALL, &known))
        return NT_ERR_DB;
    int64_t rows = known;
    json_array_foreach(members, i, m) member_take_locked(r, room, m, ver, known, &rows);
    /* the record changes with no row stamped: only a list newer than the
     * version we hold brings a newer one */
    if (record && rooms_store_members_ver(r->o.db, room, &held) == NT_OK && ver > held)
        record_take_locked(r, room, record);
    if (ver > 0)
        if (rooms_store_members_ver_raise(r->o.db, room, ver))
            log_warn("rooms: cannot store the member list version of %s", room);
    return NT_OK;
}

/* The room's record (members, or its topic) moved on a version: the
 * pre-check's cache is stale, push-mode members get it pushed, poll-mode
 * ones waiting in a long poll get it from there. */
static void record_moved_locked(rooms *r)
{
    precheck_changed(r);
    rooms_wake_push_locked(r);
    rooms_log_grew_locked(r);
}

nt_err rooms_members_changed_locked(rooms *r, const char *room, const char *peer)
{
    nt_err rc = rooms_store_members_ver_bump(r->o.db, room);
    if (!rc)
        rc = members_store_stamp(r->o.db, room, peer);
    if (!rc)
        record_moved_locked(r);
    return rc;
}

nt_err rooms_record_changed_locked(rooms *r, const char *room)
{
    nt_err rc = rooms_store_members_ver_bump(r->o.db, room);
    if (!rc)
        record_moved_locked(r);
    return rc;
}

json_t *rooms_record_json_locked(rooms *r, const char *room)
{
    room_row rm;
    if (rooms_load_locked(r, room, &rm))
        return NULL;
    return json_pack("{s:s,s:s,s:s,s:s}", "id", rm.id, "name", rm.name, "topic", rm.topic, "access",
                     room_access_name(rm.access));
}

typedef struct {
    json_t *arr;
    bool with_pub;
    int64_t *last; /* may be NULL */
} member_rows;

/* A member row as {peer, role, state, delivery, cursor, pub?}; *last gets
 * its mver. */
static void member_add(void *arg, const member_rec *mr)
{
    member_rows *rows = arg;
    json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:I}", "peer", mr->peer, "role", member_role_name(mr->role), "state",
                          member_state_name(mr->state), "delivery", room_delivery_name(mr->delivery), "cursor", (json_int_t)mr->cursor);
    if (m && rows->with_pub && mr->pub_len > 0)
        json_object_set_new(m, "pub", rooms_b64_json(mr->pub, mr->pub_len));
    if (rows->last)
        *rows->last = mr->mver;
    json_array_append_new(rows->arr, m);
}

json_t *rooms_members_json_locked(rooms *r, const char *room)
{
    member_rows rows = {json_array(), false, NULL};
    if (members_store_current(r->o.db, room, member_add, &rows))
        log_warn("rooms: cannot list the members of %s", room);
    json_t *m;
    size_t i;
    json_array_foreach(rows.arr, i, m) rooms_ident_set(r, json_string_value(json_object_get(m, "peer")), "", m);
    return rows.arr;
}

json_t *rooms_members_since_json_locked(rooms *r, const char *room, int64_t ver, size_t max, int64_t *upto,
                                        bool *more)
{
    /* oldest change first: a capped batch still brings the member to a
     * version, the last row's, that it then holds in full (every change
     * has a version of its own; only rows from before versions share 0,
     * and the first batch, from -1, takes them) */
    int64_t last = ver < 0 ? 0 : ver;
    member_rows mr = {json_array(), true, &last};
    if (members_store_since(r->o.db, room, ver, max, member_add, &mr))
        log_warn("rooms: cannot list the member changes of %s", room);
    json_t *rows = mr.arr;
    bool full = json_array_size(rows) >= max;
    if (!full)
        if (rooms_store_members_ver(r->o.db, room, &last))
            log_warn("rooms: cannot read the member list version of %s", room);
    *upto = last;
    if (more)
        *more = full;
    return rows;
}
