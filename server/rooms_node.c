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
#include <string.h>

#include "../common/json.h"
#include "../common/log.h"
#include "node.h"
#include "peer_names.h"
#include "rooms.h"
#include "rooms_node.h"
#include "rooms_peer.h"
#include "../storage/roomdb.h"
#include "routes.h"

static rooms *g_rooms;   /* one node per process */
static sqlite3 *g_db;

rooms *rooms_node_get(void)
{
    return g_rooms;
}

static bool stop_fn(void *arg)
{
    return node_stopping(arg);
}

static const char *query_fn(void *arg, const char *key)
{
    return http_req_query(arg, key);
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
static const json_field no_fields[] = {JSON_FIELDS_END};

static const struct {
    const char *method, *pattern;
    const json_field *fields;
} body_fields[] = {
    {"POST", "/v1/client/rooms", create_fields},
    {"PUT", "/v1/client/rooms/{id}/messages/{txn_id}", send_fields},
    {"POST", "/v1/client/rooms/{id}/invite", peer_fields},
    {"POST", "/v1/client/rooms/{id}/kick", peer_fields},
    {"POST", "/v1/client/rooms/{id}/join", join_fields},
    {"POST", "/v1/client/rooms/{id}/delivery", mode_fields},
};

static const json_field *fields_for(http_req *rq)
{
    for (size_t i = 0; i < sizeof body_fields / sizeof body_fields[0]; i++)
        if (!strcmp(body_fields[i].method, http_req_method(rq)) &&
            http_match(body_fields[i].pattern, http_req_path(rq), NULL))
            return body_fields[i].fields;
    return no_fields;
}

static void client_route(http_req *rq, node *nd)
{
    size_t len = 0;
    json_t *body = NULL, *out = NULL;
    if (!g_rooms) {
        http_reply_error(rq, 503, "busy", "rooms are not running");
        return;
    }
    (void)http_req_body(rq, &len);
    if (len > 0 && http_req_json_fields(rq, fields_for(rq), &body))
        return; /* replied 400 */
    int status = rooms_client_handle(g_rooms, http_req_method(rq), http_req_path(rq), query_fn, rq, body, &out);
    json_decref(body);
    reply(rq, status, out);
}

/* Peer calls: through the sealed peer link once it is wired in
 * (rooms_node_set_transport); until then peers are unreachable. */
static rooms_call_fn *g_transport;
static void *g_transport_arg;

void rooms_node_set_transport(rooms_call_fn *fn, void *arg)
{
    g_transport = fn;
    g_transport_arg = arg;
}

static void call_fn(void *arg, rooms_call *calls, size_t n, int timeout_ms)
{
    if (g_transport) {
        g_transport(g_transport_arg ? g_transport_arg : arg, calls, n, timeout_ms);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        calls[i].rc = NT_ERR_NET;
        calls[i].reply = NULL;
        calls[i].status = 0;
    }
}

static nt_err open_db(const char *path, sqlite3 **out)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL, NULL,
                     NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NT_ERR_DB;
    }
    *out = db;
    return NT_OK;
}

static void close_dbs(void)
{
    roomdb_forget(g_db);
    sqlite3_close(g_db);
    g_db = NULL;
}

nt_err rooms_service_start(node *nd, char err[static NODE_ERR_MAX])
{
    char path[PATH_MAX];
    nt_err rc = node_path(nd, STORE_FILE_NAME, path);
    if (!rc)
        rc = open_db(path, &g_db);
    if (rc) {
        close_dbs();
        snprintf(err, NODE_ERR_MAX, "rooms: cannot open the database: %s", err_str(rc));
        return rc;
    }
    rooms_peer_install(nd);
    rooms_opts o = {.db = g_db, .read_path = path, .me = nd->id, .call = call_fn, .call_arg = nd, .should_stop = stop_fn,
                    .stop_arg = nd, .ident = peer_names_ident, .ident_arg = nd};
    rc = rooms_new(&g_rooms, &o);
    if (!rc)
        rc = rooms_start(g_rooms);
    if (rc) {
        snprintf(err, NODE_ERR_MAX, "rooms: %s", err_str(rc));
        rooms_free(g_rooms);
        g_rooms = NULL;
        close_dbs();
    }
    return rc;
}

void rooms_service_stop(node *nd)
{
    rooms_free(g_rooms);
    g_rooms = NULL;
    close_dbs();
}

#define BODY_MAX (64 * 1024)

const http_route rooms_routes[] = {
    {"GET", "/v1/client/rooms", HTTP_API_CLIENT, client_route, 0},
    {"POST", "/v1/client/rooms", HTTP_API_CLIENT, client_route, 0},
    {"GET", "/v1/client/rooms/{id}", HTTP_API_CLIENT, client_route, 0},
    {"GET", "/v1/client/rooms/{id}/members", HTTP_API_CLIENT, client_route, 0},
    {"GET", "/v1/client/rooms/{id}/messages", HTTP_API_CLIENT, client_route, 0},
    {"PUT", "/v1/client/rooms/{id}/messages/{txn_id}", HTTP_API_CLIENT, client_route, BODY_MAX},
    {"POST", "/v1/client/rooms/{id}/invite", HTTP_API_CLIENT, client_route, 0},
    {"POST", "/v1/client/rooms/{id}/kick", HTTP_API_CLIENT, client_route, 0},
    {"POST", "/v1/client/rooms/{id}/join", HTTP_API_CLIENT, client_route, 0},
    {"POST", "/v1/client/rooms/{id}/leave", HTTP_API_CLIENT, client_route, 0},
    {"POST", "/v1/client/rooms/{id}/rekey", HTTP_API_CLIENT, client_route, 0},
    {"POST", "/v1/client/rooms/{id}/delivery", HTTP_API_CLIENT, client_route, 0},
    {"GET", "/v1/client/events", HTTP_API_CLIENT, client_route, 0},
    {"GET", "/v1/client/peers/{id}/rooms", HTTP_API_CLIENT, client_route, 0},
    {0},
};
