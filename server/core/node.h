/* node.h - the node context every handler and service receives.
 *
 * node_open() prepares the data dir and everything in it; main starts the
 * listeners and services around it. Fields are read-only after start-up
 * unless noted, so any thread may read them without a lock; counters are
 * atomics; the store has its own lock (storage/store.h).
 *
 * Files in <data-dir> (mode 0700, refused if group/other have any access):
 *   identity.pem  RSA private key, PEM, 0600 (refused if group/other access)
 *   api-token     client API bearer token, 64 hex digits + '\n', 0600
 *   natter.db     SQLite (+ -wal, -shm)
 *   natterd.lock  flock()ed while a natterd runs on this dir
 *   natterd.json  {"pid","peer","client","node_id"} written once listening
 *
 * MODULE STATE: a module that needs per-node state adds ONE pointer field in
 * the "modules" block below, creates it in its start function (see
 * server/core/services.h) and frees it in its stop function. */
#ifndef NATTER_NODE_H
#define NATTER_NODE_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/config.h"
#include "common/err.h"
#include "common/text.h"
#include "crypto/identity.h"
#include "storage/store.h"
#include "server/core/http.h"

#define NODE_TOKEN_BYTES 32
#define NODE_TOKEN_HEX_LEN (2 * NODE_TOKEN_BYTES)
#define NODE_ERR_MAX 512
#define NODE_PROTOCOL_VERSION 1

#define NODE_KEY_FILE "identity.pem"
#define NODE_TOKEN_FILE "api-token"
#define NODE_LOCK_FILE "natterd.lock"
#define NODE_RUN_FILE "natterd.json"

typedef struct node {
    const config *cfg;                      /* borrowed; outlives the node */
    char data_dir[PATH_MAX];
    identity *id;                           /* our key pair (owned) */
    char id_hex[IDENTITY_ID_HEX_LEN + 1];   /* node id, lowercase hex */
    char fingerprint[IDENTITY_FINGERPRINT_MAX];
    char pub_pem[IDENTITY_PUB_PEM_MAX];
    pthread_mutex_t name_mu;                /* guards name: it changes at run time */
    char name[TEXT_NAME_MAX + 1];           /* read with node_name() */
    store *db;                              /* owned */
    char token[NODE_TOKEN_HEX_LEN + 1];     /* SECRET: the client API token; never log */
    time_t started_at;                      /* wall clock at start */
    struct timespec started_mono;
    atomic_bool stopping;                   /* set when shutdown begins */
    int lock_fd;

    /* set by main once listening (borrowed views of the servers) */
    http_server *peer_http, *client_http;
    char peer_addr[HTTP_ADDR_MAX], client_addr[HTTP_ADDR_MAX];

    /* counters (atomics; add yours here) */
    atomic_uint_fast64_t n_keys_generated;

    /* modules: one pointer each (created/freed by the module's service) */
    struct discovery *discovery;            /* server/discovery/discovery_node.c; NULL when off */
    struct peer_api *peer_api;              /* server/peer/peer_api.c: sessions we serve */
    struct peerlink *peerlink;              /* server/peer/peerlink.c: sessions we hold */
    struct presence *presence;              /* server/core/presence.h: made by node_open */
    struct rooms *rooms;                    /* server/rooms/rooms_node.c; NULL when not running */
    void *reserved_;
} node;

/* Create or check the data dir, take the lock, load or create the identity
 * and token, open and migrate the database. On failure returns non-zero
 * with a one-line reason in err (never a secret). *out owned by the caller
 * (node_close). cfg must outlive the node. */
NT_MUST_USE nt_err node_open(const config *cfg, node **out, char err[static NODE_ERR_MAX]);

/* Close the database, free everything, release the lock. NULL-safe. Remove
 * natterd.json first if remove_runfile. */
void node_close(node *nd, bool remove_runfile);

/* Write <data-dir>/natterd.json atomically (temp file + rename) from the
 * listener addresses in nd. */
NT_MUST_USE nt_err node_write_runfile(const node *nd);

/* The text of an api-token file, buf[0..len) (not NUL-terminated): exactly
 * NODE_TOKEN_HEX_LEN lowercase hex digits, then at most one '\n'. On
 * success out holds the token, NUL-terminated; NT_ERR_INVALID otherwise. */
NT_MUST_USE nt_err node_token_parse(const char *buf, size_t len, char out[static NODE_TOKEN_HEX_LEN + 1]);

/* <data-dir>/<name> into buf. NT_ERR_TOO_BIG if it does not fit. */
NT_MUST_USE nt_err node_path(const node *nd, const char *name, char buf[static PATH_MAX]);

/* The display name, copied (it may change at any time). */
void node_name(node *nd, char out[static TEXT_NAME_MAX + 1]);
/* Change the display name and remember it for later starts (unless --name
 * is given then). NT_ERR_INVALID if not text_name_valid. */
NT_MUST_USE nt_err node_set_name(node *nd, const char *name);

/* Call fn(arg, peer_id) each time a peer comes back: an announcement from
 * it after it was down or unknown, a completed handshake with it, or an
 * authenticated answer from it after it was down (server/core/presence.h:
 * no lock held, must be quick). NT_ERR_TOO_BIG past PRESENCE_HOOKS_MAX. */
NT_MUST_USE nt_err node_on_peer_up(node *nd, void (*fn)(void *arg, const uint8_t peer_id[static IDENTITY_ID_LEN]),
                                   void *arg);
/* Undo node_on_peer_up and wait for callbacks running now (call it in the
 * module's stop, before freeing arg; never from the callback). */
void node_off_peer_up(node *nd, void (*fn)(void *arg, const uint8_t peer_id[static IDENTITY_ID_LEN]), void *arg);

uint64_t node_uptime_s(const node *nd);
bool node_stopping(const node *nd);
/* Begin shutdown: set stopping (long waits watch node_stopping). */
void node_begin_stop(node *nd);

#endif
