/* rooms.c - room lifecycle and the host's room requests (join, leave,
 * members, keys). Messages are in messages.c, push and sync in delivery.c,
 * member lists in rooms_members.c, the client API in roomapi.c. */
#include "server/rooms/rooms_int.h"

#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/constant_time.h>

#include "crypto/encoding.h"
#include "crypto/oaep.h"
#include "crypto/rng.h"
#include "crypto/sign.h"


static bool key_item(rooms *r, const char *room, json_t *k, int64_t ep, uint8_t key[static ROOM_KEY_LEN]);

int64_t rooms_now(rooms *r)
{
    if (r->o.clock)
        return r->o.clock(r->o.clock_arg);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool rooms_wait_locked(rooms *r, pthread_cond_t *cond, const struct timespec *deadline)
{
    struct timespec now, slice;
    clock_gettime(CLOCK_REALTIME, &now);
    if (r->stopping || (r->o.should_stop && r->o.should_stop(r->o.stop_arg)))
        return false;
    if (now.tv_sec > deadline->tv_sec || (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec))
        return false;
    slice = now;
    slice.tv_sec += 1;
    if (slice.tv_sec > deadline->tv_sec || (slice.tv_sec == deadline->tv_sec && slice.tv_nsec > deadline->tv_nsec))
        slice = *deadline;
    (void)pthread_cond_timedwait(cond, &r->lock, &slice);
    return true;
}

int rooms_error(json_t **reply, int status, const char *code, const char *msg)
{
    *reply = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    return status;
}

bool rooms_valid_hex(const char *s, size_t len)
{
    if (!s || strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

bool rooms_parse_i64(const char *s, int64_t *out)
{
    const char *d = s + (*s == '-');
    if (*d < '0' || *d > '9')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end)
        return false;
    *out = v;
    return true;
}

bool rooms_valid_txn(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > ROOM_TXN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-", s[i]))
            return false;
    return true;
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

nt_err rooms_load_locked(rooms *r, const char *id, room_row *out)
{
    if (!rooms_valid_hex(id, ROOM_ID_HEX_LEN))
        return NT_ERR_NOT_FOUND;
    sqlite3_stmt *st = roomdb_prep(r->o.db,
                                   "SELECT id,name,topic,host,access,state,delivery,need,rot_msgs,rot_secs,epoch,"
                                   "epoch_ts,since_rot,head,from_seq,dropped,created,members_ver FROM rooms WHERE id=?",
                                   "s", id);
    if (!st)
        return NT_ERR_DB;
    int s = sqlite3_step(st);
    nt_err rc = s == SQLITE_ROW ? NT_OK : s == SQLITE_DONE ? NT_ERR_NOT_FOUND : NT_ERR_DB;
    if (rc == NT_OK) {
        memset(out, 0, sizeof *out);
        copy(out->id, sizeof out->id, roomdb_text(st, 0));
        copy(out->name, sizeof out->name, roomdb_text(st, 1));
        copy(out->topic, sizeof out->topic, roomdb_text(st, 2));
        copy(out->host, sizeof out->host, roomdb_text(st, 3));
        copy(out->access, sizeof out->access, roomdb_text(st, 4));
        copy(out->state, sizeof out->state, roomdb_text(st, 5));
        copy(out->delivery, sizeof out->delivery, roomdb_text(st, 6));
        copy(out->need, sizeof out->need, roomdb_text(st, 7));
        int64_t *f[] = {&out->rot_msgs, &out->rot_secs, &out->epoch, &out->epoch_ts, &out->since_rot,
                        &out->head, &out->from_seq, &out->dropped, &out->created, &out->members_ver};
        for (int i = 0; i < 10; i++)
            *f[i] = sqlite3_column_int64(st, 8 + i);
        size_t n;
        if (encoding_hex_decode(out->id, ROOM_ID_HEX_LEN, out->idb, sizeof out->idb, &n) || n != ROOM_ID_LEN)
            rc = NT_ERR_DB;
    }
    roomdb_done(st);
    return rc;
}

json_t *rooms_room_json_locked(rooms *r, const room_row *rm)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:I,s:I,s:I,s:I}", "id", rm->id, "name", rm->name,
                          "topic", rm->topic, "host", rm->host, "access", rm->access, "epoch", (json_int_t)rm->epoch,
                          "state", rm->state, "delivery", rm->delivery, "head", (json_int_t)rm->head,
                          "rotate_messages", (json_int_t)rm->rot_msgs, "rotate_seconds", (json_int_t)rm->rot_secs,
                          "dropped", (json_int_t)rm->dropped);
    if (j && strcmp(rm->state, "hosted") == 0) {
        int64_t n = 0;
        if (roomdb_int(r->o.db, &n, "SELECT count(*) FROM room_members WHERE room=? AND state='joined'", "s",
                       rm->id) == NT_OK)
            json_object_set_new(j, "members", json_integer(n));
    }
    return j;
}

nt_err rooms_key_locked(rooms *r, const char *room, int64_t epoch, uint8_t key[static ROOM_KEY_LEN])
{
    sqlite3_stmt *st = roomdb_prep(r->o.db, "SELECT key FROM room_keys WHERE room=? AND epoch=?", "si", room, epoch);
    if (!st)
        return NT_ERR_DB;
    nt_err rc = NT_ERR_NOT_FOUND;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == ROOM_KEY_LEN) {
        memcpy(key, sqlite3_column_blob(st, 0), ROOM_KEY_LEN);
        rc = NT_OK;
    }
    roomdb_done(st);
    return rc;
}

nt_err rooms_rotate_locked(rooms *r, room_row *rm, const char *why)
{
    uint8_t key[ROOM_KEY_LEN];
    int64_t now = rooms_now(r);
    nt_err rc = rng_bytes(key, sizeof key);
    if (rc)
        return rc;
    rc = roomdb_exec(r->o.db, "INSERT INTO room_keys(room,epoch,key,created) VALUES(?,?,?,?)", "sibi", rm->id,
                     rm->epoch + 1, key, sizeof key, now);
    mbedtls_platform_zeroize(key, sizeof key);
    if (!rc)
        rc = roomdb_exec(r->o.db, "UPDATE rooms SET epoch=epoch+1, epoch_ts=?, since_rot=0 WHERE id=?", "is", now,
                         rm->id);
    if (rc)
        return rc;
    precheck_changed(r);
    rm->epoch++;
    rm->epoch_ts = now;
    rm->since_rot = 0;
    rooms_event_locked(r, "key_rotation", rm->id, json_pack("{s:I,s:s}", "epoch", (json_int_t)rm->epoch, "reason", why));
    rooms_wake_push_locked(r);
    return NT_OK;
}

void rooms_event_locked(rooms *r, const char *type, const char *room, json_t *data)
{
    char *s = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (roomdb_exec(r->o.db, "INSERT INTO room_events(ts,type,room,data) VALUES(?,?,?,?)", "isss", rooms_now(r),
                    type, room, s ? s : "{}") == NT_OK)
        pthread_cond_broadcast(&r->ev_cond);
    free(s);
}

void rooms_wake_push_locked(rooms *r)
{
    r->push_kick = true;
    pthread_cond_broadcast(&r->push_cond);
}

void rooms_wake_sync_locked(rooms *r)
{
    r->sync_kick = true;
    pthread_cond_broadcast(&r->sync_cond);
}

void rooms_need_locked(rooms *r, const char *room, const char *what)
{
    /* need is a small set of words; append when not there yet */
    roomdb_ignore(roomdb_exec(r->o.db,
                      "UPDATE rooms SET need = CASE WHEN instr(need, ?1) THEN need ELSE need || ?1 || ' ' END "
                      "WHERE id=?2",
                      "ss", what, room));
    rooms_wake_sync_locked(r);
}

nt_err rooms_call1(rooms *r, const char *peer, const char *method, const char *path, json_t *req, json_t **reply,
                   int *status)
{
    rooms_call c = {.peer = peer, .method = method, .path = path, .req = req};
    /* a long poll may legitimately take its whole wait */
    int timeout = strstr(path, "wait=") ? ROOM_PEER_TIMEOUT_MS + 1000 * ROOM_POLL_WAIT_MAX : ROOM_PEER_TIMEOUT_MS;
    r->o.call(r->o.call_arg, &c, 1, timeout);
    *reply = c.reply;
    *status = c.status;
    return c.rc;
}

json_t *rooms_b64_json(const void *p, size_t n)
{
    size_t cap = encoding_b64_len(n, B64_STD);
    char *s = malloc(cap);
    json_t *j = NULL;
    if (s && encoding_b64_encode(p, n, B64_STD, s, cap) == NT_OK)
        j = json_string(s);
    free(s);
    return j;
}

/* Decode a base64 JSON string into a malloc'd buffer of at most max bytes. */
static uint8_t *b64_get(json_t *j, size_t max, size_t *n, bool public)
{
    const char *s = json_string_value(j);
    if (!s)
        return NULL;
    size_t sl = strlen(s);
    if (sl > encoding_b64_len(max, B64_STD))
        return NULL;
    uint8_t *p = malloc(sl + 1);
    if (p && (public ? encoding_b64_decode_public : encoding_b64_decode)(s, sl, B64_STD, p, sl + 1, n) != NT_OK) {
        free(p);
        p = NULL;
    }
    return p;
}

uint8_t *rooms_b64_get(json_t *j, size_t max, size_t *n)
{
    return b64_get(j, max, n, false);
}

uint8_t *rooms_b64_get_public(json_t *j, size_t max, size_t *n)
{
    return b64_get(j, max, n, true);
}

int64_t rooms_store_keys_locked(rooms *r, const char *room, json_t *keys)
{
    size_t i;
    json_t *k;
    int64_t max = 0;
    json_array_foreach(keys, i, k) {
        json_int_t ep = json_integer_value(json_object_get(k, "epoch"));
        uint8_t key[ROOM_KEY_LEN];
        if (ep > 0 && key_item(r, room, k, ep, key) &&
            roomdb_exec(r->o.db, "INSERT OR IGNORE INTO room_keys(room,epoch,key,created) VALUES(?,?,?,?)", "sibi",
                        room, (int64_t)ep, key, sizeof key, rooms_now(r)) == NT_OK && ep > max)
            max = ep;
        mbedtls_platform_zeroize(key, sizeof key);
    }
    if (max > 0) {
        int64_t cur = 0;
        if (roomdb_int(r->o.db, &cur, "SELECT epoch FROM rooms WHERE id=?", "s", room) == NT_OK && max > cur) {
            roomdb_ignore(roomdb_exec(r->o.db, "UPDATE rooms SET epoch=?, epoch_ts=? WHERE id=?", "iis", max, rooms_now(r),
                              room));
            rooms_event_locked(r, "key_rotation", room, json_pack("{s:I}", "epoch", (json_int_t)max));
        }
    }
    return max;
}

/* ---- peer requests: the host side --------------------------------------- */

/* The caller must be a joined member of a room this node hosts. */
static int member_gate_locked(rooms *r, const char *peer, const char *room, room_row *rm, json_t **reply)
{
    int64_t ok = 0;
    if (rooms_load_locked(r, room, rm) || strcmp(rm->state, "hosted"))
        return rooms_error(reply, 404, "not_found", "no such room here");
    if (roomdb_int(r->o.db, &ok, "SELECT 1 FROM room_members WHERE room=? AND peer=? AND state='joined'", "ss",
                   room, peer) != NT_OK)
        return rooms_error(reply, 403, "not_member", "not a member of this room");
    return 0;
}

/* OAEP label: binds a wrapped key to its room and epoch. */
static size_t key_label(uint8_t out[static 64], const char *room, int64_t epoch)
{
    static const char tag[] = "natter/v1/room-key";
    size_t o = sizeof tag - 1, n = 0;
    memcpy(out, tag, o);
    if (encoding_hex_decode(room, ROOM_ID_HEX_LEN, out + o, ROOM_ID_LEN, &n) || n != ROOM_ID_LEN)
        memset(out + o, 0, ROOM_ID_LEN);
    o += ROOM_ID_LEN;
    for (int i = 7; i >= 0; i--)
        out[o++] = (uint8_t)((uint64_t)epoch >> (8 * i));
    return o;
}

/* Key items for epochs >= min_epoch. With `to` (the member's public key)
 * each key is RSA-OAEP-wrapped to it; else it is given as is (the caller
 * sends it inside the member's sealed session). */
static json_t *keys_json_locked(rooms *r, const char *room, int64_t min_epoch, const identity *to, size_t max,
                                int64_t *last)
{
    json_t *arr = json_array();
    sqlite3_stmt *st = roomdb_prep(r->o.db,
                                   "SELECT epoch,key FROM room_keys WHERE room=? AND epoch>=? ORDER BY epoch LIMIT ?",
                                   "sii", room, min_epoch, (int64_t)max);
    while (st && arr && sqlite3_step(st) == SQLITE_ROW) {
        int64_t ep = sqlite3_column_int64(st, 0);
        if (last)
            *last = ep;
        const void *key = sqlite3_column_blob(st, 1);
        size_t kl = (size_t)sqlite3_column_bytes(st, 1);
        if (!to) {
            json_array_append_new(arr, json_pack("{s:I,s:o}", "epoch", (json_int_t)ep, "key", rooms_b64_json(key, kl)));
            continue;
        }
        uint8_t label[64], ct[IDENTITY_PUB_DER_MAX];
        size_t ll = key_label(label, room, ep), cl = 0;
        if (oaep_encrypt(to, label, ll, key, kl, ct, sizeof ct, &cl) == NT_OK)
            json_array_append_new(arr, json_pack("{s:I,s:o}", "epoch", (json_int_t)ep, "wrapped", rooms_b64_json(ct, cl)));
    }
    roomdb_done(st);
    return arr;
}

json_t *rooms_member_keys_locked(rooms *r, const char *room, const char *peer, int64_t since, bool wrap, size_t max,
                                 int64_t *last)
{
    int64_t from = 0;
    identity *to = NULL;
    if (last)
        *last = since;
    if (roomdb_int(r->o.db, &from, "SELECT from_epoch FROM room_members WHERE room=? AND peer=?", "ss", room, peer))
        return json_array();
    if (wrap) {
        sqlite3_stmt *st = roomdb_prep(r->o.db, "SELECT pub FROM room_members WHERE room=? AND peer=?", "ss", room,
                                       peer);
        if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) > 0 &&
            identity_from_der(&to, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0)) != NT_OK)
            to = NULL;
        roomdb_done(st);
        if (!to)
            return json_array();
    }
    json_t *arr = keys_json_locked(r, room, from > since ? from : since + 1, to, max, last);
    identity_free(to);
    return arr;
}

/* A key item from the host: {"key"} under the session, or {"wrapped"}
 * RSA-OAEP to our identity key. */
static bool key_item(rooms *r, const char *room, json_t *k, int64_t ep, uint8_t key[static ROOM_KEY_LEN])
{
    size_t n = 0;
    json_t *w = json_object_get(k, "wrapped");
    if (!w) {
        uint8_t *raw = rooms_b64_get(json_object_get(k, "key"), ROOM_KEY_LEN, &n);
        bool ok = raw && n == ROOM_KEY_LEN;
        if (ok)
            memcpy(key, raw, ROOM_KEY_LEN);
        if (raw) {
            mbedtls_platform_zeroize(raw, n);
            free(raw);
        }
        return ok;
    }
    uint8_t *ct = rooms_b64_get_public(w, SIGN_MAX_LEN, &n), label[64];
    size_t ll = key_label(label, room, ep), kl = 0;
    bool ok = ct && oaep_decrypt(r->o.me, label, ll, ct, n, key, ROOM_KEY_LEN, &kl) == NT_OK && kl == ROOM_KEY_LEN;
    free(ct);
    if (!ok)
        mbedtls_platform_zeroize(key, ROOM_KEY_LEN);
    return ok;
}

static int peer_leave(rooms *r, const char *peer, const char *room, json_t **reply)
{
    room_row rm;
    pthread_mutex_lock(&r->lock);
    int status = member_gate_locked(r, peer, room, &rm, reply);
    if (status)
        goto out;
    if (strcmp(peer, rm.host) == 0) {
        status = rooms_error(reply, 403, "forbidden", "the master cannot leave");
        goto out;
    }
    nt_err rc = roomdb_begin(r->o.db);
    if (!rc)
        rc = roomdb_exec(r->o.db, "UPDATE room_members SET state='left', notice='' WHERE room=? AND peer=?", "ss",
                         room, peer);
    if (!rc)
        rc = rooms_members_changed_locked(r, room, peer);
    if (!rc)
        rc = rooms_rotate_locked(r, &rm, "leave");
    if (!rc) {
        rooms_event_locked(r, "membership", room, json_pack("{s:s,s:s}", "peer", peer, "membership", "left"));
        rc = roomdb_commit(r->o.db);
    } else {
        roomdb_rollback(r->o.db);
    }
    if (rc)
        status = rooms_error(reply, 500, "internal", err_str(rc));
    else
        *reply = json_pack("{s:b}", "ok", 1);
out:
    pthread_mutex_unlock(&r->lock);
    return status ? status : 200;
}

/* ?since= as an integer of -1 or more; absent: -1 (from the start).
 * false when malformed. */
static bool since_param(rooms_query_fn *q, void *qarg, int64_t *out)
{
    const char *s = q ? q(qarg, "since") : NULL;
    char *end = NULL;
    long long v = s ? strtoll(s, &end, 10) : -1;
    *out = v;
    return !s || (end != s && !*end && v >= -1 && v != LLONG_MAX);
}

static int peer_simple(rooms *r, const char *peer, const char *room, const char *what, rooms_query_fn *q, void *qarg,
                       json_t *body, json_t **reply)
{
    room_row rm;
    pthread_mutex_lock(&r->lock);
    int status = member_gate_locked(r, peer, room, &rm, reply);
    if (status)
        goto out;
    if (strcmp(what, "members") == 0) {
        /* the rows changed after `since` (default: all), a page at a time */
        int64_t since, upto = 0;
        bool more = false;
        if (!since_param(q, qarg, &since)) {
            status = rooms_error(reply, 400, "bad_request", "since is a member-list version (-1 or more)");
            goto out;
        }
        json_t *rows = rooms_members_since_json_locked(r, room, since, ROOM_MEMBERS_PAGE, &upto, &more);
        /* the member now holds this version: no push of it, and its long
         * poll stops waking for it */
        roomdb_ignore(roomdb_exec(r->o.db, "UPDATE room_members SET members_seen=max(members_seen,?) WHERE room=? AND "
                                  "peer=?", "iss", upto, room, peer));
        *reply = json_pack("{s:o,s:I,s:b}", "members", rows, "members_ver", (json_int_t)upto, "more", more);
    } else if (strcmp(what, "keys") == 0) {
        /* the epochs after `since`, a page at a time */
        int64_t since;
        if (!since_param(q, qarg, &since)) {
            status = rooms_error(reply, 400, "bad_request", "since is an epoch (-1 or more)");
            goto out;
        }
        json_t *keys = rooms_member_keys_locked(r, room, peer, since, false, ROOM_KEYS_PAGE, NULL);
        *reply = json_pack("{s:o,s:I,s:b}", "keys", keys, "epoch", (json_int_t)rm.epoch, "more",
                           json_array_size(keys) >= ROOM_KEYS_PAGE);
    } else { /* delivery */
        const char *mode = json_string_value(json_object_get(body, "mode"));
        if (!mode || (strcmp(mode, "push") && strcmp(mode, "poll"))) {
            status = rooms_error(reply, 400, "bad_request", "mode is push or poll");
            goto out;
        }
        if (roomdb_exec(r->o.db, "UPDATE room_members SET delivery=?, next_try=0, fails=0 WHERE room=? AND peer=?",
                        "sss", mode, room, peer)) {
            status = rooms_error(reply, 500, "internal", "store failed");
            goto out;
        }
        rooms_wake_push_locked(r);
        *reply = json_pack("{s:b}", "ok", 1);
    }
out:
    pthread_mutex_unlock(&r->lock);
    return status ? status : 200;
}

static int peer_list(rooms *r, json_t **reply)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&r->lock);
    sqlite3_stmt *st = roomdb_prep(r->o.db, "SELECT id FROM rooms WHERE state='hosted' AND access IN "
                                   "('open','password') ORDER BY created", "");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        room_row rm;
        if (rooms_load_locked(r, roomdb_text(st, 0), &rm) == NT_OK)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", rm.id, "name", rm.name, "topic",
                                                 rm.topic, "host", rm.host, "access", rm.access));
    }
    roomdb_done(st);
    pthread_mutex_unlock(&r->lock);
    *reply = json_pack("{s:o}", "rooms", arr);
    return 200;
}

int rooms_peer_handle(rooms *r, const char *peer, const char *method, const char *path, rooms_query_fn *q,
                      void *qarg, json_t *body, json_t **reply)
{
    char room[ROOM_ID_HEX_LEN + 1], what[16];
    *reply = NULL;
    if (!rooms_valid_hex(peer, IDENTITY_ID_HEX_LEN))
        return rooms_error(reply, 401, "unauthenticated", "no peer");
    if (strcmp(path, "/v1/peer/rooms") == 0)
        return strcmp(method, "GET") ? rooms_error(reply, 405, "method", "GET only") : peer_list(r, reply);
    int end = 0;
    if (sscanf(path, "/v1/peer/rooms/%32[0-9a-f]/%15[a-z]%n", room, what, &end) != 2 || path[end] ||
        !rooms_valid_hex(room, ROOM_ID_HEX_LEN))
        return rooms_error(reply, 404, "not_found", "no such path");
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (strcmp(what, "messages") == 0 && (get || post))
        return get ? messages_peer_poll(r, peer, room, q, qarg, reply)
                   : messages_peer_submit(r, peer, room, body, reply);
    if ((strcmp(what, "members") == 0 || strcmp(what, "keys") == 0) && get)
        return peer_simple(r, peer, room, what, q, qarg, body, reply);
    if (!post)
        return rooms_error(reply, 405, "method", "method not allowed here");
    if (!json_is_object(body))
        return rooms_error(reply, 400, "bad_request", "body must be a JSON object");
    if (strcmp(what, "batch") == 0)
        return messages_peer_submit_batch(r, peer, room, body, reply);
    if (strcmp(what, "join") == 0)
        return rooms_peer_join(r, peer, room, body, reply);
    if (strcmp(what, "leave") == 0)
        return peer_leave(r, peer, room, reply);
    if (strcmp(what, "delivery") == 0)
        return peer_simple(r, peer, room, what, q, qarg, body, reply);
    if (strcmp(what, "notify") == 0)
        return messages_peer_notify(r, peer, room, body, reply);
    return rooms_error(reply, 404, "not_found", "no such path");
}

/* ---- lifecycle ------------------------------------------------------------ */

static nt_err open_readers(rooms *r, const char *path)
{
    for (size_t i = 0; i < ROOM_READERS; i++) {
        sqlite3 *db = NULL;
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
            sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
            sqlite3_exec(db, "PRAGMA query_only=ON;", NULL, NULL, NULL) != SQLITE_OK) {
            sqlite3_close(db);
            return NT_ERR_DB;
        }
        pthread_mutex_init(&r->readers[i].mu, NULL);
        r->readers[i].db = db;
        r->n_readers++;
    }
    return NT_OK;
}

static void close_readers(rooms *r)
{
    for (size_t i = 0; i < r->n_readers; i++) {
        roomdb_forget(r->readers[i].db);
        sqlite3_close(r->readers[i].db);
        pthread_mutex_destroy(&r->readers[i].mu);
    }
    r->n_readers = 0;
}

room_reader *rooms_reader_get(rooms *r)
{
    if (r->n_readers == 0) {
        pthread_mutex_lock(&r->lock);
        return NULL;
    }
    unsigned start = atomic_fetch_add(&r->next_reader, 1);
    for (size_t i = 0; i < r->n_readers; i++) {
        room_reader *rd = &r->readers[(start + i) % r->n_readers];
        if (pthread_mutex_trylock(&rd->mu) == 0)
            return rd;
    }
    room_reader *rd = &r->readers[start % r->n_readers];
    pthread_mutex_lock(&rd->mu);
    return rd;
}

void rooms_reader_put(rooms *r, room_reader *rd)
{
    /* the reader's use is over: nothing of it may stay active */
    (void)roomdb_sweep(rd ? rd->db : r->o.db);
    pthread_mutex_unlock(rd ? &rd->mu : &r->lock);
}

nt_err rooms_new(rooms **out, const rooms_opts *o)
{
    *out = NULL;
    if (!o || !o->db || !o->me || !o->call)
        return NT_ERR_INVALID;
    rooms *r = calloc(1, sizeof *r);
    if (!r)
        return NT_ERR_NOMEM;
    r->o = *o;
    identity_id_hex(o->me, r->me_hex);
    r->me_der = malloc(IDENTITY_PUB_DER_MAX);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->log_cond, NULL);
    pthread_cond_init(&r->ev_cond, NULL);
    pthread_cond_init(&r->push_cond, NULL);
    pthread_cond_init(&r->sync_cond, NULL);
    pthread_cond_init(&r->outbox_cond, NULL);
    pthread_mutex_init(&r->pw_mu, NULL);
    nt_err rc = r->me_der ? identity_public_der(o->me, r->me_der, IDENTITY_PUB_DER_MAX, &r->me_der_len) : NT_ERR_NOMEM;
    if (!rc)
        rc = ratelimit_new(&r->pw_rl, &(ratelimit_config){.rate_per_s = 1, .burst = ROOM_PW_BURST},
                           ROOM_PW_RL_SLOTS);
    if (!rc && o->read_path)
        rc = open_readers(r, o->read_path);
    if (!rc)
        rc = precheck_start(r);
    if (!rc)
        rc = ingest_start(r);
    if (!rc) {
        /* catch up on every joined room once at start */
        pthread_mutex_lock(&r->lock);
        sqlite3_stmt *st = roomdb_prep(o->db, "SELECT id FROM rooms WHERE state='joined'", "");
        while (st && sqlite3_step(st) == SQLITE_ROW)
            rooms_need_locked(r, roomdb_text(st, 0), "poll");
        roomdb_done(st);
        pthread_mutex_unlock(&r->lock);
    }
    if (rc) {
        rooms_free(r);
        return rc;
    }
    *out = r;
    return NT_OK;
}

nt_err rooms_start(rooms *r)
{
    if (r->o.no_threads || r->started)
        return NT_OK;
    nt_err rc = delivery_start(r);
    if (!rc)
        r->started = true;
    return rc;
}

void rooms_stop(rooms *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_broadcast(&r->log_cond);
    pthread_cond_broadcast(&r->ev_cond);
    pthread_cond_broadcast(&r->push_cond);
    pthread_cond_broadcast(&r->sync_cond);
    pthread_cond_broadcast(&r->outbox_cond);
    pthread_mutex_unlock(&r->lock);
    if (r->started)
        delivery_stop(r);
    r->started = false;
    ingest_stop(r);
}

void rooms_free(rooms *r)
{
    if (!r)
        return;
    rooms_stop(r);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->log_cond);
    pthread_cond_destroy(&r->ev_cond);
    pthread_cond_destroy(&r->push_cond);
    pthread_cond_destroy(&r->sync_cond);
    pthread_cond_destroy(&r->outbox_cond);
    pthread_mutex_destroy(&r->pw_mu);
    ratelimit_free(r->pw_rl);
    ingest_free(r);
    precheck_stop(r);
    close_readers(r);
    free(r->me_der);
    free(r);
}

void rooms_tick(rooms *r)
{
    bool did;
    delivery_push_round(r, &did);
    delivery_sync_round(r);
}

uint64_t rooms_dropped(rooms *r)
{
    return atomic_load(&r->dropped);
}

json_t *rooms_status(rooms *r)
{
    return json_pack("{s:I,s:I}", "dropped", (json_int_t)atomic_load(&r->dropped), "password_checks",
                     (json_int_t)atomic_load(&r->pw_checks));
}
