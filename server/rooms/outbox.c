/* outbox.c - the sender's outbox: what the user typed is stored first,
 * then submitted to the host and retried with backoff until the host
 * acknowledges it (sent, with its seq) or refuses it (failed, with the
 * reason). Entries of one room go out strictly in the order they were
 * typed. See api-spec/protocol.md "Messages". */
#include "server/rooms/rooms_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/platform_util.h>

#include "crypto/encoding.h"
#include "crypto/sign.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 60000
#define DRAIN_MAX 256

static int64_t backoff_ms(int64_t attempts)
{
    int64_t d = BACKOFF_MIN_MS;
    for (int64_t i = 1; i < attempts && d < BACKOFF_MAX_MS; i++)
        d *= 2;
    return d < BACKOFF_MAX_MS ? d : BACKOFF_MAX_MS;
}

static_assert(OUTBOX_ROOM_MAX == ROOM_ID_HEX_LEN, "outbox room ids are room ids");
static_assert(OUTBOX_TXN_MAX == ROOM_TXN_MAX, "outbox txn ids are txn ids");

json_t *outbox_json_locked(rooms *r, const char *room, const char *txn)
{
    outbox_entry e;
    if (outbox_store_get(r->o.db, room, txn, true, &e))
        return NULL;
    json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:s,s:I}", "room", room, "txn_id", txn, "state",
                          outbox_state_name(e.state), "attempts", (json_int_t)e.attempts, "text", e.text, "created_at",
                          (json_int_t)e.created);
    if (j && e.has_seq)
        json_object_set_new(j, "seq", json_integer(e.seq));
    if (j && e.reason[0])
        json_object_set_new(j, "reason", json_string(e.reason));
    outbox_entry_clear(&e);
    return j;
}

typedef struct {
    rooms *r;
    const char *room;
    json_t *arr;
} pending_list;

static void pending_add(void *arg, const char *txn)
{
    pending_list *pl = arg;
    json_t *e = outbox_json_locked(pl->r, pl->room, txn);
    if (e)
        json_array_append_new(pl->arr, e);
}

json_t *outbox_pending_json_locked(rooms *r, const char *room)
{
    pending_list pl = {r, room, json_array()};
    nt_err rc = pl.arr ? outbox_store_unsent(r->o.db, room, 500, pending_add, &pl) : NT_ERR_NOMEM;
    if (rc)
        log_warn("rooms: cannot list the outbox of %s: %s", room, err_str(rc));
    return pl.arr;
}

/* Schedule txn's next attempt. first_ms < 0: after the backoff of its
 * attempts. first_ms >= 0: after first_ms when this was its first attempt,
 * then after the backoff one step behind. */
static void retry_locked(rooms *r, const char *room, const char *txn, const char *reason, int64_t first_ms)
{
    int64_t attempts = 0;
    nt_err rc = outbox_store_next_attempt(r->o.db, room, txn, &attempts);
    int64_t delay = first_ms < 0 ? backoff_ms(attempts) : attempts <= 1 ? first_ms : backoff_ms(attempts - 1);
    if (!rc)
        rc = outbox_store_retry(r->o.db, room, txn, attempts, rooms_now(r) + delay, reason);
    if (rc)
        log_warn("rooms: cannot schedule a retry of %s in %s: %s", txn, room, err_str(rc));
}

static void fail_locked(rooms *r, const char *room, const char *txn, int status, json_t *reply)
{
    json_t *e = json_object_get(reply, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    char reason[256];
    snprintf(reason, sizeof reason, "%s: %s", code ? code : "refused", msg ? msg : "refused by the host");
    nt_err rc = outbox_store_set_code(r->o.db, room, txn, status);
    if (rc)
        log_warn("rooms: cannot store the refusal of %s in %s: %s", txn, room, err_str(rc));
    messages_outbox_mark_locked(r, room, txn, OUTBOX_FAILED, 0, reason);
}

/* Seal and sign the text under the newest epoch we hold. */
static nt_err prepare(rooms *r, const room_row *rm, const uint8_t key[static ROOM_KEY_LEN], const char *txn,
                      const char *text, submission *s)
{
    uint8_t sig[SIGN_MAX_LEN];
    size_t sl = 0;
    memset(s, 0, sizeof *s);
    s->txn = txn;
    s->epoch = rm->epoch;
    nt_err rc = roomcrypt_seal(rm->idb, (uint64_t)rm->epoch, key, identity_id(r->o.me), text, strlen(text), &s->body,
                               &s->body_len);
    if (!rc)
        rc = roomcrypt_sign(r->o.me, rm->idb, (uint64_t)rm->epoch, txn, s->body, s->body_len, sig, sizeof sig, &sl);
    if (!rc) {
        s->sig = malloc(sl);
        if (!s->sig)
            rc = NT_ERR_NOMEM;
        else
            memcpy(s->sig, sig, sl);
        s->sig_len = sl;
    }
    if (rc)
        messages_submission_free(s);
    return rc;
}

/* One outbox entry on its way out. */
typedef struct {
    char txn[ROOM_TXN_MAX + 1];
    char *text; /* owned, wiped */
    submission s;
    outbox_state state;
    bool settled; /* the host answered it, or it could not be sent */
    bool busy;    /* not tried: another thread is sending the room's entries */
} out_entry;

static void entry_free(out_entry *e)
{
    messages_submission_free(&e->s);
    if (e->text) {
        mbedtls_platform_zeroize(e->text, strlen(e->text));
        free(e->text);
        e->text = NULL;
    }
}

/* The host's answer for one entry (transport error rc, or status and
 * reply) into the outbox, in the caller's transaction. */
static void settle_locked(rooms *r, const char *room, int64_t epoch, out_entry *e, nt_err rc, int status, json_t *reply)
{
    e->settled = true;
    if (rc || status >= 500 || status == 429 || status == 0) {
        retry_locked(r, room, e->txn, rc ? err_str(rc) : "host busy", -1);
        e->state = OUTBOX_PENDING;
    } else if (status == 200) {
        messages_outbox_mark_locked(r, room, e->txn, OUTBOX_SENT, json_integer_value(json_object_get(reply, "seq")),
                                    NULL);
        e->state = OUTBOX_SENT;
    } else if (status == 409 && json_integer_value(json_object_get(reply, "epoch")) > epoch) {
        /* the host rotated: fetch, reseal, resend soon; a host that keeps
         * saying so (and never gives the key) is backed off as any failure */
        rooms_need_locked(r, room, ROOM_NEED_KEYS);
        retry_locked(r, room, e->txn, "stale epoch", 100);
        e->state = OUTBOX_PENDING;
    } else {
        fail_locked(r, room, e->txn, status, reply);
        e->state = OUTBOX_FAILED;
    }
}

static json_t *submission_json(const submission *s)
{
    return json_pack("{s:s,s:I,s:o,s:o}", "txn_id", s->txn, "epoch", (json_int_t)s->epoch, "body",
                     rooms_b64_json(s->body, s->body_len), "sig", rooms_b64_json(s->sig, s->sig_len));
}

/* Mark room as sending: its slot, -1 if every slot is taken (the send goes
 * ahead: the host answers a repeat from its log), -2 if it is already. */
static int busy_claim_locked(rooms *r, const char *room)
{
    int free_slot = -1;
    for (int i = 0; i < ROOM_OUTBOX_BUSY_MAX; i++) {
        if (strcmp(r->outbox_busy[i], room) == 0)
            return -2;
        if (free_slot < 0 && !r->outbox_busy[i][0])
            free_slot = i;
    }
    if (free_slot >= 0)
        snprintf(r->outbox_busy[free_slot], sizeof r->outbox_busy[free_slot], "%s", room);
    return free_slot;
}

/* Take the texts of e[0..n) that are still pending; returns how many
 * come before the first one settled meanwhile (only those are sent). */
static size_t load_texts_locked(rooms *r, const char *room, out_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        outbox_entry oe;
        e[i].state = OUTBOX_FAILED;
        if (outbox_store_get(r->o.db, room, e[i].txn, true, &oe) == NT_OK) {
            e[i].state = oe.state;
            if (oe.state == OUTBOX_PENDING) {
                e[i].text = oe.text; /* handed over */
                oe.text = NULL;
            }
            outbox_entry_clear(&oe);
        }
        if (!e[i].text)
            return i;
    }
    return n;
}

#define CLAIM_DONE (-3) /* settled here, or another thread sends: nothing to send */

/* Whether e[0..n) can go out now: the room (into *rm) is one we send to,
 * its key (into key) is held, and the room's sending slot is ours. The
 * slot (or -1: all taken, send anyway), else CLAIM_DONE with the entries
 * settled or marked busy. */
static int claim_locked(rooms *r, const char *room, out_entry *e, size_t n, room_row *rm,
                        uint8_t key[static ROOM_KEY_LEN])
{
    if (rooms_load_locked(r, room, rm) || (rm->state != ROOM_JOINED && rm->state != ROOM_HOSTED)) {
        /* settled as a host's not_member would settle them */
        json_t *err = NULL;
        rooms_answer a = {0};
        int status = rooms_answer_http(rooms_decline(&a, REFUSE_NOT_MEMBER, "not a member of this room"), &a, &err);
        for (size_t i = 0; i < n; i++)
            settle_locked(r, room, 0, &e[i], NT_OK, status, err);
        json_decref(err);
        return CLAIM_DONE;
    }
    if (rooms_key_locked(r, room, rm->epoch, key)) {
        rooms_need_locked(r, room, ROOM_NEED_KEYS);
        retry_locked(r, room, e[0].txn, "waiting for the room key", -1);
        e[0].state = OUTBOX_PENDING;
        e[0].settled = true;
        return CLAIM_DONE;
    }
    int slot = busy_claim_locked(r, room);
    if (slot == -2) { /* another thread is sending this room's entries: it wakes the drain when done */
        for (size_t i = 0; i < n; i++)
            e[i].busy = true;
        mbedtls_platform_zeroize(key, ROOM_KEY_LEN);
        return CLAIM_DONE;
    }
    return slot;
}

/* Seal and sign, in order, as many of e[0..n) as fit one request (sized
 * before the signatures, which are the costly part); our own room takes
 * no batches. Returns how many (at least 1); *rc: the first one failed. */
static size_t seal_run(rooms *r, const room_row *rm, const uint8_t key[static ROOM_KEY_LEN], out_entry *e, size_t n,
                       nt_err *rc)
{
    size_t bytes = 0, k = 0;
    *rc = NT_OK;
    for (; k < (rm->state == ROOM_HOSTED ? 1 : n); k++) {
        size_t need = (seal_len(strlen(e[k].text)) + SIGN_MAX_LEN) * 4 / 3 + 160;
        if (k > 0 && bytes + need > ROOM_SUBMIT_BATCH_BYTES)
            break;
        nt_err prc = prepare(r, rm, key, e[k].txn, e[k].text, &e[k].s);
        if (prc) {
            if (k == 0)
                *rc = prc;
            break;
        }
        bytes += need;
    }
    return k ? k : 1;
}

/* Send the sealed e[0..*n) to the host (our own log when we host): a
 * batch, or the oldest alone when the host has no batch route. */
static nt_err send_run(rooms *r, const char *room, const room_row *rm, out_entry *e, size_t *n, json_t **reply,
                       int *status)
{
    nt_err rc = NT_OK;
    if (rm->state == ROOM_HOSTED) {
        /* our own answer, as a host's would come over the wire */
        rooms_answer a = {0};
        rooms_refusal why = messages_host_submit(r, r->me_hex, room, &e[0].s, &a);
        *status = rooms_answer_http(why, &a, reply);
        return NT_OK;
    }
    if (*n > 1) {
        json_t *arr = json_array(), *req = NULL;
        for (size_t i = 0; i < *n && arr; i++)
            if (json_array_append_new(arr, submission_json(&e[i].s))) {
                json_decref(arr);
                arr = NULL;
            }
        req = arr ? json_pack("{s:o}", "messages", arr) : NULL;
        rc = req ? rooms_port_ask(r, PORT_BATCH, rm->host, room, req, reply, status) : NT_ERR_NOMEM;
        json_decref(req);
        if (*status != 404 && *status != 405 && rc != NT_ERR_NOT_FOUND)
            return rc;
        /* a host without the batch route (an older natterd), or the room
         * is gone: the oldest entry alone, on the route every host has,
         * tells which */
        json_decref(*reply);
        *reply = NULL;
        *n = 1;
    }
    json_t *req = submission_json(&e[0].s);
    rc = req ? rooms_port_ask(r, PORT_SUBMIT, rm->host, room, req, reply, status) : NT_ERR_NOMEM;
    json_decref(req);
    return rc;
}

/* The host's answer to e[0..n) into the outbox, in one commit. */
static void settle_run_locked(rooms *r, const char *room, int64_t epoch, out_entry *e, size_t n, nt_err rc,
                              int status, json_t *reply)
{
    bool txn = roomdb_begin(r->o.db) == NT_OK; /* states and their events in one commit */
    json_t *results = json_object_get(reply, "results");
    if (!rc && status == 200 && n > 1 && !json_is_array(results))
        rc = NT_ERR_VERSION; /* not a batch's answer: retried later */
    if (!rc && status == 200 && n > 1) {
        /* each entry the host answered, in order; the rest stay due */
        for (size_t i = 0; i < n && i < json_array_size(results); i++) {
            json_t *res = json_array_get(results, i);
            const char *t = json_string_value(json_object_get(res, "txn_id"));
            if (!t || strcmp(t, e[i].txn) != 0)
                break; /* not the answer to this entry: try it again */
            settle_locked(r, room, epoch, &e[i], NT_OK, (int)json_integer_value(json_object_get(res, "status")),
                          res);
        }
    } else {
        settle_locked(r, room, epoch, &e[0], rc, status, reply); /* a batch refused whole: its first entry's answer */
    }
    if (txn && roomdb_commit(r->o.db))
        roomdb_rollback(r->o.db);
}

/* Submit pending entries e[0..n) of one room, oldest first: one request,
 * a batch when n > 1 (see api-spec/protocol.md "Messages"). Each entry's
 * state afterwards is in e[i].state; an entry the host did not try stays
 * pending and due, and so does every entry while another thread is
 * sending the room's. */
static void try_entries(rooms *r, const char *room, out_entry *e, size_t n)
{
    room_row rm;
    uint8_t key[ROOM_KEY_LEN];
    json_t *reply = NULL;
    int status = 0;
    nt_err rc;

    pthread_mutex_lock(&r->lock);
    n = load_texts_locked(r, room, e, n);
    int slot = n ? claim_locked(r, room, e, n, &rm, key) : CLAIM_DONE;
    pthread_mutex_unlock(&r->lock);
    if (slot == CLAIM_DONE)
        return;

    n = seal_run(r, &rm, key, e, n, &rc);
    mbedtls_platform_zeroize(key, sizeof key);
    if (!rc)
        rc = send_run(r, room, &rm, e, &n, &reply, &status);

    pthread_mutex_lock(&r->lock);
    settle_run_locked(r, room, rm.epoch, e, n, rc, status, reply);
    if (slot >= 0) {
        r->outbox_busy[slot][0] = '\0';
        pthread_cond_broadcast(&r->outbox_cond);
    }
    rooms_wake_sync_locked(r);
    pthread_mutex_unlock(&r->lock);
    json_decref(reply);
}

static bool room_busy_locked(rooms *r, const char *room)
{
    for (int i = 0; i < ROOM_OUTBOX_BUSY_MAX; i++)
        if (strcmp(r->outbox_busy[i], room) == 0)
            return true;
    return false;
}

/* Another thread (the sync thread) took the room's entries, this one
 * among them: it is the room's oldest. Wait, bounded, for that attempt
 * and take its outcome, so that a send still answers what the host said. */
static void await_other_sender(rooms *r, const char *room, const char *txn, outbox_state *state)
{
    struct timespec ts = waitq_deadline(ROOM_PEER_TIMEOUT_MS + 1000);
    pthread_mutex_lock(&r->lock);
    while (room_busy_locked(r, room) && rooms_wait_locked(r, &r->outbox_cond, &ts)) {
    }
    outbox_entry oe;
    if (outbox_store_get(r->o.db, room, txn, false, &oe) == NT_OK)
        *state = oe.state;
    pthread_mutex_unlock(&r->lock);
}

void outbox_try(rooms *r, const char *room, const char *txn_id, outbox_state *state)
{
    out_entry e = {0};
    snprintf(e.txn, sizeof e.txn, "%s", txn_id);
    try_entries(r, room, &e, 1);
    *state = e.state;
    if (e.busy)
        await_other_sender(r, room, txn_id, state);
    entry_free(&e);
}

/* The oldest pending entry of each room, if it is due. */
static bool next_due(rooms *r, char room[static ROOM_ID_HEX_LEN + 1], char txn[static ROOM_TXN_MAX + 1],
                     const char *skip)
{
    pthread_mutex_lock(&r->lock);
    nt_err rc = outbox_store_next_due(r->o.db, rooms_now(r), skip, room, txn);
    pthread_mutex_unlock(&r->lock);
    if (rc && rc != NT_ERR_NOT_FOUND)
        log_warn("rooms: cannot read the outbox: %s", err_str(rc));
    return rc == NT_OK;
}

typedef struct {
    out_entry *e;
    size_t n, max;
} run_list;

static void run_add(void *arg, const char *txn)
{
    run_list *rl = arg;
    if (rl->n < rl->max)
        snprintf(rl->e[rl->n++].txn, sizeof rl->e[0].txn, "%s", txn);
}

/* The room's pending entries from its oldest on (at most one batch). */
static size_t pending_run(rooms *r, const char *room, out_entry *e, size_t max)
{
    run_list rl = {e, 0, max};
    pthread_mutex_lock(&r->lock);
    nt_err rc = outbox_store_pending(r->o.db, room, max, run_add, &rl);
    pthread_mutex_unlock(&r->lock);
    if (rc)
        log_warn("rooms: cannot read the outbox of %s: %s", room, err_str(rc));
    return rl.n;
}

void outbox_drain(rooms *r)
{
    char room[ROOM_ID_HEX_LEN + 1], txn[ROOM_TXN_MAX + 1];
    char skip[8 * (ROOM_ID_HEX_LEN + 1) + 1] = ""; /* rooms that failed this round */
    for (int i = 0; i < DRAIN_MAX && !r->stopping && next_due(r, room, txn, skip); i++) {
        out_entry e[ROOM_SUBMIT_BATCH_MAX];
        memset(e, 0, sizeof e);
        size_t n = pending_run(r, room, e, ROOM_SUBMIT_BATCH_MAX);
        if (n == 0 || strcmp(e[0].txn, txn) != 0) /* changed meanwhile: look again */
            continue;
        try_entries(r, room, e, n);
        /* the room waits for its next try when its oldest entry got no
         * answer or any entry must be retried; entries after a refusal
         * were not tried and are due now */
        bool blocked = !e[0].settled;
        for (size_t k = 0; k < n; k++) {
            blocked |= e[k].settled && e[k].state == OUTBOX_PENDING;
            entry_free(&e[k]);
        }
        if (blocked) {
            if (strlen(skip) + ROOM_ID_HEX_LEN + 1 >= sizeof skip)
                break;
            strcat(skip, room);
            strcat(skip, " ");
        }
    }
}

/* Seal the master's own message under rm's epoch and commit it to the
 * log (one fsync); the answer into *ack (the caller's). */
static rooms_refusal host_seal_submit(rooms *r, const room_row *rm, const char *txn, const char *text,
                                      rooms_answer *ack)
{
    uint8_t key[ROOM_KEY_LEN];
    submission s = {0};
    pthread_mutex_lock(&r->lock);
    nt_err rc = rooms_key_locked(r, rm->id, rm->epoch, key);
    pthread_mutex_unlock(&r->lock);
    if (!rc)
        rc = prepare(r, rm, key, txn, text, &s);
    mbedtls_platform_zeroize(key, sizeof key);
    if (rc)
        return rooms_decline(ack, REFUSE_INTERNAL, err_str(rc));
    rooms_refusal why = messages_host_submit(r, r->me_hex, rm->id, &s, ack);
    messages_submission_free(&s);
    return why;
}

/* The master's own message into its own room; a repeated txn id answers
 * from the log. A rotation between the seal and the commit (a member
 * left or was kicked: the previous epoch has no grace then) is answered
 * stale_epoch, and the message is sealed again under the new epoch, up to
 * HOST_SEND_TRIES times in all. */
#define HOST_SEND_TRIES 3
static rooms_refusal host_send(rooms *r, const room_row *rm0, const char *txn, const char *text, rooms_answer *a)
{
    room_row rm = *rm0;
    rooms_answer ack = {0};
    rooms_refusal why = host_seal_submit(r, &rm, txn, text, &ack);
    for (int tries = 1; why == REFUSE_STALE_EPOCH && tries < HOST_SEND_TRIES; tries++) {
        pthread_mutex_lock(&r->lock);
        bool loaded = rooms_load_locked(r, rm0->id, &rm) == NT_OK;
        pthread_mutex_unlock(&r->lock);
        if (!loaded)
            break;
        json_decref(ack.body);
        ack.body = NULL;
        why = host_seal_submit(r, &rm, txn, text, &ack);
    }
    if (why) { /* the host's refusal (this node's own) */
        json_decref(a->body);
        a->body = ack.body;
        return why;
    }
    a->body = json_pack("{s:s,s:s,s:s,s:O,s:I,s:s}", "room", rm.id, "txn_id", txn, "state", "sent", "seq",
                       json_object_get(ack.body, "seq"), "attempts", (json_int_t)1, "text", text);
    json_decref(ack.body);
    return REFUSE_NONE;
}

/* The answer to a client's send: the entry as it stands, 200 once sent,
 * 202 while pending, the host's refusal (4xx, the entry inside) once
 * failed. */
static rooms_refusal put_answer(rooms *r, const char *room, const char *txn, rooms_answer *a)
{
    pthread_mutex_lock(&r->lock);
    json_t *entry = outbox_json_locked(r, room, txn);
    outbox_entry cur;
    nt_err crc = outbox_store_get(r->o.db, room, txn, false, &cur);
    pthread_mutex_unlock(&r->lock);
    int64_t code = crc ? 0 : cur.code;
    if (!crc && cur.state == OUTBOX_FAILED) { /* the host's refusal, as it stored it */
        const char *reason = json_string_value(json_object_get(entry, "reason"));
        int status = code >= 400 && code < 500 ? (int)code : 403;
        json_t *err = NULL;
        rooms_error(&err, status, "refused", reason ? reason : "refused");
        json_object_set_new(err, "entry", entry);
        return rooms_relay(a, status, err);
    }
    a->body = entry;
    a->pending = crc || cur.state != OUTBOX_SENT;
    return REFUSE_NONE;
}

static void no_entry(void *arg, const char *txn)
{
    (void)txn;
    *(bool *)arg = true;
}

/* A new entry (txn, text), and its delivery event unless the send is
 * tried at once (its outcome is then the one event), in one commit. */
static nt_err put_new_locked(rooms *r, const char *room, const char *txn, const char *text, bool event)
{
    nt_err rc = roomdb_begin(r->o.db);
    if (!rc)
        rc = outbox_store_add(r->o.db, room, txn, text, rooms_now(r));
    if (!rc) {
        if (event)
            rooms_event_locked(r, "delivery", room, json_pack("{s:s}", "txn_id", txn));
        rc = roomdb_commit(r->o.db);
    } else {
        roomdb_rollback(r->o.db);
    }
    return rc;
}

struct stored_text {
    char *text;
    int64_t seq, ts;
};

static bool keep_text(void *arg, const log_entry *e)
{
    struct stored_text *st = arg;
    st->text = e->text ? strdup(e->text) : NULL;
    st->seq = e->seq;
    st->ts = e->ts;
    return false;
}

/* Our own room: a txn id this node already used there with another text
 * is refused with the stored message (the host's log answers a repeat of
 * the same text itself). */
static rooms_refusal hosted_repeat_locked(rooms *r, const char *room, const char *txn, const char *text,
                                          rooms_answer *a)
{
    int64_t seq = 0, ts = 0;
    struct stored_text st = {0};
    if (log_store_find(r->o.db, room, r->me_hex, txn, &seq, &ts) != NT_OK ||
        log_store_text_at(r->o.db, room, seq, keep_text, &st) != NT_OK || !st.text)
        return REFUSE_NONE;
    rooms_refusal why = REFUSE_NONE;
    if (strcmp(st.text, text) != 0) {
        why = rooms_decline(a, REFUSE_TXN_CONFLICT, "txn_id already used for another text (the stored one is in entry)");
        json_object_set_new(a->body, "entry",
                            json_pack("{s:s,s:s,s:s,s:I,s:s}", "room", room, "txn_id", txn, "state", "sent", "seq",
                                      (json_int_t)st.seq, "text", st.text));
    }
    free(st.text);
    return why;
}

rooms_refusal outbox_client_put(rooms *r, const char *room, const char *txn, json_t *body, rooms_answer *a)
{
    json_t *jt = json_object_get(body, "text");
    room_row rm;
    rooms_refusal why = REFUSE_NONE;
    bool first = false;
    if (!rooms_valid_txn(txn))
        return rooms_decline(a, REFUSE_BAD_REQUEST, "txn_id is 1-64 of [A-Za-z0-9._~-]");
    if (!json_is_object(body) || !json_is_string(jt) || !json_string_value(jt)[0])
        return rooms_decline(a, REFUSE_BAD_REQUEST, "body must be {\"text\": non-empty string}");
    if (json_string_length(jt) > ROOM_TEXT_MAX)
        return rooms_decline(a, REFUSE_TOO_LARGE, "text is over 16384 bytes");
    if (strlen(json_string_value(jt)) != json_string_length(jt))
        return rooms_decline(a, REFUSE_BAD_REQUEST, "text must not contain NUL");
    const char *text = json_string_value(jt);

    pthread_mutex_lock(&r->lock);
    if (rooms_load_locked(r, room, &rm)) {
        why = rooms_decline(a, REFUSE_NOT_FOUND, "no such room");
        goto unlock;
    }
    outbox_entry old;
    nt_err orc = outbox_store_get(r->o.db, room, txn, true, &old);
    bool exists = orc == NT_OK, same = exists && strcmp(old.text, text) == 0;
    outbox_entry_clear(&old);
    if (orc && orc != NT_ERR_NOT_FOUND)
        why = rooms_decline(a, REFUSE_BUSY, "could not read the outbox");
    else if (exists && !same) {
        why = rooms_decline(a, REFUSE_TXN_CONFLICT, "txn_id already used for another text (the stored one is in entry)");
        json_object_set_new(a->body, "entry", outbox_json_locked(r, room, txn));
    }
    else if (!exists && rm.state != ROOM_JOINED && rm.state != ROOM_HOSTED)
        why = rooms_decline(a, REFUSE_NOT_MEMBER, "not a member of this room");
    if (why)
        goto unlock;
    if (!exists && rm.state == ROOM_HOSTED) {
        /* our own room: the log itself is the durable record, no outbox */
        if ((why = hosted_repeat_locked(r, room, txn, text, a)))
            goto unlock;
        pthread_mutex_unlock(&r->lock);
        return host_send(r, &rm, txn, text, a);
    }
    bool backlog = false; /* another entry waits: this one goes after it */
    if (!exists && outbox_store_pending(r->o.db, room, 1, no_entry, &backlog))
        backlog = true;
    if (!exists && put_new_locked(r, room, txn, text, backlog)) {
        why = rooms_decline(a, REFUSE_BUSY, "could not store the message");
        goto unlock;
    }
    if (outbox_store_is_oldest(r->o.db, room, txn, &first))
        first = false; /* the sync loop sends it */
    if (!exists && !backlog && !first) /* taken meanwhile: say it waits */
        rooms_event_locked(r, "delivery", room, json_pack("{s:s}", "txn_id", txn));
    if (!first)
        rooms_wake_sync_locked(r);
unlock:
    pthread_mutex_unlock(&r->lock);
    if (why)
        return why;
    outbox_state state;
    if (first) {
        outbox_try(r, room, txn, &state);
        if (!exists && !backlog && state == OUTBOX_PENDING) { /* no answer yet: now it waits */
            pthread_mutex_lock(&r->lock);
            rooms_event_locked(r, "delivery", room, json_pack("{s:s}", "txn_id", txn));
            pthread_mutex_unlock(&r->lock);
        }
    }
    return put_answer(r, room, txn, a);
}
