/* discovery_packet.h - the LAN discovery datagram: encoder and decoder.
 *
 * Wire format in api-spec/protocol.md ("Discovery"). Everything here is
 * pure (no sockets, no clock, no globals): the caller passes the time and
 * the identity. Every reason to refuse a packet has its own code, so the
 * receiver can count drops by reason. */
#ifndef NATTER_DISCOVERY_PACKET_H
#define NATTER_DISCOVERY_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"
#include "crypto/identity.h"
#include "crypto/sign.h"

#define DISCOVERY_PACKET_MAX 1200 /* bytes; larger datagrams are refused */
#define DISCOVERY_MAGIC "NTDS"
#define DISCOVERY_MAGIC_LEN 4
#define DISCOVERY_VERSION 1
#define DISCOVERY_INSTANCE_LEN 16
#define DISCOVERY_HEADER_LEN (DISCOVERY_MAGIC_LEN + 1 + 1 + IDENTITY_ID_LEN + DISCOVERY_INSTANCE_LEN + 8)
#define DISCOVERY_QUERY_LEN DISCOVERY_HEADER_LEN
#define DISCOVERY_NAME_MAX 100 /* bytes of UTF-8 */
#define DISCOVERY_KEY_MAX IDENTITY_PUB_DER_MAX
#define DISCOVERY_TIME_WINDOW_MS (300 * 1000LL)

/* DISCOVERY_ANNOUNCE_EXT is an announcement with two more signed fields
 * after the name: flags and the listen address (protocol.md). A node sends
 * it only when it has something to put there (a goodbye, or a peer API on
 * one address), so nodes that know only type 1 still hear the others. */
typedef enum { DISCOVERY_ANNOUNCE = 1, DISCOVERY_QUERY = 2, DISCOVERY_ANNOUNCE_EXT = 3 } discovery_packet_type;

#define DISCOVERY_FLAG_GOODBYE 0x01 /* the sender is stopping: show it offline now */
#define DISCOVERY_ADDR_LEN 4        /* IPv4 listen address; addr_len is 0 or this */

/* Why a packet was refused; DISC_OK when it was not. The decoder returns
 * the structural ones, the receiver (discovery.c) the others. The order is
 * the order of the checks in protocol.md. */
typedef enum {
    DISC_OK = 0,
    DISC_TOO_BIG,         /* datagram over DISCOVERY_PACKET_MAX */
    DISC_RATE_LIMITED,    /* source over its token bucket */
    DISC_TRUNCATED,       /* ends inside a field */
    DISC_BAD_MAGIC,
    DISC_BAD_VERSION,
    DISC_BAD_TYPE,
    DISC_BAD_NAME,        /* empty, too long, not UTF-8, control characters */
    DISC_BAD_PORT,        /* peer port 0 */
    DISC_BAD_KEY_LEN,     /* key longer than DISCOVERY_KEY_MAX */
    DISC_BAD_SIG_LEN,     /* not 256/384/512, or not the key's size */
    DISC_TRAILING,        /* bytes after the last field */
    DISC_OWN,             /* our own packet (not an error on loopback) */
    DISC_TIME_SKEW,       /* timestamp outside the window */
    DISC_REPLAY,          /* seq/instance not newer than the last accepted; a goodbye from before our start */
    DISC_ID_MISMATCH,     /* SHA-256(key) != node id */
    DISC_BAD_KEY,         /* key does not parse or size not allowed */
    DISC_KEY_UNAVAILABLE, /* no key in the packet, none cached, fetch failed */
    DISC_BUSY,            /* node-wide signature check budget exhausted, or no room to remember a new id */
    DISC_BAD_SIGNATURE,
    DISC_STORE,           /* the peer table refused the update */
    DISC_PEER_CAP,        /* a new id from a source at its cap of new peers per hour */
    DISC_BAD_ADDR,        /* addr_len not 0/4, or a listen address the source cannot have */
    DISC__COUNT
} discovery_drop;

/* Counter name for a reason ("too_big", "bad_signature", ...). Never NULL. */
const char *discovery_drop_str(discovery_drop d);

/* A decoded packet. The key and signature point into the buffer given to
 * discovery_packet_decode(), which must outlive this struct. */
typedef struct {
    const uint8_t *raw; /* the datagram decoded */
    discovery_packet_type type;
    uint8_t node_id[IDENTITY_ID_LEN];
    uint8_t instance_id[DISCOVERY_INSTANCE_LEN];
    int64_t timestamp_ms;
    /* announce only: */
    uint32_t seq;
    uint16_t peer_port;
    uint8_t flags;                     /* DISCOVERY_FLAG_*; 0 in a type 1 announcement */
    bool has_addr;                     /* listen address present (type 3) */
    uint8_t addr[DISCOVERY_ADDR_LEN];  /* IPv4, network order */
    char name[DISCOVERY_NAME_MAX + 1]; /* NUL-terminated */
    const uint8_t *key;                /* NULL when key_len is 0 */
    size_t key_len;
    const uint8_t *sig;
    size_t sig_len;
    size_t signed_len; /* raw[0 .. signed_len) is what the signature covers */
} discovery_packet;

/* What a node says about itself in an announcement. */
typedef struct {
    uint8_t instance_id[DISCOVERY_INSTANCE_LEN];
    int64_t timestamp_ms;
    uint32_t seq;
    uint16_t peer_port;
    const char *name; /* valid UTF-8, 1..DISCOVERY_NAME_MAX bytes */
    uint8_t flags;    /* DISCOVERY_FLAG_* */
    bool has_addr;    /* the peer API listens on addr only */
    uint8_t addr[DISCOVERY_ADDR_LEN];
} discovery_announce_fields;

/* Structural decode of buf[0..len). Does not check time or signature.
 * Returns DISC_OK and fills *out, or the first reason the packet is bad
 * (then *out is unspecified). */
discovery_drop discovery_packet_decode(const uint8_t *buf, size_t len, discovery_packet *out);

/* DISC_TIME_SKEW unless |timestamp - now| <= window. */
discovery_drop discovery_packet_check_time(const discovery_packet *p, int64_t now_ms, int64_t window_ms);

/* For a packet that carries a key: DISC_ID_MISMATCH unless SHA-256(key)
 * is the node id (hash only, no parsing); DISC_KEY_UNAVAILABLE without a
 * key. Enough when the key for the id is already known and verified. */
discovery_drop discovery_packet_check_binding(const discovery_packet *p);

/* For a packet that carries a key: DISC_ID_MISMATCH unless SHA-256(key)
 * is the node id, DISC_BAD_KEY if it is not an allowed RSA key,
 * DISC_BAD_SIG_LEN if the signature is not the key's size. On DISC_OK
 * *out is a new public identity owned by the caller (out may be NULL to
 * only check the binding). DISC_KEY_UNAVAILABLE if the packet has no key. */
discovery_drop discovery_packet_check_key(const discovery_packet *p, identity **out);

/* Signature over raw[0..signed_len) with domain SIGN_ANNOUNCE under key,
 * which must be the node id's key (checked here too: DISC_ID_MISMATCH).
 * DISC_BAD_SIG_LEN if the size is not the key's, DISC_BAD_SIGNATURE if it
 * does not verify. */
discovery_drop discovery_packet_verify(const discovery_packet *p, const identity *key);

/* The address to record for an announcement p that came from src (both
 * IPv4, network order): src when p carries no listen address or carries
 * src; the listen address when it and src are both loopback (127/8).
 * DISC_BAD_ADDR otherwise: the sender is not reachable where it says, or
 * says an address the datagram did not come from. */
discovery_drop discovery_packet_address(const discovery_packet *p, const uint8_t src[static DISCOVERY_ADDR_LEN],
                                        uint8_t out[static DISCOVERY_ADDR_LEN]);

/* True if s[0..len) is a valid display name for a packet: at most
 * DISCOVERY_NAME_MAX bytes and text_name_valid (common/text.h). */
bool discovery_packet_name_ok(const char *s, size_t len);

/* Encode a query into out (cap >= DISCOVERY_QUERY_LEN). */
NT_MUST_USE nt_err discovery_packet_encode_query(const uint8_t node_id[static IDENTITY_ID_LEN],
                                                 const uint8_t instance_id[static DISCOVERY_INSTANCE_LEN],
                                                 int64_t timestamp_ms, uint8_t *out, size_t cap, size_t *len);

/* Encode and sign an announcement with self (must hold the private key).
 * Type 1 when f has no flags and no address, type 3 otherwise.
 * The public key is included when the packet stays within
 * DISCOVERY_PACKET_MAX, otherwise key_len is 0. NT_ERR_INVALID for a bad
 * name or port 0; NT_ERR_TOO_BIG if cap is too small. */
NT_MUST_USE nt_err discovery_packet_encode_announce(const identity *self, const discovery_announce_fields *f,
                                                    uint8_t *out, size_t cap, size_t *len);

/* Only the unsigned part (every byte before sig_len), with or without the
 * key; used by the encoder and by tests with fixed vectors. *len set. */
NT_MUST_USE nt_err discovery_packet_encode_unsigned(const uint8_t node_id[static IDENTITY_ID_LEN],
                                                    const discovery_announce_fields *f, const uint8_t *key,
                                                    size_t key_len, uint8_t *out, size_t cap, size_t *len);

#endif
