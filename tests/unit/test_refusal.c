/* test_refusal.c - the one map from a rooms answer to HTTP: done answers
 * by kind, the rooms' own refusals through the table (members beside
 * "error" kept, in order), another node's refusal passed on unchanged. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "server/rooms/refusal.h"
#include "tests/test_main.h"

static char *dump_taken(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

START_TEST(done_answers_by_kind)
{
    rooms_answer a = {.body = json_pack("{s:s}", "id", "x")};
    json_t *body = NULL;
    ck_assert_int_eq(rooms_answer_http(REFUSE_NONE, &a, &body), 200);
    ck_assert_ptr_null(a.body);
    char *s = dump_taken(body);
    ck_assert_str_eq(s, "{\"id\":\"x\"}");
    free(s);
    a = (rooms_answer){.body = json_object(), .created = true};
    ck_assert_int_eq(rooms_answer_http(REFUSE_NONE, &a, &body), 201);
    json_decref(body);
    a = (rooms_answer){.body = json_object(), .pending = true};
    ck_assert_int_eq(rooms_answer_http(REFUSE_NONE, &a, &body), 202);
    json_decref(body);
    a = (rooms_answer){.body = json_object(), .stale = true};
    ck_assert_int_eq(rooms_answer_http(REFUSE_NONE, &a, &body), 503);
    json_decref(body);
}
END_TEST

START_TEST(own_refusals_through_the_table)
{
    rooms_answer a = {0};
    json_t *body = NULL;
    ck_assert_int_eq(rooms_decline(&a, REFUSE_NO_SUCH_MEMBER, "that peer is not a member"), REFUSE_NO_SUCH_MEMBER);
    ck_assert_int_eq(rooms_answer_http(REFUSE_NO_SUCH_MEMBER, &a, &body), 404);
    char *s = dump_taken(body);
    ck_assert_str_eq(s, "{\"error\":{\"code\":\"not_member\",\"message\":\"that peer is not a member\"}}");
    free(s);
    /* members beside "error" follow it */
    a = (rooms_answer){0};
    rooms_decline(&a, REFUSE_RATE_LIMITED, "slow down");
    json_object_set_new(a.body, "retry_after", json_integer(10));
    ck_assert_int_eq(rooms_answer_http(REFUSE_RATE_LIMITED, &a, &body), 429);
    s = dump_taken(body);
    ck_assert_str_eq(s, "{\"error\":{\"code\":\"rate_limited\",\"message\":\"slow down\"},\"retry_after\":10}");
    free(s);
    /* the same as rooms_refuse builds for a route handler's own refusal */
    json_t *old = NULL;
    ck_assert_int_eq(rooms_refuse(&old, REFUSE_UNAVAILABLE, "gone"), 503);
    a = (rooms_answer){0};
    rooms_decline(&a, REFUSE_UNAVAILABLE, "gone");
    ck_assert_int_eq(rooms_answer_http(REFUSE_UNAVAILABLE, &a, &body), 503);
    char *x = dump_taken(old), *y = dump_taken(body);
    ck_assert_str_eq(x, y);
    free(x);
    free(y);
}
END_TEST

START_TEST(relayed_refusals_pass_unchanged)
{
    const char *wire = "{\"error\":{\"code\":\"wrong_password\",\"message\":\"wrong password\"},\"retry_after\":3}";
    rooms_answer a = {0};
    json_t *body = NULL;
    ck_assert_int_eq(rooms_relay(&a, 403, json_loads(wire, 0, NULL)), REFUSE_RELAYED);
    ck_assert_int_eq(a.relayed.status, 403);
    ck_assert_str_eq(a.relayed.code, "wrong_password");
    ck_assert_int_eq(rooms_answer_http(REFUSE_RELAYED, &a, &body), 403);
    char *s = dump_taken(body);
    ck_assert_str_eq(s, wire);
    free(s);
    /* a 200 passed on is done; a body without an error has no code */
    a = (rooms_answer){0};
    ck_assert_int_eq(rooms_relay(&a, 200, json_pack("{s:[]}", "rooms")), REFUSE_NONE);
    ck_assert_int_eq(rooms_answer_http(REFUSE_NONE, &a, &body), 200);
    json_decref(body);
    a = (rooms_answer){0};
    ck_assert_int_eq(rooms_relay(&a, 418, json_object()), REFUSE_RELAYED);
    ck_assert_str_eq(a.relayed.code, "");
    ck_assert_int_eq(rooms_answer_http(REFUSE_RELAYED, &a, &body), 418);
    json_decref(body);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("refusal");
    TCase *tc = tcase_create("map");
    tcase_add_test(tc, done_answers_by_kind);
    tcase_add_test(tc, own_refusals_through_the_table);
    tcase_add_test(tc, relayed_refusals_pass_unchanged);
    suite_add_tcase(s, tc);
    return s;
}
