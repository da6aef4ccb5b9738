/* node_api.c - the node's own endpoints: GET /v1/node and /v1/health on
 * the peer API, GET /v1/client/status on the client API. */
#include <string.h>
#include <time.h>

#include "common/hello.h"
#include "common/json.h"
#include "crypto/encoding.h"
#include "storage/roomdb.h"
#include "server/discovery/discovery_node.h"
#include "server/peer/peer_api.h"
#include "server/core/node.h"
#include "server/rooms/rooms_node.h"
#include "server/core/routes.h"

static void get_node(http_req *rq, node *nd)
{
    char name[TEXT_NAME_MAX + 1];
    node_name(nd, name);
    json_t *modes = json_pack("[s,s]", "ecdh", "rsa");
    json_t *curves = json_pack("[s,s]", "x25519", "p256");
    http_reply_json(rq, 200,
                    json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:i,s:o,s:o,s:s}", "node_id", nd->id_hex, "name",
                              name, "fingerprint", nd->fingerprint, "public_key", nd->pub_pem,
                              "key_algorithm", "RSA", "key_bits", (int)identity_bits(nd->id),
                              "signature_algorithm", "RSASSA-PSS-SHA256", "protocol_version",
                              NODE_PROTOCOL_VERSION, "key_agreement", modes, "ecdh_curves", curves,
                              "software", "natter/" NATTER_VERSION));
}

static void get_health(http_req *rq, node *nd)
{
    if (node_stopping(nd)) {
        http_reply_error(rq, 503, "busy", "shutting down");
        return;
    }
    http_reply_json(rq, 200, json_pack("{s:s,s:I}", "status", "ok", "uptime_s", (json_int_t)node_uptime_s(nd)));
}

static json_t *shed_json(const http_stats *s)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "connections", (json_int_t)s->shed_connections, "per_source",
                     (json_int_t)s->shed_per_source, "per_source_jobs", (json_int_t)s->shed_source_jobs, "workers",
                     (json_int_t)s->shed_workers, "stopping", (json_int_t)s->shed_stopping, "deadline",
                     (json_int_t)s->shed_deadline, "idle", (json_int_t)s->shed_idle);
}

static json_t *listener_json(const http_server *h)
{
    http_stats s = {0};
    if (h)
        http_stats_get(h, &s);
    json_t *l = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "address", h ? http_addr(h) : "",
                          "requests", (json_int_t)s.requests, "errors_4xx", (json_int_t)s.errors_4xx, "errors_5xx",
                          (json_int_t)s.errors_5xx, "connections", (json_int_t)s.connections, "max_connections",
                          (json_int_t)s.max_connections, "max_per_source", (json_int_t)s.max_per_source,
                          "max_jobs_per_source", (json_int_t)s.max_jobs_per_source, "in_flight",
                          (json_int_t)s.active, "parked", (json_int_t)s.parked, "workers", (json_int_t)s.workers,
                          "workers_busy", (json_int_t)s.workers_busy, "queued", (json_int_t)s.queued);
    if (l)
        json_object_set_new(l, "shed", shed_json(&s));
    return l;
}

static void get_status(http_req *rq, node *nd)
{
    char name[TEXT_NAME_MAX + 1];
    node_name(nd, name);
    /* statements found still active and reset (store and rooms): 0 unless a code path forgets a reset */
    json_t *counts = json_pack("{s:i,s:I}", "schema_version", store_schema_version(nd->db), "leaked_statements",
                               (json_int_t)(store_leaked_statements(nd->db) + roomdb_leaked()));
    json_t *st = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:{s:o,s:o},s:o}", "node_id", nd->id_hex, "name",
                              name, "fingerprint", nd->fingerprint, "version", NATTER_VERSION, "started_at",
                              (json_int_t)nd->started_at * 1000, "uptime_s", (json_int_t)node_uptime_s(nd), "listeners", "peer",
                              listener_json(nd->peer_http), "client", listener_json(nd->client_http), "counts",
                              counts);
    if (st)
        json_object_set_new(st, "discovery", discovery_node_status(nd));
    if (st)
        json_object_set_new(st, "peer_channel", peer_api_status(nd));
    if (st && nd->rooms)
        json_object_set_new(st, "rooms", rooms_status(nd->rooms));
    http_reply_json(rq, 200, st);
}

/* GET /v1/client/hello?nonce=HEX (no token needed): prove that this node
 * holds the client API token before the client sends it (common/hello.h). */
static void get_hello(http_req *rq, node *nd)
{
    const char *nonce_hex = http_req_query(rq, "nonce");
    uint8_t nonce[HELLO_NONCE_LEN];
    size_t n = 0;
    char proof[HELLO_PROOF_HEX_LEN + 1];
    if (!nonce_hex || strlen(nonce_hex) != HELLO_NONCE_HEX_LEN ||
        encoding_hex_decode(nonce_hex, HELLO_NONCE_HEX_LEN, nonce, sizeof nonce, &n) || n != sizeof nonce) {
        http_reply_error(rq, 400, "bad_request", "\"nonce\" must be %d hex digits", HELLO_NONCE_HEX_LEN);
        return;
    }
    if (hello_proof(nd->token, nonce, nd->id_hex, proof)) {
        http_reply_error(rq, 500, "internal", "cannot compute the proof");
        return;
    }
    http_reply_json(rq, 200, json_pack("{s:s,s:s}", "node_id", nd->id_hex, "proof", proof));
}

static const json_field name_fields[] = {JSON_FIELD("name", JSON_F_STRING), JSON_FIELDS_END};

/* PUT /v1/client/name {"name": "..."}: rename this node (remembered). */
static void put_name(http_req *rq, node *nd)
{
    json_t *body;
    const char *name;
    if (http_req_json_fields(rq, name_fields, &body))
        return;
    nt_err rc = json_get_str(body, "name", TEXT_NAME_MAX, &name);
    if (rc || !text_name_valid(name, strlen(name)))
        http_reply_error(rq, 400, "bad_request",
                         "\"name\" must be 1..%d bytes of UTF-8 without control or invisible characters, "
                         "and without space at either end",
                         TEXT_NAME_MAX);
    else if ((rc = node_set_name(nd, name)))
        http_reply_nt_err(rq, rc, NULL);
    else
        http_reply_json(rq, 200, json_pack("{s:s}", "name", name));
    json_decref(body);
}

const http_route node_api_routes[] = {
    {"GET", "/v1/node", HTTP_API_PEER, get_node, 0, NULL, HTTP_INLINE},
    {"GET", "/v1/health", HTTP_API_PEER, get_health, 0, NULL, HTTP_INLINE},
    {"GET", "/v1/client/status", HTTP_API_CLIENT, get_status, 0, NULL, 0},
    {"PUT", "/v1/client/name", HTTP_API_CLIENT, put_name, 4096, NULL, 0},
    {"GET", "/v1/client/hello", HTTP_API_CLIENT | HTTP_API_OPEN, get_hello, 0, "nonce", HTTP_INLINE},
    {0},
};
