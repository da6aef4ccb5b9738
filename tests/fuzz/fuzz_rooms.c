/* libFuzzer harness for the rooms request handlers: the sealed peer
 * requests a host serves (submit, poll, join, leave, keys, members,
 * delivery) and a member serves (notify), and the client API, each fed
 * the fuzz input as its JSON body and query. Two in-memory nodes: a host
 * with a room the member has joined, so the checks past membership run
 * too. Nothing may crash, and every answer must carry a reply body. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_keys.h"
#include "crypto/identity.h"
#include "crypto/rng.h"
#include "server/rooms/rooms.h"
#include "tests/rooms_paths.h"
#include "storage/roomdb.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static rooms *host, *member;
static identity *host_id, *member_id;
static char host_hex[IDENTITY_ID_HEX_LEN + 1], member_hex[IDENTITY_ID_HEX_LEN + 1], room[40];

static void no_call(void *arg, port_call *calls, size_t n, int timeout_ms)
{
    for (size_t i = 0; i < n; i++) {
        calls[i].rc = NT_ERR_NET;
        calls[i].reply = NULL;
        calls[i].status = 0;
    }
}

/* Queries come from the input; never a wait (it would only sleep). */
static const char *query(void *arg, const char *key)
{
    const char *q = arg;
    static char val[64];
    if (!strcmp(key, "wait"))
        return NULL;
    size_t kl = strlen(key);
    for (const char *p = q; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > kl && !strncmp(p, key, kl) && p[kl] == '=') {
            snprintf(val, sizeof val, "%.*s", (int)(len - kl - 1), p + kl + 1);
            return val;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

static rooms *make(identity *id)
{
    sqlite3 *raw = NULL;
    roomdb *db = NULL;
    rooms *r = NULL;
    if (sqlite3_open(":memory:", &raw) != SQLITE_OK || roomdb_adopt(raw, &db) || roomdb_migrate(db))
        abort();
    rooms_opts o = {.db = db, .me = id, .call = no_call, .pbkdf2_iter = 1000, .no_threads = true};
    if (rooms_new(&r, &o))
        abort();
    return r;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (rng_init() || identity_from_private_pem(&host_id, bench_key_2048, strlen(bench_key_2048)) ||
        identity_from_private_pem(&member_id, bench_key_3072, strlen(bench_key_3072)))
        abort();
    identity_id_hex(host_id, host_hex);
    identity_id_hex(member_id, member_hex);
    host = make(host_id);
    member = make(member_id);
    json_t *reply = NULL, *req = json_pack("{s:s,s:s}", "name", "fuzz", "access", "open");
    if (rooms_client_handle(host, "POST", "/v1/client/rooms", NULL, NULL, req, &reply) != 201)
        abort();
    snprintf(room, sizeof room, "%s", json_string_value(json_object_get(reply, "id")));
    json_decref(reply);
    json_decref(req);
    /* the member joins (its join reply is what the member node stores) */
    uint8_t der[IDENTITY_PUB_DER_MAX];
    size_t n;
    char path[96], b64[1024];
    if (identity_public_der(member_id, der, sizeof der, &n))
        abort();
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) { /* small base64 encoder: the harness must not need more */
        uint32_t v = (uint32_t)der[i] << 16 | (i + 1 < n ? der[i + 1] << 8 : 0) | (i + 2 < n ? der[i + 2] : 0);
        b64[o++] = tbl[v >> 18 & 63];
        b64[o++] = tbl[v >> 12 & 63];
        b64[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        b64[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    b64[o] = '\0';
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/join", room);
    req = json_pack("{s:s}", "pub", b64);
    if (rooms_peer_handle(host, member_hex, "POST", path, NULL, NULL, req, &reply) != 200)
        abort();
    json_decref(req);
    json_decref(reply);
    return 0;
}

static const struct {
    int side; /* 0 host (peer request from the member), 1 member (from the host), 2 client API of the host, 3 of the member */
    const char *method, *what;
} targets[] = {
    {0, "POST", "messages"}, {0, "GET", "messages"}, {0, "POST", "join"},     {0, "POST", "delivery"},
    {0, "GET", "keys"},      {0, "GET", "members"},  {0, "POST", "leave"},    {1, "POST", "notify"},
    {2, "PUT", "send"},      {2, "POST", "create"},  {2, "POST", "invite"},   {2, "GET", "events"},
    {3, "GET", "messages"},  {2, "POST", "kick"},    {0, "POST", "nothing"},  {3, "POST", "join"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t t = data[0] % (sizeof targets / sizeof targets[0]);
    const char *m = targets[t].method, *w = targets[t].what;
    /* the rest: "query\nbody" */
    char *rest = malloc(size);
    memcpy(rest, data + 1, size - 1);
    rest[size - 1] = '\0';
    char *nl = memchr(rest, '\n', size - 1);
    const char *q = rest, *b = "";
    size_t blen = 0;
    if (nl) {
        *nl = '\0';
        b = nl + 1;
        blen = size - 1 - (size_t)(b - rest);
    }
    json_t *body = blen ? json_loadb(b, blen, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *reply = NULL;
    char path[160];
    int st;
    switch (targets[t].side) {
    case 0:
        snprintf(path, sizeof path, "/v1/peer/rooms/%s/%s", room, w);
        st = rooms_peer_handle(host, member_hex, m, path, query, (void *)q, body, &reply);
        break;
    case 1:
        snprintf(path, sizeof path, "/v1/peer/rooms/%s/%s", room, w);
        st = rooms_peer_handle(member, host_hex, m, path, query, (void *)q, body, &reply);
        break;
    default:
        if (!strcmp(w, "send"))
            snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/%.20s", room, q);
        else if (!strcmp(w, "create"))
            snprintf(path, sizeof path, "/v1/client/rooms");
        else if (!strcmp(w, "events"))
            snprintf(path, sizeof path, "/v1/client/events");
        else
            snprintf(path, sizeof path, "/v1/client/rooms/%s/%s", room, w);
        st = rooms_client_handle(targets[t].side == 2 ? host : member, m, path, query, (void *)q, body, &reply);
    }
    if (st < 200 || st > 599 || !reply)
        abort();
    json_decref(reply);
    json_decref(body);
    free(rest);
    return 0;
}
