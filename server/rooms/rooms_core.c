/* rooms_core.c - what every rooms module uses: the clock and waits, room
 * rows, keys (rotation, a member's keys, keys received from the host),
 * client events, wake-ups of the push and sync loops, the peer port, and
 * base64 in JSON. It calls no other rooms module but precheck. */
#include "server/rooms/rooms_int.h"

#include <assert.h>
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
    if (r->stopping || (r->o.should_stop && r->o.should_stop(r->o.stop_arg)))
        return false;
    if (waitq_deadline_passed(deadline))
        return false;
    struct timespec slice = waitq_deadline(1000);
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

nt_err rooms_load_locked(rooms *r, const char *id, room_row *out)
{
    if (!rooms_valid_hex(id, ROOM_ID_HEX_LEN))
        return NT_ERR_NOT_FOUND;
    return rooms_store_get(r->o.db, id, out);
}

json_t *rooms_room_json_locked(rooms *r, const room_row *rm)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:I,s:I,s:I,s:I}", "id", rm->id, "name", rm->name,
                          "topic", rm->topic, "host", rm->host, "access", room_access_name(rm->access), "epoch", (json_int_t)rm->epoch,
                          "state", room_state_name(rm->state), "delivery", room_delivery_name(rm->delivery), "head", (json_int_t)rm->head,
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

nt_err rooms_rotate_locked(rooms *r, room_row *rm, room_rotation why)
{
    uint8_t key[ROOM_KEY_LEN];
    int64_t now = rooms_now(r);
    nt_err rc = rng_bytes(key, sizeof key);
    if (rc)
        return rc;
    rc = keys_store_add(r->o.db, rm->id, rm->epoch + 1, key, now);
    mbedtls_platform_zeroize(key, sizeof key);
    if (!rc)
        rc = rooms_store_rotated(r->o.db, rm->id, now, why);
    if (rc)
        return rc;
    precheck_changed(r);
    rm->epoch++;
    rm->epoch_ts = now;
    rm->epoch_cause = why;
    rm->since_rot = 0;
    rooms_event_locked(r, "key_rotation", rm->id,
                       json_pack("{s:I,s:s}", "epoch", (json_int_t)rm->epoch, "reason", room_rotation_name(why)));
    rooms_wake_push_locked(r);
    return NT_OK;
}

void rooms_events_grew_locked(rooms *r)
{
    waitq_wake(&r->ev_wait);
}

void rooms_log_grew_locked(rooms *r)
{
    waitq_wake(&r->log_wait);
}

void rooms_event_locked(rooms *r, const char *type, const char *room, json_t *data)
{
    char *s = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    nt_err rc = events_store_add(r->o.db, rooms_now(r), type, room, s ? s : "{}");
    if (rc)
        log_warn("rooms: cannot store a %s event: %s", type, err_str(rc));
    else
        rooms_events_grew_locked(r);
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

/* An epoch we hold a key for already: the host's copy is not opened
 * (for a wrapped one that is an RSA private-key operation). */
static bool key_held_locked(rooms *r, const char *room, int64_t ep)
{
    uint8_t key[ROOM_KEY_LEN];
    bool held = keys_store_get(r->o.db, room, ep, key) == NT_OK;
    mbedtls_platform_zeroize(key, sizeof key);
    return held;
}

nt_err rooms_store_keys_locked(rooms *r, const char *room, json_t *keys, size_t cap)
{
    size_t i;
    json_t *k;
    int64_t max = 0;
    room_row rm;
    if (json_array_size(keys) > cap)
        return NT_ERR_TOO_BIG;
    bool have = rooms_store_get(r->o.db, room, &rm) == NT_OK;
    int64_t from = have ? rm.from_epoch : 0;
    json_array_foreach(keys, i, k) {
        json_int_t ep = json_integer_value(json_object_get(k, "epoch"));
        uint8_t key[ROOM_KEY_LEN];
        if (ep <= 0 || ep < from) /* before this membership: never ours, never opened */
            continue;
        /* an epoch held already is not opened again, but still counts */
        if ((key_held_locked(r, room, ep) ||
             (key_item(r, room, k, ep, key) && keys_store_keep(r->o.db, room, ep, key, rooms_now(r)) == NT_OK)) &&
            ep > max)
            max = ep;
        mbedtls_platform_zeroize(key, sizeof key);
    }
    if (have && rm.epoch < max) {
        nt_err rc = rooms_store_set_epoch(r->o.db, room, max, rooms_now(r));
        if (rc)
            log_warn("rooms: cannot store the epoch of %s: %s", room, err_str(rc));
        rooms_event_locked(r, "key_rotation", room, json_pack("{s:I}", "epoch", (json_int_t)max));
    }
    return NT_OK;
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


void rooms_query_fail(rooms_query_bad *bad, const char *k, const char *rule)
{
    if (!bad->msg[0])
        snprintf(bad->msg, sizeof bad->msg, "%s must be %s", k, rule);
}

const char *rooms_rerun_query(void *arg, const char *key)
{
    rooms_rerun_q *w = arg;
    if (w->again && !strcmp(key, "since")) {
        snprintf(w->since, sizeof w->since, "%lld", (long long)w->again->cursor);
        return w->since;
    }
    if (w->again && w->again->over && !strcmp(key, "wait"))
        return "0";
    return w->q ? w->q(w->qarg, key) : NULL;
}

int64_t rooms_query_int(rooms_query_fn *q, void *qarg, const rooms_qparam *p, rooms_query_bad *bad)
{
    const char *s = q ? q(qarg, p->name) : NULL;
    int64_t v;
    if (!s)
        return p->def;
    if (rooms_parse_i64(s, &v) && v >= p->lo && v <= p->hi)
        return v;
    char rule[96];
    if (p->hi < INT64_MAX)
        snprintf(rule, sizeof rule, "an integer from %lld to %lld%s%s%s", (long long)p->lo, (long long)p->hi,
                 p->unit ? " (" : "", p->unit ? p->unit : "", p->unit ? ")" : "");
    else if (p->lo == 0)
        snprintf(rule, sizeof rule, "a non-negative integer");
    else
        snprintf(rule, sizeof rule, "an integer of at least %lld", (long long)p->lo);
    rooms_query_fail(bad, p->name, rule);
    return p->def;
}
