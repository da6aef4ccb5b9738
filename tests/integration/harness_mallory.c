/* harness_mallory.c - an in-process hostile node for integration tests. */
#include "harness_mallory.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/encoding.h"
#include "crypto/rng.h"
#include "crypto/sign.h"
#include "rooms_util.h"
#include "server/peer/peerlink.h"
#include "storage/peers.h"

#define MALLORY_FETCH_MS 10000

void mallory_start(mallory *m)
{
    char err[NODE_ERR_MAX], cerr[CONFIG_ERR_MAX];
    config_action action;
    snprintf(m->dir, sizeof m->dir, "/tmp/natter-mallory-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(m->dir));
    char data[PATH_MAX + 8];
    snprintf(data, sizeof data, "%s/data", m->dir);
    char *argv[] = {"natterd", "--data-dir", data, "--key-bits", "2048", "--name", "mallory", "--no-discovery", NULL};
    ck_assert_int_eq(config_parse(&m->cfg, 8, argv, NULL, &action, cerr), NT_OK);
    ck_assert_int_eq(rng_init(), NT_OK);
    ck_assert_msg(node_open(&m->cfg, &m->n, err) == NT_OK, "node_open: %s", err);
    ck_assert_msg(peerlink_start(m->n, err) == NT_OK, "peerlink_start: %s", err);
}

void mallory_knows(mallory *m, const harness_node *n, uint8_t id[static IDENTITY_ID_LEN])
{
    identity *pub = NULL;
    char name[HS_NAME_MAX + 1];
    ck_assert_int_eq(peerlink_fetch_node(m->n, n->peer, NULL, &pub, name, MALLORY_FETCH_MS), NT_OK);
    memcpy(id, identity_id(pub), IDENTITY_ID_LEN);
    ck_assert_int_eq(peers_observe(m->n->db, pub, name, n->peer, "manual", NULL, (int64_t)time(NULL), NULL), NT_OK);
    identity_free(pub);
}

int mallory_call(mallory *m, const uint8_t *to, const char *method, const char *path, json_t *req, json_t **reply,
                 int timeout_ms)
{
    json_t *rep = NULL;
    int status = 0;
    nt_err rc = peerlink_call(m->n, to, method, path, req, &rep, &status, timeout_ms);
    ck_assert_msg(rc == NT_OK || status >= 400, "peerlink_call %s: %s (%d)", path, err_str(rc), status);
    if (reply)
        *reply = rep;
    else
        json_decref(rep);
    return status;
}

void mallory_pub_b64(mallory *m, char out[static MALLORY_PUB_B64_MAX])
{
    uint8_t der[IDENTITY_PUB_DER_MAX];
    size_t dl;
    ck_assert_int_eq(identity_public_der(m->n->id, der, sizeof der, &dl), NT_OK);
    ck_assert_int_eq(encoding_b64_encode(der, dl, B64_STD, out, MALLORY_PUB_B64_MAX), NT_OK);
}

void mallory_joins(mallory *m, harness_node *host, const uint8_t *host_id, const char *room,
                   uint8_t key[static ROOM_KEY_LEN])
{
    char body[128], jpath[160], b64[MALLORY_PUB_B64_MAX];
    snprintf(jpath, sizeof jpath, "/v1/peer/rooms/%s/join", room);
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", m->n->id_hex);
    json_decref(call(host, "POST", body, 200, "/v1/client/rooms/%s/invite", room));
    mallory_pub_b64(m, b64);
    json_t *jb = json_pack("{s:s}", "pub", b64), *reply = NULL;
    ck_assert_int_eq(mallory_call(m, host_id, "POST", jpath, jb, &reply, MALLORY_FETCH_MS), 200);
    json_decref(jb);
    size_t kl = 0;
    const char *kb = json_string_value(json_object_get(json_array_get(json_object_get(reply, "keys"), 0), "key"));
    ck_assert_int_eq(encoding_b64_decode(kb, strlen(kb), B64_STD, key, ROOM_KEY_LEN, &kl), NT_OK);
    ck_assert_int_eq(kl, ROOM_KEY_LEN);
    json_decref(reply);
}

json_t *mallory_submission(mallory *m, const uint8_t room_id[static ROOM_ID_LEN], int64_t epoch,
                           const uint8_t key[static ROOM_KEY_LEN], const char *txn, const char *text, size_t len,
                           bool tamper)
{
    uint8_t *body = NULL, sig[SIGN_MAX_LEN];
    size_t bl, sl;
    ck_assert_int_eq(roomcrypt_seal(room_id, (uint64_t)epoch, key, identity_id(m->n->id), text, len, &body, &bl),
                     NT_OK);
    ck_assert_int_eq(roomcrypt_sign(m->n->id, room_id, (uint64_t)epoch, txn, body, bl, sig, sizeof sig, &sl), NT_OK);
    if (tamper)
        body[bl - 40] ^= 0x01;
    char *b64b = malloc(2 * bl + 8), b64s[1024];
    ck_assert_ptr_nonnull(b64b);
    ck_assert_int_eq(encoding_b64_encode(body, bl, B64_STD, b64b, 2 * bl + 8), NT_OK);
    ck_assert_int_eq(encoding_b64_encode(sig, sl, B64_STD, b64s, sizeof b64s), NT_OK);
    json_t *j = json_pack("{s:s,s:I,s:s,s:s}", "txn_id", txn, "epoch", (json_int_t)epoch, "body", b64b, "sig", b64s);
    free(b64b);
    free(body);
    return j;
}

void mallory_stop(mallory *m)
{
    if (m->n) {
        peerlink_stop(m->n);
        node_close(m->n, false);
        m->n = NULL;
    }
    config_free(&m->cfg);
    rng_free();
    if (m->dir[0]) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", m->dir);
        if (system(cmd)) {
        }
        m->dir[0] = '\0';
    }
}
