/* rooms_peer.c - rooms over the sealed peer channel: the /v1/peer/rooms
 * routes (server/peer/peer_api.h) and the transport for rooms' outgoing calls
 * (server/peer/peerlink.h, libcurl multi for batches). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "crypto/encoding.h"
#include "server/peer/peer_api.h"
#include "server/peer/peerlink.h"
#include "server/rooms/rooms.h"
#include "server/rooms/rooms_peer.h"

#define PORT_PATH_MAX 192 /* the longest: a poll's path and query */
#define QBUF 256
#define QBUFS 4

typedef struct {
    peer_req *rq;
    char buf[QBUFS][QBUF];
    unsigned next;
} query_ctx;

static const char *query_fn(void *arg, const char *key)
{
    query_ctx *q = arg;
    /* a few rotating buffers: callers read a value before asking the next */
    return peer_req_query(q->rq, key, q->buf[q->next++ % QBUFS], QBUF);
}

/* What each sealed request body may hold (api-spec/openapi.yaml Peer*). */
static const char *const push_poll[] = {"push", "poll", NULL};
static const char *const accesses[] = {"invite", "open", "password", NULL};
static const char *const notices[] = {"invite", "kicked", NULL};
static const json_field no_fields[] = {JSON_FIELDS_END};
static const json_field join_fields[] = {JSON_FIELD("pub", JSON_F_STRING), JSON_FIELD("password", JSON_F_STRING),
                                         JSON_FIELD_ENUM("delivery", push_poll), JSON_FIELDS_END};
static const json_field delivery_fields[] = {JSON_FIELD_ENUM("mode", push_poll), JSON_FIELDS_END};
static const json_field submit_fields[] = {JSON_FIELD("txn_id", JSON_F_STRING), JSON_FIELD("epoch", JSON_F_INT),
                                           JSON_FIELD("body", JSON_F_STRING), JSON_FIELD("sig", JSON_F_STRING),
                                           JSON_FIELDS_END};
static const json_field batch_fields[] = {JSON_FIELD_SUB("messages", JSON_F_ARRAY, submit_fields), JSON_FIELDS_END};
static const json_field notice_room_fields[] = {JSON_FIELD("id", JSON_F_STRING), JSON_FIELD("name", JSON_F_STRING),
                                                JSON_FIELD("topic", JSON_F_STRING),
                                                JSON_FIELD_ENUM("access", accesses), JSON_FIELDS_END};
static const json_field notify_fields[] = {
    JSON_FIELD("head", JSON_F_INT),        JSON_FIELD("epoch", JSON_F_INT),
    JSON_FIELD_ENUM("event", notices),     JSON_FIELD_SUB("room", JSON_F_OBJECT, notice_room_fields),
    JSON_FIELD("keys", JSON_F_ARRAY),      JSON_FIELD("members", JSON_F_ARRAY),
    JSON_FIELD("members_ver", JSON_F_INT), JSON_FIELD("messages", JSON_F_ARRAY),
    JSON_FIELDS_END,
};

static void pending_release(void *p) { rooms_pending_release(p); }

/* Every route: its body's fields checked, then the rooms' handler of its
 * op, with the room id and the query from the request, its answer mapped
 * to HTTP through the refusal table. */
static int dispatch(peer_req *rq, json_t **reply, port_op op, const json_field *fields)
{
    rooms *r = peer_req_node(rq)->rooms;
    char msg[JSON_FIELD_MSG_MAX];
    query_ctx q = {.rq = rq};
    if (!r)
        return peer_error(reply, 503, "busy", "rooms are not running");
    if (json_check_fields(peer_req_body(rq), fields, msg))
        return peer_error(reply, 400, "bad_request", "%s", msg);
    /* a run whose wait is over; no peer op that waits keeps a cursor (a
     * poll reads "after", which does not move) */
    static const rooms_rerun over = {.over = true};
    rooms_answer a;
    rooms_refusal why = rooms_peer_op(r, op, peer_req_peer_hex(rq), peer_req_param(rq, "id"), query_fn, &q,
                                      peer_req_body(rq), peer_req_ctx(rq), peer_req_wait_over(rq) ? &over : NULL, &a);
    if (a.wait.pending) /* a submission waiting for its commit: kept until the request ends */
        peer_req_set_ctx(rq, a.wait.pending, pending_release);
    if (why == REFUSE_NONE && !a.body && a.wait.q)
        return peer_req_wait(rq, a.wait.q, a.wait.gen, a.wait.ms);
    return rooms_answer_http(why, &a, reply);
}

#define ROUTE(name, op, fields)                                                                                      \
    static int name(peer_req *rq, json_t **reply)                                                                    \
    {                                                                                                                \
        return dispatch(rq, reply, op, fields);                                                                      \
    }
ROUTE(r_list, PORT_LIST, no_fields)
ROUTE(r_join, PORT_JOIN, join_fields)
ROUTE(r_leave, PORT_LEAVE, no_fields)
ROUTE(r_delivery, PORT_DELIVERY, delivery_fields)
ROUTE(r_members, PORT_MEMBERS, no_fields)
ROUTE(r_keys, PORT_KEYS, no_fields)
ROUTE(r_poll, PORT_POLL, no_fields)
ROUTE(r_submit, PORT_SUBMIT, submit_fields)
ROUTE(r_batch, PORT_BATCH, batch_fields)
ROUTE(r_notify, PORT_NOTIFY, notify_fields)

#define SUBMIT_MAX (48 * 1024)     /* base64 of a 16 KiB text's sealed body, a signature, JSON */
#define BATCH_MAX (256 * 1024)    /* up to 16 submissions (a sender packs at most 192 KiB) */
#define NOTIFY_MAX (PEER_PLAIN_MAX) /* a push batch */

const peer_route rooms_peer_routes[] = {
    {"GET", "/v1/peer/rooms", r_list, 0, PEER_RESEND},
    {"POST", "/v1/peer/rooms/{id}/join", r_join, 0, PEER_ONCE},
    {"POST", "/v1/peer/rooms/{id}/leave", r_leave, 0, PEER_ONCE},
    {"POST", "/v1/peer/rooms/{id}/delivery", r_delivery, 0, PEER_RESEND},
    {"GET", "/v1/peer/rooms/{id}/members", r_members, 0, PEER_RESEND},
    {"GET", "/v1/peer/rooms/{id}/keys", r_keys, 0, PEER_RESEND},
    {"GET", "/v1/peer/rooms/{id}/messages", r_poll, 0, PEER_RESEND},
    {"POST", "/v1/peer/rooms/{id}/messages", r_submit, SUBMIT_MAX, PEER_RESEND | PEER_QUICK},
    {"POST", "/v1/peer/rooms/{id}/batch", r_batch, BATCH_MAX, PEER_RESEND | PEER_QUICK},
    {"POST", "/v1/peer/rooms/{id}/notify", r_notify, NOTIFY_MAX, PEER_RESEND},
    {0},
};

/* The peer port over peerlink: one call directly, several through curl
 * multi. */
void rooms_peer_call(void *arg, port_call *calls, size_t n, int timeout_ms)
{
    node *nd = arg;
    peerlink_op *ops = calloc(n ? n : 1, sizeof *ops);
    uint8_t(*ids)[IDENTITY_ID_LEN] = calloc(n ? n : 1, IDENTITY_ID_LEN);
    char(*paths)[PORT_PATH_MAX] = calloc(n ? n : 1, PORT_PATH_MAX);
    size_t len;
    for (size_t i = 0; i < n; i++) {
        calls[i].reply = NULL;
        calls[i].status = 0;
        calls[i].rc = NT_ERR_NOMEM;
    }
    if (!ops || !ids || !paths)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const char *method = NULL;
        if (encoding_hex_decode(calls[i].peer, IDENTITY_ID_HEX_LEN, ids[i], IDENTITY_ID_LEN, &len) ||
            len != IDENTITY_ID_LEN || peer_port_target(&calls[i], &method, paths[i], PORT_PATH_MAX)) {
            calls[i].rc = NT_ERR_INVALID;
            continue;
        }
        ops[i] = (peerlink_op){.peer_id = ids[i], .method = method, .path = paths[i], .req = calls[i].req};
    }
    if (n == 1) {
        if (ops[0].peer_id)
            ops[0].rc = peerlink_call(nd, ids[0], ops[0].method, ops[0].path, ops[0].req, &ops[0].reply,
                                      &ops[0].status, timeout_ms);
    } else {
        /* skip the undecodable ones: peerlink needs every peer_id */
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (ops[i].peer_id)
                ops[k++] = ops[i];
        nt_err rc = peerlink_call_many(nd, ops, k, timeout_ms);
        for (size_t i = k; i-- > 0;) { /* put them back in place */
            peerlink_op o = ops[i];
            size_t j = (size_t)(((uint8_t(*)[IDENTITY_ID_LEN])o.peer_id) - ids);
            if (rc)
                o.rc = rc;
            memset(&ops[i], 0, sizeof ops[i]);
            ops[j] = o;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!ops[i].peer_id)
            continue;
        calls[i].rc = ops[i].rc;
        calls[i].status = ops[i].status;
        calls[i].reply = ops[i].reply;
        /* an application answer from the peer (404/403/...) is an answer */
        if (calls[i].rc && calls[i].status >= 400 && calls[i].status < 500 && calls[i].reply)
            calls[i].rc = NT_OK;
    }
out:
    free(ops);
    free(ids);
    free(paths);
}
