/* client_peers.c - the client API for peers (bearer token):
 *   GET    /v1/client/peers                 list
 *   POST   /v1/client/peers {"address"}     add by address: fetch and pin its identity
 *                                           and handshake (its name comes signed)
 *   GET    /v1/client/peers/{id}            one peer
 *   DELETE /v1/client/peers/{id}            forget it
 *   POST   /v1/client/peers/{id}/connect    handshake now {"mode"?}
 *   POST   /v1/client/peers/{id}/trust      {"trusted": true|false} (default true)
 *   POST   /v1/client/peers/{id}/ping       sealed ping (opens a session if needed)
 *   PUT    /v1/client/peers/{id}/delivery   {"delivery": "push"|"poll"} */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/log.h"
#include "crypto/encoding.h"
#include "storage/peers.h"
#include "server/peer/peer_api.h"
#include "server/peer/peer_names.h"
#include "server/peer/peerlink.h"
#include "server/core/presence.h"
#include "server/core/routes.h"

#define INBOUND_SHOWN 4

/* Client API times are ms since the Unix epoch; these clocks keep seconds. */
static json_t *ms_json(int64_t unix_s)
{
    return json_integer((json_int_t)unix_s * 1000);
}

static json_t *session_json(node *nd, const peer_info *p)
{
    peerlink_state st;
    peerlink_state_get(nd, p->id, &st);
    session_info in[INBOUND_SHOWN];
    size_t n_in = peer_api_sessions(nd, p->id, in, INBOUND_SHOWN);
    json_t *o = json_pack("{s:s,s:b,s:I}", "state", st.up ? (st.confirmed ? "established" : "open") : "none",
                          "confirmed", st.confirmed, "requests", (json_int_t)st.requests);
    if (!o)
        return NULL;
    if (st.up) {
        json_object_set_new(o, "session", json_string(st.session));
        json_object_set_new(o, "mode", json_string(st.mode));
        json_object_set_new(o, "established", ms_json(st.established));
        json_object_set_new(o, "expires_at", ms_json(st.expires_at));
        json_object_set_new(o, "idle_expires_at", ms_json(st.idle_expires_at));
    }
    if (st.last_ok)
        json_object_set_new(o, "last_ok", ms_json(st.last_ok));
    if (st.last_error[0])
        json_object_set_new(o, "last_error", json_string(st.last_error));
    json_object_set_new(o, "inbound", json_integer((json_int_t)n_in));
    return o;
}

static json_t *peer_json(node *nd, const peer_info *p)
{
    char fp[IDENTITY_FINGERPRINT_MAX];
    identity_fingerprint(p->id, fp);
    int64_t now = (int64_t)time(NULL);
    peerlink_state st;
    peerlink_state_get(nd, p->id, &st);
    int64_t window = (int64_t)nd->cfg->peer_expiry;
    /* Down (a goodbye, a call that could not connect) until it is seen
     * again; otherwise recent enough. */
    bool online = presence_get(nd->presence, p->id) != PRESENCE_DOWN &&
                  (now - p->last_seen <= window || (st.last_ok && now - st.last_ok <= window));
    json_t *addrs = json_array();
    for (size_t i = 0; i < p->n_addresses; i++)
        json_array_append_new(addrs, json_string(p->addresses[i]));
    json_t *o = json_pack("{s:s,s:s,s:s,s:b,s:b,s:I,s:I,s:s?,s:o,s:s,s:s,s:b,s:o*}", "id", p->id_hex, "name", p->name,
                          "fingerprint", fp, "trusted", p->trusted, "online", online, "last_seen",
                          (json_int_t)p->last_seen * 1000, "first_seen", (json_int_t)p->first_seen * 1000, "address",
                          p->address[0] ? p->address : NULL, "addresses", addrs, "source", p->source, "delivery",
                          peers_delivery_name(p->delivery), "name_collision", p->name_collision, "session",
                          session_json(nd, p));
    if (o)
        peer_names_json(nd, p, o);
    if (o && p->has_instance) { /* discovery: changes when the peer restarts */
        char inst[2 * PEERS_INSTANCE_LEN + 1];
        if (encoding_hex_encode(p->instance_id, PEERS_INSTANCE_LEN, inst, sizeof inst) == NT_OK)
            json_object_set_new(o, "instance_id", json_string(inst));
    }
    return o;
}

static bool id_param(http_req *rq, uint8_t id[static IDENTITY_ID_LEN])
{
    if (peers_id_parse(http_req_param(rq, "id"), id)) {
        http_reply_error(rq, 400, "bad_request", "peer id must be 64 lowercase hex digits");
        return false;
    }
    return true;
}

/* Reply with one peer (status), or 404. */
static void reply_peer(http_req *rq, node *nd, const uint8_t *id, unsigned status)
{
    peer_info *p = malloc(sizeof(*p));
    nt_err rc = p ? peers_get(nd->db, id, p) : NT_ERR_NOMEM;
    if (rc == NT_ERR_NOT_FOUND)
        http_reply_error(rq, 404, "not_found", "no such peer");
    else if (rc)
        http_reply_nt_err(rq, rc, NULL);
    else
        http_reply_json(rq, status, peer_json(nd, p));
    free(p);
}

static void list_peers(http_req *rq, node *nd)
{
    peer_info *v = NULL;
    size_t n = 0;
    nt_err rc = peers_list(nd->db, &v, &n);
    if (rc) {
        http_reply_nt_err(rq, rc, NULL);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, peer_json(nd, &v[i]));
    free(v);
    http_reply_json(rq, 200, json_pack("{s:o}", "peers", arr));
}

/* What each request body may hold (api-spec/openapi.yaml). */
static const char *const push_poll[] = {"push", "poll", NULL};
static const char *const hs_modes[] = {"ecdh", "ecdh-p256", "rsa", NULL};
static const json_field add_fields[] = {JSON_FIELD("address", JSON_F_STRING), JSON_FIELDS_END};
static const json_field connect_fields[] = {JSON_FIELD_ENUM("mode", hs_modes), JSON_FIELDS_END};
static const json_field ping_fields[] = {JSON_FIELD("echo", JSON_F_ANY), JSON_FIELDS_END};
static const json_field trust_fields[] = {JSON_FIELD("trusted", JSON_F_BOOL), JSON_FIELDS_END};
static const json_field delivery_fields[] = {JSON_FIELD_ENUM("delivery", push_poll), JSON_FIELDS_END};

/* A peer added by address has no name yet: GET /v1/node signs nothing.
 * Handshake now, so that its name comes from the transcript it signs
 * (best effort: otherwise with the first handshake that succeeds). */
static void learn_name(node *nd, const uint8_t id[static IDENTITY_ID_LEN])
{
    peer_info *p = malloc(sizeof(*p));
    peerlink_state st;
    if (p && !peers_get(nd->db, id, p) && !p->name[0] && peerlink_connect(nd, id, NULL, &st))
        log_debug("peer added by address: no handshake yet (%s)", st.last_error);
    free(p);
}

static void add_peer(http_req *rq, node *nd)
{
    json_t *body;
    const char *addr;
    if (http_req_json_fields(rq, add_fields, &body))
        return;
    if (json_get_str(body, "address", PEERS_ADDR_MAX - 1, &addr) || !strchr(addr, ':')) {
        http_reply_error(rq, 400, "bad_request", "\"address\" must be \"host:port\" of the peer API");
        json_decref(body);
        return;
    }
    identity *pub = NULL;
    char unsigned_name[HS_NAME_MAX + 1]; /* not stored: see learn_name */
    nt_err rc = peerlink_fetch_node(nd, addr, NULL, &pub, unsigned_name, PEERLINK_DEFAULT_TIMEOUT_MS);
    bool is_new = false;
    if (rc == NT_ERR_INVALID) {
        http_reply_error(rq, 400, "bad_request", "\"address\" must be \"host:port\" of the peer API");
    } else if (rc == NT_ERR_AUTH) {
        http_reply_error(rq, 502, "bad_identity", "the node at %s sent a key that does not match its id", addr);
    } else if (rc) {
        http_reply_error(rq, 502, "peer_unreachable", "no natter node answers at %s (%s)", addr, err_str(rc));
    } else if (!memcmp(identity_id(pub), identity_id(nd->id), IDENTITY_ID_LEN)) {
        http_reply_error(rq, 400, "self", "%s is this node", addr);
    } else if ((rc = peers_observe(nd->db, pub, NULL, addr, "manual", NULL, (int64_t)time(NULL), &is_new))) {
        if (rc == NT_ERR_AUTH)
            http_reply_error(rq, 409, "key_mismatch", "this id is pinned to another key");
        else
            http_reply_nt_err(rq, rc, NULL);
    } else {
        learn_name(nd, identity_id(pub));
        reply_peer(rq, nd, identity_id(pub), is_new ? 201 : 200);
    }
    identity_free(pub);
    json_decref(body);
}

static void get_peer(http_req *rq, node *nd)
{
    uint8_t id[IDENTITY_ID_LEN];
    if (id_param(rq, id))
        reply_peer(rq, nd, id, 200);
}

static void delete_peer(http_req *rq, node *nd)
{
    uint8_t id[IDENTITY_ID_LEN];
    if (!id_param(rq, id))
        return;
    nt_err rc = peers_delete(nd->db, id);
    if (rc == NT_ERR_NOT_FOUND) {
        http_reply_error(rq, 404, "not_found", "no such peer");
        return;
    }
    if (rc) {
        http_reply_nt_err(rq, rc, NULL);
        return;
    }
    peerlink_forget(nd, id);
    http_reply_json(rq, 200, json_pack("{s:s,s:b}", "id", http_req_param(rq, "id"), "deleted", 1));
}

/* The optional JSON object body of a POST: *body is NULL when there is
 * none. False if a 400 was sent (a body that is not a JSON object, or
 * with a member not in fields). */
static bool optional_body(http_req *rq, const json_field fields[], json_t **body)
{
    size_t len = 0;
    *body = NULL;
    http_req_body(rq, &len);
    return !(len && http_req_json_fields(rq, fields, body));
}

/* A failed call to a peer (anything but "no such peer"): 409 without an
 * address, 503 when sessions are exhausted, else 502 with the link's last
 * error. */
static void reply_link_error(http_req *rq, nt_err rc, const peerlink_state *st)
{
    if (rc == NT_ERR_STATE)
        http_reply_error(rq, 409, "no_address", "no address known for this peer");
    else
        http_reply_error(rq, rc == NT_ERR_BUSY ? 503 : 502, rc == NT_ERR_AUTH ? "handshake_failed" : "peer_unreachable",
                         "%s", st->last_error[0] ? st->last_error : err_str(rc));
}

static void connect_peer(http_req *rq, node *nd)
{
    uint8_t id[IDENTITY_ID_LEN];
    json_t *body = NULL;
    const char *mode = NULL;
    if (!id_param(rq, id) || !optional_body(rq, connect_fields, &body))
        return;
    if (body && json_object_get(body, "mode") &&
        (json_get_str(body, "mode", 16, &mode) ||
         (strcmp(mode, "ecdh") && strcmp(mode, "ecdh-p256") && strcmp(mode, "rsa")))) {
        http_reply_error(rq, 400, "bad_request", "\"mode\" must be ecdh, ecdh-p256 or rsa");
        json_decref(body);
        return;
    }
    peerlink_state st;
    nt_err rc = peerlink_connect(nd, id, mode, &st);
    if (rc == NT_ERR_NOT_FOUND)
        http_reply_error(rq, 404, "not_found", "no such peer");
    else if (rc)
        reply_link_error(rq, rc, &st);
    else
        reply_peer(rq, nd, id, 200);
    json_decref(body);
}

/* POST /v1/client/peers/{id}/ping {"echo"?}: a sealed ping, opening a
 * session first when there is none (or it expired, or the peer forgot it). */
static void ping_peer(http_req *rq, node *nd)
{
    uint8_t id[IDENTITY_ID_LEN];
    json_t *body = NULL;
    if (!id_param(rq, id) || !optional_body(rq, ping_fields, &body))
        return;
    json_t *req = json_pack("{s:O?}", "echo", body ? json_object_get(body, "echo") : NULL);
    json_decref(body);
    json_t *reply = NULL;
    int status = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nt_err rc = peerlink_call(nd, id, "POST", "/v1/peer/ping", req, &reply, &status, PEERLINK_DEFAULT_TIMEOUT_MS);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    json_decref(req);
    peerlink_state st;
    peerlink_state_get(nd, id, &st);
    if (rc == NT_ERR_NOT_FOUND && !status) {
        http_reply_error(rq, 404, "not_found", "no such peer");
    } else if (rc) {
        reply_link_error(rq, rc, &st);
    } else {
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        http_reply_json(rq, 200, json_pack("{s:i,s:o,s:f,s:s,s:s}", "status", status, "reply", reply, "rtt_ms", ms,
                                           "session", st.session, "mode", st.mode));
        reply = NULL;
    }
    json_decref(reply);
}

static void trust_peer(http_req *rq, node *nd)
{
    uint8_t id[IDENTITY_ID_LEN];
    json_t *body = NULL;
    bool trusted = true;
    if (!id_param(rq, id) || !optional_body(rq, trust_fields, &body))
        return;
    nt_err rc = body && json_object_get(body, "trusted") ? json_get_bool(body, "trusted", &trusted) : NT_OK;
    json_decref(body);
    if (rc) {
        http_reply_error(rq, 400, "bad_request", "\"trusted\" must be true or false");
        return;
    }
    rc = peers_set_trusted(nd->db, id, trusted);
    if (rc == NT_ERR_NOT_FOUND)
        http_reply_error(rq, 404, "not_found", "no such peer");
    else if (rc)
        http_reply_nt_err(rq, rc, NULL);
    else
        reply_peer(rq, nd, id, 200);
}

static void set_delivery(http_req *rq, node *nd)
{
    uint8_t id[IDENTITY_ID_LEN];
    json_t *body;
    const char *d;
    peer_delivery pd;
    if (!id_param(rq, id) || http_req_json_fields(rq, delivery_fields, &body))
        return;
    nt_err rc = json_get_str(body, "delivery", 8, &d);
    if (rc || peers_delivery_parse(d, &pd)) {
        http_reply_error(rq, 400, "bad_request", "\"delivery\" must be push or poll");
    } else if ((rc = peers_set_delivery(nd->db, id, pd)) == NT_ERR_NOT_FOUND) {
        http_reply_error(rq, 404, "not_found", "no such peer");
    } else if (rc) {
        http_reply_nt_err(rq, rc, NULL);
    } else {
        reply_peer(rq, nd, id, 200);
    }
    json_decref(body);
}

const http_route client_peers_routes[] = {
    {"GET", "/v1/client/peers", HTTP_API_CLIENT, list_peers, 0, NULL, 0},
    {"POST", "/v1/client/peers", HTTP_API_CLIENT, add_peer, 4096, NULL, 0},
    {"GET", "/v1/client/peers/{id}", HTTP_API_CLIENT, get_peer, 0, NULL, 0},
    {"DELETE", "/v1/client/peers/{id}", HTTP_API_CLIENT, delete_peer, 0, NULL, 0},
    {"POST", "/v1/client/peers/{id}/connect", HTTP_API_CLIENT, connect_peer, 4096, NULL, 0},
    {"POST", "/v1/client/peers/{id}/trust", HTTP_API_CLIENT, trust_peer, 4096, NULL, 0},
    {"POST", "/v1/client/peers/{id}/ping", HTTP_API_CLIENT, ping_peer, 4096, NULL, 0},
    {"PUT", "/v1/client/peers/{id}/delivery", HTTP_API_CLIENT, set_delivery, 4096, NULL, 0},
    {0},
};
