/* Conversations with one peer: which rooms read as one, and what a
 * conversation window is called on either side. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "client/dm.h"
#include "tests/test_main.h"

#define SELF "aaaa0000"
#define BOB "bbbb1111"
#define BOB2 "cccc2222"

static json_t *names(void)
{
    return json_pack("{s:{s:s,s:s,s:s}, s:{s:s,s:s,s:s}, s:{s:s,s:s,s:s}}",
                     SELF, "name", "alice", "label", "alice", "trust", "self",
                     BOB, "name", "bob", "label", "bob~bbbb", "trust", "untrusted",
                     BOB2, "name", "carol", "label", "carol", "trust", "trusted");
}

START_TEST(test_is)
{
    static const struct {
        const char *json;
        bool dm;
    } cases[] = {
        {"{\"name\":\"@bob\",\"access\":\"invite\"}", true},
        {"{\"name\":\"@bob\",\"access\":\"open\"}", false},     /* anyone may join */
        {"{\"name\":\"@\",\"access\":\"invite\"}", false},      /* nobody after the @ */
        {"{\"name\":\"general\",\"access\":\"invite\"}", false},
        {"{\"name\":\"@bob\"}", false},
        {"{\"access\":\"invite\"}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *r = json_loads(cases[i].json, 0, NULL);
        ck_assert_ptr_nonnull(r);
        ck_assert_msg(dm_is(r) == cases[i].dm, "case %zu", i);
        json_decref(r);
    }
}
END_TEST

START_TEST(test_title)
{
    json_t *n = names();
    char buf[IDENT_LABEL_MAX];
    /* hosted here: the peer named after the @, by its label */
    json_t *r = json_pack("{s:s,s:s,s:s}", "name", "@bob", "access", "invite", "host", SELF);
    ck_assert_str_eq(dm_title(r, n, SELF, buf), "bob~bbbb");
    json_decref(r);
    /* hosted by the peer: the host, whatever the room is called */
    r = json_pack("{s:s,s:s,s:s}", "name", "@carol", "access", "invite", "host", BOB2);
    ck_assert_str_eq(dm_title(r, n, SELF, buf), "carol");
    json_decref(r);
    r = json_pack("{s:s,s:s,s:s}", "name", "@alice", "access", "invite", "host", BOB);
    ck_assert_str_eq(dm_title(r, n, SELF, buf), "bob~bbbb");
    json_decref(r);
    /* a name nobody known has: the name itself; this node is never the peer */
    r = json_pack("{s:s,s:s,s:s}", "name", "@dave", "access", "invite", "host", SELF);
    ck_assert_str_eq(dm_title(r, n, SELF, buf), "dave");
    json_decref(r);
    r = json_pack("{s:s,s:s,s:s}", "name", "@alice", "access", "invite", "host", SELF);
    ck_assert_str_eq(dm_title(r, n, SELF, buf), "alice");
    json_decref(r);
    json_decref(n);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("dm");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_is);
    tcase_add_test(tc, test_title);
    suite_add_tcase(s, tc);
    return s;
}

