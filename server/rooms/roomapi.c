/* roomapi.c - the client API for rooms, messages and events (plaintext,
 * for the node's own user; the bearer token is checked by the HTTP layer).
 * Paths and schemas: api-spec/openapi.yaml. */
#include "server/rooms/rooms_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    rooms *r;
    bool listed;
    json_t *arr;
} room_list;

static void room_add(void *arg, const char *id, unsigned need)
{
    room_list *l = arg;
    room_row rm;
    (void)need;
    if (rooms_load_locked(l->r, id, &rm) != NT_OK)
        return;
    if (l->listed)
        json_array_append_new(l->arr, json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", rm.id, "name", rm.name, "topic",
                                                rm.topic, "host", rm.host, "access", room_access_name(rm.access)));
    else
        json_array_append_new(l->arr, rooms_room_json_locked(l->r, &rm));
}

rooms_refusal roomapi_list(rooms *r, bool listed, rooms_answer *a)
{
    room_list l = {r, listed, json_array()};
    pthread_mutex_lock(&r->lock);
    nt_err rc = listed ? rooms_store_listed(r->o.db, room_add, &l) : rooms_store_all(r->o.db, 1000, room_add, &l);
    pthread_mutex_unlock(&r->lock);
    if (rc) {
        json_decref(l.arr);
        return rooms_decline(a, REFUSE_INTERNAL, "cannot list the rooms");
    }
    a->body = json_pack("{s:o}", "rooms", l.arr);
    return REFUSE_NONE;
}

static rooms_refusal get_room(rooms *r, const char *room, room_row *rm, rooms_answer *a)
{
    pthread_mutex_lock(&r->lock);
    nt_err rc = rooms_load_locked(r, room, rm);
    if (!rc && a)
        a->body = rooms_room_json_locked(r, rm);
    pthread_mutex_unlock(&r->lock);
    if (rc)
        return a ? rooms_decline(a, REFUSE_NOT_FOUND, "no such room") : REFUSE_NOT_FOUND;
    return REFUSE_NONE;
}

/* As get_room, but only the check: on success a->body is left alone, so a
 * handler that answers something else does not leak the room object. */
static rooms_refusal have_room(rooms *r, const char *room, room_row *rm, rooms_answer *a)
{
    if (get_room(r, room, rm, NULL) == REFUSE_NONE)
        return REFUSE_NONE;
    return rooms_decline(a, REFUSE_NOT_FOUND, "no such room");
}

/* Pass the host's answer through to the user. */
static rooms_refusal relay(int status, json_t *hreply, rooms_answer *a, nt_err rc)
{
    if (rc)
        return rooms_decline(a, REFUSE_UNAVAILABLE, "the room's host could not be reached");
    return rooms_relay(a, status, hreply);
}

/* The first epoch of the membership a join reply starts: its from_epoch,
 * or from a host that does not say, the oldest epoch of its keys (they
 * start there); 0 when neither is known. */
static int64_t join_from_epoch(json_t *hr)
{
    json_int_t from = json_integer_value(json_object_get(hr, "from_epoch"));
    if (from > 0)
        return from;
    size_t i;
    json_t *k;
    from = 0;
    json_array_foreach(json_object_get(hr, "keys"), i, k) {
        json_int_t ep = json_integer_value(json_object_get(k, "epoch"));
        if (ep > 0 && (from == 0 || ep < from))
            from = ep;
    }
    return from;
}

static rooms_refusal join(rooms *r, const char *room, json_t *body, rooms_answer *a)
{
    room_row rm;
    const char *host = json_string_value(json_object_get(body, "host"));
    json_t *pw = json_object_get(body, "password"), *dl = json_object_get(body, "delivery");
    room_delivery mode = ROOM_PUSH;
    room_access access = ROOM_ACCESS_INVITE;
    bool have = get_room(r, room, &rm, NULL) == REFUSE_NONE;
    if (have && rm.state == ROOM_HOSTED)
        return rooms_decline(a, REFUSE_CONFLICT, "this node is the room's master");
    if (!host && have)
        host = rm.host;
    if (!rooms_valid_hex(host, IDENTITY_ID_HEX_LEN) || (pw && !json_is_string(pw)) ||
        (dl && (!json_is_string(dl) || room_delivery_parse(json_string_value(dl), &mode))))
        return rooms_decline(a, REFUSE_BAD_REQUEST, "host (node id) required; password string; delivery push|poll");
    if (strcmp(host, r->me_hex) == 0)
        return rooms_decline(a, REFUSE_NOT_FOUND, "no such room");
    /* a room id is bound to its host: only a pending invitation (which
     * any peer can send) gives way to the user's own choice of host */
    if (have && strcmp(rm.host, host) && rm.state != ROOM_INVITED)
        return rooms_decline(a, REFUSE_CONFLICT, "this room id belongs to another host");
    json_t *req = json_pack("{s:o,s:s}", "pub", rooms_b64_json(r->me_der, r->me_der_len), "delivery",
                            room_delivery_name(mode));
    if (pw)
        json_object_set(req, "password", pw);
    json_t *hr = NULL;
    int status = 0;
    nt_err rc = rooms_port_ask(r, PORT_JOIN, host, room, req, &hr, &status);
    json_decref(req);
    if (rc || status != 200)
        return relay(status, hr, a, rc);
    json_t *ri = json_object_get(hr, "room");
    const char *name = json_string_value(json_object_get(ri, "name"));
    const char *topic = json_string_value(json_object_get(ri, "topic"));
    const char *access_name = json_string_value(json_object_get(ri, "access"));
    json_int_t from = json_integer_value(json_object_get(hr, "from_seq"));
    json_t *keys = json_object_get(hr, "keys"), *members = json_object_get(hr, "members");
    if (!name || strlen(name) > ROOM_NAME_MAX || !topic || strlen(topic) > ROOM_TOPIC_MAX || !access_name ||
        strlen(access_name) > 10 || from < 0 || json_array_size(keys) > ROOM_KEYS_PAGE ||
        json_array_size(members) > ROOM_MEMBERS_PAGE) {
        json_decref(hr);
        return rooms_decline(a, REFUSE_BAD_HOST_REPLY, "the host's reply is malformed");
    }
    if (room_access_parse(access_name, &access))
        access = ROOM_ACCESS_INVITE; /* an access this node does not know: as closed as any */
    json_int_t joined_ver = json_integer_value(json_object_get(hr, "membership_ver")); /* 0: not said */
    room_joined rj = {.id = room, .name = name, .topic = topic, .host = host, .access = access, .delivery = mode,
                      .from_seq = from, .from_epoch = join_from_epoch(hr), .joined_ver = joined_ver > 0 ? joined_ver : 0,
                      .created = rooms_now(r)};
    pthread_mutex_lock(&r->lock);
    nt_err drc = roomdb_begin(r->o.db);
    if (!drc)
        drc = rooms_store_join(r->o.db, &rj);
    if (!drc)
        drc = rooms_store_keys_locked(r, room, keys, ROOM_KEYS_PAGE);
    if (!drc)
        drc = rooms_store_members_locked(r, room, members, json_integer_value(json_object_get(hr, "members_ver")),
                                         NULL, ROOM_MEMBERS_PAGE);
    if (!drc) {
        if (json_is_true(json_object_get(hr, "members_more"))) /* a long history: the rest by fetch */
            rooms_need_locked(r, room, ROOM_NEED_MEMBERS);
        rooms_event_locked(r, "membership", room, json_pack("{s:s,s:s}", "peer", r->me_hex, "membership", "joined"));
        drc = roomdb_commit(r->o.db);
    } else {
        roomdb_rollback(r->o.db);
    }
    if (!drc) {
        delivery_sync_reset_locked(r, room);
        rooms_need_locked(r, room, ROOM_NEED_POLL);
        drc = rooms_load_locked(r, room, &rm);
    }
    if (!drc)
        a->body = rooms_room_json_locked(r, &rm);
    pthread_mutex_unlock(&r->lock);
    json_decref(hr);
    if (drc == NT_ERR_TOO_BIG)
        return rooms_decline(a, REFUSE_BAD_HOST_REPLY, "the host's member list is more than a room keeps");
    return drc ? rooms_decline(a, REFUSE_INTERNAL, err_str(drc)) : REFUSE_NONE;
}

/* leave and delivery: ask the host, then record it here. */
static rooms_refusal member_op(rooms *r, const char *room, rooms_api_op op, json_t *body, rooms_answer *a)
{
    room_row rm;
    room_delivery mode;
    bool mode_ok = room_delivery_parse(json_string_value(json_object_get(body, "mode")), &mode) == NT_OK;
    if (have_room(r, room, &rm, a) != REFUSE_NONE)
        return REFUSE_NOT_FOUND;
    if (rm.state == ROOM_HOSTED) {
        if (op == ROOMS_API_LEAVE)
            return rooms_decline(a, REFUSE_FORBIDDEN, "the master cannot leave its own room");
        if (!mode_ok)
            return rooms_decline(a, REFUSE_BAD_REQUEST, "mode is push or poll");
        return get_room(r, room, &rm, a);
    }
    if (rm.state != ROOM_JOINED)
        return rooms_decline(a, REFUSE_NOT_MEMBER, "not a member of this room");
    if (op == ROOMS_API_DELIVERY && !mode_ok)
        return rooms_decline(a, REFUSE_BAD_REQUEST, "mode is push or poll");
    json_t *req = op == ROOMS_API_LEAVE ? json_object() : json_pack("{s:s}", "mode", room_delivery_name(mode));
    json_t *hr = NULL;
    int status = 0;
    nt_err rc = rooms_port_ask(r, op == ROOMS_API_LEAVE ? PORT_LEAVE : PORT_DELIVERY, rm.host, room, req, &hr,
                               &status);
    json_decref(req);
    if (rc || (status != 200 && !(status == 403 && op == ROOMS_API_LEAVE)))
        return relay(status, hr, a, rc);
    json_decref(hr);
    pthread_mutex_lock(&r->lock);
    nt_err drc;
    if (op == ROOMS_API_LEAVE) {
        drc = rooms_store_set_state(r->o.db, room, ROOM_LEFT);
        if (!drc)
            rooms_event_locked(r, "membership", room, json_pack("{s:s,s:s}", "peer", r->me_hex, "membership", "left"));
    } else {
        drc = rooms_store_set_delivery(r->o.db, room, mode);
        rooms_need_locked(r, room, ROOM_NEED_POLL);
    }
    pthread_mutex_unlock(&r->lock);
    if (drc)
        return rooms_decline(a, REFUSE_INTERNAL, err_str(drc));
    return get_room(r, room, &rm, a);
}

static rooms_refusal members(rooms *r, const char *room, rooms_answer *a)
{
    room_row rm;
    if (have_room(r, room, &rm, a) != REFUSE_NONE)
        return REFUSE_NOT_FOUND;
    if (rm.state == ROOM_HOSTED) {
        pthread_mutex_lock(&r->lock);
        a->body = json_pack("{s:o}", "members", rooms_members_json_locked(r, room));
        pthread_mutex_unlock(&r->lock);
        return REFUSE_NONE;
    }
    if (rm.state != ROOM_JOINED)
        return rooms_decline(a, REFUSE_NOT_MEMBER, "not a member of this room");
    nt_err rc = delivery_fetch_members(r, room);
    if (rc && rc != NT_ERR_NET)
        return rooms_decline(a, REFUSE_UNAVAILABLE, "the room's host could not be reached");
    if (get_room(r, room, &rm, NULL) != REFUSE_NONE || rm.state != ROOM_JOINED)
        return rooms_decline(a, REFUSE_NOT_MEMBER, "not a member of this room");
    pthread_mutex_lock(&r->lock);
    json_t *arr = rooms_members_json_locked(r, room);
    pthread_mutex_unlock(&r->lock);
    /* the host's cursors are not ours to show */
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m) json_object_del(m, "cursor");
    a->body = json_pack("{s:o}", "members", arr);
    a->stale = rc != NT_OK;
    return REFUSE_NONE;
}

static json_t *message_row(rooms *r, const log_entry *e)
{
    const char *me = r->me_hex;
    json_t *m = json_pack("{s:I,s:s,s:I,s:s,s:I,s:s,s:s,s:b}", "seq", (json_int_t)e->seq, "sender", e->sender, "ts",
                          (json_int_t)e->ts, "text", e->text ? e->text : "", "epoch", (json_int_t)e->epoch, "txn_id",
                          e->txn, "state", "verified", "mine", strcmp(e->sender, me) == 0);
    if (m)
        rooms_ident_set(r, e->sender, "sender_", m);
    return m;
}

typedef struct {
    rooms *r;
    json_t *out; /* an array (listing) or the one message */
} message_rows;

static bool message_add(void *arg, const log_entry *e)
{
    message_rows *mr = arg;
    json_array_append_new(mr->out, message_row(mr->r, e));
    return true;
}

static bool message_one(void *arg, const log_entry *e)
{
    message_rows *mr = arg;
    mr->out = message_row(mr->r, e);
    return false;
}

static rooms_refusal list_messages(rooms *r, const char *room, rooms_query_fn *q, void *qarg, rooms_answer *a)
{
    static const rooms_qparam after_p = {"after", -1, 0, INT64_MAX, NULL};
    static const rooms_qparam before_p = {"before", -1, 1, INT64_MAX, NULL};
    static const rooms_qparam limit_p = {"limit", 100, 1, ROOM_POLL_LIMIT, NULL};
    rooms_query_bad bad = {""};
    int64_t after = rooms_query_int(q, qarg, &after_p, &bad);
    int64_t before = rooms_query_int(q, qarg, &before_p, &bad);
    int64_t limit = rooms_query_int(q, qarg, &limit_p, &bad);
    if (bad.msg[0])
        return rooms_decline(a, REFUSE_BAD_REQUEST, bad.msg);
    room_row rm;
    if (have_room(r, room, &rm, a) != REFUSE_NONE)
        return REFUSE_NOT_FOUND;
    if (rm.state != ROOM_HOSTED && rm.state != ROOM_JOINED && rm.state != ROOM_LEFT &&
        rm.state != ROOM_KICKED)
        return rooms_decline(a, REFUSE_NOT_MEMBER, "not a member of this room");
    message_rows mr = {r, json_array()};
    pthread_mutex_lock(&r->lock);
    /* newest `limit` below `before` when no `after`, else oldest above `after` */
    nt_err rc = log_store_texts(r->o.db, room, after, before > 0 ? before : INT64_MAX, limit, message_add, &mr);
    if (rc) {
        pthread_mutex_unlock(&r->lock);
        json_decref(mr.out);
        return rooms_decline(a, REFUSE_INTERNAL, "cannot read the messages");
    }
    a->body = json_pack("{s:o,s:I,s:o}", "messages", mr.out, "head", (json_int_t)rm.head, "pending",
                       outbox_pending_json_locked(r, room));
    pthread_mutex_unlock(&r->lock);
    return REFUSE_NONE;
}

json_t *messages_json_locked(rooms *r, const char *room, int64_t seq)
{
    message_rows mr = {r, NULL};
    if (log_store_text_at(r->o.db, room, seq, message_one, &mr))
        return NULL;
    return mr.out;
}

/* Events about the room itself carry its room_info. */
static bool room_info_event(const char *type)
{
    static const char *const types[] = {"room", "invite"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(type, types[i]) == 0)
            return true;
    return false;
}

/* Render one stored event: message events carry the message itself. */
static json_t *event_json_locked(rooms *r, const room_event *ev)
{
    char tok[24];
    snprintf(tok, sizeof tok, "%lld", (long long)ev->token);
    const char *type = ev->type, *room = ev->room;
    json_t *data = json_loads(ev->data, 0, NULL);
    json_t *e = json_pack("{s:s,s:s,s:I}", "token", tok, "type", type, "ts", (json_int_t)ev->ts);
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
    } else if (room_info_event(type)) {
        room_row rm;
        if (rooms_load_locked(r, room, &rm) == NT_OK)
            json_object_set_new(e, "room_info", rooms_room_json_locked(r, &rm));
        json_t *change = json_object_get(data, "change");
        if (json_is_string(change))
            json_object_set(e, "change", change);
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

typedef struct {
    rooms *r;
    json_t *arr;
    int64_t next;
} events_page;

static void event_add(void *arg, const room_event *ev)
{
    events_page *pg = arg;
    pg->next = ev->token;
    json_t *e = event_json_locked(pg->r, ev);
    if (e)
        json_array_append_new(pg->arr, e);
}

rooms_refusal roomapi_events(rooms *r, rooms_query_fn *q, void *qarg, rooms_answer *a)
{
    static const rooms_qparam wait_p = {"wait", 0, 0, ROOM_EVENTS_WAIT_MAX, "seconds"};
    static const rooms_qparam limit_p = {"limit", 100, 1, ROOM_POLL_LIMIT, NULL};
    rooms_query_bad bad = {""};
    char since_buf[24];
    int64_t since = 0;
    const char *since_s = q ? q(qarg, "since") : NULL;
    if (since_s) { /* copied: the lookup's storage may be reused */
        bool ok = strlen(since_s) < sizeof since_buf;
        if (ok)
            snprintf(since_buf, sizeof since_buf, "%s", since_s);
        if (ok && strcmp(since_buf, "now"))
            ok = rooms_parse_i64(since_buf, &since) && since >= 0;
        if (!ok)
            rooms_query_fail(&bad, "since", "a token from \"next\", or \"now\"");
        since_s = ok ? since_buf : NULL;
    }
    int64_t wait = rooms_query_int(q, qarg, &wait_p, &bad);
    int64_t limit = rooms_query_int(q, qarg, &limit_p, &bad);
    if (bad.msg[0])
        return rooms_decline(a, REFUSE_BAD_REQUEST, bad.msg);
    if (wait > ROOM_EVENTS_WAIT_MAX)
        wait = ROOM_EVENTS_WAIT_MAX;
    events_page pg = {.r = r, .arr = json_array()};
    nt_err rc = NT_OK;
    pthread_mutex_lock(&r->lock);
    if (since_s && strcmp(since_s, "now") == 0)
        rc = events_store_last(r->o.db, &since); /* only what happens from now on */
    pg.next = since;
    if (!rc)
        rc = events_store_each(r->o.db, since, limit, event_add, &pg);
    bool wait_more = !rc && pg.next == since && wait > 0 && !r->stopping;
    if (wait_more) /* nothing yet: the caller waits for the next event, from since */
        a->wait.gen = waitq_gen(&r->ev_wait);
    pthread_mutex_unlock(&r->lock);
    if (rc || wait_more) {
        json_decref(pg.arr);
        if (rc)
            return rooms_decline(a, REFUSE_INTERNAL, "cannot read the events");
        a->wait.q = &r->ev_wait;
        a->wait.ms = (unsigned)wait * 1000u;
        a->wait.cursor = since;
        return REFUSE_NONE;
    }
    char tok[24];
    snprintf(tok, sizeof tok, "%lld", (long long)pg.next);
    a->body = json_pack("{s:o,s:s}", "events", pg.arr, "next", tok);
    return REFUSE_NONE;
}

static rooms_refusal peer_rooms(rooms *r, const char *peer, rooms_answer *a)
{
    json_t *hr = NULL;
    int status = 0;
    if (!rooms_valid_hex(peer, IDENTITY_ID_HEX_LEN))
        return rooms_decline(a, REFUSE_BAD_REQUEST, "peer id must be 64 lowercase hex digits");
    nt_err rc = rooms_port_ask(r, PORT_LIST, peer, NULL, NULL, &hr, &status);
    if (!rc && status == 200 && !json_is_array(json_object_get(hr, "rooms"))) {
        json_decref(hr);
        return rooms_decline(a, REFUSE_BAD_PEER_REPLY, "the peer's reply is malformed");
    }
    if (rc == NT_ERR_NOT_FOUND)
        return rooms_decline(a, REFUSE_NOT_FOUND, "unknown peer");
    return relay(status, hr, a, rc);
}

rooms_refusal rooms_client_op(rooms *r, rooms_api_op op, const char *id, const char *txn, rooms_query_fn *q,
                              void *qarg, json_t *body, const rooms_rerun *again, rooms_answer *a)
{
    room_row rm;
    rooms_rerun_q rq = {q, qarg, again, ""};
    q = rooms_rerun_query;
    qarg = &rq;
    *a = (rooms_answer){0};
    switch (op) {
    case ROOMS_API_EVENTS:
        return roomapi_events(r, q, qarg, a);
    case ROOMS_API_LIST:
        return roomapi_list(r, false, a);
    case ROOMS_API_CREATE:
        return rooms_host_create(r, body, a);
    case ROOMS_API_PEER_ROOMS: /* any id here: one not in lowercase hex gets peer_rooms' 400 */
        return peer_rooms(r, id, a);
    default:
        break;
    }
    if (!rooms_valid_hex(id, ROOM_ID_HEX_LEN))
        return rooms_decline(a, REFUSE_NOT_FOUND, "no such room");
    switch (op) {
    case ROOMS_API_GET:
        return get_room(r, id, &rm, a);
    case ROOMS_API_SEND:
        return outbox_client_put(r, id, txn, body, a);
    case ROOMS_API_MESSAGES:
        return list_messages(r, id, q, qarg, a);
    case ROOMS_API_MEMBERS:
        return members(r, id, a);
    default:
        break;
    }
    if (body && !json_is_object(body))
        return rooms_decline(a, REFUSE_BAD_REQUEST, "body must be a JSON object");
    switch (op) {
    case ROOMS_API_INVITE:
    case ROOMS_API_KICK:
    case ROOMS_API_REKEY:
        return rooms_host_member_op(r, id, op, body, a);
    case ROOMS_API_UPDATE:
        return rooms_host_update(r, id, body, a);
    case ROOMS_API_JOIN:
        return join(r, id, body, a);
    case ROOMS_API_LEAVE:
    case ROOMS_API_DELIVERY:
        return member_op(r, id, op, body, a);
    default:
        return rooms_decline(a, REFUSE_NOT_FOUND, "no such path");
    }
}
