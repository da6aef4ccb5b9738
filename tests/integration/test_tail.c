/* Integration: `natter tail` on a room longer than one answer of the
 * node (500 messages at most): -n N pages back with before= until it has
 * N or the room's first message; -nN and --limit=N are the same option. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_natter.h"
#include "tests/test_main.h"

#define ROOM_MESSAGES 620

static harness_node a;
static const char *const quiet[] = {"--no-discovery", NULL};

static void setup(void)
{
    ck_assert_int_eq(harness_start(&a, "alice", quiet), 0);
}

static void teardown(void)
{
    harness_cleanup(&a);
}

static void fill_room(void)
{
    harness_resp r;
    ck_assert_int_eq(harness_post(&a, HARNESS_CLIENT, "/v1/client/rooms",
                                  "{\"name\":\"general\",\"access\":\"invite\"}", &r), 0);
    ck_assert_msg(r.status == 200 || r.status == 201, "create: %ld %s", r.status, r.body);
    char rid[80];
    snprintf(rid, sizeof rid, "%s", json_string_value(json_object_get(r.json, "id")));
    harness_resp_free(&r);
    for (int i = 1; i <= ROOM_MESSAGES; i++) {
        char path[200], body[64];
        snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/t-%d", rid, i);
        snprintf(body, sizeof body, "{\"text\":\"line %04d\"}", i);
        ck_assert_int_eq(harness_put(&a, HARNESS_CLIENT, path, body, &r), 0);
        ck_assert_int_eq(r.status, 200);
        harness_resp_free(&r);
    }
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

START_TEST(tail_pages_back)
{
    natter_out o;
    fill_room();

    /* more than the room holds: all of it, oldest first */
    ck_assert_int_eq(natter_run(&a, NULL, &o, "tail", "general", "-n", "1000", NULL), 0);
    ck_assert_msg(o.status == 0, "tail -n 1000: %d %s", o.status, o.err);
    ck_assert_int_eq(count_lines(o.out), ROOM_MESSAGES);
    ck_assert_ptr_nonnull(strstr(o.out, "line 0001"));
    ck_assert(strstr(o.out, "line 0001") < strstr(o.out, "line 0620"));
    natter_out_free(&o);

    /* across a page boundary, exactly N */
    ck_assert_int_eq(natter_run(&a, NULL, &o, "tail", "general", "--limit=550", NULL), 0);
    ck_assert_msg(o.status == 0, "tail --limit=550: %d %s", o.status, o.err);
    ck_assert_int_eq(count_lines(o.out), 550);
    ck_assert_ptr_nonnull(strstr(o.out, "line 0071"));
    ck_assert_ptr_null(strstr(o.out, "line 0070"));
    natter_out_free(&o);

    ck_assert_int_eq(natter_run(&a, NULL, &o, "tail", "general", "-n20", NULL), 0);
    ck_assert_msg(o.status == 0, "tail -n20: %d %s", o.status, o.err);
    ck_assert_int_eq(count_lines(o.out), 20);
    ck_assert_ptr_nonnull(strstr(o.out, "line 0601"));
    natter_out_free(&o);

    /* --json: one answer with all of them */
    ck_assert_int_eq(natter_run(&a, NULL, &o, "--json", "tail", "general", "-n", "600", NULL), 0);
    ck_assert_msg(o.status == 0 && o.json, "tail --json: %d %s", o.status, o.err);
    ck_assert_uint_eq(json_array_size(json_object_get(o.json, "messages")), 600);
    natter_out_free(&o);

    ck_assert_int_eq(natter_run(&a, NULL, &o, "tail", "--help", NULL), 0);
    ck_assert_ptr_nonnull(strstr(o.out, "--limit"));
    natter_out_free(&o);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("tail");
    TCase *tc = tcase_create("paging");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tail_pages_back);
    suite_add_tcase(s, tc);
    return s;
}

