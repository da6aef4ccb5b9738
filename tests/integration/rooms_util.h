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
