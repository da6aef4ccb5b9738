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

void outbox_try(rooms *r, const char *room, const char *txn_id, char state[static 12])
{
    room_row rm;
    uint8_t key[ROOM_KEY_LEN];
    char *text = NULL;
    submission s = {0};
    json_t *req = NULL, *reply = NULL;
    int status = 0;
    nt_err rc;

    pthread_mutex_lock(&r->lock);
    snprintf(state, 12, "failed");
    sqlite3_stmt *st = roomdb_prep(r->o.db, "SELECT state,text FROM room_outbox WHERE room=? AND txn_id=?", "ss", room,
                                   txn_id);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(state, 12, "%s", roomdb_text(st, 0));
        text = strcmp(state, "pending") == 0 ? strdup(roomdb_text(st, 1)) : NULL;
    }
    roomdb_done(st);
    if (!text) {
        pthread_mutex_unlock(&r->lock);
        return;
    }
    if (rooms_load_locked(r, room, &rm) || (strcmp(rm.state, "joined") && strcmp(rm.state, "hosted"))) {
        json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", "not_member", "message", "not a member of this room");
        fail_locked(r, room, txn_id, 403, e);
        json_decref(e);
        snprintf(state, 12, "failed");
        pthread_mutex_unlock(&r->lock);
        goto out;
    }
    rc = rooms_key_locked(r, room, rm.epoch, key);
    if (rc) {
        rooms_need_locked(r, room, "keys");
        retry_locked(r, room, txn_id, "waiting for the room key", -1);
        pthread_mutex_unlock(&r->lock);
        goto out;
    }
    pthread_mutex_unlock(&r->lock);

    rc = prepare(r, &rm, key, txn_id, text, &s);
    mbedtls_platform_zeroize(key, sizeof key);
    if (!rc && strcmp(rm.state, "hosted") == 0) {
        status = messages_host_submit(r, r->me_hex, room, &s, &reply);
    } else if (!rc) {
        char path[96];
        snprintf(path, sizeof path, "/v1/peer/rooms/%s/messages", room);
        req = json_pack("{s:s,s:I,s:o,s:o}", "txn_id", txn_id, "epoch", (json_int_t)s.epoch, "body",
                        rooms_b64_json(s.body, s.body_len), "sig", rooms_b64_json(s.sig, s.sig_len));
        rc = req ? rooms_call1(r, rm.host, "POST", path, req, &reply, &status) : NT_ERR_NOMEM;
    }

    pthread_mutex_lock(&r->lock);
    bool txn = roomdb_begin(r->o.db) == NT_OK; /* state and its event in one commit */
    if (rc || status >= 500 || status == 429 || status == 0) {
        retry_locked(r, room, txn_id, rc ? err_str(rc) : "host busy", -1);
        snprintf(state, 12, "pending");
    } else if (status == 200) {
        messages_outbox_mark_locked(r, room, txn_id, "sent", json_integer_value(json_object_get(reply, "seq")), NULL);
        snprintf(state, 12, "sent");
    } else if (status == 409 && json_integer_value(json_object_get(reply, "epoch")) > rm.epoch) {
        rooms_need_locked(r, room, "keys"); /* the host rotated: fetch, reseal, resend */
        retry_locked(r, room, txn_id, "stale epoch", 100);
        snprintf(state, 12, "pending");
    } else {
        fail_locked(r, room, txn_id, status, reply);
        snprintf(state, 12, "failed");
    }
    if (txn && roomdb_commit(r->o.db))
        roomdb_rollback(r->o.db);
    rooms_wake_sync_locked(r);
    pthread_mutex_unlock(&r->lock);
out:
    messages_submission_free(&s);
    json_decref(req);
    json_decref(reply);
    if (text) {
        mbedtls_platform_zeroize(text, strlen(text));
        free(text);
    }
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

void outbox_drain(rooms *r)
{
    char room[ROOM_ID_HEX_LEN + 1], txn[ROOM_TXN_MAX + 1], state[12];
    char skip[8 * (ROOM_ID_HEX_LEN + 1) + 1] = ""; /* rooms that failed this round */
    for (int i = 0; i < DRAIN_MAX && !r->stopping && next_due(r, room, txn, skip); i++) {
        outbox_try(r, room, txn, state);
        if (strcmp(state, "pending") == 0) {
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
