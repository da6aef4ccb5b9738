/* peerlink.c - see peerlink.h and api-spec/protocol.md. */
#include "server/peer/peerlink.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mbedtls/platform_util.h>

#include "common/json.h"
#include "common/log.h"
#include "common/text.h"
#include "crypto/encoding.h"
#include "storage/peers.h"
#include "server/channel/envelope.h"
#include "server/channel/handshake.h"
#include "server/peer/peer_api.h"
#include "server/peer/peer_names.h"
#include "server/core/source_addr.h"

#define EXPIRY_MARGIN_S 2 /* re-handshake this long before the peer would drop us */
#define URL_MAX (16 + PEERS_ADDR_MAX + ENVELOPE_PATH_MAX)
#define SID_HEX_LEN (2 * HS_SESSION_ID_LEN)

/* Our session towards one peer. */
typedef struct link {
    struct link *next;
    uint8_t id[IDENTITY_ID_LEN];
    pthread_mutex_t hs_mu; /* one handshake at a time per peer */
    pthread_mutex_t mu;    /* guards everything below */
    bool up, confirmed;
    hs_session s;
    uint64_t next_seq, requests;
    unsigned gen;          /* bumped for every new session */
    int64_t established, abs_deadline, last_used, last_ok;
    char last_error[PEERLINK_ERR_MAX];
} link;

struct peerlink {
    node *nd;           /* borrowed: for node_stopping() */
    source_addr src;    /* where our calls leave from (source_addr.h) */
    pthread_mutex_t mu; /* guards links */
    link *links;
    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- libcurl plumbing ---- */

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *ud)
{
    struct peerlink *pl = ud;
    (void)h;
    (void)a;
    pthread_mutex_lock(&pl->share_mu[d < CURL_LOCK_DATA_LAST ? d : 0]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *ud)
{
    struct peerlink *pl = ud;
    (void)h;
    pthread_mutex_unlock(&pl->share_mu[d < CURL_LOCK_DATA_LAST ? d : 0]);
}

typedef struct {
    char *data;
    size_t len, cap;
    bool over;
} rbuf;

static size_t on_write(char *p, size_t sz, size_t nm, void *ud)
{
    rbuf *b = ud;
    size_t n = sz * nm;
    if (b->over || n > PEERLINK_RESPONSE_MAX - b->len) {
        b->over = true;
        return 0; /* aborts the transfer */
    }
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *nd = realloc(b->data, nc);
        if (!nd)
            return 0;
        b->data = nd;
        b->cap = nc;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return n;
}

static void rbuf_free(rbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* A transfer in progress ends early when the node stops, so a long poll
 * to a peer does not hold up the shutdown for its whole wait. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    struct peerlink *pl = ud;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return pl->nd && node_stopping(pl->nd) ? 1 : 0;
}

/* An easy handle for one request; body may be NULL (no body). */
static CURL *easy_new(struct peerlink *pl, const char *method, const char *url, const char *body, int timeout_ms,
                      rbuf *rb, struct curl_slist *hdrs)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_SHARE, pl->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 5000 ? timeout_ms : 5000));
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)PEERLINK_RESPONSE_MAX);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, rb);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, pl);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    source_addr_bind(&pl->src, h, url);
    if (hdrs)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    if (strcmp(method, body ? "POST" : "GET"))
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    return h;
}

static nt_err curl_rc(CURLcode c)
{
    return c == CURLE_OK ? NT_OK : c == CURLE_OPERATION_TIMEDOUT ? NT_ERR_TIMEOUT
                         : c == CURLE_WRITE_ERROR || c == CURLE_FILESIZE_EXCEEDED ? NT_ERR_TOO_BIG
                                                                                 : NT_ERR_NET;
}

/* One blocking exchange. *status set when an answer came. */
static nt_err http_do(struct peerlink *pl, const char *method, const char *url, const char *body, int timeout_ms,
                      long *status, rbuf *rb)
{
    struct curl_slist *hdrs = body ? curl_slist_append(NULL, "Content-Type: application/json") : NULL;
    *status = 0;
    CURL *h = easy_new(pl, method, url, body, timeout_ms, rb, hdrs);
    nt_err rc = NT_ERR_NOMEM;
    if (h) {
        rc = curl_rc(curl_easy_perform(h));
        if (rb->over)
            rc = NT_ERR_TOO_BIG;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        curl_easy_cleanup(h);
    }
    curl_slist_free_all(hdrs);
    return rc;
}

/* ---- links ---- */

static struct peerlink *pl_of(node *n)
{
    return n->peerlink;
}

static link *link_get(struct peerlink *pl, const uint8_t *id, bool create)
{
    pthread_mutex_lock(&pl->mu);
    link *l = pl->links;
    while (l && memcmp(l->id, id, IDENTITY_ID_LEN))
        l = l->next;
    if (!l && create && (l = calloc(1, sizeof(*l)))) {
        memcpy(l->id, id, IDENTITY_ID_LEN);
        pthread_mutex_init(&l->mu, NULL);
        pthread_mutex_init(&l->hs_mu, NULL);
        l->next = pl->links;
        pl->links = l;
    }
    pthread_mutex_unlock(&pl->mu);
    return l; /* links live until peerlink_stop */
}

static void set_error(link *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(link *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&l->mu);
    vsnprintf(l->last_error, sizeof(l->last_error), fmt, ap);
    pthread_mutex_unlock(&l->mu);
    va_end(ap);
}

/* Lock held. The margin shrinks for very short (test) lifetimes. */
static bool link_usable(const link *l, int64_t now)
{
    int64_t margin = l->s.idle_timeout >= 10 * EXPIRY_MARGIN_S ? EXPIRY_MARGIN_S : 0;
    return l->up && now < l->abs_deadline - margin && now < l->last_used + (int64_t)l->s.idle_timeout - margin;
}

/* Lock held. */
static void link_drop(link *l)
{
    handshake_session_wipe(&l->s);
    l->up = false;
    l->confirmed = false;
}

/* ---- peers and handshakes ---- */

static nt_err lookup_peer(node *n, const uint8_t *id, char addr[static PEERS_ADDR_MAX], identity **key)
{
    peer_info *p = malloc(sizeof(*p));
    if (!p)
        return NT_ERR_NOMEM;
    nt_err rc = peers_get(n->db, id, p);
    if (!rc && !p->address[0])
        rc = NT_ERR_STATE;
    if (!rc)
        rc = identity_from_der(key, p->pub_der, p->pub_der_len);
    if (!rc && memcmp(identity_id(*key), id, IDENTITY_ID_LEN)) {
        identity_free(*key);
        *key = NULL;
        rc = NT_ERR_AUTH;
    }
    if (!rc)
        memcpy(addr, p->address, PEERS_ADDR_MAX);
    free(p);
    return rc;
}

/* The peer's address and pinned key (lookup_peer) and its link, made if
 * new. On failure nothing is left for the caller to free. */
static nt_err lookup_link(struct peerlink *pl, node *n, const uint8_t *id, char addr[static PEERS_ADDR_MAX],
                          identity **key, link **l)
{
    nt_err rc = lookup_peer(n, id, addr, key);
    if (rc)
        return rc;
    if (!(*l = link_get(pl, id, true))) {
        identity_free(*key);
        *key = NULL;
        return NT_ERR_NOMEM;
    }
    return NT_OK;
}

static nt_err parse_mode(const char *mode, uint8_t *m, ecdh_curve *c)
{
    *c = ECDH_X25519;
    if (!mode || !strcmp(mode, "ecdh") || !strcmp(mode, "ecdh-x25519"))
        *m = HS_MODE_ECDH;
    else if (!strcmp(mode, "ecdh-p256"))
        *m = HS_MODE_ECDH, *c = ECDH_P256;
    else if (!strcmp(mode, "rsa"))
        *m = HS_MODE_RSA;
    else
        return NT_ERR_INVALID;
    return NT_OK;
}

static uint16_t our_port(node *n)
{
    const char *c = strrchr(n->peer_addr, ':');
    long p = c ? strtol(c + 1, NULL, 10) : 0;
    return p > 0 && p <= 65535 ? (uint16_t)p : 0;
}

nt_err peerlink_fetch_node(node *n, const char *address, const uint8_t *expected_id, identity **pub,
                           char name[static HS_NAME_MAX + 1], int timeout_ms)
{
    struct peerlink *pl = pl_of(n);
    char url[URL_MAX];
    rbuf rb = {0};
    long status = 0;
    json_t *o = NULL;
    *pub = NULL;
    name[0] = 0;
    if (!pl)
        return NT_ERR_STATE;
    if (!address || strlen(address) >= PEERS_ADDR_MAX || strpbrk(address, "/?#@ "))
        return NT_ERR_INVALID;
    snprintf(url, sizeof(url), "http://%s/v1/node", address);
    nt_err rc = http_do(pl, "GET", url, NULL, timeout_ms, &status, &rb);
    if (rc)
        goto out;
    rc = NT_ERR_NET;
    if (status != 200 || json_parse_object(rb.data ? rb.data : "", rb.len, JSON_DEPTH_DEFAULT, &o))
        goto out;
    const char *pem = json_string_value(json_object_get(o, "public_key"));
    const char *id_hex = json_string_value(json_object_get(o, "node_id"));
    const char *nm = json_string_value(json_object_get(o, "name"));
    uint8_t id[IDENTITY_ID_LEN];
    rc = NT_ERR_AUTH;
    if (!pem || !id_hex || peers_id_parse(id_hex, id) || identity_from_pem(pub, pem, strlen(pem) + 1))
        goto out;
    /* Self-certifying: the key must hash to the id it came with, and that
     * must be the id we meant to reach. */
    if (memcmp(identity_id(*pub), id, IDENTITY_ID_LEN) ||
        (expected_id && memcmp(id, expected_id, IDENTITY_ID_LEN)))
        goto out;
    if (nm && strlen(nm) <= HS_NAME_MAX && text_name_valid(nm, strlen(nm)))
        memcpy(name, nm, strlen(nm) + 1);
    rc = NT_OK;
out:
    if (rc) {
        identity_free(*pub);
        *pub = NULL;
    }
    json_decref(o);
    rbuf_free(&rb);
    return rc;
}

static nt_err status_to_err(long status)
{
    switch (status) {
    case 401: case 403: case 421: return NT_ERR_AUTH;
    case 409: return NT_ERR_REPLAY;
    case 429: case 503: return NT_ERR_BUSY;
    case 404: case 405: return NT_ERR_NOT_FOUND;
    case 413: return NT_ERR_TOO_BIG;
    default: return NT_ERR_NET;
    }
}

/* The error.code of a plaintext JSON error, into code (or ""). */
static void error_code(const rbuf *rb, char *code, size_t cap)
{
    json_t *o = NULL;
    code[0] = 0;
    if (rb->data && !json_parse_object(rb->data, rb->len, JSON_DEPTH_DEFAULT, &o)) {
        const char *c = json_string_value(json_object_get(json_object_get(o, "error"), "code"));
        if (c)
            snprintf(code, cap, "%s", c);
    }
    json_decref(o);
}

/* Run one handshake with the peer at addr and install the session. */
static nt_err do_handshake(node *n, link *l, const char *addr, const identity *pinned, const char *mode,
                           int timeout_ms)
{
    struct peerlink *pl = pl_of(n);
    identity *pub = NULL;
    hs_pending *p = NULL;
    json_t *req = NULL, *reply = NULL;
    char *body = NULL, url[URL_MAX], name[HS_NAME_MAX + 1], code[64] = "";
    rbuf rb = {0};
    long status = 0;
    uint8_t m;
    ecdh_curve c;
    hs_session s;
    memset(&s, 0, sizeof(s));
    nt_err rc = parse_mode(mode ? mode : n->cfg->handshake_mode, &m, &c);
    if (rc)
        goto out;
    /* Who answers at this address now? It must be the id we expect. */
    if ((rc = peerlink_fetch_node(n, addr, l->id, &pub, name, timeout_ms))) {
        if (rc == NT_ERR_AUTH)
            set_error(l, "a different node answers at %s", addr);
        else
            set_error(l, "no natter node answers at %s: %s", addr, err_str(rc));
        goto out;
    }
    char our_name[TEXT_NAME_MAX + 1];
    node_name(n, our_name);
    int64_t now = now_s();
    if ((rc = handshake_start(n->id, our_name, our_port(n), l->id, m, c, now, &p, &req)))
        goto out;
    rc = NT_ERR_NOMEM;
    if (!(body = json_dumps(req, JSON_COMPACT)))
        goto out;
    snprintf(url, sizeof(url), "http://%s/v1/handshake", addr);
    if ((rc = http_do(pl, "POST", url, body, timeout_ms, &status, &rb))) {
        set_error(l, "handshake with %s: %s", addr, err_str(rc));
        goto out;
    }
    if (status != 200) {
        error_code(&rb, code, sizeof(code));
        set_error(l, "handshake refused by %s: %s (%ld)", addr, code[0] ? code : "no reason given", status);
        rc = status == 429 || status == 503 ? NT_ERR_BUSY : NT_ERR_AUTH; /* refused: failed, not unreachable */
        goto out;
    }
    rc = NT_ERR_AUTH;
    if (json_parse_object(rb.data ? rb.data : "", rb.len, JSON_DEPTH_DEFAULT, &reply)) {
        set_error(l, "handshake reply from %s is not JSON", addr);
        goto out;
    }
    /* Signature checked against the PINNED key before anything is used. */
    if ((rc = handshake_finish(p, pinned, reply, now, &s))) {
        set_error(l, "handshake reply from %s refused: %s", addr,
                  rc == NT_ERR_INVALID ? "malformed or not matching" : err_str(rc));
        rc = rc == NT_ERR_NOMEM ? rc : NT_ERR_AUTH; /* whatever answered, the handshake failed */
        goto out;
    }
    /* The peer is alive and answered as itself: refresh its row, with the
     * name its signed reply carries (not the one /v1/node gave). */
    const char *signed_name = text_name_valid(s.peer_name, strlen(s.peer_name)) ? s.peer_name : NULL;
    if (peer_names_record(n, pub, signed_name, NULL, "handshake", NULL, NULL, now, NULL))
        log_debug("peer table did not take a refresh after a handshake");
    pthread_mutex_lock(&l->mu);
    link_drop(l);
    l->s = s;
    l->up = true;
    l->gen++;
    l->next_seq = 0;
    l->requests = 0;
    l->established = l->last_used = now;
    l->abs_deadline = now + (s.expires_at - s.server_time);
    l->last_error[0] = 0;
    pthread_mutex_unlock(&l->mu);
    log_debug("peer %.16s: session open (%s)", json_string_value(json_object_get(reply, "responder_id")),
              transcript_mode_name(m));
    rc = NT_OK;
out:
    handshake_session_wipe(&s);
    identity_free(pub);
    handshake_pending_free(p);
    json_decref(req);
    json_decref(reply);
    free(body);
    rbuf_free(&rb);
    return rc;
}

/* Make sure l has a usable session (handshake when not, or when force). */
static nt_err ensure_session(node *n, link *l, const char *addr, const identity *key, const char *mode, bool force,
                             unsigned stale_gen, int timeout_ms, bool *handshook)
{
    pthread_mutex_lock(&l->hs_mu);
    pthread_mutex_lock(&l->mu);
    /* Another thread may have re-opened it while we waited. */
    bool ok = link_usable(l, now_s()) && !(force && l->gen == stale_gen);
    pthread_mutex_unlock(&l->mu);
    nt_err rc = ok ? NT_OK : do_handshake(n, l, addr, key, mode, timeout_ms);
    pthread_mutex_unlock(&l->hs_mu);
    if (!ok && !rc && handshook)
        *handshook = true;
    return rc;
}

/* ---- sealed requests ---- */

/* One sealed request in flight: what is needed to check its answer. */
typedef struct {
    link *l;
    unsigned gen;
    uint8_t sid[HS_SESSION_ID_LEN];
    seal_key s2c;
    uint64_t seq;
    char method[ENVELOPE_METHOD_MAX + 1];
    char path[ENVELOPE_PATH_MAX + 1];
    char query[ENVELOPE_QUERY_MAX + 1];
    char url[URL_MAX];
    char addr[PEERS_ADDR_MAX]; /* host:port, for messages */
    char *body; /* the envelope JSON */
    rbuf rb;
    long status;
} sealed_call;

static void sealed_call_clear(sealed_call *c)
{
    free(c->body);
    rbuf_free(&c->rb);
    mbedtls_platform_zeroize(c, sizeof(*c));
}

/* Split "path?query" and check the method. */
static nt_err split_target(const char *method, const char *target, sealed_call *c)
{
    const char *q = strchr(target, '?');
    size_t pl = q ? (size_t)(q - target) : strlen(target);
    if (!method || strlen(method) > ENVELOPE_METHOD_MAX || pl == 0 || pl > ENVELOPE_PATH_MAX ||
        target[0] != '/' || (q && strlen(q + 1) > ENVELOPE_QUERY_MAX))
        return NT_ERR_INVALID;
    if (strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "PUT") && strcmp(method, "DELETE"))
        return NT_ERR_INVALID;
    snprintf(c->method, sizeof(c->method), "%s", method);
    memcpy(c->path, target, pl);
    c->path[pl] = 0;
    snprintf(c->query, sizeof(c->query), "%s", q ? q + 1 : "");
    return NT_OK;
}

/* Seal req for l's current session into c (session must be usable). */
static nt_err sealed_prepare(link *l, const char *addr, const char *method, const char *target, json_t *req,
                             sealed_call *c)
{
    memset(c, 0, sizeof(*c));
    nt_err rc = split_target(method, target, c);
    if (rc)
        return rc;
    char *pt = req ? json_dumps(req, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (req && !pt)
        return NT_ERR_NOMEM;
    pthread_mutex_lock(&l->mu);
    if (!l->up) {
        rc = NT_ERR_STATE;
    } else {
        c->l = l;
        c->gen = l->gen;
        c->seq = l->next_seq++;
        l->requests++;
        memcpy(c->sid, l->s.session_id, HS_SESSION_ID_LEN);
        c->s2c = l->s.s2c;
        /* Key confirmation until the peer has answered once. */
        rc = envelope_seal(&l->s.c2s, ENVELOPE_C2S, c->sid, c->seq, c->method, c->path, c->query, 0,
                           l->confirmed ? NULL : l->s.confirm, (const uint8_t *)pt, pt ? strlen(pt) : 0,
                           &c->body);
    }
    pthread_mutex_unlock(&l->mu);
    if (pt) {
        mbedtls_platform_zeroize(pt, strlen(pt));
        free(pt);
    }
    snprintf(c->url, sizeof(c->url), "http://%s%s", addr, c->path);
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    return rc;
}

/* Check the answer to c. *again: the peer forgot the session (restart or
 * expiry): re-handshake and send once more. */
static nt_err sealed_finish(sealed_call *c, json_t **reply, int *status, bool *again)
{
    envelope e;
    memset(&e, 0, sizeof(e));
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    char code[64];
    *again = false;
    *reply = NULL;
    *status = (int)c->status;
    nt_err rc = NT_ERR_AUTH;
    if (envelope_parse(c->rb.data ? c->rb.data : "", c->rb.len, ENVELOPE_S2C, &e)) {
        /* A plaintext (unauthenticated) error from the peer's channel layer. */
        error_code(&c->rb, code, sizeof(code));
        if (!strcmp(code, "unknown_session") || !strcmp(code, "session_expired") ||
            !strcmp(code, "key_confirmation_required")) {
            *again = true;
            rc = NT_ERR_EXPIRED;
        } else {
            rc = status_to_err(c->status);
        }
        set_error(c->l, "peer at %s refused a sealed request: %s (%ld)", c->addr, code[0] ? code : "no reason",
                  c->status);
        goto out;
    }
    if (memcmp(e.session_id, c->sid, HS_SESSION_ID_LEN) || e.seq != c->seq || e.status != c->status ||
        envelope_open(&c->s2c, &e, ENVELOPE_S2C, c->method, c->path, c->query, &pt, &pt_len)) {
        set_error(c->l, "sealed answer from %s does not authenticate", c->addr);
        goto out;
    }
    json_error_t jerr;
    *reply = pt_len ? json_loadb((const char *)pt, pt_len, JSON_DECODE_ANY, &jerr) : json_object();
    if (!*reply) {
        rc = NT_ERR_INVALID;
        goto out;
    }
    pthread_mutex_lock(&c->l->mu);
    if (c->l->gen == c->gen) {
        c->l->confirmed = true;
        c->l->last_used = c->l->last_ok = now_s();
    }
    pthread_mutex_unlock(&c->l->mu);
    rc = NT_OK;
out:
    if (pt) {
        mbedtls_platform_zeroize(pt, pt_len);
        free(pt);
    }
    envelope_clear(&e);
    return rc;
}

/* What a call's outcome says about the peer (no lock held): a completed
 * handshake or an authenticated answer means up, a failure to connect
 * (no HTTP status: refused, unreachable, timed out) down. */
static void note_presence(node *n, const uint8_t *id, nt_err rc, int status, bool handshook)
{
    if (handshook)
        peer_names_presence(n, id, true, true, "handshake completed");
    else if (!rc)
        peer_names_presence(n, id, true, false, "answered a call");
    if ((rc == NT_ERR_NET || rc == NT_ERR_TIMEOUT) && status == 0)
        peer_names_presence(n, id, false, false, "did not answer a call");
}

/* After a plaintext "session unknown" answer: may the request go again on
 * a new session? That answer is not authenticated, so it may be forged by
 * someone who let the request through to the peer: only a request that is
 * idempotent by design is sent twice; any other fails (NT_ERR_EXPIRED)
 * and its caller decides. */
static bool may_resend(link *l, const char *method, const char *path)
{
    if (peer_route_resendable(method, path))
        return true;
    set_error(l, "peer did not know our session; %s %.64s not sent again (it may have been processed)", method,
              path);
    return false;
}

nt_err peerlink_call(node *n, const uint8_t peer_id[static IDENTITY_ID_LEN], const char *method, const char *path,
                     json_t *req, json_t **reply, int *status, int timeout_ms)
{
    struct peerlink *pl = pl_of(n);
    char addr[PEERS_ADDR_MAX];
    identity *key = NULL;
    sealed_call c;
    memset(&c, 0, sizeof(c));
    *reply = NULL;
    *status = 0;
    if (!pl)
        return NT_ERR_STATE;
    if (timeout_ms <= 0)
        timeout_ms = PEERLINK_DEFAULT_TIMEOUT_MS;
    link *l;
    nt_err rc = lookup_link(pl, n, peer_id, addr, &key, &l);
    if (rc)
        return rc;
    unsigned stale = 0;
    bool force = false, handshook = false;
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rc = ensure_session(n, l, addr, key, NULL, force, stale, timeout_ms, &handshook)))
            break;
        if ((rc = sealed_prepare(l, addr, method, path, req, &c))) {
            sealed_call_clear(&c);
            if (rc == NT_ERR_STATE)
                continue; /* dropped meanwhile: open again */
            break;
        }
        rc = http_do(pl, c.method, c.url, c.body, timeout_ms, &c.status, &c.rb);
        if (rc) {
            set_error(l, "sealed request to %s: %s", addr, err_str(rc));
            sealed_call_clear(&c);
            break;
        }
        bool again = false;
        rc = sealed_finish(&c, reply, status, &again);
        stale = c.gen;
        sealed_call_clear(&c);
        if (!again)
            break;
        /* The peer forgot us: drop the session and open a new one. */
        pthread_mutex_lock(&l->mu);
        if (l->gen == stale)
            link_drop(l);
        pthread_mutex_unlock(&l->mu);
        if (!may_resend(l, method, path))
            break;
        force = true;
    }
    identity_free(key);
    note_presence(n, peer_id, rc, *status, handshook);
    return rc;
}

nt_err peerlink_call_many(node *n, peerlink_op *ops, size_t n_ops, int timeout_ms)
{
    struct peerlink *pl = pl_of(n);
    if (!pl)
        return NT_ERR_STATE;
    if (timeout_ms <= 0)
        timeout_ms = PEERLINK_DEFAULT_TIMEOUT_MS;
    CURLM *m = curl_multi_init();
    sealed_call *calls = calloc(n_ops ? n_ops : 1, sizeof(*calls));
    CURL **easy = calloc(n_ops ? n_ops : 1, sizeof(*easy));
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    nt_err rc = NT_ERR_NOMEM;
    if (!m || !calls || !easy || !hdrs)
        goto out;
    /* Sessions first (a handshake blocks), then every request at once. */
    for (size_t i = 0; i < n_ops; i++) {
        peerlink_op *op = &ops[i];
        char addr[PEERS_ADDR_MAX];
        identity *key = NULL;
        op->reply = NULL;
        op->status = 0;
        op->rc = lookup_peer(n, op->peer_id, addr, &key);
        link *l = op->rc ? NULL : link_get(pl, op->peer_id, true);
        if (!op->rc && !l)
            op->rc = NT_ERR_NOMEM;
        if (!op->rc)
            op->rc = ensure_session(n, l, addr, key, NULL, false, 0, timeout_ms, NULL);
        if (!op->rc)
            op->rc = sealed_prepare(l, addr, op->method, op->path, op->req, &calls[i]);
        identity_free(key);
        if (op->rc)
            continue;
        if (!(easy[i] = easy_new(pl, calls[i].method, calls[i].url, calls[i].body, timeout_ms, &calls[i].rb, hdrs)) ||
            curl_multi_add_handle(m, easy[i]) != CURLM_OK) {
            op->rc = NT_ERR_NOMEM;
            continue;
        }
        curl_easy_setopt(easy[i], CURLOPT_PRIVATE, (void *)(uintptr_t)i);
    }
    int running = 1;
    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (running && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
            break;
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        void *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        size_t i = (size_t)(uintptr_t)priv;
        if (i >= n_ops)
            continue;
        if (msg->data.result != CURLE_OK) {
            ops[i].rc = calls[i].rb.over ? NT_ERR_TOO_BIG : curl_rc(msg->data.result);
            set_error(calls[i].l, "sealed request to %s: %s", calls[i].addr, err_str(ops[i].rc));
            continue;
        }
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &calls[i].status);
        bool again = false;
        ops[i].rc = sealed_finish(&calls[i], &ops[i].reply, &ops[i].status, &again);
        if (again) {
            /* The peer forgot the session: retry this one on its own. */
            pthread_mutex_lock(&calls[i].l->mu);
            if (calls[i].l->gen == calls[i].gen)
                link_drop(calls[i].l);
            pthread_mutex_unlock(&calls[i].l->mu);
            if (may_resend(calls[i].l, ops[i].method, ops[i].path))
                ops[i].rc = peerlink_call(n, ops[i].peer_id, ops[i].method, ops[i].path, ops[i].req, &ops[i].reply,
                                          &ops[i].status, timeout_ms);
        }
    }
    for (size_t i = 0; i < n_ops; i++)
        note_presence(n, ops[i].peer_id, ops[i].rc, ops[i].status, false);
    rc = NT_OK;
out:
    for (size_t i = 0; easy && i < n_ops; i++) {
        if (easy[i]) {
            curl_multi_remove_handle(m, easy[i]);
            curl_easy_cleanup(easy[i]);
        }
        if (calls)
            sealed_call_clear(&calls[i]);
    }
    free(easy);
    free(calls);
    curl_slist_free_all(hdrs);
    if (m)
        curl_multi_cleanup(m);
    return rc;
}

/* ---- state, connect, forget ---- */

static void state_of(link *l, peerlink_state *st)
{
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&l->mu);
    st->up = link_usable(l, now_s());
    if (st->up) {
        if (encoding_hex_encode(l->s.session_id, HS_SESSION_ID_LEN, st->session, sizeof(st->session)))
            st->session[0] = 0;
        snprintf(st->mode, sizeof(st->mode), "%s",
                 l->s.mode == HS_MODE_RSA ? "rsa" : l->s.curve == ECDH_P256 ? "ecdh-p256" : "ecdh-x25519");
        st->established = l->established;
        st->expires_at = l->abs_deadline;
        st->idle_expires_at = l->last_used + (int64_t)l->s.idle_timeout;
        st->requests = l->requests;
        st->confirmed = l->confirmed;
    }
    st->last_ok = l->last_ok;
    snprintf(st->last_error, sizeof(st->last_error), "%s", l->last_error);
    pthread_mutex_unlock(&l->mu);
}

void peerlink_state_get(node *n, const uint8_t peer_id[static IDENTITY_ID_LEN], peerlink_state *st)
{
    struct peerlink *pl = pl_of(n);
    link *l = pl ? link_get(pl, peer_id, false) : NULL;
    if (l)
        state_of(l, st);
    else
        memset(st, 0, sizeof(*st));
}

nt_err peerlink_connect(node *n, const uint8_t peer_id[static IDENTITY_ID_LEN], const char *mode, peerlink_state *st)
{
    struct peerlink *pl = pl_of(n);
    char addr[PEERS_ADDR_MAX];
    identity *key = NULL;
    uint8_t m;
    ecdh_curve c;
    if (st)
        memset(st, 0, sizeof(*st));
    if (!pl)
        return NT_ERR_STATE;
    if (mode && parse_mode(mode, &m, &c))
        return NT_ERR_INVALID;
    link *l;
    nt_err rc = lookup_link(pl, n, peer_id, addr, &key, &l);
    if (rc)
        return rc;
    pthread_mutex_lock(&l->hs_mu);
    rc = do_handshake(n, l, addr, key, mode, PEERLINK_DEFAULT_TIMEOUT_MS);
    pthread_mutex_unlock(&l->hs_mu);
    identity_free(key);
    note_presence(n, peer_id, rc, 0, !rc);
    if (!rc) {
        /* Confirm the key now, so the session is usable on both sides. */
        json_t *reply = NULL;
        int status = 0;
        json_t *ping = json_pack("{s:s}", "echo", "connect");
        rc = peerlink_call(n, peer_id, "POST", "/v1/peer/ping", ping, &reply, &status, PEERLINK_DEFAULT_TIMEOUT_MS);
        if (!rc && status != 200)
            rc = NT_ERR_AUTH;
        json_decref(ping);
        json_decref(reply);
    }
    if (st)
        state_of(l, st);
    return rc;
}

void peerlink_forget(node *n, const uint8_t peer_id[static IDENTITY_ID_LEN])
{
    struct peerlink *pl = pl_of(n);
    link *l = pl ? link_get(pl, peer_id, false) : NULL;
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    link_drop(l);
    l->last_error[0] = 0;
    l->last_ok = 0;
    pthread_mutex_unlock(&l->mu);
}

/* ---- service ---- */

nt_err peerlink_start(node *nd, char err[static NODE_ERR_MAX])
{
    struct peerlink *pl = calloc(1, sizeof(*pl));
    if (!pl || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(pl);
        snprintf(err, NODE_ERR_MAX, "peer client: cannot initialise libcurl");
        return NT_ERR_NOMEM;
    }
    pthread_mutex_init(&pl->mu, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&pl->share_mu[i], NULL);
    if (!(pl->share = curl_share_init()) || curl_share_setopt(pl->share, CURLSHOPT_LOCKFUNC, share_lock) ||
        curl_share_setopt(pl->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
        curl_share_setopt(pl->share, CURLSHOPT_USERDATA, pl) ||
        curl_share_setopt(pl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) ||
        curl_share_setopt(pl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS)) {
        if (pl->share)
            curl_share_cleanup(pl->share);
        free(pl);
        snprintf(err, NODE_ERR_MAX, "peer client: cannot share connections");
        return NT_ERR_NOMEM;
    }
    pl->nd = nd;
    source_addr_init(&pl->src, nd->peer_addr);
    nd->peerlink = pl;
    return NT_OK;
}

void peerlink_stop(node *nd)
{
    struct peerlink *pl = nd->peerlink;
    if (!pl)
        return;
    nd->peerlink = NULL;
    for (link *l = pl->links, *next; l; l = next) {
        next = l->next;
        link_drop(l);
        pthread_mutex_destroy(&l->mu);
        pthread_mutex_destroy(&l->hs_mu);
        mbedtls_platform_zeroize(l, sizeof(*l));
        free(l);
    }
    curl_share_cleanup(pl->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&pl->share_mu[i]);
    pthread_mutex_destroy(&pl->mu);
    free(pl);
    curl_global_cleanup();
}
