/* test_source_addr.c - which address a node's peer calls leave from. */
#include <check.h>
#include <stdlib.h>

#include "server/core/source_addr.h"
#include "tests/test_main.h"

static const struct {
    const char *listen, *host;
    bool loopback, v6;
} inits[] = {
    {"0.0.0.0:7711", "", false, false},
    {"[::]:7711", "", false, false},
    {"127.0.0.1:0", "127.0.0.1", true, false},
    {"127.0.0.2:41000", "127.0.0.2", true, false},
    {"192.168.1.5:7711", "192.168.1.5", false, false},
    {"[::1]:7711", "::1", true, true},
    {"[fd00::5]:7711", "fd00::5", false, true},
    {"", "", false, false},
    {"no-port", "", false, false},
    {"[::1:7711", "", false, false},
};

START_TEST(init_from_listen)
{
    source_addr s;
    source_addr_init(&s, inits[_i].listen);
    ck_assert_str_eq(s.host, inits[_i].host);
    if (s.host[0]) {
        ck_assert_int_eq(s.loopback, inits[_i].loopback);
        ck_assert_int_eq(s.v6, inits[_i].v6);
    }
}
END_TEST

static const struct {
    const char *listen, *url, *iface; /* iface NULL: no binding */
} binds[] = {
    {"127.0.0.2:1", "http://127.0.0.1:7711/v1/handshake", "host!127.0.0.2"},
    {"127.0.0.2:1", "http://localhost:7711/v1/node", "host!127.0.0.2"},
    {"127.0.0.2:1", "http://192.168.1.9:7711/v1/node", NULL}, /* loopback-only node, LAN peer */
    {"127.0.0.2:1", "http://[::1]:7711/v1/node", NULL},        /* other family */
    {"192.168.1.5:1", "http://192.168.1.9:7711/v1/node", "host!192.168.1.5"},
    {"192.168.1.5:1", "http://peer.lan:7711/v1/node", "host!192.168.1.5"},
    {"192.168.1.5:1", "http://127.0.0.1:7711/v1/node", NULL},
    {"192.168.1.5:1", "http://[fd00::9]:7711/v1/node", NULL},
    {"[fd00::5]:1", "http://[fd00::9]:7711/v1/node", "host!fd00::5"},
    {"[fd00::5]:1", "http://10.0.0.9:7711/v1/node", NULL},
    {"0.0.0.0:7711", "http://192.168.1.9:7711/v1/node", NULL},
    {"127.0.0.1:1", "not a url", NULL},
};

START_TEST(bind_for_destination)
{
    source_addr s;
    source_addr_init(&s, binds[_i].listen);
    const char *got = source_addr_for(&s, binds[_i].url);
    if (binds[_i].iface)
        ck_assert_str_eq(got ? got : "(none)", binds[_i].iface);
    else
        ck_assert_msg(got == NULL, "%s -> %s: bound to %s", binds[_i].listen, binds[_i].url, got);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("source_addr");
    TCase *tc = tcase_create("source_addr");
    tcase_add_loop_test(tc, init_from_listen, 0, sizeof inits / sizeof inits[0]);
    tcase_add_loop_test(tc, bind_for_destination, 0, sizeof binds / sizeof binds[0]);
    suite_add_tcase(s, tc);
    return s;
}
