/* peerlink_session.c - see peerlink_session.h and api-spec/protocol.md. */
#include "server/peer/peerlink_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mbedtls/platform_util.h>

#include "common/json.h"
#include "common/log.h"
#include "common/text.h"
#include "common/waitq.h"
#include "crypto/encoding.h"
#include "storage/peers.h"
#include "server/channel/transcript.h"
#include "server/peer/peer_names.h"

#define EXPIRY_MARGIN_S 2 /* re-handshake this long before the peer would drop us */
#define URL_MAX (32 + PEERS_ADDR_MAX) /* "http://" address "/v1/handshake" */

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

peerlink_session *peerlink_session_new(const uint8_t id[static IDENTITY_ID_LEN])
{
    peerlink_session *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    memcpy(l->id, id, IDENTITY_ID_LEN);
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->hs_mu, NULL);
    return l;
}

void peerlink_session_free(peerlink_session *l)
{
    if (!l)
        return;
    peerlink_session_drop(l);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->hs_mu);
    mbedtls_platform_zeroize(l, sizeof(*l));
    free(l);
}

void peerlink_session_error(peerlink_session *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&l->mu);
    vsnprintf(l->last_error, sizeof(l->last_error), fmt, ap);
    pthread_mutex_unlock(&l->mu);
    va_end(ap);
}

bool peerlink_session_usable(const peerlink_session *l, int64_t now)
{
    int64_t margin = l->s.idle_timeout >= 10 * EXPIRY_MARGIN_S ? EXPIRY_MARGIN_S : 0;
    return l->up && now < l->abs_deadline - margin && now < l->last_used + (int64_t)l->s.idle_timeout - margin;
}

void peerlink_session_drop(peerlink_session *l)
{
    handshake_session_wipe(&l->s);
    l->up = false;
    l->confirmed = false;
}

void peerlink_session_drop_gen(peerlink_session *l, unsigned gen)
{
    pthread_mutex_lock(&l->mu);
    if (l->gen == gen)
        peerlink_session_drop(l);
    pthread_mutex_unlock(&l->mu);
}

void peerlink_session_state(peerlink_session *l, peerlink_state *st)
{
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&l->mu);
    st->up = peerlink_session_usable(l, now_s());
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

nt_err peerlink_session_parse_mode(const char *mode, uint8_t *m, ecdh_curve *c)
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

nt_err peerlink_session_fetch_node(peerlink_wire *w, const char *address, const uint8_t *expected_id,
                                   identity **pub, char name[static HS_NAME_MAX + 1], int timeout_ms)
{
    char url[URL_MAX];
    peerlink_buf rb = {0};
    long status = 0;
    json_t *o = NULL;
    *pub = NULL;
    name[0] = 0;
    if (!address || strlen(address) >= PEERS_ADDR_MAX || strpbrk(address, "/?#@ "))
        return NT_ERR_INVALID;
    snprintf(url, sizeof(url), "http://%s/v1/node", address);
    nt_err rc = peerlink_wire_do(w, "GET", url, NULL, timeout_ms, &status, &rb);
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
    peerlink_wire_buf_free(&rb);
    return rc;
}

/* Install a copy of s as l's new session (the caller wipes s). */
static void session_install(peerlink_session *l, hs_session *s, const char *addr, int64_t now)
{
    pthread_mutex_lock(&l->mu);
    peerlink_session_drop(l);
    l->s = *s;
    snprintf(l->addr, sizeof l->addr, "%s", addr);
    l->up = true;
    l->gen++;
    l->next_seq = 0;
    l->requests = 0;
    l->established = l->last_used = now;
    l->abs_deadline = now + (s->expires_at - s->server_time);
    l->last_error[0] = 0;
    pthread_mutex_unlock(&l->mu);
}

/* POST the handshake request req to addr; the answer in rb. A refusal is
 * NT_ERR_BUSY (429/503) or NT_ERR_AUTH: failed, not unreachable. */
static nt_err handshake_post(peerlink_wire *w, peerlink_session *l, const char *addr, json_t *req, int timeout_ms,
                             peerlink_buf *rb)
{
    char url[URL_MAX], code[64] = "";
    long status = 0;
    char *body = json_dumps(req, JSON_COMPACT);
    if (!body)
        return NT_ERR_NOMEM;
    snprintf(url, sizeof(url), "http://%s/v1/handshake", addr);
    nt_err rc = peerlink_wire_do(w, "POST", url, body, timeout_ms, &status, rb);
    free(body);
    if (rc) {
        peerlink_session_error(l, "handshake with %s: %s", addr, err_str(rc));
        return rc;
    }
    if (status != 200) {
        peerlink_wire_error_code(rb, code, sizeof(code));
        peerlink_session_error(l, "handshake refused by %s: %s (%ld)", addr, code[0] ? code : "no reason given",
                               status);
        return status == 429 || status == 503 ? NT_ERR_BUSY : NT_ERR_AUTH;
    }
    return NT_OK;
}

nt_err peerlink_session_handshake(node *n, peerlink_wire *w, peerlink_session *l, const char *addr,
                                  const identity *pinned, const char *mode, int timeout_ms)
{
    identity *pub = NULL;
    hs_pending *p = NULL;
    json_t *req = NULL, *reply = NULL;
    char name[HS_NAME_MAX + 1];
    peerlink_buf rb = {0};
    uint8_t m;
    ecdh_curve c;
    hs_session s;
    memset(&s, 0, sizeof(s));
    int64_t deadline = waitq_now_ms() + timeout_ms; /* for both exchanges */
    nt_err rc = peerlink_session_parse_mode(mode ? mode : n->cfg->handshake_mode, &m, &c);
    if (rc)
        goto out;
    /* Who answers at this address now? It must be the id we expect. */
    if ((rc = peerlink_session_fetch_node(w, addr, l->id, &pub, name, timeout_ms))) {
        if (rc == NT_ERR_AUTH)
            peerlink_session_error(l, "a different node answers at %s", addr);
        else
            peerlink_session_error(l, "no natter node answers at %s: %s", addr, err_str(rc));
        goto out;
    }
    char our_name[TEXT_NAME_MAX + 1];
    node_name(n, our_name);
    int64_t now = now_s();
    if ((rc = handshake_start(n->id, our_name, our_port(n), l->id, m, c, now, &p, &req)))
        goto out;
    int64_t left = deadline - waitq_now_ms();
    if (left <= 0) {
        rc = NT_ERR_TIMEOUT;
        peerlink_session_error(l, "handshake with %s: %s", addr, err_str(rc));
        goto out;
    }
    if ((rc = handshake_post(w, l, addr, req, (int)left, &rb)))
        goto out;
    rc = NT_ERR_AUTH;
    if (json_parse_object(rb.data ? rb.data : "", rb.len, JSON_DEPTH_DEFAULT, &reply)) {
        peerlink_session_error(l, "handshake reply from %s is not JSON", addr);
        goto out;
    }
    /* Signature checked against the PINNED key before anything is used. */
    if ((rc = handshake_finish(p, pinned, reply, now, &s))) {
        peerlink_session_error(l, "handshake reply from %s refused: %s", addr,
                               rc == NT_ERR_INVALID ? "malformed or not matching" : err_str(rc));
        rc = rc == NT_ERR_NOMEM ? rc : NT_ERR_AUTH; /* whatever answered, the handshake failed */
        goto out;
    }
    /* The peer is alive and answered as itself, at addr: refresh its row,
     * with the name its signed reply carries (not the one /v1/node gave),
     * and addr as its newest address (it may have been an older one). */
    const char *signed_name = text_name_valid(s.peer_name, strlen(s.peer_name)) ? s.peer_name : NULL;
    if (peer_names_record(n, pub, signed_name, addr, "handshake", NULL, NULL, now, NULL))
        log_debug("peer table did not take a refresh after a handshake");
    session_install(l, &s, addr, now);
    log_debug("peer %.16s: session open (%s)", json_string_value(json_object_get(reply, "responder_id")),
              transcript_mode_name(m));
    rc = NT_OK;
out:
    handshake_session_wipe(&s);
    identity_free(pub);
    handshake_pending_free(p);
    json_decref(req);
    json_decref(reply);
    peerlink_wire_buf_free(&rb);
    return rc;
}

/* After a handshake failed with rc at one address, is another worth a
 * try? Nothing answered, or a different node (or the peer refused). */
static bool try_next_address(nt_err rc)
{
    return rc == NT_ERR_NET || rc == NT_ERR_TIMEOUT || rc == NT_ERR_AUTH;
}

nt_err peerlink_session_handshake_any(node *n, peerlink_wire *w, peerlink_session *l, const peerlink_addrs *a,
                                      const identity *pinned, const char *mode, int timeout_ms)
{
    nt_err rc = NT_ERR_STATE;
    size_t count = a->n < PEERS_ADDRS_KEPT ? a->n : PEERS_ADDRS_KEPT;
    int64_t deadline = waitq_now_ms() + timeout_ms, left;
    /* Each try gets an equal share of what is left: one where nothing
     * answers costs its share, and what a quick failure leaves goes on. */
    for (size_t i = 0; i < count && (left = deadline - waitq_now_ms()) > 0; i++) {
        rc = peerlink_session_handshake(n, w, l, a->v[i], pinned, mode, (int)(left / (int64_t)(count - i)) + 1);
        if (!rc || !try_next_address(rc))
            break;
    }
    return rc;
}

nt_err peerlink_session_ensure(node *n, peerlink_wire *w, peerlink_session *l, const peerlink_addrs *a,
                               const identity *key, bool force, unsigned stale_gen, int timeout_ms, bool *handshook)
{
    pthread_mutex_lock(&l->hs_mu);
    pthread_mutex_lock(&l->mu);
    /* Another thread may have re-opened it while we waited. */
    bool ok = peerlink_session_usable(l, now_s()) && !(force && l->gen == stale_gen);
    pthread_mutex_unlock(&l->mu);
    nt_err rc = ok ? NT_OK : peerlink_session_handshake_any(n, w, l, a, key, NULL, timeout_ms);
    pthread_mutex_unlock(&l->hs_mu);
    if (!ok && !rc && handshook)
        *handshook = true;
    return rc;
}
