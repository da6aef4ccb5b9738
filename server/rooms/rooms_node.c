/* rooms_node.c - rooms inside natterd: the service that owns the rooms
 * object, its client routes, and the adapter from rooms' peer calls to the
 * sealed peer link.
 *
 * The rooms module uses its own SQLite connection to natter.db (the schema
 * comes from the store's migrations), guarded by its own lock: its
 * transactions (group of a message, its seq and its rotation) then never
 * interleave with other modules' statements on the shared connection, and
 * WAL lets both connections work side by side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "server/core/node.h"
#include "server/peer/peer_names.h"
#include "server/rooms/rooms.h"
#include "server/rooms/rooms_node.h"
#include "server/rooms/rooms_peer.h"
#include "storage/roomdb.h"
#include "server/core/routes.h"

static bool stop_fn(void *arg)
{
    return node_stopping(arg);
}

static const char *query_fn(void *arg, const char *key)
{
    return http_req_query(arg, key);
}

/* Nothing to answer yet: wait, keeping where the request stood for its
 * next run. */
static void wait_for(http_req *rq, const rooms_answer *a)
{
    rooms_rerun *again = http_req_ctx(rq);
    if (!again && (again = calloc(1, sizeof *again)))
        http_req_set_ctx(rq, again, free);
    if (!again) {
        http_reply_error(rq, 503, "busy", "out of memory");
        return;
    }
    again->cursor = a->wait.cursor;
    http_req_wait(rq, a->wait.q, a->wait.gen, a->wait.ms);
}

static void reply(http_req *rq, int status, json_t *body)
{
    json_int_t after = json_integer_value(json_object_get(body, "retry_after"));
    if (status == 429 && after > 0 && after <= 86400) { /* a host's rate_limited, relayed */
        char v[24];
        snprintf(v, sizeof v, "%lld", (long long)after);
        http_reply_header(rq, "Retry-After", v);
    }
    if (!body)
        http_reply_error(rq, 500, "internal", "no reply");
    else
        http_reply_json(rq, (unsigned)status, body);
}

/* What each client request body may hold (api-spec/openapi.yaml); a route
 * not listed takes no members. */
static const char *const push_poll[] = {"push", "poll", NULL};
static const char *const accesses[] = {"invite", "open", "password", NULL};
static const json_field create_fields[] = {
    JSON_FIELD("name", JSON_F_STRING),         JSON_FIELD("topic", JSON_F_STRING),
    JSON_FIELD_ENUM("access", accesses),       JSON_FIELD("password", JSON_F_STRING),
    JSON_FIELD("rotate_messages", JSON_F_INT), JSON_FIELD("rotate_seconds", JSON_F_INT),
    JSON_FIELDS_END,
};
static const json_field peer_fields[] = {JSON_FIELD("peer", JSON_F_STRING), JSON_FIELDS_END};
static const json_field join_fields[] = {JSON_FIELD("host", JSON_F_STRING), JSON_FIELD("password", JSON_F_STRING),
                                         JSON_FIELD_ENUM("delivery", push_poll), JSON_FIELDS_END};
static const json_field mode_fields[] = {JSON_FIELD_ENUM("mode", push_poll), JSON_FIELDS_END};
static const json_field send_fields[] = {JSON_FIELD("text", JSON_F_STRING), JSON_FIELDS_END};
static const json_field update_fields[] = {JSON_FIELD("topic", JSON_F_STRING), JSON_FIELDS_END};
static const json_field no_fields[] = {JSON_FIELDS_END};

static const json_field *const op_fields[] = {
    [ROOMS_API_CREATE] = create_fields, [ROOMS_API_SEND] = send_fields, [ROOMS_API_INVITE] = peer_fields,
    [ROOMS_API_KICK] = peer_fields,     [ROOMS_API_JOIN] = join_fields, [ROOMS_API_DELIVERY] = mode_fields,
    [ROOMS_API_UPDATE] = update_fields,
};

static const json_field *fields_for(rooms_api_op op)
{
    const json_field *f = (size_t)op < sizeof op_fields / sizeof op_fields[0] ? op_fields[op] : NULL;
    return f ? f : no_fields;
}

/* Every client route: its body's fields checked, then the rooms' handler
 * of its op with the path parameters the HTTP layer matched, its answer
 * mapped to HTTP through the refusal table. */
static void client_route(http_req *rq, node *nd, rooms_api_op op)
{
    size_t len = 0;
    json_t *body = NULL, *out = NULL;
    rooms_answer a;
    if (!nd->rooms) {
        http_reply_error(rq, 503, "busy", "rooms are not running");
        return;
    }
    (void)http_req_body(rq, &len);
    if (len > 0 && http_req_json_fields(rq, fields_for(op), &body))
        return; /* replied 400 */
    rooms_rerun *again = http_req_ctx(rq); /* set by wait_for: a run after a wait */
    if (again)
        again->over = http_req_wait_over(rq);
    rooms_refusal why = rooms_client_op(nd->rooms, op, http_req_param(rq, "id"), http_req_param(rq, "txn_id"),
                                        query_fn, rq, body, again, &a);
    if (why == REFUSE_NONE && !a.body && a.wait.q) {
        json_decref(body);
        wait_for(rq, &a);
        return;
    }
    int status = rooms_answer_http(why, &a, &out);
    json_decref(body);
    reply(rq, status, out);
}

#define CLIENT_ROUTE(name, op)                                                                                       \
    static void name(http_req *rq, node *nd)                                                                         \
    {                                                                                                                \
        client_route(rq, nd, op);                                                                                    \
    }
CLIENT_ROUTE(c_list, ROOMS_API_LIST)
CLIENT_ROUTE(c_create, ROOMS_API_CREATE)
CLIENT_ROUTE(c_get, ROOMS_API_GET)
CLIENT_ROUTE(c_update, ROOMS_API_UPDATE)
CLIENT_ROUTE(c_members, ROOMS_API_MEMBERS)
CLIENT_ROUTE(c_messages, ROOMS_API_MESSAGES)
CLIENT_ROUTE(c_send, ROOMS_API_SEND)
CLIENT_ROUTE(c_invite, ROOMS_API_INVITE)
CLIENT_ROUTE(c_kick, ROOMS_API_KICK)
CLIENT_ROUTE(c_join, ROOMS_API_JOIN)
CLIENT_ROUTE(c_leave, ROOMS_API_LEAVE)
CLIENT_ROUTE(c_rekey, ROOMS_API_REKEY)
CLIENT_ROUTE(c_delivery, ROOMS_API_DELIVERY)
CLIENT_ROUTE(c_events, ROOMS_API_EVENTS)
CLIENT_ROUTE(c_peer_rooms, ROOMS_API_PEER_ROOMS)

nt_err rooms_service_start(node *nd, char err[static NODE_ERR_MAX])
{
    char path[PATH_MAX];
    roomdb *db = NULL;
    rooms *r = NULL;
    nt_err rc = node_path(nd, STORE_FILE_NAME, path);
    if (!rc)
        rc = roomdb_open(path, DBCONN_WRITER, &db);
    if (rc) {
        snprintf(err, NODE_ERR_MAX, "rooms: cannot open the database: %s", err_str(rc));
        return rc;
    }
    /* calls to other nodes go through the sealed peer link */
    rooms_opts o = {.db = db, .owns_db = true, .read_path = path, .me = nd->id, .call = rooms_peer_call,
                    .call_arg = nd, .should_stop = stop_fn, .stop_arg = nd, .ident = peer_names_ident,
                    .ident_arg = nd, .join_rate = (unsigned)nd->cfg->join_rate};
    rc = rooms_new(&r, &o);
    if (rc)
        roomdb_close(db);
    else if ((rc = rooms_start(r)))
        rooms_free(r);
    if (rc) {
        snprintf(err, NODE_ERR_MAX, "rooms: %s", err_str(rc));
        return rc;
    }
    nd->rooms = r;
    if ((rc = node_on_peer_up(nd, rooms_peer_up, r)))
        log_warn("rooms: pending messages wait out their backoff when a host returns: %s", err_str(rc));
    return NT_OK;
}

void rooms_service_stop(node *nd)
{
    rooms *r = nd->rooms;
    if (r)
        node_off_peer_up(nd, rooms_peer_up, r); /* waits for a callback running now */
    nd->rooms = NULL;
    rooms_free(r);
}

#define BODY_MAX (64 * 1024)

const http_route rooms_routes[] = {
    {"GET", "/v1/client/rooms", HTTP_API_CLIENT, c_list, 0, NULL, 0},
    {"POST", "/v1/client/rooms", HTTP_API_CLIENT, c_create, 0, NULL, 0},
    {"GET", "/v1/client/rooms/{id}", HTTP_API_CLIENT, c_get, 0, NULL, 0},
    {"PATCH", "/v1/client/rooms/{id}", HTTP_API_CLIENT, c_update, 0, NULL, 0},
    {"GET", "/v1/client/rooms/{id}/members", HTTP_API_CLIENT, c_members, 0, NULL, 0},
    {"GET", "/v1/client/rooms/{id}/messages", HTTP_API_CLIENT, c_messages, 0, "after,before,limit", 0},
    {"PUT", "/v1/client/rooms/{id}/messages/{txn_id}", HTTP_API_CLIENT, c_send, BODY_MAX, NULL, 0},
    {"POST", "/v1/client/rooms/{id}/invite", HTTP_API_CLIENT, c_invite, 0, NULL, 0},
    {"POST", "/v1/client/rooms/{id}/kick", HTTP_API_CLIENT, c_kick, 0, NULL, 0},
    {"POST", "/v1/client/rooms/{id}/join", HTTP_API_CLIENT, c_join, 0, NULL, 0},
    {"POST", "/v1/client/rooms/{id}/leave", HTTP_API_CLIENT, c_leave, 0, NULL, 0},
    {"POST", "/v1/client/rooms/{id}/rekey", HTTP_API_CLIENT, c_rekey, 0, NULL, 0},
    {"POST", "/v1/client/rooms/{id}/delivery", HTTP_API_CLIENT, c_delivery, 0, NULL, 0},
    {"GET", "/v1/client/events", HTTP_API_CLIENT, c_events, 0, "since,wait,limit", 0},
    {"GET", "/v1/client/peers/{id}/rooms", HTTP_API_CLIENT, c_peer_rooms, 0, NULL, 0},
    {0},
};
