/* natter's command line: commands, options anywhere, argument counts,
 * option values and the usage errors a script would hit. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "client/opts.h"
#include "tests/test_main.h"

#define ARGV_MAX 12

static nt_err parse(opts *o, const char *line, char err[static OPTS_ERR_MAX])
{
    static char buf[512];
    char *argv[ARGV_MAX] = {"natter"};
    int argc = 1;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w && argc < ARGV_MAX;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    return opts_parse(o, argc, argv, err);
}

static const struct {
    const char *line;
    nt_err rc;
    const char *cmd;   /* NULL: full screen */
    int nargs;
    const char *arg0;
} cases[] = {
    {"", NT_OK, NULL, 0, NULL},
    {"status", NT_OK, "status", 0, NULL},
    {"status --json", NT_OK, "status", 0, NULL},
    {"--json status", NT_OK, "status", 0, NULL},
    {"--url http://x:1 peers", NT_OK, "peers", 0, NULL},
    {"add 10.0.0.2:7711", NT_OK, "add", 1, "10.0.0.2:7711"},
    {"add", NT_ERR_INVALID, NULL, 0, NULL},
    {"add a b", NT_ERR_INVALID, NULL, 0, NULL},
    {"send general hello", NT_OK, "send", 2, "general"},
    {"send general", NT_OK, "send", 1, "general"},
    {"send general -- -dash", NT_OK, "send", 2, "general"},
    {"send general -dash", NT_ERR_INVALID, NULL, 0, NULL},
    {"tail general -f", NT_OK, "tail", 1, "general"},
    {"tail general -n 5", NT_OK, "tail", 1, "general"},
    {"tail general -n 0", NT_ERR_INVALID, NULL, 0, NULL},
    {"tail general -n x", NT_ERR_INVALID, NULL, 0, NULL},
    {"status -f", NT_ERR_INVALID, NULL, 0, NULL},
    {"create r --access open", NT_OK, "create", 1, "r"},
    {"create r --access=invite", NT_OK, "create", 1, "r"},
    {"create r --access bogus", NT_ERR_INVALID, NULL, 0, NULL},
    {"create r --password pw", NT_OK, "create", 1, "r"},
    {"join r --host bob", NT_OK, "join", 1, "r"},
    {"join r --access open", NT_ERR_INVALID, NULL, 0, NULL},
    {"frobnicate", NT_ERR_INVALID, NULL, 0, NULL},
    {"--bogus", NT_ERR_INVALID, NULL, 0, NULL},
    {"--url", NT_ERR_INVALID, NULL, 0, NULL},
    {"--json=1 status", NT_ERR_INVALID, NULL, 0, NULL},
    {"invite room", NT_ERR_INVALID, NULL, 0, NULL},
    {"invite room bob", NT_OK, "invite", 2, "room"},
    {"send --help", NT_OK, "send", 0, NULL},
    {"help tail", NT_OK, "tail", 0, NULL},
    {"token", NT_OK, "token", 0, NULL},
    {"create r --topic plans", NT_OK, "create", 1, "r"},
    {"join r --topic plans", NT_ERR_INVALID, NULL, 0, NULL},
    {"leave r", NT_OK, "leave", 1, "r"},
    {"leave", NT_ERR_INVALID, NULL, 0, NULL},
    {"kick r", NT_ERR_INVALID, NULL, 0, NULL},
    {"kick r bob", NT_OK, "kick", 2, "r"},
    {"members r", NT_OK, "members", 1, "r"},
    {"topic r", NT_OK, "topic", 1, "r"},
    {"topic r text", NT_OK, "topic", 2, "r"},
    {"name alicia", NT_OK, "name", 1, "alicia"},
    {"name", NT_ERR_INVALID, NULL, 0, NULL},
    {"untrust bob", NT_OK, "untrust", 1, "bob"},
    {"whois bob", NT_OK, "whois", 1, "bob"},
    {"whois bob --host x", NT_ERR_INVALID, NULL, 0, NULL},
    {"msg bob hi", NT_OK, "msg", 2, "bob"},
    {"msg bob", NT_OK, "msg", 1, "bob"},
    {"msg", NT_ERR_INVALID, NULL, 0, NULL},
};

START_TEST(test_table)
{
    opts o;
    char err[OPTS_ERR_MAX];
    nt_err rc = parse(&o, cases[_i].line, err);
    ck_assert_msg(rc == cases[_i].rc, "\"%s\": rc %d, want %d (%s)", cases[_i].line, rc,
                  cases[_i].rc, err);
    if (rc != NT_OK) {
        ck_assert_msg(err[0], "\"%s\": no reason given", cases[_i].line);
        return;
    }
    if (cases[_i].cmd) {
        ck_assert_ptr_nonnull(o.cmd);
        ck_assert_str_eq(o.cmd->name, cases[_i].cmd);
    } else {
        ck_assert_ptr_null(o.cmd);
    }
    ck_assert_int_eq(o.nargs, cases[_i].nargs);
    if (cases[_i].arg0)
        ck_assert_str_eq(o.args[0], cases[_i].arg0);
}
END_TEST

START_TEST(test_values)
{
    opts o;
    char err[OPTS_ERR_MAX];
    ck_assert_int_eq(parse(&o, "--url http://h:1 --token T --data-dir /d status --json", err), NT_OK);
    ck_assert_str_eq(o.url, "http://h:1");
    ck_assert_str_eq(o.token, "T");
    ck_assert_str_eq(o.data_dir, "/d");
    ck_assert(o.json);
    ck_assert_int_eq(parse(&o, "tail r -f --limit 7", err), NT_OK);
    ck_assert(o.follow);
    ck_assert_int_eq(o.limit, 7);
    ck_assert_int_eq(parse(&o, "tail r -n20", err), NT_OK); /* attached, as tail(1) takes it */
    ck_assert_int_eq(o.limit, 20);
    ck_assert_int_eq(parse(&o, "tail r --limit=1000", err), NT_OK);
    ck_assert_int_eq(o.limit, 1000);
    ck_assert_int_eq(parse(&o, "tail r -n0", err), NT_ERR_INVALID);
    ck_assert_int_eq(parse(&o, "tail r -fx", err), NT_ERR_INVALID); /* -f takes no value */
    ck_assert_int_eq(parse(&o, "create r --password pw", err), NT_OK);
    ck_assert_str_eq(o.access, "password"); /* a password implies the access */
    ck_assert_str_eq(o.password, "pw");
    ck_assert_int_eq(parse(&o, "send r -- -x", err), NT_OK);
    ck_assert_str_eq(o.args[1], "-x");
    ck_assert_int_eq(parse(&o, "send --help", err), NT_OK);
    ck_assert(o.help);
    ck_assert_int_eq(parse(&o, "-V", err), NT_OK);
    ck_assert(o.version);
}
END_TEST

START_TEST(test_password_needed)
{
    opts o;
    char err[OPTS_ERR_MAX];
    unsetenv("NATTER_ROOM_PASSWORD");
    ck_assert_int_eq(parse(&o, "create r --access password", err), NT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "--password"));
    setenv("NATTER_ROOM_PASSWORD", "from-env", 1);
    ck_assert_int_eq(parse(&o, "create r --access password", err), NT_OK);
    ck_assert_str_eq(o.password, "from-env");
    unsetenv("NATTER_ROOM_PASSWORD");
}
END_TEST

START_TEST(test_every_command_has_help)
{
    static const char *const names[] = {"status", "peers", "add", "connect", "trust", "rooms",
                                        "create", "invite", "join", "send", "tail", "rekey", "token"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const opts_cmd *c = opts_find(names[i]);
        ck_assert_msg(c != NULL, "%s missing", names[i]);
        ck_assert(strlen(c->help) > 20 && strlen(c->summary) > 5);
        ck_assert_ptr_nonnull(strstr(c->synopsis, names[i]));
    }
    ck_assert_ptr_null(opts_find("nope"));
}
END_TEST

START_TEST(test_usage_mentions_exit_codes)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    opts_usage(f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "natterd is not running"));
    ck_assert_ptr_nonnull(strstr(buf, "tail"));
    ck_assert_ptr_nonnull(strstr(buf, "NATTER_TOKEN"));
    free(buf);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("opts");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_table, 0, sizeof cases / sizeof cases[0]);
    tcase_add_test(tc, test_values);
    tcase_add_test(tc, test_password_needed);
    tcase_add_test(tc, test_every_command_has_help);
    tcase_add_test(tc, test_usage_mentions_exit_codes);
    suite_add_tcase(s, tc);
    return s;
}
