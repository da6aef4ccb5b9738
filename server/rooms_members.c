/* rooms_members.c - member lists: the host's member-list versions (a
 * change of any member's row bumps the room's members_ver; each row keeps
 * the version it changed at), the lists as JSON (whole, or the changes
 * since a version, which the push loop sends), and a member's stored copy
 * of its host's list. See api-spec/protocol.md "Member-list versions". */
#include "rooms_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../storage/peers.h"

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

static bool one_of(const char *s, const char *const *set)
{
    for (; s && *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

void rooms_store_members_locked(rooms *r, const char *room, json_t *members, int64_t ver)
{
    static const char *const roles[] = {"master", "member", NULL};
    static const char *const states[] = {"joined", "invited", "left", "kicked", NULL};
    size_t i;
    json_t *m;
    int64_t known = 0;
    /* the first list (at join) is the starting point; later lists are
     * compared with what we knew, and changes become membership events */
    roomdb_ignore(roomdb_int(r->o.db, &known, "SELECT count(*) FROM room_members WHERE room=?", "s", room));
    json_array_foreach(members, i, m) {
        const char *peer = json_string_value(json_object_get(m, "peer"));
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *state = json_string_value(json_object_get(m, "state"));
        if (!rooms_valid_hex(peer, IDENTITY_ID_HEX_LEN) || !one_of(role, roles) || !one_of(state, states))
            continue;
        size_t n = 0;
        uint8_t *der = rooms_b64_get(json_object_get(m, "pub"), IDENTITY_PUB_DER_MAX, &n);
        if (der && !rooms_pub_matches(der, n, peer)) { /* a key that does not hash to the id is refused */
            free(der);
            continue;
        }
        char old[12] = "";
        sqlite3_stmt *st = roomdb_prep(r->o.db, "SELECT state FROM room_members WHERE room=? AND peer=?", "ss", room,
                                       peer);
        if (st && sqlite3_step(st) == SQLITE_ROW)
            snprintf(old, sizeof old, "%s", roomdb_text(st, 0));
        roomdb_done(st);
        roomdb_ignore(roomdb_exec(r->o.db,
                          "INSERT INTO room_members(room,peer,role,state,pub) VALUES(?1,?2,?3,?4,?5) "
                          "ON CONFLICT(room,peer) DO UPDATE SET role=?3, state=?4, pub=coalesce(?5,pub)",
                          "ssssb", room, peer, role, state, der, n));
        free(der);
        /* a member we never knew of who has already gone is history (a
         * joiner's later pages), not a change anyone saw */
        bool news = old[0] || !strcmp(state, "joined") || !strcmp(state, "invited");
        if (known > 0 && news && strcmp(old, state) && strcmp(peer, r->me_hex))
            rooms_event_locked(r, "membership", room, json_pack("{s:s,s:s}", "peer", peer, "membership", state));
    }
    if (ver > 0)
        roomdb_ignore(roomdb_exec(r->o.db, "UPDATE rooms SET members_ver=max(members_ver,?) WHERE id=?", "is", ver,
                                  room));
}

nt_err rooms_members_changed_locked(rooms *r, const char *room, const char *peer)
{
    nt_err rc = roomdb_exec(r->o.db, "UPDATE rooms SET members_ver=members_ver+1 WHERE id=?", "s", room);
    if (!rc)
        rc = roomdb_exec(r->o.db, "UPDATE room_members SET mver=(SELECT members_ver FROM rooms WHERE id=?1) "
                         "WHERE room=?1 AND peer=?2", "ss", room, peer);
    if (rc)
        return rc;
    precheck_changed(r);
    rooms_wake_push_locked(r);
    pthread_cond_broadcast(&r->log_cond); /* poll-mode members waiting in a long poll */
    return NT_OK;
}

/* Rows of a member list query as [{peer, role, state, delivery, cursor,
 * pub?}]; *last (if not NULL) gets the last row's column 6. */
static json_t *members_rows_locked(sqlite3_stmt *st, bool with_pub, int64_t *last)
{
    json_t *arr = json_array();
    while (st && arr && sqlite3_step(st) == SQLITE_ROW) {
        json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:I}", "peer", roomdb_text(st, 0), "role", roomdb_text(st, 1), "state",
                              roomdb_text(st, 2), "delivery", roomdb_text(st, 3), "cursor",
                              (json_int_t)sqlite3_column_int64(st, 4));
        if (m && with_pub && sqlite3_column_bytes(st, 5) > 0)
            json_object_set_new(m, "pub", rooms_b64_json(sqlite3_column_blob(st, 5), (size_t)sqlite3_column_bytes(st, 5)));
        if (last)
            *last = sqlite3_column_int64(st, 6);
        json_array_append_new(arr, m);
    }
    roomdb_done(st);
    return arr;
}

json_t *rooms_members_json_locked(rooms *r, const char *room)
{
    sqlite3_stmt *st = roomdb_prep(r->o.db,
                                   "SELECT peer,role,state,delivery,cursor,pub,mver FROM room_members WHERE room=? AND "
                                   "state IN ('joined','invited') ORDER BY role='master' DESC, peer",
                                   "s", room);
    json_t *arr = members_rows_locked(st, false, NULL), *m;
    size_t i;
    json_array_foreach(arr, i, m) rooms_ident_set(r, json_string_value(json_object_get(m, "peer")), "", m);
    return arr;
}

json_t *rooms_members_since_json_locked(rooms *r, const char *room, int64_t ver, size_t max, int64_t *upto,
                                        bool *more)
{
    /* oldest change first: a capped batch still brings the member to a
     * version, the last row's, that it then holds in full (every change
     * has a version of its own; only rows from before versions share 0,
     * and the first batch, from -1, takes them) */
    sqlite3_stmt *st = roomdb_prep(r->o.db,
                                   "SELECT peer,role,state,delivery,cursor,pub,mver FROM room_members WHERE room=? AND "
                                   "mver>? ORDER BY mver,peer LIMIT ?",
                                   "sii", room, ver, (int64_t)max);
    int64_t last = ver < 0 ? 0 : ver;
    json_t *rows = members_rows_locked(st, true, &last);
    bool full = json_array_size(rows) >= max;
    if (!full)
        roomdb_ignore(roomdb_int(r->o.db, &last, "SELECT members_ver FROM rooms WHERE id=?", "s", room));
    *upto = last;
    if (more)
        *more = full;
    return rows;
}
