/* rooms.c - room lifecycle and the host's room requests (join, leave,
 * members, keys). Messages are in messages.c, push and sync in delivery.c,
 * member lists in rooms_members.c, the client API in roomapi.c. */
#include "server/rooms/rooms_int.h"

#include <assert.h>
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


static_assert(KEYS_STORE_KEY_LEN == ROOM_KEY_LEN, "the store keeps room keys");

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

nt_err rooms_load_locked(rooms *r, const char *id, room_row *out)
{
    if (!rooms_valid_hex(id, ROOM_ID_HEX_LEN))
        return NT_ERR_NOT_FOUND;
    return rooms_store_get(r->o.db, id, out);
}

json_t *rooms_room_json_locked(rooms *r, const room_row *rm)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:I,s:I,s:I,s:I}", "id", rm->id, "name", rm->name,
                          "topic", rm->topic, "host", rm->host, "access", rm->access, "epoch", (json_int_t)rm->epoch,
                          "state", room_state_name(rm->state), "delivery", rm->delivery, "head", (json_int_t)rm->head,
                          "rotate_messages", (json_int_t)rm->rot_msgs, "rotate_seconds", (json_int_t)rm->rot_secs,
                          "dropped", (json_int_t)rm->dropped);
    if (j && rm->state == ROOM_HOSTED) {
        int64_t n = 0;
        if (members_store_count(r->o.db, rm->id, MEMBERS_JOINED, &n) == NT_OK)
            json_object_set_new(j, "members", json_integer(n));
    }
    return j;
}

nt_err rooms_key_locked(rooms *r, const char *room, int64_t epoch, uint8_t key[static ROOM_KEY_LEN])
{
    return keys_store_get(r->o.db, room, epoch, key);
}

nt_err rooms_rotate_locked(rooms *r, room_row *rm, const char *why)
{
    uint8_t key[ROOM_KEY_LEN];
    int64_t now = rooms_now(r);
    nt_err rc = rng_bytes(key, sizeof key);
    if (rc)
        return rc;
    rc = keys_store_add(r->o.db, rm->id, rm->epoch + 1, key, now);
    mbedtls_platform_zeroize(key, sizeof key);
    if (!rc)
        rc = rooms_store_rotated(r->o.db, rm->id, now);
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
    nt_err rc = events_store_add(r->o.db, rooms_now(r), type, room, s ? s : "{}");
    if (rc)
        log_warn("rooms: cannot store a %s event: %s", type, err_str(rc));
    else
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

void rooms_need_locked(rooms *r, const char *room, unsigned what)
{
    nt_err rc = rooms_store_need_add(r->o.db, room, what);
    if (rc && rc != NT_ERR_NOT_FOUND)
        log_warn("rooms: cannot mark work for %s: %s", room, err_str(rc));
    rooms_wake_sync_locked(r);
}

nt_err rooms_port1(rooms *r, port_call *c)
{
    /* a long poll may legitimately take its whole wait */
    int timeout = c->op == PORT_POLL ? ROOM_PEER_TIMEOUT_MS + 1000 * ROOM_POLL_WAIT_MAX : ROOM_PEER_TIMEOUT_MS;
    c->reply = NULL;
    c->status = 0;
    r->o.call(r->o.call_arg, c, 1, timeout);
    return c->rc;
}

nt_err rooms_port_ask(rooms *r, port_op op, const char *peer, const char *room, json_t *req, json_t **reply,
                      int *status)
{
    port_call c = {.op = op, .peer = peer, .room = room, .req = req};
    nt_err rc = rooms_port1(r, &c);
    *reply = c.reply;
    *status = c.status;
    return rc;
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
        if (ep > 0 && key_item(r, room, k, ep, key) && keys_store_keep(r->o.db, room, ep, key, rooms_now(r)) == NT_OK &&
            ep > max)
            max = ep;
        mbedtls_platform_zeroize(key, sizeof key);
    }
    if (max > 0) {
        room_row rm;
        if (rooms_store_get(r->o.db, room, &rm) == NT_OK && rm.epoch < max) {
            nt_err rc = rooms_store_set_epoch(r->o.db, room, max, rooms_now(r));
            if (rc)
                log_warn("rooms: cannot store the epoch of %s: %s", room, err_str(rc));
            rooms_event_locked(r, "key_rotation", room, json_pack("{s:I}", "epoch", (json_int_t)max));
        }
    }
    return max;
}

/* ---- peer requests: the host side --------------------------------------- */

/* The caller must be a joined member of a room this node hosts. */
static int member_gate_locked(rooms *r, const char *peer, const char *room, room_row *rm, json_t **reply)
{
    if (rooms_load_locked(r, room, rm) || rm->state != ROOM_HOSTED)
        return rooms_error(reply, 404, "not_found", "no such room here");
    member_rec mr;
    if (members_store_get(r->o.db, room, peer, &mr) != NT_OK || mr.state != MEMBER_JOINED)
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
typedef struct {
    const char *room;
    const identity *to;
    json_t *arr;
    int64_t *last;
} keys_list;

static void key_add(void *arg, int64_t ep, const uint8_t *key, size_t kl)
{
    keys_list *ks = arg;
    if (ks->last)
        *ks->last = ep;
    if (!ks->to) {
        json_array_append_new(ks->arr, json_pack("{s:I,s:o}", "epoch", (json_int_t)ep, "key", rooms_b64_json(key, kl)));
        return;
    }
    uint8_t label[64], ct[IDENTITY_PUB_DER_MAX];
    size_t ll = key_label(label, ks->room, ep), cl = 0;
    if (oaep_encrypt(ks->to, label, ll, key, kl, ct, sizeof ct, &cl) == NT_OK)
        json_array_append_new(ks->arr, json_pack("{s:I,s:o}", "epoch", (json_int_t)ep, "wrapped", rooms_b64_json(ct, cl)));
}

static json_t *keys_json_locked(rooms *r, const char *room, int64_t min_epoch, const identity *to, size_t max,
                                int64_t *last)
{
    keys_list kl = {room, to, json_array(), last};
    nt_err rc = kl.arr ? keys_store_each(r->o.db, room, min_epoch, max, key_add, &kl) : NT_ERR_NOMEM;
    if (rc)
        log_warn("rooms: cannot read the keys of %s: %s", room, err_str(rc));
    return kl.arr;
}

json_t *rooms_member_keys_locked(rooms *r, const char *room, const char *peer, int64_t since, bool wrap, size_t max,
                                 int64_t *last)
{
    member_rec mr;
    identity *to = NULL;
    if (last)
        *last = since;
    if (members_store_get(r->o.db, room, peer, &mr))
        return json_array();
    if (wrap && (!mr.pub_len || identity_from_der(&to, mr.pub, mr.pub_len) != NT_OK))
        return json_array();
    int64_t from = mr.from_epoch;
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
        rc = members_store_leave(r->o.db, room, peer);
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
        if (members_store_raise_seen(r->o.db, room, peer, upto))
            log_warn("rooms: cannot store the member list version %s holds", peer);
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
        if (members_store_set_delivery(r->o.db, room, peer, mode)) {
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

typedef struct {
    rooms *r;
    json_t *arr;
} room_list;

static void listed_add(void *arg, const char *id, unsigned need)
{
    room_list *l = arg;
    room_row rm;
    (void)need;
    if (rooms_load_locked(l->r, id, &rm) == NT_OK)
        json_array_append_new(l->arr, json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", rm.id, "name", rm.name, "topic",
                                                rm.topic, "host", rm.host, "access", rm.access));
}

static int peer_list(rooms *r, json_t **reply)
{
    room_list l = {r, json_array()};
    pthread_mutex_lock(&r->lock);
    nt_err rc = rooms_store_listed(r->o.db, listed_add, &l);
    pthread_mutex_unlock(&r->lock);
    if (rc) {
        json_decref(l.arr);
        return rooms_error(reply, 500, "internal", "cannot list the rooms");
    }
    *reply = json_pack("{s:o}", "rooms", l.arr);
    return 200;
}

int rooms_peer_op(rooms *r, port_op op, const char *peer, const char *room, rooms_query_fn *q, void *qarg,
                  json_t *body, json_t **reply)
{
    *reply = NULL;
    if (!rooms_valid_hex(peer, IDENTITY_ID_HEX_LEN))
        return rooms_error(reply, 401, "unauthenticated", "no peer");
    if (op == PORT_LIST)
        return peer_list(r, reply);
    if (!rooms_valid_hex(room, ROOM_ID_HEX_LEN))
        return rooms_error(reply, 404, "not_found", "no such path");
    switch (op) {
    case PORT_POLL:
        return messages_peer_poll(r, peer, room, q, qarg, reply);
    case PORT_SUBMIT:
        return messages_peer_submit(r, peer, room, body, reply);
    case PORT_MEMBERS:
        return peer_simple(r, peer, room, "members", q, qarg, body, reply);
    case PORT_KEYS:
        return peer_simple(r, peer, room, "keys", q, qarg, body, reply);
    default:
        break;
    }
    if (!json_is_object(body))
        return rooms_error(reply, 400, "bad_request", "body must be a JSON object");
    switch (op) {
    case PORT_BATCH:
        return messages_peer_submit_batch(r, peer, room, body, reply);
    case PORT_JOIN:
        return rooms_peer_join(r, peer, room, body, reply);
    case PORT_LEAVE:
        return peer_leave(r, peer, room, reply);
    case PORT_DELIVERY:
        return peer_simple(r, peer, room, "delivery", q, qarg, body, reply);
    case PORT_NOTIFY:
        return messages_peer_notify(r, peer, room, body, reply);
    default:
        return rooms_error(reply, 404, "not_found", "no such path");
    }
}

int rooms_peer_handle(rooms *r, const char *peer, const char *method, const char *path, rooms_query_fn *q,
                      void *qarg, json_t *body, json_t **reply)
{
    char room[ROOM_ID_HEX_LEN + 1];
    port_op op;
    *reply = NULL;
    nt_err rc = peer_port_route(method, path, &op, room);
    if (rc == NT_ERR_STATE)
        return rooms_error(reply, 405, "method", "method not allowed here");
    if (rc)
        return rooms_error(reply, 404, "not_found", "no such path");
    return rooms_peer_op(r, op, peer, room, q, qarg, body, reply);
}

/* ---- lifecycle ------------------------------------------------------------ */

static nt_err open_readers(rooms *r, const char *path)
{
    for (size_t i = 0; i < ROOM_READERS; i++) {
        roomdb *db = NULL;
        nt_err rc = roomdb_open(path, DBCONN_READER, &db);
        if (rc)
            return rc;
        pthread_mutex_init(&r->readers[i].mu, NULL);
        r->readers[i].db = db;
        r->n_readers++;
    }
    return NT_OK;
}

static void close_readers(rooms *r)
{
    for (size_t i = 0; i < r->n_readers; i++) {
        roomdb_close(r->readers[i].db);
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

static void need_poll(void *arg, const char *id, unsigned need)
{
    (void)need;
    rooms_need_locked(arg, id, ROOM_NEED_POLL);
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
        rc = rooms_store_joined(o->db, false, SIZE_MAX, need_poll, r);
        pthread_mutex_unlock(&r->lock);
    }
    if (rc) {
        r->o.owns_db = false; /* still the caller's */
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
    if (r->o.owns_db)
        roomdb_close(r->o.db);
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
