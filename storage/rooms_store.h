/* rooms_store.h - the rooms table: one row per room this node hosts,
 * follows, was invited to or left. On a host, members_ver is the version
 * of the room's member list (bumped on every join, leave, invite and
 * kick); on a member, the version it holds. `need` is, on a member, the
 * work the sync loop owes the room (a ROOM_NEED_* mask; stored as words).
 *
 * Threads: one thread at a time on the roomdb handle (the caller holds
 * the rooms lock). Ids are passed through unchecked, except by
 * rooms_store_get, which decodes the stored id. */
#ifndef NATTER_ROOMS_STORE_H
#define NATTER_ROOMS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"
#include "roomdb.h"

#define ROOMS_ID_LEN 16
#define ROOMS_ID_HEX_LEN 32
#define ROOMS_PEER_HEX_LEN 64
#define ROOMS_NAME_MAX 100
#define ROOMS_TOPIC_MAX 1000
#define ROOMS_SALT_LEN 16
#define ROOMS_PW_HASH_LEN 32

/* Stored as text: "hosted", "joined", "invited", "left", "kicked". */
typedef enum { ROOM_HOSTED = 0, ROOM_JOINED, ROOM_INVITED, ROOM_LEFT, ROOM_KICKED } room_state;

const char *room_state_name(room_state s);
/* NT_ERR_INVALID for any other text. */
NT_MUST_USE nt_err room_state_parse(const char *s, room_state *out);

/* How a member takes a room's messages. Stored and sent as text: "push",
 * "poll". */
typedef enum { ROOM_PUSH = 0, ROOM_POLL } room_delivery;
const char *room_delivery_name(room_delivery d);
NT_MUST_USE nt_err room_delivery_parse(const char *s, room_delivery *out);

/* Who may join a room. Stored and sent as text: "invite", "open",
 * "password". */
typedef enum { ROOM_ACCESS_INVITE = 0, ROOM_ACCESS_OPEN, ROOM_ACCESS_PASSWORD } room_access;
const char *room_access_name(room_access a);
NT_MUST_USE nt_err room_access_parse(const char *s, room_access *out);

/* What began a hosted room's current epoch. Stored as text, and sent as
 * a key_rotation event's reason: "created", "policy" (rotate_messages or
 * rotate_seconds reached), "rekey" (the master asked), "reinvite" (a
 * former member invited again), "leave", "kick". "unknown": a row from
 * before the cause was stored, and every member room. */
typedef enum {
    ROOM_ROT_UNKNOWN = 0,
    ROOM_ROT_CREATED,
    ROOM_ROT_POLICY,
    ROOM_ROT_REKEY,
    ROOM_ROT_REINVITE,
    ROOM_ROT_LEAVE,
    ROOM_ROT_KICK
} room_rotation;
const char *room_rotation_name(room_rotation c);
NT_MUST_USE nt_err room_rotation_parse(const char *s, room_rotation *out);

/* What a member room's sync owes it. Stored as the words "keys",
 * "members", "poll". */
enum { ROOM_NEED_KEYS = 1u << 0, ROOM_NEED_MEMBERS = 1u << 1, ROOM_NEED_POLL = 1u << 2 };

typedef struct {
    char id[ROOMS_ID_HEX_LEN + 1];
    uint8_t idb[ROOMS_ID_LEN];
    char name[ROOMS_NAME_MAX + 1];
    char topic[ROOMS_TOPIC_MAX + 1];
    char host[ROOMS_PEER_HEX_LEN + 1];
    room_access access;
    room_state state;
    room_delivery delivery;
    unsigned need; /* ROOM_NEED_* */
    room_rotation epoch_cause; /* host: what began the current epoch */
    int64_t rot_msgs, rot_secs, epoch, epoch_ts, since_rot, head, from_seq, dropped, created;
    int64_t members_ver;
    int64_t from_epoch; /* member: the first epoch of its membership (0: not known) */
    int64_t joined_ver; /* member: the host's member-list version its membership began at (0: not known) */
} room_rec;

/* Load a room; NT_ERR_NOT_FOUND if this node has none (NT_ERR_DB for a
 * row it cannot read). */
NT_MUST_USE nt_err rooms_store_get(roomdb *db, const char *id, room_rec *out);

/* A room this node creates and hosts. salt and hash may be NULL (no
 * password). */
typedef struct {
    const char *id, *name, *topic, *host;
    room_access access;
    const uint8_t *salt, *hash; /* ROOMS_SALT_LEN, ROOMS_PW_HASH_LEN */
    int64_t pw_iter, rot_msgs, rot_secs, created;
} room_new;
NT_MUST_USE nt_err rooms_store_create(roomdb *db, const room_new *n);
/* A room's password hash; NT_ERR_NOT_FOUND when it has none (or an
 * invalid one). */
NT_MUST_USE nt_err rooms_store_pw(roomdb *db, const char *id, uint8_t salt[static ROOMS_SALT_LEN],
                                  uint8_t hash[static ROOMS_PW_HASH_LEN], unsigned *iter);
/* An invitation from host: the room becomes invited (a known room keeps
 * its host and access, takes the name and topic). */
NT_MUST_USE nt_err rooms_store_invite(roomdb *db, const char *id, const char *name, const char *topic,
                                      const char *host, room_access access, int64_t created);
/* A join the host accepted: the room becomes joined with that delivery,
 * its head at least from_seq, from_epoch the first epoch of this
 * membership and joined_ver the member-list version it began at (each 0:
 * not known), nothing needed. */
typedef struct {
    const char *id, *name, *topic, *host;
    room_access access;
    room_delivery delivery;
    int64_t from_seq, from_epoch, joined_ver, created;
} room_joined;
NT_MUST_USE nt_err rooms_store_join(roomdb *db, const room_joined *j);
/* Invitations pending, from host (NULL: from anyone). */
NT_MUST_USE nt_err rooms_store_invited(roomdb *db, const char *host, int64_t *n);
/* How many rooms this node hosts under name (0 or 1: names are unique per host). */
NT_MUST_USE nt_err rooms_store_hosted_named(roomdb *db, const char *name, int64_t *n);

NT_MUST_USE nt_err rooms_store_set_state(roomdb *db, const char *id, room_state state);
NT_MUST_USE nt_err rooms_store_set_delivery(roomdb *db, const char *id, room_delivery delivery);
/* The room's topic (the caller checks its length). */
NT_MUST_USE nt_err rooms_store_set_topic(roomdb *db, const char *id, const char *topic);
/* Host: a new epoch began at now for cause (since_rot restarts). */
NT_MUST_USE nt_err rooms_store_rotated(roomdb *db, const char *id, int64_t now, room_rotation cause);
/* Member: the host's newest epoch is `epoch` (since now). */
NT_MUST_USE nt_err rooms_store_set_epoch(roomdb *db, const char *id, int64_t epoch, int64_t now);
/* Host: the log's head and the count since the last rotation. */
NT_MUST_USE nt_err rooms_store_set_head(roomdb *db, const char *id, int64_t head, int64_t since_rot);
/* Count n more messages dropped as unreadable; with head >= 0 also set
 * the head (a member's apply). */
NT_MUST_USE nt_err rooms_store_dropped(roomdb *db, const char *id, int64_t head, int64_t n);
/* need = need | bits, or need = bits. */
NT_MUST_USE nt_err rooms_store_need_add(roomdb *db, const char *id, unsigned bits);
NT_MUST_USE nt_err rooms_store_set_need(roomdb *db, const char *id, unsigned bits);
/* members_ver: read it, raise it to at least ver, or bump it by one. */
NT_MUST_USE nt_err rooms_store_members_ver(roomdb *db, const char *id, int64_t *ver);
NT_MUST_USE nt_err rooms_store_members_ver_raise(roomdb *db, const char *id, int64_t ver);
NT_MUST_USE nt_err rooms_store_members_ver_bump(roomdb *db, const char *id);

/* Called with each room id of a listing (borrowed for the call; the
 * callback may read and write other rows). */
typedef void rooms_store_id_fn(void *arg, const char *id, unsigned need);
/* Every room, oldest first, at most max. */
NT_MUST_USE nt_err rooms_store_all(roomdb *db, size_t max, rooms_store_id_fn *fn, void *arg);
/* Hosted rooms a peer may find (access open or password), oldest first. */
NT_MUST_USE nt_err rooms_store_listed(roomdb *db, rooms_store_id_fn *fn, void *arg);
/* Hosted rooms whose key is older than their rotate_seconds at now. */
NT_MUST_USE nt_err rooms_store_rotation_due(roomdb *db, int64_t now, size_t max, rooms_store_id_fn *fn, void *arg);
/* Joined rooms: all of them, or those in poll delivery. */
NT_MUST_USE nt_err rooms_store_joined(roomdb *db, bool poll_only, size_t max, rooms_store_id_fn *fn, void *arg);
/* Joined rooms that need something (every joined room with all), with
 * their need. */
NT_MUST_USE nt_err rooms_store_needy(roomdb *db, bool all, size_t max, rooms_store_id_fn *fn, void *arg);

#endif
