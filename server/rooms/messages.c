/* messages.c - submitting (host), applying (member), the sender's outbox,
 * polling, and the client's message endpoints. Formats in
 * api-spec/protocol.md "Messages". */
#include "server/rooms/rooms_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <mbedtls/platform_util.h>

#include "common/text.h"
#include "crypto/encoding.h"
#include "crypto/sign.h"

void messages_submission_free(submission *s)
{
    free(s->body);
    free(s->sig);
    s->body = s->sig = NULL;
}

/* A text as it opened: shown only when it is valid UTF-8 without NUL
 * (anything else would be shown cut or not at all); otherwise wiped,
 * freed and NULL, and the message counts as dropped. */
static char *valid_text(char *text, size_t len)
{
    if (text && !text_utf8_valid(text, len)) {
        mbedtls_platform_zeroize(text, len);
        free(text);
        text = NULL;
    }
    return text;
}

/* Host: open our own copy for the master's user (the master is a member of
 * its room), before the commit and outside every lock. NULL when it does
 * not open or is not valid text: the commit then counts the message as
 * dropped for this user. */
static char *host_open(const uint8_t idb[static ROOM_ID_LEN], const char *sender, const submission *s, const uint8_t *key,
                       size_t *tl)
{
    uint8_t sid[IDENTITY_ID_LEN];
    size_t n;
    char *text = NULL;
    if (!key || encoding_hex_decode(sender, IDENTITY_ID_HEX_LEN, sid, sizeof sid, &n) != NT_OK ||
        roomcrypt_open(idb, (uint64_t)s->epoch, key, sid, s->body, s->body_len, &text, tl) != NT_OK)
        return NULL;
    return valid_text(text, *tl);
}

/* Whether the previous epoch keeps its grace after a rotation for cause.
 * Only a routine rotation (policy) is harmless to it. After a leave or a
 * kick the removed member holds the previous key: a message sealed under
 * it and committed after the removal is one that key opens. A rekey is
 * the master retiring the key now. A reinvite's rotation is there so that
 * the returning member reads everything from its invitation on, which a
 * message committed after it under the previous epoch would undo. Created
 * has no previous epoch. Unknown (a row from before the cause was kept)
 * fails closed. Refused, the sender fetches the key, reseals and resends. */
static bool rotation_keeps_grace(room_rotation cause)
{
    return cause == ROOM_ROT_POLICY;
}

/* Whether a submission's epoch may be committed: the current one, or the
 * previous one within the grace after a rotation that keeps it. The one
 * rule for the check before the verify (cached or fresh) and the commit. */
static bool epoch_ok(rooms *r, int64_t sub, int64_t epoch, int64_t epoch_ts, room_rotation cause)
{
    unsigned grace = r->o.epoch_grace_s ? r->o.epoch_grace_s : 60;
    return sub == epoch || (sub == epoch - 1 && rotation_keeps_grace(cause) &&
                            rooms_now(r) - epoch_ts < (int64_t)grace * 1000);
}

/* Decide it refused: why, with it->reply = {"message": msg} (the body of
 * a rooms_answer). Returns why. */
static rooms_refusal item_refuse(gc_item *it, rooms_refusal why, const char *msg)
{
    rooms_answer a = {.body = it->reply};
    it->refusal = rooms_decline(&a, why, msg);
    it->reply = a.body;
    it->decided = true;
    return why;
}

static rooms_refusal stale_epoch(gc_item *it, int64_t epoch)
{
    item_refuse(it, REFUSE_STALE_EPOCH, "sealed with an epoch that is not current");
    json_object_set_new(it->reply, "epoch", json_integer(epoch));
    return REFUSE_STALE_EPOCH;
}

static bool dup_locked(rooms *r, const char *room, const char *sender, const char *txn, json_t **reply)
{
    int64_t seq = 0, ts = 0;
    bool dup = log_store_find(r->o.db, room, sender, txn, &seq, &ts) == NT_OK;
    if (dup)
        *reply = json_pack("{s:I,s:I,s:b}", "seq", (json_int_t)seq, "ts", (json_int_t)ts, "duplicate", 1);
    return dup;
}

/* The room a batch is appending to: its row is read once, and its head and
 * rotation counter are written once per batch (or before a rotation). */
typedef struct {
    room_row rm;
    bool loaded;
    int64_t added;
} batch_room;

static nt_err flush_room_locked(rooms *r, batch_room *br)
{
    if (!br->loaded || br->added == 0)
        return NT_OK;
    br->added = 0;
    nt_err rc = rooms_store_set_head(r->o.db, br->rm.id, br->rm.head, br->rm.since_rot);
    if (!rc) /* members waiting out a soft retry get the new messages now */
        rc = members_store_wake(r->o.db, br->rm.id);
    return rc;
}

/* One accepted submission inside the batch's transaction: re-check
 * membership (a kick may have landed since the first check), answer a
 * duplicate from the log, else append with the next seq. Returns the
 * refusal; on REFUSE_NONE it->reply is the ack (valid once the transaction
 * commits). */
static rooms_refusal commit_one_locked(rooms *r, batch_room *br, gc_item *it)
{
    int64_t now = rooms_now(r);
    const submission *s = it->s;
    nt_err rc = NT_OK;
    if (!br->loaded || strcmp(br->rm.id, it->room)) {
        if ((rc = flush_room_locked(r, br)))
            goto db_failed;
        br->loaded = rooms_load_locked(r, it->room, &br->rm) == NT_OK && br->rm.state == ROOM_HOSTED;
    }
    member_rec mr;
    if (!br->loaded || members_store_get(r->o.db, it->room, it->sender, &mr) || mr.state != MEMBER_JOINED)
        return item_refuse(it, REFUSE_NOT_MEMBER, "not a member of this room");
    room_row *rm = &br->rm;
    if (!epoch_ok(r, s->epoch, rm->epoch, rm->epoch_ts, rm->epoch_cause)) /* rotated since the first check */
        return dup_locked(r, it->room, it->sender, s->txn, &it->reply) ? REFUSE_NONE : stale_epoch(it, rm->epoch);
    int64_t seq = rm->head + 1;
    log_entry e = {.room = it->room, .seq = seq, .sender = it->sender, .epoch = s->epoch, .txn = s->txn, .ts = now,
                   .body = s->body, .body_len = s->body_len, .sig = s->sig, .sig_len = s->sig_len, .text = it->text};
    rc = log_store_append(r->o.db, &e);
    if (rc == NT_ERR_EXISTS && dup_locked(r, it->room, it->sender, s->txn, &it->reply))
        return REFUSE_NONE; /* the same txn id committed since the first check */
    if (rc)
        goto db_failed;
    rm->head = seq;
    rm->since_rot++;
    br->added++;
    if (it->text) {
        rooms_event_locked(r, "message", rm->id, json_pack("{s:I}", "seq", (json_int_t)seq));
    } else {
        if ((rc = rooms_store_dropped(r->o.db, rm->id, -1, 1)))
            goto db_failed;
        atomic_fetch_add(&r->dropped, 1);
    }
    if (rm->since_rot >= rm->rot_msgs || now - rm->epoch_ts >= rm->rot_secs * 1000)
        if ((rc = flush_room_locked(r, br)) || (rc = rooms_rotate_locked(r, rm, ROOM_ROT_POLICY)))
            goto db_failed;
    it->reply = json_pack("{s:I,s:I}", "seq", (json_int_t)seq, "ts", (json_int_t)now);
    return REFUSE_NONE;
db_failed:
    it->failed_db = true;
    return item_refuse(it, REFUSE_BUSY, "could not store the message");
}

void messages_commit_batch(rooms *r, gc_item *batch)
{
    batch_room br = {.loaded = false};
    pthread_mutex_lock(&r->lock);
    nt_err rc = roomdb_begin(r->o.db);
    bool db_failed = rc != NT_OK;
    for (gc_item *unit = batch; unit && !rc; unit = unit->next) {
        bool refused = false;
        for (gc_item *it = unit; it; it = it->more) {
            if (it->decided || it->untried) /* answered by its check, or not tried */
                continue;
            if (refused) { /* a refusal earlier in the request ends it */
                it->untried = true;
                continue;
            }
            it->in_commit = true;
            it->refusal = commit_one_locked(r, &br, it);
            it->decided = true;
            db_failed |= it->failed_db;
            refused = it->refusal != REFUSE_NONE;
        }
    }
    if (!db_failed)
        db_failed = flush_room_locked(r, &br) != NT_OK;
    if (!db_failed)
        db_failed = roomdb_commit(r->o.db) != NT_OK; /* durable before the ack */
    else if (!rc)
        roomdb_rollback(r->o.db);
    for (gc_item *unit = batch; unit; unit = unit->next)
        for (gc_item *it = unit; it; it = it->more)
            if (db_failed && (it->in_commit || (!it->decided && !it->untried)))
                item_refuse(it, REFUSE_BUSY, "could not store the message");
    if (!db_failed) {
        rooms_log_grew_locked(r);
        rooms_wake_push_locked(r);
    }
    pthread_mutex_unlock(&r->lock);
}

/* Per-thread cache of parsed sender keys. Parsing a DER key (and the
 * first verify with a fresh context, which sets up its Montgomery
 * constants) cost about as much as the verify itself; the cache is keyed by
 * the exact DER bytes read from room_members under the lock, so a member
 * whose key changes simply misses. One per verify thread (it owns it), so
 * no sharing and no lock. */
#define KEY_CACHE_SLOTS 16

typedef struct {
    uint8_t *der;
    size_t der_len;
    identity *id;
} key_slot;

struct key_cache {
    key_slot slot[KEY_CACHE_SLOTS];
    unsigned next;
};

static void key_slot_clear(key_slot *k)
{
    identity_free(k->id);
    free(k->der);
    memset(k, 0, sizeof *k);
}

key_cache *messages_key_cache_new(void)
{
    return calloc(1, sizeof(key_cache));
}

void messages_key_cache_free(key_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < KEY_CACHE_SLOTS; i++)
        key_slot_clear(&c->slot[i]);
    free(c);
}

/* The parsed identity for der: borrowed from the cache c (*owned NULL),
 * or, if there is none, a fresh one the caller frees (*owned). */
static nt_err sender_identity(key_cache *c, const uint8_t *der, size_t len, const identity **out, identity **owned)
{
    *out = NULL;
    *owned = NULL;
    if (c)
        for (size_t i = 0; i < KEY_CACHE_SLOTS; i++)
            if (c->slot[i].id && c->slot[i].der_len == len && memcmp(c->slot[i].der, der, len) == 0) {
                *out = c->slot[i].id;
                return NT_OK;
            }
    identity *id = NULL;
    nt_err rc = identity_from_der(&id, der, len);
    if (rc)
        return rc;
    uint8_t *copy = c ? malloc(len) : NULL;
    if (!copy) {
        *out = *owned = id;
        return NT_OK;
    }
    memcpy(copy, der, len);
    key_slot *k = &c->slot[c->next];
    c->next = (c->next + 1) % KEY_CACHE_SLOTS;
    key_slot_clear(k);
    *k = (key_slot){.der = copy, .der_len = len, .id = id};
    *out = id;
    return NT_OK;
}

/* Decide on it from pc: left undecided when it may be committed
 * (it->text set if the host's copy opened), else decided (a duplicate,
 * answered from the log, or refused) with the answer in it->reply. */
static void check_with(rooms *r, key_cache *kc, gc_item *it, const precheck *pc)
{
    const submission *s = it->s;
    const identity *sid = NULL;
    identity *sid_owned = NULL;
    size_t n;
    if (!pc->found || !pc->hosted ||
        encoding_hex_decode(it->room, ROOM_ID_HEX_LEN, it->idb, sizeof it->idb, &n) != NT_OK || n != ROOM_ID_LEN) {
        item_refuse(it, REFUSE_NOT_FOUND, "no such room here");
    } else if (!pc->pub_len) {
        item_refuse(it, REFUSE_NOT_MEMBER, "not a member of this room");
    } else if (pc->dup) {
        it->reply = json_pack("{s:I,s:I,s:b}", "seq", (json_int_t)pc->dup_seq, "ts", (json_int_t)pc->dup_ts,
                              "duplicate", 1);
        it->decided = true;
        it->refusal = REFUSE_NONE;
    } else if (!epoch_ok(r, s->epoch, pc->epoch, pc->epoch_ts, pc->epoch_cause)) {
        stale_epoch(it, pc->epoch);
    } else if (sender_identity(kc, pc->pub, pc->pub_len, &sid, &sid_owned) ||
               roomcrypt_verify(sid, it->idb, (uint64_t)s->epoch, s->txn, s->body, s->body_len, s->sig,
                                s->sig_len)) {
        item_refuse(it, REFUSE_BAD_SIGNATURE, "the signature does not verify for the sender");
    } else {
        it->text = host_open(it->idb, it->sender, s, pc->have_key ? pc->key : NULL, &it->text_len);
    }
    identity_free(sid_owned);
}

void messages_check_item(rooms *r, key_cache *kc, gc_item *it)
{
    precheck pc;
    if (!rooms_valid_hex(it->room, ROOM_ID_HEX_LEN)) {
        item_refuse(it, REFUSE_NOT_FOUND, "no such room here");
        return;
    }
    precheck_get(r, it->room, it->sender, it->s->epoch, it->s->txn, false, &pc);
    check_with(r, kc, it, &pc);
    if (it->decided && pc.cached) {
        /* never refuse on a cached answer: the log may hold this txn id
         * (then the answer is the stored one), or the cache may be behind.
         * A bad signature against the same key stays refused without a
         * second verify. */
        precheck fresh;
        precheck_get(r, it->room, it->sender, it->s->epoch, it->s->txn, true, &fresh);
        bool same = it->refusal == REFUSE_BAD_SIGNATURE && fresh.found && fresh.hosted && !fresh.dup && fresh.pub_len == pc.pub_len &&
                    memcmp(fresh.pub, pc.pub, pc.pub_len) == 0 &&
                    epoch_ok(r, it->s->epoch, fresh.epoch, fresh.epoch_ts, fresh.epoch_cause);
        if (!same) {
            json_decref(it->reply);
            it->reply = NULL;
            it->decided = false;
            it->refusal = REFUSE_NONE;
            check_with(r, kc, it, &fresh);
        }
        precheck_wipe(&fresh);
    }
    precheck_wipe(&pc);
}

bool messages_check_unit(rooms *r, key_cache *kc, gc_item *unit)
{
    bool refused = false, pending = false;
    for (gc_item *it = unit; it; it = it->more) {
        if (refused) {
            it->untried = true;
            continue;
        }
        messages_check_item(r, kc, it);
        refused = it->decided && it->refusal != REFUSE_NONE; /* else a duplicate, answered from the log */
        pending |= !it->decided;
    }
    return pending;
}

rooms_refusal messages_host_submit(rooms *r, const char *sender, const char *room, const submission *s,
                                   rooms_answer *a)
{
    gc_item it = {.sender = sender, .room = room, .s = s};
    rooms_refusal why = ingest_run(r, &it);
    json_decref(a->body);
    a->body = it.reply;
    if (it.text) {
        mbedtls_platform_zeroize(it.text, it.text_len);
        free(it.text);
    }
    return why;
}

typedef struct {
    json_t *arr;
    size_t bytes;
} log_batch;

static bool log_entry_add(void *arg, const log_entry *e)
{
    log_batch *b = arg;
    /* a batch the other side can take: the first entry always, then up to
     * ROOM_BATCH_BYTES of base64 (a notify is capped at 384 KiB, a sealed
     * reply at 1 MiB) */
    b->bytes += (e->body_len + e->sig_len) / 3 * 4 + 256;
    if (json_array_size(b->arr) > 0 && b->bytes > ROOM_BATCH_BYTES)
        return false;
    json_array_append_new(b->arr, json_pack("{s:I,s:s,s:I,s:s,s:I,s:o,s:o}", "seq", (json_int_t)e->seq, "sender",
                                            e->sender, "epoch", (json_int_t)e->epoch, "txn_id", e->txn, "ts",
                                            (json_int_t)e->ts, "body", rooms_b64_json(e->body, e->body_len), "sig",
                                            rooms_b64_json(e->sig, e->sig_len)));
    return true;
}

static json_t *log_json_locked(rooms *r, const char *room, int64_t after, int64_t limit)
{
    log_batch b = {json_array(), 0};
    nt_err rc = b.arr ? log_store_each(r->o.db, room, after, limit, log_entry_add, &b) : NT_ERR_NOMEM;
    if (rc)
        log_warn("rooms: cannot read the log of %s: %s", room, err_str(rc));
    return b.arr;
}

json_t *messages_log_json_locked(rooms *r, const char *room, int64_t after, int64_t limit)
{
    return log_json_locked(r, room, after, limit);
}

rooms_refusal messages_peer_poll(rooms *r, const char *peer, const char *room, rooms_query_fn *q, void *qarg,
                                 rooms_answer *a)
{
    static const rooms_qparam after_p = {"after", 0, 0, INT64_MAX, NULL};
    static const rooms_qparam limit_p = {"limit", 100, 1, ROOM_POLL_LIMIT, NULL};
    static const rooms_qparam wait_p = {"wait", 0, 0, 3600, "seconds"};
    rooms_query_bad bad = {""};
    int64_t after = rooms_query_int(q, qarg, &after_p, &bad);
    int64_t limit = rooms_query_int(q, qarg, &limit_p, &bad);
    int64_t wait = rooms_query_int(q, qarg, &wait_p, &bad);
    if (bad.msg[0])
        return rooms_decline(a, REFUSE_BAD_REQUEST, bad.msg);
    if (wait > ROOM_POLL_WAIT_MAX)
        wait = ROOM_POLL_WAIT_MAX;
    room_row rm;
    rooms_refusal why = REFUSE_NONE;
    int64_t from = 0, seen = 0;
    pthread_mutex_lock(&r->lock);
    if (rooms_load_locked(r, room, &rm) || rm.state != ROOM_HOSTED) {
        why = rooms_decline(a, REFUSE_NOT_FOUND, "no such room here");
        goto out;
    }
    member_rec mr;
    if (members_store_get(r->o.db, room, peer, &mr) || mr.state != MEMBER_JOINED) {
        why = rooms_decline(a, REFUSE_NOT_MEMBER, "not a member of this room");
        goto out;
    }
    from = mr.from_seq;
    seen = mr.members_seen;
    if (after < from)
        after = from;
    /* a member list it lacks ends the wait too: it fetches the list */
    if (rm.head <= after && rm.members_ver <= seen && wait > 0 && !r->stopping) {
        a->wait.q = &r->log_wait; /* nothing yet: the caller waits for the log to grow */
        a->wait.gen = waitq_gen(&r->log_wait);
        a->wait.ms = (unsigned)wait * 1000u;
        goto out;
    }
    /* what the member has asked after is what it holds; written only every
     * 64 messages (each write is an fsync, and polls come per message) */
    nt_err prc = members_store_polled(r->o.db, room, peer, after);
    if (prc)
        log_warn("rooms: cannot store the cursor of %s in %s: %s", peer, room, err_str(prc));
    a->body = json_pack("{s:o,s:I,s:I,s:I}", "messages", log_json_locked(r, room, after, limit), "head",
                       (json_int_t)rm.head, "epoch", (json_int_t)rm.epoch, "members_ver", (json_int_t)rm.members_ver);
out:
    pthread_mutex_unlock(&r->lock);
    return why;
}

/* ---- member side -------------------------------------------------------- */

void messages_outbox_mark_locked(rooms *r, const char *room, const char *txn, outbox_state state, int64_t seq,
                                 const char *reason)
{
    bool changed = false;
    nt_err rc = outbox_store_set_state(r->o.db, room, txn, state, seq, reason, &changed);
    if (rc && rc != NT_ERR_NOT_FOUND)
        log_warn("rooms: cannot mark %s in %s %s: %s", txn, room, outbox_state_name(state), err_str(rc));
    if (!changed)
        return;
    rooms_event_locked(r, "delivery", room, json_pack("{s:s}", "txn_id", txn));
}

/* Apply one entry; false when it must wait (missing key or sender key,
 * unless final). */
static bool apply_one_locked(rooms *r, room_row *rm, json_t *m, bool final, bool *dropped)
{
    const char *sender = json_string_value(json_object_get(m, "sender"));
    const char *txn = json_string_value(json_object_get(m, "txn_id"));
    json_int_t seq = json_integer_value(json_object_get(m, "seq"));
    json_int_t ep = json_integer_value(json_object_get(m, "epoch"));
    json_int_t ts = json_integer_value(json_object_get(m, "ts"));
    uint8_t key[ROOM_KEY_LEN], sidb[IDENTITY_ID_LEN];
    uint8_t *body = NULL, *sig = NULL, *pub = NULL;
    size_t bl = 0, sl = 0, pl = 0, n, tl = 0;
    identity *sid = NULL;
    char *text = NULL, hex[IDENTITY_ID_HEX_LEN + 1];
    bool ready = true;

    *dropped = true;
    if (!rooms_valid_hex(sender, IDENTITY_ID_HEX_LEN) || !rooms_valid_txn(txn) || ep < 1)
        goto out;
    member_rec mr;
    if (members_store_get(r->o.db, rm->id, sender, &mr) == NT_OK && mr.pub_len > 0 && (pub = malloc(mr.pub_len))) {
        pl = mr.pub_len;
        memcpy(pub, mr.pub, pl);
    }
    if (!pub) {
        if (final)
            goto out; /* the host knows no key for this sender: dropped */
        rooms_need_locked(r, rm->id, ROOM_NEED_MEMBERS);
        ready = false;
        goto out;
    }
    if (rooms_key_locked(r, rm->id, ep, key)) {
        int64_t oldest = 0;
        if (keys_store_oldest(r->o.db, rm->id, &oldest) == NT_OK &&
            oldest > 0 && ep < oldest)
            goto out; /* from before we joined: never ours to read; dropped */
        if (final)
            goto out; /* the host gave us no key for this epoch: dropped */
        rooms_need_locked(r, rm->id, ROOM_NEED_KEYS);
        ready = false;
        goto out;
    }
    body = rooms_b64_get_public(json_object_get(m, "body"), ROOM_BODY_MAX, &bl);
    sig = rooms_b64_get_public(json_object_get(m, "sig"), SIGN_MAX_LEN, &sl);
    if (!body || !sig || identity_from_der(&sid, pub, pl))
        goto wipe;
    identity_id_hex(sid, hex);
    if (strcmp(hex, sender) || encoding_hex_decode(sender, IDENTITY_ID_HEX_LEN, sidb, sizeof sidb, &n) ||
        roomcrypt_verify(sid, rm->idb, (uint64_t)ep, txn, body, bl, sig, sl) ||
        roomcrypt_open(rm->idb, (uint64_t)ep, key, sidb, body, bl, &text, &tl) || !(text = valid_text(text, tl)))
        goto wipe;
    log_entry e = {.room = rm->id, .seq = seq, .sender = sender, .epoch = ep, .txn = txn, .ts = ts, .body = body,
                   .body_len = bl, .sig = sig, .sig_len = sl, .text = text};
    if (log_store_apply(r->o.db, &e) == NT_OK) {
        *dropped = false;
        rooms_event_locked(r, "message", rm->id, json_pack("{s:I}", "seq", (json_int_t)seq));
        if (strcmp(sender, r->me_hex) == 0)
            messages_outbox_mark_locked(r, rm->id, txn, OUTBOX_SENT, seq, NULL);
    }
wipe:
    mbedtls_platform_zeroize(key, sizeof key);
out:
    if (text) {
        mbedtls_platform_zeroize(text, tl);
        free(text);
    }
    identity_free(sid);
    free(body);
    free(sig);
    free(pub);
    return ready;
}

/* A member's copy of a room's log is a copy of the host's, which keeps
 * every message durably, so applying a batch commits without waiting for
 * the disk: synchronous=NORMAL in WAL mode is safe from corruption and from
 * a crash of the process; only a power cut can take the last batches, and
 * the member polls them again from its head when it starts. Every other
 * commit on the connection (the host's log, outboxes, keys) stays FULL. */
static void apply_sync(rooms *r, bool durable)
{
    nt_err rc = roomdb_durable(r->o.db, durable);
    if (rc)
        log_warn("rooms: cannot set the durability of applied messages: %s", err_str(rc));
}

int64_t messages_apply(rooms *r, const char *room, json_t *msgs, bool final)
{
    room_row rm;
    int64_t head = -1;
    pthread_mutex_lock(&r->lock);
    if (rooms_load_locked(r, room, &rm) || rm.state != ROOM_JOINED)
        goto out;
    apply_sync(r, false);
    if (roomdb_begin(r->o.db))
        goto out;
    int64_t dropped = 0;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        json_int_t seq = json_integer_value(json_object_get(m, "seq"));
        if (seq <= rm.head)
            continue; /* duplicate */
        if (seq != rm.head + 1) {
            rooms_need_locked(r, room, ROOM_NEED_POLL); /* gap: fetch what is missing */
            break;
        }
        bool drop;
        if (!apply_one_locked(r, &rm, m, final, &drop))
            break;
        if (drop)
            dropped++;
        rm.head = seq;
    }
    if (rooms_store_dropped(r->o.db, room, rm.head, dropped) ||
        roomdb_commit(r->o.db)) {
        roomdb_rollback(r->o.db);
        goto out;
    }
    atomic_fetch_add(&r->dropped, (uint64_t)dropped);
    head = rm.head;
out:
    apply_sync(r, true);
    pthread_mutex_unlock(&r->lock);
    return head;
}

/* An invitation from peer. A room id is bound to its host: an invite for
 * a room this node knows from another host (or hosts itself) is refused
 * 409 and changes nothing. Invitations not yet joined are capped per
 * inviting peer and in all (429): a peer cannot fill our room list or
 * reserve room ids by the hundred. */
static rooms_refusal notify_invite_locked(rooms *r, const char *peer, const char *room, const room_row *rm,
                                          json_t *body, rooms_answer *a)
{
    json_t *ri = json_object_get(body, "room");
    const char *name = json_string_value(json_object_get(ri, "name"));
    const char *topic = json_string_value(json_object_get(ri, "topic"));
    room_access access;
    int64_t from_peer = 0, all = 0;
    if (rm && strcmp(rm->host, peer))
        return rooms_decline(a, REFUSE_CONFLICT, "this room id belongs to another host");
    if (rm && rm->state == ROOM_INVITED) {
        a->body = json_pack("{s:I}", "head", (json_int_t)0); /* already pending: nothing new */
        return REFUSE_NONE;
    }
    if (!rm || rm->state != ROOM_JOINED) {
        if (rooms_store_invited(r->o.db, peer, &from_peer) || rooms_store_invited(r->o.db, NULL, &all))
            return rooms_decline(a, REFUSE_BUSY, "could not read the invitations");
        if (from_peer >= ROOM_INVITES_PER_PEER || all >= ROOM_INVITES_MAX)
            return rooms_decline(a, REFUSE_RATE_LIMITED, "too many invitations pending: join or leave some first");
        if (!name || strlen(name) > ROOM_NAME_MAX)
            name = "?";
        if (!topic || strlen(topic) > ROOM_TOPIC_MAX)
            topic = "";
        if (room_access_parse(json_string_value(json_object_get(ri, "access")), &access))
            access = ROOM_ACCESS_INVITE;
        if (rooms_store_invite(r->o.db, room, name, topic, peer, access, rooms_now(r)))
            return rooms_decline(a, REFUSE_BUSY, "could not store the invitation");
        rooms_event_locked(r, "invite", room, json_pack("{s:s,s:s}", "peer", peer, "name", name));
    }
    a->body = json_pack("{s:I}", "head", (json_int_t)0);
    return REFUSE_NONE;
}

/* A notify's keys and member-list changes (with the room's record); *mver
 * gets the version the member list is at. The caller has checked the
 * lists' sizes (at most ROOM_KEYS_PUSH_MAX keys and ROOM_MEMBERS_PUSH_MAX
 * rows). Row by row, not in one transaction: one held the write lock
 * through the key unwraps and the fsync while pushes queued behind it,
 * and put the push latency's p99 10-15 ms higher (bench/rooms_latency). */
static rooms_refusal notify_lists_locked(rooms *r, const char *room, json_t *body, int64_t *mver,
                                         rooms_answer *a)
{
    json_t *keys = json_object_get(body, "keys"), *members = json_object_get(body, "members");
    if (!json_array_size(keys) && !json_is_array(members))
        return REFUSE_NONE;
    nt_err rc = rooms_store_keys_locked(r, room, keys, ROOM_KEYS_PUSH_MAX);
    if (!rc && json_is_array(members)) { /* before the messages: new senders' keys */
        json_int_t v = json_integer_value(json_object_get(body, "members_ver"));
        rc = rooms_store_members_locked(r, room, members, v, json_object_get(body, "room"), ROOM_MEMBERS_PUSH_MAX);
        if (!rc)
            *mver = v > *mver ? v : *mver;
    }
    if (!rc)
        return REFUSE_NONE;
    return rooms_decline(a, REFUSE_BUSY, "could not store the keys or the member list");
}

/* Host -> member notifications: messages, keys, member-list changes,
 * invite, kicked (of a joined room, or withdrawing an invitation). Lists
 * longer than a notify carries (ROOM_KEYS_PUSH_MAX keys,
 * ROOM_MEMBERS_PUSH_MAX member rows) refuse it whole, before any work. */
rooms_refusal messages_peer_notify(rooms *r, const char *peer, const char *room, json_t *body, rooms_answer *a)
{
    room_row rm;
    member_notice ev;
    /* the peer API refuses any other event ("reinvite" is a host's stored
     * name only: it goes out as "kicked", then "invite") */
    if (member_notice_parse(json_string_value(json_object_get(body, "event")), &ev) || ev == MEMBER_NOTICE_REINVITE)
        ev = MEMBER_NOTICE_NONE;
    if (json_array_size(json_object_get(body, "keys")) > ROOM_KEYS_PUSH_MAX ||
        json_array_size(json_object_get(body, "members")) > ROOM_MEMBERS_PUSH_MAX)
        return rooms_decline(a, REFUSE_BAD_REQUEST, "more keys or member rows than one notify carries");
    pthread_mutex_lock(&r->lock);
    bool have = rooms_load_locked(r, room, &rm) == NT_OK;
    /* a kick's members_ver is the version it was recorded at: one from
     * before this membership began (pushed while we joined again) is
     * stale, and the notify is taken as one without it (it carries
     * nothing else). A kick that says no version is taken. */
    json_t *kick_ver = json_object_get(body, "members_ver");
    if (have && ev == MEMBER_NOTICE_KICKED && rm.state == ROOM_JOINED && json_is_integer(kick_ver) &&
        json_integer_value(kick_ver) < rm.joined_ver)
        ev = MEMBER_NOTICE_NONE;
    if (ev == MEMBER_NOTICE_INVITE) {
        rooms_refusal why = notify_invite_locked(r, peer, room, have ? &rm : NULL, body, a);
        pthread_mutex_unlock(&r->lock);
        return why;
    }
    /* a kick also withdraws an invitation not taken yet, which then no
     * longer counts toward the invitations pending */
    bool kickable = have && ev == MEMBER_NOTICE_KICKED && (rm.state == ROOM_JOINED || rm.state == ROOM_INVITED);
    if (!have || strcmp(rm.host, peer) || (rm.state != ROOM_JOINED && !kickable)) {
        pthread_mutex_unlock(&r->lock);
        return rooms_decline(a, REFUSE_NOT_MEMBER, "not following this room");
    }
    if (kickable) {
        nt_err rc = rooms_store_set_state(r->o.db, room, ROOM_KICKED);
        if (rc)
            log_warn("rooms: cannot mark %s kicked: %s", room, err_str(rc));
        rooms_event_locked(r, "membership", room, json_pack("{s:s,s:s}", "peer", r->me_hex, "membership", "kicked"));
        pthread_mutex_unlock(&r->lock);
        a->body = json_pack("{s:I}", "head", (json_int_t)rm.head);
        return REFUSE_NONE;
    }
    int64_t mver = rm.members_ver;
    rooms_refusal why = notify_lists_locked(r, room, body, &mver, a);
    pthread_mutex_unlock(&r->lock);
    if (why != REFUSE_NONE)
        return why;
    int64_t head = rm.head;
    json_t *msgs = json_object_get(body, "messages");
    if (json_is_array(msgs) && json_array_size(msgs) > 0)
        head = messages_apply(r, room, msgs, false);
    a->body = json_pack("{s:I,s:I}", "head", (json_int_t)(head < 0 ? rm.head : head), "members_ver", (json_int_t)mver);
    return REFUSE_NONE;
}
