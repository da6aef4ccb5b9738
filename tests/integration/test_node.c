/* Integration: a real natterd's start-up, files, refusals, endpoints,
 * error model and shutdown. */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "harness.h"

#define REFUSE_TIMEOUT_MS 60000

static unsigned mode_of(const char *dir, const char *name)
{
    char p[PATH_MAX + 64];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (stat(p, &st) != 0)
        return 0xFFFF;
    return st.st_mode & 07777;
}

static bool is_hex64(const char *s)
{
    return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

START_TEST(first_start_files_and_modes)
{
    harness_node n;
    ck_assert_int_eq(harness_start(&n, "alice", NULL), 0);
    ck_assert_uint_eq(mode_of(n.dir, "data"), 0700);
    ck_assert_uint_eq(mode_of(n.data_dir, "identity.pem"), 0600);
    ck_assert_uint_eq(mode_of(n.data_dir, "api-token"), 0600);
    ck_assert_uint_ne(mode_of(n.data_dir, "natter.db"), 0xFFFF);
    ck_assert(is_hex64(n.token));
    ck_assert(is_hex64(n.node_id));

    harness_resp r;
    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, "/v1/node", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "node_id")), n.node_id);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "alice");
    const char *pem = json_string_value(json_object_get(r.json, "public_key"));
    ck_assert_ptr_nonnull(pem);
    ck_assert(strncmp(pem, "-----BEGIN PUBLIC KEY-----", 26) == 0);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "key_bits")), 2048);
    harness_resp_free(&r);

    ck_assert_int_eq(harness_get(&n, HARNESS_CLIENT, "/v1/client/status", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "node_id")), n.node_id);
    json_t *l = json_object_get(r.json, "listeners");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(l, "peer"), "address")), n.peer);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(l, "client"), "address")), n.client);
    harness_resp_free(&r);

    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, "/v1/health", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ok");
    harness_resp_free(&r);

    ck_assert_int_eq(harness_stop(&n), 0);
    ck_assert_uint_eq(mode_of(n.data_dir, "natterd.json"), 0xFFFF); /* removed on clean exit */
    harness_cleanup(&n);
}
END_TEST

START_TEST(restart_keeps_identity_and_token)
{
    harness_node n;
    char id[80], tok[80];
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    strcpy(id, n.node_id);
    strcpy(tok, n.token);
    ck_assert_int_eq(harness_stop(&n), 0);
    ck_assert_int_eq(harness_restart(&n, NULL), 0);
    ck_assert_str_eq(n.node_id, id);
    ck_assert_str_eq(n.token, tok);
    harness_resp r;
    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, "/v1/node", &r), 0);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "node_id")), id);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

/* Run a second natterd on n's data dir with extra args; expect refusal
 * with a message containing want. */
static void expect_refused(const harness_node *n, const char *listen, const char *want)
{
    char err[4096];
    const char *args[] = {"--data-dir", n->data_dir, "--listen", listen ? listen : "127.0.0.1:0", "--client-listen",
                          "127.0.0.1:0", "--key-bits", "2048", NULL};
    int st = harness_run(args, REFUSE_TIMEOUT_MS, err, sizeof err);
    ck_assert_msg(st > 0, "natterd should refuse (%s) but exited %d: %s", want, st, err);
    ck_assert_msg(strstr(err, want), "want '%s' in: %s", want, err);
}

START_TEST(second_instance_refused)
{
    harness_node n;
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    expect_refused(&n, NULL, "another natterd is running");
    /* the first one is unharmed */
    harness_resp r;
    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, "/v1/health", &r), 0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

START_TEST(port_in_use_refused)
{
    harness_node a, b;
    ck_assert_int_eq(harness_start(&a, NULL, NULL), 0);
    ck_assert_int_eq(harness_start(&b, NULL, NULL), 0);
    ck_assert_int_eq(harness_stop(&b), 0);
    expect_refused(&b, a.peer, "in use");
    ck_assert_int_eq(harness_stop(&a), 0);
    harness_cleanup(&a);
    harness_cleanup(&b);
}
END_TEST

static void chmod_in(const harness_node *n, const char *name, mode_t m)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", n->data_dir, name);
    ck_assert_int_eq(chmod(name[0] ? p : n->data_dir, m), 0);
}

START_TEST(bad_permissions_refused)
{
    harness_node n;
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    ck_assert_int_eq(harness_stop(&n), 0);
    chmod_in(&n, "", 0750);
    expect_refused(&n, NULL, "lets others in");
    chmod_in(&n, "", 0700);
    chmod_in(&n, "identity.pem", 0640);
    expect_refused(&n, NULL, "identity.pem");
    chmod_in(&n, "identity.pem", 0604);
    expect_refused(&n, NULL, "lets others in");
    chmod_in(&n, "identity.pem", 0600);
    chmod_in(&n, "api-token", 0644);
    expect_refused(&n, NULL, "api-token");
    chmod_in(&n, "api-token", 0600);
    ck_assert_int_eq(harness_restart(&n, NULL), 0);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

static void write_in(const harness_node *n, const char *name, const char *data, size_t len)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", n->data_dir, name);
    int fd = open(p, O_WRONLY | O_TRUNC | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

START_TEST(corrupt_and_foreign_key_refused)
{
    harness_node a, b;
    char pem[8192], p[PATH_MAX + 64];
    ck_assert_int_eq(harness_start(&a, NULL, NULL), 0);
    ck_assert_int_eq(harness_start(&b, NULL, NULL), 0);
    ck_assert_int_eq(harness_stop(&a), 0);
    ck_assert_int_eq(harness_stop(&b), 0);
    /* b's key in a's data dir: a key that does not match the database */
    snprintf(p, sizeof p, "%s/identity.pem", b.data_dir);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(pem, 1, sizeof pem, f);
    fclose(f);
    write_in(&a, "identity.pem", pem, n);
    expect_refused(&a, NULL, "foreign key");
    write_in(&a, "identity.pem", "-----BEGIN RSA PRIVATE KEY-----\ngarbage\n", 40);
    expect_refused(&a, NULL, "corrupt");
    write_in(&a, "identity.pem", "", 0);
    expect_refused(&a, NULL, "corrupt");
    harness_cleanup(&a);
    harness_cleanup(&b);
}
END_TEST

START_TEST(newer_schema_refused)
{
    harness_node n;
    char p[PATH_MAX + 64];
    sqlite3 *db;
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    ck_assert_int_eq(harness_stop(&n), 0);
    snprintf(p, sizeof p, "%s/natter.db", n.data_dir);
    ck_assert_int_eq(sqlite3_open(p, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 9999", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    expect_refused(&n, NULL, "newer");
    harness_cleanup(&n);
}
END_TEST

static void expect_error(harness_resp *r, long status, const char *code)
{
    ck_assert_int_eq(r->status, status);
    ck_assert_msg(r->json != NULL, "error body is not JSON: %s", r->body);
    ck_assert_str_eq(harness_error_code(r), code);
    ck_assert(json_is_string(json_object_get(json_object_get(r->json, "error"), "message")));
    char ct[128];
    ck_assert_ptr_nonnull(harness_resp_header(r, "Content-Type", ct, sizeof ct));
    ck_assert_str_eq(ct, "application/json");
    harness_resp_free(r);
}

START_TEST(error_statuses_have_json_bodies)
{
    harness_node n;
    harness_resp r;
    char url[256], hdr[128];
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);

    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, "/v1/nope", &r), 0);
    expect_error(&r, 404, "not_found");
    ck_assert_int_eq(harness_get(&n, HARNESS_CLIENT, "/v1/client/nope", &r), 0);
    expect_error(&r, 404, "not_found");
    /* the client API is not served on the peer listener */
    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, "/v1/client/status", &r), 0);
    expect_error(&r, 404, "not_found");

    ck_assert_int_eq(harness_call(&n, HARNESS_PEER, "DELETE", "/v1/node", NULL, &r), 0);
    ck_assert_ptr_nonnull(harness_resp_header(&r, "Allow", hdr, sizeof hdr));
    ck_assert_str_eq(hdr, "GET");
    expect_error(&r, 405, "method_not_allowed");

    snprintf(url, sizeof url, "%s/v1/client/status", n.client_url);
    ck_assert_int_eq(harness_request("GET", url, NULL, NULL, 0, &r), 0);
    expect_error(&r, 401, "unauthorized");
    ck_assert_int_eq(harness_request("GET", url, "0000000000000000000000000000000000000000000000000000000000000000",
                                     NULL, 0, &r), 0);
    expect_error(&r, 401, "unauthorized");
    /* a token prefix is not the token */
    char half[40];
    snprintf(half, sizeof half, "%.32s", n.token);
    ck_assert_int_eq(harness_request("GET", url, half, NULL, 0, &r), 0);
    expect_error(&r, 401, "unauthorized");

    size_t big = 65 * 1024;
    char *body = malloc(big + 1);
    ck_assert_ptr_nonnull(body);
    memset(body, 'a', big);
    body[big] = '\0';
    snprintf(url, sizeof url, "%s/v1/node", n.peer_url);
    ck_assert_int_eq(harness_request("GET", url, NULL, body, big, &r), 0);
    expect_error(&r, 413, "too_large");
    free(body);

    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

START_TEST(bad_json_and_route_body_cap)
{
    harness_node n;
    harness_resp r;
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    static const char *const bad[] = {
        "", "{", "[1,2]", "\"x\"", "{\"name\":", "{\"name\":\"a\",\"name\":\"b\"}",
        "{\"name\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", "{\"name\":\"a\\u0000b\"}", "{\"name\":\"\xff\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(harness_put(&n, HARNESS_CLIENT, "/v1/client/name", bad[i], &r), 0);
        expect_error(&r, 400, "bad_json");
    }
    static const char *const bad_names[] = {
        "{}", "{\"name\":\"\"}", "{\"name\":7}", "{\"name\":\"tab\\there\"}",
        "{\"name\":\"   \"}",
        "{\"name\":\"12345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901\"}",
    };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        ck_assert_int_eq(harness_put(&n, HARNESS_CLIENT, "/v1/client/name", bad_names[i], &r), 0);
        expect_error(&r, 400, "bad_request");
    }
    /* the route's own cap (4 KiB) is below the server's */
    char big[5000];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = '{';
    big[sizeof big - 2] = '}';
    ck_assert_int_eq(harness_put(&n, HARNESS_CLIENT, "/v1/client/name", big, &r), 0);
    expect_error(&r, 413, "too_large");
    /* none of that changed the name */
    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, "/v1/node", &r), 0);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "test");
    harness_resp_free(&r);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

START_TEST(rename_is_remembered_unless_flag_given)
{
    harness_node n;
    harness_resp r;
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    ck_assert_int_eq(harness_put(&n, HARNESS_CLIENT, "/v1/client/name", "{\"name\":\"Zoë's laptop\"}", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "Zoë's laptop");
    harness_resp_free(&r);
    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, "/v1/node", &r), 0);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "Zoë's laptop");
    harness_resp_free(&r);
    ck_assert_int_eq(harness_stop(&n), 0);
    /* an explicit --name wins for that run */
    ck_assert_int_eq(harness_restart(&n, NULL), 0);
    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, "/v1/node", &r), 0);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "test");
    harness_resp_free(&r);
    ck_assert_int_eq(harness_stop(&n), 0);
    /* without --name the stored one is back */
    const char *noname[] = {"--data-dir", n.data_dir, "--listen", "127.0.0.1:0", "--client-listen", "127.0.0.1:0",
                            "--no-discovery", NULL}; /* no multicast from tests */
    harness_node m = n;
    m.name[0] = '\0';
    ck_assert_int_eq(harness_restart_args(&m, noname), 0);
    ck_assert_int_eq(harness_get(&m, HARNESS_PEER, "/v1/node", &r), 0);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "Zoë's laptop");
    harness_resp_free(&r);
    ck_assert_int_eq(harness_stop(&m), 0);
    harness_cleanup(&m);
}
END_TEST

START_TEST(busy_when_over_connection_limit)
{
    harness_node n;
    harness_resp r;
    const char *args[] = {"--max-connections", "1", NULL};
    ck_assert_int_eq(harness_start(&n, NULL, args), 0);
    /* one idle connection fills the limit */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(n.peer_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, "/v1/health", &r), 0);
    expect_error(&r, 503, "busy");
    close(fd);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

typedef struct {
    harness_node *n;
    harness_resp r;
    int rc;
} poller;

static void *long_poll(void *arg)
{
    poller *p = arg;
    p->rc = harness_get(p->n, HARNESS_CLIENT, "/v1/client/events?since=now&wait=30", &p->r);
    return NULL;
}

/* The long poll and our own status request are both being answered (an
 * open connection is not enough: its request may not have been read yet,
 * and a stop does not wait for those). */
static bool poll_in_flight(void *arg)
{
    harness_resp r;
    bool ok = false;
    if (harness_get(arg, HARNESS_CLIENT, "/v1/client/status", &r) == 0) {
        json_t *c = json_object_get(json_object_get(json_object_get(r.json, "listeners"), "client"), "in_flight");
        ok = json_integer_value(c) >= 2;
    }
    harness_resp_free(&r);
    return ok;
}

START_TEST(sigterm_finishes_requests_in_flight)
{
    harness_node n;
    poller p = {.n = &n};
    pthread_t t;
    struct timespec t0, t1;
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, long_poll, &p), 0);
    ck_assert(harness_wait(poll_in_flight, &n, 10000));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(harness_stop(&n), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(t, NULL);
    /* the waiting request got its answer, well before its 30 s */
    ck_assert_int_eq(p.rc, 0);
    ck_assert_int_eq(p.r.status, 200);
    ck_assert(json_is_array(json_object_get(p.r.json, "events")));
    ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 10);
    harness_resp_free(&p.r);
    harness_cleanup(&n);
}
END_TEST

START_TEST(defaults_from_home_and_environment)
{
    /* no flags at all: data dir from $HOME, listeners from NATTER_* */
    harness_node n;
    char home[PATH_MAX];
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    ck_assert_int_eq(harness_stop(&n), 0);
    snprintf(home, sizeof home, "%.3000s/home", n.dir);
    ck_assert_int_eq(mkdir(home, 0700), 0);
    setenv("HOME", home, 1);
    unsetenv("XDG_DATA_HOME");
    setenv("NATTER_LISTEN", "127.0.0.1:0", 1);
    setenv("NATTER_CLIENT_LISTEN", "127.0.0.1:0", 1);
    setenv("NATTER_KEY_BITS", "2048", 1);
    setenv("NATTER_NO_DISCOVERY", "on", 1);
    snprintf(n.data_dir, sizeof n.data_dir, "%.3000s/.local/share/natter", home);
    const char *none[] = {NULL};
    ck_assert_int_eq(harness_restart_args(&n, none), 0);
    ck_assert_uint_eq(mode_of(n.data_dir, ""), 0700);
    ck_assert_uint_eq(mode_of(n.data_dir, "identity.pem"), 0600);
    harness_resp r;
    ck_assert_int_eq(harness_get(&n, HARNESS_PEER, "/v1/node", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "key_bits")), 2048);
    harness_resp_free(&r);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

/* Bad listen addresses end the run with status 2 before any key is made. */
START_TEST(bad_listen_refused_before_key_generation)
{
    harness_node n;
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    ck_assert_int_eq(harness_stop(&n), 0);
    char fresh[PATH_MAX + 16], err[4096];
    snprintf(fresh, sizeof fresh, "%s/fresh", n.dir);
    static const char *const bad[][2] = {{"nonsense", "127.0.0.1:0"},
                                         {"127.0.0.1:99999", "127.0.0.1:0"},
                                         {"127.0.0.1:0", "127.0.0.1:65536"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *args[] = {"--data-dir", fresh, "--listen", bad[i][0], "--client-listen", bad[i][1], NULL};
        int st = harness_run(args, REFUSE_TIMEOUT_MS, err, sizeof err);
        ck_assert_msg(st == 2, "case %zu: want exit 2, got %d: %s", i, st, err);
        ck_assert_msg(strstr(err, "listen"), "case %zu: the message names the option: %s", i, err);
        ck_assert_uint_eq(mode_of(fresh, "identity.pem"), 0xFFFF); /* no key generated */
    }
    harness_cleanup(&n);
}
END_TEST

/* --key-bits only sizes a new identity; on an existing one it is ignored
 * and says so. */
START_TEST(key_bits_on_existing_identity_warns)
{
    harness_node n;
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    ck_assert_int_eq(harness_stop(&n), 0);
    const char *extra[] = {"--key-bits", "4096", NULL};
    ck_assert_int_eq(harness_restart(&n, extra), 0);
    ck_assert_int_eq(harness_stop(&n), 0);
    char log[65536];
    FILE *f = fopen(n.log_path, "r");
    ck_assert_ptr_nonnull(f);
    size_t len = fread(log, 1, sizeof log - 1, f);
    fclose(f);
    log[len] = '\0';
    ck_assert_msg(strstr(log, "--key-bits 4096 ignored"), "no warning in the log: %s", log);
    harness_cleanup(&n);
}
END_TEST

START_TEST(sigint_exits_zero)
{
    harness_node n;
    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    kill(n.pid, SIGINT);
    /* harness_stop sends SIGTERM too; either signal must give 0 */
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("node");
    TCase *tc = tcase_create("node");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, first_start_files_and_modes);
    tcase_add_test(tc, restart_keeps_identity_and_token);
    tcase_add_test(tc, second_instance_refused);
    tcase_add_test(tc, port_in_use_refused);
    tcase_add_test(tc, bad_permissions_refused);
    tcase_add_test(tc, corrupt_and_foreign_key_refused);
    tcase_add_test(tc, newer_schema_refused);
    tcase_add_test(tc, error_statuses_have_json_bodies);
    tcase_add_test(tc, bad_json_and_route_body_cap);
    tcase_add_test(tc, rename_is_remembered_unless_flag_given);
    tcase_add_test(tc, busy_when_over_connection_limit);
    tcase_add_test(tc, sigterm_finishes_requests_in_flight);
    tcase_add_test(tc, defaults_from_home_and_environment);
    tcase_add_test(tc, sigint_exits_zero);
    tcase_add_test(tc, bad_listen_refused_before_key_generation);
    tcase_add_test(tc, key_bits_on_existing_identity_warns);
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
