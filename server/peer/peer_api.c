/* peer_api.c - see peer_api.h and api-spec/protocol.md ("Handshake",
 * "Sealed channel"). */
#include "server/peer/peer_api.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/platform_util.h>

#include "common/json.h"
#include "common/log.h"
#include "common/ratelimit.h"
#include "common/waitq.h"
#include "common/text.h"
#include "crypto/encoding.h"
#include "storage/peers.h"
#include "server/channel/envelope.h"
#include "server/channel/handshake.h"
#include "server/core/presence.h"
#include "server/peer/peer_names.h"

#define SWEEP_INTERVAL_S 10
#define PEER_REFRESH_S 30 /* last_seen granularity for handshakes */
#define SID_HEX_LEN (2 * HS_SESSION_ID_LEN)

struct peer_api {
    session_table *sessions;
    pthread_t sweeper;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, started;
    ratelimit *hs_rate;        /* handshakes per source address; NULL: no limit */
    pthread_mutex_t hs_rate_mu; /* hs_rate */
    atomic_uint_fast64_t hs_ok, hs_refused, hs_rate_limited, sealed_ok, sealed_refused;
};

/* Sources tracked by the handshake rate: more addresses than a LAN has;
 * past it the least recently seen give way (ratelimit.h). */
#define HS_RATE_SLOTS 4096
/* A source may spend this many seconds' worth of handshakes at once. */
#define HS_RATE_BURST_S 4

struct peer_req {
    node *nd;
    http_req *http;
    const peer_route *route;
    http_params params;
    uint8_t peer[IDENTITY_ID_LEN];
    char peer_hex[IDENTITY_ID_HEX_LEN + 1];
    char sid_hex[SID_HEX_LEN + 1];
    uint64_t seq;
    const char *query;
    json_t *body;
    /* a long poll's wait (PEER_WAIT) */
    struct waitq *wait_q;
    uint64_t wait_gen;
    unsigned wait_ms;
    bool wait_over;
    http_ctx ctx;
};

/* ---- accessors ---- */

node *peer_req_node(const peer_req *rq) { return rq->nd; }
const uint8_t *peer_req_peer(const peer_req *rq) { return rq->peer; }
const char *peer_req_peer_hex(const peer_req *rq) { return rq->peer_hex; }
json_t *peer_req_body(const peer_req *rq) { return rq->body; }
const char *peer_req_session_hex(const peer_req *rq) { return rq->sid_hex; }
uint64_t peer_req_seq(const peer_req *rq) { return rq->seq; }
bool peer_req_wait_over(const peer_req *rq) { return rq->wait_over; }
void *peer_req_ctx(const peer_req *rq) { return rq->ctx.ctx; }
void peer_req_set_ctx(peer_req *rq, void *ctx, void (*fr)(void *)) { http_ctx_set(&rq->ctx, ctx, fr); }

int peer_req_wait(peer_req *rq, struct waitq *q, uint64_t gen, unsigned wait_ms)
{
    rq->wait_q = q;
    rq->wait_gen = gen;
    rq->wait_ms = wait_ms;
    return PEER_WAIT;
}

const char *peer_req_param(const peer_req *rq, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < rq->params.n; i++)
        if (rq->params.name_lens[i] == n && !memcmp(rq->params.names[i], name, n))
            return rq->params.values[i];
    return NULL;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* URL-decode src[0..n) into buf; false if it does not fit or is bad. */
static bool url_decode(const char *src, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n)
                return false;
            int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= cap || c == 0)
            return false;
        buf[o++] = c;
    }
    buf[o] = 0;
    return true;
}

/* The sealed query as a whole: every escape well formed and no byte,
 * raw or escaped, a NUL or control byte (peer_req_query would otherwise
 * take a value cut by one as absent). */
static bool query_ok(const char *q)
{
    for (size_t i = 0; q[i]; i++) {
        int c = (unsigned char)q[i];
        if (c == '%') {
            int hi = hexval(q[i + 1]), lo = hi < 0 ? -1 : hexval(q[i + 2]);
            if (lo < 0)
                return false;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

const char *peer_req_query(const peer_req *rq, const char *name, char *buf, size_t cap)
{
    const char *q = rq->query ? rq->query : "";
    size_t nl = strlen(name);
    while (*q) {
        const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);
        const char *eq = memchr(q, '=', (size_t)(end - q));
        const char *kend = eq ? eq : end;
        if ((size_t)(kend - q) == nl && !memcmp(q, name, nl)) {
            const char *v = eq ? eq + 1 : end;
            return url_decode(v, (size_t)(end - v), buf, cap) ? buf : NULL;
        }
        q = amp ? amp + 1 : end;
    }
    return NULL;
}

int peer_error(json_t **reply, int status, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    *reply = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    return status;
}

static struct peer_api *api_of(node *nd)
{
    return nd->peer_api;
}

/* ---- POST /v1/handshake ---- */

/* The key and name from a handshake. Not the address: see learn_address.
 * The source address counts only toward its cap of new peers. */
static void record_peer(node *nd, http_req *rq, const hs_accepted *acc, int64_t now, nt_err *rc,
                        int64_t *retry_after)
{
    const char *a = NULL; /* no address here: learn_address */
    const char *ip = http_req_remote_ip(rq);
    const char *name = acc->name[0] && text_name_valid(acc->name, strlen(acc->name)) ? acc->name : NULL;
    /* A peer seen a moment ago with the same name and address needs no
     * write (a commit is an fsync): busy peers handshake often. One known
     * only from multicast is written once: it is "handshake" from now on
     * (no longer capped and aged out with the multicast-only rows). */
    peer_info *known = malloc(sizeof(*known));
    bool fresh = known && !peers_get(nd->db, acc->peer_id, known) && now - known->last_seen < PEER_REFRESH_S &&
                 (!name || !strcmp(known->name, name)) && (!a || !strcmp(known->address, a)) &&
                 strcmp(known->source, "multicast") != 0;
    free(known);
    peers_sighting sg = {0};
    /* the name is the requestor's, from the transcript it signed */
    *rc = fresh ? NT_OK : peer_names_record(nd, acc->peer_key, name, a, "handshake", NULL, ip, now, &sg);
    *retry_after = sg.retry_after;
}

/* May this request's address start a handshake now? The check that comes
 * before any parsing: a handshake costs the node a signature. */
static bool handshake_rate_ok(struct peer_api *pa, http_req *rq)
{
    uint8_t key[16];
    size_t len = http_req_source_key(rq, key);
    if (!pa->hs_rate || !len)
        return true;
    pthread_mutex_lock(&pa->hs_rate_mu);
    bool ok = ratelimit_allow(pa->hs_rate, key, len, waitq_now_ms());
    pthread_mutex_unlock(&pa->hs_rate_mu);
    return ok;
}

/* The cap of new peers per source, looked at before the handshake's
 * signature is verified: an id this node does not know (or knows from
 * multicast only: the handshake would make its row lasting), from a source
 * at its cap, would be refused after the verify, the key agreement and the
 * signature of the reply (record_peer), so it is refused before them.
 * The id is the request's claim; a request without a well-formed one is
 * left to handshake_serve to refuse. */
static bool new_peer_ok(node *nd, http_req *rq, const json_t *req, int64_t now, int64_t *retry_after)
{
    const char *hex = json_string_value(json_object_get(req, "initiator_id"));
    uint8_t id[IDENTITY_ID_LEN];
    size_t n = 0;
    if (!hex || strlen(hex) != IDENTITY_ID_HEX_LEN ||
        encoding_hex_decode(hex, IDENTITY_ID_HEX_LEN, id, sizeof id, &n) || n != IDENTITY_ID_LEN)
        return true;
    return peers_may_add(nd->db, id, http_req_remote_ip(rq), (unsigned)nd->cfg->max_new_peers_per_source, now,
                         retry_after) != NT_ERR_BUSY;
}

/* The handshake proper, on a worker: its source was under its rate. */
static void serve_handshake(http_req *rq, node *nd, struct peer_api *pa)
{
    size_t len = 0;
    const char *text = http_req_body(rq, &len);
    json_t *req = NULL, *reply = NULL;
    char capped[24] = ""; /* Retry-After when the source is at its cap of new peers */
    hs_accepted acc;
    memset(&acc, 0, sizeof(acc));
    if (json_parse_object(text, len, JSON_DEPTH_DEFAULT, &req)) {
        atomic_fetch_add(&pa->hs_refused, 1);
        http_reply_error(rq, 400, "malformed", "handshake request is not a JSON object");
        return;
    }
    int64_t now = (int64_t)time(NULL);
    int64_t retry_after = 0;
    if (!new_peer_ok(nd, rq, req, now, &retry_after)) {
        json_decref(req);
        atomic_fetch_add(&pa->hs_refused, 1);
        snprintf(capped, sizeof capped, "%lld", (long long)retry_after);
        http_reply_header(rq, "Retry-After", capped);
        http_reply_error(rq, 429, "too_many_peers", "too many new peers from this address; retry later");
        return;
    }
    char name[TEXT_NAME_MAX + 1];
    node_name(nd, name);
    hs_server srv = {.self = nd->id, .name = name, .sessions = pa->sessions, .now = now};
    hs_status st = handshake_serve(&srv, req, &reply, &acc);
    if (st == HS_OK) {
        nt_err rc;
        record_peer(nd, rq, &acc, now, &rc, &retry_after);
        if (rc == NT_ERR_BUSY) {
            /* A source at its cap of new peers: undo the session. */
            if (session_drop(pa->sessions, acc.session_id))
                log_warn("handshake: session already gone");
            json_decref(reply);
            reply = NULL;
            snprintf(capped, sizeof capped, "%lld", (long long)retry_after);
        } else if (rc == NT_ERR_AUTH) {
            /* The id is pinned to another key: undo the session. */
            if (session_drop(pa->sessions, acc.session_id))
                log_warn("handshake: session already gone");
            json_decref(reply);
            reply = NULL;
            st = HS_E_KEY_MISMATCH;
        } else if (rc) {
            log_warn("handshake: could not record peer %.16s...: %s", json_string_value(json_object_get(req, "initiator_id")),
                     err_str(rc));
        }
    }
    if (capped[0]) {
        atomic_fetch_add(&pa->hs_refused, 1);
        http_reply_header(rq, "Retry-After", capped);
        http_reply_error(rq, 429, "too_many_peers", "too many new peers from this address; retry later");
    } else if (st) {
        atomic_fetch_add(&pa->hs_refused, 1);
        log_debug("handshake from %s refused: %s", http_req_remote(rq), handshake_code(st));
        http_reply_error(rq, (unsigned)handshake_http_status(st), handshake_code(st), "%s", handshake_message(st));
    } else {
        atomic_fetch_add(&pa->hs_ok, 1);
        http_reply_json(rq, 200, reply);
        reply = NULL;
    }
    json_decref(reply);
    json_decref(req);
    handshake_accepted_clear(&acc);
}

/* POST /v1/handshake runs first on the event thread, where a refusal
 * costs no worker and nothing is parsed: over its source's rate, 429.
 * Then it goes on to a worker, counted among the handshakes in progress
 * (HTTP_COSTLY): over --max-handshakes the HTTP core answers 503 before
 * it is queued, so a flood from many addresses, each under its rate, holds
 * at most that many workers and the sealed traffic of sessions already up
 * keeps the rest. */
static void post_handshake(http_req *rq, node *nd)
{
    struct peer_api *pa = api_of(nd);
    if (!pa) {
        http_reply_error(rq, 503, "busy", "peer channel not started");
        return;
    }
    if (!http_req_inline(rq)) {
        serve_handshake(rq, nd, pa);
        return;
    }
    if (!handshake_rate_ok(pa, rq)) {
        atomic_fetch_add(&pa->hs_rate_limited, 1);
        http_reply_header(rq, "Retry-After", "1");
        http_reply_error(rq, 429, "rate_limited", "too many handshakes from this address; retry later");
        return;
    }
    http_req_defer(rq);
}

/* ---- the sealed dispatcher ---- */

/* The requestor's address is learned from the first request of a session
 * (v not yet confirmed), the one that proves the authentication key, never
 * from the handshake: a captured handshake can be replayed from any
 * address (before the original arrives, or to a node that restarted and
 * forgot its nonces) and would move the peer there, while only the holder
 * of the session keys can confirm. The address is source-ip:port, port as
 * the requestor gave it in its signed handshake. */
static void learn_address(node *nd, http_req *rq, const session_view *v, int64_t now)
{
    char addr[PEERS_ADDR_MAX];
    const char *ip = http_req_remote_ip(rq);
    identity *key = NULL;
    if (v->confirmed || !v->port || !ip) /* confirmed before: learned then */
        return;
    snprintf(addr, sizeof(addr), strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, (unsigned)v->port);
    peer_info *known = malloc(sizeof(*known));
    /* Most sessions come from the address we have: no write (an fsync). */
    bool same = known && !peers_get(nd->db, v->peer, known) && !strcmp(known->address, addr);
    free(known);
    if (same)
        return;
    nt_err rc = peers_get_key(nd->db, v->peer, &key);
    if (!rc)
        rc = peers_observe(nd->db, key, NULL, addr, "handshake", NULL, now, NULL);
    if (rc)
        log_warn("peer: could not record the address %s of a peer: %s", addr, err_str(rc));
    identity_free(key);
}

static const peer_route *find_route(const char *method, const char *path, http_params *params, char *allow,
                                    size_t allow_cap)
{
    allow[0] = 0;
    for (size_t t = 0; peer_routes_all[t]; t++)
        for (const peer_route *r = peer_routes_all[t]; r->method; r++) {
            if (!http_match(r->pattern, path, params))
                continue;
            if (!strcmp(r->method, method))
                return r;
            if (!strstr(allow, r->method) && strlen(allow) + strlen(r->method) + 3 < allow_cap) {
                if (allow[0])
                    strcat(allow, ", ");
                strcat(allow, r->method);
            }
        }
    return NULL;
}

bool peer_route_resendable(const char *method, const char *path)
{
    char bare[ENVELOPE_PATH_MAX + 1], allow[64];
    http_params params;
    size_t n = strcspn(path, "?");
    if (!strcmp(method, "GET"))
        return true;
    if (n > ENVELOPE_PATH_MAX)
        return false;
    memcpy(bare, path, n);
    bare[n] = 0;
    const peer_route *r = find_route(method, bare, &params, allow, sizeof(allow));
    return r && (r->flags & PEER_RESEND);
}

/* The sealed route for method and path, or NULL after a 404, or a 405
 * with Allow listing the methods of that path. */
static const peer_route *route_or_refuse(http_req *rq, const char *method, const char *path, http_params *params)
{
    char allow[64];
    const peer_route *r = find_route(method, path, params, allow, sizeof(allow));
    if (r)
        return r;
    if (allow[0]) {
        http_reply_header(rq, "Allow", allow);
        http_reply_error(rq, 405, "method_not_allowed", "%s is not allowed here; use %s", method, allow);
    } else {
        http_reply_error(rq, 404, "not_found", "no such path");
    }
    return NULL;
}

static void refuse(http_req *rq, struct peer_api *pa, unsigned status, const char *code, const char *msg)
{
    atomic_fetch_add(&pa->sealed_refused, 1);
    http_reply_error(rq, status, code, "%s", msg);
}

/* Seal reply (stolen) and send it. */
static void send_sealed(http_req *rq, const session_view *v, const envelope *e, const char *method, const char *path,
                        int status, json_t *reply)
{
    char *pt = reply ? json_dumps(reply, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("{}");
    json_decref(reply);
    char *out = NULL;
    nt_err rc = pt ? envelope_seal(&v->s2c, ENVELOPE_S2C, e->session_id, e->seq, method, path, e->query, status,
                                   NULL, (const uint8_t *)pt, strlen(pt), &out)
                   : NT_ERR_NOMEM;
    if (pt) {
        mbedtls_platform_zeroize(pt, strlen(pt));
        free(pt);
    }
    if (rc) {
        log_error("peer: sealing a reply failed: %s", err_str(rc));
        http_reply_error(rq, 500, "internal", "could not seal the reply");
        return;
    }
    http_reply_raw(rq, (unsigned)status, "application/json", out, strlen(out));
    free(out);
}

/* An authenticated request: its plaintext (pt) checked and parsed into
 * pr->body (freed by the caller), then the route's handler. Returns the
 * status; *reply as peer_handler. */
static int run_handler(peer_req *pr, const peer_route *r, const uint8_t *pt, size_t pt_len, json_t **reply)
{
    size_t cap = r->body_max ? r->body_max : pr->nd->cfg->max_body;
    if (cap > PEER_PLAIN_MAX)
        cap = PEER_PLAIN_MAX;
    if (pt_len > cap)
        return peer_error(reply, 413, "too_large", "request body over %zu bytes", cap);
    if (!query_ok(pr->query))
        return peer_error(reply, 400, "bad_request", "the query holds a bad escape, a NUL or a control byte");
    if (pt_len && !pr->body && json_parse_object((const char *)pt, pt_len, JSON_DEPTH_DEFAULT, &pr->body))
        return peer_error(reply, 400, "malformed", "sealed body is not a JSON object");
    pr->wait_q = NULL;
    int status = r->fn(pr, reply);
    if (status == PEER_WAIT && pr->wait_q && !pr->wait_over)
        return status;
    if (status < 200 || status > 599) {
        log_error("peer: handler for %s %s returned status %d", r->method, r->pattern, status);
        json_decref(*reply);
        status = peer_error(reply, 500, "internal", "handler error");
    }
    return status;
}

/* Authenticate the sealed request e: its session is known and current,
 * its sequence number fresh, the envelope opens (plaintext into *pt,
 * owned by the caller, who also wipes *v) and the key is confirmed; then
 * the sequence number is taken. false when refused (answered). */
static bool open_sealed(http_req *rq, struct peer_api *pa, const char *method, const char *path, envelope *e,
                        int64_t now, session_view *v, uint8_t **pt, size_t *pt_len)
{
    nt_err rc = session_begin(pa->sessions, e->session_id, e->seq, now, v);
    if (rc == NT_ERR_NOT_FOUND || rc == NT_ERR_EXPIRED) {
        refuse(rq, pa, 401, rc == NT_ERR_EXPIRED ? "session_expired" : "unknown_session",
               rc == NT_ERR_EXPIRED ? "session expired: handshake again" : "no such session: handshake again");
        return false;
    }
    if (rc) {
        refuse(rq, pa, 409, "replayed", "sequence number already seen or too old");
        return false;
    }
    if (envelope_open(&v->c2s, e, ENVELOPE_C2S, method, path, NULL, pt, pt_len)) {
        refuse(rq, pa, 401, "bad_envelope", "envelope does not authenticate");
        return false;
    }
    if (!e->has_confirm && !v->confirmed) {
        refuse(rq, pa, 401, "key_confirmation_required", "first request on a session must confirm the key");
        return false;
    }
    if (e->has_confirm && mbedtls_ct_memcmp(e->confirm, v->confirm, KEYSCHED_CONFIRM_LEN)) {
        refuse(rq, pa, 401, "bad_key_confirmation", "key confirmation does not match");
        return false;
    }
    if ((rc = session_commit(pa->sessions, e->session_id, e->seq, now))) {
        if (rc == NT_ERR_REPLAY)
            refuse(rq, pa, 409, "replayed", "sequence number already seen");
        else
            refuse(rq, pa, 401, "unknown_session", "no such session: handshake again");
        return false;
    }
    return true;
}

/* An authenticated sealed request, kept while its handler waits (a long
 * poll runs again on the same opened request: its sequence number is
 * taken, so it could not be opened twice). */
typedef struct {
    peer_req pr;
    envelope e;
    session_view v;
    uint8_t *pt;
    size_t pt_len;
    bool opened;  /* authenticated and opened */
    bool settled; /* the peer's address learned and its presence marked */
} sealed_req;

static void sealed_req_free(void *arg)
{
    sealed_req *sr = arg;
    if (!sr)
        return;
    json_decref(sr->pr.body);
    http_ctx_clear(&sr->pr.ctx);
    if (sr->pt) {
        mbedtls_platform_zeroize(sr->pt, sr->pt_len);
        free(sr->pt);
    }
    session_view_wipe(&sr->v);
    envelope_clear(&sr->e);
    mbedtls_platform_zeroize(sr, sizeof *sr);
    free(sr);
}

/* Parse, authenticate and open rq into sr (its route found); false when
 * refused (answered). Only the session table's lock is taken. */
static bool sealed_open(http_req *rq, node *nd, struct peer_api *pa, sealed_req *sr)
{
    const char *method = http_req_method(rq), *path = http_req_path(rq);
    size_t len = 0;
    peer_req *pr = &sr->pr;
    const char *body = http_req_body(rq, &len);
    if (envelope_parse(body, len, ENVELOPE_C2S, &sr->e) || strlen(path) > ENVELOPE_PATH_MAX) {
        refuse(rq, pa, 400, "malformed_envelope", "body is not a sealed envelope");
        return false;
    }
    if (!open_sealed(rq, pa, method, path, &sr->e, (int64_t)time(NULL), &sr->v, &sr->pt, &sr->pt_len))
        return false;
    atomic_fetch_add(&pa->sealed_ok, 1);
    /* Authenticated from here on: every answer is sealed. */
    pr->nd = nd;
    memcpy(pr->peer, sr->v.peer, IDENTITY_ID_LEN);
    if (encoding_hex_encode(sr->v.peer, IDENTITY_ID_LEN, pr->peer_hex, sizeof(pr->peer_hex)) ||
        encoding_hex_encode(sr->e.session_id, HS_SESSION_ID_LEN, pr->sid_hex, sizeof(pr->sid_hex)))
        return false;
    pr->seq = sr->e.seq;
    pr->query = sr->e.query;
    sr->opened = true;
    return true;
}

/* What the request tells of its peer: the address of a new session, and
 * that the peer is up. May write the peer table and run the "peer is up"
 * callbacks, so not on the event thread unless there is nothing to do. */
static bool settle_needs_work(node *nd, const sealed_req *sr)
{
    return !sr->v.confirmed || presence_get(nd->presence, sr->v.peer) != PRESENCE_UP;
}

static void sealed_settle(http_req *rq, node *nd, sealed_req *sr)
{
    learn_address(nd, rq, &sr->v, (int64_t)time(NULL));
    /* The first request of a session proves the handshake was the peer's
     * own (a replayed handshake proves nothing): it completed now. */
    peer_names_presence(nd, sr->v.peer, true, !sr->v.confirmed,
                        sr->v.confirmed ? "sent a request" : "completed a handshake");
    sr->settled = true;
}

/* The first run finds the route, and the request is opened on the event
 * thread only for a quick route (PEER_QUICK); anything that may block runs
 * on a worker (http_req_defer), the opened request kept. */
static bool sealed_prepare(http_req *rq, node *nd, struct peer_api *pa, sealed_req *sr)
{
    if (!sr->pr.route &&
        !(sr->pr.route = route_or_refuse(rq, http_req_method(rq), http_req_path(rq), &sr->pr.params)))
        return false;
    bool here = http_req_inline(rq);
    if (here && !(sr->pr.route->flags & PEER_QUICK)) {
        http_req_defer(rq);
        return false;
    }
    if (!sr->opened && !sealed_open(rq, nd, pa, sr)) {
        if (!http_replied(rq))
            http_reply_error(rq, 500, "internal", "internal error");
        return false;
    }
    if (!sr->settled) {
        if (here && settle_needs_work(nd, sr)) {
            http_req_defer(rq);
            return false;
        }
        sealed_settle(rq, nd, sr);
    }
    return true;
}

static void sealed_dispatch(http_req *rq, node *nd)
{
    struct peer_api *pa = api_of(nd);
    sealed_req *sr = http_req_ctx(rq);
    if (!pa) {
        http_reply_error(rq, 503, "busy", "peer channel not started");
        return;
    }
    if (!sr) {
        if (!(sr = calloc(1, sizeof *sr))) {
            http_reply_error(rq, 503, "busy", "out of memory");
            return;
        }
        http_req_set_ctx(rq, sr, sealed_req_free);
    }
    if (!sealed_prepare(rq, nd, pa, sr))
        return;
    sr->pr.http = rq;
    sr->pr.wait_over = http_req_wait_over(rq);
    json_t *reply = NULL;
    int status = run_handler(&sr->pr, sr->pr.route, sr->pt, sr->pt_len, &reply);
    if (status == PEER_WAIT) {
        http_req_wait(rq, sr->pr.wait_q, sr->pr.wait_gen, sr->pr.wait_ms);
        return;
    }
    send_sealed(rq, &sr->v, &sr->e, http_req_method(rq), http_req_path(rq), status, reply);
    if (!http_replied(rq))
        http_reply_error(rq, 500, "internal", "internal error");
}

/* ---- POST /v1/peer/ping: a sealed echo with the server's view ---- */

static const json_field ping_fields[] = {JSON_FIELD("echo", JSON_F_ANY), JSON_FIELDS_END};

static int ping(peer_req *rq, json_t **reply)
{
    struct peer_api *pa = api_of(rq->nd);
    json_t *body = peer_req_body(rq);
    char msg[JSON_FIELD_MSG_MAX];
    if (json_check_fields(body, ping_fields, msg))
        return peer_error(reply, 400, "bad_request", "%s", msg);
    json_t *echo = body ? json_object_get(body, "echo") : NULL;
    session_info si[1];
    memset(si, 0, sizeof(si));
    uint8_t sid[HS_SESSION_ID_LEN];
    size_t got = 0;
    bool found = !encoding_hex_decode(rq->sid_hex, SID_HEX_LEN, sid, sizeof(sid), &got) &&
                 !session_info_get(pa->sessions, sid, (int64_t)time(NULL), si);
    char name[TEXT_NAME_MAX + 1];
    node_name(rq->nd, name);
    *reply = json_pack("{s:O?,s:s,s:s,s:s,s:I,s:b,s:I,s:I,s:I,s:I,s:I}", "echo", echo, "node_id", rq->nd->id_hex,
                       "peer", rq->peer_hex, "session", rq->sid_hex, "seq", (json_int_t)rq->seq, "confirmed", 1,
                       "requests", (json_int_t)(found ? si[0].requests : 0), "created",
                       (json_int_t)si[0].created, "expires_at", (json_int_t)si[0].expires_at, "idle_expires_at",
                       (json_int_t)si[0].idle_expires_at, "time", (json_int_t)time(NULL));
    if (!*reply)
        return peer_error(reply, 500, "internal", "out of memory");
    json_object_set_new(*reply, "name", json_string(name));
    return 200;
}

const peer_route peer_api_peer_routes[] = {
    {"POST", "/v1/peer/ping", ping, 4096, PEER_RESEND | PEER_QUICK},
    {0},
};

/* The HTTP layer sees every /v1/peer/... path of up to six segments under
 * any method and hands it to the dispatcher, which matches peer_routes_all
 * itself (404, and 405 with the route's own methods in Allow): modules
 * only write a peer_route table. */
#define SEALED(m)                                                                                       \
    {m, "/v1/peer/{s1}", HTTP_API_PEER, sealed_dispatch, PEER_ENVELOPE_HTTP_MAX, HTTP_ANY_QUERY, HTTP_INLINE},                     \
    {m, "/v1/peer/{s1}/{s2}", HTTP_API_PEER, sealed_dispatch, PEER_ENVELOPE_HTTP_MAX, HTTP_ANY_QUERY, HTTP_INLINE},                \
    {m, "/v1/peer/{s1}/{s2}/{s3}", HTTP_API_PEER, sealed_dispatch, PEER_ENVELOPE_HTTP_MAX, HTTP_ANY_QUERY, HTTP_INLINE},           \
    {m, "/v1/peer/{s1}/{s2}/{s3}/{s4}", HTTP_API_PEER, sealed_dispatch, PEER_ENVELOPE_HTTP_MAX, HTTP_ANY_QUERY, HTTP_INLINE},      \
    {m, "/v1/peer/{s1}/{s2}/{s3}/{s4}/{s5}", HTTP_API_PEER, sealed_dispatch, PEER_ENVELOPE_HTTP_MAX, HTTP_ANY_QUERY, HTTP_INLINE}, \
    {m, "/v1/peer/{s1}/{s2}/{s3}/{s4}/{s5}/{s6}", HTTP_API_PEER, sealed_dispatch, PEER_ENVELOPE_HTTP_MAX, HTTP_ANY_QUERY, HTTP_INLINE}

const http_route peer_api_routes[] = {
    {"POST", "/v1/handshake", HTTP_API_PEER, post_handshake, 16 * 1024, NULL, HTTP_INLINE | HTTP_COSTLY},
    /* opened on the event thread; a route that may block goes on to a worker */
    SEALED(HTTP_ANY_METHOD),
    {0},
};

/* ---- service ---- */

static void *sweeper_main(void *arg)
{
    pthread_setname_np(pthread_self(), "session-sweep");
    struct peer_api *pa = arg;
    pthread_mutex_lock(&pa->mu);
    while (!pa->stop) {
        struct timespec ts = waitq_deadline(SWEEP_INTERVAL_S * 1000);
        pthread_cond_timedwait(&pa->cv, &pa->mu, &ts);
        if (pa->stop)
            break;
        pthread_mutex_unlock(&pa->mu);
        /* Expired sessions lose their keys now, not at the next lookup. */
        (void)session_sweep(pa->sessions, (int64_t)time(NULL));
        pthread_mutex_lock(&pa->mu);
    }
    pthread_mutex_unlock(&pa->mu);
    return NULL;
}

nt_err peer_api_start(node *nd, char err[static NODE_ERR_MAX])
{
    struct peer_api *pa = calloc(1, sizeof(*pa));
    if (!pa) {
        snprintf(err, NODE_ERR_MAX, "peer channel: out of memory");
        return NT_ERR_NOMEM;
    }
    session_limits lim = {.idle = nd->cfg->session_idle,
                          .absolute = nd->cfg->session_max,
                          .max_sessions = nd->cfg->max_sessions,
                          .max_per_peer = nd->cfg->max_sessions_per_peer};
    nt_err rc = session_table_new(&pa->sessions, &lim);
    if (rc) {
        free(pa);
        snprintf(err, NODE_ERR_MAX, "peer channel: %s", err_str(rc));
        return rc;
    }
    unsigned long rate = nd->cfg->handshake_rate;
    ratelimit_config rlc = {.rate_per_s = (uint32_t)rate, .burst = (uint32_t)(rate * HS_RATE_BURST_S)};
    if (rate && (rc = ratelimit_new(&pa->hs_rate, &rlc, HS_RATE_SLOTS))) {
        session_table_free(pa->sessions);
        free(pa);
        snprintf(err, NODE_ERR_MAX, "peer channel: handshake rate: %s", err_str(rc));
        return rc;
    }
    pthread_mutex_init(&pa->hs_rate_mu, NULL);
    pthread_mutex_init(&pa->mu, NULL);
    waitq_cond_init(&pa->cv);
    if (pthread_create(&pa->sweeper, NULL, sweeper_main, pa)) {
        session_table_free(pa->sessions);
        ratelimit_free(pa->hs_rate);
        pthread_mutex_destroy(&pa->hs_rate_mu);
        free(pa);
        snprintf(err, NODE_ERR_MAX, "peer channel: cannot start a thread");
        return NT_ERR_NOMEM;
    }
    pa->started = true;
    nd->peer_api = pa;
    return NT_OK;
}

void peer_api_stop(node *nd)
{
    struct peer_api *pa = nd->peer_api;
    if (!pa)
        return;
    pthread_mutex_lock(&pa->mu);
    pa->stop = true;
    pthread_cond_signal(&pa->cv);
    pthread_mutex_unlock(&pa->mu);
    if (pa->started)
        pthread_join(pa->sweeper, NULL);
    session_table_free(pa->sessions); /* zeroes every key */
    ratelimit_free(pa->hs_rate);
    pthread_mutex_destroy(&pa->hs_rate_mu);
    pthread_cond_destroy(&pa->cv);
    pthread_mutex_destroy(&pa->mu);
    free(pa);
    nd->peer_api = NULL;
}

size_t peer_api_sessions(node *nd, const uint8_t peer[static IDENTITY_ID_LEN], session_info *out, size_t cap)
{
    struct peer_api *pa = api_of(nd);
    return pa ? session_list_peer(pa->sessions, peer, (int64_t)time(NULL), out, cap) : 0;
}

json_t *peer_api_status(node *nd)
{
    struct peer_api *pa = api_of(nd);
    if (!pa)
        return json_object();
    /* handshakes in progress are counted where they wait: the peer API's
     * workers (HTTP_COSTLY) */
    http_stats hs = {0};
    if (nd->peer_http)
        http_stats_get(nd->peer_http, &hs);
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "sessions",
                     (json_int_t)session_count(pa->sessions, NULL, (int64_t)time(NULL)), "handshakes_ok",
                     (json_int_t)atomic_load(&pa->hs_ok), "handshakes_refused", (json_int_t)atomic_load(&pa->hs_refused),
                     "handshakes_rate_limited", (json_int_t)atomic_load(&pa->hs_rate_limited), "handshakes_busy",
                     (json_int_t)hs.shed_costly, "handshakes_in_progress", (json_int_t)hs.costly, "max_handshakes",
                     (json_int_t)hs.max_costly, "sealed_ok", (json_int_t)atomic_load(&pa->sealed_ok), "sealed_refused",
                     (json_int_t)atomic_load(&pa->sealed_refused));
}
