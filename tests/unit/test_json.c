/* json helpers and text checks. */
#include <check.h>
#include <string.h>

#include "common/json.h"
#include "common/text.h"

static const struct {
    const char *in;
    nt_err want;
} parse_cases[] = {
    {"{}", NT_OK},
    {"{\"a\":[1,{\"b\":null}]}", NT_OK},
    {"[]", NT_ERR_INVALID},           /* not an object */
    {"\"s\"", NT_ERR_INVALID},
    {"", NT_ERR_INVALID},
    {"{", NT_ERR_INVALID},
    {"{\"a\":1,\"a\":2}", NT_ERR_INVALID},
    {"{\"a\":\"\\ud800\"}", NT_ERR_INVALID}, /* lone surrogate */
    {"{\"a\":\"\xff\"}", NT_ERR_INVALID},    /* bad UTF-8 */
    {"{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}", NT_ERR_TOO_BIG}, /* 17 levels */
    {"{\"a\":[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}", NT_OK},            /* 16 levels */
    {"{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}", NT_OK},       /* brackets in strings do not count */
    {"{\"a\":\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[\"}", NT_OK},
};

START_TEST(parse_object)
{
    json_t *j = NULL;
    nt_err rc = json_parse_object(parse_cases[_i].in, strlen(parse_cases[_i].in), JSON_DEPTH_DEFAULT, &j);
    ck_assert_msg(rc == parse_cases[_i].want, "case %d (%s): got %d", _i, parse_cases[_i].in, rc);
    ck_assert(rc ? j == NULL : json_is_object(j));
    json_decref(j);
}
END_TEST

START_TEST(getters)
{
    json_t *j;
    const char *s;
    json_int_t i;
    bool b;
    static const char in[] = "{\"s\":\"hey\",\"e\":\"\",\"i\":5,\"b\":true,\"n\":null}";
    ck_assert_int_eq(json_parse_object(in, sizeof in - 1, 4, &j), NT_OK);
    ck_assert_int_eq(json_get_str(j, "s", 10, &s), NT_OK);
    ck_assert_str_eq(s, "hey");
    ck_assert_int_eq(json_get_str(j, "s", 2, &s), NT_ERR_INVALID);
    ck_assert_int_eq(json_get_str(j, "e", 10, &s), NT_ERR_INVALID);
    ck_assert_int_eq(json_get_str(j, "i", 10, &s), NT_ERR_INVALID);
    ck_assert_int_eq(json_get_str(j, "zz", 10, &s), NT_ERR_NOT_FOUND);
    ck_assert_int_eq(json_get_int(j, "i", 0, 10, &i), NT_OK);
    ck_assert_int_eq(i, 5);
    ck_assert_int_eq(json_get_int(j, "i", 6, 10, &i), NT_ERR_INVALID);
    ck_assert_int_eq(json_get_int(j, "s", 0, 10, &i), NT_ERR_INVALID);
    ck_assert_int_eq(json_get_bool(j, "b", &b), NT_OK);
    ck_assert(b);
    ck_assert_int_eq(json_get_bool(j, "n", &b), NT_ERR_INVALID);
    char *out = json_to_string(j);
    ck_assert_ptr_nonnull(strstr(out, "\"s\":\"hey\""));
    free(out);
    json_decref(j);
}
END_TEST

static const struct {
    const char *s;
    bool utf8, name;
} text_cases[] = {
    {"alice", true, true},
    {"Zoë 🐱", true, true},
    {"", true, false},
    {"   ", true, false},
    {"tab\there", true, false},
    {"del\x7f", true, false},
    {"c1\xc2\x85", true, false},          /* U+0085 NEL */
    {"\xc0\xaf", false, false},           /* overlong '/' */
    {"\xed\xa0\x80", false, false},       /* surrogate */
    {"\xf4\x90\x80\x80", false, false},   /* > U+10FFFF */
    {"\xe2\x82", false, false},           /* truncated */
    {"\x80", false, false},
};

START_TEST(text_checks)
{
    const char *s = text_cases[_i].s;
    ck_assert_msg(text_utf8_valid(s, strlen(s)) == text_cases[_i].utf8, "utf8 case %d", _i);
    ck_assert_msg(text_name_valid(s, strlen(s)) == text_cases[_i].name, "name case %d", _i);
}
END_TEST

START_TEST(name_length)
{
    char buf[TEXT_NAME_MAX + 2];
    memset(buf, 'a', sizeof buf);
    ck_assert(text_name_valid(buf, TEXT_NAME_MAX));
    ck_assert(!text_name_valid(buf, TEXT_NAME_MAX + 1));
    ck_assert(!text_utf8_valid("a\0b", 3));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");
    tcase_add_loop_test(tc, parse_object, 0, sizeof parse_cases / sizeof parse_cases[0]);
    tcase_add_test(tc, getters);
    tcase_add_loop_test(tc, text_checks, 0, sizeof text_cases / sizeof text_cases[0]);
    tcase_add_test(tc, name_length);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
