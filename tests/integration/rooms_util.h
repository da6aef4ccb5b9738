/* rooms_util.h - small helpers shared by the rooms integration tests. */
#ifndef NATTER_TESTS_ROOMS_UTIL_H
#define NATTER_TESTS_ROOMS_UTIL_H

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include "crypto/encoding.h"
#include "harness.h"
#include "server/rooms/roomcrypt.h"

/* A client API call on n (path from fmt); with want non-zero, fails the
 * test (after printing n's log) unless the status is want. Returns the
 * reply's JSON (JSON null if none); the caller decrefs it. */
static inline json_t *call(harness_node *n, const char *method, const char *body, long want, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static inline json_t *call(harness_node *n, const char *method, const char *body, long want, const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    harness_resp r = {0};
    ck_assert_int_eq(harness_call(n, HARNESS_CLIENT, method, path, body, &r), 0);
    if (want && r.status != want) {
        harness_dump_log(n);
        ck_abort_msg("%s %s on %s: status %ld, want %ld: %s", method, path, n->name, r.status, want,
                     r.body ? r.body : "");
    }
    json_t *j = r.json ? json_incref(r.json) : json_null();
    harness_resp_free(&r);
    return j;
}

/* n adds m as a peer by address (any status: m may be known already). */
static inline void rooms_add_peer(harness_node *n, const harness_node *m)
{
    char body[128];
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", m->peer);
    json_decref(call(n, "POST", body, 0, "/v1/client/peers"));
}

/* Is n's state of room want ("invited", "joined", "kicked", ...)? */
typedef struct {
    harness_node *n;
    const char *room, *want;
} rooms_state_arg;

static inline bool rooms_state_is(void *arg)
{
    rooms_state_arg *x = arg;
    json_t *j = call(x->n, "GET", NULL, 0, "/v1/client/rooms/%s", x->room);
    bool ok = !strcmp(json_string_value(json_object_get(j, "state")) ?: "", x->want);
    json_decref(j);
    return ok;
}

/* Wait (at most ms) for n's state of room to be want: true if it came. */
static inline bool rooms_wait_state(harness_node *n, const char *room, const char *want, int ms)
{
    rooms_state_arg x = {n, room, want};
    return harness_wait(rooms_state_is, &x, ms);
}

/* host invites n to room; n, once it sees the invitation (within ms),
 * joins with delivery mode. */
static inline void rooms_invite_and_join(harness_node *host, harness_node *n, const char *room, const char *mode,
                                         int ms)
{
    char body[160];
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", n->node_id);
    json_decref(call(host, "POST", body, 200, "/v1/client/rooms/%s/invite", room));
    ck_assert(rooms_wait_state(n, room, "invited", ms));
    snprintf(body, sizeof body, "{\"host\":\"%s\",\"delivery\":\"%s\"}", host->node_id, mode);
    json_decref(call(n, "POST", body, 200, "/v1/client/rooms/%s/join", room));
}

/* Starts a ("alice") and b ("bob"), makes each a known peer of the other,
 * has a create a closed room "target" and b join it on a's invitation.
 * room gets its hex id, room_id the id's bytes. */
static inline void rooms_two_nodes(harness_node *a, harness_node *b, char room[static ROOM_ID_HEX_LEN + 1],
                                   uint8_t room_id[static ROOM_ID_LEN])
{
    ck_assert_int_eq(harness_start(a, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(b, "bob", NULL), 0);
    char body[128];
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", a->peer);
    json_decref(call(b, "POST", body, 201, "/v1/client/peers"));
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", b->peer);
    json_decref(call(a, "POST", body, 200, "/v1/client/peers")); /* known from b's handshake */
    json_t *j = call(a, "POST", "{\"name\":\"target\"}", 201, "/v1/client/rooms");
    snprintf(room, ROOM_ID_HEX_LEN + 1, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    size_t n;
    ck_assert_int_eq(encoding_hex_decode(room, ROOM_ID_HEX_LEN, room_id, ROOM_ID_LEN, &n), NT_OK);
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", b->node_id);
    json_decref(call(a, "POST", body, 200, "/v1/client/rooms/%s/invite", room));
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", a->node_id);
    json_decref(call(b, "POST", body, 200, "/v1/client/rooms/%s/join", room));
}

#endif
