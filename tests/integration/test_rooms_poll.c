/* Integration: a poll-mode member follows the room's member-list changes
 * without backing off. The host answers a member's long poll at once when
 * the member list changed since the member last fetched it (a join, a
 * leave, a new topic), so that the member fetches it. That answer is
 * progress: the member must poll again at once, not wait out the backoff
 * meant for a host that fails or answers with nothing, during which every
 * message would sit at the host. Status counts the backoffs
 * (rooms.poll_backoffs). Real natterd processes on loopback, client API
 * only. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "rooms_util.h"
#include "tests/test_main.h"

#define WAIT_MS 10000 /* well under the members' 30 s catch-up poll */

static harness_node A, B, C;
static char room[ROOM_ID_HEX_LEN + 1];
static const char *const quiet[] = {"--no-discovery", NULL};

/* n joins A's room on A's invitation, with delivery mode. */
static void invite_and_join(harness_node *n, const char *mode)
{
    rooms_invite_and_join(&A, n, room, mode, WAIT_MS);
    ck_assert(rooms_wait_state(n, room, "joined", WAIT_MS));
}

static json_int_t status_int(harness_node *n, const char *section, const char *field)
{
    json_t *j = call(n, "GET", NULL, 200, "/v1/client/status");
    json_t *v = json_object_get(json_object_get(j, section), field);
    ck_assert_msg(json_is_integer(v), "%s: status has no %s.%s", n->name, section, field);
    json_int_t k = json_integer_value(v);
    json_decref(j);
    return k;
}

/* B's long poll is parked at A (the only poll-mode member). */
static bool poll_parked(void *arg)
{
    (void)arg;
    json_t *j = call(&A, "GET", NULL, 200, "/v1/client/status");
    json_int_t parked = json_integer_value(json_object_get(json_object_get(json_object_get(j, "listeners"), "peer"),
                                                           "parked"));
    json_decref(j);
    return parked >= 1;
}

static void wait_poll_parked(void)
{
    if (!harness_wait(poll_parked, NULL, WAIT_MS)) {
        harness_dump_log(&B);
        ck_abort_msg("bob's long poll is not parked at alice");
    }
}

typedef struct {
    harness_node *n;
    const char *topic;
} topic_arg;

static bool topic_is(void *arg)
{
    topic_arg *x = arg;
    json_t *j = call(x->n, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    bool ok = !strcmp(json_string_value(json_object_get(j, "topic")) ?: "", x->topic);
    json_decref(j);
    return ok;
}

static bool bob_has_a_message(void *arg)
{
    (void)arg;
    json_t *j = call(&B, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    bool ok = json_integer_value(json_object_get(j, "head")) >= 1;
    json_decref(j);
    return ok;
}

START_TEST(member_list_changes_are_no_reason_to_back_off)
{
    ck_assert_int_eq(harness_start(&A, "alice", quiet), 0);
    ck_assert_int_eq(harness_start(&B, "bob", quiet), 0);
    ck_assert_int_eq(harness_start(&C, "carol", quiet), 0);
    rooms_add_peer(&B, &A);
    rooms_add_peer(&C, &A);
    rooms_add_peer(&A, &B);
    rooms_add_peer(&A, &C);
    json_t *j = call(&A, "POST", "{\"name\":\"plans\"}", 201, "/v1/client/rooms");
    snprintf(room, sizeof room, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    invite_and_join(&B, "poll");
    wait_poll_parked();
    json_int_t before = status_int(&B, "rooms", "poll_backoffs");

    /* three topic changes: each answers bob's parked poll at once */
    static const char *const topics[] = {"one", "two", "three"};
    for (size_t i = 0; i < 3; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"topic\":\"%s\"}", topics[i]);
        json_decref(call(&A, "PATCH", body, 200, "/v1/client/rooms/%s", room));
        topic_arg x = {&B, topics[i]};
        ck_assert_msg(harness_wait(topic_is, &x, WAIT_MS), "bob did not get topic %s", topics[i]);
        wait_poll_parked();
    }
    /* a join, then a message */
    invite_and_join(&C, "push");
    json_decref(call(&A, "PUT", "{\"text\":\"hello\"}", 200, "/v1/client/rooms/%s/messages/t1", room));
    if (!harness_wait(bob_has_a_message, NULL, WAIT_MS)) {
        harness_dump_log(&B);
        ck_abort_msg("bob did not get the message");
    }
    ck_assert_int_eq(status_int(&B, "rooms", "poll_backoffs"), before);
    harness_cleanup(&A);
    harness_cleanup(&B);
    harness_cleanup(&C);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("rooms_poll");
    TCase *tc = tcase_create("threenodes");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, member_list_changes_are_no_reason_to_back_off);
    suite_add_tcase(s, tc);
    return s;
}
