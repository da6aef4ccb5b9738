/* config: the discovery settings and the FLAG kind (--no-discovery). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

#include "fake_env.h"
#include "tests/test_main.h"

static nt_err parse(config *c, const char *const *env, const char **argv)
{
    int argc = 0;
    config_action act;
    char err[CONFIG_ERR_MAX];
    while (argv[argc])
        argc++;
    fake_env = env;
    memset(c, 0, sizeof *c);
    return config_parse(c, argc, (char **)argv, env_lookup, &act, err);
}

START_TEST(discovery_defaults)
{
    config c;
    const char *env[] = {"HOME=/h", NULL}, *argv[] = {"natterd", NULL};
    ck_assert_int_eq(parse(&c, env, argv), NT_OK);
    ck_assert(!c.no_discovery);
    ck_assert_str_eq(c.discovery_group, "239.255.77.10");
    ck_assert_uint_eq(c.discovery_port, 7712);
    ck_assert_ptr_null(c.interface);
    ck_assert_uint_eq(c.discovery_ttl, 1);
    ck_assert_uint_eq(c.announce_interval, 30);
    ck_assert_uint_eq(c.peer_expiry, 90);
    config_free(&c);
}
END_TEST

static const struct {
    const char *env;  /* NATTER_NO_DISCOVERY=..., or NULL */
    const char *flag; /* "--no-discovery..." or NULL */
    nt_err rc;
    bool off;
} flags[] = {
    {NULL, "--no-discovery", NT_OK, true},
    {NULL, "--no-discovery=off", NT_OK, false},
    {NULL, "--no-discovery=yes", NT_OK, true},
    {NULL, "--no-discovery=maybe", NT_ERR_INVALID, false},
    {"NATTER_NO_DISCOVERY=1", NULL, NT_OK, true},
    {"NATTER_NO_DISCOVERY=0", NULL, NT_OK, false},
    {"NATTER_NO_DISCOVERY=1", "--no-discovery=0", NT_OK, false}, /* flag beats env */
    {"NATTER_NO_DISCOVERY=0", "--no-discovery", NT_OK, true},
    {"NATTER_NO_DISCOVERY=sometimes", NULL, NT_ERR_INVALID, false},
};

START_TEST(no_discovery_flag)
{
    config c;
    const char *env[] = {"HOME=/h", flags[_i].env, NULL};
    const char *argv[] = {"natterd", flags[_i].flag, NULL};
    ck_assert_int_eq(parse(&c, env, argv), flags[_i].rc);
    if (flags[_i].rc == NT_OK)
        ck_assert_int_eq(c.no_discovery, flags[_i].off);
    config_free(&c);
}
END_TEST

START_TEST(discovery_settings_and_ranges)
{
    config c;
    const char *env[] = {"HOME=/h", "NATTER_DISCOVERY_PORT=9999", "NATTER_INTERFACE=eth9", NULL};
    const char *argv[] = {"natterd", "--discovery-group", "239.1.2.3", "--announce-interval", "1", "--peer-expiry",
                          "3", "--discovery-ttl", "4", NULL};
    ck_assert_int_eq(parse(&c, env, argv), NT_OK);
    ck_assert_str_eq(c.discovery_group, "239.1.2.3");
    ck_assert_uint_eq(c.discovery_port, 9999);
    ck_assert_str_eq(c.interface, "eth9");
    ck_assert_uint_eq(c.announce_interval, 1);
    ck_assert_uint_eq(c.peer_expiry, 3);
    ck_assert_uint_eq(c.discovery_ttl, 4);
    config_free(&c);
    static const char *const bad[][2] = {
        {"--discovery-port", "0"}, {"--discovery-port", "65536"}, {"--discovery-ttl", "0"},
        {"--discovery-ttl", "256"}, {"--announce-interval", "0"}, {"--peer-expiry", "0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *a[] = {"natterd", bad[i][0], bad[i][1], NULL};
        ck_assert_msg(parse(&c, env, a) == NT_ERR_INVALID, "%s %s accepted", bad[i][0], bad[i][1]);
        config_free(&c);
    }
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("config_discovery");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, discovery_defaults);
    tcase_add_loop_test(tc, no_discovery_flag, 0, sizeof flags / sizeof flags[0]);
    tcase_add_test(tc, discovery_settings_and_ranges);
    suite_add_tcase(s, tc);
    return s;
}
