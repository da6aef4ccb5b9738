/* rooms_int.h - what the rooms modules (rooms*.c, messages.c, delivery.c,
 * roomapi.c, outbox.c, ingest.c) share. Not for other modules: use rooms.h.
 * Every *_locked function expects r->lock held; nothing calls a peer while
 * holding it. */
#ifndef NATTER_ROOMS_INT_H
#define NATTER_ROOMS_INT_H

#include <assert.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include "server/rooms/rooms.h"
#include "server/rooms/roomcrypt.h"
#include "server/rooms/refusal.h"
#include "common/ratelimit.h"
#include "common/waitq.h"
#include "common/log.h"
#include "storage/events_store.h"
#include "storage/keys_store.h"
#include "storage/log_store.h"
#include "storage/members_store.h"
#include "storage/outbox_store.h"
#include "storage/rooms_store.h"
#include "storage/roomdb.h"

#define ROOM_NAME_MAX 100
#define ROOM_TOPIC_MAX 1000
#define ROOM_PASSWORD_MAX 256
#define ROOM_MEMBERS_MAX 256 /* members at once (joined or invited) */
/* Member rows a room keeps in all, departed and kicked members included
 * (their messages must still verify) while there is room: beyond it a
 * new peer's row replaces the oldest of a departed peer, on the host and
 * on a member alike; a member with none left replaces its oldest row but
 * the host's and its own (rooms_members.c). */
#define ROOM_MEMBER_ROWS_MAX (4 * ROOM_MEMBERS_MAX)
#define ROOM_PUSH_BATCH 200
#define ROOM_BATCH_BYTES (256 * 1024) /* log entries in one notify or poll reply */
#define ROOM_MEMBERS_PUSH_MAX 64 /* member rows in one notify (~700 bytes each) */
#define ROOM_MEMBERS_PAGE 256    /* member rows in a join reply or one GET members (~180 KB) */
#define ROOM_FETCH_PAGES_MAX 64 /* pages (members or keys) a member fetches in one go */
#define ROOM_KEYS_PAGE 1024      /* keys in a join reply or one GET keys (~70 bytes each) */
#define ROOM_KEYS_PUSH_MAX 64    /* keys in one notify (wrapped: ~560 bytes each) */
#define ROOM_POLL_LIMIT 500
#define ROOM_SUBMIT_BATCH_MAX 16 /* submissions in one batch request */
#define ROOM_OUTBOX_BUSY_MAX 8 /* rooms sending from the outbox at once (beyond it, sends may overlap) */
#define ROOM_SUBMIT_BATCH_BYTES (192 * 1024) /* what a sender packs into one (the host takes 256 KiB) */
#define ROOM_POLL_WAIT_MAX 25
#define ROOM_EVENTS_WAIT_MAX 30
#define ROOM_EVENTS_KEEP 20000
#define ROOM_PEER_TIMEOUT_MS 5000
#define ROOM_RESYNC_MS 30000
#define ROOM_SYNC_BACKOFF_SLOTS 64 /* as many rooms as one sync round takes */
#define ROOM_HOSTS_UP_MAX 16 /* hosts back since the last sync round (more wait out their backoff) */
#define ROOM_SALT_LEN 16
#define ROOM_PW_HASH_LEN 32
/* Password joins: a burst of ROOM_PW_BURST attempts per (peer, room), then
 * one per ROOM_PW_SLOWDOWN seconds; at most ROOM_PW_CHECKS_MAX hashes at
 * once on the node (each one keeps a core busy) */
#define ROOM_PW_BURST 5
#define ROOM_PW_SLOWDOWN 10
#define ROOM_PW_CHECKS_MAX 2
#define ROOM_PW_RL_SLOTS 1024
/* Joins: each peer has a budget of o.join_rate joins a minute, in bursts as
 * large, for all the rooms this node hosts together. A leave needs a join
 * before it, so the budget also bounds the rotations (and the key unwraps
 * on every member) that a peer can cause by joining and leaving an open
 * room; leaves themselves are never refused. */
#define ROOM_JOIN_RATE_DEFAULT 10
#define ROOM_JOIN_RATE_MAX 6000
#define ROOM_JOIN_RL_SLOTS 4096
/* Invitations not yet joined: from one inviting peer, and in all */
#define ROOM_INVITES_PER_PEER 8
#define ROOM_INVITES_MAX 64

typedef struct poller poller;

/* A submission on its way through the ingest pipeline (ingest.c): checked
 * against the log and verified (messages_check_unit), then committed with
 * others (messages_commit_batch). A request is one unit: its first item,
 * with the rest of a batch request chained in order on `more`. Items of a
 * unit are checked and committed in order, and the first one refused ends
 * the unit: the items after it are not tried (so a sender's order holds). */
typedef struct gc_item {
    const char *sender, *room;
    const struct submission *s;
    uint8_t idb[ROOM_ID_LEN];
    char *text; /* the host's own decryption, NULL if it did not open (owned) */
    size_t text_len;
    json_t *reply; /* done: the ack; refused: {"message", ...} (rooms_answer body) */
    bool decided; /* false until a stage decides */
    rooms_refusal refusal; /* once decided: REFUSE_NONE (stored or a duplicate) or why not */
    bool failed_db;
    bool untried; /* after a refused item of its unit: neither checked nor committed */
    bool in_commit; /* its answer comes from the commit (undone if the commit fails) */
    sem_t done; /* the unit's first item only: posted once when the unit is answered */
    void (*on_done)(void *arg); /* the unit's first item, when submitted with ingest_submit: called instead */
    void *done_arg;
    struct gc_item *more; /* the next item of the same request */
    struct gc_item *next; /* the next unit in a queue */
} gc_item;

typedef struct ingest ingest;

/* A read-only connection to the database (with o.read_path), for the
 * checks before a message's verify. */
#define ROOM_READERS 4
typedef struct {
    pthread_mutex_t mu; /* every use of db (never held with rooms.lock) */
    roomdb *db;
} room_reader;

struct rooms {
    rooms_opts o;
    char me_hex[IDENTITY_ID_HEX_LEN + 1];
    uint8_t *me_der;
    size_t me_der_len;
    pthread_mutex_t lock; /* every use of o.db */
    waitq log_wait;           /* a hosted log grew: parked long polls (woken under lock) */
    waitq ev_wait;            /* a client event was added: the same */
    pthread_cond_t push_cond; /* push work may be due */
    pthread_cond_t sync_cond; /* member-side work may be due */
    pthread_cond_t outbox_cond; /* a room's outbox sending slot was released */
    bool push_kick, sync_kick, stopping, started;
    pthread_t push_thr, sync_thr;
    poller *pollers;
    ingest *in;
    int64_t next_resync;
    atomic_uint_fast64_t dropped;
    atomic_uint_fast64_t poll_backoffs; /* a poll-mode room's poller waited out a failed or empty poll */
    /* rooms_host.c: password attempts per (peer, room), and hashes running */
    ratelimit *pw_rl;
    pthread_mutex_t pw_mu; /* every use of pw_rl */
    atomic_uint pw_checks;
    /* rooms_join.c: each peer's budget of joins, and the joins refused
     * because the peer was over it */
    ratelimit *join_rl;
    pthread_mutex_t join_mu; /* every use of join_rl */
    unsigned join_rate;      /* joins a minute, 1..ROOM_JOIN_RATE_MAX */
    atomic_uint_fast64_t joins_limited;
    room_reader readers[ROOM_READERS];
    size_t n_readers;
    atomic_uint next_reader;
    /* outbox.c: rooms with a submit from the outbox in flight (under lock),
     * so that a second sender does not send the same entries again */
    char outbox_busy[ROOM_OUTBOX_BUSY_MAX][ROOM_ID_HEX_LEN + 1];
    /* precheck.c: accepted pre-check answers, valid while pc_gen holds */
    struct precheck_slot *pc_slots;
    pthread_mutex_t pc_mu;
    atomic_uint_fast64_t pc_gen;
    atomic_bool pc_dirty;
    /* delivery.c: member rooms whose last sync with the host failed, and
     * when to try again (under lock; a full table forgets the oldest) */
    struct sync_backoff {
        char room[ROOM_ID_HEX_LEN + 1];
        int fails;
        int64_t next;
    } sync_bo[ROOM_SYNC_BACKOFF_SLOTS];
    /* rooms_peer_up: hosts that came back, taken by the next sync round */
    pthread_mutex_t up_mu; /* every use of up_hosts (never held with lock) */
    uint8_t up_hosts[ROOM_HOSTS_UP_MAX][IDENTITY_ID_LEN];
    size_t n_up;
};

/* A room's row (storage/rooms_store.h). */
typedef room_rec room_row;
static_assert(ROOMS_ID_LEN == ROOM_ID_LEN && ROOMS_ID_HEX_LEN == ROOM_ID_HEX_LEN, "room ids");
static_assert(ROOMS_PEER_HEX_LEN == IDENTITY_ID_HEX_LEN, "peer ids");
static_assert(ROOMS_NAME_MAX == ROOM_NAME_MAX && ROOMS_TOPIC_MAX == ROOM_TOPIC_MAX, "room names and topics");
static_assert(ROOMS_SALT_LEN == ROOM_SALT_LEN && ROOMS_PW_HASH_LEN == ROOM_PW_HASH_LEN, "password hashes");

int64_t rooms_now(rooms *r);

/* Wait on cond (r->lock held) until the deadline (waitq_deadline), in slices so
 * that a shutdown (rooms_stop or o.should_stop) ends it early. Returns
 * false when the deadline passed or a stop began. */
bool rooms_wait_locked(rooms *r, pthread_cond_t *cond, const struct timespec *deadline);
/* An error reply with a status and code not in refusal.h: a host's
 * refusal relayed as it came. The rooms' own are refusals (refusal.h). */
int rooms_error(json_t **reply, int status, const char *code, const char *msg);
bool rooms_valid_hex(const char *s, size_t len);
/* A query integer: decimal digits with an optional '-', nothing else (no
 * '+', no spaces) and in range of int64_t. False leaves *out alone. */
bool rooms_parse_i64(const char *s, int64_t *out);
/* An integer query parameter: its name, default and range [lo, hi];
 * unit, when not NULL, is said after the range ("seconds"). */
typedef struct {
    const char *name;
    int64_t def, lo, hi;
    const char *unit;
} rooms_qparam;
/* The first bad query parameter of a request: msg names it and its rule
 * ("limit must be an integer from 1 to 500"); empty while none was bad. */
#define ROOMS_QUERY_MSG_MAX 128
typedef struct {
    char msg[ROOMS_QUERY_MSG_MAX];
} rooms_query_bad;
/* Note that parameter k breaks its rule (`k must be <rule>`), unless an
 * earlier parameter already did: the first one is the one reported. */
void rooms_query_fail(rooms_query_bad *bad, const char *k, const char *rule);
/* Query parameter p as an integer in [p->lo, p->hi]: p->def when absent;
 * p->def, and *bad told (rooms_query_fail), when it is not such an integer. */
int64_t rooms_query_int(rooms_query_fn *q, void *qarg, const rooms_qparam *p, rooms_query_bad *bad);
/* The query of a call run again (rooms_rerun, rooms.h): read it through
 * rooms_rerun_query with this as its arg. */
typedef struct {
    rooms_query_fn *q;
    void *qarg;
    const rooms_rerun *again; /* NULL: q's answers as they are */
    char since[24];
} rooms_rerun_q;
const char *rooms_rerun_query(void *arg, const char *key);
bool rooms_valid_txn(const char *s);

/* Load a room row; NT_ERR_NOT_FOUND if this node has none. */
NT_MUST_USE nt_err rooms_load_locked(rooms *r, const char *id, room_row *out);
json_t *rooms_room_json_locked(rooms *r, const room_row *rm);
/* Room key for an epoch; NT_ERR_NOT_FOUND if not held. */
NT_MUST_USE nt_err rooms_key_locked(rooms *r, const char *room, int64_t epoch, uint8_t key[static ROOM_KEY_LEN]);
/* Host: new epoch with a fresh key (inside the caller's transaction),
 * begun for why (stored with it: the previous epoch keeps its grace only
 * after some causes, see messages.c epoch_ok). */
NT_MUST_USE nt_err rooms_rotate_locked(rooms *r, room_row *rm, room_rotation why);
/* Append a client event; data is stolen. */
void rooms_event_locked(rooms *r, const char *type, const char *room, json_t *data);
/* Wake the long polls parked on the client events, or on a hosted log. */
void rooms_events_grew_locked(rooms *r);
void rooms_log_grew_locked(rooms *r);
void rooms_wake_push_locked(rooms *r);
void rooms_wake_sync_locked(rooms *r);
/* Member: mark work for the sync loop (ROOM_NEED_* bits). */
void rooms_need_locked(rooms *r, const char *room, unsigned what);
/* One call to a peer through the port (the lock must not be held):
 * c->rc, and c->status and c->reply (the caller's) when it answered. */
nt_err rooms_port1(rooms *r, port_call *c);
/* rooms_port1 for an op with no parameters but its body req (borrowed,
 * may be NULL); *reply (the caller's) and *status set as for c. */
nt_err rooms_port_ask(rooms *r, port_op op, const char *peer, const char *room, json_t *req, json_t **reply,
                      int *status);
/* Member: store keys [{epoch, key} or {epoch, wrapped}] received from the
 * host, inside the caller's transaction if any (a fetched page: one commit). More
 * than cap keys: NT_ERR_TOO_BIG and nothing is done. An epoch already held,
 * or older than the room's from_epoch (from before this membership: never
 * ours to hold), is skipped before its key is opened; a key that does not
 * open is skipped. A newer epoch than the room's becomes its epoch (and a
 * key_rotation event). */
NT_MUST_USE nt_err rooms_store_keys_locked(rooms *r, const char *room, json_t *keys, size_t cap);
/* rooms_members.c */
/* True if der (a DER public key) hashes to the node id peer (64 hex). */
bool rooms_pub_matches(const uint8_t *der, size_t n, const char *peer);
/* Store a member list [{peer, role, state, pub}] from the host (the whole
 * list, or the rows that changed since the version we hold), checking each
 * pub hashes to its peer id; changes become membership events. ver is the
 * host's members_ver the list brings us to (0: not given); each row stored
 * keeps it, and a row held from a list of a newer version is left as it
 * is (lists come by push and by fetch, and an older one may arrive after
 * a newer one). record is the room's record {topic} that came with the
 * list (NULL: none): a topic that differs from ours is stored, and becomes
 * a `room` event (change "topic"), when ver is above the version we held.
 * Inside the caller's transaction if any (a fetched page: one commit).
 * At ROOM_MEMBER_ROWS_MAX rows a new peer's row replaces an old one
 * (the oldest departed, else the oldest of any state but the host's and
 * ours). More than cap rows: NT_ERR_TOO_BIG and nothing is done. */
NT_MUST_USE nt_err rooms_store_members_locked(rooms *r, const char *room, json_t *members, int64_t ver,
                                              json_t *record, size_t cap);
/* Host: whether a peer with no row in rm may get one: the room keeps
 * fewer than ROOM_MEMBER_ROWS_MAX rows, or one it may replace (a peer
 * that left; in an invite-only room also one kicked, who comes back only
 * by invitation anyway; in an open or password room a kicked peer's row
 * keeps it out; never one whose kick is still to be delivered). NT_OK,
 * NT_ERR_TOO_BIG, or NT_ERR_DB. */
NT_MUST_USE nt_err rooms_members_room_for_locked(rooms *r, const room_row *rm);
/* Host: before a new peer's row is added: at the cap, delete the oldest
 * row rooms_members_room_for_locked may replace (in the caller's
 * transaction). NT_ERR_TOO_BIG when there is none. */
NT_MUST_USE nt_err rooms_members_make_room_locked(rooms *r, const room_row *rm);
/* Set name, trust and label of peer (64 hex) on obj, each key after
 * prefix ("" or "sender_"): the identity contract of the client API. */
void rooms_ident_set(rooms *r, const char *peer, const char *prefix, json_t *obj);
/* The current members (joined, invited), without keys, for the client,
 * each with its name, trust and label. */
json_t *rooms_members_json_locked(rooms *r, const char *room);
/* Host: the rows (with pub) that changed after member-list version ver
 * (-1: every row), oldest change first, at most max; *upto gets the
 * version they bring a member to: the room's members_ver when they are
 * all the rest (fewer than max), else the last row's, and *more whether
 * rows may remain past it (may be NULL). */
json_t *rooms_members_since_json_locked(rooms *r, const char *room, int64_t ver, size_t max, int64_t *upto,
                                        bool *more);
/* Host: peer's row in room changed (joined, left, invited, kicked): bump
 * the room's members_ver, stamp the row with it, and wake the push loop
 * and the long polls so that every member hears of it (inside the
 * caller's transaction, if any). */
NT_MUST_USE nt_err rooms_members_changed_locked(rooms *r, const char *room, const char *peer);
/* Host: the room's record changed (its topic): bump the room's
 * members_ver with no row stamped, and wake the push loop and the long
 * polls, so that every member is sent the version with the record. */
NT_MUST_USE nt_err rooms_record_changed_locked(rooms *r, const char *room);
/* Host: the room's record as members are told it {id, name, topic,
 * access} (NULL when it cannot be read). */
json_t *rooms_record_json_locked(rooms *r, const char *room);

json_t *rooms_b64_json(const void *p, size_t n);
/* Decode a base64 JSON string into a malloc'd buffer of at most max bytes. */
uint8_t *rooms_b64_get(json_t *j, size_t max, size_t *n);
/* The same for data that is not secret (ciphertext, signatures, public keys):
 * encoding_b64_decode_public. */
uint8_t *rooms_b64_get_public(json_t *j, size_t max, size_t *n);
/* Keys a member may hold: from its join epoch, above `since`, oldest
 * first, at most max; wrapped to its identity key when wrap is set.
 * *last (may be NULL) gets the last epoch listed (since when none). */
json_t *rooms_member_keys_locked(rooms *r, const char *room, const char *peer, int64_t since, bool wrap, size_t max,
                                 int64_t *last);
/* rooms_join.c: a peer's join request for a room this node hosts. Each
 * request takes one join of the peer's budget first: over it, 429
 * rate_limited with retry_after (seconds) and nothing else is done. */
rooms_refusal rooms_peer_join(rooms *r, const char *peer, const char *room, json_t *body, rooms_answer *a);
/* Make the joins budget, r->join_rl (rooms_free frees it) and r->join_rate,
 * for join_rate joins a minute (0: ROOM_JOIN_RATE_DEFAULT; at most
 * ROOM_JOIN_RATE_MAX). */
NT_MUST_USE nt_err rooms_join_budget_new(rooms *r, unsigned join_rate);
/* rooms_host.c */
rooms_refusal rooms_host_create(rooms *r, json_t *body, rooms_answer *a);
/* A room's password hash, read under r->lock and checked without it. */
typedef struct {
    uint8_t salt[ROOM_SALT_LEN], hash[ROOM_PW_HASH_LEN];
    unsigned iter;
} room_pw;
/* NT_ERR_NOT_FOUND when the room has no (valid) password hash. */
NT_MUST_USE nt_err rooms_pw_load_locked(rooms *r, const char *room, room_pw *out);
bool rooms_pw_same(const room_pw *a, const room_pw *b);
/* A join's password `given` (may be NULL) from peer against pw, with no
 * lock held: REFUSE_NONE if it matches (constant-time compare), else the
 * refusal with a->body set: password_required or wrong_password, or
 * rate_limited with retry_after (seconds) when the peer has tried too
 * often for this room or too many hashes are running. */
rooms_refusal rooms_pw_check(rooms *r, const char *peer, const char *room, const room_pw *pw, const char *given,
                             rooms_answer *a);
/* Refuse with 429 rate_limited: a->body = {"message": msg, "retry_after":
 * retry_after} (seconds; the client API sends it as Retry-After). */
rooms_refusal rooms_rate_limited(rooms_answer *a, int64_t retry_after, const char *msg);
rooms_refusal rooms_host_member_op(rooms *r, const char *room, rooms_api_op op, json_t *body, rooms_answer *a);
/* PATCH of a hosted room's record by its master's user: {"topic"}. The
 * change reaches the members with the member-list version (the room's
 * shared state): see rooms_room_news_locked. */
rooms_refusal rooms_host_update(rooms *r, const char *room, json_t *body, rooms_answer *a);

/* messages.c */
typedef struct submission {
    const char *txn; /* borrowed */
    int64_t epoch;
    uint8_t *body, *sig; /* owned */
    size_t body_len, sig_len;
} submission;
void messages_submission_free(submission *s);
/* Host: check and commit one submission from sender; returns REFUSE_NONE
 * with a->body = {seq, ts[, duplicate]}, or the refusal. */
rooms_refusal messages_host_submit(rooms *r, const char *sender, const char *room, const submission *s,
                                   rooms_answer *a);
/* Host: a member's submission, or a batch {"messages": [Submit, ...]}
 * (protocol.md), queued to the ingest with a->wait set; called again with
 * resume, the answer (submit.c). */
rooms_refusal messages_peer_submit(rooms *r, const char *peer, const char *room, json_t *body,
                                   rooms_pending *resume, rooms_answer *a);
rooms_refusal messages_peer_submit_batch(rooms *r, const char *peer, const char *room, json_t *body,
                                         rooms_pending *resume, rooms_answer *a);
rooms_refusal messages_peer_poll(rooms *r, const char *peer, const char *room, rooms_query_fn *q, void *qarg,
                                 rooms_answer *a);
rooms_refusal messages_peer_notify(rooms *r, const char *peer, const char *room, json_t *body, rooms_answer *a);
/* Member: apply log entries in seq order; returns the new head (-1 on
 * error). An entry whose sender's key or epoch's key this node lacks
 * waits (the keys or member list are fetched) unless `final`: then it is
 * dropped like one that does not verify (the caller has just fetched both
 * from the host, which has nothing more to give). */
int64_t messages_apply(rooms *r, const char *room, json_t *msgs, bool final);
json_t *messages_log_json_locked(rooms *r, const char *room, int64_t after, int64_t limit);
/* Parsed sender keys, for one thread at a time (a verify thread owns
 * one). messages_key_cache_free(NULL) is a no-op. */
typedef struct key_cache key_cache;
key_cache *messages_key_cache_new(void);
void messages_key_cache_free(key_cache *c);
/* Check one submission against committed state (room, membership, txn id,
 * epoch), verify its signature and open the host's copy, with no rooms lock
 * held. kc (may be NULL) keeps parsed sender keys. Decides it (refusal
 * and reply) when it is answered here (refused, or a duplicate), else
 * it->text. */
void messages_check_item(rooms *r, key_cache *kc, gc_item *it);
/* messages_check_item on each item of a unit, in order, until one is
 * refused; the items after it are marked untried. True if some item
 * waits for the commit (not decided). */
bool messages_check_unit(rooms *r, key_cache *kc, gc_item *unit);

/* precheck.c: what a submission is checked against before its verify. */
typedef struct {
    bool found, hosted, dup, cached;
    int64_t epoch, epoch_ts, dup_seq, dup_ts;
    room_rotation epoch_cause; /* what began the current epoch */
    uint8_t pub[IDENTITY_PUB_DER_MAX]; /* the sender's key if it is a joined member */
    size_t pub_len;
    bool have_key;
    uint8_t key[ROOM_KEY_LEN]; /* the room key of the submission's epoch */
} precheck;
/* The answer for (room, sender, epoch, txn), from the database, or from the
 * cache when fresh is false and it holds one (pc->cached; such an answer
 * never says dup, so ask again with fresh before refusing). precheck_wipe
 * when done. */
void precheck_get(rooms *r, const char *room, const char *sender, int64_t epoch, const char *txn, bool fresh,
                  precheck *pc);
void precheck_wipe(precheck *pc);
/* Cached answers may be stale once the current transaction commits. */
void precheck_changed(rooms *r);
/* The read-only connections (ROOM_READERS) to the file at path, for the
 * checks before a verify; closed by precheck_readers_close. */
NT_MUST_USE nt_err precheck_readers_open(rooms *r, const char *path);
void precheck_readers_close(rooms *r);
NT_MUST_USE nt_err precheck_start(rooms *r);
void precheck_stop(rooms *r);
/* Commit a batch of checked submissions in one transaction: one fsync for
 * all of them, and the acks (it->refusal, it->reply) only after it. */
void messages_commit_batch(rooms *r, gc_item *batch);
/* Set an outbox entry's state (adds a delivery event when it changes). */
void messages_outbox_mark_locked(rooms *r, const char *room, const char *txn, outbox_state state, int64_t seq,
                                 const char *reason);

/* ingest.c: a few verify threads (one per core) and one committer, so that
 * the submitting threads only wait and the RSA verifies never queue behind
 * a commit's fsync. */
/* What the ingest threads run (messages.c gives them), so that ingest
 * calls into no other module: per verify thread a key cache, the check
 * of a unit (true if some item waits for the commit) and the commit of a
 * batch. */
typedef struct {
    key_cache *(*worker_new)(void);
    void (*worker_free)(key_cache *kc);
    bool (*check)(rooms *r, key_cache *kc, gc_item *unit);
    void (*commit)(rooms *r, gc_item *batch);
} ingest_ops;
NT_MUST_USE nt_err ingest_start(rooms *r, const ingest_ops *ops);
/* Finish what is queued, then stop and join the threads. Safe twice. */
void ingest_stop(rooms *r);
/* Stop, then free (rooms_free). */
void ingest_free(rooms *r);
/* Run a pre-checked submission through verify and commit; waits for its
 * ack. Returns it->refusal (it->reply set). Inline if the threads are gone. */
rooms_refusal ingest_run(rooms *r, gc_item *it);
/* The same without waiting: on_done(arg) is called once the unit is
 * answered (on a thread of the ingest, without its lock; or on this one,
 * before it returns, while the ingest stops). The unit must live until
 * then. */
void ingest_submit(rooms *r, gc_item *it, void (*on_done)(void *arg), void *arg);

/* outbox.c */
/* Try to submit one pending entry now; its state afterwards into *state. */
void outbox_try(rooms *r, const char *room, const char *txn, outbox_state *state);
/* Send due entries, oldest first per room, stopping a room at a failure. */
void outbox_drain(rooms *r);
rooms_refusal outbox_client_put(rooms *r, const char *room, const char *txn, json_t *body, rooms_answer *a);
json_t *outbox_json_locked(rooms *r, const char *room, const char *txn);
json_t *outbox_pending_json_locked(rooms *r, const char *room);

/* delivery.c */
void delivery_push_round(rooms *r, bool *did);
void delivery_sync_round(rooms *r);
NT_MUST_USE nt_err delivery_start(rooms *r);
void delivery_stop(rooms *r);
/* Member: poll the host once (after the local head) and apply. *news
 * (may be NULL) is set when the answer brought anything: messages, or a
 * member list or keys newer than ours that were fetched. */
nt_err delivery_poll_once(rooms *r, const char *room, unsigned wait_s, bool *news);
nt_err delivery_fetch_keys(rooms *r, const char *room);
/* A poll-mode room's pacing: what one long poll brought, and the wait
 * before the next. A poll that fails, or that the host answers at once
 * with nothing new (a host should wait), is followed by a wait that
 * doubles from 0.25 s to 60 s. An answer at once with only news (a new
 * member list or new keys, which end the host's wait so that the member
 * fetches them) is followed by the next poll at once, up to
 * POLL_CHANGES_IN_A_ROW in a row; it undoes no earlier failure. Messages,
 * or a poll the host held for a second or more, reset it all. */
#define POLL_CHANGES_IN_A_ROW 8
typedef struct {
    int64_t fails, changes;
} poll_pacing;
typedef struct {
    bool ok, news, messages, waited;
} poll_outcome;
/* Milliseconds to wait before the next poll (0: at once). */
int64_t delivery_poll_pause(poll_pacing *pp, const poll_outcome *o);
nt_err delivery_fetch_members(rooms *r, const char *room);
/* Forget a member room's sync backoff (a new join starts afresh). */
void delivery_sync_reset_locked(rooms *r, const char *room);

/* roomapi.c */
/* The room list {"rooms": [...]}: listed, the rooms a peer may find
 * (rooms_store_listed), each as {id, name, topic, host, access}; else all
 * of this node's rooms as the client sees them. */
rooms_refusal roomapi_list(rooms *r, bool listed, rooms_answer *a);
rooms_refusal roomapi_events(rooms *r, rooms_query_fn *q, void *qarg, rooms_answer *a);
/* One applied, verified message as the client sees it; NULL if none. */
json_t *messages_json_locked(rooms *r, const char *room, int64_t seq);

#endif
