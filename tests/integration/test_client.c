/* Integration: the one-shot `natter` commands against a real natterd.
 * Each command's --json output is checked against the client API's own
 * answer to the same question, and each error case against its exit code
 * (0 ok, 1 node error, 2 usage, 3 unreachable, 4 auth, 5 not found). */
#include <arpa/inet.h>
#include <limits.h>
#include <stdatomic.h>
#include <check.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_natter.h"
#include "tests/test_main.h"

#define WAIT_MS 15000

static harness_node a;
static const char *const quiet[] = {"--no-discovery", NULL}; /* only the peers we add */

static void setup(void)
{
    ck_assert_int_eq(harness_start(&a, "alice", quiet), 0);
}

static void teardown(void)
{
    harness_cleanup(&a);
}

#define RUN(o, ...) ck_assert_int_eq(natter_run(&a, NULL, (o), __VA_ARGS__, NULL), 0)

static void expect(const natter_out *o, int status, const char *in_err)
{
    natter_expect(o, status, NULL, in_err);
}

/* Make a room through natter; returns its id (static). */
static const char *create(const char *name, const char *access)
{
    static char id[64];
    natter_out o;
    RUN(&o, "create", name, "--access", access, "--json");
    expect(&o, 0, NULL);
    ck_assert_ptr_nonnull(o.json);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(o.json, "id")));
    ck_assert_uint_eq(strlen(id), 32);
    natter_out_free(&o);
    return id;
}

START_TEST(status_matches_api)
{
    natter_out o;
    RUN(&o, "status", "--json");
    expect(&o, 0, NULL);
    json_t *api = natter_api_get(&a, "/v1/client/status");
    ck_assert_ptr_nonnull(o.json);
    static const char *const same[] = {"node_id", "name", "fingerprint", "version", "started_at"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        ck_assert_msg(json_equal(json_object_get(o.json, same[i]), json_object_get(api, same[i])),
                      "field %s differs", same[i]);
    ck_assert(json_equal(json_object_get(o.json, "listeners") ? json_object_get(json_object_get(
                             json_object_get(o.json, "listeners"), "client"), "address") : NULL,
                         json_object_get(json_object_get(json_object_get(api, "listeners"), "client"),
                                         "address")));
    ck_assert_str_eq(json_string_value(json_object_get(o.json, "node_id")), a.node_id);
    json_decref(api);
    natter_out_free(&o);

    RUN(&o, "status");
    expect(&o, 0, NULL);
    ck_assert_ptr_nonnull(strstr(o.out, a.node_id));
    ck_assert_ptr_nonnull(strstr(o.out, "alice"));
    natter_out_free(&o);
}
END_TEST

START_TEST(token_and_url_sources)
{
    natter_out o;
    RUN(&o, "token");
    expect(&o, 0, NULL);
    ck_assert_str_eq(strtok(o.out, "\n"), a.token);
    natter_out_free(&o);
    RUN(&o, "token", "--json");
    ck_assert_str_eq(json_string_value(json_object_get(o.json, "token")), a.token);
    ck_assert_str_eq(json_string_value(json_object_get(o.json, "url")), a.client_url);
    natter_out_free(&o);
    /* --url and --token instead of the data dir */
    ck_assert_int_eq(natter_run(NULL, NULL, &o, "--url", a.client_url, "--token", a.token, "status",
                                "--json", NULL), 0);
    expect(&o, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(o.json, "node_id")), a.node_id);
    natter_out_free(&o);
}
END_TEST

START_TEST(node_down_is_exit_3)
{
    char url[128];
    snprintf(url, sizeof url, "%s", a.client_url);
    ck_assert_int_eq(harness_stop(&a), 0);
    natter_out o;
    static const char *const cmds[][3] = {{"status", NULL, NULL}, {"rooms", NULL, NULL},
                                          {"send", "r", "hi"}, {"tail", "r", NULL}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        /* --url: the stopped node took its port file along, and the default
         * port may belong to another node on this machine */
        ck_assert_int_eq(natter_run(&a, NULL, &o, "--url", url, cmds[i][0], cmds[i][1], cmds[i][2],
                                    NULL), 0);
        expect(&o, 3, "natterd is not running at");
        ck_assert_ptr_nonnull(strstr(o.err, url));
        natter_out_free(&o);
    }
}
END_TEST

/* natterd stopped without removing natterd.json (a crash), and something
 * else now listens where it names: natter must not hand that listener the
 * token, whatever it answers, and must say the node is not running. */
static void stale_runfile_to(const harness_node *n, uint16_t port)
{
    char path[PATH_MAX + 32], text[512];
    snprintf(path, sizeof path, "%s/natterd.json", n->data_dir);
    snprintf(text, sizeof text, "{\"pid\":1,\"peer\":\"127.0.0.1:1\",\"client\":\"127.0.0.1:%u\","
             "\"node_id\":\"%s\"}", (unsigned)port, n->node_id);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(token_only_to_our_node)
{
    char forged[512];
    /* a plain status-like answer, and one shaped like a hello with a made-up proof */
    snprintf(forged, sizeof forged, "{\"node_id\":\"%s\",\"name\":\"alice\",\"proof\":\"%064d\","
             "\"rooms\":[],\"messages\":[]}", a.node_id, 0);
    ck_assert_int_eq(harness_stop(&a), 0);
    static const char *const cmds[][3] = {{"status", NULL, NULL}, {"rooms", NULL, NULL},
                                          {"send", "r", "hi"}, {"tail", "r", NULL}};
    fake_http f;
    ck_assert_int_eq(fake_http_start(&f, forged), 0);
    stale_runfile_to(&a, f.port);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        natter_out o;
        RUN(&o, cmds[i][0], cmds[i][1], cmds[i][2]);
        expect(&o, 3, "natterd is not running (data dir");
        ck_assert_ptr_nonnull(strstr(o.err, a.data_dir));
        natter_out_free(&o);
    }
    int asked = atomic_load(&f.requests), leaked = atomic_load(&f.saw_auth);
    fake_http_stop(&f);
    ck_assert_msg(asked > 0, "natter never asked the listener"); /* the test tested something */
    ck_assert_msg(!leaked, "the listener named by a stale natterd.json got the API token");
}
END_TEST

/* A node that accepts connections but never answers: a bounded wait and
 * exit 3, never a hang. */
START_TEST(silent_node_times_out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 8), 0); /* the kernel accepts; nobody reads */
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    natter_out o;
    ck_assert_int_eq(natter_run(NULL, NULL, &o, "--url", url, "--token", "x", "status", NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    expect(&o, 3, "did not answer in time");
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(s >= 5 && s < 15, "gave up after %.1f s", s); /* the 10 s bound */
    natter_out_free(&o);
    close(fd);
}
END_TEST

START_TEST(bad_token_is_exit_4)
{
    natter_out o;
    RUN(&o, "--token", "0000000000000000000000000000000000000000000000000000000000000000", "status");
    expect(&o, 4, "did not prove it holds the API token");
    natter_out_free(&o);
    RUN(&o, "--token", "0000", "rooms", "--json");
    expect(&o, 4, NULL);
    ck_assert_str_eq(o.out, "");
    natter_out_free(&o);
    /* a data dir with no token: natterd never ran there */
    ck_assert_int_eq(natter_run(NULL, NULL, &o, "--data-dir", "/nonexistent/natter", "status", NULL), 0);
    expect(&o, 4, "cannot read the API token");
    natter_out_free(&o);
}
END_TEST

START_TEST(usage_is_exit_2)
{
    static const char *const bad[][3] = {{"frobnicate", NULL, NULL}, {"add", NULL, NULL},
                                         {"invite", "r", NULL},      {"--bogus", NULL, NULL},
                                         {"tail", "r", "-n"},        {"status", "--access", "open"}};
    natter_out o;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(natter_run(&a, NULL, &o, bad[i][0], bad[i][1], bad[i][2], NULL), 0);
        ck_assert_msg(o.status == 2, "%s: exit %d", bad[i][0], o.status);
        ck_assert_msg(strncmp(o.err, "natter: ", 8) == 0, "%s: stderr %s", bad[i][0], o.err);
        natter_out_free(&o);
    }
    RUN(&o, "--help");
    expect(&o, 0, NULL);
    ck_assert_ptr_nonnull(strstr(o.out, "Exit status"));
    ck_assert_ptr_nonnull(strstr(o.out, "tail"));
    natter_out_free(&o);
    RUN(&o, "send", "--help");
    expect(&o, 0, NULL);
    ck_assert_ptr_nonnull(strstr(o.out, "Usage: natter send"));
    natter_out_free(&o);
    /* the full-screen mode refuses a non-terminal rather than garbling it */
    ck_assert_int_eq(natter_run(&a, NULL, &o, NULL), 0);
    expect(&o, 2, "needs a terminal");
    natter_out_free(&o);
}
END_TEST

START_TEST(rooms_create_and_list_match_api)
{
    const char *id = create("general", "open");
    char path[128];
    snprintf(path, sizeof path, "/v1/client/rooms/%s", id);
    json_t *room = natter_api_get(&a, path);
    ck_assert_str_eq(json_string_value(json_object_get(room, "name")), "general");
    ck_assert_str_eq(json_string_value(json_object_get(room, "access")), "open");
    ck_assert_str_eq(json_string_value(json_object_get(room, "host")), a.node_id);
    json_decref(room);

    natter_out o;
    RUN(&o, "create", "secret", "--password", "hunter2", "--json");
    expect(&o, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(o.json, "access")), "password");
    natter_out_free(&o);

    RUN(&o, "rooms", "--json");
    expect(&o, 0, NULL);
    json_t *api = natter_api_get(&a, "/v1/client/rooms");
    ck_assert_msg(json_equal(o.json, api), "natter rooms --json differs from the API: %s", o.out);
    ck_assert_uint_eq(json_array_size(json_object_get(api, "rooms")), 2);
    json_decref(api);
    natter_out_free(&o);

    RUN(&o, "rooms");
    expect(&o, 0, NULL);
    ck_assert_ptr_nonnull(strstr(o.out, "general"));
    ck_assert_ptr_nonnull(strstr(o.out, "secret"));
    natter_out_free(&o);
}
END_TEST

START_TEST(send_tail_rekey_match_api)
{
    const char *id = create("general", "invite");
    char rid[64], path[160];
    snprintf(rid, sizeof rid, "%s", id);
    natter_out o;
    RUN(&o, "send", "gen", "hello, wörld", "--json"); /* unique prefix */
    expect(&o, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(o.json, "state")), "sent");
    ck_assert_int_eq(json_integer_value(json_object_get(o.json, "seq")), 1);
    natter_out_free(&o);
    ck_assert_int_eq(natter_run(&a, "from stdin\n", &o, "send", rid, NULL), 0); /* by id */
    expect(&o, 0, NULL);
    ck_assert_str_eq(o.out, "sent (seq 2)\n");
    natter_out_free(&o);
    RUN(&o, "send", "general", "--", "-starts with a dash");
    expect(&o, 0, NULL);
    natter_out_free(&o);

    RUN(&o, "tail", "general", "--json");
    expect(&o, 0, NULL);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?limit=20", rid);
    json_t *api = natter_api_get(&a, path);
    ck_assert_msg(json_equal(o.json, api), "tail --json differs: %s", o.out);
    ck_assert_uint_eq(json_array_size(json_object_get(api, "messages")), 3);
    json_decref(api);
    natter_out_free(&o);

    RUN(&o, "tail", "general", "-n", "2");
    expect(&o, 0, NULL);
    ck_assert_ptr_null(strstr(o.out, "wörld")); /* only the last two */
    ck_assert_ptr_nonnull(strstr(o.out, "<alice> from stdin"));
    ck_assert_ptr_nonnull(strstr(o.out, "<alice> -starts with a dash"));
    natter_out_free(&o);

    RUN(&o, "rekey", "general", "--json");
    expect(&o, 0, NULL);
    snprintf(path, sizeof path, "/v1/client/rooms/%s", rid);
    api = natter_api_get(&a, path);
    ck_assert_int_eq(json_integer_value(json_object_get(o.json, "epoch")), 2);
    ck_assert(json_equal(json_object_get(o.json, "epoch"), json_object_get(api, "epoch")));
    json_decref(api);
    natter_out_free(&o);
    RUN(&o, "rekey", "general");
    expect(&o, 0, NULL);
    ck_assert_str_eq(o.out, "new key for general (epoch 3)\n");
    natter_out_free(&o);
}
END_TEST

START_TEST(unknown_or_ambiguous_room_is_exit_5)
{
    create("alpha1", "invite");
    create("alpha2", "invite");
    natter_out o;
    static const char *const cmds[][3] = {{"send", "nope", "hi"}, {"tail", "nope", NULL},
                                          {"rekey", "nope", NULL}, {"invite", "nope", "bob"},
                                          {"join", "nope", NULL}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        ck_assert_int_eq(natter_run(&a, NULL, &o, cmds[i][0], cmds[i][1], cmds[i][2], NULL), 0);
        expect(&o, 5, "no room called \"nope\"");
        natter_out_free(&o);
    }
    RUN(&o, "send", "alpha", "hi");
    expect(&o, 5, "fits 2 rooms");
    natter_out_free(&o);
    RUN(&o, "send", "alpha2", "hi");
    expect(&o, 0, NULL);
    natter_out_free(&o);
}
END_TEST

START_TEST(node_error_is_exit_1)
{
    char longname[200];
    memset(longname, 'x', 150);
    longname[150] = '\0';
    natter_out o;
    RUN(&o, "create", longname);
    expect(&o, 1, "over 100 bytes"); /* the node's own message */
    natter_out_free(&o);
    char big[17 * 1024];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    create("general", "invite");
    ck_assert_int_eq(natter_run(&a, big, &o, "send", "general", NULL), 0);
    expect(&o, 2, "over 16 KiB"); /* caught before the node sees it */
    natter_out_free(&o);
}
END_TEST

/* A new room with one message, and `tail ROOM -f` following it (having
 * printed that message); its id into rid. */
static void follow_new_room(const char *name, natter_proc *p, char rid[static 64])
{
    snprintf(rid, 64, "%s", create(name, "invite"));
    natter_out o;
    RUN(&o, "send", name, "first");
    natter_out_free(&o);
    ck_assert_int_eq(natter_spawn(&a, p, "tail", name, "-f", NULL), 0);
    ck_assert(natter_wait_output(p, "<alice> first", WAIT_MS));
}

/* A message from a's own user straight through the client API. */
static void put_text(const char *rid, const char *txn, const char *json_body)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/%s", rid, txn);
    harness_resp r;
    ck_assert_int_eq(harness_put(&a, HARNESS_CLIENT, path, json_body, &r), 0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
}

START_TEST(tail_follow_prints_new_messages)
{
    char rid[64];
    natter_proc p;
    follow_new_room("live", &p, rid);
    put_text(rid, "t-follow-1", "{\"text\":\"after\"}");
    ck_assert(natter_wait_output(&p, "<alice> after", WAIT_MS));
    natter_stop(&p);
}
END_TEST

/* tail -f outlives a restart of its node (on new ports: the client reads
 * natterd.json again) and prints what was sent once the node is back. */
START_TEST(tail_follow_waits_out_a_node_restart)
{
    char rid[64];
    natter_proc p;
    follow_new_room("steady", &p, rid);
    ck_assert_int_eq(harness_stop(&a), 0);
    ck_assert(natter_wait_stderr(&p, "waiting for it to come back", WAIT_MS));
    ck_assert_int_eq(harness_restart(&a, quiet), 0);
    put_text(rid, "t-restart-1", "{\"text\":\"after the restart\"}");
    ck_assert(natter_wait_output(&p, "<alice> after the restart", WAIT_MS));
    ck_assert(natter_wait_stderr(&p, "back on", WAIT_MS));
    ck_assert_int_eq(kill(p.pid, 0), 0); /* still following */
    natter_stop(&p);
}
END_TEST

/* A room with a hostile name made through the API: an OSC 52 clipboard
 * write if the node takes it, else a right-to-left override; its id. */
static const char *hostile_room(void)
{
    static char id[64];
    static const char *const names[] = {"\\u202egen\\u001b]52;c;aGVsbG8=\\u0007",
                                        "\\u202egen\\u2066x"};
    for (size_t i = 0; i < 2; i++) {
        char body[256];
        harness_resp r;
        snprintf(body, sizeof body, "{\"name\":\"%s\",\"access\":\"invite\"}", names[i]);
        ck_assert_int_eq(harness_post(&a, HARNESS_CLIENT, "/v1/client/rooms", body, &r), 0);
        if (r.status == 200 || r.status == 201) {
            snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "id")));
            harness_resp_free(&r);
            return id;
        }
        harness_resp_free(&r);
    }
    ck_abort_msg("the node took neither hostile room name");
    return NULL;
}

/* Nothing in what natter printed can drive the terminal: no ESC, no C1
 * CSI/OSC, no bidi override. */
static void assert_inert(const natter_out *o)
{
    const char *const bad[] = {"\x1b", "\x07", "\xc2\x9b", "\xc2\x9d", "\xe2\x80\xae", "\xe2\x81\xa6"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(!strstr(o->out, bad[i]), "stdout holds raw control %zu: %s", i, o->out);
        ck_assert_msg(!strstr(o->err, bad[i]), "stderr holds raw control %zu: %s", i, o->err);
    }
}

START_TEST(hostile_text_is_escaped)
{
    char rid[64];
    snprintf(rid, sizeof rid, "%s", hostile_room());
    put_text(rid, "t-hostile-1", "{\"text\":\"hi\\u001b]52;c;cm0gLXJmIH4=\\u0007\\u001b[2J\\u202eevil\"}");
    natter_out o;
    RUN(&o, "rooms");
    expect(&o, 0, NULL);
    assert_inert(&o);
    ck_assert_ptr_nonnull(strstr(o.out, "<U+202E>gen"));
    natter_out_free(&o);
    RUN(&o, "tail", rid);
    expect(&o, 0, NULL);
    assert_inert(&o);
    ck_assert_ptr_nonnull(strstr(o.out, "hi^[]52;c;cm0gLXJmIH4=^G^[[2J<U+202E>evil"));
    natter_out_free(&o);
    RUN(&o, "send", rid, "x\x1b[31mred");
    expect(&o, 0, NULL);
    natter_out_free(&o);
    /* --json keeps the exact text */
    RUN(&o, "tail", rid, "--json");
    expect(&o, 0, NULL);
    json_t *l = json_object_get(o.json, "messages");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(l, 0), "text")),
                     "hi\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\xe2\x80\xae" "evil");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(l, 1), "text")), "x\x1b[31mred");
    natter_out_free(&o);
}
END_TEST

/* ---- two nodes: peers and rooms across them -------------------------------- */

static harness_node b;

static void setup2(void)
{
    ck_assert_int_eq(harness_start(&a, "alice", quiet), 0);
    ck_assert_int_eq(harness_start(&b, "bob", quiet), 0);
}

static void teardown2(void)
{
    harness_cleanup(&a);
    harness_cleanup(&b);
}

/* The peer entry for id in n's peer list, or NULL (new reference). */
static json_t *peer_on(const harness_node *n, const char *id)
{
    json_t *l = natter_api_get(n, "/v1/client/peers");
    json_t *hit = json_incref(harness_json_find(l, "peers", "id", id));
    json_decref(l);
    return hit;
}

typedef struct {
    const harness_node *n;
    const char *room;
    const char *state;
} room_state_arg;

static bool room_in_state(void *arg)
{
    room_state_arg *x = arg;
    json_t *l = natter_api_get(x->n, "/v1/client/rooms"), *r;
    size_t i;
    bool hit = false;
    json_array_foreach(json_object_get(l, "rooms"), i, r)
        hit |= !strcmp(json_string_value(json_object_get(r, "id")), x->room) &&
               !strcmp(json_string_value(json_object_get(r, "state")), x->state);
    json_decref(l);
    return hit;
}

START_TEST(peers_add_connect_trust)
{
    natter_out o;
    RUN(&o, "add", b.peer, "--json");
    expect(&o, 0, NULL);
    json_t *api = peer_on(&a, b.node_id);
    ck_assert_ptr_nonnull(api);
    ck_assert_str_eq(json_string_value(json_object_get(o.json, "id")), b.node_id);
    ck_assert(json_equal(json_object_get(o.json, "fingerprint"), json_object_get(api, "fingerprint")));
    ck_assert(json_equal(json_object_get(o.json, "name"), json_object_get(api, "name")));
    json_decref(api);
    natter_out_free(&o);

    RUN(&o, "peers", "--json");
    expect(&o, 0, NULL);
    json_t *l = natter_api_get(&a, "/v1/client/peers");
    json_t *mine = json_object_get(o.json, "peers"), *theirs = json_object_get(l, "peers");
    ck_assert_uint_eq(json_array_size(mine), 1);
    ck_assert_uint_eq(json_array_size(theirs), 1);
    static const char *const same[] = {"id", "name", "fingerprint", "trusted", "address"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        ck_assert_msg(json_equal(json_object_get(json_array_get(mine, 0), same[i]),
                                 json_object_get(json_array_get(theirs, 0), same[i])),
                      "peers field %s differs", same[i]);
    json_decref(l);
    natter_out_free(&o);
    char label[96], line[128];
    snprintf(label, sizeof label, "bob~%.8s", b.node_id); /* not trusted yet: the id shows */
    RUN(&o, "peers");
    ck_assert_ptr_nonnull(strstr(o.out, label));
    ck_assert_ptr_nonnull(strstr(o.out, "untrusted"));
    natter_out_free(&o);

    RUN(&o, "connect", "bo"); /* unique prefix */
    expect(&o, 0, NULL);
    snprintf(line, sizeof line, "session up with %s\n", label);
    ck_assert_str_eq(o.out, line);
    natter_out_free(&o);
    json_t *p = peer_on(&a, b.node_id);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "session"), "state")),
                     "established");
    json_decref(p);

    RUN(&o, "trust", b.node_id, "--json"); /* by id */
    expect(&o, 0, NULL);
    natter_out_free(&o);
    p = peer_on(&a, b.node_id);
    ck_assert(json_is_true(json_object_get(p, "trusted")));
    json_decref(p);
    RUN(&o, "peers"); /* trusted, and the only bob: the plain name */
    ck_assert_ptr_null(strstr(o.out, label));
    ck_assert_ptr_nonnull(strstr(o.out, "bob "));
    ck_assert_ptr_nonnull(strstr(o.out, " trusted "));
    natter_out_free(&o);

    RUN(&o, "connect", "nobody");
    expect(&o, 5, "no peer called \"nobody\"");
    natter_out_free(&o);
    RUN(&o, "add", "127.0.0.1:1");
    ck_assert_msg(o.status == 1 || o.status == 3, "add to a closed port: %d", o.status);
    ck_assert(o.err[0]);
    natter_out_free(&o);
}
END_TEST

/* Every time in a client API answer is an integer of ms since the Unix epoch. */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void assert_ms(const json_t *o, const char *k, int64_t lo, int64_t hi)
{
    const json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", k);
    ck_assert_msg(json_integer_value(v) >= lo && json_integer_value(v) <= hi, "%s = %lld not in [%lld, %lld]", k,
                  (long long)json_integer_value(v), (long long)lo, (long long)hi);
}

START_TEST(times_are_ms_since_epoch)
{
    natter_out o;
    RUN(&o, "add", b.peer);
    expect(&o, 0, NULL);
    natter_out_free(&o);
    RUN(&o, "connect", b.node_id);
    expect(&o, 0, NULL);
    natter_out_free(&o);
    int64_t now = now_ms(), hour = 3600 * 1000;
    json_t *st = natter_api_get(&a, "/v1/client/status");
    assert_ms(st, "started_at", now - hour, now + 1000);
    json_decref(st);
    json_t *p = peer_on(&a, b.node_id);
    assert_ms(p, "last_seen", now - hour, now + 1000);
    assert_ms(p, "first_seen", now - hour, now + 1000);
    json_t *ss = json_object_get(p, "session");
    assert_ms(ss, "established", now - hour, now + 1000);
    assert_ms(ss, "last_ok", now - hour, now + 1000);
    assert_ms(ss, "expires_at", now, now + 400 * 24 * hour);
    assert_ms(ss, "idle_expires_at", now, now + 400 * 24 * hour);
    json_decref(p);
}
END_TEST

START_TEST(invite_join_and_talk)
{
    natter_out o;
    RUN(&o, "add", b.peer);
    expect(&o, 0, NULL);
    natter_out_free(&o);
    ck_assert_int_eq(natter_run(&b, NULL, &o, "add", a.peer, NULL), 0);
    expect(&o, 0, NULL);
    natter_out_free(&o);
    char rid[64];
    snprintf(rid, sizeof rid, "%s", create("general", "invite"));
    RUN(&o, "invite", "general", "bob", "--json");
    expect(&o, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(o.json, "peer")), b.node_id);
    natter_out_free(&o);

    room_state_arg inv = {&b, rid, "invited"};
    ck_assert_msg(harness_wait(room_in_state, &inv, WAIT_MS), "the invitation never reached bob");
    ck_assert_int_eq(natter_run(&b, NULL, &o, "join", "general", "--json", NULL), 0);
    expect(&o, 0, NULL);
    char path[160];
    snprintf(path, sizeof path, "/v1/client/rooms/%s", rid);
    json_t *api = natter_api_get(&b, path);
    ck_assert_str_eq(json_string_value(json_object_get(o.json, "state")), "joined");
    ck_assert(json_equal(json_object_get(o.json, "state"), json_object_get(api, "state")));
    ck_assert(json_equal(json_object_get(o.json, "host"), json_object_get(api, "host")));
    json_decref(api);
    natter_out_free(&o);

    ck_assert_int_eq(natter_run(&b, NULL, &o, "send", "general", "hi from bob", NULL), 0);
    expect(&o, 0, NULL);
    natter_out_free(&o);
    RUN(&o, "send", "general", "hi from alice");
    expect(&o, 0, NULL);
    natter_out_free(&o);
    natter_proc p;
    char from_alice[128];
    /* alice is not trusted on bob's node: marked, and named with her id */
    snprintf(from_alice, sizeof from_alice, "<?alice~%.8s> hi from alice", a.node_id);
    ck_assert_int_eq(natter_spawn(&b, &p, "tail", "general", "-f", NULL), 0);
    ck_assert(natter_wait_output(&p, "<bob> hi from bob", WAIT_MS));
    ck_assert(natter_wait_output(&p, from_alice, WAIT_MS));
    RUN(&o, "send", "general", "live to bob");
    natter_out_free(&o);
    snprintf(from_alice, sizeof from_alice, "<?alice~%.8s> live to bob", a.node_id);
    ck_assert(natter_wait_output(&p, from_alice, WAIT_MS));
    natter_stop(&p);
    RUN(&o, "tail", "general");
    expect(&o, 0, NULL);
    snprintf(from_alice, sizeof from_alice, "<?bob~%.8s> hi from bob", b.node_id);
    ck_assert_ptr_nonnull(strstr(o.out, from_alice));
    natter_out_free(&o);

    /* only the host rekeys */
    ck_assert_int_eq(natter_run(&b, NULL, &o, "rekey", "general", NULL), 0);
    expect(&o, 1, NULL);
    natter_out_free(&o);
    /* an open room of a peer, found through --host */
    create("town", "open");
    ck_assert_int_eq(natter_run(&b, NULL, &o, "join", "town", "--host", "alice", "--json", NULL), 0);
    expect(&o, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(o.json, "state")), "joined");
    ck_assert_str_eq(json_string_value(json_object_get(o.json, "name")), "town");
    natter_out_free(&o);
    ck_assert_int_eq(natter_run(&b, NULL, &o, "rooms", NULL), 0);
    ck_assert_ptr_nonnull(strstr(o.out, "town"));
    ck_assert_ptr_nonnull(strstr(o.out, "alice")); /* hosts by name */
    natter_out_free(&o);
    /* a name the host does not have */
    ck_assert_int_eq(natter_run(&b, NULL, &o, "join", "nosuchroom", "--host", "alice", NULL), 0);
    expect(&o, 5, "nosuchroom");
    natter_out_free(&o);
}
END_TEST

static bool has_renamed_event(void *arg)
{
    json_t *l = natter_api_get(&a, "/v1/client/events?since=0&wait=0"), *e;
    size_t i;
    bool hit = false;
    json_array_foreach(json_object_get(l, "events"), i, e)
        hit |= json_is_string(json_object_get(e, "type")) &&
               !strcmp(json_string_value(json_object_get(e, "type")), "peer_renamed");
    json_decref(l);
    return hit;
}

/* bob renames himself; once alice's node learns it from signed data it
 * sends peer_renamed, and a running tail -f says so and names him anew.
 * A node that does not send the event (older) only shows the new name on
 * later lines; then there is nothing to check here. */
START_TEST(rename_shows_in_tail)
{
    natter_out o;
    RUN(&o, "add", b.peer);
    natter_out_free(&o);
    ck_assert_int_eq(natter_run(&b, NULL, &o, "add", a.peer, NULL), 0);
    natter_out_free(&o);
    char rid[64];
    snprintf(rid, sizeof rid, "%s", create("general", "open"));
    ck_assert_int_eq(natter_run(&b, NULL, &o, "join", "general", "--host", a.node_id, NULL), 0);
    expect(&o, 0, NULL);
    natter_out_free(&o);
    ck_assert_int_eq(natter_run(&b, NULL, &o, "send", "general", "first", NULL), 0);
    natter_out_free(&o);
    natter_proc p;
    ck_assert_int_eq(natter_spawn(&a, &p, "tail", "general", "-f", NULL), 0);
    ck_assert(natter_wait_output(&p, "> first", WAIT_MS)); /* following from here on */
    harness_resp r;
    ck_assert_int_eq(harness_put(&b, HARNESS_CLIENT, "/v1/client/name", "{\"name\":\"robert\"}", &r), 0);
    ck_assert_int_eq(r.status, 200);
    harness_resp_free(&r);
    RUN(&o, "connect", b.node_id); /* a new handshake carries the new name */
    natter_out_free(&o);
    ck_assert_int_eq(natter_run(&b, NULL, &o, "send", "general", "as robert", NULL), 0);
    natter_out_free(&o);
    char line[128];
    snprintf(line, sizeof line, "<?robert~%.8s> as robert", b.node_id);
    /* the old name as it was shown (bob is not trusted: with the id), not bare */
    char notice[160];
    snprintf(notice, sizeof notice, "-!- bob~%.8s is now known as robert~%.8s", b.node_id, b.node_id);
    if (harness_wait(has_renamed_event, NULL, WAIT_MS)) {
        ck_assert(natter_wait_output(&p, notice, WAIT_MS));
        ck_assert(natter_wait_output(&p, line, WAIT_MS));
    }
    natter_stop(&p);
}
END_TEST

/* A stranger who takes a trusted peer's name: PEER arguments fall to the
 * trusted one, two of a name are refused with their labels, and a label
 * names one exactly. */
START_TEST(same_name_trusted_first)
{
    harness_node c;
    ck_assert_int_eq(harness_start(&c, "bob", quiet), 0);
    char lb[64], lc[64], msg[160], typed[64];
    snprintf(lb, sizeof lb, "bob~%.8s", b.node_id);
    snprintf(typed, sizeof typed, "bob~%.4s", b.node_id); /* fewer digits than shown, as 4-digit labels were */
    snprintf(lc, sizeof lc, "bob~%.8s", c.node_id);
    natter_out o;
    RUN(&o, "add", b.peer);
    natter_out_free(&o);
    RUN(&o, "add", c.peer);
    expect(&o, 0, NULL);
    natter_out_free(&o);
    /* labels come from the peer rows, so they hold across a restart; the
     * restart also drops a statement that a node's same-name check could
     * leave open (it failed the writes after it) */
    ck_assert_int_eq(harness_stop(&a), 0);
    ck_assert_int_eq(harness_restart(&a, quiet), 0);
    create("general", "invite");
    RUN(&o, "invite", "general", "bob");
    expect(&o, 5, "fits 2 peers");
    ck_assert_msg(strstr(o.err, lb) && strstr(o.err, lc), "candidates not by label: %s", o.err);
    natter_out_free(&o);
    RUN(&o, "trust", typed);
    expect(&o, 0, NULL);
    natter_out_free(&o);
    RUN(&o, "peers");
    ck_assert_ptr_nonnull(strstr(o.out, lb)); /* trusted, but the name is shared: still the id */
    ck_assert_ptr_nonnull(strstr(o.out, lc));
    natter_out_free(&o);
    RUN(&o, "invite", "general", "bob", "--json");
    expect(&o, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(o.json, "peer")), b.node_id);
    natter_out_free(&o);
    RUN(&o, "invite", "general", lc);
    expect(&o, 0, NULL);
    snprintf(msg, sizeof msg, "invited %s (untrusted) to general", lc);
    ck_assert_ptr_nonnull(strstr(o.out, msg));
    natter_out_free(&o);
    harness_cleanup(&c);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("client");
    TCase *tc = tcase_create("oneshot");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, status_matches_api);
    tcase_add_test(tc, token_and_url_sources);
    tcase_add_test(tc, node_down_is_exit_3);
    tcase_add_test(tc, token_only_to_our_node);
    tcase_add_test(tc, bad_token_is_exit_4);
    tcase_add_test(tc, silent_node_times_out);
    tcase_add_test(tc, usage_is_exit_2);
    tcase_add_test(tc, rooms_create_and_list_match_api);
    tcase_add_test(tc, send_tail_rekey_match_api);
    tcase_add_test(tc, unknown_or_ambiguous_room_is_exit_5);
    tcase_add_test(tc, node_error_is_exit_1);
    tcase_add_test(tc, tail_follow_prints_new_messages);
    tcase_add_test(tc, tail_follow_waits_out_a_node_restart);
    tcase_add_test(tc, hostile_text_is_escaped);
    suite_add_tcase(s, tc);
    TCase *t2 = tcase_create("twonodes");
    tcase_add_checked_fixture(t2, setup2, teardown2);
    tcase_set_timeout(t2, 180);
    tcase_add_test(t2, peers_add_connect_trust);
    tcase_add_test(t2, times_are_ms_since_epoch);
    tcase_add_test(t2, invite_join_and_talk);
    tcase_add_test(t2, same_name_trusted_first);
    tcase_add_test(t2, rename_shows_in_tail);
    suite_add_tcase(s, t2);
    return s;
}
