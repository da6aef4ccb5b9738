/* handshake.c - see handshake.h and api-spec/protocol.md ("Handshake"). */
#include "server/channel/handshake.h"

#include <stdlib.h>
#include <string.h>
#include <mbedtls/platform_util.h>
#include "crypto/encoding.h"
#include "crypto/oaep.h"
#include "crypto/rng.h"
#include "crypto/seal.h"
#include "crypto/sign.h"

#define RSA_LABEL "natter/v1/hs-rsa"

_Static_assert(HS_AUTH_SEALED_LEN == 1 + SEAL_IV_LEN + 3 * SEAL_BLOCK + SEAL_MAC_LEN, "sealed 32-byte key");
_Static_assert(ECDH_PUB_MAX <= HS_KX_MAX && SIGN_MAX_LEN <= HS_SIG_MAX, "caps");

static const struct {
    const char *code;
    int http;
    const char *message;
} STATUS[HS_E__COUNT] = {
    [HS_OK] = {"ok", 200, "ok"},
    [HS_E_MALFORMED] = {"malformed", 400, "handshake request is malformed"},
    [HS_E_VERSION] = {"unsupported_version", 400, "unsupported protocol version"},
    [HS_E_MODE] = {"unsupported_mode", 400, "unsupported key-agreement mode or curve"},
    [HS_E_WRONG_RESPONDER] = {"wrong_responder", 421, "this node is not the responder named in the request"},
    [HS_E_ID_KEY] = {"id_key_mismatch", 401, "initiator id is not the SHA-256 of its key"},
    [HS_E_SELF] = {"self_handshake", 400, "a node cannot handshake with itself"},
    [HS_E_TIMESTAMP] = {"timestamp_out_of_window", 401, "timestamp is more than 300 s from this node's clock"},
    [HS_E_SIGNATURE] = {"bad_signature", 401, "request signature does not verify"},
    [HS_E_KEY_MISMATCH] = {"key_mismatch", 403, "this id is pinned to another key"},
    [HS_E_NONCE_REPLAY] = {"nonce_replay", 409, "nonce seen before: replayed handshake"},
    [HS_E_TOO_MANY] = {"too_many_sessions", 429, "too many sessions from this peer"},
    [HS_E_BUSY] = {"busy", 503, "session table full"},
    [HS_E_KEY_SHARE] = {"bad_key_share", 400, "ephemeral public key is invalid"},
    [HS_E_INTERNAL] = {"internal", 500, "internal error"},
};

const char *handshake_code(hs_status st)
{
    return (unsigned)st < HS_E__COUNT ? STATUS[st].code : "internal";
}

const char *handshake_message(hs_status st)
{
    return (unsigned)st < HS_E__COUNT ? STATUS[st].message : "internal error";
}

int handshake_http_status(hs_status st)
{
    return (unsigned)st < HS_E__COUNT ? STATUS[st].http : 500;
}

/* ---- JSON field helpers ---- */

static bool get_hex(const json_t *o, const char *key, uint8_t *out, size_t n)
{
    const json_t *v = json_object_get(o, key);
    size_t got = 0;
    return json_is_string(v) && json_string_length(v) == 2 * n &&
           !encoding_hex_decode(json_string_value(v), 2 * n, out, n, &got) && got == n;
}

static bool get_b64(const json_t *o, const char *key, uint8_t *out, size_t cap, size_t *len)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) && json_string_length(v) <= 4 * ((cap + 2) / 3) &&
           !encoding_b64_decode(json_string_value(v), json_string_length(v), B64_STD, out, cap, len);
}

static bool get_int(const json_t *o, const char *key, json_int_t lo, json_int_t hi, json_int_t *out)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return false;
    *out = json_integer_value(v);
    return true;
}

static bool get_name(const json_t *o, const char *key, char out[static HS_NAME_MAX + 1])
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) > HS_NAME_MAX ||
        strlen(json_string_value(v)) != json_string_length(v))
        return false;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static int set_b64(json_t *o, const char *key, const uint8_t *in, size_t n)
{
    char buf[1024];
    if (encoding_b64_encode(in, n, B64_STD, buf, sizeof(buf)))
        return -1;
    return json_object_set_new(o, key, json_string(buf));
}

static int set_hex(json_t *o, const char *key, const uint8_t *in, size_t n)
{
    char buf[2 * IDENTITY_ID_LEN + 1];
    if (n > IDENTITY_ID_LEN || encoding_hex_encode(in, n, buf, sizeof(buf)))
        return -1;
    return json_object_set_new(o, key, json_string(buf));
}

/* ---- the request ---- */

typedef struct {
    hs_request rq;
    uint8_t ikey[IDENTITY_PUB_DER_MAX];
    uint8_t eph[ECDH_PUB_MAX];
    char name[HS_NAME_MAX + 1];
    uint8_t sig[HS_SIG_MAX];
    size_t sig_len;
} parsed_req;

/* Parse and shape-check a request into p (which borrows nothing from req). */
static hs_status parse_request(const json_t *req, parsed_req *p, bool need_sig)
{
    memset(p, 0, sizeof(*p));
    json_int_t version, ts, port;
    if (!json_is_object(req) || !get_int(req, "version", 0, 255, &version) ||
        !json_is_string(json_object_get(req, "mode")) || !get_hex(req, "initiator_id", p->rq.initiator_id, 32) ||
        !get_hex(req, "responder_id", p->rq.responder_id, 32) ||
        !get_b64(req, "initiator_key", p->ikey, sizeof(p->ikey), &p->rq.initiator_key_len) ||
        !get_int(req, "timestamp", INT64_MIN, INT64_MAX, &ts) || !get_name(req, "name", p->name) ||
        !get_int(req, "port", 0, 65535, &port))
        return HS_E_MALFORMED;
    size_t nlen = 0;
    if (!get_b64(req, "nonce", p->rq.nonce, HS_NONCE_LEN, &nlen) || nlen != HS_NONCE_LEN)
        return HS_E_MALFORMED;
    if (need_sig && (!get_b64(req, "signature", p->sig, sizeof(p->sig), &p->sig_len) || !p->sig_len))
        return HS_E_MALFORMED;
    const json_t *eph = json_object_get(req, "ephemeral"), *curve = json_object_get(req, "curve");
    if ((eph && !get_b64(req, "ephemeral", p->eph, sizeof(p->eph), &p->rq.ephemeral_len)) ||
        (curve && !json_is_string(curve)))
        return HS_E_MALFORMED;
    p->rq.version = (uint8_t)version;
    p->rq.initiator_key = p->ikey;
    p->rq.ephemeral = p->eph;
    p->rq.timestamp = ts;
    p->rq.name = p->name;
    p->rq.port = (uint16_t)port;
    if (version != HS_VERSION)
        return HS_E_VERSION;
    p->rq.mode = transcript_mode_parse(json_string_value(json_object_get(req, "mode")));
    if (p->rq.mode == HS_MODE_ECDH) {
        ecdh_curve c;
        if (!curve || ecdh_curve_parse(json_string_value(curve), &c))
            return HS_E_MODE;
        /* One answer for every share we refuse: missing, wrong length
         * here, not a point / low order in serve_kex. */
        if (!eph || p->rq.ephemeral_len != ecdh_public_len(c))
            return HS_E_KEY_SHARE;
        p->rq.curve = (uint8_t)c;
    } else if (p->rq.mode == HS_MODE_RSA) {
        if (curve || eph)
            return HS_E_MODE;
    } else {
        return HS_E_MODE;
    }
    return HS_OK;
}

static json_t *request_json(const parsed_req *p)
{
    json_t *o = json_pack("{s:i, s:s, s:I, s:s, s:i}", "version", p->rq.version, "mode",
                          transcript_mode_name(p->rq.mode), "timestamp", (json_int_t)p->rq.timestamp, "name",
                          p->rq.name, "port", p->rq.port);
    if (!o)
        return NULL;
    if (set_hex(o, "initiator_id", p->rq.initiator_id, IDENTITY_ID_LEN) ||
        set_hex(o, "responder_id", p->rq.responder_id, IDENTITY_ID_LEN) ||
        set_b64(o, "initiator_key", p->rq.initiator_key, p->rq.initiator_key_len) ||
        set_b64(o, "nonce", p->rq.nonce, HS_NONCE_LEN) || set_b64(o, "signature", p->sig, p->sig_len) ||
        (p->rq.mode == HS_MODE_ECDH &&
         (json_object_set_new(o, "curve", json_string(ecdh_curve_name((ecdh_curve)p->rq.curve))) ||
          set_b64(o, "ephemeral", p->rq.ephemeral, p->rq.ephemeral_len)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static nt_err sign_request(const identity *signer, parsed_req *p)
{
    uint8_t t[TRANSCRIPT_MAX];
    size_t n = 0;
    nt_err rc = transcript_request(&p->rq, t, sizeof(t), &n);
    if (!rc)
        rc = sign_create(signer, SIGN_HANDSHAKE, t, n, p->sig, sizeof(p->sig), &p->sig_len);
    return rc;
}

nt_err handshake_resign(const identity *signer, json_t *req)
{
    parsed_req p;
    if (parse_request(req, &p, false) != HS_OK)
        return NT_ERR_INVALID;
    nt_err rc = sign_request(signer, &p);
    if (!rc && set_b64(req, "signature", p.sig, p.sig_len))
        rc = NT_ERR_NOMEM;
    return rc;
}

/* ---- serving side ---- */

/* Everything secret the serving side holds while it answers. */
typedef struct {
    ecdh_key *eph;
    uint8_t ikm[KEYSCHED_IKM_LEN];
    uint8_t auth_key[HS_AUTH_KEY_LEN];
    uint8_t confirm[KEYSCHED_CONFIRM_LEN];
    session_keys keys;
} serve_secrets;

static void serve_secrets_wipe(serve_secrets *x)
{
    ecdh_free(x->eph);
    mbedtls_platform_zeroize(x, sizeof(*x));
}

static hs_status from_session_err(nt_err rc)
{
    switch (rc) {
    case NT_OK: return HS_OK;
    case NT_ERR_REPLAY: return HS_E_NONCE_REPLAY;
    case NT_ERR_FORBIDDEN: return HS_E_TOO_MANY;
    case NT_ERR_BUSY: return HS_E_BUSY;
    default: return HS_E_INTERNAL;
    }
}

/* The key exchange: the serving node's share into kx and the IKM. */
static hs_status serve_kex(const parsed_req *p, const identity *peer, serve_secrets *x, uint8_t *kx, size_t *kx_len)
{
    if (p->rq.mode == HS_MODE_ECDH) {
        if (ecdh_generate(&x->eph, (ecdh_curve)p->rq.curve) || ecdh_public(x->eph, kx, HS_KX_MAX, kx_len))
            return HS_E_INTERNAL;
        nt_err rc = ecdh_shared(x->eph, p->rq.ephemeral, p->rq.ephemeral_len, x->ikm);
        ecdh_free(x->eph); /* forward secrecy: the private half goes now */
        x->eph = NULL;
        return rc == NT_ERR_AUTH || rc == NT_ERR_INVALID ? HS_E_KEY_SHARE : rc ? HS_E_INTERNAL : HS_OK;
    }
    if (rng_bytes(x->ikm, HS_SECRET_LEN))
        return HS_E_INTERNAL;
    if (oaep_encrypt(peer, (const uint8_t *)RSA_LABEL, strlen(RSA_LABEL), x->ikm, HS_SECRET_LEN, kx, HS_KX_MAX,
                     kx_len))
        return HS_E_INTERNAL;
    return HS_OK;
}

/* Checks 1-11 of protocol.md: everything about the request itself. */
static hs_status serve_check(const hs_server *srv, const json_t *req, parsed_req *p, identity **peer)
{
    hs_status st = parse_request(req, p, true);
    if (st)
        return st;
    if (memcmp(p->rq.responder_id, identity_id(srv->self), IDENTITY_ID_LEN))
        return HS_E_WRONG_RESPONDER;
    if (identity_from_der(peer, p->rq.initiator_key, p->rq.initiator_key_len))
        return HS_E_ID_KEY;
    if (memcmp(identity_id(*peer), p->rq.initiator_id, IDENTITY_ID_LEN))
        return HS_E_ID_KEY;
    if (!memcmp(p->rq.initiator_id, identity_id(srv->self), IDENTITY_ID_LEN))
        return HS_E_SELF;
    if (p->rq.timestamp < srv->now - HS_TIME_WINDOW || p->rq.timestamp > srv->now + HS_TIME_WINDOW)
        return HS_E_TIMESTAMP;
    /* Cheap refusals before the RSA verification: a replayed request (or
     * one beyond the per-peer limit, or with the table full) costs a hash
     * lookup, not a signature check. The nonce is only looked at here, not
     * recorded: it is recorded by session_insert, after the signature
     * verified, atomically with the same checks. So a forger who copies a
     * requestor's fresh nonce into a request with a bad signature is
     * refused (bad_signature) and cannot burn that nonce for the genuine
     * request; a replay of a genuine request is refused here unverified. */
    st = from_session_err(session_precheck(srv->sessions, p->rq.initiator_id, p->rq.nonce, srv->now));
    if (st)
        return st;
    uint8_t t[TRANSCRIPT_MAX];
    size_t n = 0;
    if (transcript_request(&p->rq, t, sizeof(t), &n))
        return HS_E_MALFORMED;
    if (sign_verify(*peer, SIGN_HANDSHAKE, t, n, p->sig, p->sig_len))
        return HS_E_SIGNATURE;
    return HS_OK;
}

static json_t *reply_json(const hs_server *srv, const parsed_req *p, const hs_reply *rp, const uint8_t *sig,
                          size_t sig_len)
{
    json_t *o = json_pack("{s:i, s:s, s:I, s:I, s:I, s:s}", "version", HS_VERSION, "mode",
                          transcript_mode_name(p->rq.mode), "timestamp", (json_int_t)rp->timestamp, "idle_timeout",
                          (json_int_t)rp->idle_timeout, "expires_at", (json_int_t)rp->expires_at, "name", rp->name);
    if (!o)
        return NULL;
    bool ecdh = p->rq.mode == HS_MODE_ECDH;
    if (set_hex(o, "responder_id", identity_id(srv->self), IDENTITY_ID_LEN) ||
        set_hex(o, "session", rp->session_id, HS_SESSION_ID_LEN) || set_b64(o, "nonce", rp->nonce, HS_NONCE_LEN) ||
        set_b64(o, ecdh ? "ephemeral" : "encrypted_secret", rp->kx, rp->kx_len) ||
        set_b64(o, "auth_key", rp->auth_sealed, rp->auth_sealed_len) || set_b64(o, "signature", sig, sig_len) ||
        (ecdh && json_object_set_new(o, "curve", json_string(ecdh_curve_name((ecdh_curve)p->rq.curve))))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

hs_status handshake_serve(const hs_server *srv, const json_t *req, json_t **reply, hs_accepted *acc)
{
    static parsed_req zero_req;
    parsed_req p = zero_req;
    serve_secrets x;
    memset(&x, 0, sizeof(x));
    identity *peer = NULL;
    uint8_t kx[HS_KX_MAX], sealed[HS_AUTH_SEALED_LEN], sig[HS_SIG_MAX], th[KEYSCHED_TH_LEN];
    uint8_t t[TRANSCRIPT_MAX], ad[KEYSCHED_AUTH_AD_MAX];
    size_t kx_len = 0, sealed_len = 0, sig_len = 0, n = 0;
    hs_reply rp;
    memset(&rp, 0, sizeof(rp));
    *reply = NULL;
    memset(acc, 0, sizeof(*acc));

    hs_status st = serve_check(srv, req, &p, &peer);
    if (st)
        goto out;
    st = HS_E_INTERNAL;
    if (rng_bytes(rp.session_id, HS_SESSION_ID_LEN) || rng_bytes(rp.nonce, HS_NONCE_LEN) ||
        rng_bytes(x.auth_key, HS_AUTH_KEY_LEN))
        goto out;
    if ((st = serve_kex(&p, peer, &x, kx, &kx_len)))
        goto out;
    st = HS_E_INTERNAL;
    session_limits lim;
    session_table_limits(srv->sessions, &lim);
    rp.kx = kx;
    rp.kx_len = kx_len;
    rp.timestamp = srv->now;
    rp.idle_timeout = lim.idle;
    rp.expires_at = srv->now + (int64_t)lim.absolute;
    rp.name = srv->name ? srv->name : "";
    if (transcript_core(&p.rq, p.sig, p.sig_len, &rp, t, sizeof(t), &n) || keysched_hash(t, n, th) ||
        keysched_derive(x.ikm, p.rq.nonce, rp.nonce, th, &x.keys))
        goto out;
    size_t ad_len = keysched_auth_ad(rp.session_id, ad);
    if (seal_encrypt(&x.keys.ak, ad, ad_len, x.auth_key, HS_AUTH_KEY_LEN, sealed, sizeof(sealed), &sealed_len) ||
        keysched_confirm(x.auth_key, rp.session_id, th, x.confirm))
        goto out;
    rp.auth_sealed = sealed;
    rp.auth_sealed_len = sealed_len;
    if (transcript_reply(&p.rq, p.sig, p.sig_len, &rp, t, sizeof(t), &n) ||
        sign_create(srv->self, SIGN_HANDSHAKE_REPLY, t, n, sig, sizeof(sig), &sig_len))
        goto out;
    if (!(*reply = reply_json(srv, &p, &rp, sig, sig_len)))
        goto out;
    int64_t expires_at = 0;
    if ((st = from_session_err(session_insert(srv->sessions, rp.session_id, p.rq.initiator_id, p.rq.port,
                                              p.rq.nonce, &x.keys, x.confirm, srv->now, &expires_at))))
        goto out;
    memcpy(acc->peer_id, p.rq.initiator_id, IDENTITY_ID_LEN);
    acc->peer_key = peer;
    peer = NULL;
    memcpy(acc->name, p.name, sizeof(acc->name));
    acc->port = p.rq.port;
    memcpy(acc->session_id, rp.session_id, HS_SESSION_ID_LEN);
    acc->mode = p.rq.mode;
    acc->curve = p.rq.curve;
    st = HS_OK;
out:
    if (st) {
        json_decref(*reply);
        *reply = NULL;
    }
    identity_free(peer);
    serve_secrets_wipe(&x);
    mbedtls_platform_zeroize(th, sizeof(th));
    return st;
}

void handshake_accepted_clear(hs_accepted *acc)
{
    if (!acc)
        return;
    identity_free(acc->peer_key);
    memset(acc, 0, sizeof(*acc));
}

/* ---- requestor side ---- */

struct hs_pending {
    const identity *self;
    ecdh_key *eph;
    parsed_req req;
    uint8_t responder_id[IDENTITY_ID_LEN];
};

nt_err handshake_start(const identity *self, const char *name, uint16_t port,
                       const uint8_t responder_id[static IDENTITY_ID_LEN], uint8_t mode, ecdh_curve curve,
                       int64_t now, hs_pending **pending, json_t **req)
{
    *pending = NULL;
    *req = NULL;
    if (!name)
        name = "";
    if (strlen(name) > HS_NAME_MAX || (mode != HS_MODE_ECDH && mode != HS_MODE_RSA))
        return NT_ERR_INVALID;
    hs_pending *p = calloc(1, sizeof(*p));
    if (!p)
        return NT_ERR_NOMEM;
    nt_err rc;
    p->self = self;
    memcpy(p->responder_id, responder_id, IDENTITY_ID_LEN);
    parsed_req *r = &p->req;
    r->rq.version = HS_VERSION;
    r->rq.mode = mode;
    if ((rc = identity_public_der(self, r->ikey, sizeof(r->ikey), &r->rq.initiator_key_len)))
        goto out;
    r->rq.initiator_key = r->ikey;
    memcpy(r->rq.initiator_id, identity_id(self), IDENTITY_ID_LEN);
    memcpy(r->rq.responder_id, responder_id, IDENTITY_ID_LEN);
    r->rq.ephemeral = r->eph;
    if (mode == HS_MODE_ECDH) {
        r->rq.curve = (uint8_t)curve;
        if ((rc = ecdh_generate(&p->eph, curve)) ||
            (rc = ecdh_public(p->eph, r->eph, sizeof(r->eph), &r->rq.ephemeral_len)))
            goto out;
    }
    if ((rc = rng_bytes(r->rq.nonce, HS_NONCE_LEN)))
        goto out;
    r->rq.timestamp = now;
    memcpy(r->name, name, strlen(name) + 1);
    r->rq.name = r->name;
    r->rq.port = port;
    if ((rc = sign_request(self, r)))
        goto out;
    rc = NT_ERR_NOMEM;
    if (!(*req = request_json(r)))
        goto out;
    *pending = p;
    p = NULL;
    rc = NT_OK;
out:
    handshake_pending_free(p);
    return rc;
}

typedef struct {
    hs_reply rp;
    uint8_t kx[HS_KX_MAX];
    uint8_t sealed[HS_AUTH_SEALED_LEN + 16];
    uint8_t sig[HS_SIG_MAX];
    size_t sig_len;
    char name[HS_NAME_MAX + 1];
} parsed_reply;

static nt_err parse_reply(const hs_pending *p, const json_t *o, parsed_reply *r)
{
    memset(r, 0, sizeof(*r));
    json_int_t version, ts, idle, exp;
    uint8_t rid[IDENTITY_ID_LEN];
    size_t nlen = 0;
    bool ecdh = p->req.rq.mode == HS_MODE_ECDH;
    const json_t *mode = json_object_get(o, "mode"), *curve = json_object_get(o, "curve");
    if (!json_is_object(o) || !get_int(o, "version", 0, 255, &version) || version != HS_VERSION ||
        !json_is_string(mode) || transcript_mode_parse(json_string_value(mode)) != p->req.rq.mode ||
        !get_hex(o, "responder_id", rid, IDENTITY_ID_LEN) || !get_hex(o, "session", r->rp.session_id, 16) ||
        !get_b64(o, ecdh ? "ephemeral" : "encrypted_secret", r->kx, sizeof(r->kx), &r->rp.kx_len) ||
        !get_b64(o, "nonce", r->rp.nonce, HS_NONCE_LEN, &nlen) || nlen != HS_NONCE_LEN ||
        !get_int(o, "timestamp", INT64_MIN, INT64_MAX, &ts) || !get_int(o, "idle_timeout", 1, INT64_MAX, &idle) ||
        !get_int(o, "expires_at", INT64_MIN, INT64_MAX, &exp) || !get_name(o, "name", r->name) ||
        !get_b64(o, "auth_key", r->sealed, sizeof(r->sealed), &r->rp.auth_sealed_len) ||
        !get_b64(o, "signature", r->sig, sizeof(r->sig), &r->sig_len))
        return NT_ERR_INVALID;
    if (ecdh) {
        ecdh_curve c;
        if (!json_is_string(curve) || ecdh_curve_parse(json_string_value(curve), &c) || c != p->req.rq.curve ||
            r->rp.kx_len != ecdh_public_len(c))
            return NT_ERR_INVALID;
    }
    /* A reply from a node other than the one we meant to reach. */
    if (memcmp(rid, p->responder_id, IDENTITY_ID_LEN))
        return NT_ERR_AUTH;
    r->rp.kx = r->kx;
    r->rp.timestamp = ts;
    r->rp.idle_timeout = (uint64_t)idle;
    r->rp.expires_at = exp;
    r->rp.name = r->name;
    r->rp.auth_sealed = r->sealed;
    return NT_OK;
}

nt_err handshake_finish(hs_pending *p, const identity *responder, const json_t *reply, int64_t now, hs_session *out)
{
    parsed_reply r;
    session_keys keys;
    uint8_t ikm[KEYSCHED_IKM_LEN], auth[HS_AUTH_KEY_LEN + SEAL_BLOCK], th[KEYSCHED_TH_LEN];
    uint8_t t[TRANSCRIPT_MAX], ad[KEYSCHED_AUTH_AD_MAX];
    size_t n = 0, alen = 0;
    memset(out, 0, sizeof(*out));
    memset(&keys, 0, sizeof(keys));
    memset(ikm, 0, sizeof(ikm));
    nt_err rc = parse_reply(p, reply, &r);
    if (rc)
        goto out;
    rc = NT_ERR_AUTH;
    if (memcmp(identity_id(responder), p->responder_id, IDENTITY_ID_LEN))
        goto out;
    /* The signature over the whole transcript, before anything is used. */
    if (transcript_reply(&p->req.rq, p->req.sig, p->req.sig_len, &r.rp, t, sizeof(t), &n) ||
        sign_verify(responder, SIGN_HANDSHAKE_REPLY, t, n, r.sig, r.sig_len))
        goto out;
    if (p->req.rq.mode == HS_MODE_ECDH) {
        if (!p->eph || ecdh_shared(p->eph, r.rp.kx, r.rp.kx_len, ikm))
            goto out;
    } else {
        size_t slen = 0;
        uint8_t s[HS_KX_MAX];
        rc = oaep_decrypt(p->self, (const uint8_t *)RSA_LABEL, strlen(RSA_LABEL), r.rp.kx, r.rp.kx_len, s,
                          sizeof(s), &slen);
        if (!rc && slen == HS_SECRET_LEN)
            memcpy(ikm, s, HS_SECRET_LEN);
        mbedtls_platform_zeroize(s, sizeof(s));
        if (rc || slen != HS_SECRET_LEN) {
            rc = NT_ERR_AUTH;
            goto out;
        }
        rc = NT_ERR_AUTH;
    }
    ecdh_free(p->eph);
    p->eph = NULL;
    if (transcript_core(&p->req.rq, p->req.sig, p->req.sig_len, &r.rp, t, sizeof(t), &n) ||
        keysched_hash(t, n, th) || keysched_derive(ikm, p->req.rq.nonce, r.rp.nonce, th, &keys)) {
        rc = NT_ERR_CRYPTO;
        goto out;
    }
    size_t ad_len = keysched_auth_ad(r.rp.session_id, ad);
    if (seal_open(&keys.ak, ad, ad_len, r.rp.auth_sealed, r.rp.auth_sealed_len, auth, sizeof(auth), &alen) ||
        alen != HS_AUTH_KEY_LEN)
        goto out;
    if ((rc = keysched_confirm(auth, r.rp.session_id, th, out->confirm)))
        goto out;
    memcpy(out->session_id, r.rp.session_id, HS_SESSION_ID_LEN);
    out->c2s = keys.c2s;
    out->s2c = keys.s2c;
    out->mode = p->req.rq.mode;
    out->curve = p->req.rq.curve;
    out->established = now;
    out->idle_timeout = r.rp.idle_timeout;
    out->expires_at = r.rp.expires_at;
    out->server_time = r.rp.timestamp;
    memcpy(out->peer_name, r.name, sizeof(out->peer_name));
    rc = NT_OK;
out:
    if (rc)
        handshake_session_wipe(out);
    ecdh_free(p->eph);
    p->eph = NULL;
    keysched_wipe(&keys);
    mbedtls_platform_zeroize(ikm, sizeof(ikm));
    mbedtls_platform_zeroize(auth, sizeof(auth));
    return rc;
}

void handshake_pending_free(hs_pending *p)
{
    if (!p)
        return;
    ecdh_free(p->eph);
    mbedtls_platform_zeroize(p, sizeof(*p));
    free(p);
}

void handshake_session_wipe(hs_session *s)
{
    mbedtls_platform_zeroize(s, sizeof(*s));
}
