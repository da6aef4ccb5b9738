/* outbox.c - the sender's outbox: what the user typed is stored first,
 * then submitted to the host and retried with backoff until the host
 * acknowledges it (sent, with its seq) or refuses it (failed, with the
 * reason). Entries of one room go out strictly in the order they were
 * typed. See api-spec/protocol.md "Messages". */
#include "rooms_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/platform_util.h>

#include "../crypto/encoding.h"
#include "../crypto/sign.h"

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

json_t *outbox_json_locked(rooms *r, const char *room, const char *txn)
{
    sqlite3_stmt *st = roomdb_prep(r->o.db,
                                   "SELECT state,seq,reason,attempts,text,code FROM room_outbox WHERE room=? AND "
                                   "txn_id=?",
                                   "ss", room, txn);
    json_t *j = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        j = json_pack("{s:s,s:s,s:s,s:I,s:s}", "room", room, "txn_id", txn, "state", roomdb_text(st, 0), "attempts",
                      (json_int_t)sqlite3_column_int64(st, 3), "text", roomdb_text(st, 4));
        if (j && sqlite3_column_type(st, 1) != SQLITE_NULL)
            json_object_set_new(j, "seq", json_integer(sqlite3_column_int64(st, 1)));
        if (j && *roomdb_text(st, 2))
            json_object_set_new(j, "reason", json_string(roomdb_text(st, 2)));
    }
    roomdb_done(st);
    return j;
}

json_t *outbox_pending_json_locked(rooms *r, const char *room)
{
    json_t *arr = json_array();
    sqlite3_stmt *st = roomdb_prep(r->o.db, "SELECT txn_id FROM room_outbox WHERE room=? AND state!='sent' "
                                   "ORDER BY rowid LIMIT 500", "s", room);
    while (st && arr && sqlite3_step(st) == SQLITE_ROW) {
        json_t *e = outbox_json_locked(r, room, roomdb_text(st, 0));
        if (e)
            json_array_append_new(arr, e);
    }
    roomdb_done(st);
    return arr;
}

static void retry_locked(rooms *r, const char *room, const char *txn, const char *reason, int64_t delay)
{
    int64_t attempts = 0;
    roomdb_ignore(roomdb_int(r->o.db, &attempts, "SELECT attempts+1 FROM room_outbox WHERE room=? AND txn_id=?", "ss", room,
                     txn));
    if (delay < 0)
        delay = backoff_ms(attempts);
    roomdb_ignore(roomdb_exec(r->o.db, "UPDATE room_outbox SET attempts=?, next_try=?, reason=? WHERE room=? AND txn_id=?",
                      "iisss", attempts, rooms_now(r) + delay, reason, room, txn));
}

static void fail_locked(rooms *r, const char *room, const char *txn, int status, json_t *reply)
{
    json_t *e = json_object_get(reply, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    char reason[256];
    snprintf(reason, sizeof reason, "%s: %s", code ? code : "refused", msg ? msg : "refused by the host");
    roomdb_ignore(roomdb_exec(r->o.db, "UPDATE room_outbox SET code=? WHERE room=? AND txn_id=?", "iss", (int64_t)status,
                      room, txn));
    messages_outbox_mark_locked(r, room, txn, "failed", 0, reason);
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
    char state[12];
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
        snprintf(e->state, sizeof e->state, "pending");
    } else if (status == 200) {
        messages_outbox_mark_locked(r, room, e->txn, "sent", json_integer_value(json_object_get(reply, "seq")), NULL);
        snprintf(e->state, sizeof e->state, "sent");
    } else if (status == 409 && json_integer_value(json_object_get(reply, "epoch")) > epoch) {
        rooms_need_locked(r, room, "keys"); /* the host rotated: fetch, reseal, resend */
        retry_locked(r, room, e->txn, "stale epoch", 100);
        snprintf(e->state, sizeof e->state, "pending");
    } else {
        fail_locked(r, room, e->txn, status, reply);
        snprintf(e->state, sizeof e->state, "failed");
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

/* Submit pending entries e[0..n) of one room, oldest first: one request,
 * a batch when n > 1 (see api-spec/protocol.md "Messages"). Each entry's
 * state afterwards is in e[i].state; an entry the host did not try stays
 * pending and due, and so does every entry while another thread is
 * sending the room's. */
static void try_entries(rooms *r, const char *room, out_entry *e, size_t n)
{
    room_row rm;
    uint8_t key[ROOM_KEY_LEN];
    json_t *req = NULL, *reply = NULL;
    int status = 0;
    nt_err rc;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < n; i++) {
        snprintf(e[i].state, sizeof e[i].state, "failed");
        sqlite3_stmt *st = roomdb_prep(r->o.db, "SELECT state,text FROM room_outbox WHERE room=? AND txn_id=?", "ss",
                                       room, e[i].txn);
        if (st && sqlite3_step(st) == SQLITE_ROW) {
            snprintf(e[i].state, sizeof e[i].state, "%s", roomdb_text(st, 0));
            e[i].text = strcmp(e[i].state, "pending") == 0 ? strdup(roomdb_text(st, 1)) : NULL;
        }
        roomdb_done(st);
        if (!e[i].text) { /* settled meanwhile: send only what comes before it */
            n = i;
            break;
        }
    }
    if (n == 0) {
        pthread_mutex_unlock(&r->lock);
        return;
    }
    if (rooms_load_locked(r, room, &rm) || (strcmp(rm.state, "joined") && strcmp(rm.state, "hosted"))) {
        json_t *err = json_pack("{s:{s:s,s:s}}", "error", "code", "not_member", "message", "not a member of this room");
        for (size_t i = 0; i < n; i++)
            settle_locked(r, room, 0, &e[i], NT_OK, 403, err);
        json_decref(err);
        pthread_mutex_unlock(&r->lock);
        return;
    }
    rc = rooms_key_locked(r, room, rm.epoch, key);
    if (rc) {
        rooms_need_locked(r, room, "keys");
        retry_locked(r, room, e[0].txn, "waiting for the room key", -1);
        snprintf(e[0].state, sizeof e[0].state, "pending");
        e[0].settled = true;
        pthread_mutex_unlock(&r->lock);
        return;
    }
    int slot = busy_claim_locked(r, room);
    if (slot == -2) { /* another thread is sending this room's entries: it wakes the drain when done */
        for (size_t i = 0; i < n; i++)
            e[i].busy = true;
        mbedtls_platform_zeroize(key, sizeof key);
        pthread_mutex_unlock(&r->lock);
        return;
    }
    pthread_mutex_unlock(&r->lock);

    /* as many as fit one request (sized before the signatures, which are
     * the costly part), sealed and signed in order; our own room takes
     * no batches and no network */
    bool hosted = strcmp(rm.state, "hosted") == 0;
    size_t bytes = 0, k = 0;
    for (; k < (hosted ? 1 : n); k++) {
        size_t need = (seal_len(strlen(e[k].text)) + SIGN_MAX_LEN) * 4 / 3 + 160;
        if (k > 0 && bytes + need > ROOM_SUBMIT_BATCH_BYTES)
            break;
        nt_err prc = prepare(r, &rm, key, e[k].txn, e[k].text, &e[k].s);
        if (prc) {
            if (k == 0)
                rc = prc;
            break;
        }
        bytes += need;
    }
    n = k ? k : 1;
    mbedtls_platform_zeroize(key, sizeof key);
    if (!rc && hosted) {
        status = messages_host_submit(r, r->me_hex, room, &e[0].s, &reply);
    } else if (!rc) {
        char path[96];
        if (n > 1) {
            snprintf(path, sizeof path, "/v1/peer/rooms/%s/batch", room);
            json_t *arr = json_array();
            for (size_t i = 0; i < n && arr; i++)
                if (json_array_append_new(arr, submission_json(&e[i].s))) {
                    json_decref(arr);
                    arr = NULL;
                }
            req = arr ? json_pack("{s:o}", "messages", arr) : NULL;
            rc = req ? rooms_call1(r, rm.host, "POST", path, req, &reply, &status) : NT_ERR_NOMEM;
            if (status == 404 || status == 405 || rc == NT_ERR_NOT_FOUND) {
                /* a host without the batch route (an older natterd), or
                 * the room is gone: the oldest entry alone, on the route
                 * every host has, tells which */
                json_decref(req);
                json_decref(reply);
                req = reply = NULL;
                n = 1;
            }
        }
        if (n == 1) {
            snprintf(path, sizeof path, "/v1/peer/rooms/%s/messages", room);
            req = submission_json(&e[0].s);
            rc = req ? rooms_call1(r, rm.host, "POST", path, req, &reply, &status) : NT_ERR_NOMEM;
        }
    }

    pthread_mutex_lock(&r->lock);
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
            settle_locked(r, room, rm.epoch, &e[i], NT_OK, (int)json_integer_value(json_object_get(res, "status")),
                          res);
        }
    } else {
        settle_locked(r, room, rm.epoch, &e[0], rc, status, reply); /* a batch refused whole: its first entry's answer */
    }
    if (txn && roomdb_commit(r->o.db))
        roomdb_rollback(r->o.db);
    if (slot >= 0) {
        r->outbox_busy[slot][0] = '\0';
        pthread_cond_broadcast(&r->outbox_cond);
    }
    rooms_wake_sync_locked(r);
    pthread_mutex_unlock(&r->lock);
    json_decref(req);
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
static void await_other_sender(rooms *r, const char *room, const char *txn, char state[static 12])
{
    int64_t end = rooms_now(r) + ROOM_PEER_TIMEOUT_MS + 1000;
    struct timespec ts = {.tv_sec = end / 1000, .tv_nsec = (end % 1000) * 1000000};
    pthread_mutex_lock(&r->lock);
    while (room_busy_locked(r, room) && rooms_wait_locked(r, &r->outbox_cond, &ts)) {
    }
    sqlite3_stmt *st = roomdb_prep(r->o.db, "SELECT state FROM room_outbox WHERE room=? AND txn_id=?", "ss", room, txn);
    if (st && sqlite3_step(st) == SQLITE_ROW)
        snprintf(state, 12, "%s", roomdb_text(st, 0));
    roomdb_done(st);
    pthread_mutex_unlock(&r->lock);
}

void outbox_try(rooms *r, const char *room, const char *txn_id, char state[static 12])
{
    out_entry e = {0};
    snprintf(e.txn, sizeof e.txn, "%s", txn_id);
    try_entries(r, room, &e, 1);
    snprintf(state, 12, "%s", e.state);
    if (e.busy)
        await_other_sender(r, room, txn_id, state);
    entry_free(&e);
}

/* The oldest pending entry of each room, if it is due. */
static bool next_due(rooms *r, char room[static ROOM_ID_HEX_LEN + 1], char txn[static ROOM_TXN_MAX + 1],
                     const char *skip)
{
    bool found = false;
    pthread_mutex_lock(&r->lock);
    sqlite3_stmt *st = roomdb_prep(r->o.db,
                                   "SELECT o.room,o.txn_id FROM room_outbox o WHERE o.state='pending' AND o.next_try<=? "
                                   "AND o.rowid=(SELECT min(rowid) FROM room_outbox WHERE room=o.room AND "
                                   "state='pending') AND instr(?, o.room)=0 LIMIT 1",
                                   "is", rooms_now(r), skip);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(room, ROOM_ID_HEX_LEN + 1, "%s", roomdb_text(st, 0));
        snprintf(txn, ROOM_TXN_MAX + 1, "%s", roomdb_text(st, 1));
        found = true;
    }
    roomdb_done(st);
    pthread_mutex_unlock(&r->lock);
    return found;
}

/* The room's pending entries from its oldest on (at most one batch). */
static size_t pending_run(rooms *r, const char *room, out_entry *e, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&r->lock);
    sqlite3_stmt *st = roomdb_prep(r->o.db, "SELECT txn_id FROM room_outbox WHERE room=? AND state='pending' "
                                   "ORDER BY rowid LIMIT ?", "si", room, (int64_t)max);
    while (st && n < max && sqlite3_step(st) == SQLITE_ROW)
        snprintf(e[n++].txn, sizeof e[0].txn, "%s", roomdb_text(st, 0));
    roomdb_done(st);
    pthread_mutex_unlock(&r->lock);
    return n;
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
            blocked |= e[k].settled && strcmp(e[k].state, "pending") == 0;
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

/* The master's own message into its own room: seal, sign, commit to the
 * log (one fsync); a repeated txn id answers from the log. */
static int host_send(rooms *r, const room_row *rm, const char *txn, const char *text, json_t **reply)
{
    uint8_t key[ROOM_KEY_LEN];
    submission s = {0};
    json_t *ack = NULL;
    pthread_mutex_lock(&r->lock);
    nt_err rc = rooms_key_locked(r, rm->id, rm->epoch, key);
    pthread_mutex_unlock(&r->lock);
    if (!rc)
        rc = prepare(r, rm, key, txn, text, &s);
    mbedtls_platform_zeroize(key, sizeof key);
    if (rc)
        return rooms_error(reply, 500, "internal", err_str(rc));
    int status = messages_host_submit(r, r->me_hex, rm->id, &s, &ack);
    messages_submission_free(&s);
    if (status != 200) {
        *reply = ack;
        return status;
    }
    *reply = json_pack("{s:s,s:s,s:s,s:O,s:I,s:s}", "room", rm->id, "txn_id", txn, "state", "sent", "seq",
                       json_object_get(ack, "seq"), "attempts", (json_int_t)1, "text", text);
    json_decref(ack);
    return 200;
}

int outbox_client_put(rooms *r, const char *room, const char *txn, json_t *body, json_t **reply)
{
    json_t *jt = json_object_get(body, "text");
    room_row rm;
    int status = 0;
    bool first = false;
    if (!rooms_valid_txn(txn))
        return rooms_error(reply, 400, "bad_request", "txn_id is 1-64 of [A-Za-z0-9._~-]");
    if (!json_is_object(body) || !json_is_string(jt) || !json_string_value(jt)[0])
        return rooms_error(reply, 400, "bad_request", "body must be {\"text\": non-empty string}");
    if (json_string_length(jt) > ROOM_TEXT_MAX)
        return rooms_error(reply, 413, "too_large", "text is over 16384 bytes");
    if (strlen(json_string_value(jt)) != json_string_length(jt))
        return rooms_error(reply, 400, "bad_request", "text must not contain NUL");

    pthread_mutex_lock(&r->lock);
    if (rooms_load_locked(r, room, &rm)) {
        status = rooms_error(reply, 404, "not_found", "no such room");
        goto unlock;
    }
    char old[ROOM_TEXT_MAX + 1];
    bool exists = false;
    sqlite3_stmt *st = roomdb_prep(r->o.db, "SELECT text FROM room_outbox WHERE room=? AND txn_id=?", "ss", room, txn);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        exists = true;
        snprintf(old, sizeof old, "%s", roomdb_text(st, 0));
    }
    roomdb_done(st);
    if (exists && strcmp(old, json_string_value(jt))) {
        status = rooms_error(reply, 409, "conflict", "txn_id already used for another text");
        goto unlock;
    }
    if (!exists) {
        if (strcmp(rm.state, "joined") && strcmp(rm.state, "hosted")) {
            status = rooms_error(reply, 403, "not_member", "not a member of this room");
            goto unlock;
        }
        if (strcmp(rm.state, "hosted") == 0) {
            /* our own room: the log itself is the durable record, no outbox */
            pthread_mutex_unlock(&r->lock);
            return host_send(r, &rm, txn, json_string_value(jt), reply);
        }
        nt_err rc = roomdb_begin(r->o.db);
        if (!rc)
            rc = roomdb_exec(r->o.db, "INSERT INTO room_outbox(room,txn_id,text,created) VALUES(?,?,?,?)", "sssi",
                             room, txn, json_string_value(jt), rooms_now(r));
        if (!rc) {
            rooms_event_locked(r, "delivery", room, json_pack("{s:s}", "txn_id", txn));
            rc = roomdb_commit(r->o.db);
        } else {
            roomdb_rollback(r->o.db);
        }
        if (rc) {
            status = rooms_error(reply, 503, "busy", "could not store the message");
            goto unlock;
        }
    }
    int64_t oldest = 0;
    first = roomdb_int(r->o.db, &oldest, "SELECT txn_id=? FROM room_outbox WHERE room=? AND state='pending' "
                       "ORDER BY rowid LIMIT 1", "ss", txn, room) == NT_OK && oldest;
    if (!first)
        rooms_wake_sync_locked(r);
unlock:
    pthread_mutex_unlock(&r->lock);
    if (status)
        return status;
    char state[12];
    if (first)
        outbox_try(r, room, txn, state);
    pthread_mutex_lock(&r->lock);
    *reply = outbox_json_locked(r, room, txn);
    const char *s = json_string_value(json_object_get(*reply, "state"));
    int64_t code = 0;
    roomdb_ignore(roomdb_int(r->o.db, &code, "SELECT code FROM room_outbox WHERE room=? AND txn_id=?", "ss", room, txn));
    pthread_mutex_unlock(&r->lock);
    if (s && strcmp(s, "failed") == 0) {
        json_t *entry = *reply;
        const char *reason = json_string_value(json_object_get(entry, "reason"));
        rooms_error(reply, code >= 400 && code < 500 ? (int)code : 403, "refused", reason ? reason : "refused");
        json_object_set_new(*reply, "entry", entry);
        return code >= 400 && code < 500 ? (int)code : 403;
    }
    return s && strcmp(s, "sent") == 0 ? 200 : 202;
}
