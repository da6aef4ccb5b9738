/* rooms_join.c - the host's side of POST /v1/peer/rooms/{id}/join: who
 * may join (invited, open room, or the password), admitting the joiner,
 * and the reply with keys and the first page of the member list. A
 * password is checked with no lock held (rooms_pw_check, rooms_host.c). */
#include "rooms_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/platform_util.h>

/* A joiner's row in room: its state ("" when none). */
static void member_state_locked(rooms *r, const char *room, const char *peer, char state[static 12])
{
    state[0] = '\0';
    sqlite3_stmt *st = roomdb_prep(r->o.db, "SELECT state FROM room_members WHERE room=? AND peer=?", "ss", room, peer);
    if (st && sqlite3_step(st) == SQLITE_ROW)
        snprintf(state, 12, "%s", roomdb_text(st, 0));
    roomdb_done(st);
}

/* Whether peer may join room now. 0: yes; *pw_needed set when it may once
 * its password is checked (the room's hash is in *pw). Else the status,
 * with *reply set. */
static int join_gate_locked(rooms *r, const char *peer, const char *room, room_row *rm, bool *pw_needed,
                            room_pw *pw, json_t **reply)
{
    char state[12];
    *pw_needed = false;
    member_state_locked(r, room, peer, state);
    if (rooms_load_locked(r, room, rm) || strcmp(rm->state, "hosted"))
        return rooms_error(reply, 404, "not_found", "no such room here");
    if (!strcmp(state, "joined") || !strcmp(state, "invited"))
        return 0;
    /* an invite-only room never reveals itself to an uninvited node */
    if (strcmp(state, "kicked") && strcmp(rm->access, "invite") == 0)
        return rooms_error(reply, 404, "not_found", "no such room here");
    if (strcmp(state, "kicked") == 0 || (strcmp(rm->access, "open") && strcmp(rm->access, "password")))
        return rooms_error(reply, 403, "forbidden", "not invited, or kicked");
    if (strcmp(rm->access, "password") == 0) {
        if (rooms_pw_load_locked(r, room, pw))
            return rooms_error(reply, 403, "forbidden", "the room's password is not set");
        *pw_needed = true;
    }
    int64_t count = 0;
    roomdb_ignore(roomdb_int(r->o.db, &count, "SELECT count(*) FROM room_members WHERE room=? AND state IN "
                     "('joined','invited')", "s", room));
    if (count >= ROOM_MEMBERS_MAX)
        return rooms_error(reply, 409, "room_full", "the room has its maximum number of members");
    return 0;
}

/* Record peer as joined (unless it is already). */
static int join_admit_locked(rooms *r, const char *peer, const char *room, room_row *rm, const uint8_t *der, size_t n,
                             const char *dl, json_t **reply)
{
    char state[12];
    member_state_locked(r, room, peer, state);
    if (strcmp(state, "joined") == 0)
        return 0;
    nt_err rc = roomdb_begin(r->o.db);
    if (!rc)
        rc = roomdb_exec(r->o.db,
                         "INSERT INTO room_members(room,peer,state,pub,delivery,cursor,key_epoch,from_epoch,"
                         "from_seq) VALUES(?1,?2,'joined',?3,?4,?5,?6,?6,?5) ON CONFLICT(room,peer) DO UPDATE "
                         "SET state='joined', pub=?3, delivery=?4, cursor=?5, key_epoch=?6, from_epoch=?6, "
                         "from_seq=?5, notice='', next_try=0, fails=0",
                         "ssbsii", room, peer, der, n, dl, rm->head, rm->epoch);
    if (!rc)
        rc = rooms_members_changed_locked(r, room, peer);
    /* the joiner gets the whole list in this reply */
    if (!rc)
        rc = roomdb_exec(r->o.db, "UPDATE room_members SET members_seen=(SELECT members_ver FROM rooms WHERE "
                         "id=?1) WHERE room=?1 AND peer=?2", "ss", room, peer);
    if (!rc) {
        rooms_event_locked(r, "membership", room, json_pack("{s:s,s:s}", "peer", peer, "membership", "joined"));
        rc = roomdb_commit(r->o.db);
    }
    if (rc) {
        roomdb_rollback(r->o.db);
        return rooms_error(reply, 500, "internal", err_str(rc));
    }
    rm->members_ver++;
    return 0;
}

static void join_reply_locked(rooms *r, const char *peer, const char *room, const room_row *rm, json_t **reply)
{
    int64_t from_seq = rm->head, upto = 0;
    roomdb_ignore(roomdb_int(r->o.db, &from_seq, "SELECT from_seq FROM room_members WHERE room=? AND peer=?", "ss", room, peer));
    /* the first page of the list; a joiner of a room with a long history
     * fetches the rest (GET members?since=members_ver) */
    bool more = false;
    json_t *members = rooms_members_since_json_locked(r, room, -1, ROOM_MEMBERS_PAGE, &upto, &more);
    if (more)
        roomdb_ignore(roomdb_exec(r->o.db, "UPDATE room_members SET members_seen=? WHERE room=? AND peer=?", "iss",
                                  upto, room, peer));
    *reply = json_pack("{s:o,s:o,s:o,s:I,s:I,s:b}", "room", rooms_room_json_locked(r, rm), "keys",
                       rooms_member_keys_locked(r, room, peer, 0, false, ROOM_KEYS_PAGE, NULL), "members", members, "from_seq",
                       (json_int_t)from_seq, "members_ver", (json_int_t)upto, "members_more", more);
}

/* The gate under the lock; a password is hashed with no lock held (it
 * takes a core for a tenth of a second or more), and the gate is passed
 * again after it, with the same hash, before the peer is admitted. */
int rooms_peer_join(rooms *r, const char *peer, const char *room, json_t *body, json_t **reply)
{
    size_t n = 0;
    uint8_t *der = rooms_b64_get_public(json_object_get(body, "pub"), IDENTITY_PUB_DER_MAX, &n);
    const char *pw = json_string_value(json_object_get(body, "password"));
    const char *dl = json_string_value(json_object_get(body, "delivery"));
    room_row rm;
    room_pw hash, again;
    bool need = false, need_again = false;
    int status = 0;
    if (!dl)
        dl = "push";
    if (!der || (strcmp(dl, "push") && strcmp(dl, "poll"))) {
        status = rooms_error(reply, 400, "bad_request", "pub (base64 DER) required; delivery push or poll");
        goto out;
    }
    if (!rooms_pub_matches(der, n, peer)) {
        status = rooms_error(reply, 401, "bad_key", "pub does not hash to the session's peer id");
        goto out;
    }
    pthread_mutex_lock(&r->lock);
    status = join_gate_locked(r, peer, room, &rm, &need, &hash, reply);
    pthread_mutex_unlock(&r->lock);
    if (status || (need && (status = rooms_pw_check(r, peer, room, &hash, pw, reply))))
        goto out;
    pthread_mutex_lock(&r->lock);
    status = join_gate_locked(r, peer, room, &rm, &need_again, &again, reply);
    if (!status && need_again && (!need || !rooms_pw_same(&hash, &again)))
        status = rooms_error(reply, 409, "conflict", "the room's access changed: try again");
    if (!status)
        status = join_admit_locked(r, peer, room, &rm, der, n, dl, reply);
    if (!status)
        join_reply_locked(r, peer, room, &rm, reply);
    pthread_mutex_unlock(&r->lock);
out:
    mbedtls_platform_zeroize(&hash, sizeof hash);
    mbedtls_platform_zeroize(&again, sizeof again);
    free(der);
    return status ? status : 200;
}
