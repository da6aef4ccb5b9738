/* rooms_join.c - the host's side of POST /v1/peer/rooms/{id}/join: who
 * may join (invited, open room, or the password), admitting the joiner,
 * and the reply with keys and the first page of the member list. A
 * password is checked with no lock held (rooms_pw_check, rooms_host.c). */
#include "server/rooms/rooms_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/platform_util.h>

#include "crypto/encoding.h"

/* ---- the joins budget ------------------------------------------------------ */

static_assert(IDENTITY_ID_LEN >= RATELIMIT_KEY_MAX, "a peer's key is a prefix of its id");

nt_err rooms_join_budget_new(rooms *r, unsigned join_rate)
{
    r->join_rate = join_rate ? join_rate : ROOM_JOIN_RATE_DEFAULT;
    if (r->join_rate > ROOM_JOIN_RATE_MAX)
        return NT_ERR_INVALID;
    return ratelimit_new(&r->join_rl, &(ratelimit_config){.rate_per_s = 1, .burst = r->join_rate},
                         ROOM_JOIN_RL_SLOTS);
}

/* Take one join from peer's budget. The table counts tokens per second,
 * so its clock runs join_rate/60 times as fast as ours: one token per
 * second there is join_rate a minute here. The key is the first 16 bytes
 * of the id: another id that shares them takes some 2^128 tries to make. */
static bool join_budget_take(rooms *r, const char *peer)
{
    uint8_t key[RATELIMIT_KEY_MAX];
    size_t n = 0;
    if (encoding_hex_decode(peer, 2 * sizeof key, key, sizeof key, &n) || n != sizeof key)
        return false;
    int64_t t = rooms_now(r) * (int64_t)r->join_rate / 60;
    pthread_mutex_lock(&r->join_mu);
    bool ok = ratelimit_allow(r->join_rl, key, n, t);
    pthread_mutex_unlock(&r->join_mu);
    return ok;
}

/* Seconds until the budget holds a join again: at most one token's time. */
static int64_t join_retry_after(const rooms *r)
{
    return (60 + (int64_t)r->join_rate - 1) / (int64_t)r->join_rate;
}

/* ---- who may join ---------------------------------------------------------- */

/* A joiner's row in room: NT_OK with its state, NT_ERR_NOT_FOUND when
 * it has none. */
static nt_err member_state_locked(rooms *r, const char *room, const char *peer, member_state *state)
{
    member_rec mr;
    nt_err rc = members_store_get(r->o.db, room, peer, &mr);
    if (!rc)
        *state = mr.state;
    return rc;
}

/* Whether peer may join room now. REFUSE_NONE: yes; *pw_needed set when
 * it may once its password is checked (the room's hash is in *pw). Else
 * the refusal, with a->body set. */
static rooms_refusal join_gate_locked(rooms *r, const char *peer, const char *room, room_row *rm, bool *pw_needed,
                                      room_pw *pw, rooms_answer *a)
{
    member_state state;
    *pw_needed = false;
    nt_err rc = member_state_locked(r, room, peer, &state);
    if (rc && rc != NT_ERR_NOT_FOUND)
        return rooms_decline(a, REFUSE_BUSY, "could not read the member list");
    bool known = rc == NT_OK, kicked = known && state == MEMBER_KICKED;
    if (rooms_load_locked(r, room, rm) || rm->state != ROOM_HOSTED)
        return rooms_decline(a, REFUSE_NOT_FOUND, "no such room here");
    if (known && (state == MEMBER_JOINED || state == MEMBER_INVITED))
        return REFUSE_NONE;
    /* an invite-only room never reveals itself to an uninvited node */
    if (!kicked && rm->access == ROOM_ACCESS_INVITE)
        return rooms_decline(a, REFUSE_NOT_FOUND, "no such room here");
    if (kicked || (rm->access != ROOM_ACCESS_OPEN && rm->access != ROOM_ACCESS_PASSWORD))
        return rooms_decline(a, REFUSE_FORBIDDEN, "not invited, or kicked");
    if (rm->access == ROOM_ACCESS_PASSWORD) {
        if (rooms_pw_load_locked(r, room, pw))
            return rooms_decline(a, REFUSE_FORBIDDEN, "the room's password is not set");
        *pw_needed = true;
    }
    int64_t count = 0;
    if (members_store_count(r->o.db, room, MEMBERS_CURRENT, &count))
        return rooms_decline(a, REFUSE_BUSY, "could not read the member list");
    if (count >= ROOM_MEMBERS_MAX)
        return rooms_decline(a, REFUSE_ROOM_FULL, "the room has its maximum number of members");
    /* a new peer's row: at the cap it replaces a departed peer's */
    rc = known ? NT_OK : rooms_members_room_for_locked(r, rm);
    if (rc == NT_ERR_TOO_BIG)
        return rooms_decline(a, REFUSE_ROOM_FULL, "the room keeps as many member rows as it can, none replaceable");
    if (rc)
        return rooms_decline(a, REFUSE_BUSY, "could not read the member list");
    return REFUSE_NONE;
}

/* Record peer as joined (unless it is already). */
static rooms_refusal join_admit_locked(rooms *r, const char *peer, const char *room, room_row *rm,
                                       const uint8_t *der, size_t n, room_delivery dl, rooms_answer *a)
{
    member_state state;
    nt_err had = member_state_locked(r, room, peer, &state);
    if (had == NT_OK && state == MEMBER_JOINED)
        return REFUSE_NONE;
    nt_err rc = roomdb_begin(r->o.db);
    if (!rc && had != NT_OK) /* a new row: the gate saw room for it, or a row to replace */
        rc = rooms_members_make_room_locked(r, rm);
    if (!rc)
        rc = members_store_admit(r->o.db, room, peer, der, n, dl, rm->head, rm->epoch);
    if (!rc)
        rc = rooms_members_changed_locked(r, room, peer);
    /* the joiner gets the whole list in this reply */
    if (!rc)
        rc = members_store_seen_current(r->o.db, room, peer);
    if (!rc) {
        rooms_event_locked(r, "membership", room, json_pack("{s:s,s:s}", "peer", peer, "membership", "joined"));
        rc = roomdb_commit(r->o.db);
    }
    if (rc) {
        roomdb_rollback(r->o.db);
        return rooms_decline(a, REFUSE_INTERNAL, err_str(rc));
    }
    rm->members_ver++;
    return REFUSE_NONE;
}

static void join_reply_locked(rooms *r, const char *peer, const char *room, const room_row *rm, rooms_answer *a)
{
    int64_t from_seq = rm->head, from_epoch = rm->epoch, upto = 0, joined_ver = rm->members_ver;
    member_rec mr;
    if (members_store_get(r->o.db, room, peer, &mr) == NT_OK) {
        from_seq = mr.from_seq;
        from_epoch = mr.from_epoch;
        joined_ver = mr.mver;
    }
    /* the first page of the list; a joiner of a room with a long history
     * fetches the rest (GET members?since=members_ver) */
    bool more = false;
    json_t *members = rooms_members_since_json_locked(r, room, -1, ROOM_MEMBERS_PAGE, &upto, &more);
    if (more && members_store_set_seen(r->o.db, room, peer, upto))
        log_warn("rooms: cannot store the member list version %s holds", peer);
    /* membership_ver: the version the joiner's row changed at, its admission
     * (a kick pushed to it is stale if recorded before) */
    a->body = json_pack("{s:o,s:o,s:o,s:I,s:I,s:I,s:b,s:I}", "room", rooms_room_json_locked(r, rm), "keys",
                       rooms_member_keys_locked(r, room, peer, 0, false, ROOM_KEYS_PAGE, NULL), "members", members, "from_seq",
                       (json_int_t)from_seq, "from_epoch", (json_int_t)from_epoch, "members_ver", (json_int_t)upto,
                       "members_more", more, "membership_ver", (json_int_t)joined_ver);
}

/* The gate under the lock; a password is hashed with no lock held (it
 * takes a core for a tenth of a second or more), and the gate is passed
 * again after it, with the same hash, before the peer is admitted. */
rooms_refusal rooms_peer_join(rooms *r, const char *peer, const char *room, json_t *body, rooms_answer *a)
{
    /* first, before the key is read or any row: a refused join costs
     * nothing and changes nothing */
    if (!join_budget_take(r, peer)) {
        atomic_fetch_add(&r->joins_limited, 1);
        return rooms_rate_limited(a, join_retry_after(r), "too many joins from this node: try again later");
    }
    size_t n = 0;
    uint8_t *der = rooms_b64_get_public(json_object_get(body, "pub"), IDENTITY_PUB_DER_MAX, &n);
    const char *pw = json_string_value(json_object_get(body, "password"));
    const char *dls = json_string_value(json_object_get(body, "delivery"));
    room_delivery dl = ROOM_PUSH;
    room_row rm;
    room_pw hash, again;
    bool need = false, need_again = false;
    rooms_refusal why = REFUSE_NONE;
    if (!der || (dls && room_delivery_parse(dls, &dl))) {
        why = rooms_decline(a, REFUSE_BAD_REQUEST, "pub (base64 DER) required; delivery push or poll");
        goto out;
    }
    if (!rooms_pub_matches(der, n, peer)) {
        why = rooms_decline(a, REFUSE_BAD_KEY, "pub does not hash to the session's peer id");
        goto out;
    }
    pthread_mutex_lock(&r->lock);
    why = join_gate_locked(r, peer, room, &rm, &need, &hash, a);
    pthread_mutex_unlock(&r->lock);
    if (why || (need && (why = rooms_pw_check(r, peer, room, &hash, pw, a))))
        goto out;
    pthread_mutex_lock(&r->lock);
    why = join_gate_locked(r, peer, room, &rm, &need_again, &again, a);
    if (!why && need_again && (!need || !rooms_pw_same(&hash, &again)))
        why = rooms_decline(a, REFUSE_CONFLICT, "the room's access changed: try again");
    if (!why)
        why = join_admit_locked(r, peer, room, &rm, der, n, dl, a);
    if (!why)
        join_reply_locked(r, peer, room, &rm, a);
    pthread_mutex_unlock(&r->lock);
out:
    mbedtls_platform_zeroize(&hash, sizeof hash);
    mbedtls_platform_zeroize(&again, sizeof again);
    free(der);
    return why;
}
