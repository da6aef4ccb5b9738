/* discovery.h - LAN discovery over UDP multicast: sockets and thread.
 *
 * One UDP socket bound to the group and port, joined on every up,
 * multicast-capable IPv4 interface (or only the one named), with
 * IP_MULTICAST_ALL off so it hears only its own group. A thread announces
 * (signed, see discovery_packet.h) at start and then periodically, queries
 * at start, answers queries, and checks every datagram it receives; valid
 * announcements go to the observe callback (the peer table); a key that
 * an announcement lacks is fetched off this thread (discovery_fetch.h), so
 * a slow source stalls nothing. Interfaces
 * are re-scanned every interval on a timer of their own, so an interface
 * that comes up later is joined then. Timing: discovery_sched.h. Wire format and drop
 * reasons: api-spec/protocol.md "Discovery".
 *
 * Thread-safety: discovery_stats_get() and discovery_instance_id() may be
 * called from any thread while the discovery thread runs. */
#ifndef NATTER_DISCOVERY_H
#define NATTER_DISCOVERY_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/err.h"
#include "crypto/identity.h"
#include "server/discovery/discovery_packet.h"
#include "server/discovery/discovery_sched.h"

#define DISCOVERY_GROUP_DEFAULT "239.255.77.10"
#define DISCOVERY_PORT_DEFAULT 7712
#define DISCOVERY_TTL_DEFAULT 1
#define DISCOVERY_IFACES_MAX 16
#define DISCOVERY_ERR_MAX 256

/* What discovery calls back, all on the discovery thread; any may be NULL.
 * observe: a valid announcement; add or refresh the peer (NT_ERR_BUSY: a
 * new id from a source at its cap, counted as peer_cap). addr is
 *   "a.b.c.d:port" (source address of the packet, or the listen address
 *   it carries when plausible: discovery_packet_address; peer port from it),
 *   instance_id 16 bytes, now_unix wall-clock seconds; pub is borrowed for
 *   the call. Set *is_new if the id was not known, and *expendable if
 *   the peer is known from multicast only (untrusted, never handshaken:
 *   anyone can mint such ids and announce them from spoofed sources), so
 *   that discovery's memory of who it heard lets it go first.
 *   maybe_replay: the announcement is timestamped before discovery
 *   started (it remembers nothing across restarts), so it may be a replay
 *   from another address. It may add a peer not known yet, and shows a
 *   known one is up, but must not change what a known peer's row says
 *   (address, name, instance).
 * name: the display name to announce now (it may change at run time);
 *   without it the name given to discovery_start is used.
 * pinned_key: the key already pinned for a node id (the peer table), for
 *   announcements that carry no key; NULL if none. The result is owned by
 *   discovery. Tried before GET /v1/node.
 * log: level 0 error, 1 warn, 2 info, 3 debug. */
typedef struct {
    void *ctx;
    nt_err (*observe)(void *ctx, const identity *pub, const char *name, const char *addr,
                      const uint8_t *instance_id, int64_t now_unix, bool maybe_replay, bool *is_new,
                      bool *expendable);
    void (*name)(void *ctx, char out[static DISCOVERY_NAME_MAX + 1]);
    identity *(*pinned_key)(void *ctx, const uint8_t id[static IDENTITY_ID_LEN]);
    void (*log)(void *ctx, int level, const char *msg);
    /* goodbye: a valid, signed goodbye from node id (it is stopping). */
    void (*goodbye)(void *ctx, const uint8_t id[static IDENTITY_ID_LEN]);
} discovery_hooks;

typedef struct {
    const char *group;     /* dotted IPv4 multicast address */
    uint16_t port;         /* UDP port, > 0 */
    const char *interface; /* interface name, or NULL/"" for all multicast-capable */
    const char *listen;    /* IPv4 address our peer API listens on; NULL, "" or 0.0.0.0 for all. A
                            * specific one is announced (signed), and only on the interface that
                            * holds it (lo for 127.0.0.1): we are not reachable elsewhere */
    unsigned ttl;          /* 1..255 */
    bool loop;             /* IP_MULTICAST_LOOP: see our own packets (and same-host peers) */
    discovery_sched_config sched;
    uint32_t source_rate;  /* per-source token bucket: packets/s */
    uint32_t source_burst;
    uint32_t verify_rate;  /* node-wide signature checks/s */
    uint32_t verify_burst;
    unsigned fetch_timeout_ms; /* GET /v1/node for keys not in the packet */
    int rcvbuf;            /* SO_RCVBUF bytes; 0 = system default */
} discovery_config;

/* Defaults: the group, port, TTL and timing of protocol.md, loop on. */
void discovery_config_defaults(discovery_config *c);

typedef struct {
    uint64_t sent;          /* datagrams sent (announcements and queries, per interface) */
    uint64_t send_errors;
    uint64_t received;      /* datagrams read from the socket */
    uint64_t announces;     /* valid announcements accepted */
    uint64_t queries;       /* valid queries answered or coalesced */
    uint64_t restarts;      /* accepted announcements with a new instance id */
    uint64_t key_fetches;   /* GET /v1/node for keys not in the packet */
    uint64_t overflow;      /* datagrams the kernel dropped: socket buffer full */
    uint64_t dropped[DISC__COUNT]; /* by reason; [DISC_OK] unused */
    unsigned interfaces;    /* interfaces joined now */
    unsigned peers;         /* nodes heard since start */
} discovery_stats;

typedef struct discovery discovery;

/* Open the socket, join the group and start the thread. self is borrowed
 * (must hold the private key and outlive d); name (<= 100 bytes UTF-8) is
 * copied; peer_port is our peer API port; hooks is copied (may be NULL).
 * On failure err holds a reason. */
NT_MUST_USE nt_err discovery_start(discovery **out, const discovery_config *c, const identity *self, const char *name,
                                   uint16_t peer_port, const discovery_hooks *hooks,
                                   char err[static DISCOVERY_ERR_MAX]);

/* Stop and join the thread, multicast a signed goodbye (receivers show us
 * offline at once), close the socket, free. NULL-safe. */
void discovery_stop(discovery *d);

/* Snapshot of the counters. */
void discovery_stats_get(discovery *d, discovery_stats *out);

/* The instance id this node announces (new at each start). */
void discovery_instance_id(const discovery *d, uint8_t out[static DISCOVERY_INSTANCE_LEN]);

#endif
