/* peers.h - the peer table: every node this node knows.
 *
 * A peer is keyed by its node id (SHA-256 of its DER public key). The key
 * is pinned at first sight: a different key for a known id is refused
 * (NT_ERR_AUTH) and changes nothing. Every row whose name another row
 * also uses, alike (text_name_fold: case, spaces, invisible characters,
 * look-alike letters), is flagged (name_collision), and each row keeps
 * how many hex digits of its id set it apart from every other row of a
 * name alike (label_hex: at least PEERS_SUFFIX_MIN, more while another
 * such id starts with the same digits). Both are recomputed for every
 * row a new name, a rename or a delete touches, and for every row by
 * peers_names_refresh, so the user can tell them apart. Names are display
 * text only: a peer is its id (see peers_label).
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
#define PEERS_ORIGIN_CAP 16        /* new rows first learned from one source address ... */
#define PEERS_ORIGIN_WINDOW_S 3600 /* ... per this many seconds */
/* A label shows at least this many hex digits of the id: 32 bits, so
 * that a key whose id starts like another's costs ~2^32 RSA key
 * generations rather than the 2^16 (seconds) of 4 digits. */
#define PEERS_SUFFIX_MIN 8
#define PEERS_LABEL_MAX (PEERS_NAME_MAX + 1 + IDENTITY_ID_HEX_LEN + 1) /* name "~" hex NUL */
/* Rows known only from multicast (source "multicast", not trusted: a
 * handshake makes the source "handshake") cost an attacker nothing but a
 * key pair and a spoofed source address each, so there are at most this
 * many (the least recently seen go first) ... */
#define PEERS_MULTICAST_MAX 256
/* ... and one unseen this long is forgotten (it comes back, if it is
 * there, with its next announcement). */
#define PEERS_MULTICAST_EXPIRY_S (7 * 24 * 3600)

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
    unsigned label_hex; /* hex digits of the id its label shows */
} peer_info;

/* Record a sighting of pub (a public identity; its id is identity_id(pub)).
 * New id: inserted (name, addr, source, instance, now), *is_new = true.
 * Known id: the pinned key must be the same DER (else NT_ERR_AUTH, nothing
 * changes); name (when non-NULL and non-empty), addr (when non-NULL),
 * instance id (when non-NULL) and last_seen are refreshed; a peer added by
 * hand stays "manual", one first seen otherwise becomes "manual" when
 * source is "manual", and one known only from multicast becomes
 * "handshake" when source is "handshake". name: a display name
 * (text_name_valid: at most 100 bytes of UTF-8, no control or invisible
 * characters, no space at either end; NT_ERR_INVALID otherwise; NULL or ""
 * for unknown). addr: "host:port" or NULL. source:
 * "multicast", "manual" or "handshake". instance_id: 16 bytes or NULL.
 * is_new may be NULL. */
NT_MUST_USE nt_err peers_observe(store *s, const identity *pub, const char *name, const char *addr,
                                 const char *source, const uint8_t *instance_id, int64_t now_unix, bool *is_new);

/* peers_observe with more in and out. */
typedef struct {
    /* in: the address (IP, no port) the sighting came from, or NULL (a
     * manual add: no cap). A NEW id is refused with NT_ERR_BUSY when
     * origin_cap rows (0: PEERS_ORIGIN_CAP) of its kind were added by the
     * same origin in the last PEERS_ORIGIN_WINDOW_S seconds: one machine
     * minting identities cannot grow the table without bound. The kinds,
     * capped apart: lasting rows ("handshake", "manual"), and rows known
     * only from multicast, whose source address may have been spoofed
     * (ids announced under a victim's address do not refuse the victim's
     * handshakes). An untrusted row known only from multicast that a
     * "handshake" or "manual" sighting would make lasting counts as a new
     * lasting row: refused the same way, and once upgraded it is this
     * origin's row, added now. */
    const char *origin;
    unsigned origin_cap;
    /* in: a NEW id from "multicast" first makes room: rows known only from
     * multicast unseen for PEERS_MULTICAST_EXPIRY_S go, then the least
     * recently seen while there are multicast_cap (0: PEERS_MULTICAST_MAX). */
    unsigned multicast_cap;
    const char *self_name; /* in: this node's name (old_label: a name alike it is shared); may be NULL */
    /* out */
    bool is_new;
    bool renamed;                      /* a known peer's non-empty name changed */
    char old_name[PEERS_NAME_MAX + 1]; /* its name before, when renamed */
    char old_label[PEERS_LABEL_MAX];   /* its label before (peers_identify then), when renamed */
    int64_t retry_after;               /* with NT_ERR_BUSY: seconds until the origin may add one */
} peers_sighting;

/* Would peers_record refuse a "handshake" sighting of the id as new from
 * origin now? NT_OK when the id is known (and not, untrusted, from
 * multicast only: see peers_sighting.origin), origin is NULL or empty, or
 * origin is under its cap of lasting rows (0: PEERS_ORIGIN_CAP);
 * NT_ERR_BUSY with *retry_after in seconds
 * otherwise. Read only: the check a caller makes before work it would
 * throw away. */
NT_MUST_USE nt_err peers_may_add(store *s, const uint8_t id[static IDENTITY_ID_LEN], const char *origin,
                                 unsigned origin_cap, int64_t now_unix, int64_t *retry_after);

/* As peers_observe; sg (not NULL) as above. Only names from signed data
 * (a handshake transcript, a signed announcement) belong here. */
NT_MUST_USE nt_err peers_record(store *s, const identity *pub, const char *name, const char *addr,
                                const char *source, const uint8_t *instance_id, int64_t now_unix,
                                peers_sighting *sg);

/* How this node shows an identity (the one rule for every JSON that names
 * a peer): trust is self (this node), trusted, untrusted (a known peer not
 * marked trusted) or unknown (no peer row). */
typedef enum { PEER_TRUST_SELF, PEER_TRUST_TRUSTED, PEER_TRUST_UNTRUSTED, PEER_TRUST_UNKNOWN } peer_trust;
typedef struct peer_ident {
    char name[PEERS_NAME_MAX + 1];
    peer_trust trust;
    char label[PEERS_LABEL_MAX];
} peer_ident;

const char *peers_trust_name(peer_trust t);
/* The label: the bare name for self, and for a trusted peer whose name
 * (a valid name: text_name_valid) no other known peer and not this node
 * uses (collision false); otherwise name "~" the first hex_digits hex
 * digits of the id (at least PEERS_SUFFIX_MIN; "~" and the digits when
 * the name is empty): "bob~3fa2c9d1". hex_digits: a row's label_hex. */
void peers_label(const char *name, const char *id_hex, peer_trust trust, bool collision, unsigned hex_digits,
                 char out[static PEERS_LABEL_MAX]);
/* a and b (either may be NULL) fold alike (text_name_fold) and not to "". */
bool peers_names_alike(const char *a, const char *b);
/* The label of a row p (trust from p->trusted) as peers_identify gives
 * it: shared also when its name is alike self_name (may be NULL). */
void peers_info_label(const peer_info *p, const char *self_name, char out[static PEERS_LABEL_MAX]);
/* name, trust and label of id_hex (64 hex): self when it is self_hex (then
 * self_name is its name), else from the peer table (unknown if no row,
 * or s is NULL; a name alike self_name is shared). */
void peers_identify(store *s, const char *self_hex, const char *self_name, const char *id_hex, peer_ident *out);
/* Recompute the folded name, name_collision and label_hex of every row
 * (rows written by an older version, a changed fold). At start. */
NT_MUST_USE nt_err peers_names_refresh(store *s);

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
