/* Integration: a room's topic after its creation. The host's user changes
 * it (PATCH /v1/client/rooms/{id}); every joined member's node learns it
 * from the host, a push-mode member from the host's push and a poll-mode
 * one from its long poll, both well before the 30 s catch-up poll, and
 * its user sees it in the room list and as a `room` event. Only the host
 * changes it; bad bodies change nothing. Real natterd processes on
 * loopback, client API only. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "rooms_util.h"
#include "tests/test_main.h"

#define TOPIC_WAIT_MS 10000 /* well under the members' 30 s catch-up poll */

static harness_node A, B, C;
static char room[ROOM_ID_HEX_LEN + 1];
static const char *const quiet[] = {"--no-discovery", NULL};

/* n joins A's room on A's invitation, with delivery mode. */
static void invite_and_join(harness_node *n, const char *mode)
{
    rooms_invite_and_join(&A, n, room, mode, TOPIC_WAIT_MS);
}

static void setup(void)
{
    ck_assert_int_eq(harness_start(&A, "alice", quiet), 0);
    ck_assert_int_eq(harness_start(&B, "bob", quiet), 0);
    ck_assert_int_eq(harness_start(&C, "carol", quiet), 0);
    rooms_add_peer(&B, &A);
    rooms_add_peer(&C, &A);
    rooms_add_peer(&A, &B);
    rooms_add_peer(&A, &C);
    json_t *j = call(&A, "POST", "{\"name\":\"plans\",\"topic\":\"friday\"}", 201, "/v1/client/rooms");
    snprintf(room, sizeof room, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    invite_and_join(&B, "push");
    invite_and_join(&C, "poll");
}

static void teardown(void)
{
    harness_cleanup(&A);
    harness_cleanup(&B);
    harness_cleanup(&C);
}

/* n's topic of the room, as its room list says (static). */
static const char *listed_topic(harness_node *n)
{
    static char topic[1024];
    json_t *l = call(n, "GET", NULL, 200, "/v1/client/rooms");
    json_t *r = harness_json_find(l, "rooms", "id", room);
    snprintf(topic, sizeof topic, "%s", r ? json_string_value(json_object_get(r, "topic")) ?: "?" : "?");
    json_decref(l);
    return topic;
}

typedef struct {
    harness_node *n;
    const char *topic;
} topic_arg;

static bool topic_is(void *arg)
{
    topic_arg *x = arg;
    return !strcmp(listed_topic(x->n), x->topic);
}

/* A `room` event for the room on n with change "topic" and the topic. */
static bool has_topic_event(harness_node *n, const char *topic)
{
    json_t *j = call(n, "GET", NULL, 200, "/v1/client/events?since=0&wait=0&limit=500"), *e;
    size_t i;
    bool hit = false;
    json_array_foreach(json_object_get(j, "events"), i, e) {
        json_t *ri = json_object_get(e, "room_info");
        hit = hit || (!strcmp(json_string_value(json_object_get(e, "type")) ?: "", "room") &&
                      !strcmp(json_string_value(json_object_get(e, "room")) ?: "", room) &&
                      !strcmp(json_string_value(json_object_get(e, "change")) ?: "", "topic") &&
                      !strcmp(json_string_value(json_object_get(ri, "topic")) ?: "", topic));
    }
    json_decref(j);
    return hit;
}

static void wait_topic(harness_node *n, const char *topic)
{
    topic_arg x = {n, topic};
    if (!harness_wait(topic_is, &x, TOPIC_WAIT_MS)) {
        harness_dump_log(n);
        ck_abort_msg("%s still lists topic \"%s\", not \"%s\"", n->name, listed_topic(n), topic);
    }
}

START_TEST(members_see_the_new_topic)
{
    json_t *j = call(&A, "PATCH", "{\"topic\":\"saturday, at noon\"}", 200, "/v1/client/rooms/%s", room);
    ck_assert_str_eq(json_string_value(json_object_get(j, "topic")), "saturday, at noon");
    json_decref(j);
    ck_assert_str_eq(listed_topic(&A), "saturday, at noon");
    ck_assert(has_topic_event(&A, "saturday, at noon"));
    wait_topic(&B, "saturday, at noon"); /* push */
    wait_topic(&C, "saturday, at noon"); /* long poll */
    ck_assert(has_topic_event(&B, "saturday, at noon"));
    ck_assert(has_topic_event(&C, "saturday, at noon"));
    j = call(&B, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    ck_assert_str_eq(json_string_value(json_object_get(j, "topic")), "saturday, at noon");
    json_decref(j);

    /* cleared, and still carried with member changes that follow */
    json_decref(call(&A, "PATCH", "{\"topic\":\"\"}", 200, "/v1/client/rooms/%s", room));
    wait_topic(&B, "");
    wait_topic(&C, "");
}
END_TEST

START_TEST(only_the_host_and_only_a_topic)
{
    char big[1100];
    harness_resp r = {0};
    json_t *j = call(&B, "PATCH", "{\"topic\":\"mine now\"}", 403, "/v1/client/rooms/%s", room);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")), "not_master");
    json_decref(j);
    json_decref(call(&A, "PATCH", "{\"topic\":\"x\",\"name\":\"y\"}", 400, "/v1/client/rooms/%s", room));
    json_decref(call(&A, "PATCH", "{\"topic\":7}", 400, "/v1/client/rooms/%s", room));
    json_decref(call(&A, "PATCH", "{}", 400, "/v1/client/rooms/%s", room));
    int n = snprintf(big, sizeof big, "{\"topic\":\""); /* 1001 bytes: one over */
    memset(big + n, 'a', 1001);
    snprintf(big + n + 1001, sizeof big - (size_t)n - 1001, "\"}");
    json_decref(call(&A, "PATCH", big, 400, "/v1/client/rooms/%s", room));
    json_decref(call(&A, "PATCH", "{\"topic\":\"x\"}", 404, "/v1/client/rooms/%032d", 0));
    ck_assert_int_eq(harness_call(&A, HARNESS_CLIENT, "PATCH", "/v1/client/rooms", "{\"topic\":\"x\"}", &r), 0);
    ck_assert_int_eq(r.status, 405);
    harness_resp_free(&r);
    /* none of them changed it, here or at the members */
    ck_assert_str_eq(listed_topic(&A), "friday");
    ck_assert_str_eq(listed_topic(&B), "friday");
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("rooms_topic");
    TCase *tc = tcase_create("threenodes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, members_see_the_new_topic);
    tcase_add_test(tc, only_the_host_and_only_a_topic);
    suite_add_tcase(s, tc);
    return s;
}
