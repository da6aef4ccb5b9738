/* config: defaults, environment, flags, precedence, errors. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

#include "fake_env.h"
#include "tests/test_main.h"

static nt_err parse(config *c, const char *const *env, int argc, const char **argv, config_action *act, char *err)
{
    fake_env = env;
    memset(c, 0, sizeof *c);
    return config_parse(c, argc, (char **)argv, env_lookup, act, err);
}

START_TEST(defaults)
{
    config c;
    config_action act;
    char err[CONFIG_ERR_MAX];
    const char *env[] = {"HOME=/home/u", NULL};
    const char *argv[] = {"natterd", NULL};
    ck_assert_int_eq(parse(&c, env, 1, argv, &act, err), NT_OK);
    ck_assert_int_eq(act, CONFIG_RUN);
    ck_assert_str_eq(c.data_dir, "/home/u/.local/share/natter");
    ck_assert_ptr_null(c.name);
    ck_assert_str_eq(c.listen, "0.0.0.0:7711");
    ck_assert_str_eq(c.client_listen, "127.0.0.1:7710");
    ck_assert_uint_eq(c.key_bits, 3072);
    ck_assert_str_eq(c.log_level, "info");
    ck_assert_uint_eq(c.max_body, 65536);
    config_free(&c);
    ck_assert_ptr_null(c.data_dir);
}
END_TEST

START_TEST(xdg_data_home)
{
    config c;
    config_action act;
    char err[CONFIG_ERR_MAX];
    const char *env[] = {"HOME=/home/u", "XDG_DATA_HOME=/xdg", NULL};
    const char *argv[] = {"natterd", NULL};
    ck_assert_int_eq(parse(&c, env, 1, argv, &act, err), NT_OK);
    ck_assert_str_eq(c.data_dir, "/xdg/natter");
    config_free(&c);
    /* a relative XDG_DATA_HOME is ignored, as the XDG spec says */
    const char *env2[] = {"HOME=/home/u", "XDG_DATA_HOME=rel", NULL};
    ck_assert_int_eq(parse(&c, env2, 1, argv, &act, err), NT_OK);
    ck_assert_str_eq(c.data_dir, "/home/u/.local/share/natter");
    config_free(&c);
    const char *env3[] = {NULL};
    ck_assert_int_eq(parse(&c, env3, 1, argv, &act, err), NT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "HOME"));
    config_free(&c);
}
END_TEST

START_TEST(env_then_flags)
{
    config c;
    config_action act;
    char err[CONFIG_ERR_MAX];
    const char *env[] = {"HOME=/h", "NATTER_DATA_DIR=/env/dir", "NATTER_KEY_BITS=2048", "NATTER_NAME=envname",
                         "NATTER_CLIENT_LISTEN=127.0.0.1:1", "NATTER_LOG_LEVEL=debug", NULL};
    const char *argv[] = {"natterd", "--data-dir", "/flag/dir", "--key-bits=4096", "--listen", "127.0.0.1:0", NULL};
    ck_assert_int_eq(parse(&c, env, 6, argv, &act, err), NT_OK);
    ck_assert_str_eq(c.data_dir, "/flag/dir");     /* flag beats env */
    ck_assert_uint_eq(c.key_bits, 4096);
    ck_assert_str_eq(c.name, "envname");           /* env beats default */
    ck_assert_str_eq(c.client_listen, "127.0.0.1:1");
    ck_assert_str_eq(c.listen, "127.0.0.1:0");
    ck_assert_str_eq(c.log_level, "debug");
    config_free(&c);
}
END_TEST

static const struct {
    const char *argv[6];
    const char *env;   /* one NAME=value or NULL */
    const char *want;  /* substring of the error */
} bad_cases[] = {
    {{"natterd", "--key-bits", "1024"}, NULL, "key-bits"},
    {{"natterd", "--key-bits", "3000"}, NULL, "2048, 3072 or 4096"},
    {{"natterd", "--key-bits", "abc"}, NULL, "number"},
    {{"natterd", "--key-bits", "-2048"}, NULL, "number"},
    {{"natterd", "--key-bits", "99999999999999999999999"}, NULL, "number"},
    {{"natterd", "--key-bits"}, NULL, "needs a value"},
    {{"natterd", "--bogus"}, NULL, "unknown option"},
    {{"natterd", "extra"}, NULL, "unexpected argument"},
    {{"natterd", "--log-level", "loud"}, NULL, "log-level"},
    {{"natterd", "--name", ""}, NULL, "--name"},
    {{"natterd", "--name", "tab\there"}, NULL, "--name"},
    {{"natterd", "--max-body", "10"}, NULL, "max-body"},
    {{"natterd", "--data-dir", ""}, NULL, "data-dir"},
    {{"natterd"}, "NATTER_KEY_BITS=12", "NATTER_KEY_BITS"},
    {{"natterd"}, "NATTER_MAX_CONNECTIONS=2000000", "max-connections"},
    /* getaddrinfo would take 99999 as 34463 and 65536 as 0 */
    {{"natterd", "--listen", "127.0.0.1:99999"}, NULL, "--listen: '127.0.0.1:99999' is not HOST:PORT"},
    {{"natterd", "--client-listen", "127.0.0.1:65536"}, NULL, "--client-listen"},
    {{"natterd", "--listen", "nonsense"}, NULL, "--listen"},
    {{"natterd", "--listen", ":7711"}, NULL, "--listen"},
    {{"natterd", "--listen", "127.0.0.1:"}, NULL, "--listen"},
    {{"natterd", "--listen", "127.0.0.1:-1"}, NULL, "--listen"},
    {{"natterd", "--listen", "127.0.0.1:0x10"}, NULL, "--listen"},
    {{"natterd", "--listen", "127.0.0.1:http"}, NULL, "--listen"},
    {{"natterd", "--listen", "[]:7711"}, NULL, "--listen"},
    {{"natterd"}, "NATTER_CLIENT_LISTEN=127.0.0.1:123456", "--client-listen"},
};

START_TEST(bad_input)
{
    config c;
    config_action act;
    char err[CONFIG_ERR_MAX];
    const char *env[] = {"HOME=/h", bad_cases[_i].env, NULL};
    int argc = 0;
    while (argc < 6 && bad_cases[_i].argv[argc])
        argc++;
    ck_assert_int_eq(parse(&c, env, argc, (const char **)bad_cases[_i].argv, &act, err), NT_ERR_INVALID);
    ck_assert_msg(strstr(err, bad_cases[_i].want), "case %d: want '%s' in '%s'", _i, bad_cases[_i].want, err);
    config_free(&c);
}
END_TEST

START_TEST(listen_addresses)
{
    char err[CONFIG_ERR_MAX];
    static const char *const good[] = {"127.0.0.1:0", "0.0.0.0:7711", "[::1]:0", "localhost:65535", "127.0.0.1:1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(config_listen_valid(good[i], err), "%s refused: %s", good[i], err);
    static const char *const bad[] = {"127.0.0.1:65536", "127.0.0.1:000000", "127.0.0.1", "127.0.0.1: 1", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!config_listen_valid(bad[i], err), "%s accepted", bad[i]);
    ck_assert(!config_listen_valid(NULL, err));
}
END_TEST

START_TEST(given_tells_default_from_chosen)
{
    config c;
    config_action act;
    char err[CONFIG_ERR_MAX];
    const char *env[] = {"HOME=/h", "NATTER_NAME=env", NULL};
    const char *argv[] = {"natterd", "--key-bits", "3072", NULL};
    ck_assert_int_eq(parse(&c, env, 3, argv, &act, err), NT_OK);
    ck_assert(config_given(&c, "key-bits")); /* the default value, but chosen */
    ck_assert(config_given(&c, "name"));
    ck_assert(!config_given(&c, "listen"));
    ck_assert(!config_given(&c, "no-such-flag"));
    config_free(&c);
}
END_TEST

START_TEST(help_and_version)
{
    config c;
    config_action act;
    char err[CONFIG_ERR_MAX];
    const char *env[] = {"HOME=/h", NULL};
    const char *a1[] = {"natterd", "--help", NULL};
    ck_assert_int_eq(parse(&c, env, 2, a1, &act, err), NT_OK);
    ck_assert_int_eq(act, CONFIG_HELP);
    config_free(&c);
    const char *a2[] = {"natterd", "-V", NULL};
    ck_assert_int_eq(parse(&c, env, 2, a2, &act, err), NT_OK);
    ck_assert_int_eq(act, CONFIG_VERSION);
    config_free(&c);
}
END_TEST

START_TEST(usage_lists_every_flag_and_env)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    config_usage(f, "natterd");
    fclose(f);
    static const char *const want[] = {"--data-dir", "NATTER_DATA_DIR", "--name", "NATTER_NAME", "--listen",
                                       "NATTER_LISTEN", "--client-listen", "NATTER_CLIENT_LISTEN", "--key-bits",
                                       "NATTER_KEY_BITS", "--log-level", "NATTER_LOG_LEVEL", "--help", "--version"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(buf, want[i]), "usage lacks %s", want[i]);
    free(buf);
}
END_TEST

START_TEST(reparse_is_clean)
{
    /* getopt state is reset: a second parse sees its own argv */
    config c;
    config_action act;
    char err[CONFIG_ERR_MAX];
    const char *env[] = {"HOME=/h", NULL};
    const char *a1[] = {"natterd", "--name", "one", NULL};
    const char *a2[] = {"natterd", "--name", "two", NULL};
    ck_assert_int_eq(parse(&c, env, 3, a1, &act, err), NT_OK);
    config_free(&c);
    ck_assert_int_eq(parse(&c, env, 3, a2, &act, err), NT_OK);
    ck_assert_str_eq(c.name, "two");
    config_free(&c);
    config_free(NULL);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, xdg_data_home);
    tcase_add_test(tc, env_then_flags);
    tcase_add_loop_test(tc, bad_input, 0, sizeof bad_cases / sizeof bad_cases[0]);
    tcase_add_test(tc, listen_addresses);
    tcase_add_test(tc, given_tells_default_from_chosen);
    tcase_add_test(tc, help_and_version);
    tcase_add_test(tc, usage_lists_every_flag_and_env);
    tcase_add_test(tc, reparse_is_clean);
    suite_add_tcase(s, tc);
    return s;
}
