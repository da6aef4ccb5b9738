/* Integration: the HTTP edges of a real natterd, on both listeners.
 *   - a NUL in the request target ("%00" or a raw byte) or a control byte
 *     in the path is refused with 400, never cut short (a txn id "a%00b"
 *     once stored txn "a"; "<id>%00/messages" reached another route);
 *   - a NUL hidden in Authorization is refused (401);
 *   - Allow lists exactly the methods of the path, sealed routes included;
 *   - unknown members, wrong types and values outside an enum in request
 *     bodies get 400 naming the member: client API bodies, and sealed
 *     bodies (sent by an in-process node, "mallory", over the real
 *     channel) where a join with "delivery": 12345 was taken;
 *   - requests with a malformed Content-Length get one answer (see
 *     expect_one_answer). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/encoding.h"
#include "harness.h"
#include "harness_mallory.h"
#include "rooms_util.h"
#include "server/core/node.h"
#include "tests/test_main.h"

#define RAW_MAX 16384
#define RAW_TIMEOUT_MS 10000

static harness_node A;
static mallory mal;
static char room[64];
static uint8_t a_id[IDENTITY_ID_LEN];

/* Send req[0..len) on a new connection to 127.0.0.1:port and read until
 * the server closes it (bounded); returns the bytes read, NUL-terminated. */
static size_t raw_exchange(uint16_t port, const char *req, size_t len, char out[static RAW_MAX])
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
    size_t got = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left = RAW_TIMEOUT_MS - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ck_assert_msg(left > 0 && poll(&p, 1, (int)left) == 1, "the server kept the connection open: %.*s",
                      (int)got, out);
        ssize_t n = recv(fd, out + got, RAW_MAX - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        ck_assert_uint_lt(got, RAW_MAX - 1);
    }
    close(fd);
    out[got] = '\0';
    return got;
}

static unsigned status_lines(const char *buf)
{
    unsigned n = 0;
    for (const char *p = buf; (p = strstr(p, "HTTP/1.")) != NULL; p++)
        n++;
    return n;
}

/* One request with Connection: close; returns the status of the single
 * response. */
static int raw_status(uint16_t port, const char *req, size_t len)
{
    char out[RAW_MAX];
    raw_exchange(port, req, len, out);
    ck_assert_msg(status_lines(out) == 1, "not one response: %s", out);
    int status = 0;
    ck_assert_int_eq(sscanf(out, "HTTP/1.%*d %d", &status), 1);
    return status;
}

static void expect_error(harness_resp *r, long status, const char *code, const char *msg_part)
{
    ck_assert_msg(r->status == status, "status %ld, want %ld: %s", r->status, status, r->body ? r->body : "");
    ck_assert_str_eq(harness_error_code(r), code);
    const char *msg = json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
    ck_assert_ptr_nonnull(msg);
    if (msg_part)
        ck_assert_msg(strstr(msg, msg_part), "message \"%s\" lacks \"%s\"", msg, msg_part);
    harness_resp_free(r);
}

static void setup(void)
{
    ck_assert_int_eq(harness_start(&A, "alice", NULL), 0);
    json_t *j = call(&A, "POST", "{\"name\":\"lobby\",\"access\":\"open\"}", 201, "/v1/client/rooms");
    snprintf(room, sizeof room, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
}

static void teardown(void)
{
    mallory_stop(&mal);
    harness_cleanup(&A);
}

START_TEST(nul_in_target_refused)
{
    harness_resp r;
    char path[256];
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/a%%00b", room);
    ck_assert_int_eq(harness_put(&A, HARNESS_CLIENT, path, "{\"text\":\"hi\"}", &r), 0);
    expect_error(&r, 400, "bad_request", "NUL");
    json_t *j = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s/messages", room);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "pending")), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "messages")), 0);
    json_decref(j);

    snprintf(path, sizeof path, "/v1/client/rooms/%s%%00/messages", room);
    ck_assert_int_eq(harness_get(&A, HARNESS_CLIENT, path, &r), 0);
    expect_error(&r, 400, "bad_request", NULL);
    ck_assert_int_eq(harness_get(&A, HARNESS_CLIENT, "/v1/client/events?since=0%00x", &r), 0);
    expect_error(&r, 400, "bad_request", NULL);
    ck_assert_int_eq(harness_get(&A, HARNESS_CLIENT, "/v1/client/status%0a", &r), 0);
    expect_error(&r, 400, "bad_request", NULL);
    ck_assert_int_eq(harness_get(&A, HARNESS_PEER, "/v1/node%00/x", &r), 0);
    expect_error(&r, 400, "bad_request", NULL);
    ck_assert_int_eq(harness_get(&A, HARNESS_PEER, "/v1/peer/ping%00", &r), 0);
    expect_error(&r, 400, "bad_request", NULL);
    /* a raw NUL byte in the request line */
    static const char raw[] = "GET /v1/node\0/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ck_assert_int_eq(raw_status(A.peer_port, raw, sizeof raw - 1), 400);
    static const char plain[] = "GET /v1/node HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ck_assert_int_eq(raw_status(A.peer_port, plain, sizeof plain - 1), 200);
}
END_TEST

START_TEST(nul_in_authorization_refused)
{
    char req[512];
    const char *tails[] = {"\0junk", "\0", "", "\x01"};
    const int want[] = {401, 200, 200, 401};
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        int n = snprintf(req, sizeof req, "GET /v1/client/status HTTP/1.1\r\nAuthorization: Bearer %s", A.token);
        size_t tl = i == 0 ? 5 : i == 1 ? 1 : strlen(tails[i]);
        memcpy(req + n, tails[i], tl);
        n += (int)tl;
        n += snprintf(req + n, sizeof req - (size_t)n, "\r\nHost: x\r\nConnection: close\r\n\r\n");
        ck_assert_msg(raw_status(A.client_port, req, (size_t)n) == want[i], "case %zu", i);
    }
}
END_TEST

static void expect_allow(harness_api api, const char *method, const char *path, const char *allow)
{
    harness_resp r;
    char hdr[128];
    ck_assert_int_eq(harness_call(&A, api, method, path, NULL, &r), 0);
    ck_assert_ptr_nonnull(harness_resp_header(&r, "Allow", hdr, sizeof hdr));
    ck_assert_msg(!strcmp(hdr, allow), "%s %s: Allow: %s, want %s", method, path, hdr, allow);
    expect_error(&r, 405, "method_not_allowed", NULL);
}

START_TEST(allow_is_exact)
{
    char path[256];
    expect_allow(HARNESS_PEER, "PATCH", "/v1/peer/ping", "POST");
    expect_allow(HARNESS_PEER, "GET", "/v1/peer/ping", "POST");
    expect_allow(HARNESS_PEER, "PATCH", "/v1/peer/rooms", "GET");
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/messages", room);
    expect_allow(HARNESS_PEER, "PATCH", path, "GET, POST");
    expect_allow(HARNESS_PEER, "DELETE", path, "GET, POST");
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/join", room);
    expect_allow(HARNESS_PEER, "PUT", path, "POST");
    expect_allow(HARNESS_PEER, "PATCH", "/v1/handshake", "POST");
    expect_allow(HARNESS_PEER, "PATCH", "/v1/node", "GET");
    expect_allow(HARNESS_CLIENT, "PATCH", "/v1/client/rooms", "GET, POST");
    expect_allow(HARNESS_CLIENT, "PATCH", "/v1/client/name", "PUT");
    snprintf(path, sizeof path, "/v1/client/peers/%s", A.node_id);
    expect_allow(HARNESS_CLIENT, "PATCH", path, "GET, DELETE");
    harness_resp r;
    ck_assert_int_eq(harness_call(&A, HARNESS_PEER, "PATCH", "/v1/peer/nope/x", NULL, &r), 0);
    expect_error(&r, 404, "not_found", NULL);
}
END_TEST

/* tmpl with its "%s" (if any) replaced by v. */
static void fill(char *out, size_t cap, const char *tmpl, const char *v)
{
    const char *at = strstr(tmpl, "%s");
    if (!at)
        snprintf(out, cap, "%s", tmpl);
    else
        snprintf(out, cap, "%.*s%s%s", (int)(at - tmpl), tmpl, v, at + 2);
}

START_TEST(unknown_fields_refused_client)
{
    static const struct {
        const char *method, *path, *body, *msg;
    } cases[] = {
        {"PUT", "/v1/client/name", "{\"name\":\"eve\",\"foo\":1}", "unknown field \"foo\""},
        {"POST", "/v1/client/rooms", "{\"name\":\"x\",\"acess\":\"open\"}", "unknown field \"acess\""},
        {"POST", "/v1/client/rooms", "{\"name\":\"x\",\"access\":\"secret\"}", "field \"access\" must be one of"},
        {"POST", "/v1/client/rooms", "{\"name\":\"x\",\"rotate_messages\":\"5\"}", "must be an integer"},
        {"POST", "/v1/client/rooms/%s/join", "{\"host\":\"%s\",\"delivery\":12345}", "field \"delivery\""},
        {"POST", "/v1/client/rooms/%s/delivery", "{\"mode\":\"push\",\"x\":true}", "unknown field \"x\""},
        {"POST", "/v1/client/rooms/%s/leave", "{\"now\":true}", "unknown field \"now\""},
        {"PUT", "/v1/client/rooms/%s/messages/t1", "{\"text\":\"hi\",\"sender\":\"bob\"}", "unknown field \"sender\""},
        {"POST", "/v1/client/rooms/%s/invite", "{\"peer\":\"%s\",\"role\":\"master\"}", "unknown field \"role\""},
        {"POST", "/v1/client/peers", "{\"address\":\"127.0.0.1:1\",\"trusted\":true}", "unknown field \"trusted\""},
        {"POST", "/v1/client/peers/%s/trust", "{\"trusted\":\"yes\"}", "field \"trusted\" must be true or false"},
        {"POST", "/v1/client/peers/%s/connect", "{\"mode\":\"dh\"}", "field \"mode\" must be one of"},
        {"PUT", "/v1/client/peers/%s/delivery", "{\"delivery\":\"push\",\"y\":1}", "unknown field \"y\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256], body[256];
        const char *id = strstr(cases[i].path, "peers/") ? A.node_id : room;
        fill(path, sizeof path, cases[i].path, id);
        fill(body, sizeof body, cases[i].body, A.node_id);
        harness_resp r;
        ck_assert_int_eq(harness_call(&A, HARNESS_CLIENT, cases[i].method, path, body, &r), 0);
        expect_error(&r, 400, "bad_request", cases[i].msg);
    }
    /* nothing changed */
    json_t *j = call(&A, "GET", NULL, 200, "/v1/client/status");
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "alice");
    json_decref(j);
    j = call(&A, "GET", NULL, 200, "/v1/client/rooms");
    ck_assert_uint_eq(json_array_size(json_object_get(j, "rooms")), 1);
    json_decref(j);
    j = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s/messages", room);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "pending")), 0);
    json_decref(j);
}
END_TEST

/* A sealed request from mallory to A; returns the status. */
static int mcall(const char *method, const char *path, json_t *req, json_t **reply)
{
    return mallory_call(&mal, a_id, method, path, req, reply, 10000);
}

static void expect_sealed_400(const char *path, json_t *req, const char *msg_part)
{
    json_t *reply = NULL;
    int st = mcall("POST", path, req, &reply);
    const char *msg = json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
    ck_assert_msg(st == 400, "%s: status %d", path, st);
    ck_assert_msg(msg && strstr(msg, msg_part), "%s: message %s lacks %s", path, msg ? msg : "-", msg_part);
    json_decref(reply);
    json_decref(req);
}

START_TEST(unknown_fields_refused_sealed)
{
    mallory_start(&mal);
    mallory_knows(&mal, &A, a_id);
    char path[160], b64[MALLORY_PUB_B64_MAX];
    mallory_pub_b64(&mal, b64);
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/join", room);
    expect_sealed_400(path, json_pack("{s:s,s:i}", "pub", b64, "delivery", 12345), "field \"delivery\"");
    expect_sealed_400(path, json_pack("{s:s,s:s}", "pub", b64, "delivery", "sometimes"), "one of: push, poll");
    expect_sealed_400(path, json_pack("{s:s,s:s}", "pub", b64, "role", "master"), "unknown field \"role\"");
    /* not joined: the refusals above changed nothing */
    json_t *j = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s/members", room);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "members")), 1);
    json_decref(j);
    json_t *ok = json_pack("{s:s}", "pub", b64);
    ck_assert_int_eq(mcall("POST", path, ok, NULL), 200);
    json_decref(ok);

    snprintf(path, sizeof path, "/v1/peer/rooms/%s/messages", room);
    expect_sealed_400(path, json_pack("{s:s,s:i,s:s,s:s,s:i}", "txn_id", "t1", "epoch", 1, "body", "AAAA", "sig",
                                      "AAAA", "seq", 7), "unknown field \"seq\"");
    expect_sealed_400(path, json_pack("{s:s,s:s,s:s,s:s}", "txn_id", "t1", "epoch", "1", "body", "AAAA", "sig", "AAAA"),
                      "field \"epoch\" must be an integer");
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/batch", room);
    expect_sealed_400(path, json_pack("{s:[{s:s,s:i,s:s,s:s,s:b}]}", "messages", "txn_id", "t1", "epoch", 1, "body",
                                      "AAAA", "sig", "AAAA", "urgent", 1), "unknown field \"urgent\"");
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/delivery", room);
    expect_sealed_400(path, json_pack("{s:s,s:i}", "mode", "poll", "x", 1), "unknown field \"x\"");
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/notify", room);
    expect_sealed_400(path, json_pack("{s:i,s:i,s:s}", "head", 0, "epoch", 1, "event", "party"), "field \"event\"");
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/leave", room);
    expect_sealed_400(path, json_pack("{s:b}", "now", 1), "unknown field \"now\"");
    expect_sealed_400("/v1/peer/ping", json_pack("{s:i,s:i}", "echo", 1, "extra", 2), "unknown field \"extra\"");
    /* a NUL in the sealed query: refused, not read as an absent parameter */
    static const char *const queries[] = {"since=0%00x", "since=%0", "since=0%0a", "since=0%zz"};
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        json_t *reply = NULL;
        snprintf(path, sizeof path, "/v1/peer/rooms/%s/members?%s", room, queries[i]);
        ck_assert_msg(mcall("GET", path, NULL, &reply) == 400, "%s", queries[i]);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(reply, "error"), "code")), "bad_request");
        json_decref(reply);
    }
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/members?since=-1", room);
    ck_assert_int_eq(mcall("GET", path, NULL, NULL), 200);
    /* still a member, and nothing was stored */
    j = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s/messages", room);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "messages")), 0);
    json_decref(j);
    j = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s/members", room);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "members")), 2);
    json_decref(j);
}
END_TEST

/* Exactly one answer, a JSON error, and the connection closed after it.
 * (libmicrohttpd 0.9.75 by itself writes its header block twice here; the
 * node answers first: see answer_before_mhd in server/core/http.c.) */
static void expect_one_answer(const char *out, const char *what)
{
    const char *end = strstr(out, "\r\n\r\n");
    ck_assert_msg(end, "%s: no header block: %s", what, out);
    ck_assert_msg(status_lines(out) == 1, "%s: %u status lines: %s", what, status_lines(out), out);
    ck_assert_msg(strstr(out, "Connection: close\r\n") && strstr(out, "Connection: close\r\n") < end, "%s: %s",
                  what, out);
    json_error_t e;
    json_t *j = json_loads(end + 4, 0, &e);
    ck_assert_msg(j && json_is_string(json_object_get(json_object_get(j, "error"), "code")), "%s: body %s", what,
                  end + 4);
    json_decref(j);
}

/* A malformed or overflowing Content-Length: one JSON answer, then the
 * connection is closed (raw_exchange reads to the close). */
START_TEST(bad_content_length_one_answer)
{
    static const char *const values[] = {"-1", "abc", "99999999999999999999999", "1 2", "0x10"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char req[256], out[RAW_MAX];
        int n = snprintf(req, sizeof req, "POST /v1/handshake HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n{}",
                         values[i]);
        raw_exchange(A.peer_port, req, (size_t)n, out);
        ck_assert_msg(!strncmp(out, "HTTP/1.1 400 ", 13) || !strncmp(out, "HTTP/1.1 413 ", 13), "%s", out);
        expect_one_answer(out, values[i]);
        /* and on the client API, with the token */
        n = snprintf(req, sizeof req, "PUT /v1/client/name HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     "Content-Length: %s\r\n\r\n{}", A.token, values[i]);
        raw_exchange(A.client_port, req, (size_t)n, out);
        ck_assert_msg(!strncmp(out, "HTTP/1.1 400 ", 13) || !strncmp(out, "HTTP/1.1 413 ", 13), "%s", out);
        expect_one_answer(out, values[i]);
    }
    /* a body over the route's cap, declared: our 413, once */
    char req[256], out[RAW_MAX];
    int n = snprintf(req, sizeof req, "POST /v1/handshake HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n{}");
    raw_exchange(A.peer_port, req, (size_t)n, out);
    ck_assert_msg(!strncmp(out, "HTTP/1.1 413 ", 13) && status_lines(out) == 1, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "\"too_large\""));
    /* the node still answers, and its name did not change */
    static const char plain[] = "GET /v1/node HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ck_assert_int_eq(raw_status(A.peer_port, plain, sizeof plain - 1), 200);
    json_t *j = call(&A, "GET", NULL, 200, "/v1/client/status");
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "alice");
    json_decref(j);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("http_edges");
    TCase *tc = tcase_create("edges");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, nul_in_target_refused);
    tcase_add_test(tc, nul_in_authorization_refused);
    tcase_add_test(tc, allow_is_exact);
    tcase_add_test(tc, unknown_fields_refused_client);
    tcase_add_test(tc, unknown_fields_refused_sealed);
    tcase_add_test(tc, bad_content_length_one_answer);
    suite_add_tcase(s, tc);
    return s;
}
