/* rooms_host.c - what only a room's master does for its own user:
 * create a room (with its password hash), invite, kick, rekey. The
 * password is never stored: PBKDF2-HMAC-SHA256 with a random salt,
 * compared in constant time. */
#include "server/rooms/rooms_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>

#include "crypto/encoding.h"
#include "crypto/rng.h"

#define PBKDF2_DEFAULT_ITER 150000

/* ---- password ---------------------------------------------------------- */

static nt_err pw_hash(const char *pw, const uint8_t *salt, unsigned iter, uint8_t out[static ROOM_PW_HASH_LEN])
{
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    int e = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1);
    if (!e)
        e = mbedtls_pkcs5_pbkdf2_hmac(&md, (const unsigned char *)pw, strlen(pw), salt, ROOM_SALT_LEN, iter,
                                      ROOM_PW_HASH_LEN, out);
    mbedtls_md_free(&md);
    return e ? NT_ERR_CRYPTO : NT_OK;
}

nt_err rooms_pw_load_locked(rooms *r, const char *room, room_pw *out)
{
    memset(out, 0, sizeof *out);
    return rooms_store_pw(r->o.db, room, out->salt, out->hash, &out->iter);
}

bool rooms_pw_same(const room_pw *a, const room_pw *b)
{
    return a->iter == b->iter && memcmp(a->salt, b->salt, ROOM_SALT_LEN) == 0 &&
           memcmp(a->hash, b->hash, ROOM_PW_HASH_LEN) == 0;
}

rooms_refusal rooms_rate_limited(rooms_answer *a, int64_t retry_after, const char *msg)
{
    rooms_refusal why = rooms_decline(a, REFUSE_RATE_LIMITED, msg);
    json_object_set_new(a->body, "retry_after", json_integer(retry_after));
    return why;
}

/* One token of the (peer, room) bucket: key = 8 bytes of each id. */
static bool pw_attempt_allowed(rooms *r, const char *peer, const char *room)
{
    uint8_t key[16];
    size_t n = 0;
    if (encoding_hex_decode(peer, 16, key, 8, &n) || n != 8 || encoding_hex_decode(room, 16, key + 8, 8, &n) ||
        n != 8)
        return false;
    /* the bucket's clock runs ten times slower: one attempt per 10 s */
    pthread_mutex_lock(&r->pw_mu);
    bool ok = ratelimit_allow(r->pw_rl, key, sizeof key, rooms_now(r) / ROOM_PW_SLOWDOWN);
    pthread_mutex_unlock(&r->pw_mu);
    return ok;
}

rooms_refusal rooms_pw_check(rooms *r, const char *peer, const char *room, const room_pw *pw, const char *given,
                             rooms_answer *a)
{
    if (!given)
        return rooms_decline(a, REFUSE_PASSWORD_REQUIRED, "this room needs a password");
    if (!pw_attempt_allowed(r, peer, room))
        return rooms_rate_limited(a, ROOM_PW_SLOWDOWN, "too many password attempts for this room");
    if (atomic_fetch_add(&r->pw_checks, 1) >= ROOM_PW_CHECKS_MAX) {
        atomic_fetch_sub(&r->pw_checks, 1);
        return rooms_rate_limited(a, 1, "too many password checks at once");
    }
    uint8_t h[ROOM_PW_HASH_LEN];
    bool ok = pw_hash(given, pw->salt, pw->iter, h) == NT_OK &&
              mbedtls_ct_memcmp(h, pw->hash, ROOM_PW_HASH_LEN) == 0;
    mbedtls_platform_zeroize(h, sizeof h);
    atomic_fetch_sub(&r->pw_checks, 1);
    return ok ? REFUSE_NONE : rooms_decline(a, REFUSE_WRONG_PASSWORD, "wrong password");
}

/* ---- host operations (called by roomapi.c for the master's user) ------- */

static bool valid_text(json_t *j, size_t max, bool required)
{
    if (!j)
        return !required;
    const char *s = json_string_value(j);
    return s && strlen(s) <= max && (!required || s[0]);
}

/* NT_ERR_EXISTS when this node already hosts a room called name. */
static nt_err name_free_locked(rooms *r, const char *name)
{
    int64_t n = 0;
    nt_err rc = rooms_store_hosted_named(r->o.db, name, &n);
    return rc ? rc : n ? NT_ERR_EXISTS : NT_OK;
}

rooms_refusal rooms_host_create(rooms *r, json_t *body, rooms_answer *a)
{
    json_t *jn = json_object_get(body, "name"), *jt = json_object_get(body, "topic");
    json_t *ja = json_object_get(body, "access"), *jp = json_object_get(body, "password");
    json_t *jm = json_object_get(body, "rotate_messages"), *js = json_object_get(body, "rotate_seconds");
    if (!json_is_object(body))
        return rooms_decline(a, REFUSE_BAD_REQUEST, "body must be a JSON object");
    if (json_is_string(jn) && strlen(json_string_value(jn)) > ROOM_NAME_MAX)
        return rooms_decline(a, REFUSE_TOO_LARGE, "name is over 100 bytes");
    if (!valid_text(jn, ROOM_NAME_MAX, true) || !valid_text(jt, ROOM_TOPIC_MAX, false))
        return rooms_decline(a, REFUSE_BAD_REQUEST, "name (1-100 bytes) and topic (<= 1000 bytes) are strings");
    room_access access = ROOM_ACCESS_INVITE;
    if (ja && room_access_parse(json_string_value(ja), &access))
        return rooms_decline(a, REFUSE_BAD_REQUEST, "access is invite, open or password");
    bool need_pw = access == ROOM_ACCESS_PASSWORD;
    if (need_pw != (jp != NULL) || (jp && !valid_text(jp, ROOM_PASSWORD_MAX, true)))
        return rooms_decline(a, REFUSE_BAD_REQUEST, "password (1-256 bytes) is required exactly for access password");
    json_int_t rm = jm ? json_integer_value(jm) : 100, rs = js ? json_integer_value(js) : 604800;
    if ((jm && !json_is_integer(jm)) || (js && !json_is_integer(js)) || rm < 1 || rm > 1000000 || rs < 1 ||
        rs > 31536000)
        return rooms_decline(a, REFUSE_BAD_REQUEST, "rotate_messages 1..1000000, rotate_seconds 1..31536000");

    pthread_mutex_lock(&r->lock); /* before the slow hash: a taken name costs nothing */
    nt_err nrc = name_free_locked(r, json_string_value(jn));
    pthread_mutex_unlock(&r->lock);
    if (nrc == NT_ERR_EXISTS)
        return rooms_decline(a, REFUSE_CONFLICT, "this node already hosts a room with that name");
    uint8_t idb[ROOM_ID_LEN], salt[ROOM_SALT_LEN], h[ROOM_PW_HASH_LEN] = {0};
    char id[ROOM_ID_HEX_LEN + 1];
    unsigned iter = r->o.pbkdf2_iter ? r->o.pbkdf2_iter : PBKDF2_DEFAULT_ITER;
    if (rng_bytes(idb, sizeof idb) || rng_bytes(salt, sizeof salt) ||
        encoding_hex_encode(idb, sizeof idb, id, sizeof id))
        return rooms_decline(a, REFUSE_INTERNAL, "no randomness");
    if (need_pw && pw_hash(json_string_value(jp), salt, iter, h))
        return rooms_decline(a, REFUSE_INTERNAL, "password hash failed");

    room_row rw;
    pthread_mutex_lock(&r->lock);
    nt_err rc = name_free_locked(r, json_string_value(jn)); /* again: a create may have run meanwhile */
    if (rc == NT_ERR_EXISTS) {
        pthread_mutex_unlock(&r->lock);
        mbedtls_platform_zeroize(h, sizeof h);
        return rooms_decline(a, REFUSE_CONFLICT, "this node already hosts a room with that name");
    }
    if (!rc)
        rc = roomdb_begin(r->o.db);
    if (!rc)
        rc = rooms_store_create(r->o.db, &(room_new){.id = id, .name = json_string_value(jn),
                                                     .topic = jt ? json_string_value(jt) : "", .host = r->me_hex,
                                                     .access = access, .salt = need_pw ? salt : NULL,
                                                     .hash = need_pw ? h : NULL, .pw_iter = iter, .rot_msgs = rm,
                                                     .rot_secs = rs, .created = rooms_now(r)});
    if (!rc)
        rc = members_store_add_master(r->o.db, id, r->me_hex, r->me_der, r->me_der_len);
    if (!rc)
        rc = rooms_load_locked(r, id, &rw);
    if (!rc)
        rc = rooms_rotate_locked(r, &rw, ROOM_ROT_CREATED);
    if (!rc) {
        rooms_event_locked(r, "room", id, json_pack("{s:s}", "change", "created"));
        rc = roomdb_commit(r->o.db);
    } else {
        roomdb_rollback(r->o.db);
    }
    if (!rc) {
        a->body = rooms_room_json_locked(r, &rw);
        a->created = true;
    }
    pthread_mutex_unlock(&r->lock);
    mbedtls_platform_zeroize(h, sizeof h);
    return rc ? rooms_decline(a, REFUSE_INTERNAL, err_str(rc)) : REFUSE_NONE;
}

/* invite / kick / rekey by the master's own user. */
/* The change of an invite, kick or rekey, in one commit. An invitee
 * reads from its invitation on, with the keys from the epoch current at
 * it; a node that was a member before (it left or was kicked) is invited
 * under a new epoch when the current one has sealed messages, which were
 * written while it was away, so its keys open nothing from then. */
static nt_err member_op_commit_locked(rooms *r, room_row *rm, rooms_api_op op, const char *peer, bool joined,
                                      bool former, bool has_row)
{
    const char *room = rm->id;
    nt_err rc = roomdb_begin(r->o.db);
    if (rc)
        return rc;
    if (op == ROOMS_API_INVITE) {
        if (!has_row) /* at the cap, a departed peer's row makes way */
            rc = rooms_members_make_room_locked(r, rm);
        if (!rc && former && rm->since_rot > 0)
            rc = rooms_rotate_locked(r, rm, ROOM_ROT_REINVITE);
        if (!rc)
            rc = members_store_invite(r->o.db, room, peer, rm->head, rm->epoch);
        if (!rc)
            rc = rooms_members_changed_locked(r, room, peer);
        if (!rc)
            rooms_event_locked(r, "membership", room, json_pack("{s:s,s:s}", "peer", peer, "membership", "invited"));
        rooms_wake_push_locked(r);
    } else if (op == ROOMS_API_KICK) {
        rc = members_store_kick(r->o.db, room, peer);
        if (!rc)
            rc = rooms_members_changed_locked(r, room, peer);
        if (!rc)
            rooms_event_locked(r, "membership", room, json_pack("{s:s,s:s}", "peer", peer, "membership", "kicked"));
        if (!rc && joined)
            rc = rooms_rotate_locked(r, rm, ROOM_ROT_KICK);
    } else {
        rc = rooms_rotate_locked(r, rm, ROOM_ROT_REKEY);
    }
    if (!rc)
        return roomdb_commit(r->o.db);
    roomdb_rollback(r->o.db);
    return rc;
}

rooms_refusal rooms_host_member_op(rooms *r, const char *room, rooms_api_op op, json_t *body, rooms_answer *a)
{
    room_row rm;
    const char *peer = json_string_value(json_object_get(body, "peer"));
    bool rekey = op == ROOMS_API_REKEY;
    if (!rekey && !rooms_valid_hex(peer, IDENTITY_ID_HEX_LEN))
        return rooms_decline(a, REFUSE_BAD_REQUEST, "peer must be a node id (64 lowercase hex)");
    pthread_mutex_lock(&r->lock);
    rooms_refusal why = REFUSE_NONE;
    nt_err rc = rooms_load_locked(r, room, &rm);
    if (rc) {
        why = rooms_decline(a, REFUSE_NOT_FOUND, "no such room");
        goto out;
    }
    if (rm.state != ROOM_HOSTED) {
        why = rooms_decline(a, REFUSE_NOT_MASTER, "only the room's master may do this");
        goto out;
    }
    if (!rekey && strcmp(peer, r->me_hex) == 0) {
        why = rooms_decline(a, REFUSE_CONFLICT, "the master is always a member");
        goto out;
    }
    bool joined = false, exists = false, former = false, has_row = false;
    member_rec mr;
    if (!rekey && (rc = members_store_get(r->o.db, room, peer, &mr)) != NT_ERR_NOT_FOUND) {
        if (rc)
            goto dberr;
        has_row = true;
        joined = mr.state == MEMBER_JOINED;
        exists = joined || mr.state == MEMBER_INVITED;
        former = mr.state == MEMBER_LEFT || mr.state == MEMBER_KICKED;
    }
    if (op == ROOMS_API_KICK && !exists) {
        why = rooms_decline(a, REFUSE_NO_SUCH_MEMBER, "that peer is not a member");
        goto out;
    }
    if (op == ROOMS_API_INVITE && joined) {
        a->body = json_pack("{s:s,s:s,s:s}", "peer", peer, "role", "member", "state", "joined");
        goto out;
    }
    int64_t count = 0;
    if ((rc = members_store_count(r->o.db, room, MEMBERS_CURRENT, &count)))
        goto dberr;
    if (op == ROOMS_API_INVITE && !exists && count >= ROOM_MEMBERS_MAX) {
        why = rooms_decline(a, REFUSE_ROOM_FULL, "the room has its maximum number of members");
        goto out;
    }
    /* a new peer adds a row: a room keeps no more than its members take
     * (ROOM_MEMBER_ROWS_MAX), and at the cap the oldest row of a departed
     * peer makes way for it */
    if (op == ROOMS_API_INVITE && !has_row && (rc = rooms_members_room_for_locked(r, &rm))) {
        if (rc != NT_ERR_TOO_BIG)
            goto dberr;
        why = rooms_decline(a, REFUSE_ROOM_FULL, "the room keeps as many member rows as it can, none replaceable");
        goto out;
    }
    rc = member_op_commit_locked(r, &rm, op, peer, joined, former, has_row);
    if (rc)
        goto dberr;
    if (op == ROOMS_API_INVITE)
        a->body = json_pack("{s:s,s:s,s:s}", "peer", peer, "role", "member", "state", "invited");
    else
        a->body = rooms_room_json_locked(r, &rm);
    goto out;
dberr:
    why = rooms_decline(a, REFUSE_INTERNAL, err_str(rc));
out:
    pthread_mutex_unlock(&r->lock);
    return why;
}


/* The topic in one commit with the version that carries it to the
 * members and the host's own `room` event; the same topic again changes
 * nothing. */
static nt_err topic_commit_locked(rooms *r, room_row *rm, const char *topic)
{
    if (!strcmp(rm->topic, topic))
        return NT_OK;
    nt_err rc = roomdb_begin(r->o.db);
    if (rc)
        return rc;
    rc = rooms_store_set_topic(r->o.db, rm->id, topic);
    if (!rc)
        rc = rooms_record_changed_locked(r, rm->id);
    if (!rc) {
        rooms_event_locked(r, "room", rm->id, json_pack("{s:s}", "change", "topic"));
        rc = roomdb_commit(r->o.db);
    }
    if (rc) {
        roomdb_rollback(r->o.db);
        return rc;
    }
    snprintf(rm->topic, sizeof rm->topic, "%s", topic);
    rm->members_ver++;
    return NT_OK;
}

rooms_refusal rooms_host_update(rooms *r, const char *room, json_t *body, rooms_answer *a)
{
    json_t *jt = json_object_get(body, "topic");
    if (!json_is_string(jt) || !valid_text(jt, ROOM_TOPIC_MAX, false))
        return rooms_decline(a, REFUSE_BAD_REQUEST, "topic (<= 1000 bytes) is a string");
    room_row rm;
    rooms_refusal why = REFUSE_NONE;
    pthread_mutex_lock(&r->lock);
    nt_err rc = NT_OK;
    if (rooms_load_locked(r, room, &rm))
        why = rooms_decline(a, REFUSE_NOT_FOUND, "no such room");
    else if (rm.state != ROOM_HOSTED)
        why = rooms_decline(a, REFUSE_NOT_MASTER, "only the room's master may change its topic");
    else if ((rc = topic_commit_locked(r, &rm, json_string_value(jt))))
        why = rooms_decline(a, REFUSE_INTERNAL, err_str(rc));
    else
        a->body = rooms_room_json_locked(r, &rm);
    pthread_mutex_unlock(&r->lock);
    return why;
}
