/* members_store.h - room members (table room_members). On a host: every
 * peer invited to, joined, left or kicked from a room it hosts, with the
 * push state of each (cursor, key epoch, member-list version seen,
 * backoff, a notice to deliver). On a member: its copy of the host's list
 * (peer, role, state, public key). Each row keeps mver: on a host the
 * member-list version at which it last changed (rooms_store.h:
 * members_ver), on a member the version of the host's list it was last
 * taken from.
 *
 * Threads: one thread at a time on the roomdb handle (the caller holds
 * the rooms lock). Ids are passed through unchecked. */
#ifndef NATTER_MEMBERS_STORE_H
#define NATTER_MEMBERS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"
#include "../crypto/identity.h"
#include "roomdb.h"
#include "rooms_store.h"

/* Stored as text: "joined", "invited", "left", "kicked". */
typedef enum { MEMBER_JOINED = 0, MEMBER_INVITED, MEMBER_LEFT, MEMBER_KICKED } member_state;
/* Stored as text: "master", "member". */
typedef enum { MEMBER_ROLE_MASTER = 0, MEMBER_ROLE_MEMBER } member_role;

const char *member_state_name(member_state s);
NT_MUST_USE nt_err member_state_parse(const char *s, member_state *out);
const char *member_role_name(member_role r);
NT_MUST_USE nt_err member_role_parse(const char *s, member_role *out);

/* What a push owes a member before anything else. Stored as text: ""
 * (none), "invite", "kicked" (the notify's event), "reinvite": a kick
 * not delivered yet and an invitation after it, both owed in that order
 * (pushed as "kicked", then "invite"). */
typedef enum { MEMBER_NOTICE_NONE = 0, MEMBER_NOTICE_INVITE, MEMBER_NOTICE_KICKED, MEMBER_NOTICE_REINVITE } member_notice;
const char *member_notice_name(member_notice n);
NT_MUST_USE nt_err member_notice_parse(const char *s, member_notice *out);

/* Which rows a count or listing takes. */
typedef enum {
    MEMBERS_ALL,
    MEMBERS_JOINED,
    MEMBERS_CURRENT,  /* joined or invited */
    MEMBERS_LEFT,     /* left */
    MEMBERS_DEPARTED, /* left or kicked */
} members_which;

/* One member row. peer and the texts are copies. */
typedef struct {
    char peer[IDENTITY_ID_HEX_LEN + 1];
    member_role role;
    member_state state;
    room_delivery delivery;
    int64_t cursor, key_epoch, from_epoch, from_seq, members_seen, mver;
    uint8_t pub[IDENTITY_PUB_DER_MAX];
    size_t pub_len; /* 0: no key held */
} member_rec;

/* peer's row in room; NT_ERR_NOT_FOUND if none. */
NT_MUST_USE nt_err members_store_get(roomdb *db, const char *room, const char *peer, member_rec *out);
/* How many rows of room `which` (MEMBERS_ALL, _JOINED or _CURRENT;
 * NT_ERR_INVALID for another) takes. */
NT_MUST_USE nt_err members_store_count(roomdb *db, const char *room, members_which which, int64_t *n);

/* Host: the master's own row of a room it creates (joined, epoch 1). */
NT_MUST_USE nt_err members_store_add_master(roomdb *db, const char *room, const char *peer, const uint8_t *der,
                                            size_t der_len);
/* Host: peer joins. An invited row keeps the seq and epoch of its
 * invitation (it reads from there); any other row (an open or password
 * room's joiner, a departed member back) reads from the log's head and
 * holds keys from the room's epoch. Its push cursor starts where it
 * reads from; it holds every epoch up to the current one. */
NT_MUST_USE nt_err members_store_admit(roomdb *db, const char *room, const char *peer, const uint8_t *der,
                                       size_t der_len, room_delivery delivery, int64_t head, int64_t epoch);
/* Host: peer is invited (with its notice to push) at the log's head and
 * the room's epoch: it will read the entries after head, with the keys
 * from epoch on. An invitation again of a row still invited keeps its
 * first seq and epoch. A kick still owed to peer is kept before the
 * invitation (notice "reinvite"). */
NT_MUST_USE nt_err members_store_invite(roomdb *db, const char *room, const char *peer, int64_t head,
                                        int64_t epoch);
/* Host: peer is kicked (with its notice to push), or left. */
NT_MUST_USE nt_err members_store_kick(roomdb *db, const char *room, const char *peer);
NT_MUST_USE nt_err members_store_leave(roomdb *db, const char *room, const char *peer);
/* Member: a row of the host's list of version ver, which becomes the
 * row's mver (der may be NULL: the key held stays). */
NT_MUST_USE nt_err members_store_put(roomdb *db, const char *room, const char *peer, member_role role,
                                     member_state state, const uint8_t *der, size_t der_len, int64_t ver);
/* Delete the row of room that changed longest ago (lowest mver, then the
 * oldest row) among `which` (MEMBERS_LEFT or MEMBERS_DEPARTED) with no
 * notice still owed, to make room for a new peer's; NT_ERR_NOT_FOUND
 * when there is none (NT_ERR_INVALID for another `which`). */
NT_MUST_USE nt_err members_store_drop_oldest(roomdb *db, const char *room, members_which which);
/* How many rows of room members_store_drop_oldest may replace among
 * `which` (as there). */
NT_MUST_USE nt_err members_store_replaceable(roomdb *db, const char *room, members_which which, int64_t *n);
/* Member: delete the row of room that changed longest ago, a departed
 * (left or kicked) one if any is left, else one of any state, never
 * keep's nor keep2's (the host's and this node's own) nor one with a
 * notice owed; NT_ERR_NOT_FOUND when there is none. */
NT_MUST_USE nt_err members_store_drop_oldest_but(roomdb *db, const char *room, const char *keep,
                                                 const char *keep2);
/* Host: peer's row changed at the room's current members_ver. */
NT_MUST_USE nt_err members_store_stamp(roomdb *db, const char *room, const char *peer);
/* Host: the member-list version peer holds: the room's current one, v,
 * or at least v. */
NT_MUST_USE nt_err members_store_seen_current(roomdb *db, const char *room, const char *peer);
NT_MUST_USE nt_err members_store_set_seen(roomdb *db, const char *room, const char *peer, int64_t v);
NT_MUST_USE nt_err members_store_raise_seen(roomdb *db, const char *room, const char *peer, int64_t v);
/* Host: peer's delivery mode (its backoff forgotten). */
NT_MUST_USE nt_err members_store_set_delivery(roomdb *db, const char *room, const char *peer, room_delivery delivery);
/* Host: a poll-mode peer read up to seq (stored when 64 or more ahead). */
NT_MUST_USE nt_err members_store_polled(roomdb *db, const char *room, const char *peer, int64_t seq);
/* Host: members waiting out a soft retry are due now. */
NT_MUST_USE nt_err members_store_wake(roomdb *db, const char *room);

/* Host: one member a push round owes something (a notice, messages,
 * keys or the member list). mver: the version its row last changed at
 * (a notice's kick or invitation). Texts are borrowed for the callback. */
typedef struct {
    const char *room, *peer;
    room_delivery delivery;
    member_notice notice;
    member_state state;
    int64_t cursor, key_epoch, from_epoch, head, epoch, members_seen, members_ver, mver;
} member_push;
typedef void members_store_push_fn(void *arg, const member_push *p);
/* The members due a push at now (never `me`), at most max. */
NT_MUST_USE nt_err members_store_push_due(roomdb *db, const char *me, int64_t now, size_t max,
                                          members_store_push_fn *fn, void *arg);
/* A push delivered notice `sent`: cleared, unless another notice took its
 * place meanwhile (a kick while the invitation was on its way), which the
 * next push then delivers. A delivered kick ("kicked", or the kick of
 * "reinvite") leaves the invitation owed after it ("invite"). */
NT_MUST_USE nt_err members_store_notice_done(roomdb *db, const char *room, const char *peer, member_notice sent);
/* A push delivered: cursor, key epoch and version seen raised to these;
 * next try at next_try. */
NT_MUST_USE nt_err members_store_pushed(roomdb *db, const char *room, const char *peer, int64_t cursor,
                                        int64_t key_epoch, int64_t seen, int64_t next_try);
/* A push failed: *fails gets the count with this one, then
 * members_store_retry_at records it with the next try. */
NT_MUST_USE nt_err members_store_next_fail(roomdb *db, const char *room, const char *peer, int64_t *fails);
NT_MUST_USE nt_err members_store_retry_at(roomdb *db, const char *room, const char *peer, int64_t fails,
                                          int64_t next_try);

/* What a submission from sender to room is checked against before its
 * verify (one read across rooms, members, keys and the log). */
typedef struct {
    bool found;  /* the room exists */
    bool hosted; /* and this node hosts it */
    int64_t epoch, epoch_ts;
    room_rotation epoch_cause; /* what began the current epoch */
    uint8_t pub[IDENTITY_PUB_DER_MAX]; /* the sender's key if it is a joined member */
    size_t pub_len;
    bool have_key;
    uint8_t key[32]; /* the room key of the submission's epoch: wipe it */
    bool dup;        /* (sender, txn) is in the log already, at dup_seq */
    int64_t dup_seq, dup_ts;
} member_submit_check;
/* Fill *out for a submission of txn under epoch; out->found false when
 * there is no such room. */
NT_MUST_USE nt_err members_store_submit_check(roomdb *db, const char *room, const char *sender, int64_t epoch,
                                              const char *txn, member_submit_check *out);

/* Called with each row of a listing (borrowed for the call). */
typedef void members_store_fn(void *arg, const member_rec *m);
/* The current members (joined, invited), the master first. */
NT_MUST_USE nt_err members_store_current(roomdb *db, const char *room, members_store_fn *fn, void *arg);
/* The rows changed after version ver (-1: all), oldest change first, at
 * most max. */
NT_MUST_USE nt_err members_store_since(roomdb *db, const char *room, int64_t ver, size_t max, members_store_fn *fn,
                                       void *arg);

#endif
