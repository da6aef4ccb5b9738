/* peerlink_session.h - our session towards one peer, and how it is opened:
 * GET /v1/node at the peer's address (the key there must hash to the id we
 * meant), POST /v1/handshake, the reply's signature checked against the
 * PINNED key before anything is used, the session installed with its
 * deadlines (as the serving node announced them).
 *
 * The session records are made and freed by peerlink.c, which keeps them
 * in a list (next, guarded by its own table lock) until peerlink_stop; a
 * pointer to one stays valid until then.
 *
 * Locking: hs_mu serialises handshakes towards the peer (held across the
 * network exchange); mu guards every other field and is only held briefly,
 * never across I/O. hs_mu is taken before mu. */
#ifndef NATTER_PEERLINK_SESSION_H
#define NATTER_PEERLINK_SESSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "crypto/identity.h"
#include "server/channel/handshake.h"
#include "server/core/node.h"
#include "server/peer/peerlink.h"
#include "server/peer/peerlink_wire.h"
#include "storage/peers.h"

/* A peer's kept addresses, newest first; v[0] is the one to dial. */
typedef struct {
    char v[PEERS_ADDRS_KEPT][PEERS_ADDR_MAX];
    size_t n;
} peerlink_addrs;

typedef struct peerlink_session {
    struct peerlink_session *next; /* peerlink.c's list */
    uint8_t id[IDENTITY_ID_LEN];   /* the peer; fixed once made */
    pthread_mutex_t hs_mu;         /* one handshake at a time per peer */
    pthread_mutex_t mu;            /* guards everything below */
    bool up, confirmed;            /* confirmed: the peer answered one sealed request */
    hs_session s;                  /* keys: secret, wiped on drop */
    uint64_t next_seq, requests;
    unsigned gen;                  /* bumped for every new session */
    int64_t established, abs_deadline, last_used, last_ok;
    char last_error[PEERLINK_ERR_MAX];
    char addr[PEERS_ADDR_MAX];     /* where the session was opened: its requests go there */
} peerlink_session;

/* A new record for peer id, no session open. Owned by the caller
 * (peerlink_session_free). NULL when out of memory. */
peerlink_session *peerlink_session_new(const uint8_t id[static IDENTITY_ID_LEN]);

/* Wipe and free a record nobody else uses any more. NULL is a no-op. */
void peerlink_session_free(peerlink_session *l);

/* Record the last failure towards the peer (takes mu). */
void peerlink_session_error(peerlink_session *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* mu held. Is the session open and not about to expire at now (our
 * clock)? The margin before the peer's deadlines shrinks for very short
 * (test) lifetimes. */
bool peerlink_session_usable(const peerlink_session *l, int64_t now);

/* mu held. Close (and wipe) the session, if any. */
void peerlink_session_drop(peerlink_session *l);

/* Drop the session if it is still generation gen, i.e. no other thread
 * opened a new one meanwhile (takes mu). */
void peerlink_session_drop_gen(peerlink_session *l, unsigned gen);

/* The state for display (takes mu). */
void peerlink_session_state(peerlink_session *l, peerlink_state *st);

/* "ecdh", "ecdh-x25519", "ecdh-p256" or "rsa" into a handshake mode and
 * curve. NT_ERR_INVALID for anything else; NULL is the default x25519. */
NT_MUST_USE nt_err peerlink_session_parse_mode(const char *mode, uint8_t *m, ecdh_curve *c);

/* hs_mu held. Run one handshake with the peer at addr, whose pinned key is
 * pinned (borrowed), install the new session and record addr as the
 * peer's newest address (it answered there as itself). mode as in
 * peerlink_connect (NULL: --handshake-mode). timeout_ms bounds both of its
 * exchanges together (GET /v1/node, POST /v1/handshake). Failures are
 * recorded in last_error; errors as peerlink_call's. */
NT_MUST_USE nt_err peerlink_session_handshake(node *n, peerlink_wire *w, peerlink_session *l, const char *addr,
                                              const identity *pinned, const char *mode, int timeout_ms);

/* hs_mu held. peerlink_session_handshake at a's addresses in turn, newest
 * first, while nothing answers at one (refused, unreachable, timed out), a
 * node that is not the peer does, or the handshake is refused: a stale or
 * forged newest address (anyone can replay an announcement from anywhere)
 * then costs a try, not the peer. The handshake is what proves the peer is
 * at an address; the session keeps the one that worked (its requests go
 * there) and the peer table records it as the newest. The tries share
 * timeout_ms: each gets an equal share of what is left of it (the last
 * all of it), so addresses that take a connection and never answer cost
 * the caller (and the handshakes queued behind hs_mu) one timeout in all,
 * not one each, and still leave the peer's other addresses a try. Errors:
 * the last try's; NT_ERR_STATE when a has no address. */
NT_MUST_USE nt_err peerlink_session_handshake_any(node *n, peerlink_wire *w, peerlink_session *l,
                                                  const peerlink_addrs *a, const identity *pinned, const char *mode,
                                                  int timeout_ms);

/* Make sure l has a usable session: handshake (peerlink_session_handshake_any
 * over a) when not, or when force and the session is still generation
 * stale_gen (another thread may have re-opened it while we waited). Takes
 * hs_mu. *handshook (may be NULL) set to true when a handshake was run and
 * succeeded. */
NT_MUST_USE nt_err peerlink_session_ensure(node *n, peerlink_wire *w, peerlink_session *l, const peerlink_addrs *a,
                                           const identity *key, bool force, unsigned stale_gen, int timeout_ms,
                                           bool *handshook);

/* peerlink_fetch_node over w (see peerlink.h). */
NT_MUST_USE nt_err peerlink_session_fetch_node(peerlink_wire *w, const char *address, const uint8_t *expected_id,
                                               identity **pub, char name[static HS_NAME_MAX + 1], int timeout_ms);

#endif
