/* rooms_paths.c - see rooms_paths.h. */
#include "tests/rooms_paths.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "common/waitq.h"
#include "server/rooms/refusal.h"

#define ROOM_HEX 32
#define TXN_MAX 64

static bool lower_hex(const char *s, size_t len)
{
    if (strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* The peer routes by op (peer_port.h): method and last segment. */
static const struct {
    const char *method, *what; /* what: NULL for the room list */
} peer_routes[] = {
    [PORT_LIST] = {"GET", NULL},          [PORT_JOIN] = {"POST", "join"},
    [PORT_LEAVE] = {"POST", "leave"},     [PORT_DELIVERY] = {"POST", "delivery"},
    [PORT_MEMBERS] = {"GET", "members"},  [PORT_KEYS] = {"GET", "keys"},
    [PORT_POLL] = {"GET", "messages"},    [PORT_SUBMIT] = {"POST", "messages"},
    [PORT_BATCH] = {"POST", "batch"},     [PORT_NOTIFY] = {"POST", "notify"},
};

/* A long poll called here blocks its thread, as natterd's HTTP layer
 * parks it: waits on the answer's queue, then asks again from where it
 * stood, with no more waiting once the time is up. */
typedef struct {
    rooms_rerun again;
    bool rerun;
    int64_t deadline_ms;
} rerun_query;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool waits(rooms_refusal why, rooms_answer *a, rerun_query *rq)
{
    if (why != REFUSE_NONE || a->body || !a->wait.q)
        return false;
    int64_t now = mono_ms();
    if (!rq->deadline_ms)
        rq->deadline_ms = now + a->wait.ms;
    rq->again.cursor = a->wait.cursor;
    rq->rerun = true;
    if (now >= rq->deadline_ms || !waitq_wait(a->wait.q, a->wait.gen, (unsigned)(rq->deadline_ms - now)))
        rq->again.over = true;
    return true;
}

/* The op of (method, path) and its room ("" for PORT_LIST).
 * NT_ERR_NOT_FOUND for no such route, NT_ERR_STATE for another method. */
static nt_err peer_route(const char *method, const char *path, port_op *op, char room[static ROOM_HEX + 1])
{
    static const char base[] = "/v1/peer/rooms";
    const size_t bl = sizeof base - 1;
    bool known = false;
    room[0] = '\0';
    if (strncmp(path, base, bl) != 0)
        return NT_ERR_NOT_FOUND;
    const char *p = path + bl, *what = NULL;
    if (*p) { /* "/" room "/" what */
        const char *slash = p[0] == '/' ? strchr(p + 1, '/') : NULL;
        if (!slash || slash - p - 1 != ROOM_HEX || strchr(slash + 1, '/'))
            return NT_ERR_NOT_FOUND;
        memcpy(room, p + 1, ROOM_HEX);
        room[ROOM_HEX] = '\0';
        what = slash + 1;
    }
    for (size_t i = 0; i < sizeof peer_routes / sizeof peer_routes[0]; i++) {
        bool same = what ? peer_routes[i].what && strcmp(what, peer_routes[i].what) == 0 : !peer_routes[i].what;
        if (!same)
            continue;
        known = true;
        if (strcmp(method, peer_routes[i].method) == 0) {
            *op = (port_op)i;
            return NT_OK;
        }
    }
    return known ? NT_ERR_STATE : NT_ERR_NOT_FOUND;
}

int rooms_peer_handle(rooms *r, const char *peer, const char *method, const char *path, rooms_query_fn *q,
                      void *qarg, json_t *body, json_t **reply)
{
    char room[ROOM_HEX + 1];
    port_op op;
    *reply = NULL;
    nt_err rc = peer_route(method, path, &op, room);
    if (rc == NT_ERR_STATE)
        return rooms_refuse(reply, REFUSE_METHOD, "method not allowed here");
    if (rc)
        return rooms_refuse(reply, REFUSE_NOT_FOUND, "no such path");
    rerun_query rq = {0};
    rooms_answer a;
    rooms_pending *pend = NULL;
    for (;;) {
        rooms_refusal why = rooms_peer_op(r, op, peer, room, q, qarg, body, pend, rq.rerun ? &rq.again : NULL, &a);
        if (a.wait.pending)
            pend = a.wait.pending;
        if (!waits(why, &a, &rq)) {
            rooms_pending_release(pend);
            return rooms_answer_http(why, &a, reply);
        }
    }
}

/* The routes under /v1/client/rooms/{id}/ by method and last segment. */
static const struct {
    const char *method, *what;
    rooms_api_op op;
} room_routes[] = {
    {"GET", "messages", ROOMS_API_MESSAGES}, {"GET", "members", ROOMS_API_MEMBERS},
    {"POST", "invite", ROOMS_API_INVITE},    {"POST", "kick", ROOMS_API_KICK},
    {"POST", "rekey", ROOMS_API_REKEY},      {"POST", "join", ROOMS_API_JOIN},
    {"POST", "leave", ROOMS_API_LEAVE},      {"POST", "delivery", ROOMS_API_DELIVERY},
};

/* The op of a room's sub-route; 404 or 405 (with *reply) if none. */
static int room_route(const char *method, const char *what, rooms_api_op *op, json_t **reply)
{
    bool known = false;
    for (size_t i = 0; i < sizeof room_routes / sizeof room_routes[0]; i++) {
        if (strcmp(what, room_routes[i].what))
            continue;
        known = true;
        if (!strcmp(method, room_routes[i].method)) {
            *op = room_routes[i].op;
            return 0;
        }
    }
    return known ? rooms_refuse(reply, REFUSE_METHOD, "method not allowed here")
                 : rooms_refuse(reply, REFUSE_NOT_FOUND, "no such path");
}

/* The client op, its answer mapped as the route handler maps it. */
static int client_op(rooms *r, rooms_api_op op, const char *id, const char *txn, rooms_query_fn *q, void *qarg,
                     json_t *body, json_t **reply)
{
    rerun_query rq = {0};
    rooms_answer a;
    for (;;) {
        rooms_refusal why = rooms_client_op(r, op, id, txn, q, qarg, body, rq.rerun ? &rq.again : NULL, &a);
        if (!waits(why, &a, &rq))
            return rooms_answer_http(why, &a, reply);
    }
}

int rooms_client_handle(rooms *r, const char *method, const char *path, rooms_query_fn *q, void *qarg,
                        json_t *body, json_t **reply)
{
    char room[ROOM_HEX + 2] = "", what[16] = "", txn[TXN_MAX + 2] = "", peer[64 + 2];
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    int end = 0;
    rooms_api_op op = ROOMS_API_GET;
    *reply = NULL;
    if (strcmp(path, "/v1/client/events") == 0)
        return get ? client_op(r, ROOMS_API_EVENTS, NULL, NULL, q, qarg, body, reply)
                   : rooms_refuse(reply, REFUSE_METHOD, "GET only");
    if (strcmp(path, "/v1/client/rooms") == 0) {
        if (!get && !post)
            return rooms_refuse(reply, REFUSE_METHOD, "GET or POST");
        return client_op(r, get ? ROOMS_API_LIST : ROOMS_API_CREATE, NULL, NULL, q, qarg, body, reply);
    }
    if (sscanf(path, "/v1/client/peers/%65[^/]/rooms%n", peer, &end) == 1 && !path[end])
        return get ? client_op(r, ROOMS_API_PEER_ROOMS, peer, NULL, q, qarg, body, reply)
                   : rooms_refuse(reply, REFUSE_METHOD, "GET only");
    if (sscanf(path, "/v1/client/rooms/%33[^/]%n", room, &end) != 1 || !lower_hex(room, ROOM_HEX))
        return rooms_refuse(reply, REFUSE_NOT_FOUND, "no such room");
    const char *rest = path + end;
    if (!*rest && strcmp(method, "PATCH") == 0)
        return client_op(r, ROOMS_API_UPDATE, room, NULL, q, qarg, body, reply);
    if (!*rest)
        return get ? client_op(r, ROOMS_API_GET, room, NULL, q, qarg, body, reply)
                   : rooms_refuse(reply, REFUSE_METHOD, "GET or PATCH");
    if (sscanf(rest, "/messages/%65[^/]%n", txn, &end) == 1 && !rest[end])
        return strcmp(method, "PUT") ? rooms_refuse(reply, REFUSE_METHOD, "PUT only")
                                     : client_op(r, ROOMS_API_SEND, room, txn, q, qarg, body, reply);
    if (sscanf(rest, "/%15[a-z]%n", what, &end) != 1 || rest[end])
        return rooms_refuse(reply, REFUSE_NOT_FOUND, "no such path");
    int status = room_route(method, what, &op, reply);
    return status ? status : client_op(r, op, room, NULL, q, qarg, body, reply);
}
