/* Integration: the hostile-input suite. One real natterd on loopback gets
 * about 2000 hostile requests (1978 today, 113 of them X_EDGE; about 10 s
 * here), generated from tables, on both listeners, over raw keep-alive TCP
 * sockets (harness_raw.h) so that the bytes themselves are checked. The
 * runner and judge are in hostile_runner.c, the hostile values in
 * hostile_corpus.c, the handshake and sealed batches in hostile_peer.c
 * (hostile.h; linked only into this test). The batches:
 *
 *   methods  every method on every route: 405 with the exact Allow set
 *   auth     no token, a wrong one, Authorization variants: 401
 *   paths    %00, %2f, .., //, trailing slash, 63/65/upper-case/non-hex/
 *            overlong ids, unicode, on every id segment and whole paths
 *   queries  overflowing, negative, repeated, unknown parameters, NUL
 *   headers  bad/negative/overflowing/doubled Content-Length, bad chunk
 *            sizes, malformed request lines, oversized headers
 *   json     truncated, trailing garbage, 10k-deep nesting, huge numbers,
 *            duplicate keys, NUL, invalid UTF-8, lone surrogates, BOM, on
 *            every body route and the handshake
 *   types    every field of each client body with every wrong type, and
 *            each required field missing
 *   sizes    bodies just over their cap, 16 KiB + 1 texts, 101-byte names
 *   hs       the handshake with every field mutated (lengths, base64, hex,
 *            far-off timestamps re-signed, unknown mode or curve, names),
 *            and good handshakes from one peer past its session cap (429)
 *   sealed   random envelopes, each envelope member mutated, unknown
 *            sessions, tampered boxes and replays on a live session, and
 *            hostile JSON and every body member with a wrong type sealed
 *            under the live session's keys
 *   unknown  a field nobody knows, in each body: 400 naming it
 *
 * For every case (hostile.h, judge): exactly one status line,
 * Content-Length equal to the body, nothing after it; a documented status,
 * never 500; a JSON error {"error":{"code","message"}} -- except where
 * libmicrohttpd answers by itself (X_MHD: a status line and a closed
 * connection, listed in the report; X_SILENT: it may drop a request line
 * that is not one at all without answering; a malformed Content-Length
 * is answered once, by the node, before libmicrohttpd's doubled header
 * block can go out). After each batch GET
 * /v1/health is 200 and peers, rooms and the node's name are what they
 * were; at the end natterd exits 0 on SIGTERM.
 *
 * X_EDGE marks what the HTTP-edge work made true (a NUL in a path or a
 * query is 400, an unknown body field is 400 naming it, the exact Allow on
 * sealed routes); 77 of them failed before it. Their failures are listed
 * apart as [http-edge]; they fail the test unless HOSTILE_EDGE_PENDING=1.
 * HOSTILE_VERBOSE=1 prints every case with its status. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/encoding.h"
#include "crypto/rng.h"
#include "hostile.h"
#include "tests/test_main.h"
#include "server/channel/envelope.h"

static identity *me;

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- routes ---- */

typedef struct {
    harness_api api;
    const char *path; /* {peer} and {room} are filled in */
    const char *allow;
    unsigned flags;
} route;

#define R_OPEN (1u << 8) /* a client route that needs no token */

static const route ROUTES[] = {
    {HARNESS_CLIENT, "/v1/client/hello", "GET", R_OPEN},
    {HARNESS_CLIENT, "/v1/client/status", "GET", 0},
    {HARNESS_CLIENT, "/v1/client/name", "PUT", 0},
    {HARNESS_CLIENT, "/v1/client/peers", "GET, POST", 0},
    {HARNESS_CLIENT, "/v1/client/peers/{peer}", "GET, DELETE", 0},
    {HARNESS_CLIENT, "/v1/client/peers/{peer}/connect", "POST", 0},
    {HARNESS_CLIENT, "/v1/client/peers/{peer}/trust", "POST", 0},
    {HARNESS_CLIENT, "/v1/client/peers/{peer}/ping", "POST", 0},
    {HARNESS_CLIENT, "/v1/client/peers/{peer}/delivery", "PUT", 0},
    {HARNESS_CLIENT, "/v1/client/peers/{peer}/rooms", "GET", 0},
    {HARNESS_CLIENT, "/v1/client/rooms", "GET, POST", 0},
    {HARNESS_CLIENT, "/v1/client/rooms/{room}", "GET, PATCH", 0},
    {HARNESS_CLIENT, "/v1/client/rooms/{room}/members", "GET", 0},
    {HARNESS_CLIENT, "/v1/client/rooms/{room}/messages", "GET", 0},
    {HARNESS_CLIENT, "/v1/client/rooms/{room}/messages/t1", "PUT", 0},
    {HARNESS_CLIENT, "/v1/client/rooms/{room}/invite", "POST", 0},
    {HARNESS_CLIENT, "/v1/client/rooms/{room}/kick", "POST", 0},
    {HARNESS_CLIENT, "/v1/client/rooms/{room}/join", "POST", 0},
    {HARNESS_CLIENT, "/v1/client/rooms/{room}/leave", "POST", 0},
    {HARNESS_CLIENT, "/v1/client/rooms/{room}/rekey", "POST", 0},
    {HARNESS_CLIENT, "/v1/client/rooms/{room}/delivery", "POST", 0},
    {HARNESS_CLIENT, "/v1/client/events", "GET", 0},
    {HARNESS_PEER, "/v1/node", "GET", 0},
    {HARNESS_PEER, "/v1/health", "GET", 0},
    {HARNESS_PEER, "/v1/handshake", "POST", 0},
    {HARNESS_PEER, "/v1/peer/ping", "POST", X_EDGE},
    {HARNESS_PEER, "/v1/peer/rooms", "GET", X_EDGE},
    {HARNESS_PEER, "/v1/peer/rooms/{room}/join", "POST", X_EDGE},
    {HARNESS_PEER, "/v1/peer/rooms/{room}/leave", "POST", X_EDGE},
    {HARNESS_PEER, "/v1/peer/rooms/{room}/delivery", "POST", X_EDGE},
    {HARNESS_PEER, "/v1/peer/rooms/{room}/members", "GET", X_EDGE},
    {HARNESS_PEER, "/v1/peer/rooms/{room}/keys", "GET", X_EDGE},
    {HARNESS_PEER, "/v1/peer/rooms/{room}/messages", "GET, POST", X_EDGE},
    {HARNESS_PEER, "/v1/peer/rooms/{room}/batch", "POST", X_EDGE},
    {HARNESS_PEER, "/v1/peer/rooms/{room}/notify", "POST", X_EDGE},
};

static const char *const METHODS[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};

/* Every method a route does not take: 405, the route's Allow, JSON. */
static void batch_methods(hx *h)
{
    hx_batch(h, "methods");
    char path[256];
    for (size_t i = 0; i < LEN(ROUTES); i++) {
        hx_expand(h, ROUTES[i].path, path, sizeof path);
        for (size_t m = 0; m < LEN(METHODS); m++) {
            if (strstr(ROUTES[i].allow, METHODS[m]))
                continue;
            bool body = !strcmp(METHODS[m], "POST") || !strcmp(METHODS[m], "PUT");
            expect x = {.st = {405}, .code = "method_not_allowed", .allow = ROUTES[i].allow,
                        .flags = ROUTES[i].flags & X_EDGE};
            hx_call(h, ROUTES[i].api, METHODS[m], path, body ? "{}" : NULL, body ? 2 : 0, x);
        }
    }
    static const char *const unknown[] = {"/", "/v1", "/v1/", "/v1/nope", "/v2/node", "/v1/client", "/v1/client/nope",
                                          "/v1/peer", "/v1/peer/nope/a/b/c/d/e/f"};
    for (size_t i = 0; i < LEN(unknown); i++) {
        hx_call(h, HARNESS_CLIENT, "GET", unknown[i], NULL, 0, STC("not_found", 404));
        hx_call(h, HARNESS_PEER, "GET", unknown[i], NULL, 0, ST(404, 405));
    }
    hx_batch_end(h, false);
}

/* No token, a wrong token and Authorization variants on every client
 * route; a token sent to the peer API is ignored. */
static void batch_auth(hx *h)
{
    hx_batch(h, "auth");
    char path[256], label[320], v[256];
    const char *tok = h->bearer + 7;
    for (size_t i = 0; i < LEN(ROUTES); i++) {
        if (ROUTES[i].api != HARNESS_CLIENT || (ROUTES[i].flags & R_OPEN))
            continue;
        hx_expand(h, ROUTES[i].path, path, sizeof path);
        char method[8];
        snprintf(method, sizeof method, "%.*s", (int)strcspn(ROUTES[i].allow, ","), ROUTES[i].allow);
        snprintf(label, sizeof label, "%s %s (no token)", method, path);
        hx_send(h, HARNESS_CLIENT, label, method, path, NULL, NULL, NULL, 0, STC("unauthorized", 401));
        snprintf(label, sizeof label, "%s %s (wrong token)", method, path);
        hx_send(h, HARNESS_CLIENT, label, method, path, "Bearer 0000", NULL, NULL, 0, STC("unauthorized", 401));
    }
    /* {t} is the token, {t10} its first ten characters. */
    static const struct {
        const char *fmt;
        int st;
    } variants[] = {
        {"", 401},           {"Bearer", 401},          {"Bearer ", 401},    {"Bearer wrong", 401},
        {"Bearer {t}x", 401}, {"Bearer x{t}", 401},    {"Bearer {t10}", 401}, {"Basic {t}", 401},
        {"Token {t}", 401},  {"Bearer{t}", 401},       {"Bearer {t}, Bearer {t}", 401},
        {"bearer {t}", 200}, {"BEARER {t}", 200}, /* the scheme is case-insensitive (RFC 7235) */
    };
    for (size_t i = 0; i < LEN(variants); i++) {
        size_t o = 0;
        for (const char *f = variants[i].fmt; *f && o + 70 < sizeof v;) {
            if (!strncmp(f, "{t10}", 5))
                o += (size_t)snprintf(v + o, sizeof v - o, "%.10s", tok), f += 5;
            else if (!strncmp(f, "{t}", 3))
                o += (size_t)snprintf(v + o, sizeof v - o, "%s", tok), f += 3;
            else
                v[o++] = *f++;
        }
        v[o] = '\0';
        snprintf(label, sizeof label, "GET /v1/client/status, Authorization: %.60s", v);
        expect x = variants[i].st == 401 ? STC("unauthorized", 401) : ST(200);
        hx_send(h, HARNESS_CLIENT, label, "GET", "/v1/client/status", v, NULL, NULL, 0, x);
    }
    /* Bytes a header must not hold, a huge value, the token twice. */
    static const char ctl[] = {'\r', '\x01', '\x7f'};
    for (size_t i = 0; i < LEN(ctl); i++) {
        snprintf(v, sizeof v, "Bearer %.20s%c%s", tok, ctl[i], tok + 20);
        snprintf(label, sizeof label, "GET /v1/client/status, token with byte 0x%02x", ctl[i]);
        hx_send(h, HARNESS_CLIENT, label, "GET", "/v1/client/status", v, NULL, NULL, 0, STF(X_MHD, 400, 401));
    }
    char req[256];
    int n = snprintf(req, sizeof req, "GET /v1/client/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %.20s", tok);
    req[n++] = '\0';
    n += snprintf(req + n, sizeof req - (size_t)n, "%s\r\n\r\n", tok + 21);
    hx_raw(h, HARNESS_CLIENT, "GET /v1/client/status, token with a NUL", req, (size_t)n, STF(X_MHD, 400, 401));
    char *big = malloc(20001);
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'a', 19993);
    big[20000] = '\0';
    hx_send(h, HARNESS_CLIENT, "GET /v1/client/status, 20 kB token", "GET", "/v1/client/status", big, NULL, NULL, 0,
            STF(X_MHD, 401, 431));
    free(big);
    snprintf(v, sizeof v, "Authorization: %s\r\n", h->bearer);
    hx_send(h, HARNESS_CLIENT, "GET /v1/client/status, wrong token then the right one", "GET", "/v1/client/status",
            "Bearer wrong", v, NULL, 0, ST(400, 401));
    snprintf(path, sizeof path, "/v1/client/status?access_token=%s", tok);
    hx_send(h, HARNESS_CLIENT, "GET /v1/client/status?access_token=<token>", "GET", path, NULL, NULL, NULL, 0,
            STC("unauthorized", 401));
    hx_send(h, HARNESS_PEER, "GET /v1/health with a bearer token", "GET", "/v1/health", "Bearer x", NULL, NULL, 0,
            ST(200));
    hx_batch_end(h, false);
}

/* ---- paths ---- */

/* Replace the first {seg} of pattern (after expansion) with seg. */
static void path_with(hx *h, const char *pattern, const char *which, const char *seg, char *out, size_t cap)
{
    char tmp[512];
    const char *at = strstr(pattern, which);
    snprintf(tmp, sizeof tmp, "%.*s%s%s", (int)(at - pattern), pattern, seg, at + strlen(which));
    hx_expand(h, tmp, out, cap);
}

static void id_tricks(hx *h, const char *which, const char *good)
{
    hx_seg_trick t[HX_SEG_TRICKS_MAX];
    char buf[4096], path[1024], label[1200];
    size_t n = hx_seg_tricks(good, t, buf, sizeof buf);
    for (size_t i = 0; i < LEN(ROUTES); i++) {
        if (ROUTES[i].api != HARNESS_CLIENT || !strstr(ROUTES[i].path, which))
            continue;
        char method[8];
        snprintf(method, sizeof method, "%.*s", (int)strcspn(ROUTES[i].allow, ","), ROUTES[i].allow);
        bool body = !strcmp(method, "POST") || !strcmp(method, "PUT");
        for (size_t k = 0; k < n; k++) {
            path_with(h, ROUTES[i].path, which, t[k].seg, path, sizeof path);
            snprintf(label, sizeof label, "%s %s [%s %s]", method, path, which, t[k].name);
            expect x = t[k].want ? ST(t[k].want) : ST(400, 404);
            x.flags = t[k].flags;
            /* A body that is wrong anyway: nothing can happen if the path slips through. */
            hx_send(h, HARNESS_CLIENT, label, method, path, h->bearer, NULL, body ? "[]" : NULL, body ? 2 : 0, x);
        }
    }
}

static void batch_paths(hx *h)
{
    hx_batch(h, "paths");
    id_tricks(h, "{peer}", h->me_hex);
    id_tricks(h, "{room}", h->room);
    static const struct {
        harness_api api;
        const char *path;
        int st0, st1;
        unsigned flags;
    } whole[] = {
        {HARNESS_CLIENT, "//v1/client/peers", 404, 0, 0},      {HARNESS_CLIENT, "/v1//client/peers", 404, 0, 0},
        {HARNESS_CLIENT, "/v1/client/peers/", 404, 400, 0},    {HARNESS_CLIENT, "/v1/client/PEERS", 404, 0, 0},
        {HARNESS_CLIENT, "/V1/client/peers", 404, 0, 0},       {HARNESS_CLIENT, "/v1/client/./peers", 404, 0, 0},
        {HARNESS_CLIENT, "/v1/client/x/../peers", 404, 0, 0},  {HARNESS_CLIENT, "/v1/client/peers%2f", 404, 0, 0},
        {HARNESS_CLIENT, "/v1/client/peers%00", 400, 0, X_EDGE}, {HARNESS_CLIENT, "/v1/client/status%00x", 400, 0, X_EDGE},
        {HARNESS_CLIENT, "/v1/client/rooms/", 404, 400, 0},    {HARNESS_CLIENT, "/v1/client/events/", 404, 0, 0},
        {HARNESS_PEER, "/v1/health/", 404, 0, 0},              {HARNESS_PEER, "/v1//health", 404, 0, 0},
        {HARNESS_PEER, "/v1/health%00", 400, 0, X_EDGE},       {HARNESS_PEER, "/v1/node/x", 404, 0, 0},
        {HARNESS_PEER, "/v1/NODE", 404, 0, 0},                 {HARNESS_PEER, "/v1/peer/%00", 400, 0, X_EDGE},
        {HARNESS_PEER, "/v1/node%00/x", 400, 0, X_EDGE},       {HARNESS_PEER, "/v1/handshake/", 404, 405, 0},
        {HARNESS_PEER, "/v1/peer//ping", 404, 400, 0},         {HARNESS_PEER, "/v1/peer/ping/", 404, 400, 0},
    };
    for (size_t i = 0; i < LEN(whole); i++)
        hx_call(h, whole[i].api, "GET", whole[i].path, NULL, 0, STF(whole[i].flags, whole[i].st0, whole[i].st1));
    /* Long paths: over the route table's cap, and over libmicrohttpd's buffer. */
    size_t sizes[] = {1100, 8000, 70000};
    for (size_t i = 0; i < LEN(sizes); i++) {
        char *p = malloc(sizes[i] + 32);
        int o = snprintf(p, 32, "/v1/client/peers/");
        memset(p + o, 'a', sizes[i]);
        p[o + (int)sizes[i]] = '\0';
        char label[64];
        snprintf(label, sizeof label, "GET /v1/client/peers/<%zu a>", sizes[i]);
        hx_send(h, HARNESS_CLIENT, label, "GET", p, h->bearer, NULL, NULL, 0, STF(X_MHD, 400, 404, 414));
        hx_send(h, HARNESS_PEER, label, "GET", p + 10, NULL, NULL, NULL, 0, STF(X_MHD, 404, 414));
        free(p);
    }
    hx_batch_end(h, false);
}

/* ---- queries ---- */

static void batch_queries(hx *h)
{
    hx_batch(h, "queries");
    static const char *const bad_msgs[] = {
        "limit=99999999999999999999", "limit=-1", "limit=0", "limit=abc", "limit=", "limit=1e3", "limit=0x10",
        "limit=%00", "limit=1%20", "limit=+5", "limit=5001", "after=-1", "after=99999999999999999999",
        "after=x", "before=0", "before=-1", "before=abc", "before=18446744073709551616",
    };
    static const char *const bad_events[] = {
        "wait=-1", "wait=3601", "wait=99999999999999999999", "wait=abc", "wait=1.5", "wait=%00", "wait=",
        "limit=0", "limit=501", "limit=-1", "since=-1", "since=zzzz", "since=%00", "since=99999999999999999999999",
    };
    static const char *const odd_ok[] = {
        "foo=bar", "limit=1&limit=2", "limit=1&&&", "=x", "&", "limit", "%00=1", "x=%ff%fe",
    };
    char path[2048];
    for (size_t i = 0; i < LEN(bad_msgs); i++) {
        snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?%s", h->room, bad_msgs[i]);
        hx_call(h, HARNESS_CLIENT, "GET", path, NULL, 0, ST(400));
    }
    /* The value libmicrohttpd hands over ends at the decoded NUL ("1"). */
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?limit=1%%00", h->room);
    hx_call(h, HARNESS_CLIENT, "GET", path, NULL, 0, STF(X_EDGE, 400));
    for (size_t i = 0; i < LEN(bad_events); i++) {
        snprintf(path, sizeof path, "/v1/client/events?%s", bad_events[i]);
        hx_call(h, HARNESS_CLIENT, "GET", path, NULL, 0, ST(400));
    }
    /* The open hello: a nonce of 64 lowercase hex digits, nothing else. */
    static const char *const nonces[] = {
        "", "nonce=", "nonce=0", "nonce=%00", "nonce=g000000000000000000000000000000000000000000000000000000000000000",
        "nonce=000000000000000000000000000000000000000000000000000000000000000",
        "nonce=00000000000000000000000000000000000000000000000000000000000000000",
        "nonce=ABCDEF0000000000000000000000000000000000000000000000000000000000",
        "nonce=000000000000000000000000000000000000000000000000000000000000000%00",
    };
    for (size_t i = 0; i < LEN(nonces); i++) {
        snprintf(path, sizeof path, "/v1/client/hello?%s", nonces[i]);
        hx_send(h, HARNESS_CLIENT, path, "GET", path, NULL, NULL, NULL, 0, ST(400));
    }
    /* Unknown or repeated parameters: ignored or refused, never more. */
    for (size_t i = 0; i < LEN(odd_ok); i++) {
        snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?%s", h->room, odd_ok[i]);
        hx_call(h, HARNESS_CLIENT, "GET", path, NULL, 0, ST(200, 400));
        snprintf(path, sizeof path, "/v1/client/events?wait=0&%s", odd_ok[i]);
        hx_call(h, HARNESS_CLIENT, "GET", path, NULL, 0, ST(200, 400));
        snprintf(path, sizeof path, "/v1/client/peers?%s", odd_ok[i]);
        hx_call(h, HARNESS_CLIENT, "GET", path, NULL, 0, ST(200, 400));
        snprintf(path, sizeof path, "/v1/health?%s", odd_ok[i]);
        hx_call(h, HARNESS_PEER, "GET", path, NULL, 0, ST(200, 400));
    }
    int o = snprintf(path, sizeof path, "/v1/client/peers?");
    for (; o < 1900; o += 6)
        memcpy(path + o, "a=b&c=", 6);
    path[o] = '\0';
    hx_call(h, HARNESS_CLIENT, "GET", path, NULL, 0, ST(200, 400, 414));
    hx_batch_end(h, false);
}

/* ---- headers and framing ---- */

static void batch_headers(hx *h)
{
    hx_batch(h, "headers");
    char target[128], label[256], hdr[256];
    snprintf(target, sizeof target, "/v1/client/rooms/%s/invite", h->room);
    static const char *const cls[] = {
        "Content-Length: -1\r\n", "Content-Length: abc\r\n", "Content-Length: 1x\r\n", "Content-Length: +9\r\n",
        "Content-Length: 99999999999999999999\r\n", "Content-Length: 18446744073709551616\r\n",
        "Content-Length: 18446744073709551615\r\n", "Content-Length: 9\r\nContent-Length: 10\r\n",
        "Content-Length: 9, 10\r\n", "Content-Length: \r\n", "Content-Length: 0x9\r\n",
        "Content-Length: 9\r\nTransfer-Encoding: chunked\r\n",
    };
    for (size_t i = 0; i < LEN(cls); i++) {
        for (int api = 0; api < 2; api++) {
            snprintf(label, sizeof label, "POST %s, %.*s", api ? "invite" : "/v1/handshake", (int)strcspn(cls[i], "\r"),
                     cls[i]);
            hx_send(h, api ? HARNESS_CLIENT : HARNESS_PEER, label, "POST", api ? target : "/v1/handshake",
                    api ? h->bearer : NULL, cls[i], "{\"peer\":1}", 10, STF(X_MHD, 400, 411, 413));
        }
    }
    static const char *const chunks[] = {"zz\r\n{}\r\n0\r\n\r\n", "-1\r\n{}\r\n0\r\n\r\n",
                                         "ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n", "2\r\n{}x\r\n0\r\n\r\n",
                                         "2 2\r\n{}\r\n0\r\n\r\n", "0x2\r\n{}\r\n0\r\n\r\n"};
    for (size_t i = 0; i < LEN(chunks); i++) {
        snprintf(label, sizeof label, "POST invite, chunked: %.*s", (int)strcspn(chunks[i], "\r"), chunks[i]);
        hx_send(h, HARNESS_CLIENT, label, "POST", target, h->bearer, "Transfer-Encoding: chunked\r\n", chunks[i],
                strlen(chunks[i]), STF(X_MHD, 400, 413));
    }
    static const char good_chunks[] = "a\r\n{\"peer\":1}\r\n0\r\n\r\n";
    hx_send(h, HARNESS_CLIENT, "POST invite, chunked {\"peer\":1}", "POST", target, h->bearer,
            "Transfer-Encoding: chunked\r\n", good_chunks, sizeof good_chunks - 1, ST(400));
    snprintf(hdr, sizeof hdr, "Expect: 100-continue\r\nContent-Length: 99999\r\n");
    hx_send(h, HARNESS_CLIENT, "POST invite, Expect: 100-continue, 99999 bytes", "POST", target, h->bearer, hdr, "",
            0, STC("too_large", 413));
    static const struct {
        const char *name, *req;
        unsigned flags;
    } lines[] = {
        {"garbage", "GARBAGE\r\n\r\n", X_SILENT},
        {"binary", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", X_SILENT},
        {"HTTP/9.9", "GET /v1/health HTTP/9.9\r\nHost: x\r\n\r\n", 0},
        {"HTTP/1.1 without Host", "GET /v1/health HTTP/1.1\r\n\r\n", 0},
        {"no target", "GET  HTTP/1.1\r\nHost: x\r\n\r\n", 0},
        {"header without colon", "GET /v1/health HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 0},
        {"space before colon", "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n", 0},
        {"lower-case method", "get /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", 0},
        {"absolute URI", "GET http://evil/v1/health HTTP/1.1\r\nHost: x\r\n\r\n", 0},
        {"asterisk", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 0},
        {"CONNECT", "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n", 0},
    };
    for (size_t i = 0; i < LEN(lines); i++)
        for (int api = 0; api < 2; api++) {
            snprintf(label, sizeof label, "request line: %s", lines[i].name);
            /* libmicrohttpd 0.9.75 is lenient about Host and header spacing: 200 is its answer there. */
            expect x = STF(X_MHD | lines[i].flags, 200, 400, 401, 404, 405, 505);
            x.timeout_ms = lines[i].flags & X_SILENT ? 1000 : 0;
            hx_raw(h, api ? HARNESS_CLIENT : HARNESS_PEER, label, lines[i].req, strlen(lines[i].req), x);
        }
    char *big = malloc(70000);
    memcpy(big, "X-Big: ", 7);
    memset(big + 7, 'b', 69990);
    memcpy(big + 69997, "\r\n", 3);
    hx_send(h, HARNESS_PEER, "GET /v1/health, 70 kB header", "GET", "/v1/health", NULL, big, NULL, 0,
            STF(X_MHD, 431, 413, 400));
    int o = 0;
    for (int i = 0; i < 2000 && o < 69000; i++)
        o += snprintf(big + o, 70000 - (size_t)o, "X-H%d: v\r\n", i);
    hx_send(h, HARNESS_PEER, "GET /v1/health, 2000 headers", "GET", "/v1/health", NULL, big, NULL, 0,
            STF(X_MHD, 200, 431, 413, 400));
    free(big);
    hx_batch_end(h, true);
}

/* ---- JSON bodies ---- */

typedef struct {
    const char *method, *path;
    bool body_required; /* else no body is a request too (and would act) */
} body_route;

static const body_route BODY_ROUTES[] = {
    {"POST", "/v1/client/rooms", true},
    {"PUT", "/v1/client/name", true},
    {"POST", "/v1/client/peers", true},
    {"POST", "/v1/client/peers/{peer}/trust", false},
    {"POST", "/v1/client/peers/{peer}/connect", false},
    {"POST", "/v1/client/peers/{peer}/ping", false},
    {"PUT", "/v1/client/peers/{peer}/delivery", true},
    {"POST", "/v1/client/rooms/{room}/invite", true},
    {"POST", "/v1/client/rooms/{room}/kick", true},
    {"POST", "/v1/client/rooms/{xroom}/join", false},
    {"POST", "/v1/client/rooms/{room}/leave", false},
    {"POST", "/v1/client/rooms/{room}/rekey", false},
    {"POST", "/v1/client/rooms/{room}/delivery", true},
    {"PUT", "/v1/client/rooms/{room}/messages/t1", true},
};

static void batch_json(hx *h)
{
    hx_batch(h, "json");
    hx_blob b[HX_BLOBS_MAX];
    size_t nb = hx_malformed_json(b);
    char path[256], label[320];
    for (size_t r = 0; r < LEN(BODY_ROUTES); r++) {
        hx_expand(h, BODY_ROUTES[r].path, path, sizeof path);
        for (size_t i = 0; i < nb; i++) {
            snprintf(label, sizeof label, "%s %s [%s]", BODY_ROUTES[r].method, BODY_ROUTES[r].path, b[i].name);
            hx_send(h, HARNESS_CLIENT, label, BODY_ROUTES[r].method, path, h->bearer, NULL, b[i].text, b[i].len,
                    b[i].len > 4096 ? ST(400, 413) : ST(400));
        }
        if (BODY_ROUTES[r].body_required) {
            snprintf(label, sizeof label, "%s %s [no body]", BODY_ROUTES[r].method, BODY_ROUTES[r].path);
            hx_send(h, HARNESS_CLIENT, label, BODY_ROUTES[r].method, path, h->bearer, NULL, "", 0, ST(400));
        }
    }
    hx_call(h, HARNESS_PEER, "POST", "/v1/handshake", "", 0, ST(400));
    for (size_t i = 0; i < nb; i++) {
        snprintf(label, sizeof label, "POST /v1/handshake [%s]", b[i].name);
        hx_send(h, HARNESS_PEER, label, "POST", "/v1/handshake", NULL, NULL, b[i].text, b[i].len,
                b[i].len > 16384 ? ST(400, 413) : ST(400));
    }
    hx_blobs_free(b, nb);
    hx_batch_end(h, false);
}

/* ---- wrong types, missing fields ---- */

typedef struct {
    const char *method, *path, *base; /* base: a body that would do something */
    const char *fields[6];            /* "name:s" string, ":b" bool, ":i" integer */
    const char *required[3];
} typed_route;

static const typed_route TYPED[] = {
    {"POST", "/v1/client/rooms", "{\"name\":\"x\",\"access\":\"invite\"}",
     {"name:s", "access:s", "topic:s", "password:s", "rotate_messages:i", "rotate_seconds:i"}, {"name"}},
    {"PUT", "/v1/client/name", "{\"name\":\"x\"}", {"name:s"}, {"name"}},
    {"POST", "/v1/client/peers", "{\"address\":\"127.0.0.1:1\"}", {"address:s"}, {"address"}},
    {"POST", "/v1/client/peers/{peer}/trust", "{\"trusted\":false}", {"trusted:b"}, {NULL}},
    {"POST", "/v1/client/peers/{peer}/connect", "{\"mode\":\"ecdh\"}", {"mode:s"}, {NULL}},
    {"PUT", "/v1/client/peers/{peer}/delivery", "{\"delivery\":\"poll\"}", {"delivery:s"}, {"delivery"}},
    {"POST", "/v1/client/rooms/{room}/invite", "{\"peer\":\"{peer}\"}", {"peer:s"}, {"peer"}},
    {"POST", "/v1/client/rooms/{room}/kick", "{\"peer\":\"{peer}\"}", {"peer:s"}, {"peer"}},
    {"POST", "/v1/client/rooms/{xroom}/join", "{\"host\":\"{peer}\",\"password\":\"p\"}", {"host:s", "password:s"},
     {"host"}},
    {"POST", "/v1/client/rooms/{room}/delivery", "{\"mode\":\"poll\"}", {"mode:s"}, {"mode"}},
    {"PUT", "/v1/client/rooms/{room}/messages/t1", "{\"text\":\"hi\"}", {"text:s"}, {"text"}},
};

/* base (with {peer}, {room}) with field set to value (raw JSON text), or
 * removed when value is NULL; malloc'd. */
static char *with_field(hx *h, const char *base, const char *field, const char *value)
{
    char b[512];
    json_error_t err;
    hx_expand(h, base, b, sizeof b);
    json_t *o = json_loads(b, 0, &err);
    ck_assert_ptr_nonnull(o);
    char *out = hx_json_with(o, field, value);
    json_decref(o);
    return out;
}

static void batch_types(hx *h)
{
    hx_batch(h, "types");
    char path[256], label[512];
    for (size_t r = 0; r < LEN(TYPED); r++) {
        const typed_route *t = &TYPED[r];
        hx_expand(h, t->path, path, sizeof path);
        for (size_t f = 0; f < LEN(t->fields) && t->fields[f]; f++) {
            char field[32];
            snprintf(field, sizeof field, "%.*s", (int)strcspn(t->fields[f], ":"), t->fields[f]);
            char ty = strchr(t->fields[f], ':')[1];
            size_t nw;
            const char *const *wrong = hx_wrong_values(ty, &nw);
            for (size_t w = 0; w < nw; w++) {
                char *body = with_field(h, t->base, field, wrong[w]);
                snprintf(label, sizeof label, "%s %s %s", t->method, t->path, body);
                hx_send(h, HARNESS_CLIENT, label, t->method, path, h->bearer, NULL, body, strlen(body), ST(400));
                free(body);
            }
        }
        for (size_t q = 0; q < LEN(t->required) && t->required[q]; q++) {
            char *body = with_field(h, t->base, t->required[q], NULL);
            snprintf(label, sizeof label, "%s %s %s (no %s)", t->method, t->path, body, t->required[q]);
            hx_send(h, HARNESS_CLIENT, label, t->method, path, h->bearer, NULL, body, strlen(body), ST(400));
            free(body);
        }
    }
    hx_batch_end(h, false);
}

/* ---- sizes ---- */

static void batch_sizes(hx *h)
{
    hx_batch(h, "sizes");
    char path[256];
    size_t len;
    char *b = hx_long_field("", "name", 64 * 1024, 'a', &len);
    hx_call(h, HARNESS_CLIENT, "POST", "/v1/client/rooms", b, len, STC("too_large", 413));
    free(b);
    b = hx_long_field("\"access\":\"invite\",", "name", 101, 'a', &len);
    hx_call(h, HARNESS_CLIENT, "POST", "/v1/client/rooms", b, len, ST(400, 413));
    free(b);
    b = hx_long_field("", "name", 101, 'a', &len);
    hx_call(h, HARNESS_CLIENT, "PUT", "/v1/client/name", b, len, ST(400, 413));
    free(b);
    b = hx_long_field("", "name", 4097, 'a', &len);
    hx_call(h, HARNESS_CLIENT, "PUT", "/v1/client/name", b, len, ST(413));
    free(b);
    static const char *const names[] = {
        "{\"name\":\"\x80\x80\"}",        /* continuation bytes: not UTF-8 (raw, so JSON refuses it) */
        "{\"name\":\"\"}",                  /* empty */
        "{\"name\":\"a\\u0007b\"}",         /* a control character */
        "{\"name\":\"a\\nb\"}",             /* a newline */
        "{\"name\":\"a\\u001b[2Jb\"}",      /* a terminal escape */
        "{\"name\":\"\\u007f\"}",           /* DEL */
        "{\"name\":\"\\u0085x\"}",          /* C1 control */
    };
    for (size_t i = 0; i < LEN(names); i++)
        hx_call(h, HARNESS_CLIENT, "PUT", "/v1/client/name", names[i], strlen(names[i]), i ? STC("bad_request", 400) : ST(400));
    char euros[400];
    int eo = snprintf(euros, sizeof euros, "{\"name\":\"");
    for (int i = 0; i < 34; i++) /* 102 bytes of three-byte characters */
        eo += snprintf(euros + eo, sizeof euros - (size_t)eo, "\xe2\x82\xac");
    eo += snprintf(euros + eo, sizeof euros - (size_t)eo, "\"}");
    hx_call(h, HARNESS_CLIENT, "PUT", "/v1/client/name", euros, (size_t)eo, ST(400, 413));
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/big", h->room);
    b = hx_long_field("", "text", 16 * 1024 + 1, 'a', &len);
    hx_call(h, HARNESS_CLIENT, "PUT", path, b, len, ST(400, 413));
    free(b);
    b = hx_long_field("", "text", 1024 * 1024, 'a', &len);
    hx_call(h, HARNESS_CLIENT, "PUT", path, b, len, ST(413));
    free(b);
    b = hx_long_field("", "name", 16 * 1024, 'a', &len);
    hx_call(h, HARNESS_PEER, "POST", "/v1/handshake", b, len, ST(413));
    free(b);
    b = hx_long_field("", "box", 600 * 1024, 'A', &len);
    hx_call(h, HARNESS_PEER, "POST", "/v1/peer/ping", b, len, ST(413));
    free(b);
    /* Over the cap with no declared length: chunked, read and refused. */
    char *chunked = malloc(80 * 1024);
    int o = 0;
    for (int i = 0; i < 17; i++) {
        o += sprintf(chunked + o, "1000\r\n");
        memset(chunked + o, ' ', 4096);
        o += 4096;
        o += sprintf(chunked + o, "\r\n");
    }
    o += sprintf(chunked + o, "0\r\n\r\n");
    hx_send(h, HARNESS_CLIENT, "POST /v1/client/rooms, 68 KiB chunked", "POST", "/v1/client/rooms", h->bearer,
            "Transfer-Encoding: chunked\r\n", chunked, (size_t)o, STC("too_large", 413));
    free(chunked);
    hx_batch_end(h, false);
}

/* ---- unknown fields (last: ignoring them lets a request through) ---- */

static void batch_unknown_fields(hx *h)
{
    hx_batch(h, "unknown");
    static const struct {
        const char *method, *path, *base;
    } t[] = {
        {"POST", "/v1/client/rooms", "{\"name\":\"u\",\"access\":\"invite\"}"},
        {"PUT", "/v1/client/name", "{\"name\":\"renamed\"}"},
        {"POST", "/v1/client/peers/{peer}/trust", "{\"trusted\":false}"},
        {"PUT", "/v1/client/peers/{peer}/delivery", "{\"delivery\":\"poll\"}"},
        {"POST", "/v1/client/rooms/{room}/kick", "{\"peer\":\"{peer}\"}"},
        {"POST", "/v1/client/rooms/{room}/delivery", "{\"mode\":\"poll\"}"},
    };
    char path[256], label[512];
    for (size_t i = 0; i < LEN(t); i++) {
        hx_expand(h, t[i].path, path, sizeof path);
        char *body = with_field(h, t[i].base, "bogus_field", "1");
        snprintf(label, sizeof label, "%s %s %s", t[i].method, t[i].path, body);
        expect x = {.st = {400}, .msg_has = "bogus_field", .flags = X_EDGE};
        hx_send(h, HARNESS_CLIENT, label, t[i].method, path, h->bearer, NULL, body, strlen(body), x);
        free(body);
    }
    hx_batch_end(h, true);
}

/* ---- the test ---- */

START_TEST(hostile_input)
{
    hx h;
    hx_setup(&h, me);
    batch_methods(&h);
    batch_auth(&h);
    batch_paths(&h);
    batch_queries(&h);
    batch_headers(&h);
    batch_json(&h);
    batch_types(&h);
    batch_sizes(&h);
    hx_batch_handshake(&h);
    hx_batch_sealed(&h);
    batch_unknown_fields(&h);
    hx_report(&h);
    int fails = h.fails, edge_fails = h.edge_fails, cases = h.cases;
    bool pending = h.edge_pending;
    hx_teardown(&h);
    ck_assert_int_ge(cases, 500);
    ck_assert_msg(fails == 0, "%d of %d hostile cases failed (listed above)", fails, cases);
    ck_assert_msg(pending || edge_fails == 0, "%d [http-edge] cases failed (listed above)", edge_fails);
}
END_TEST

int test_setup(void)
{
    return rng_init() || identity_generate(&me, 2048) ? EXIT_FAILURE : TEST_GO;
}

int test_teardown(int failed)
{
    identity_free(me);
    return failed;
}

Suite *test_suite(void)
{
    Suite *s = suite_create("hostile_input");
    TCase *tc = tcase_create("hostile_input");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, hostile_input);
    suite_add_tcase(s, tc);
    return s;
}
