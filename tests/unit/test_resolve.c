/* Naming peers and rooms: exact id, exact name, case-insensitive name,
 * unique prefix of a name or id; ambiguity and misses are told apart. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "client/resolve.h"

static const char *list_json =
    "[{\"id\":\"aa11bb22\",\"name\":\"alice\"},"
    " {\"id\":\"aa11cc33\",\"name\":\"alicia\"},"
    " {\"node_id\":\"ff00ee11\",\"name\":\"Bob\"},"
    " {\"id\":\"0123abcd\",\"name\":\"general\"},"
    " {\"id\":\"9999aaaa\",\"name\":\"gen\"},"
    " {\"id\":\"77770000\",\"name\":\"twin\"},"
    " {\"id\":\"77771111\",\"name\":\"twin\"},"
    " {\"id\":\"55550000\",\"name\":\"aa11\"}]";

static const struct {
    const char *q;
    nt_err rc;
    int index;
} cases[] = {
    {"alice", NT_OK, 0},       /* exact name */
    {"alicia", NT_OK, 1},
    {"ali", NT_ERR_EXISTS, -1},/* prefix of two names */
    {"alic", NT_ERR_EXISTS, -1},
    {"alici", NT_OK, 1},       /* unique prefix */
    {"aa11bb22", NT_OK, 0},    /* exact id */
    {"AA11BB22", NT_OK, 0},    /* ids are hex: any case */
    {"aa11b", NT_OK, 0},       /* unique id prefix */
    {"aa11", NT_OK, 7},        /* an exact name wins over id prefixes */
    {"bob", NT_OK, 2},         /* case-insensitive name */
    {"ff00", NT_OK, 2},        /* id under node_id */
    {"gen", NT_OK, 4},         /* exact beats prefix of "general" */
    {"gene", NT_OK, 3},
    {"twin", NT_ERR_EXISTS, -1}, /* same name twice */
    {"7777", NT_ERR_EXISTS, -1},
    {"77771", NT_OK, 6},       /* the id tells twins apart */
    {"zed", NT_ERR_NOT_FOUND, -1},
    {"", NT_ERR_INVALID, -1},
};

START_TEST(test_table)
{
    json_t *list = json_loads(list_json, 0, NULL);
    ck_assert_ptr_nonnull(list);
    size_t idx = 999;
    char err[RESOLVE_ERR_MAX];
    nt_err rc = resolve_find(list, cases[_i].q, "peer", &idx, err);
    ck_assert_msg(rc == cases[_i].rc, "\"%s\": rc %d want %d (%s)", cases[_i].q, rc, cases[_i].rc, err);
    if (rc == NT_OK)
        ck_assert_int_eq((int)idx, cases[_i].index);
    else
        ck_assert(err[0] != '\0');
    json_decref(list);
}
END_TEST

START_TEST(test_ambiguous_names_candidates)
{
    json_t *list = json_loads(list_json, 0, NULL);
    size_t idx;
    char err[RESOLVE_ERR_MAX];
    ck_assert_int_eq(resolve_find(list, "ali", "peer", &idx, err), NT_ERR_EXISTS);
    ck_assert_ptr_nonnull(strstr(err, "alice"));
    ck_assert_ptr_nonnull(strstr(err, "alicia"));
    ck_assert_int_eq(resolve_find(list, "nobody", "room", &idx, err), NT_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err, "no room"));
    json_decref(list);
}
END_TEST

START_TEST(test_not_a_list)
{
    json_t *o = json_object();
    size_t idx;
    char err[RESOLVE_ERR_MAX];
    ck_assert_int_eq(resolve_find(o, "x", "peer", &idx, err), NT_ERR_INVALID);
    ck_assert_int_eq(resolve_find(NULL, "x", "peer", &idx, err), NT_ERR_INVALID);
    json_t *empty = json_array();
    ck_assert_int_eq(resolve_find(empty, "x", "peer", &idx, err), NT_ERR_NOT_FOUND);
    json_decref(o);
    json_decref(empty);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("resolve");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_table, 0, sizeof cases / sizeof cases[0]);
    tcase_add_test(tc, test_ambiguous_names_candidates);
    tcase_add_test(tc, test_not_a_list);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
