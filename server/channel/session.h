/* session.h - the serving node's table of sealed-channel sessions, and the
 * cache of handshake nonces seen (api-spec/protocol.md, "Handshake" and
 * "Sealed channel").
 *
 * In memory only: keys are zeroed when a session is dropped, and a restart
 * forgets every session (requestors then re-handshake). Thread-safe: one
 * mutex guards the table; the expensive work (MAC, decryption, handlers)
 * runs outside it on a copy of the keys (session_view). The clock is passed
 * in (Unix seconds), so tests drive expiry without sleeping. */
#ifndef NATTER_SESSION_H
#define NATTER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"
#include "crypto/identity.h"
#include "server/channel/keysched.h"
#include "server/channel/transcript.h"

#define SESSION_DEFAULT_IDLE 3600         /* s */
#define SESSION_DEFAULT_ABSOLUTE 86400    /* s */
#define SESSION_DEFAULT_MAX 4096          /* sessions in the table */
#define SESSION_DEFAULT_PER_PEER 16       /* live sessions from one node id */
#define SESSION_UNCONFIRMED_IDLE 60       /* s: an unconfirmed session dies sooner */
#define SESSION_EVICT_IDLE 60             /* s: at the per-peer limit, a session idle this long gives way */
#define SESSION_NONCE_TTL (2 * HS_TIME_WINDOW) /* a nonce is remembered this long */
#define SESSION_NONCE_MAX 65536           /* nonces remembered at most */

typedef struct session_table session_table;

typedef struct {
    unsigned long idle;        /* seconds of idleness before a session is dropped */
    unsigned long absolute;    /* seconds after creation it is dropped regardless */
    unsigned long max_sessions;
    unsigned long max_per_peer;
} session_limits;

/* What a request handler needs from a session; holds secrets, so it is
 * wiped with session_view_wipe() when done. */
typedef struct {
    uint8_t peer[IDENTITY_ID_LEN];
    seal_key c2s, s2c;
    uint8_t confirm[KEYSCHED_CONFIRM_LEN]; /* expected key confirmation */
    bool confirmed;
    uint16_t port; /* the requestor's peer API port from its handshake (0: none) */
    int64_t created, expires_at, last_used;
    uint64_t requests;
} session_view;

/* Public state of one session, for status displays. */
typedef struct {
    uint8_t id[HS_SESSION_ID_LEN];
    uint8_t peer[IDENTITY_ID_LEN];
    bool confirmed;
    int64_t created, expires_at, idle_expires_at;
    uint64_t requests;
} session_info;

/* A zero field in lim takes its default. *out owned by the caller. */
NT_MUST_USE nt_err session_table_new(session_table **out, const session_limits *lim);
/* Zero every key and free; NULL-safe. */
void session_table_free(session_table *t);
void session_table_limits(const session_table *t, session_limits *out);

/* Read-only check before a handshake's expensive work: NT_ERR_REPLAY if
 * nonce was seen, NT_ERR_FORBIDDEN if peer has max_per_peer live sessions
 * and none of them has been idle for SESSION_EVICT_IDLE (session_insert
 * drops the least recently used such one), NT_ERR_BUSY if the table or the
 * nonce cache is full. */
NT_MUST_USE nt_err session_precheck(session_table *t, const uint8_t peer[static IDENTITY_ID_LEN],
                                    const uint8_t nonce[static HS_NONCE_LEN], int64_t now);

/* Record nonce and add a session with id sid, atomically and with the same
 * checks as session_precheck (plus NT_ERR_EXISTS for a duplicate sid).
 * Copies the c2s/s2c keys, the expected confirmation and the requestor's
 * port (kept until the session confirms: see session_view); *expires_at
 * gets the absolute expiry. */
NT_MUST_USE nt_err session_insert(session_table *t, const uint8_t sid[static HS_SESSION_ID_LEN],
                                  const uint8_t peer[static IDENTITY_ID_LEN], uint16_t port,
                                  const uint8_t nonce[static HS_NONCE_LEN], const session_keys *keys,
                                  const uint8_t confirm[static KEYSCHED_CONFIRM_LEN], int64_t now,
                                  int64_t *expires_at);

/* Look up sid for a request with sequence number seq: NT_ERR_NOT_FOUND
 * (unknown), NT_ERR_EXPIRED (was there, now dropped), NT_ERR_REPLAY (seq
 * outside the window or seen). Changes nothing else. On NT_OK *v holds a
 * copy of the keys. */
NT_MUST_USE nt_err session_begin(session_table *t, const uint8_t sid[static HS_SESSION_ID_LEN], uint64_t seq,
                                 int64_t now, session_view *v);

/* After the request authenticated: record seq in the window (NT_ERR_REPLAY
 * if a concurrent request took it first), mark the session confirmed and
 * used. NT_ERR_NOT_FOUND if it vanished meanwhile. */
NT_MUST_USE nt_err session_commit(session_table *t, const uint8_t sid[static HS_SESSION_ID_LEN], uint64_t seq,
                                  int64_t now);

void session_view_wipe(session_view *v);

/* Drop sid (zeroing its keys). NT_ERR_NOT_FOUND if unknown. */
NT_MUST_USE nt_err session_drop(session_table *t, const uint8_t sid[static HS_SESSION_ID_LEN]);

/* Drop expired sessions and nonces; returns how many sessions went. */
size_t session_sweep(session_table *t, int64_t now);

/* Live sessions (total, or from one peer when peer != NULL). */
size_t session_count(session_table *t, const uint8_t *peer, int64_t now);

/* The public state of one live session. NT_ERR_NOT_FOUND if unknown. */
NT_MUST_USE nt_err session_info_get(session_table *t, const uint8_t sid[static HS_SESSION_ID_LEN], int64_t now,
                                    session_info *out);

/* Up to cap sessions from peer (newest first) into out; returns the count. */
size_t session_list_peer(session_table *t, const uint8_t peer[static IDENTITY_ID_LEN], int64_t now,
                         session_info *out, size_t cap);

#endif
