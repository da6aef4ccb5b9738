/* roomapi.c - the client API for rooms, messages and events (plaintext,
 * for the node's own user; the bearer token is checked by the HTTP layer).
 * Paths and schemas: api-spec/openapi.yaml. */
#include "server/rooms/rooms_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t qint(rooms_query_fn *q, void *qarg, const char *k, int64_t def, int64_t lo, int64_t hi, bool *bad)
{
    const char *s = q ? q(qarg, k) : NULL;
    if (!s)
        return def;
    int64_t v;
    if (!rooms_parse_i64(s, &v) || v < lo || v > hi) {
        *bad = true;
        return def;
    }
    return v;
}

static int list_rooms(rooms *r, json_t **reply)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&r->lock);
    sqlite3_stmt *st = roomdb_prep(r->o.db, "SELECT id FROM rooms ORDER BY created, id LIMIT 1000", "");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        room_row rm;
        if (rooms_load_locked(r, roomdb_text(st, 0), &rm) == NT_OK)
            json_array_append_new(arr, rooms_room_json_locked(r, &rm));
    }
    roomdb_done(st);
    pthread_mutex_unlock(&r->lock);
    *reply = json_pack("{s:o}", "rooms", arr);
    return 200;
}

static int get_room(rooms *r, const char *room, room_row *rm, json_t **reply)
{
    pthread_mutex_lock(&r->lock);
    nt_err rc = rooms_load_locked(r, room, rm);
    if (!rc && reply)
        *reply = rooms_room_json_locked(r, rm);
    pthread_mutex_unlock(&r->lock);
    if (rc)
        return reply ? rooms_error(reply, 404, "not_found", "no such room") : 404;
    return 200;
}

/* As get_room, but only the check: on success *reply is left alone, so a
 * handler that answers something else does not leak the room object. */
static int have_room(rooms *r, const char *room, room_row *rm, json_t **reply)
{
    if (get_room(r, room, rm, NULL) == 200)
        return 200;
    return rooms_error(reply, 404, "not_found", "no such room");
}

/* Pass a refusal from the host through to the user. */
static int relay(int status, json_t *hreply, json_t **reply, nt_err rc)
{
    if (rc)
        return rooms_error(reply, 503, "unavailable", "the room's host could not be reached");
    *reply = hreply;
    return status;
}

static int join(rooms *r, const char *room, json_t *body, json_t **reply)
{
    room_row rm;
    const char *host = json_string_value(json_object_get(body, "host"));
    json_t *pw = json_object_get(body, "password"), *dl = json_object_get(body, "delivery");
    bool have = get_room(r, room, &rm, NULL) == 200;
    if (have && strcmp(rm.state, "hosted") == 0)
        return rooms_error(reply, 409, "conflict", "this node is the room's master");
    if (!host && have)
        host = rm.host;
    if (!rooms_valid_hex(host, IDENTITY_ID_HEX_LEN) || (pw && !json_is_string(pw)) ||
        (dl && (!json_is_string(dl) || (strcmp(json_string_value(dl), "push") && strcmp(json_string_value(dl), "poll")))))
        return rooms_error(reply, 400, "bad_request", "host (node id) required; password string; delivery push|poll");
    if (strcmp(host, r->me_hex) == 0)
        return rooms_error(reply, 404, "not_found", "no such room");
    /* a room id is bound to its host: only a pending invitation (which
     * any peer can send) gives way to the user's own choice of host */
    if (have && strcmp(rm.host, host) && strcmp(rm.state, "invited"))
        return rooms_error(reply, 409, "conflict", "this room id belongs to another host");
    char path[96];
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/join", room);
    json_t *req = json_pack("{s:o,s:s}", "pub", rooms_b64_json(r->me_der, r->me_der_len), "delivery",
                            dl ? json_string_value(dl) : "push");
    if (pw)
        json_object_set(req, "password", pw);
    json_t *hr = NULL;
    int status = 0;
    nt_err rc = rooms_call1(r, host, "POST", path, req, &hr, &status);
    json_decref(req);
    if (rc || status != 200)
        return relay(status, hr, reply, rc);
    json_t *ri = json_object_get(hr, "room");
    const char *name = json_string_value(json_object_get(ri, "name"));
    const char *topic = json_string_value(json_object_get(ri, "topic"));
    const char *access = json_string_value(json_object_get(ri, "access"));
    json_int_t from = json_integer_value(json_object_get(hr, "from_seq"));
    if (!name || strlen(name) > ROOM_NAME_MAX || !topic || strlen(topic) > ROOM_TOPIC_MAX || !access ||
        strlen(access) > 10 || from < 0) {
        json_decref(hr);
        return rooms_error(reply, 502, "bad_host_reply", "the host's reply is malformed");
    }
    pthread_mutex_lock(&r->lock);
    nt_err drc = roomdb_begin(r->o.db);
    if (!drc)
        drc = roomdb_exec(r->o.db,
                          "INSERT INTO rooms(id,name,topic,host,access,state,delivery,head,from_seq,created) "
                          "VALUES(?1,?2,?3,?4,?5,'joined',?6,?7,?7,?8) ON CONFLICT(id) DO UPDATE SET name=?2, "
                          "topic=?3, host=?4, access=?5, state='joined', delivery=?6, head=max(head,?7), need=''",
                          "ssssssii", room, name, topic, host, access, dl ? json_string_value(dl) : "push",
                          (int64_t)from, rooms_now(r));
    if (!drc) {
        (void)rooms_store_keys_locked(r, room, json_object_get(hr, "keys"));
        rooms_store_members_locked(r, room, json_object_get(hr, "members"),
                                   json_integer_value(json_object_get(hr, "members_ver")));
        if (json_is_true(json_object_get(hr, "members_more"))) /* a long history: the rest by fetch */
            rooms_need_locked(r, room, "members");
        rooms_event_locked(r, "membership", room, json_pack("{s:s,s:s}", "peer", r->me_hex, "membership", "joined"));
        drc = roomdb_commit(r->o.db);
    } else {
        roomdb_rollback(r->o.db);
    }
    if (!drc) {
        delivery_sync_reset_locked(r, room);
        rooms_need_locked(r, room, "poll");
        drc = rooms_load_locked(r, room, &rm);
    }
    if (!drc)
        *reply = rooms_room_json_locked(r, &rm);
    pthread_mutex_unlock(&r->lock);
    json_decref(hr);
    return drc ? rooms_error(reply, 500, "internal", err_str(drc)) : 200;
}

/* leave and delivery: ask the host, then record it here. */
static int member_op(rooms *r, const char *room, const char *op, json_t *body, json_t **reply)
{
    room_row rm;
    const char *mode = json_string_value(json_object_get(body, "mode"));
    if (have_room(r, room, &rm, reply) != 200)
        return 404;
    if (strcmp(rm.state, "hosted") == 0) {
        if (strcmp(op, "leave") == 0)
            return rooms_error(reply, 403, "forbidden", "the master cannot leave its own room");
        if (!mode || (strcmp(mode, "push") && strcmp(mode, "poll")))
            return rooms_error(reply, 400, "bad_request", "mode is push or poll");
        return get_room(r, room, &rm, reply);
    }
    if (strcmp(rm.state, "joined"))
        return rooms_error(reply, 403, "not_member", "not a member of this room");
    if (strcmp(op, "delivery") == 0 && (!mode || (strcmp(mode, "push") && strcmp(mode, "poll"))))
        return rooms_error(reply, 400, "bad_request", "mode is push or poll");
    char path[96];
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/%s", room, op);
    json_t *req = strcmp(op, "leave") == 0 ? json_object() : json_pack("{s:s}", "mode", mode);
    json_t *hr = NULL;
    int status = 0;
    nt_err rc = rooms_call1(r, rm.host, "POST", path, req, &hr, &status);
    json_decref(req);
    if (rc || (status != 200 && !(status == 403 && strcmp(op, "leave") == 0)))
        return relay(status, hr, reply, rc);
    json_decref(hr);
    pthread_mutex_lock(&r->lock);
    if (strcmp(op, "leave") == 0) {
        roomdb_ignore(roomdb_exec(r->o.db, "UPDATE rooms SET state='left' WHERE id=?", "s", room));
        rooms_event_locked(r, "membership", room, json_pack("{s:s,s:s}", "peer", r->me_hex, "membership", "left"));
    } else {
        roomdb_ignore(roomdb_exec(r->o.db, "UPDATE rooms SET delivery=? WHERE id=?", "ss", mode, room));
        rooms_need_locked(r, room, "poll");
    }
    pthread_mutex_unlock(&r->lock);
    return get_room(r, room, &rm, reply);
}

static int members(rooms *r, const char *room, json_t **reply)
{
    room_row rm;
    if (have_room(r, room, &rm, reply) != 200)
        return 404;
    if (strcmp(rm.state, "hosted") == 0) {
        pthread_mutex_lock(&r->lock);
        *reply = json_pack("{s:o}", "members", rooms_members_json_locked(r, room));
        pthread_mutex_unlock(&r->lock);
        return 200;
    }
    if (strcmp(rm.state, "joined"))
        return rooms_error(reply, 403, "not_member", "not a member of this room");
    nt_err rc = delivery_fetch_members(r, room);
    if (rc && rc != NT_ERR_NET)
        return rooms_error(reply, 503, "unavailable", "the room's host could not be reached");
    if (get_room(r, room, &rm, NULL) != 200 || strcmp(rm.state, "joined"))
        return rooms_error(reply, 403, "not_member", "not a member of this room");
    pthread_mutex_lock(&r->lock);
    json_t *arr = rooms_members_json_locked(r, room);
    pthread_mutex_unlock(&r->lock);
    /* the host's cursors are not ours to show */
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m) json_object_del(m, "cursor");
    *reply = json_pack("{s:o}", "members", arr);
    return rc ? 503 : 200;
}

static json_t *message_row(rooms *r, sqlite3_stmt *st)
{
    const char *me = r->me_hex;
    json_t *m = json_pack("{s:I,s:s,s:I,s:s,s:I,s:s,s:s,s:b}", "seq", (json_int_t)sqlite3_column_int64(st, 0), "sender",
                     roomdb_text(st, 1), "ts", (json_int_t)sqlite3_column_int64(st, 2), "text", roomdb_text(st, 3),
                     "epoch", (json_int_t)sqlite3_column_int64(st, 4), "txn_id", roomdb_text(st, 5), "state",
                     "verified", "mine", strcmp(roomdb_text(st, 1), me) == 0);
    if (m)
        rooms_ident_set(r, roomdb_text(st, 1), "sender_", m);
    return m;
}

#define MSG_COLS "seq,sender,ts,text,epoch,txn_id"

static int list_messages(rooms *r, const char *room, rooms_query_fn *q, void *qarg, json_t **reply)
{
    bool bad = false;
    int64_t after = qint(q, qarg, "after", -1, 0, INT64_MAX, &bad);
    int64_t before = qint(q, qarg, "before", -1, 1, INT64_MAX, &bad);
    int64_t limit = qint(q, qarg, "limit", 100, 1, ROOM_POLL_LIMIT, &bad);
    if (bad)
        return rooms_error(reply, 400, "bad_request", "after, before and limit (1-500) are non-negative integers");
    room_row rm;
    if (have_room(r, room, &rm, reply) != 200)
        return 404;
    if (strcmp(rm.state, "hosted") && strcmp(rm.state, "joined") && strcmp(rm.state, "left") &&
        strcmp(rm.state, "kicked"))
        return rooms_error(reply, 403, "not_member", "not a member of this room");
    json_t *arr = json_array();
    pthread_mutex_lock(&r->lock);
    /* newest `limit` below `before` when no `after`, else oldest above `after` */
    sqlite3_stmt *st = after >= 0
        ? roomdb_prep(r->o.db, "SELECT " MSG_COLS " FROM room_messages WHERE room=? AND text IS NOT NULL AND seq>? "
                      "AND seq<? ORDER BY seq LIMIT ?", "siii", room, after, before > 0 ? before : INT64_MAX, limit)
        : roomdb_prep(r->o.db, "SELECT * FROM (SELECT " MSG_COLS " FROM room_messages WHERE room=? AND text IS NOT "
                      "NULL AND seq<? ORDER BY seq DESC LIMIT ?) ORDER BY seq", "sii", room,
                      before > 0 ? before : INT64_MAX, limit);
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, message_row(r, st));
    roomdb_done(st);
    *reply = json_pack("{s:o,s:I,s:o}", "messages", arr, "head", (json_int_t)rm.head, "pending",
                       outbox_pending_json_locked(r, room));
    pthread_mutex_unlock(&r->lock);
    return 200;
}

json_t *messages_json_locked(rooms *r, const char *room, int64_t seq)
{
    json_t *j = NULL;
    sqlite3_stmt *st = roomdb_prep(r->o.db, "SELECT " MSG_COLS " FROM room_messages WHERE room=? AND seq=? AND text "
                                   "IS NOT NULL", "si", room, seq);
    if (st && sqlite3_step(st) == SQLITE_ROW)
        j = message_row(r, st);
    roomdb_done(st);
    return j;
}

/* Render one stored event: message events carry the message itself. */
static json_t *event_json_locked(rooms *r, sqlite3_stmt *st)
{
    char tok[24];
    snprintf(tok, sizeof tok, "%lld", (long long)sqlite3_column_int64(st, 0));
    const char *type = roomdb_text(st, 2), *room = roomdb_text(st, 3);
    json_t *data = json_loads(roomdb_text(st, 4), 0, NULL);
    json_t *e = json_pack("{s:s,s:s,s:I}", "token", tok, "type", type, "ts", (json_int_t)sqlite3_column_int64(st, 1));
    if (!e) {
        json_decref(data);
        return NULL;
    }
    if (*room)
        json_object_set_new(e, "room", json_string(room));
    if (strcmp(type, "message") == 0) {
        json_t *m = messages_json_locked(r, room, json_integer_value(json_object_get(data, "seq")));
        if (m)
            json_object_set_new(e, "message", m);
    } else if (strcmp(type, "delivery") == 0) {
        json_t *d = outbox_json_locked(r, room, json_string_value(json_object_get(data, "txn_id")));
        if (d)
            json_object_set_new(e, "delivery", d);
    } else if (strcmp(type, "room") == 0 || strcmp(type, "invite") == 0) {
        room_row rm;
        if (rooms_load_locked(r, room, &rm) == NT_OK)
            json_object_set_new(e, "room_info", rooms_room_json_locked(r, &rm));
        const char *peer = json_string_value(json_object_get(data, "peer"));
        if (peer) {
            json_object_set_new(e, "peer", json_string(peer));
            rooms_ident_set(r, peer, "", e);
        }
    } else {
        json_object_update_missing(e, data);
    }
    json_decref(data);
    return e;
}

int roomapi_events(rooms *r, rooms_query_fn *q, void *qarg, json_t **reply)
{
    bool bad = false;
    char since_buf[24];
    const char *since_s = q ? q(qarg, "since") : NULL;
    if (since_s) { /* copied: the lookup's storage may be reused */
        if (strlen(since_s) >= sizeof since_buf)
            return rooms_error(reply, 400, "bad_request", "since is a token from next (or now)");
        snprintf(since_buf, sizeof since_buf, "%s", since_s);
        since_s = since_buf;
    }
    int64_t wait = qint(q, qarg, "wait", 0, 0, ROOM_EVENTS_WAIT_MAX, &bad);
    int64_t limit = qint(q, qarg, "limit", 100, 1, 500, &bad);
    int64_t since = 0;
    if (since_s && strcmp(since_s, "now")) {
        bad |= !rooms_parse_i64(since_s, &since) || since < 0;
    }
    if (bad)
        return rooms_error(reply, 400, "bad_request", "since is a token from next (or now); wait and limit integers");
    if (wait > ROOM_EVENTS_WAIT_MAX)
        wait = ROOM_EVENTS_WAIT_MAX;
    json_t *arr = json_array();
    pthread_mutex_lock(&r->lock);
    int64_t max = 0;
    roomdb_ignore(roomdb_int(r->o.db, &max, "SELECT coalesce(max(token),0) FROM room_events", ""));
    if (since_s && strcmp(since_s, "now") == 0)
        since = max; /* only what happens from now on */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)wait;
    int64_t next = since;
    while (!r->stopping) {
        sqlite3_stmt *st = roomdb_prep(r->o.db, "SELECT token,ts,type,room,data FROM room_events WHERE token>? "
                                       "ORDER BY token LIMIT ?", "ii", since, limit);
        while (st && sqlite3_step(st) == SQLITE_ROW) {
            next = sqlite3_column_int64(st, 0);
            json_t *e = event_json_locked(r, st);
            if (e)
                json_array_append_new(arr, e);
        }
        roomdb_done(st);
        if (next > since || wait == 0)
            break;
        if (!rooms_wait_locked(r, &r->ev_cond, &ts))
            wait = 0; /* one last look, then answer */
    }
    pthread_mutex_unlock(&r->lock);
    char tok[24];
    snprintf(tok, sizeof tok, "%lld", (long long)next);
    *reply = json_pack("{s:o,s:s}", "events", arr, "next", tok);
    return 200;
}

static int peer_rooms(rooms *r, const char *peer, json_t **reply)
{
    char path[] = "/v1/peer/rooms";
    json_t *hr = NULL;
    int status = 0;
    if (!rooms_valid_hex(peer, IDENTITY_ID_HEX_LEN))
        return rooms_error(reply, 400, "bad_request", "peer id must be 64 lowercase hex digits");
    nt_err rc = rooms_call1(r, peer, "GET", path, NULL, &hr, &status);
    if (!rc && status == 200 && !json_is_array(json_object_get(hr, "rooms"))) {
        json_decref(hr);
        return rooms_error(reply, 502, "bad_peer_reply", "the peer's reply is malformed");
    }
    if (rc == NT_ERR_NOT_FOUND)
        return rooms_error(reply, 404, "not_found", "unknown peer");
    return relay(status, hr, reply, rc);
}

int rooms_client_handle(rooms *r, const char *method, const char *path, rooms_query_fn *q, void *qarg,
                        json_t *body, json_t **reply)
{
    char room[ROOM_ID_HEX_LEN + 2] = "", what[16] = "", txn[ROOM_TXN_MAX + 2] = "", peer[IDENTITY_ID_HEX_LEN + 2];
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    int end = 0;
    *reply = NULL;
    if (strcmp(path, "/v1/client/events") == 0)
        return get ? roomapi_events(r, q, qarg, reply) : rooms_error(reply, 405, "method", "GET only");
    if (strcmp(path, "/v1/client/rooms") == 0) {
        if (get)
            return list_rooms(r, reply);
        return post ? rooms_host_create(r, body, reply) : rooms_error(reply, 405, "method", "GET or POST");
    }
    /* any id here, so that one not in lowercase hex gets peer_rooms' 400 */
    if (sscanf(path, "/v1/client/peers/%65[^/]/rooms%n", peer, &end) == 1 && !path[end])
        return get ? peer_rooms(r, peer, reply) : rooms_error(reply, 405, "method", "GET only");
    if (sscanf(path, "/v1/client/rooms/%33[^/]%n", room, &end) != 1 || !rooms_valid_hex(room, ROOM_ID_HEX_LEN))
        return rooms_error(reply, 404, "not_found", "no such room");
    const char *rest = path + end;
    if (!*rest) {
        room_row rm;
        return get ? get_room(r, room, &rm, reply) : rooms_error(reply, 405, "method", "GET only");
    }
    if (sscanf(rest, "/messages/%65[^/]%n", txn, &end) == 1 && !rest[end]) {
        if (strcmp(method, "PUT"))
            return rooms_error(reply, 405, "method", "PUT only");
        return outbox_client_put(r, room, txn, body, reply);
    }
    if (sscanf(rest, "/%15[a-z]%n", what, &end) != 1 || rest[end])
        return rooms_error(reply, 404, "not_found", "no such path");
    if (strcmp(what, "messages") == 0)
        return get ? list_messages(r, room, q, qarg, reply) : rooms_error(reply, 405, "method", "GET only");
    if (strcmp(what, "members") == 0)
        return get ? members(r, room, reply) : rooms_error(reply, 405, "method", "GET only");
    if (!post)
        return rooms_error(reply, 405, "method", "POST only");
    if (body && !json_is_object(body))
        return rooms_error(reply, 400, "bad_request", "body must be a JSON object");
    if (strcmp(what, "invite") == 0 || strcmp(what, "kick") == 0 || strcmp(what, "rekey") == 0)
        return rooms_host_member_op(r, room, what, body, reply);
    if (strcmp(what, "join") == 0)
        return join(r, room, body, reply);
    if (strcmp(what, "leave") == 0 || strcmp(what, "delivery") == 0)
        return member_op(r, room, what, body, reply);
    return rooms_error(reply, 404, "not_found", "no such path");
}
