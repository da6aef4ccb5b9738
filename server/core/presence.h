/* presence.h - is a peer up or down, as this node saw it last, and the
 * "peer is up" callbacks.
 *
 * Discovery's expiry (--peer-expiry) is the slow answer to "is it there";
 * presence is the fast one: a signed goodbye or a call that cannot connect
 * marks a peer down at once, an announcement, a completed handshake or an
 * authenticated answer marks it up. A peer this node has no word on is
 * unknown (then the expiry rule alone decides what is shown).
 *
 * Callbacks registered with node_on_peer_up() run when a peer goes from
 * down or unknown to up, and after every completed handshake (a new
 * session: the peer may have restarted); they run on the thread that
 * noticed, with no presence, store or peerlink lock held, so they may call
 * peerlink. They must be quick (wake a thread, do not deliver inline).
 *
 * Thread-safe: every function may be called from any thread. */
#ifndef NATTER_PRESENCE_H
#define NATTER_PRESENCE_H

#include <stdbool.h>
#include <stdint.h>
#include "common/err.h"
#include "crypto/identity.h"

#define PRESENCE_PEERS_MAX 1024 /* peers remembered; the least recently changed goes first */
#define PRESENCE_HOOKS_MAX 8    /* "peer is up" callbacks */

typedef enum { PRESENCE_UNKNOWN = 0, PRESENCE_UP, PRESENCE_DOWN } presence_state;

/* A "peer is up" callback: peer_id is borrowed for the call. */
typedef void (*presence_up_fn)(void *arg, const uint8_t peer_id[static IDENTITY_ID_LEN]);

typedef struct presence presence;

/* *out owned by the caller (presence_free). */
NT_MUST_USE nt_err presence_new(presence **out);
/* NULL-safe. No callback may run any more. */
void presence_free(presence *p);

/* Register fn(arg). NT_ERR_TOO_BIG past PRESENCE_HOOKS_MAX. arg must
 * outlive p (or the registration). */
NT_MUST_USE nt_err presence_on_up(presence *p, presence_up_fn fn, void *arg);

/* Remove fn(arg) (every registration of it) and wait until no callback
 * is running, so arg may be freed after. Never call it from a callback. */
void presence_off_up(presence *p, presence_up_fn fn, void *arg);

/* Record that the peer is up (up) or down (!up) now. Returns the state it
 * had before (PRESENCE_UNKNOWN when p is NULL). Going up (from down or unknown), or up with always_hooks,
 * runs the callbacks before returning (no lock held). */
presence_state presence_set(presence *p, const uint8_t id[static IDENTITY_ID_LEN], bool up, bool always_hooks);

/* The peer's state; PRESENCE_UNKNOWN when p is NULL. */
presence_state presence_get(presence *p, const uint8_t id[static IDENTITY_ID_LEN]);

#endif
