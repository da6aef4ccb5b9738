/* rooms_host.c - what only a room's master does for its own user:
 * create a room (with its password hash), invite, kick, rekey. The
 * password is never stored: PBKDF2-HMAC-SHA256 with a random salt,
 * compared in constant time. */
#include "rooms_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>

#include "../crypto/encoding.h"
#include "../crypto/rng.h"

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
    sqlite3_stmt *st = roomdb_prep(r->o.db, "SELECT pw_salt,pw_hash,pw_iter FROM rooms WHERE id=?", "s", room);
    nt_err rc = NT_ERR_NOT_FOUND;
    memset(out, 0, sizeof *out);
    if (!st)
        return NT_ERR_DB;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == ROOM_SALT_LEN &&
        sqlite3_column_bytes(st, 1) == ROOM_PW_HASH_LEN && sqlite3_column_int64(st, 2) > 0 &&
        sqlite3_column_int64(st, 2) <= UINT32_MAX) {
        memcpy(out->salt, sqlite3_column_blob(st, 0), ROOM_SALT_LEN);
        memcpy(out->hash, sqlite3_column_blob(st, 1), ROOM_PW_HASH_LEN);
        out->iter = (unsigned)sqlite3_column_int64(st, 2);
        rc = NT_OK;
    }
    roomdb_done(st);
    return rc;
}

bool rooms_pw_same(const room_pw *a, const room_pw *b)
{
    return a->iter == b->iter && memcmp(a->salt, b->salt, ROOM_SALT_LEN) == 0 &&
           memcmp(a->hash, b->hash, ROOM_PW_HASH_LEN) == 0;
}

static int rate_limited(json_t **reply, int64_t retry_after, const char *msg)
{
    *reply = json_pack("{s:{s:s,s:s},s:I}", "error", "code", "rate_limited", "message", msg, "retry_after",
                       (json_int_t)retry_after);
    return 429;
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

int rooms_pw_check(rooms *r, const char *peer, const char *room, const room_pw *pw, const char *given,
                   json_t **reply)
{
    if (!given)
        return rooms_error(reply, 403, "password_required", "this room needs a password");
    if (!pw_attempt_allowed(r, peer, room))
        return rate_limited(reply, ROOM_PW_SLOWDOWN, "too many password attempts for this room");
    if (atomic_fetch_add(&r->pw_checks, 1) >= ROOM_PW_CHECKS_MAX) {
        atomic_fetch_sub(&r->pw_checks, 1);
        return rate_limited(reply, 1, "too many password checks at once");
    }
    uint8_t h[ROOM_PW_HASH_LEN];
    bool ok = pw_hash(given, pw->salt, pw->iter, h) == NT_OK &&
              mbedtls_ct_memcmp(h, pw->hash, ROOM_PW_HASH_LEN) == 0;
    mbedtls_platform_zeroize(h, sizeof h);
    atomic_fetch_sub(&r->pw_checks, 1);
    return ok ? 0 : rooms_error(reply, 403, "wrong_password", "wrong password");
}

/* ---- host operations (called by roomapi.c for the master's user) ------- */

static bool valid_text(json_t *j, size_t max, bool required)
{
    if (!j)
        return !required;
    const char *s = json_string_value(j);
    return s && strlen(s) <= max && (!required || s[0]);
}

int rooms_host_create(rooms *r, json_t *body, json_t **reply)
{
    json_t *jn = json_object_get(body, "name"), *jt = json_object_get(body, "topic");
    json_t *ja = json_object_get(body, "access"), *jp = json_object_get(body, "password");
    json_t *jm = json_object_get(body, "rotate_messages"), *js = json_object_get(body, "rotate_seconds");
    if (!json_is_object(body))
        return rooms_error(reply, 400, "bad_request", "body must be a JSON object");
    if (json_is_string(jn) && strlen(json_string_value(jn)) > ROOM_NAME_MAX)
        return rooms_error(reply, 413, "too_large", "name is over 100 bytes");
    if (!valid_text(jn, ROOM_NAME_MAX, true) || !valid_text(jt, ROOM_TOPIC_MAX, false))
        return rooms_error(reply, 400, "bad_request", "name (1-100 bytes) and topic (<= 1000 bytes) are strings");
    const char *access = ja ? json_string_value(ja) : "invite";
    if (!access || (strcmp(access, "invite") && strcmp(access, "open") && strcmp(access, "password")))
        return rooms_error(reply, 400, "bad_request", "access is invite, open or password");
    bool need_pw = strcmp(access, "password") == 0;
    if (need_pw != (jp != NULL) || (jp && !valid_text(jp, ROOM_PASSWORD_MAX, true)))
        return rooms_error(reply, 400, "bad_request", "password (1-256 bytes) is required exactly for access password");
    json_int_t rm = jm ? json_integer_value(jm) : 100, rs = js ? json_integer_value(js) : 604800;
    if ((jm && !json_is_integer(jm)) || (js && !json_is_integer(js)) || rm < 1 || rm > 1000000 || rs < 1 ||
        rs > 31536000)
        return rooms_error(reply, 400, "bad_request", "rotate_messages 1..1000000, rotate_seconds 1..31536000");

    uint8_t idb[ROOM_ID_LEN], salt[ROOM_SALT_LEN], h[ROOM_PW_HASH_LEN];
    char id[ROOM_ID_HEX_LEN + 1];
    unsigned iter = r->o.pbkdf2_iter ? r->o.pbkdf2_iter : PBKDF2_DEFAULT_ITER;
    if (rng_bytes(idb, sizeof idb) || rng_bytes(salt, sizeof salt) ||
        encoding_hex_encode(idb, sizeof idb, id, sizeof id))
        return rooms_error(reply, 500, "internal", "no randomness");
    if (need_pw && pw_hash(json_string_value(jp), salt, iter, h))
        return rooms_error(reply, 500, "internal", "password hash failed");

    int status = 500;
    room_row rw;
    pthread_mutex_lock(&r->lock);
    nt_err rc = roomdb_begin(r->o.db);
    if (!rc)
        rc = roomdb_exec(r->o.db,
                         "INSERT INTO rooms(id,name,topic,host,access,pw_salt,pw_hash,pw_iter,rot_msgs,rot_secs,"
                         "state,created) VALUES(?,?,?,?,?,?,?,?,?,?,'hosted',?)",
                         "sssssbbiiii", id, json_string_value(jn), jt ? json_string_value(jt) : "", r->me_hex, access,
                         need_pw ? salt : NULL, sizeof salt, need_pw ? h : NULL, sizeof h, (int64_t)iter, (int64_t)rm,
                         (int64_t)rs, rooms_now(r));
    if (!rc)
        rc = roomdb_exec(r->o.db,
                         "INSERT INTO room_members(room,peer,role,state,pub,key_epoch,from_epoch) "
                         "VALUES(?,?,'master','joined',?,1,1)",
                         "ssb", id, r->me_hex, r->me_der, r->me_der_len);
    if (!rc)
        rc = rooms_load_locked(r, id, &rw);
    if (!rc)
        rc = rooms_rotate_locked(r, &rw, "created");
    if (!rc) {
        rooms_event_locked(r, "room", id, json_pack("{s:s}", "change", "created"));
        rc = roomdb_commit(r->o.db);
    } else {
        roomdb_rollback(r->o.db);
    }
    if (!rc) {
        *reply = rooms_room_json_locked(r, &rw);
        status = 201;
    }
    pthread_mutex_unlock(&r->lock);
    mbedtls_platform_zeroize(h, sizeof h);
    return status == 201 ? status : rooms_error(reply, 500, "internal", err_str(rc));
}

/* invite / kick / rekey by the master's own user. */
int rooms_host_member_op(rooms *r, const char *room, const char *op, json_t *body, json_t **reply)
{
    room_row rm;
    const char *peer = json_string_value(json_object_get(body, "peer"));
    bool rekey = strcmp(op, "rekey") == 0;
    if (!rekey && !rooms_valid_hex(peer, IDENTITY_ID_HEX_LEN))
        return rooms_error(reply, 400, "bad_request", "peer must be a node id (64 lowercase hex)");
    pthread_mutex_lock(&r->lock);
    int status = 200;
    nt_err rc = rooms_load_locked(r, room, &rm);
    if (rc) {
        status = rooms_error(reply, 404, "not_found", "no such room");
        goto out;
    }
    if (strcmp(rm.state, "hosted")) {
        status = rooms_error(reply, 403, "not_master", "only the room's master may do this");
        goto out;
    }
    if (!rekey && strcmp(peer, r->me_hex) == 0) {
        status = rooms_error(reply, 409, "conflict", "the master is always a member");
        goto out;
    }
    int64_t joined = 0, exists = 0;
    if (!rekey) {
        roomdb_ignore(roomdb_int(r->o.db, &joined, "SELECT state='joined' FROM room_members WHERE room=? AND peer=?", "ss",
                         room, peer));
        int64_t one = 0;
        exists = roomdb_int(r->o.db, &one, "SELECT 1 FROM room_members WHERE room=? AND peer=? AND "
                            "state IN ('joined','invited')", "ss", room, peer) == NT_OK;
    }
    if (strcmp(op, "kick") == 0 && !exists) {
        status = rooms_error(reply, 404, "not_member", "that peer is not a member");
        goto out;
    }
    if (strcmp(op, "invite") == 0 && joined) {
        *reply = json_pack("{s:s,s:s,s:s}", "peer", peer, "role", "member", "state", "joined");
        goto out;
    }
    int64_t count = 0;
    roomdb_ignore(roomdb_int(r->o.db, &count, "SELECT count(*) FROM room_members WHERE room=? AND state IN "
                     "('joined','invited')", "s", room));
    if (strcmp(op, "invite") == 0 && !exists && count >= ROOM_MEMBERS_MAX) {
        status = rooms_error(reply, 409, "room_full", "the room has its maximum number of members");
        goto out;
    }
    rc = roomdb_begin(r->o.db);
    if (rc)
        goto dberr;
    if (strcmp(op, "invite") == 0) {
        rc = roomdb_exec(r->o.db,
                         "INSERT INTO room_members(room,peer,state,notice) VALUES(?1,?2,'invited','invite') "
                         "ON CONFLICT(room,peer) DO UPDATE SET state='invited', notice='invite', next_try=0, fails=0",
                         "ss", room, peer);
        if (!rc)
            rc = rooms_members_changed_locked(r, room, peer);
        if (!rc)
            rooms_event_locked(r, "membership", room, json_pack("{s:s,s:s}", "peer", peer, "membership", "invited"));
        rooms_wake_push_locked(r);
    } else if (strcmp(op, "kick") == 0) {
        rc = roomdb_exec(r->o.db, "UPDATE room_members SET state='kicked', notice='kicked', next_try=0, fails=0 "
                         "WHERE room=? AND peer=?", "ss", room, peer);
        if (!rc)
            rc = rooms_members_changed_locked(r, room, peer);
        if (!rc)
            rooms_event_locked(r, "membership", room, json_pack("{s:s,s:s}", "peer", peer, "membership", "kicked"));
        if (!rc && joined)
            rc = rooms_rotate_locked(r, &rm, "kick");
    } else {
        rc = rooms_rotate_locked(r, &rm, "rekey");
    }
    if (!rc)
        rc = roomdb_commit(r->o.db);
    else
        roomdb_rollback(r->o.db);
    if (rc)
        goto dberr;
    if (strcmp(op, "invite") == 0)
        *reply = json_pack("{s:s,s:s,s:s}", "peer", peer, "role", "member", "state", "invited");
    else
        *reply = rooms_room_json_locked(r, &rm);
    goto out;
dberr:
    status = rooms_error(reply, 500, "internal", err_str(rc));
out:
    pthread_mutex_unlock(&r->lock);
    return status;
}

