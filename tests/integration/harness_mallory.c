/* harness_mallory.c - an in-process hostile node for integration tests. */
#include "harness_mallory.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/rng.h"
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
