/* harness_mallory.h - "mallory": the test process as a natter node of its
 * own (node_open + peerlink in a temp data dir), talking to real natterd
 * nodes over the real sealed peer channel, to send what a real node never
 * would.
 *
 *     mallory m = {0};
 *     mallory_start(&m);                 // aborts the test on failure
 *     uint8_t a_id[IDENTITY_ID_LEN];
 *     mallory_knows(&m, &A, a_id);       // A is now a known peer
 *     int status = mallory_call(&m, a_id, "POST", path, req, &reply, 10000);
 *     mallory_stop(&m);
 *
 * Every helper fails the running check test instead of returning errors. */
#ifndef NATTER_HARNESS_MALLORY_H
#define NATTER_HARNESS_MALLORY_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "crypto/identity.h"
#include "harness.h"
#include "server/core/node.h"
#include "server/rooms/roomcrypt.h"

#define MALLORY_PUB_B64_MAX 1024

typedef struct mallory {
    node *n;           /* the open node; NULL before start and after stop */
    config cfg;        /* its configuration (owned) */
    char dir[PATH_MAX]; /* its temp dir ("" when none) */
} mallory;

/* Opens mallory (RSA-2048, name "mallory", no discovery) in a new temp
 * dir, seeds the RNG and starts its peer channel. m must be zeroed. */
void mallory_start(mallory *m);

/* Fetches n's key from its peer listener and stores n as a manual peer
 * of mallory; id gets n's node id. */
void mallory_knows(mallory *m, const harness_node *n, uint8_t id[static IDENTITY_ID_LEN]);

/* A sealed request from mallory to peer `to`; returns the HTTP status.
 * A transport failure fails the test unless a status >= 400 came back.
 * With reply non-NULL, *reply gets the answer (the caller decrefs it). */
int mallory_call(mallory *m, const uint8_t *to, const char *method, const char *path, json_t *req, json_t **reply,
                 int timeout_ms);

/* Mallory's public key, DER in base64 (the "pub" of a sealed join). */
void mallory_pub_b64(mallory *m, char out[static MALLORY_PUB_B64_MAX]);

/* host (peer id host_id) invites mallory to its room (hex id) through its
 * client API, then mallory joins over the sealed channel; key gets the
 * key of epoch 1. */
void mallory_joins(mallory *m, harness_node *host, const uint8_t *host_id, const char *room,
                   uint8_t key[static ROOM_KEY_LEN]);

/* A message submission from mallory: text[0..len) sealed under key for
 * room_id's epoch and signed with mallory's key; with tamper, one byte of
 * the sealed body is flipped after signing. The caller decrefs it. */
json_t *mallory_submission(mallory *m, const uint8_t room_id[static ROOM_ID_LEN], int64_t epoch,
                           const uint8_t key[static ROOM_KEY_LEN], const char *txn, const char *text, size_t len,
                           bool tamper);

/* Stops and closes mallory, frees the RNG and removes the temp dir. Safe
 * on a zeroed or already stopped m. */
void mallory_stop(mallory *m);

#endif
