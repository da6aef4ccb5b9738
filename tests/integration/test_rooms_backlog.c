/* Integration: a member that was away while the room filled up with
 * maximum-size messages catches up when it is back. The backlog (60
 * messages of 16000 characters, about 1.3 MB of base64) is more than one
 * notify (384 KiB) or one sealed poll reply (1 MiB) carries, so the host
 * must hand it out in batches. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tests/test_main.h"

#define BACKLOG 60
#define TEXT_LEN 16000
#define CATCH_UP_MS 20000 /* under the 30 s resync: the catch-up poll at start does it */

static harness_node A, B;
static char room[64];

static json_t *call(harness_node *n, const char *method, const char *body, long want, const char *path)
{
    harness_resp r = {0};
    ck_assert_int_eq(harness_call(n, HARNESS_CLIENT, method, path, body, &r), 0);
    if (want && r.status != want) {
        harness_dump_log(n);
        ck_abort_msg("%s %s on %s: status %ld, want %ld", method, path, n->name, r.status, want);
    }
    json_t *j = r.json ? json_incref(r.json) : json_null();
    harness_resp_free(&r);
    return j;
}

static bool has_all(void *arg)
{
    (void)arg;
    char path[256];
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?after=0&limit=500", room);
    harness_resp r = {0};
    bool ok = harness_get(&B, HARNESS_CLIENT, path, &r) == 0 && r.status == 200 &&
              json_array_size(json_object_get(r.json, "messages")) == BACKLOG;
    harness_resp_free(&r);
    return ok;
}

/* B's pending message pend1, as the outbox shows it (NULL when gone). */
static json_t *pending_entry(void)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?limit=1", room);
    json_t *j = call(&B, "GET", NULL, 200, path), *e, *found = NULL;
    size_t i;
    json_array_foreach(json_object_get(j, "pending"), i, e)
        if (!strcmp(json_string_value(json_object_get(e, "txn_id")), "pend1"))
            found = json_incref(e);
    json_decref(j);
    return found;
}

static bool tried_five_times(void *arg)
{
    (void)arg;
    json_t *e = pending_entry();
    bool ok = e && json_integer_value(json_object_get(e, "attempts")) >= 5;
    json_decref(e);
    return ok;
}

static bool pend1_sent(void *arg)
{
    (void)arg;
    char path[256];
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?limit=10", room);
    json_t *j = call(&A, "GET", NULL, 200, path), *m;
    size_t i;
    bool ok = false;
    json_array_foreach(json_object_get(j, "messages"), i, m)
        ok |= json_is_string(json_object_get(m, "txn_id")) &&
              !strcmp(json_string_value(json_object_get(m, "txn_id")), "pend1");
    json_decref(j);
    return ok;
}

/* alice hosts a room called name, bob (who knows her) has joined it. */
static void two_nodes_one_room(const char *name)
{
    char body[256], path[256];
    ck_assert_int_eq(harness_start(&A, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(&B, "bob", NULL), 0);
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", A.peer);
    json_decref(call(&B, "POST", body, 0, "/v1/client/peers"));
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", B.peer);
    json_decref(call(&A, "POST", body, 0, "/v1/client/peers"));
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    json_t *j = call(&A, "POST", body, 201, "/v1/client/rooms");
    snprintf(room, sizeof room, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/invite", room);
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", B.node_id);
    json_decref(call(&A, "POST", body, 200, path));
    snprintf(path, sizeof path, "/v1/client/rooms/%s/join", room);
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", A.node_id);
    json_decref(call(&B, "POST", body, 200, path));
}

static void teardown(void)
{
    harness_cleanup(&A);
    harness_cleanup(&B);
}

START_TEST(member_catches_up_on_a_big_backlog)
{
    char path[256];
    two_nodes_one_room("big");

    ck_assert_int_eq(harness_stop(&B), 0);
    char *text = malloc(TEXT_LEN + 32);
    ck_assert_ptr_nonnull(text);
    memcpy(text, "{\"text\":\"", 9);
    memset(text + 9, 'x', TEXT_LEN);
    memcpy(text + 9 + TEXT_LEN, "\"}", 3);
    for (int k = 0; k < BACKLOG; k++) {
        snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/big%d", room, k);
        json_decref(call(&A, "PUT", text, 200, path));
    }
    free(text);

    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)B.peer_port);
    const char *args[] = {"--listen", listen, NULL};
    ck_assert_int_eq(harness_restart(&B, args), 0);
    if (!harness_wait(has_all, NULL, CATCH_UP_MS)) {
        harness_dump_log(&B);
        ck_abort_msg("B did not catch up on %d messages within %d ms", BACKLOG, CATCH_UP_MS);
    }
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?after=0&limit=500", room);
    json_t *j = call(&B, "GET", NULL, 200, path);
    json_t *msgs = json_object_get(j, "messages");
    for (size_t k = 0; k < BACKLOG; k++) { /* in order, each once, verified */
        json_t *m = json_array_get(msgs, k);
        ck_assert_int_eq(json_integer_value(json_object_get(m, "seq")), (json_int_t)k + 1);
        ck_assert_str_eq(json_string_value(json_object_get(m, "state")), "verified");
        ck_assert_uint_eq(strlen(json_string_value(json_object_get(m, "text"))), TEXT_LEN);
    }
    json_decref(j);
    ck_assert_int_eq(harness_stop(&A), 0);
    ck_assert_int_eq(harness_stop(&B), 0);
}
END_TEST

/* A host that comes back gets the pending messages at once: a handshake
 * with it makes them due, whatever their backoff (after five failed tries
 * the next is 8 s away; it grows to 60 s). */
START_TEST(pending_goes_out_when_the_host_is_back)
{
    char path[256];
    two_nodes_one_room("away");

    ck_assert_int_eq(harness_stop(&A), 0);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/pend1", room);
    json_decref(call(&B, "PUT", "{\"text\":\"written while alice was away\"}", 202, path));
    ck_assert_msg(harness_wait(tried_five_times, NULL, 30000), "B's outbox did not retry five times");

    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)A.peer_port);
    const char *args[] = {"--listen", listen, NULL};
    ck_assert_int_eq(harness_restart(&A, args), 0);
    snprintf(path, sizeof path, "/v1/client/peers/%s/connect", A.node_id);
    json_decref(call(&B, "POST", "{}", 200, path)); /* a handshake: the host is back */
    if (!harness_wait(pend1_sent, NULL, 3000)) {
        harness_dump_log(&B);
        ck_abort_msg("the pending message did not reach the host within 3 s of its return");
    }
    json_t *e = pending_entry();
    ck_assert_ptr_null(e); /* no longer pending at B */
    ck_assert_int_eq(harness_stop(&A), 0);
    ck_assert_int_eq(harness_stop(&B), 0);
}
END_TEST

/* A send answered at once is one delivery event (its outcome), not a
 * pending one and then a sent one. */
START_TEST(one_delivery_event_per_send)
{
    char path[256];
    two_nodes_one_room("events");
    json_t *j = call(&B, "GET", NULL, 200, "/v1/client/events?since=now");
    char next[64];
    snprintf(next, sizeof next, "%s", json_string_value(json_object_get(j, "next")));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/e1", room);
    json_decref(call(&B, "PUT", "{\"text\":\"once\"}", 200, path));
    snprintf(path, sizeof path, "/v1/client/events?since=%s&limit=100", next);
    j = call(&B, "GET", NULL, 200, path);
    json_t *e;
    size_t i, n = 0;
    json_array_foreach(json_object_get(j, "events"), i, e) {
        const char *t = json_string_value(json_object_get(e, "type"));
        json_t *d = json_object_get(e, "delivery");
        n += t && !strcmp(t, "delivery") && !strcmp(json_string_value(json_object_get(d, "txn_id")), "e1");
        if (t && !strcmp(t, "delivery"))
            ck_assert_str_eq(json_string_value(json_object_get(d, "state")), "sent");
    }
    json_decref(j);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(harness_stop(&A), 0);
    ck_assert_int_eq(harness_stop(&B), 0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("rooms_backlog");
    TCase *tc = tcase_create("rooms_backlog");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, member_catches_up_on_a_big_backlog);
    tcase_add_test(tc, pending_goes_out_when_the_host_is_back);
    tcase_add_test(tc, one_delivery_event_per_send);
    suite_add_tcase(s, tc);
    return s;
}
