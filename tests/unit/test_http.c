/* http: route matching, routing errors, body caps, the error model,
 * request accessors and a blocking (long-poll) handler, against a real
 * server on 127.0.0.1 with a test route table (no node). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/waitq.h"
#include "server/core/http.h"
#include "tests/test_main.h"

/* ---- matching ---- */

static const struct {
    const char *pattern, *path;
    bool match;
    const char *p1, *p2; /* values of the first two params */
} match_cases[] = {
    {"/v1/node", "/v1/node", true, NULL, NULL},
    {"/v1/node", "/v1/node/", false, NULL, NULL},
    {"/v1/node", "/v1/nodes", false, NULL, NULL},
    {"/v1/node", "/v1", false, NULL, NULL},
    {"/v1/node", "v1/node", false, NULL, NULL},
    {"/v1/node", "/v1//node", false, NULL, NULL},
    {"/v1/peers/{id}", "/v1/peers/abc", true, "abc", NULL},
    {"/v1/peers/{id}", "/v1/peers/", false, NULL, NULL},
    {"/v1/peers/{id}", "/v1/peers/a/b", false, NULL, NULL},
    {"/v1/peers/{id}", "/v1/peers", false, NULL, NULL},
    {"/r/{id}/m/{txn}", "/r/R1/m/T-9", true, "R1", "T-9"},
    {"/r/{id}/m/{txn}", "/r/R1/x/T-9", false, NULL, NULL},
    {"/r/{id}/m/{txn}", "/r//m/T", false, NULL, NULL},
    {"/", "/", true, NULL, NULL},
    {"/", "/x", false, NULL, NULL},
};

START_TEST(match_table)
{
    http_params p;
    bool m = http_match(match_cases[_i].pattern, match_cases[_i].path, &p);
    ck_assert_msg(m == match_cases[_i].match, "%s vs %s", match_cases[_i].pattern, match_cases[_i].path);
    if (m && match_cases[_i].p1)
        ck_assert_str_eq(p.values[0], match_cases[_i].p1);
    if (m && match_cases[_i].p2)
        ck_assert_str_eq(p.values[1], match_cases[_i].p2);
    ck_assert(http_match(match_cases[_i].pattern, match_cases[_i].path, NULL) == m);
}
END_TEST

START_TEST(match_param_too_long)
{
    char path[HTTP_PARAM_MAX + 16];
    strcpy(path, "/p/");
    memset(path + 3, 'x', HTTP_PARAM_MAX);
    path[3 + HTTP_PARAM_MAX] = '\0';
    ck_assert(!http_match("/p/{id}", path, NULL));
    path[3 + HTTP_PARAM_MAX - 1] = '\0';
    ck_assert(http_match("/p/{id}", path, NULL));
}
END_TEST

START_TEST(status_for_errors)
{
    static const struct {
        nt_err rc;
        unsigned status;
        const char *code;
    } cases[] = {
        {NT_ERR_INVALID, 400, "bad_request"}, {NT_ERR_AUTH, 401, "unauthorized"},
        {NT_ERR_FORBIDDEN, 403, "forbidden"}, {NT_ERR_NOT_FOUND, 404, "not_found"},
        {NT_ERR_EXISTS, 409, "conflict"},     {NT_ERR_TOO_BIG, 413, "too_large"},
        {NT_ERR_BUSY, 503, "busy"},           {NT_ERR_DB, 500, "internal"},
        {NT_ERR_NOMEM, 500, "internal"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *code;
        ck_assert_uint_eq(http_status_for(cases[i].rc, &code), cases[i].status);
        ck_assert_str_eq(code, cases[i].code);
    }
}
END_TEST

/* ---- a live server ---- */

static http_server *srv;
/* The long-poll handler's wake-up: a counter, its lock and condition. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t n;
    bool closed;
} ev = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false};

static void ev_reset(void)
{
    pthread_mutex_lock(&ev.mu);
    ev.n = 0;
    ev.closed = false;
    pthread_mutex_unlock(&ev.mu);
}

/* The parked long poll's wake-up: woken with ev.mu held, as a producer
 * wakes its waiters. */
static waitq evq;

static void ev_bump(bool close)
{
    pthread_mutex_lock(&ev.mu);
    if (close)
        ev.closed = true;
    else
        ev.n++;
    pthread_cond_broadcast(&ev.cv);
    waitq_wake(&evq);
    pthread_mutex_unlock(&ev.mu);
}

/* Wait while the counter == seen, up to timeout_ms, unless closed. */
static uint64_t ev_wait(uint64_t seen, unsigned timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&ev.mu);
    while (ev.n == seen && !ev.closed)
        if (pthread_cond_timedwait(&ev.cv, &ev.mu, &until) != 0)
            break;
    uint64_t n = ev.n;
    pthread_mutex_unlock(&ev.mu);
    return n;
}
static char base[128];

static void h_echo(http_req *rq, struct node *nd)
{
    size_t len;
    const char *body = http_req_body(rq, &len);
    const char *q = http_req_query(rq, "q");
    const char *hdr = http_req_header(rq, "X-Test");
    http_reply_header(rq, "X-Reply", "yes");
    http_reply_json(rq, 200,
                    json_pack("{s:s,s:s,s:I,s:s?,s:s?,s:s?,s:s?,s:s}", "method", http_req_method(rq), "path",
                              http_req_path(rq), "len", (json_int_t)len, "id", http_req_param(rq, "id"), "txn",
                              http_req_param(rq, "txn"), "q", q, "hdr", hdr, "remote_ip", http_req_remote_ip(rq)));
    (void)body;
}

static void h_json(http_req *rq, struct node *nd)
{
    json_t *j;
    if (http_req_json_object(rq, &j))
        return;
    http_reply_json(rq, 201, j);
}

static const json_field one_field[] = {JSON_FIELD("a", JSON_F_INT), JSON_FIELDS_END};

static void h_fields(http_req *rq, struct node *nd)
{
    json_t *j;
    if (http_req_json_fields(rq, one_field, &j))
        return;
    http_reply_json(rq, 200, j);
}

static void h_silent(http_req *rq, struct node *nd) {}

static void h_conflict(http_req *rq, struct node *nd) { http_reply_nt_err(rq, NT_ERR_EXISTS, "already there"); }

static void h_raw(http_req *rq, struct node *nd) { http_reply_raw(rq, 200, "text/plain", "hello", 5); }

/* long poll: wait for the counter to move past ?since */
static void h_wait(http_req *rq, struct node *nd)
{
    const char *s = http_req_query(rq, "since");
    uint64_t since = s ? strtoull(s, NULL, 10) : 0;
    uint64_t now = ev_wait(since, 5000);
    http_reply_json(rq, 200, json_pack("{s:I}", "next", (json_int_t)now));
}

/* parked long poll: answer when the counter passes ?since, or with
 * "over" when the wait (?ms, default 5000) is up */
static void h_park(http_req *rq, struct node *nd)
{
    const char *s = http_req_query(rq, "since"), *ms = http_req_query(rq, "ms");
    uint64_t since = s ? strtoull(s, NULL, 10) : 0;
    pthread_mutex_lock(&ev.mu);
    uint64_t n = ev.n, gen = waitq_gen(&evq);
    pthread_mutex_unlock(&ev.mu);
    if (n > since || http_req_wait_over(rq))
        http_reply_json(rq, 200, json_pack("{s:I,s:b,s:b}", "next", (json_int_t)n, "over", http_req_wait_over(rq),
                                           "rerun", http_req_rerun(rq)));
    else
        http_req_wait(rq, &evq, gen, ms ? (unsigned)atoi(ms) : 5000);
}

/* holds its worker until the gate opens */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};

static void h_block(http_req *rq, struct node *nd)
{
    pthread_mutex_lock(&gate.mu);
    while (!gate.open)
        pthread_cond_wait(&gate.cv, &gate.mu);
    pthread_mutex_unlock(&gate.mu);
    http_reply_json(rq, 200, json_pack("{s:b}", "ok", 1));
}

static void gate_set(bool open)
{
    pthread_mutex_lock(&gate.mu);
    gate.open = open;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
}

/* A costly route's shape (the handshake's): a cheap inline run that may
 * refuse (?refuse), then a worker run that holds its worker until the gate
 * opens. */
static void h_costly_inline(http_req *rq, struct node *nd)
{
    if (http_req_query(rq, "refuse")) {
        http_reply_error(rq, 429, "rate_limited", "refused inline");
        return;
    }
    if (http_req_inline(rq)) {
        http_req_defer(rq);
        return;
    }
    h_block(rq, nd);
}

static const http_route test_routes[] = {
    {"GET", "/costly", HTTP_API_CLIENT, h_block, 0, NULL, HTTP_COSTLY},
    {"GET", "/costly-inline", HTTP_API_CLIENT, h_costly_inline, 0, "refuse", HTTP_INLINE | HTTP_COSTLY},
    {"GET", "/park", HTTP_API_CLIENT, h_park, 0, "since,ms", 0},
    {"GET", "/park-inline", HTTP_API_CLIENT, h_park, 0, "since,ms", HTTP_INLINE},
    {"GET", "/block", HTTP_API_CLIENT, h_block, 0, NULL, 0},
    {"GET", "/echo/{id}", HTTP_API_CLIENT, h_echo, 0, "q", 0},
    {"PUT", "/echo/{id}/{txn}", HTTP_API_CLIENT, h_echo, 0, NULL, 0},
    {"POST", "/echo/{id}", HTTP_API_CLIENT, h_echo, 0, NULL, 0},
    {"POST", "/small", HTTP_API_CLIENT, h_echo, 16, NULL, 0},
    {"POST", "/json", HTTP_API_CLIENT, h_json, 0, NULL, 0},
    {"GET", "/silent", HTTP_API_CLIENT, h_silent, 0, NULL, 0},
    {"GET", "/conflict", HTTP_API_CLIENT, h_conflict, 0, NULL, 0},
    {"GET", "/raw", HTTP_API_CLIENT, h_raw, 0, NULL, 0},
    {"POST", "/fields", HTTP_API_CLIENT, h_fields, 0, NULL, 0},
    {HTTP_ANY_METHOD, "/any/{id}", HTTP_API_CLIENT, h_echo, 0, NULL, 0},
    {"GET", "/wait", HTTP_API_CLIENT, h_wait, 0, "since", 0},
    {"GET", "/peer-only", HTTP_API_PEER, h_echo, 0, NULL, 0},
    {"GET", "/open/{id}", HTTP_API_CLIENT | HTTP_API_OPEN, h_echo, 0, NULL, 0},
    {0},
};
static const http_route *const test_tables[] = {test_routes, NULL};

#define TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void start_server(void)
{
    char err[HTTP_ERR_MAX];
    http_opts o = {.bind = "127.0.0.1:0", .api = HTTP_API_CLIENT, .token = TOKEN, .body_max = 1024,
                   .max_connections = 32, .timeout_s = 10};
    ev_reset();
    waitq_init(&evq);
    ck_assert_int_eq(http_start(&o, test_tables, NULL, &srv, err), NT_OK);
    ck_assert_uint_ne(http_port(srv), 0);
    snprintf(base, sizeof base, "http://%s", http_addr(srv));
}

static void stop_server(void)
{
    ev_bump(true);
    http_quiesce(srv);
    ck_assert(http_drain(srv, 5000));
    http_stop(srv);
    waitq_destroy(&evq);
}

typedef struct {
    long status;
    char body[8192];
    size_t len;
    char headers[4096];
    size_t hlen;
    json_t *json;
} resp;

static size_t on_body(char *p, size_t s, size_t n, void *ud)
{
    resp *r = ud;
    size_t k = s * n, room = sizeof r->body - 1 - r->len;
    memcpy(r->body + r->len, p, k < room ? k : room);
    r->len += k < room ? k : room;
    r->body[r->len] = '\0';
    return k;
}

static size_t on_hdr(char *p, size_t s, size_t n, void *ud)
{
    resp *r = ud;
    size_t k = s * n, room = sizeof r->headers - 1 - r->hlen;
    memcpy(r->headers + r->hlen, p, k < room ? k : room);
    r->hlen += k < room ? k : room;
    r->headers[r->hlen] = '\0';
    return k;
}

/* From the local address src (NULL: the route's choice); chunked: send
 * the body without Content-Length. */
static void call_from(const char *src, const char *method, const char *path, const char *token, const char *body,
                      size_t len, bool chunked, const char *extra_hdr, resp *r)
{
    char url[512], auth[128], iface[64];
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    memset(r, 0, sizeof *r);
    snprintf(url, sizeof url, "%s%s", base, path);
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (extra_hdr)
        h = curl_slist_append(h, extra_hdr);
    if (chunked)
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
    h = curl_slist_append(h, "Expect:");
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        if (!chunked)
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_hdr);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (src) {
        snprintf(iface, sizeof iface, "host!%s", src);
        curl_easy_setopt(c, CURLOPT_INTERFACE, iface);
    }
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    r->json = json_loadb(r->body, r->len, 0, NULL);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void call(const char *method, const char *path, const char *token, const char *body, size_t len, bool chunked,
                 const char *extra_hdr, resp *r)
{
    call_from(NULL, method, path, token, body, len, chunked, extra_hdr, r);
}

static void get(const char *path, resp *r) { call("GET", path, TOKEN, NULL, 0, false, NULL, r); }
static void get_from(const char *src, const char *path, resp *r)
{
    call_from(src, "GET", path, TOKEN, NULL, 0, false, NULL, r);
}

static void expect_err(resp *r, long status, const char *code)
{
    ck_assert_int_eq(r->status, status);
    ck_assert_msg(r->json, "not JSON: %s", r->body);
    json_t *e = json_object_get(r->json, "error");
    ck_assert_str_eq(json_string_value(json_object_get(e, "code")), code);
    ck_assert(json_is_string(json_object_get(e, "message")));
    ck_assert_uint_eq(json_object_size(r->json), 1);
    ck_assert_uint_eq(json_object_size(e), 2);
    ck_assert_ptr_nonnull(strcasestr(r->headers, "Content-Type: application/json"));
    json_decref(r->json);
}

static const char *field(resp *r, const char *k) { return json_string_value(json_object_get(r->json, k)); }

START_TEST(accessors)
{
    resp r;
    call("GET", "/echo/abc?q=x%20y", TOKEN, NULL, 0, false, "X-Test: hi", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(field(&r, "method"), "GET");
    ck_assert_str_eq(field(&r, "path"), "/echo/abc");
    ck_assert_str_eq(field(&r, "id"), "abc");
    ck_assert_str_eq(field(&r, "q"), "x y");
    ck_assert_str_eq(field(&r, "hdr"), "hi");
    ck_assert_str_eq(field(&r, "remote_ip"), "127.0.0.1");
    ck_assert(json_is_null(json_object_get(r.json, "txn")));
    ck_assert_ptr_nonnull(strcasestr(r.headers, "X-Reply: yes"));
    json_decref(r.json);
    call("PUT", "/echo/r1/t2", TOKEN, "abc", 3, false, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(field(&r, "txn"), "t2");
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "len")), 3);
    json_decref(r.json);
    get("/raw", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "hello");
    ck_assert_ptr_nonnull(strcasestr(r.headers, "Content-Type: text/plain"));
}
END_TEST

START_TEST(routing_errors)
{
    resp r;
    get("/nope", &r);
    expect_err(&r, 404, "not_found");
    get("/echo", &r);
    expect_err(&r, 404, "not_found");
    get("/peer-only", &r); /* exists, but on the other listener */
    expect_err(&r, 404, "not_found");
    call("DELETE", "/echo/x", TOKEN, NULL, 0, false, NULL, &r);
    ck_assert_ptr_nonnull(strcasestr(r.headers, "Allow: GET, POST\r\n"));
    expect_err(&r, 405, "method_not_allowed");
    char longpath[HTTP_PATH_MAX + 20] = "/echo/";
    memset(longpath + 6, 'a', HTTP_PATH_MAX);
    longpath[HTTP_PATH_MAX + 6] = '\0';
    get(longpath, &r);
    ck_assert_int_ge(r.status, 400); /* 404 from us or 414 from libmicrohttpd */
    json_decref(r.json);
}
END_TEST

START_TEST(auth)
{
    resp r;
    call("GET", "/echo/a", NULL, NULL, 0, false, NULL, &r);
    ck_assert_ptr_nonnull(strcasestr(r.headers, "WWW-Authenticate: Bearer"));
    expect_err(&r, 401, "unauthorized");
    call("GET", "/echo/a", TOKEN "0", NULL, 0, false, NULL, &r);
    expect_err(&r, 401, "unauthorized");
    call("GET", "/echo/a", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeF", NULL, 0, false, NULL, &r);
    expect_err(&r, 401, "unauthorized");
    call("GET", "/echo/a", NULL, NULL, 0, false, "Authorization: Basic " TOKEN, &r);
    expect_err(&r, 401, "unauthorized");
    /* 401 comes before 404: no probing of paths without the token */
    call("GET", "/nope", NULL, NULL, 0, false, NULL, &r);
    expect_err(&r, 401, "unauthorized");
    /* scheme is case-insensitive */
    call("GET", "/echo/a", NULL, NULL, 0, false, "Authorization: bearer " TOKEN, &r);
    ck_assert_int_eq(r.status, 200);
    json_decref(r.json);
}
END_TEST

/* An open route needs no token, for its own method only; with a wrong
 * token it still answers (the token is not what it checks). */
START_TEST(open_route)
{
    resp r;
    call("GET", "/open/a", NULL, NULL, 0, false, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "id")), "a");
    json_decref(r.json);
    call("GET", "/open/a", TOKEN "0", NULL, 0, false, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    json_decref(r.json);
    call("POST", "/open/a", NULL, "{}", 2, false, NULL, &r);
    expect_err(&r, 401, "unauthorized");
    call("GET", "/open/a/b", NULL, NULL, 0, false, NULL, &r);
    expect_err(&r, 401, "unauthorized");
    call("POST", "/open/a", TOKEN, "{}", 2, false, NULL, &r); /* with the token: 405 names GET */
    expect_err(&r, 405, "method_not_allowed");
}
END_TEST

START_TEST(body_caps)
{
    static char big[4096];
    resp r;
    memset(big, 'x', sizeof big);
    call("POST", "/echo/a", TOKEN, big, 1024, false, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "len")), 1024);
    json_decref(r.json);
    call("POST", "/echo/a", TOKEN, big, 1025, false, NULL, &r);
    expect_err(&r, 413, "too_large");
    big[sizeof big - 1] = '\0';
    call("POST", "/echo/a", TOKEN, big, 0, true, NULL, &r); /* chunked, no length */
    expect_err(&r, 413, "too_large");
    /* a route's own cap */
    call("POST", "/small", TOKEN, big, 16, false, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    json_decref(r.json);
    call("POST", "/small", TOKEN, big, 17, false, NULL, &r);
    expect_err(&r, 413, "too_large");
    /* the server still works after all that */
    get("/echo/ok", &r);
    ck_assert_int_eq(r.status, 200);
    json_decref(r.json);
}
END_TEST

START_TEST(json_and_handler_errors)
{
    resp r;
    call("POST", "/json", TOKEN, "{\"a\":1}", 7, false, NULL, &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "a")), 1);
    json_decref(r.json);
    static const char *const bad[] = {"", "{", "[]", "nul", "{\"a\":1,\"a\":2}", "{\"a\":1}x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        call("POST", "/json", TOKEN, bad[i], strlen(bad[i]), false, NULL, &r);
        expect_err(&r, 400, "bad_json");
    }
    get("/silent", &r);
    expect_err(&r, 500, "internal");
    get("/conflict", &r);
    expect_err(&r, 409, "conflict");
}
END_TEST

START_TEST(fields_checked)
{
    resp r;
    call("POST", "/fields", TOKEN, "{\"a\":1}", 7, false, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    json_decref(r.json);
    call("POST", "/fields", TOKEN, "{\"a\":1,\"b\":2}", 13, false, NULL, &r);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
                     "unknown field \"b\"");
    expect_err(&r, 400, "bad_request");
    call("POST", "/fields", TOKEN, "{\"a\":\"1\"}", 9, false, NULL, &r);
    expect_err(&r, 400, "bad_request");
}
END_TEST

/* A NUL or control byte in the target is refused before routing; a route
 * for any method takes every method. */
START_TEST(target_and_any_method)
{
    static const char *const bad[] = {"/echo/a%00b", "/echo/a%00", "/echo/a?q=x%00y", "/echo/a%01b", "/echo/a%7f",
                                      "/ech%00o/a"};
    resp r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        get(bad[i], &r);
        expect_err(&r, 400, "bad_request");
    }
    /* a parameter the route does not take is refused, named */
    get("/echo/a?q=1&limit=5", &r);
    ck_assert_ptr_nonnull(strstr(r.body, "unknown query parameter \\\"limit\\\""));
    expect_err(&r, 400, "bad_request");
    get("/conflict?x=1", &r);
    expect_err(&r, 400, "bad_request");
    get("/echo/a%20b?q=x%20y", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(field(&r, "id"), "a b");
    ck_assert_str_eq(field(&r, "q"), "x y");
    json_decref(r.json);
    call("PATCH", "/any/x", TOKEN, NULL, 0, false, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(field(&r, "method"), "PATCH");
    json_decref(r.json);
}
END_TEST

static void *bump_later(void *arg)
{
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    ev_bump(false);
    return NULL;
}

typedef struct {
    resp r;
} waiter;

static void *long_poll(void *arg)
{
    waiter *w = arg;
    call("GET", "/wait?since=0", TOKEN, NULL, 0, false, NULL, &w->r);
    return NULL;
}

START_TEST(long_poll_does_not_block_others)
{
    pthread_t t1, t2;
    waiter w;
    resp r;
    ck_assert_int_eq(pthread_create(&t1, NULL, long_poll, &w), 0);
    /* while the poll waits, other requests are served at once */
    for (int i = 0; i < 5; i++) {
        get("/echo/x", &r);
        ck_assert_int_eq(r.status, 200);
        json_decref(r.json);
    }
    ck_assert_int_eq(pthread_create(&t2, NULL, bump_later, NULL), 0);
    pthread_join(t2, NULL);
    pthread_join(t1, NULL);
    ck_assert_int_eq(w.r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(w.r.json, "next")), 1);
    json_decref(w.r.json);
}
END_TEST

START_TEST(stats_count)
{
    resp r;
    http_stats s0, s1;
    http_stats_get(srv, &s0);
    get("/echo/a", &r);
    json_decref(r.json);
    get("/nope", &r);
    json_decref(r.json);
    http_stats_get(srv, &s1);
    ck_assert_uint_eq(s1.requests - s0.requests, 2);
    ck_assert_uint_eq(s1.errors_4xx - s0.errors_4xx, 1);
}
END_TEST

/* ---- waiting without a thread, and a full worker queue ---- */

static http_server *start_small(unsigned workers, unsigned queue_max, char saved[static sizeof base])
{
    char err[HTTP_ERR_MAX];
    http_server *h = NULL;
    http_opts o = {.bind = "127.0.0.1:0", .api = HTTP_API_CLIENT, .token = TOKEN, .body_max = 1024,
                   .max_connections = 256, .timeout_s = 10, .workers = workers, .queue_max = queue_max};
    ck_assert_int_eq(http_start(&o, test_tables, NULL, &h, err), NT_OK);
    memcpy(saved, base, sizeof base);
    snprintf(base, sizeof base, "http://%s", http_addr(h));
    return h;
}

/* As start_small, with caps on worker jobs: per source and costly. */
static http_server *start_capped(unsigned workers, unsigned per_source, unsigned costly, char saved[static sizeof base])
{
    char err[HTTP_ERR_MAX];
    http_server *h = NULL;
    http_opts o = {.bind = "127.0.0.1:0", .api = HTTP_API_CLIENT, .token = TOKEN, .body_max = 1024,
                   .max_connections = 256, .timeout_s = 10, .workers = workers,
                   .max_jobs_per_source = per_source, .max_costly = costly};
    ck_assert_int_eq(http_start(&o, test_tables, NULL, &h, err), NT_OK);
    memcpy(saved, base, sizeof base);
    snprintf(base, sizeof base, "http://%s", http_addr(h));
    return h;
}

/* As start_small, with workers that leave after idle_ms without work. */
static http_server *start_idle(unsigned workers, unsigned idle_ms, char saved[static sizeof base])
{
    char err[HTTP_ERR_MAX];
    http_server *h = NULL;
    http_opts o = {.bind = "127.0.0.1:0", .api = HTTP_API_CLIENT, .token = TOKEN, .body_max = 1024,
                   .max_connections = 256, .timeout_s = 10, .workers = workers, .worker_idle_ms = idle_ms};
    ck_assert_int_eq(http_start(&o, test_tables, NULL, &h, err), NT_OK);
    memcpy(saved, base, sizeof base);
    snprintf(base, sizeof base, "http://%s", http_addr(h));
    return h;
}

static void stop_small(http_server *h, const char saved[static sizeof base])
{
    http_quiesce(h);
    ck_assert(http_drain(h, 5000));
    http_stop(h);
    memcpy(base, saved, sizeof base);
}

#define PARKERS 40

typedef struct {
    const char *path;
    resp r;
    const char *src; /* NULL: any */
} getter;

static void *get_thread(void *arg)
{
    getter *g = arg;
    get_from(g->src, g->path, &g->r);
    return NULL;
}

static void wait_stats(http_server *h, uint64_t parked, uint64_t busy, uint64_t queued)
{
    http_stats s;
    for (int i = 0; i < 1000; i++) { /* bounded: 10 s */
        http_stats_get(h, &s);
        if (s.parked >= parked && s.workers_busy >= busy && s.queued >= queued)
            return;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ck_abort_msg("stats: parked %llu busy %llu queued %llu", (unsigned long long)s.parked,
                 (unsigned long long)s.workers_busy, (unsigned long long)s.queued);
}

/* An idle worker whose wait runs out just as a request is handed to the
 * pool leaves; the request must still get a worker (it was queued with
 * none left, its connection suspended, and answered only when a later
 * request started one: for a lone client, never). Workers that leave
 * after 1 ms, and requests about that far apart, make the moment come
 * often. */
START_TEST(worker_leaving_as_a_request_comes_still_serves_it)
{
    char saved[sizeof base];
    http_server *h = start_idle(4, 1, saved);
    unsigned seed = 7;
    for (int i = 0; i < 3000; i++) {
        resp r;
        get("/echo/x", &r);
        ck_assert_msg(r.status == 200, "request %d: status %ld", i, r.status);
        json_decref(r.json);
        struct timespec gap = {0, 500000L + (long)(rand_r(&seed) % 1000) * 1000L}; /* 0.5-1.5 ms */
        nanosleep(&gap, NULL);
    }
    stop_small(h, saved);
}
END_TEST

/* 40 long polls on a server with 2 workers: all parked, no worker held,
 * other requests served, one wake answers them all (as reruns). */
START_TEST(parked_polls_hold_no_worker)
{
    char saved[sizeof base];
    http_server *h = start_small(2, 0, saved);
    pthread_t t[PARKERS];
    getter g[PARKERS] = {0};
    for (int i = 0; i < PARKERS; i++) {
        g[i].path = i % 2 ? "/park?since=0" : "/park-inline?since=0";
        ck_assert_int_eq(pthread_create(&t[i], NULL, get_thread, &g[i]), 0);
    }
    wait_stats(h, PARKERS, 0, 0);
    http_stats s;
    http_stats_get(h, &s);
    ck_assert_uint_le(s.workers, 2);
    ck_assert_uint_eq(s.workers_busy, 0);
    resp r;
    get("/echo/x", &r);
    ck_assert_int_eq(r.status, 200);
    json_decref(r.json);
    ev_bump(false);
    for (int i = 0; i < PARKERS; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(g[i].r.status, 200);
        ck_assert_int_eq(json_integer_value(json_object_get(g[i].r.json, "next")), 1);
        ck_assert(json_is_true(json_object_get(g[i].r.json, "rerun")));
        ck_assert(json_is_false(json_object_get(g[i].r.json, "over")));
        json_decref(g[i].r.json);
    }
    http_stats_get(h, &s);
    ck_assert_uint_eq(s.parked, 0);
    stop_small(h, saved);
}
END_TEST

/* A client that goes away while its request is parked: when the wake
 * resumes it, libmicrohttpd finds the connection closed and ends the
 * request without running the handler again; it must leave the parked
 * list then (it stayed on it, freed, and the next park wrote into it). */
START_TEST(parked_request_of_a_gone_client_ends_cleanly)
{
    char saved[sizeof base];
    http_server *h = start_small(2, 0, saved);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(http_port(h))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[256];
    pthread_mutex_lock(&ev.mu);
    unsigned long long n = (unsigned long long)ev.n;
    pthread_mutex_unlock(&ev.mu);
    int len = snprintf(req, sizeof req, "GET /park?since=%llu HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
                       n, TOKEN);
    ck_assert_int_eq(send(fd, req, (size_t)len, 0), len);
    wait_stats(h, 1, 0, 0);
    struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* a reset, as when the client's process dies */
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(fd);
    ev_bump(false);
    http_stats s;
    for (int i = 0; i < 1000; i++) { /* bounded: 10 s */
        http_stats_get(h, &s);
        if (s.active == 0)
            break;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ck_assert_uint_eq(s.active, 0);
    ck_assert_uint_eq(s.parked, 0);
    /* and parking again works */
    getter g = {.path = "/park?since=999&ms=100"};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, get_thread, &g), 0);
    pthread_join(t, NULL);
    ck_assert_int_eq(g.r.status, 200);
    json_decref(g.r.json);
    stop_small(h, saved);
}
END_TEST

/* A wait ends at its deadline with the handler told so. */
START_TEST(park_deadline_answers)
{
    resp r;
    get("/park?since=99&ms=200", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(json_is_true(json_object_get(r.json, "over")));
    json_decref(r.json);
}
END_TEST

/* The stop answers a parked request at once, with its wait over. */
START_TEST(quiesce_answers_parked)
{
    char saved[sizeof base];
    http_server *h = start_small(2, 0, saved);
    getter g = {.path = "/park?since=99&ms=30000"};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, get_thread, &g), 0);
    wait_stats(h, 1, 0, 0);
    http_quiesce(h);
    pthread_join(t, NULL);
    ck_assert_int_eq(g.r.status, 200);
    ck_assert(json_is_true(json_object_get(g.r.json, "over")));
    json_decref(g.r.json);
    /* and a new request is refused while stopping, as JSON */
    resp r;
    get("/echo/x", &r);
    expect_err(&r, 503, "busy");
    stop_small(h, saved);
}
END_TEST

/* Every worker busy and the queue full: 503 busy with Retry-After. */
START_TEST(worker_queue_full_is_503)
{
    char saved[sizeof base];
    http_server *h = start_small(1, 1, saved);
    pthread_mutex_lock(&gate.mu);
    gate.open = false;
    pthread_mutex_unlock(&gate.mu);
    getter a = {.path = "/block"}, b = {.path = "/block"};
    pthread_t ta, tb;
    ck_assert_int_eq(pthread_create(&ta, NULL, get_thread, &a), 0);
    wait_stats(h, 0, 1, 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, get_thread, &b), 0);
    wait_stats(h, 0, 1, 1);
    resp r;
    get("/echo/x", &r);
    ck_assert_ptr_nonnull(strcasestr(r.headers, "Retry-After: 1"));
    expect_err(&r, 503, "busy");
    http_stats s;
    http_stats_get(h, &s);
    ck_assert_uint_eq(s.shed_workers, 1);
    pthread_mutex_lock(&gate.mu);
    gate.open = true;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ck_assert_int_eq(a.r.status, 200);
    ck_assert_int_eq(b.r.status, 200);
    json_decref(a.r.json);
    json_decref(b.r.json);
    stop_small(h, saved);
}
END_TEST

static void wait_costly(http_server *h, uint64_t costly)
{
    http_stats s;
    for (int i = 0; i < 1000; i++) { /* bounded: 10 s */
        http_stats_get(h, &s);
        if (s.costly == costly)
            return;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ck_abort_msg("costly: %llu, not %llu", (unsigned long long)s.costly, (unsigned long long)costly);
}

static void expect_busy(resp *r)
{
    ck_assert_ptr_nonnull(strcasestr(r->headers, "Retry-After: 1\r\n"));
    expect_err(r, 503, "busy");
}

/* A GET from src that must be served. */
static void expect_ok_from(const char *src, const char *path)
{
    resp r;
    get_from(src, path, &r);
    ck_assert_int_eq(r.status, 200);
    json_decref(r.json);
}

/* Open the gate and collect n getters, each of which must be served. */
static void release_getters(pthread_t *t, getter *g, int n)
{
    gate_set(true);
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(g[i].r.status, 200);
        json_decref(g[i].r.json);
    }
}

/* Costly requests from several addresses, each with one in progress, fill
 * the server's cap: the next one, from yet another address, gets 503 busy
 * with Retry-After at once (queued or inline-first alike, and before its
 * handler's worker run), while other requests are served; once the
 * costly ones end, costly requests are served again. */
START_TEST(costly_cap_is_503_across_sources)
{
    char saved[sizeof base];
    http_server *h = start_capped(8, 0, 3, saved);
    gate_set(false);
    getter g[3] = {{.path = "/costly", .src = "127.0.0.2"},
                   {.path = "/costly-inline", .src = "127.0.0.3"},
                   {.path = "/costly", .src = "127.0.0.4"}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, get_thread, &g[i]), 0);
    wait_stats(h, 0, 3, 0);
    resp r;
    get_from("127.0.0.5", "/costly", &r);
    expect_busy(&r);
    get_from("127.0.0.6", "/costly-inline", &r);
    expect_busy(&r);
    /* refused by its cheap inline run: no slot needed, none taken */
    get_from("127.0.0.6", "/costly-inline?refuse=1", &r);
    expect_err(&r, 429, "rate_limited");
    /* requests that are not costly are not held back */
    expect_ok_from("127.0.0.5", "/echo/x");
    http_stats s;
    http_stats_get(h, &s);
    ck_assert_uint_eq(s.shed_costly, 2);
    ck_assert_uint_eq(s.costly, 3);
    ck_assert_uint_eq(s.max_costly, 3);
    release_getters(t, g, 3);
    wait_costly(h, 0);
    expect_ok_from("127.0.0.5", "/costly");
    expect_ok_from("127.0.0.6", "/costly-inline");
    stop_small(h, saved);
}
END_TEST

/* One address with its cap of worker jobs running gets 503 busy with
 * Retry-After for the next, at once; another address is served. */
START_TEST(jobs_per_source_cap_running)
{
    char saved[sizeof base];
    http_server *h = start_capped(4, 2, 0, saved);
    gate_set(false);
    getter g[2] = {{.path = "/block", .src = "127.0.0.2"}, {.path = "/block", .src = "127.0.0.2"}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, get_thread, &g[i]), 0);
    wait_stats(h, 0, 2, 0);
    resp r;
    get_from("127.0.0.2", "/echo/x", &r);
    expect_busy(&r);
    expect_ok_from("127.0.0.3", "/echo/x");
    http_stats s;
    http_stats_get(h, &s);
    ck_assert_uint_eq(s.shed_source_jobs, 1);
    ck_assert_uint_eq(s.max_jobs_per_source, 2);
    release_getters(t, g, 2);
    /* given back: the address is served again */
    expect_ok_from("127.0.0.2", "/echo/x");
    stop_small(h, saved);
}
END_TEST

/* Jobs waiting in the queue count too: with the one worker held, an
 * address with one job running and one queued is refused its third at
 * once, while another address's request still queues and is served. */
START_TEST(jobs_per_source_cap_counts_queued)
{
    char saved[sizeof base];
    http_server *h = start_capped(1, 2, 0, saved);
    gate_set(false);
    getter g[3] = {{.path = "/block", .src = "127.0.0.2"},
                   {.path = "/block", .src = "127.0.0.2"},
                   {.path = "/echo/x", .src = "127.0.0.3"}};
    pthread_t t[3];
    ck_assert_int_eq(pthread_create(&t[0], NULL, get_thread, &g[0]), 0);
    wait_stats(h, 0, 1, 0);
    ck_assert_int_eq(pthread_create(&t[1], NULL, get_thread, &g[1]), 0);
    wait_stats(h, 0, 1, 1);
    resp r;
    get_from("127.0.0.2", "/echo/x", &r);
    expect_busy(&r);
    ck_assert_int_eq(pthread_create(&t[2], NULL, get_thread, &g[2]), 0);
    wait_stats(h, 0, 1, 2);
    release_getters(t, g, 3);
    stop_small(h, saved);
}
END_TEST

/* A client that resets its connection while its costly job runs: the job
 * ends, and neither its address's count nor the costly count stays taken
 * (a cap of one each would refuse the next request for good). */
START_TEST(job_counts_given_back_when_client_resets)
{
    char saved[sizeof base];
    http_server *h = start_capped(2, 1, 1, saved);
    gate_set(false);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in me = {.sin_family = AF_INET}, sa = {.sin_family = AF_INET, .sin_port = htons(http_port(h))};
    inet_pton(AF_INET, "127.0.0.2", &me.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[256];
    int len = snprintf(req, sizeof req, "GET /costly-inline HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", TOKEN);
    ck_assert_int_eq(send(fd, req, (size_t)len, 0), len);
    wait_costly(h, 1);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(fd);
    gate_set(true);
    http_stats s;
    for (int i = 0; i < 1000; i++) { /* bounded: 10 s */
        http_stats_get(h, &s);
        if (s.active == 0)
            break;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ck_assert_uint_eq(s.active, 0);
    ck_assert_uint_eq(s.costly, 0);
    resp r;
    get_from("127.0.0.2", "/costly-inline", &r);
    ck_assert_int_eq(r.status, 200);
    json_decref(r.json);
    get_from("127.0.0.2", "/costly", &r);
    ck_assert_int_eq(r.status, 200);
    json_decref(r.json);
    stop_small(h, saved);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("http");
    TCase *m = tcase_create("match");
    tcase_add_loop_test(m, match_table, 0, sizeof match_cases / sizeof match_cases[0]);
    tcase_add_test(m, match_param_too_long);
    tcase_add_test(m, status_for_errors);
    suite_add_tcase(s, m);
    TCase *l = tcase_create("live");
    tcase_add_checked_fixture(l, start_server, stop_server);
    tcase_set_timeout(l, 60);
    tcase_add_test(l, accessors);
    tcase_add_test(l, routing_errors);
    tcase_add_test(l, auth);
    tcase_add_test(l, open_route);
    tcase_add_test(l, body_caps);
    tcase_add_test(l, json_and_handler_errors);
    tcase_add_test(l, fields_checked);
    tcase_add_test(l, target_and_any_method);
    tcase_add_test(l, long_poll_does_not_block_others);
    tcase_add_test(l, stats_count);
    tcase_add_test(l, worker_leaving_as_a_request_comes_still_serves_it);
    tcase_add_test(l, parked_polls_hold_no_worker);
    tcase_add_test(l, park_deadline_answers);
    tcase_add_test(l, parked_request_of_a_gone_client_ends_cleanly);
    tcase_add_test(l, quiesce_answers_parked);
    tcase_add_test(l, worker_queue_full_is_503);
    tcase_add_test(l, costly_cap_is_503_across_sources);
    tcase_add_test(l, jobs_per_source_cap_running);
    tcase_add_test(l, jobs_per_source_cap_counts_queued);
    tcase_add_test(l, job_counts_given_back_when_client_resets);
    suite_add_tcase(s, l);
    return s;
}

int test_setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return TEST_GO;
}

int test_teardown(int failed)
{
    curl_global_cleanup();
    return failed;
}
