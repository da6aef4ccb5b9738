/* peers.h - the peer table: every node this node knows.
 *
 * A peer is keyed by its node id (SHA-256 of its DER public key). The key
 * is pinned at first sight: a different key for a known id is refused
 * (NT_ERR_AUTH) and changes nothing. A NEW id whose name another peer
 * already uses is flagged (name_collision) so the user can tell them apart.
 * Every function takes the store lock itself; none does network I/O.
 *
 * Addresses are "host:port" of the peer's peer API; the most recent few
 * are kept (newest first), the first one is the one to dial. */
#ifndef NATTER_PEERS_H
#define NATTER_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"
#include "../crypto/identity.h"
#include "store.h"

#define PEERS_NAME_MAX 100     /* bytes of UTF-8 */
#define PEERS_ADDR_MAX 64      /* "host:port" with NUL */
#define PEERS_ADDRS_KEPT 4     /* addresses remembered per peer */
#define PEERS_INSTANCE_LEN 16
#define PEERS_SOURCE_MAX 16

typedef enum { PEER_DELIVERY_PUSH = 0, PEER_DELIVERY_POLL = 1 } peer_delivery;

typedef struct {
    uint8_t id[IDENTITY_ID_LEN];
    char id_hex[IDENTITY_ID_HEX_LEN + 1];
    char name[PEERS_NAME_MAX + 1];
    uint8_t pub_der[IDENTITY_PUB_DER_MAX];
    size_t pub_der_len;
    char address[PEERS_ADDR_MAX];                   /* newest; "" when none known */
    char addresses[PEERS_ADDRS_KEPT][PEERS_ADDR_MAX];
    size_t n_addresses;
    int64_t first_seen, last_seen;                  /* Unix seconds */
    bool trusted;
    peer_delivery delivery;
    char source[PEERS_SOURCE_MAX];                  /* "manual", "multicast" or "handshake" */
    bool has_instance;
    uint8_t instance_id[PEERS_INSTANCE_LEN];
    bool name_collision;
} peer_info;

/* Record a sighting of pub (a public identity; its id is identity_id(pub)).
 * New id: inserted (name, addr, source, instance, now), *is_new = true.
 * Known id: the pinned key must be the same DER (else NT_ERR_AUTH, nothing
 * changes); name (when non-NULL and non-empty), addr (when non-NULL),
 * instance id (when non-NULL) and last_seen are refreshed; a peer added by
 * hand stays "manual", one first seen otherwise becomes "manual" when
 * source is "manual". name: at most 100 bytes of UTF-8 (NT_ERR_INVALID
 * otherwise; NULL or "" for unknown). addr: "host:port" or NULL. source:
 * "multicast", "manual" or "handshake". instance_id: 16 bytes or NULL.
 * is_new may be NULL. */
NT_MUST_USE nt_err peers_observe(store *s, const identity *pub, const char *name, const char *addr,
                                 const char *source, const uint8_t *instance_id, int64_t now_unix, bool *is_new);

/* One peer. NT_ERR_NOT_FOUND when unknown. */
NT_MUST_USE nt_err peers_get(store *s, const uint8_t id[static IDENTITY_ID_LEN], peer_info *out);
/* The pinned public key of a peer; *out owned by the caller. */
NT_MUST_USE nt_err peers_get_key(store *s, const uint8_t id[static IDENTITY_ID_LEN], identity **out);

/* Every peer, most recently seen first. *out is malloc'd (free()); *n set;
 * *out may be NULL when *n is 0. */
NT_MUST_USE nt_err peers_list(store *s, peer_info **out, size_t *n);

/* Forget a peer (and its addresses). NT_ERR_NOT_FOUND when unknown. */
NT_MUST_USE nt_err peers_delete(store *s, const uint8_t id[static IDENTITY_ID_LEN]);
NT_MUST_USE nt_err peers_set_trusted(store *s, const uint8_t id[static IDENTITY_ID_LEN], bool trusted);
NT_MUST_USE nt_err peers_set_delivery(store *s, const uint8_t id[static IDENTITY_ID_LEN], peer_delivery d);

/* "push" / "poll"; parse returns NT_ERR_INVALID for anything else. */
const char *peers_delivery_name(peer_delivery d);
NT_MUST_USE nt_err peers_delivery_parse(const char *name, peer_delivery *out);

/* Parse 64 lowercase hex digits into id (an id has one spelling on the
 * wire). NT_ERR_INVALID otherwise, upper case included. */
NT_MUST_USE nt_err peers_id_parse(const char *hex, uint8_t id[static IDENTITY_ID_LEN]);

#endif
