/* peerlink.c - see peerlink.h and api-spec/protocol.md. The public calls
 * and the sealed request path; sessions are opened in peerlink_session.c,
 * HTTP is done in peerlink_wire.c. */
#include "server/peer/peerlink.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mbedtls/platform_util.h>

#include "storage/peers.h"
#include "server/channel/envelope.h"
#include "server/peer/peer_api.h"
#include "server/peer/peer_names.h"
#include "server/peer/peerlink_session.h"
#include "server/peer/peerlink_wire.h"

#define URL_MAX (16 + PEERS_ADDR_MAX + ENVELOPE_PATH_MAX)

typedef peerlink_session link; /* our session towards one peer (peerlink_session.h) */

struct peerlink {
    peerlink_wire *wire;
    pthread_mutex_t mu; /* guards links (the list, not the records) */
    link *links;        /* records live until peerlink_stop */
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
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
    if (!l && create && (l = peerlink_session_new(id))) {
        l->next = pl->links;
        pl->links = l;
    }
    pthread_mutex_unlock(&pl->mu);
    return l; /* links live until peerlink_stop */
}

/* ---- peers ---- */

static nt_err lookup_peer(node *n, const uint8_t *id, peerlink_addrs *a, identity **key)
{
    peer_info *p = malloc(sizeof(*p));
    if (!p)
        return NT_ERR_NOMEM;
    nt_err rc = peers_get(n->db, id, p);
    if (!rc && !p->n_addresses)
        rc = NT_ERR_STATE;
    if (!rc)
        rc = identity_from_der(key, p->pub_der, p->pub_der_len);
    if (!rc && memcmp(identity_id(*key), id, IDENTITY_ID_LEN)) {
        identity_free(*key);
        *key = NULL;
        rc = NT_ERR_AUTH;
    }
    if (!rc) {
        a->n = p->n_addresses;
        memcpy(a->v, p->addresses, sizeof a->v);
    }
    free(p);
    return rc;
}

/* The peer's address and pinned key (lookup_peer) and its link, made if
 * new. On failure nothing is left for the caller to free. */
static nt_err lookup_link(struct peerlink *pl, node *n, const uint8_t *id, peerlink_addrs *a, identity **key,
                          link **l)
{
    nt_err rc = lookup_peer(n, id, a, key);
    if (rc)
        return rc;
    if (!(*l = link_get(pl, id, true))) {
        identity_free(*key);
        *key = NULL;
        return NT_ERR_NOMEM;
    }
    return NT_OK;
}

nt_err peerlink_fetch_node(node *n, const char *address, const uint8_t *expected_id, identity **pub,
                           char name[static HS_NAME_MAX + 1], int timeout_ms)
{
    struct peerlink *pl = pl_of(n);
    *pub = NULL;
    name[0] = 0;
    if (!pl)
        return NT_ERR_STATE;
    return peerlink_session_fetch_node(pl->wire, address, expected_id, pub, name, timeout_ms);
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
    peerlink_buf rb;
    long status;
} sealed_call;

static void sealed_call_clear(sealed_call *c)
{
    free(c->body);
    peerlink_wire_buf_free(&c->rb);
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

/* Seal req for l's current session into c (session must be usable), to
 * the address the session was opened at (peers' newest may differ: it
 * may be one that did not answer). */
static nt_err sealed_prepare(link *l, const char *method, const char *target, json_t *req, sealed_call *c)
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
        snprintf(c->addr, sizeof(c->addr), "%s", l->addr);
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
    snprintf(c->url, sizeof(c->url), "http://%s%s", c->addr, c->path);
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
        peerlink_wire_error_code(&c->rb, code, sizeof(code));
        if (!strcmp(code, "unknown_session") || !strcmp(code, "session_expired") ||
            !strcmp(code, "key_confirmation_required")) {
            *again = true;
            rc = NT_ERR_EXPIRED;
        } else {
            rc = peerlink_wire_status_err(c->status);
        }
        peerlink_session_error(c->l, "peer at %s refused a sealed request: %s (%ld)", c->addr, code[0] ? code : "no reason",
                  c->status);
        goto out;
    }
    if (memcmp(e.session_id, c->sid, HS_SESSION_ID_LEN) || e.seq != c->seq || e.status != c->status ||
        envelope_open(&c->s2c, &e, ENVELOPE_S2C, c->method, c->path, c->query, &pt, &pt_len)) {
        peerlink_session_error(c->l, "sealed answer from %s does not authenticate", c->addr);
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
    peerlink_session_error(l, "peer did not know our session; %s %.64s not sent again (it may have been processed)", method,
              path);
    return false;
}

nt_err peerlink_call(node *n, const uint8_t peer_id[static IDENTITY_ID_LEN], const char *method, const char *path,
                     json_t *req, json_t **reply, int *status, int timeout_ms)
{
    struct peerlink *pl = pl_of(n);
    peerlink_addrs a;
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
    nt_err rc = lookup_link(pl, n, peer_id, &a, &key, &l);
    if (rc)
        return rc;
    unsigned stale = 0;
    bool force = false, handshook = false;
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rc = peerlink_session_ensure(n, pl->wire, l, &a, key, force, stale, timeout_ms, &handshook)))
            break;
        if ((rc = sealed_prepare(l, method, path, req, &c))) {
            sealed_call_clear(&c);
            if (rc == NT_ERR_STATE)
                continue; /* dropped meanwhile: open again */
            break;
        }
        rc = peerlink_wire_do(pl->wire, c.method, c.url, c.body, timeout_ms, &c.status, &c.rb);
        if (rc) {
            peerlink_session_error(l, "sealed request to %s: %s", c.addr, err_str(rc));
            if (rc == NT_ERR_NET) /* gone from there: the next call handshakes at its addresses */
                peerlink_session_drop_gen(l, c.gen);
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
        peerlink_session_drop_gen(l, stale);
        if (!may_resend(l, method, path))
            break;
        force = true;
    }
    identity_free(key);
    note_presence(n, peer_id, rc, *status, handshook);
    return rc;
}

/* A batch's op i: open its session if needed (a handshake blocks), seal it
 * into *c and add its transfer to m as *easy. Sets op->rc on failure. */
static void many_add(node *n, struct peerlink *pl, CURLM *m, peerlink_op *op, size_t i, sealed_call *c, CURL **easy,
                     struct curl_slist *hdrs, int timeout_ms)
{
    peerlink_addrs a;
    identity *key = NULL;
    op->reply = NULL;
    op->status = 0;
    op->rc = lookup_peer(n, op->peer_id, &a, &key);
    link *l = op->rc ? NULL : link_get(pl, op->peer_id, true);
    if (!op->rc && !l)
        op->rc = NT_ERR_NOMEM;
    if (!op->rc)
        op->rc = peerlink_session_ensure(n, pl->wire, l, &a, key, false, 0, timeout_ms, NULL);
    if (!op->rc)
        op->rc = sealed_prepare(l, op->method, op->path, op->req, c);
    identity_free(key);
    if (op->rc)
        return;
    if (!(*easy = peerlink_wire_easy(pl->wire, c->method, c->url, c->body, timeout_ms, &c->rb, hdrs)) ||
        curl_multi_add_handle(m, *easy) != CURLM_OK) {
        op->rc = NT_ERR_NOMEM;
        return;
    }
    curl_easy_setopt(*easy, CURLOPT_PRIVATE, (void *)(uintptr_t)i);
}

/* Run m's transfers until all are done (each has its own timeout). */
static void many_run(CURLM *m)
{
    int running = 1;
    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (running && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
            break;
    }
}

/* A finished transfer of op (sealed as c): check its answer into op. */
static void many_done(node *n, peerlink_op *op, sealed_call *c, CURLMsg *msg, int timeout_ms)
{
    if (msg->data.result != CURLE_OK) {
        op->rc = c->rb.over ? NT_ERR_TOO_BIG : peerlink_wire_curl_err(msg->data.result);
        peerlink_session_error(c->l, "sealed request to %s: %s", c->addr, err_str(op->rc));
        if (op->rc == NT_ERR_NET) /* as in peerlink_call */
            peerlink_session_drop_gen(c->l, c->gen);
        return;
    }
    curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &c->status);
    bool again = false;
    op->rc = sealed_finish(c, &op->reply, &op->status, &again);
    if (!again)
        return;
    /* The peer forgot the session: retry this one on its own. */
    peerlink_session_drop_gen(c->l, c->gen);
    if (may_resend(c->l, op->method, op->path))
        op->rc = peerlink_call(n, op->peer_id, op->method, op->path, op->req, &op->reply, &op->status, timeout_ms);
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
    for (size_t i = 0; i < n_ops; i++)
        many_add(n, pl, m, &ops[i], i, &calls[i], &easy[i], hdrs, timeout_ms);
    many_run(m);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
        void *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        size_t i = (size_t)(uintptr_t)priv;
        if (msg->msg == CURLMSG_DONE && i < n_ops)
            many_done(n, &ops[i], &calls[i], msg, timeout_ms);
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

void peerlink_state_get(node *n, const uint8_t peer_id[static IDENTITY_ID_LEN], peerlink_state *st)
{
    struct peerlink *pl = pl_of(n);
    link *l = pl ? link_get(pl, peer_id, false) : NULL;
    if (l)
        peerlink_session_state(l, st);
    else
        memset(st, 0, sizeof(*st));
}

nt_err peerlink_connect(node *n, const uint8_t peer_id[static IDENTITY_ID_LEN], const char *mode, peerlink_state *st)
{
    struct peerlink *pl = pl_of(n);
    peerlink_addrs a;
    identity *key = NULL;
    uint8_t m;
    ecdh_curve c;
    if (st)
        memset(st, 0, sizeof(*st));
    if (!pl)
        return NT_ERR_STATE;
    if (mode && peerlink_session_parse_mode(mode, &m, &c))
        return NT_ERR_INVALID;
    link *l;
    nt_err rc = lookup_link(pl, n, peer_id, &a, &key, &l);
    if (rc)
        return rc;
    pthread_mutex_lock(&l->hs_mu);
    rc = peerlink_session_handshake_any(n, pl->wire, l, &a, key, mode, PEERLINK_DEFAULT_TIMEOUT_MS);
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
        peerlink_session_state(l, st);
    return rc;
}

void peerlink_forget(node *n, const uint8_t peer_id[static IDENTITY_ID_LEN])
{
    struct peerlink *pl = pl_of(n);
    link *l = pl ? link_get(pl, peer_id, false) : NULL;
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    peerlink_session_drop(l);
    l->last_error[0] = 0;
    l->last_ok = 0;
    pthread_mutex_unlock(&l->mu);
}

/* ---- service ---- */

nt_err peerlink_start(node *nd, char err[static NODE_ERR_MAX])
{
    struct peerlink *pl = calloc(1, sizeof(*pl));
    if (!pl) {
        snprintf(err, NODE_ERR_MAX, "peer client: cannot initialise libcurl");
        return NT_ERR_NOMEM;
    }
    nt_err rc = peerlink_wire_new(nd, &pl->wire, err);
    if (rc) {
        free(pl);
        return rc;
    }
    pthread_mutex_init(&pl->mu, NULL);
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
        peerlink_session_free(l);
    }
    peerlink_wire_free(pl->wire);
    pthread_mutex_destroy(&pl->mu);
    free(pl);
}
