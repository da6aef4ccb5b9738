/* discovery_seen.h - what discovery remembers about each node it heard.
 *
 * A bounded in-memory table keyed by node id: the last accepted instance
 * id, sequence number and timestamp (replay protection), the verified
 * public key (so a packet without a key, or a repeat, needs no fetch and no
 * DER parse), when the node was last heard (for "gone") and when a failed
 * key fetch may be retried. Pure: the caller passes the time. Not
 * thread-safe; discovery.c holds a lock around it.
 *
 * The durable peer table (storage/peers) is the source of truth for the
 * client API; this table is only discovery's working memory and is empty at
 * every start (discovery.c does not let an announcement that may predate
 * the start change a known peer). When full, an id whose key fetch failed
 * is replaced first, then the node heard from longest ago, but never one
 * heard within DISCOVERY_SEEN_KEEP_MS: its replay state must outlive every
 * packet of it that could still pass the time check, or a flood of new ids
 * would let an old announcement of it be replayed. Except a node known
 * from multicast only (expendable: untrusted, never handshaken, what
 * anyone can mint and announce from spoofed sources), or a flood of those
 * would fill the table for that long and shut out every real peer: those
 * give way next, the one heard from longest ago first, and lose their
 * replay state (an old announcement of theirs can then move their row
 * once more). A new id that finds no such entry is refused (DISC_BUSY)
 * until one ages out. */
#ifndef NATTER_DISCOVERY_SEEN_H
#define NATTER_DISCOVERY_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"
#include "crypto/identity.h"
#include "server/discovery/discovery_packet.h"

#define DISCOVERY_SEEN_DEFAULT_CAP 1024
#define DISCOVERY_FETCH_RETRY_MS (10 * 1000)
/* A packet passes the time check while |timestamp - our clock| is within
 * the window; a sender whose clock is ahead by up to the window makes that
 * up to twice the window after we heard it. */
#define DISCOVERY_SEEN_KEEP_MS (2 * DISCOVERY_TIME_WINDOW_MS)

typedef struct discovery_seen discovery_seen;

NT_MUST_USE nt_err discovery_seen_new(discovery_seen **out, size_t cap);
/* Frees the cached keys too; discovery_seen_free(NULL) is a no-op. */
void discovery_seen_free(discovery_seen *t);

/* DISC_REPLAY if p is not newer than the last announcement accepted from
 * its node id: same instance and seq not greater, or another instance with
 * a timestamp not later. DISC_OK otherwise. No state change. */
discovery_drop discovery_seen_check(const discovery_seen *t, const discovery_packet *p);

/* DISC_OK if id has an entry or one can be made at now_ms (a free slot,
 * or an entry that may be replaced, see above); DISC_BUSY otherwise. No
 * state change: the check before work that discovery_seen_accept would
 * refuse to record. */
discovery_drop discovery_seen_room(const discovery_seen *t, const uint8_t id[static IDENTITY_ID_LEN], int64_t now_ms);

/* Record a verified announcement heard at now_ms (monotonic). expendable:
 * the node is known from multicast only (see above). If the id has no
 * cached key and *key is not NULL, the table takes *key and sets it to
 * NULL; otherwise *key is left to the caller. *new_peer is set when the
 * id was not in the table, *new_instance when its instance id changed
 * (the node restarted). Either may be NULL. False, and nothing recorded,
 * when there is no room for a new id (discovery_seen_room). */
bool discovery_seen_accept(discovery_seen *t, const discovery_packet *p, identity **key, int64_t now_ms,
                           bool expendable, bool *new_peer, bool *new_instance);

/* Was id's last accepted announcement recorded as expendable? */
bool discovery_seen_expendable(const discovery_seen *t, const uint8_t id[static IDENTITY_ID_LEN]);

/* The verified key for id, or NULL. Borrowed: valid until the next call
 * that changes the table. */
const identity *discovery_seen_key(const discovery_seen *t, const uint8_t id[static IDENTITY_ID_LEN]);

/* Key fetches for ids whose packets carry no key: false while a failure
 * for id is younger than DISCOVERY_FETCH_RETRY_MS. A failure is not
 * recorded when the table has no room. */
bool discovery_seen_fetch_allowed(const discovery_seen *t, const uint8_t id[static IDENTITY_ID_LEN], int64_t now_ms);
void discovery_seen_fetch_failed(discovery_seen *t, const uint8_t id[static IDENTITY_ID_LEN], int64_t now_ms);

/* Last accepted announcement from id: true and *last_seen_ms (monotonic)
 * and instance (may be NULL) set, or false if never accepted. */
bool discovery_seen_get(const discovery_seen *t, const uint8_t id[static IDENTITY_ID_LEN], int64_t *last_seen_ms,
                        uint8_t instance[DISCOVERY_INSTANCE_LEN]);

/* Number of ids with an accepted announcement. */
size_t discovery_seen_count(const discovery_seen *t);

#endif
