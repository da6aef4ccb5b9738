/* Where the client finds its node: precedence of flags, environment, the
 * node's port file and the defaults; the token file and its errors. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "client/locate.h"

static char dir[256];
static const char *env_vals[8][2];

static const char *fake_env(const char *name)
{
    for (size_t i = 0; i < 8 && env_vals[i][0]; i++)
        if (!strcmp(env_vals[i][0], name))
            return env_vals[i][1];
    return NULL;
}

static void write_file(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/natter-locate-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    memset(env_vals, 0, sizeof env_vals);
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_data_dir_precedence)
{
    locate l;
    char err[LOCATE_ERR_MAX];
    env_vals[0][0] = "HOME", env_vals[0][1] = "/home/u";
    ck_assert_int_eq(locate_node(&l, NULL, "t", NULL, 1, fake_env, err), NT_OK);
    ck_assert_str_eq(l.data_dir, "/home/u/.local/share/natter");
    env_vals[1][0] = "XDG_DATA_HOME", env_vals[1][1] = "/xdg";
    ck_assert_int_eq(locate_node(&l, NULL, "t", NULL, 1, fake_env, err), NT_OK);
    ck_assert_str_eq(l.data_dir, "/xdg/natter");
    env_vals[2][0] = "NATTER_DATA_DIR", env_vals[2][1] = "/env";
    ck_assert_int_eq(locate_node(&l, NULL, "t", NULL, 1, fake_env, err), NT_OK);
    ck_assert_str_eq(l.data_dir, "/env");
    ck_assert_int_eq(locate_node(&l, NULL, "t", "/flag", 1, fake_env, err), NT_OK);
    ck_assert_str_eq(l.data_dir, "/flag");
    memset(env_vals, 0, sizeof env_vals);
    ck_assert_int_eq(locate_node(&l, NULL, "t", NULL, 1, fake_env, err), NT_ERR_INVALID);
    ck_assert(err[0]);
}
END_TEST

START_TEST(test_url_precedence)
{
    locate l;
    char err[LOCATE_ERR_MAX];
    ck_assert_int_eq(locate_node(&l, NULL, "t", dir, 1, fake_env, err), NT_OK);
    ck_assert_str_eq(l.url, LOCATE_DEFAULT_URL); /* no port file */
    write_file("natterd.json", "{\"pid\":1,\"peer\":\"127.0.0.1:5\",\"client\":\"127.0.0.1:4242\","
                               "\"node_id\":\"ab\"}");
    ck_assert_int_eq(locate_node(&l, NULL, "t", dir, 1, fake_env, err), NT_OK);
    ck_assert_str_eq(l.url, "http://127.0.0.1:4242");
    ck_assert_ptr_nonnull(strstr(l.portfile, "natterd.json"));
    env_vals[0][0] = "NATTER_URL", env_vals[0][1] = "127.0.0.1:99";
    ck_assert_int_eq(locate_node(&l, NULL, "t", dir, 1, fake_env, err), NT_OK);
    ck_assert_str_eq(l.url, "http://127.0.0.1:99");
    ck_assert_str_eq(l.portfile, "");
    ck_assert_int_eq(locate_node(&l, "http://h:1/", "t", dir, 1, fake_env, err), NT_OK);
    ck_assert_str_eq(l.url, "http://h:1/");
    ck_assert_int_eq(locate_node(&l, "nonsense", "t", dir, 1, fake_env, err), NT_ERR_INVALID);
}
END_TEST

static const struct {
    const char *json;
    const char *url; /* NULL: not found */
} portfiles[] = {
    {"{\"client\":\"127.0.0.1:7710\"}", "http://127.0.0.1:7710"},
    {"{\"client\":\"0.0.0.0:7000\"}", "http://127.0.0.1:7000"},
    {"{\"client\":{\"host\":\"127.0.0.1\",\"port\":81}}", "http://127.0.0.1:81"},
    {"{\"client_port\":8080}", "http://127.0.0.1:8080"},
    {"{\"listeners\":{\"client\":\"127.0.0.1:9\"}}", "http://127.0.0.1:9"},
    {"{\"client\":\"[::]:7710\"}", "http://[::1]:7710"},
    {"{\"peer\":\"127.0.0.1:1\"}", NULL},
    {"{\"client_port\":70000}", NULL},
    {"not json", NULL},
    {"[1,2]", NULL},
};

START_TEST(test_portfile)
{
    char url[API_URL_MAX];
    nt_err rc = locate_parse_portfile(portfiles[_i].json, url);
    if (portfiles[_i].url) {
        ck_assert_int_eq(rc, NT_OK);
        ck_assert_str_eq(url, portfiles[_i].url);
    } else {
        ck_assert_int_ne(rc, NT_OK);
    }
}
END_TEST

START_TEST(test_token)
{
    locate l;
    char err[LOCATE_ERR_MAX];
    ck_assert_int_eq(locate_node(&l, NULL, NULL, dir, 1, fake_env, err), NT_ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(err, "api-token"));
    ck_assert_int_eq(locate_node(&l, NULL, NULL, dir, 0, fake_env, err), NT_OK); /* optional */
    ck_assert_str_eq(l.token, "");
    write_file("api-token", "s3cret\n");
    ck_assert_int_eq(locate_node(&l, NULL, NULL, dir, 1, fake_env, err), NT_OK);
    ck_assert_str_eq(l.token, "s3cret");
    env_vals[0][0] = "NATTER_TOKEN", env_vals[0][1] = "fromenv";
    ck_assert_int_eq(locate_node(&l, NULL, NULL, dir, 1, fake_env, err), NT_OK);
    ck_assert_str_eq(l.token, "fromenv");
    ck_assert_str_eq(l.token_src, "NATTER_TOKEN");
    ck_assert_int_eq(locate_node(&l, NULL, "flag", dir, 1, fake_env, err), NT_OK);
    ck_assert_str_eq(l.token, "flag");
    locate_clear(&l);
    ck_assert_str_eq(l.token, "");
    memset(env_vals, 0, sizeof env_vals);
    write_file("api-token", "\n");
    ck_assert_int_eq(locate_node(&l, NULL, NULL, dir, 1, fake_env, err), NT_ERR_AUTH);
    ck_assert_int_eq(locate_node(&l, NULL, "a\nb", dir, 1, fake_env, err), NT_ERR_AUTH);
}
END_TEST

/* What the token's proof is checked against: the node id natterd.json
 * names, and whether URL and token both came from the data dir (then a
 * listener that fails the proof is "natterd is not running (data dir)"). */
START_TEST(test_expected_node)
{
    locate l;
    char err[LOCATE_ERR_MAX], id[HELLO_NODE_ID_MAX + 1];
    write_file("api-token", "s3cret\n");
    ck_assert_int_eq(locate_node(&l, NULL, NULL, dir, 1, fake_env, err), NT_OK);
    ck_assert(l.from_data_dir);
    ck_assert_str_eq(l.node_id, ""); /* no natterd.json: the default URL, any id */
    write_file("natterd.json", "{\"client\":\"127.0.0.1:4242\",\"node_id\":\"ab12\"}");
    ck_assert_int_eq(locate_node(&l, NULL, NULL, dir, 1, fake_env, err), NT_OK);
    ck_assert_str_eq(l.node_id, "ab12");
    ck_assert(l.from_data_dir);
    ck_assert_int_eq(locate_node(&l, NULL, "flag", dir, 1, fake_env, err), NT_OK);
    ck_assert(!l.from_data_dir);
    ck_assert_int_eq(locate_node(&l, "http://h:1", NULL, dir, 1, fake_env, err), NT_OK);
    ck_assert(!l.from_data_dir);
    static const char *const bad[] = {"{\"node_id\":\"AB12\"}", "{\"node_id\":\"\"}", "{\"node_id\":7}",
                                      "{\"node_id\":\"ab 12\"}", "[]", "nonsense"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(locate_parse_node_id(bad[i], id), NT_ERR_NOT_FOUND);
    locate_clear(&l);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("locate");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_data_dir_precedence);
    tcase_add_test(tc, test_url_precedence);
    tcase_add_loop_test(tc, test_portfile, 0, sizeof portfiles / sizeof portfiles[0]);
    tcase_add_test(tc, test_token);
    tcase_add_test(tc, test_expected_node);
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
