/* hostile_runner.c - see hostile.h. */
#include "hostile.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto/encoding.h"
#include "server/channel/envelope.h"

static const int DOCUMENTED[] = {400, 401, 403, 404, 405, 409, 411, 413, 414, 415, 421, 429, 431, 503, 0};

/* ---- the log of failures ---- */

static void append(char **buf, size_t *len, const char *fmt, ...)
{
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t add = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    char *b = realloc(*buf, *len + add + 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b + *len, line, add + 1);
    *buf = b;
    *len += add;
}

static void record(hx *h, const char *label, const expect *x, const char *why, int status)
{
    bool edge = x->flags & X_EDGE;
    h->cases++;
    h->edge_cases += edge;
    if (h->verbose)
        fprintf(stderr, "  %-10s %3d %s%s%s\n", h->batch, status, label, why[0] ? "  FAIL: " : "", why);
    snprintf(h->prev, sizeof h->prev, "%s", label);
    if (!why[0])
        return;
    if (edge)
        h->edge_fails++;
    else
        h->fails++;
    append(&h->log, &h->log_len, "  %s[%s] %s: %s\n", edge ? "[http-edge] " : "", h->batch, label, why);
}

/* ---- judging one answer ---- */

static bool in_list(const int *l, size_t cap, int st)
{
    for (size_t i = 0; i < cap && l[i]; i++)
        if (l[i] == st)
            return true;
    return false;
}

static bool status_ok(const expect *x, int st)
{
    if (st == 500)
        return false;
    if (x->st[0])
        return in_list(x->st, HX_ST_MAX, st);
    return in_list(DOCUMENTED, sizeof DOCUMENTED / sizeof DOCUMENTED[0], st);
}

static const char *want_str(const expect *x, char *buf, size_t cap)
{
    if (!x->st[0])
        return "a documented error";
    buf[0] = '\0';
    for (size_t i = 0; i < HX_ST_MAX && x->st[i]; i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%d", i ? "/" : "", x->st[i]);
    return buf;
}

/* Allow headers equal as sets of methods. */
static bool allow_equal(const char *a, const char *b)
{
    char x[128], y[128], *s = NULL;
    size_t nx = 0, ny = 0;
    snprintf(x, sizeof x, "%s", a);
    snprintf(y, sizeof y, "%s", b);
    for (char *t = strtok_r(x, ", ", &s); t; t = strtok_r(NULL, ", ", &s), nx++)
        if (!strstr(b, t))
            return false;
    for (char *t = strtok_r(y, ", ", &s); t; t = strtok_r(NULL, ", ", &s), ny++)
        if (!strstr(a, t))
            return false;
    return nx == ny;
}

static void judge_error_json(const expect *x, const raw_resp *r, const json_t *j, char *why, size_t cap)
{
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    char allow[128];
    if (!json_is_object(j) || json_object_size(j) != 1 || !code || !msg)
        snprintf(why, cap, "status %d, not a JSON error object: %.120s", r->status, r->body);
    else if (x->code && strcmp(code, x->code) != 0)
        snprintf(why, cap, "status %d code %s (want %s): %s", r->status, code, x->code, msg);
    else if (x->msg_has && !strstr(msg, x->msg_has))
        snprintf(why, cap, "status %d message \"%s\" does not name \"%s\"", r->status, msg, x->msg_has);
    else if (x->allow && !raw_header(r, "Allow", allow, sizeof allow))
        snprintf(why, cap, "status %d without Allow (want %s)", r->status, x->allow);
    else if (x->allow && !allow_equal(allow, x->allow))
        snprintf(why, cap, "Allow: %s (want %s)", allow, x->allow);
}

/* A sealed answer: open it with the live session, judge the JSON inside. */
static void judge_sealed(hx *h, const expect *x, const raw_resp *r, char *why, size_t cap)
{
    envelope e;
    uint8_t *pt = NULL;
    size_t n = 0;
    json_error_t jerr;
    if (envelope_parse(r->body, r->body_len, ENVELOPE_S2C, &e)) {
        snprintf(why, cap, "status %d, not a sealed answer: %.120s", r->status, r->body);
        return;
    }
    if (envelope_open(&h->s.s2c, &e, ENVELOPE_S2C, h->method, h->path, NULL, &pt, &n) || e.status != r->status) {
        snprintf(why, cap, "status %d, sealed answer does not open (inner status %d)", r->status, e.status);
    } else {
        json_t *j = json_loadb((const char *)pt, n, 0, &jerr);
        if (r->status >= 300)
            judge_error_json(x, r, j, why, cap);
        else if (!j)
            snprintf(why, cap, "status %d, sealed body not JSON", r->status);
        json_decref(j);
    }
    free(pt);
    envelope_clear(&e);
}

static void judge_body(hx *h, const expect *x, const raw_resp *r, char *why, size_t cap)
{
    char ctype[96] = "";
    raw_header(r, "Content-Type", ctype, sizeof ctype);
    bool is_json = strncmp(ctype, "application/json", 16) == 0;
    if ((x->flags & X_MHD) && !is_json) {
        if (!r->closed && !r->conn_close)
            snprintf(why, cap, "status %d from libmicrohttpd, connection left open", r->status);
        h->mhd_cases++;
        append(&h->mhd_log, &h->mhd_len, "  %-44.44s -> %d%s\n", h->prev, r->status,
               r->closed || r->conn_close ? ", closed" : "");
        return;
    }
    if (x->flags & X_SEALED) {
        judge_sealed(h, x, r, why, cap);
        return;
    }
    json_error_t jerr;
    json_t *j = json_loadb(r->body, r->body_len, 0, &jerr);
    if (!j || !is_json)
        snprintf(why, cap, "status %d, body not JSON (%s): %.120s", r->status, ctype, r->body);
    else if (r->status >= 300)
        judge_error_json(x, r, j, why, cap);
    json_decref(j);
}

static void judge(hx *h, const expect *x, const raw_resp *r, int rc, char *why, size_t cap)
{
    char w[32];
    why[0] = '\0';
    if ((rc != 0 || r->status == 0) && (x->flags & X_SILENT)) {
        h->mhd_cases++;
        append(&h->mhd_log, &h->mhd_len, "  %-44.44s -> no answer, %s\n", h->prev,
               r->closed ? "closed" : "still open when the test gave up");
    } else if (rc != 0 || r->status == 0)
        snprintf(why, cap, "no response (%s)", r->timed_out ? "timed out" : r->reset ? "reset" : "closed");
    else if (r->stale)
        snprintf(why, cap, "%zu bytes were still coming from the request before (double framing)", r->stale);
    else if (r->status_lines != 1 || r->extra)
        snprintf(why, cap, "double framing: %d status lines, %zu bytes after the body", r->status_lines, r->extra);
    else if (r->timed_out)
        snprintf(why, cap, "status %d but the body never completed", r->status);
    else if (!(x->flags & X_MHD) && r->content_length != (long)r->body_len)
        snprintf(why, cap, "Content-Length %ld, %zu body bytes", r->content_length, r->body_len);
    else if (!status_ok(x, r->status))
        snprintf(why, cap, "status %d (want %s): %.160s", r->status, want_str(x, w, sizeof w), r->body ? r->body : "");
    else
        judge_body(h, x, r, why, cap);
}

/* ---- sending ---- */

int hx_raw(hx *h, harness_api api, const char *label, const void *req, size_t len, expect x)
{
    raw_resp *r = calloc(1, sizeof *r);
    char why[640];
    ck_assert_ptr_nonnull(r);
    snprintf(h->prev, sizeof h->prev, "%s", label);
    int rc = raw_exchange(&h->conn[api == HARNESS_CLIENT], req, len, x.timeout_ms ? x.timeout_ms : HX_IO_MS, false, r);
    judge(h, &x, r, rc, why, sizeof why);
    int status = r->status;
    record(h, label, &x, why, status);
    raw_resp_free(r);
    free(r);
    return status;
}

int hx_send(hx *h, harness_api api, const char *label, const char *method, const char *target, const char *auth,
             const char *headers, const char *body, size_t blen, expect x)
{
    size_t cap = strlen(method) + strlen(target) + (auth ? strlen(auth) : 0) + (headers ? strlen(headers) : 0) +
                 blen + 256;
    char *req = malloc(cap);
    ck_assert_ptr_nonnull(req);
    int n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method, target);
    if (auth)
        n += snprintf(req + n, cap - (size_t)n, "Authorization: %s\r\n", auth);
    if (headers)
        n += snprintf(req + n, cap - (size_t)n, "%s", headers);
    bool framed = headers && (strcasestr(headers, "Content-Length:") || strcasestr(headers, "Transfer-Encoding:"));
    if (body && !framed)
        n += snprintf(req + n, cap - (size_t)n, "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
    n += snprintf(req + n, cap - (size_t)n, "\r\n");
    if (body)
        memcpy(req + n, body, blen);
    int status = hx_raw(h, api, label, req, (size_t)n + (body ? blen : 0), x);
    free(req);
    return status;
}

void hx_call(hx *h, harness_api api, const char *method, const char *target, const char *body, size_t blen,
             expect x)
{
    char label[160];
    snprintf(label, sizeof label, "%s %.100s%s%.40s", method, target, body ? " " : "", body ? body : "");
    for (char *c = label; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            *c = '?';
    hx_send(h, api, label, method, target, api == HARNESS_CLIENT ? h->bearer : NULL, NULL, body, blen, x);
}

void hx_expand(const hx *h, const char *pattern, char *out, size_t cap)
{
    static const char xroom[] = "0123456789abcdef0123456789abcdef"; /* a room nobody has */
    size_t o = 0;
    for (const char *p = pattern; *p && o + 1 < cap;) {
        const char *v = !strncmp(p, "{peer}", 6) ? h->me_hex : !strncmp(p, "{room}", 6) ? h->room : NULL;
        size_t skip = 6;
        if (!strncmp(p, "{xroom}", 7))
            v = xroom, skip = 7;
        if (v) {
            o += (size_t)snprintf(out + o, cap - o, "%s", v);
            p += skip;
        } else {
            out[o++] = *p++;
        }
    }
    out[o < cap ? o : cap - 1] = '\0';
}

/* ---- the live session ---- */

char *hx_envelope(hx *h, const char *method, const char *path, uint64_t seq, const char *pt, size_t pt_len)
{
    char *j = NULL;
    if (!seq)
        seq = ++h->seq;
    ck_assert_int_eq(envelope_seal(&h->s.c2s, ENVELOPE_C2S, h->s.session_id, seq, method, path, NULL, 0,
                                   seq == 1 ? h->s.confirm : NULL, (const uint8_t *)pt, pt_len, &j),
                     NT_OK);
    return j;
}

void hx_sealed(hx *h, const char *label, const char *method, const char *path, const char *pt, size_t pt_len,
               expect x)
{
    char *env = hx_envelope(h, method, path, 0, pt, pt_len);
    snprintf(h->method, sizeof h->method, "%s", method);
    snprintf(h->path, sizeof h->path, "%s", path);
    x.flags |= X_SEALED;
    hx_send(h, HARNESS_PEER, label, method, path, NULL, NULL, env, strlen(env), x);
    free(env);
}

/* ---- state ---- */

static json_t *get_json(hx *h, const char *path)
{
    harness_resp r;
    ck_assert_int_eq(harness_get(&h->n, HARNESS_CLIENT, path, &r), 0);
    ck_assert_msg(r.status == 200, "GET %s: %ld %s", path, r.status, r.body);
    json_t *j = json_incref(r.json);
    harness_resp_free(&r);
    return j;
}

/* What no hostile request may change; the fields that move by themselves
 * (clocks, sessions, presence) are left out. */
static json_t *take_state(hx *h)
{
    json_t *peers = get_json(h, "/v1/client/peers"), *rooms = get_json(h, "/v1/client/rooms");
    json_t *status = get_json(h, "/v1/client/status");
    json_t *arr = json_object_get(peers, "peers"), *p;
    size_t i;
    json_array_foreach(arr, i, p) {
        json_object_del(p, "last_seen");
        json_object_del(p, "online");
        json_object_del(p, "session");
        json_object_del(p, "instance_id");
    }
    json_t *st = json_pack("{s:O,s:O,s:O}", "peers", arr, "rooms", json_object_get(rooms, "rooms"), "name",
                           json_object_get(status, "name"));
    ck_assert_ptr_nonnull(st);
    json_decref(peers), json_decref(rooms), json_decref(status);
    return st;
}

void hx_batch(hx *h, const char *name)
{
    h->batch = name;
}

void hx_batch_end(hx *h, bool edge)
{
    expect ok = ST(200);
    ok.flags = edge ? X_EDGE : 0;
    char label[64];
    snprintf(label, sizeof label, "after the batch: GET /v1/health");
    hx_send(h, HARNESS_PEER, label, "GET", "/v1/health", NULL, NULL, NULL, 0, ok);
    json_t *now = take_state(h);
    if (!json_equal(now, h->state)) {
        char *a = json_dumps(h->state, JSON_COMPACT), *b = json_dumps(now, JSON_COMPACT);
        char why[640];
        snprintf(why, sizeof why, "state changed: before %.280s after %.280s", a, b);
        record(h, "after the batch: peers, rooms and name unchanged", &ok, why, 0);
        free(a), free(b);
        json_decref(h->state);
        h->state = json_incref(now);
    } else {
        record(h, "after the batch: peers, rooms and name unchanged", &ok, "", 200);
    }
    json_decref(now);
}

/* ---- setup ---- */

static void make_room(hx *h)
{
    harness_resp r;
    ck_assert_int_eq(harness_post(&h->n, HARNESS_CLIENT, "/v1/client/rooms", "{\"name\":\"hostile\",\"access\":\"invite\"}",
                                  &r), 0);
    ck_assert_msg(r.status == 201, "create room: %ld %s", r.status, r.body);
    snprintf(h->room, sizeof h->room, "%s", json_string_value(json_object_get(r.json, "id")));
    ck_assert_uint_eq(strlen(h->room), 32);
    harness_resp_free(&r);
}

static void open_session(hx *h)
{
    json_t *node = get_json(h, "/v1/client/status"), *req = NULL;
    harness_resp r;
    hs_pending *p = NULL;
    ck_assert_int_eq(harness_get(&h->n, HARNESS_PEER, "/v1/node", &r), 0);
    const char *pem = json_string_value(json_object_get(r.json, "public_key"));
    ck_assert_int_eq(identity_from_pem(&h->srv_key, pem, strlen(pem) + 1), NT_OK);
    memcpy(h->srv_id, identity_id(h->srv_key), IDENTITY_ID_LEN);
    harness_resp_free(&r);
    json_decref(node);
    ck_assert_int_eq(handshake_start(h->me, "tester", 0, h->srv_id, HS_MODE_ECDH, ECDH_X25519, (int64_t)time(NULL),
                                     &p, &req),
                     NT_OK);
    char *body = json_dumps(req, JSON_COMPACT);
    ck_assert_int_eq(harness_post(&h->n, HARNESS_PEER, "/v1/handshake", body, &r), 0);
    ck_assert_msg(r.status == 200, "handshake: %ld %s", r.status, r.body);
    ck_assert_int_eq(handshake_finish(p, h->srv_key, r.json, (int64_t)time(NULL), &h->s), NT_OK);
    harness_resp_free(&r);
    handshake_pending_free(p);
    free(body);
    h->hs_req = req;
    /* The first sealed request confirms the key. */
    char *env = hx_envelope(h, "POST", "/v1/peer/ping", 0, "{}", 2);
    ck_assert_int_eq(harness_post(&h->n, HARNESS_PEER, "/v1/peer/ping", env, &r), 0);
    ck_assert_msg(r.status == 200, "sealed ping: %ld %s", r.status, r.body);
    harness_resp_free(&r);
    free(env);
}

void hx_setup(hx *h, identity *me)
{
    memset(h, 0, sizeof *h);
    h->me = me;
    h->edge_pending = getenv("HOSTILE_EDGE_PENDING") && !strcmp(getenv("HOSTILE_EDGE_PENDING"), "1");
    h->verbose = getenv("HOSTILE_VERBOSE") && !strcmp(getenv("HOSTILE_VERBOSE"), "1");
    /* every hostile request comes from 127.0.0.1, and the point is what the
     * parser behind the per-address handshake rate makes of each
     * (test_conns covers the rate itself) */
    const char *args[] = {"--handshake-rate", "0", NULL};
    ck_assert_int_eq(harness_start(&h->n, "hostile", args), 0);
    ck_assert_int_eq(encoding_hex_encode(identity_id(me), IDENTITY_ID_LEN, h->me_hex, sizeof h->me_hex), NT_OK);
    snprintf(h->bearer, sizeof h->bearer, "Bearer %s", h->n.token);
    raw_conn_init(&h->conn[0], h->n.peer_port);
    raw_conn_init(&h->conn[1], h->n.client_port);
    make_room(h);
    open_session(h);
    h->state = take_state(h);
    h->batch = "setup";
}

void hx_teardown(hx *h)
{
    raw_conn_close(&h->conn[0]);
    raw_conn_close(&h->conn[1]);
    if (h->fails || h->edge_fails)
        harness_dump_log(&h->n);
    harness_cleanup(&h->n);
    identity_free(h->srv_key);
    handshake_session_wipe(&h->s);
    json_decref(h->hs_req);
    json_decref(h->state);
    free(h->log);
    free(h->mhd_log);
}

void hx_report(hx *h)
{
    /* A clean exit too: under sanitizers a leak or an error shows here. */
    int st = harness_stop(&h->n);
    char why[64] = "";
    if (st != 0)
        snprintf(why, sizeof why, "natterd exited with status %d (its log follows)", st);
    h->batch = "stop";
    record(h, "SIGTERM: natterd exits 0", &ST(0), why, st);
    fprintf(stderr, "hostile input: %d cases (%d [http-edge]); %d failed, %d [http-edge] failed%s\n", h->cases,
            h->edge_cases, h->fails, h->edge_fails, h->edge_pending ? " (pending: not counted)" : "");
    if (h->mhd_log)
        fprintf(stderr, "answered by libmicrohttpd itself (%d):\n%s", h->mhd_cases, h->mhd_log);
    if (h->log)
        fprintf(stderr, "failures:\n%s", h->log);
}
