/* discovery_fetch.h - key fetches for announcements that carry no key, off
 * the discovery thread.
 *
 * A fetch (GET http://source:port/v1/node, keeping the key only if it
 * hashes to the announced id) may take its whole timeout: a source that
 * accepts the connection and never answers costs that much. Done on the
 * discovery thread, it would stall every other announcement meanwhile. So
 * fetches are queued here (at most DISCOVERY_FETCH_SLOTS, at most one per
 * node id and one per source address at a time) and run by
 * DISCOVERY_FETCH_WORKERS threads; a finished fetch is handed back with its
 * datagram, and discovery_fetch_fd() becomes readable, so that the
 * discovery thread checks the datagram then, as if it had come with the
 * key.
 *
 * Thread-safety: submit, take and fd are for one thread (the discovery
 * thread); the workers are internal. */
#ifndef NATTER_DISCOVERY_FETCH_H
#define NATTER_DISCOVERY_FETCH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"
#include "crypto/identity.h"
#include "server/discovery/discovery_packet.h"

#define DISCOVERY_FETCH_WORKERS 2 /* fetches in flight at most */
#define DISCOVERY_FETCH_SLOTS 8   /* queued, in flight and finished, at most */

typedef struct discovery_fetch discovery_fetch;

/* A finished fetch. key is owned by whoever took the job (NULL unless
 * result is DISC_OK). */
typedef struct {
    uint8_t pkt[DISCOVERY_PACKET_MAX]; /* the datagram that asked for it */
    size_t len;
    struct in_addr src;
    uint8_t id[IDENTITY_ID_LEN];
    identity *key;
    discovery_drop result; /* DISC_OK, DISC_ID_MISMATCH or DISC_KEY_UNAVAILABLE */
} discovery_fetch_job;

/* Start the workers; each fetch gives up after timeout_ms. *out owned by
 * the caller (discovery_fetch_free). */
NT_MUST_USE nt_err discovery_fetch_new(discovery_fetch **out, unsigned timeout_ms);

/* Stop the workers (a transfer in flight is aborted), free every job and
 * key. NULL-safe. */
void discovery_fetch_free(discovery_fetch *f);

/* Readable when a finished job is waiting (discovery_fetch_take). */
int discovery_fetch_fd(const discovery_fetch *f);

/* Queue a fetch of id's key from src:port for the datagram pkt[0..len)
 * (copied). NT_ERR_EXISTS while a fetch for the same id or from the same
 * source address is pending; NT_ERR_BUSY when every slot is taken;
 * NT_ERR_TOO_BIG for len over DISCOVERY_PACKET_MAX. */
NT_MUST_USE nt_err discovery_fetch_submit(discovery_fetch *f, const uint8_t *pkt, size_t len, struct in_addr src,
                                          uint16_t port, const uint8_t id[static IDENTITY_ID_LEN]);

/* One finished job into *out (its slot is freed); false when none. */
bool discovery_fetch_take(discovery_fetch *f, discovery_fetch_job *out);

/* Jobs not yet taken (queued, in flight or finished), for tests. */
size_t discovery_fetch_pending(discovery_fetch *f);

#endif
