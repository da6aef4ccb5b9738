/* delivery.c - getting messages and keys to members.
 *
 * Host side: the push loop sends each member whose cursor is behind (or
 * who lacks the newest key, or, in push mode, an older member list than
 * the room's members_ver, or has an invite/kick notice waiting) one
 * Notify, all members concurrently through rooms_opts.call, and backs off
 * per member on failure. Member side: the sync loop drains the outbox,
 * fetches missing keys and member keys, and polls to catch up (at start,
 * on a gap, and every 30 s); a room in poll mode gets its own long-poll
 * thread, which the host answers early when the member list changed (the
 * reply's members_ver is newer than ours: fetch the list). See
 * api-spec/protocol.md "Delivery". */
#include "server/rooms/rooms_int.h"

#include "crypto/encoding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PUSH_JOBS_MAX 256
#define PUSH_TIMEOUT_MS 5000
#define PUSH_BACKOFF_MIN_MS 250
#define PUSH_BACKOFF_MAX_MS 60000
#define IDLE_WAIT_MS 500

struct poller {
    char room[ROOM_ID_HEX_LEN + 1];
    pthread_t thr;
    rooms *r;
    bool done;
    poller *next;
};

typedef struct {
    char room[ROOM_ID_HEX_LEN + 1];
    char peer[IDENTITY_ID_HEX_LEN + 1];
    int64_t sent_to, key_to, cursor, members_to;
    member_notice notice; /* sent with this push (MEMBER_NOTICE_NONE: none) */
} push_job;

static int64_t push_backoff(int64_t fails)
{
    int64_t d = PUSH_BACKOFF_MIN_MS;
    for (int64_t i = 1; i < fails && d < PUSH_BACKOFF_MAX_MS; i++)
        d *= 2;
    return d < PUSH_BACKOFF_MAX_MS ? d : PUSH_BACKOFF_MAX_MS;
}

/* Build the Notify for one member row (lock held). */
static json_t *notify_json_locked(rooms *r, const member_push *p, push_job *j)
{
    bool push = p->delivery == ROOM_PUSH;
    int64_t cursor = p->cursor, key_epoch = p->key_epoch, head = p->head, epoch = p->epoch;
    int64_t members_seen = p->members_seen, members_ver = p->members_ver;
    json_t *n = json_pack("{s:I,s:I}", "head", (json_int_t)head, "epoch", (json_int_t)epoch);
    j->cursor = cursor;
    j->sent_to = cursor;
    j->key_to = key_epoch;
    j->members_to = 0;
    j->notice = p->notice;
    if (j->notice != MEMBER_NOTICE_NONE) {
        /* a kick and an invitation after it: the kick goes first */
        member_notice ev = p->notice == MEMBER_NOTICE_REINVITE ? MEMBER_NOTICE_KICKED : p->notice;
        json_object_set_new(n, "event", json_string(member_notice_name(ev)));
        /* the version the kick was recorded at (or a later invitation's):
         * older than any join after it, which a member then holds it to.
         * In members_ver, which a kick never carried otherwise: a member
         * that does not know of it ignores it, and refuses a field it
         * does not know */
        if (ev == MEMBER_NOTICE_KICKED)
            json_object_set_new(n, "members_ver", json_integer(p->mver));
        if (p->notice == MEMBER_NOTICE_INVITE) {
            room_row rm;
            if (rooms_load_locked(r, j->room, &rm) == NT_OK)
                json_object_set_new(n, "room", json_pack("{s:s,s:s,s:s,s:s}", "id", rm.id, "name", rm.name, "topic",
                                                         rm.topic, "access",
                                                         room_access_name(rm.access)));
        }
        return n;
    }
    if (p->state != MEMBER_JOINED)
        return n;
    if (key_epoch < epoch) {
        int64_t last = key_epoch;
        json_t *keys = rooms_member_keys_locked(r, j->room, j->peer, key_epoch, true, ROOM_KEYS_PUSH_MAX, &last);
        /* a member away through many rotations gets them a batch at a time */
        j->key_to = json_array_size(keys) < ROOM_KEYS_PUSH_MAX ? epoch : last;
        json_object_set_new(n, "keys", keys);
    }
    /* before the messages: a new member's first message then verifies */
    if (push && members_seen < members_ver) {
        json_t *rows = rooms_members_since_json_locked(r, j->room, members_seen, ROOM_MEMBERS_PUSH_MAX,
                                                       &j->members_to, NULL);
        json_object_set_new(n, "members", rows);
        json_object_set_new(n, "members_ver", json_integer(j->members_to));
        json_t *ri = rooms_record_json_locked(r, j->room); /* the room's record travels with the version */
        if (ri)
            json_object_set_new(n, "room", ri);
    }
    if (push && cursor < head) {
        json_t *msgs = messages_log_json_locked(r, j->room, cursor, ROOM_PUSH_BATCH);
        size_t k = json_array_size(msgs);
        if (k)
            j->sent_to = json_integer_value(json_object_get(json_array_get(msgs, k - 1), "seq"));
        json_object_set_new(n, "messages", msgs);
    }
    return n;
}

/* Room ids collected from a listing, at most ID_LIST_MAX. */
#define ID_LIST_MAX 64
typedef struct {
    char ids[ID_LIST_MAX][ROOM_ID_HEX_LEN + 1];
    unsigned need[ID_LIST_MAX];
    size_t n;
    rooms *r;
    const poller *skip; /* pollers_update: rooms that have one */
} id_list;

static void id_add(void *arg, const char *id, unsigned need)
{
    id_list *l = arg;
    for (const poller *p = l->skip; p; p = p->next)
        if (strcmp(p->room, id) == 0)
            return;
    if (l->n >= ID_LIST_MAX)
        return;
    snprintf(l->ids[l->n], sizeof l->ids[0], "%s", id);
    l->need[l->n++] = need;
}

static void list_failed(const char *what, nt_err rc)
{
    if (rc)
        log_warn("rooms: cannot list the %s: %s", what, err_str(rc));
}

/* Host: rotate the rooms whose key is older than their rotate_seconds
 * (a quiet room rotates too, not only on the next submit). */
static void rotate_due(rooms *r)
{
    id_list l = {.n = 0};
    pthread_mutex_lock(&r->lock);
    list_failed("rooms due a rotation", rooms_store_rotation_due(r->o.db, rooms_now(r), 16, id_add, &l));
    for (size_t i = 0; i < l.n; i++) {
        room_row rm;
        if (rooms_load_locked(r, l.ids[i], &rm) || roomdb_begin(r->o.db))
            continue;
        if (rooms_rotate_locked(r, &rm, ROOM_ROT_POLICY) || roomdb_commit(r->o.db))
            roomdb_rollback(r->o.db);
    }
    pthread_mutex_unlock(&r->lock);
}

typedef struct {
    rooms *r;
    push_job *jobs;
    port_call *calls;
    size_t n;
} push_round;

static void push_add(void *arg, const member_push *p)
{
    push_round *pr = arg;
    if (pr->n >= PUSH_JOBS_MAX)
        return;
    push_job *j = &pr->jobs[pr->n];
    snprintf(j->room, sizeof j->room, "%s", p->room);
    snprintf(j->peer, sizeof j->peer, "%s", p->peer);
    pr->calls[pr->n] = (port_call){.op = PORT_NOTIFY, .peer = j->peer, .room = j->room,
                                   .req = notify_json_locked(pr->r, p, j)};
    pr->n++;
}

/* The member's own answer that it will never take this Notify: a 4xx
 * other than a timeout or a rate limit (transport failures, and refusals
 * of the sealed channel, which have no answer from the member, are not). */
static bool refused_for_good(const port_call *c)
{
    return c->rc == NT_OK && c->status >= 400 && c->status < 500 && c->status != 408 && c->status != 429;
}

/* One member's answer to its Notify into its row (lock held). A notice
 * refused for good is dropped like one delivered, not pushed again with
 * backoff for ever (a kick for a room the member never heard of, an
 * invite for a room id it holds from another host). */
static nt_err push_record_locked(rooms *r, const push_job *j, const port_call *c)
{
    bool ok = c->rc == NT_OK && c->status == 200;
    if ((ok || refused_for_good(c)) && j->notice != MEMBER_NOTICE_NONE)
        return members_store_notice_done(r->o.db, j->room, j->peer, j->notice);
    if (!ok) {
        int64_t fails = 0;
        nt_err rc = members_store_next_fail(r->o.db, j->room, j->peer, &fails);
        return rc ? rc : members_store_retry_at(r->o.db, j->room, j->peer, fails, rooms_now(r) + push_backoff(fails));
    }
    json_int_t head = json_integer_value(json_object_get(c->reply, "head"));
    /* the member says what it holds; never beyond what we sent */
    int64_t cur = head > j->sent_to ? j->sent_to : head < j->cursor ? j->cursor : head;
    /* likewise the member list: the version it says it holds (a member
     * that does not say took it as sent, or a reply without it would
     * bring the same list back every 200 ms) */
    json_t *jmv = json_object_get(c->reply, "members_ver");
    json_int_t mv = jmv ? json_integer_value(jmv) : j->members_to;
    int64_t seen = mv > j->members_to ? j->members_to : mv;
    bool progress = cur > j->cursor || j->key_to > 0;
    bool all = cur == j->sent_to && seen >= j->members_to;
    return members_store_pushed(r->o.db, j->room, j->peer, cur, j->key_to, seen,
                                progress && all ? 0 : rooms_now(r) + 200);
}

void delivery_push_round(rooms *r, bool *did)
{
    rotate_due(r);

    push_round pr = {r, calloc(PUSH_JOBS_MAX, sizeof *pr.jobs), calloc(PUSH_JOBS_MAX, sizeof *pr.calls), 0};
    *did = false;
    if (!pr.jobs || !pr.calls)
        goto out;
    pthread_mutex_lock(&r->lock);
    nt_err rc = members_store_push_due(r->o.db, r->me_hex, rooms_now(r), PUSH_JOBS_MAX, push_add, &pr);
    pthread_mutex_unlock(&r->lock);
    if (rc)
        log_warn("rooms: cannot list the members due a push: %s", err_str(rc));
    if (pr.n == 0)
        goto out;

    r->o.call(r->o.call_arg, pr.calls, pr.n, PUSH_TIMEOUT_MS);
    *did = true;

    pthread_mutex_lock(&r->lock);
    /* one commit for the whole round's cursors */
    bool txn = roomdb_begin(r->o.db) == NT_OK;
    for (size_t i = 0; i < pr.n; i++)
        if ((rc = push_record_locked(r, &pr.jobs[i], &pr.calls[i])))
            log_warn("rooms: cannot record a push to %s: %s", pr.jobs[i].peer, err_str(rc));
    if (txn && roomdb_commit(r->o.db))
        roomdb_rollback(r->o.db);
    pthread_mutex_unlock(&r->lock);
out:
    for (size_t i = 0; i < pr.n; i++) {
        json_decref(pr.calls[i].req);
        json_decref(pr.calls[i].reply);
    }
    free(pr.jobs);
    free(pr.calls);
}

/* ---- member side ----------------------------------------------------------- */

/* A joined room's row (its host, head, epoch, members_ver). */
static bool host_of(rooms *r, const char *room, room_row *rm)
{
    pthread_mutex_lock(&r->lock);
    bool ok = rooms_load_locked(r, room, rm) == NT_OK && rm->state == ROOM_JOINED;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

static void not_member_locked(rooms *r, const char *room)
{
    /* the host no longer knows us as a member: we were removed */
    room_row rm;
    if (rooms_load_locked(r, room, &rm) == NT_OK && rm.state == ROOM_JOINED) {
        nt_err rc = rooms_store_set_state(r->o.db, room, ROOM_KICKED);
        if (rc)
            log_warn("rooms: cannot mark %s kicked: %s", room, err_str(rc));
        rooms_event_locked(r, "membership", room, json_pack("{s:s,s:s}", "peer", r->me_hex, "membership", "kicked"));
    }
}

/* Which part of a room a member fetches from its host, and how the reply
 * is stored (called with r->lock held, inside a transaction). */
typedef nt_err (*fetch_store_fn)(rooms *r, const char *room, json_t *reply, int64_t *next);

/* Both lists come a page at a time: *next gets where the next page starts
 * (its `since`), or -1 when this was the last. A page over its cap
 * (ROOM_KEYS_PAGE keys, ROOM_MEMBERS_PAGE rows) is refused whole:
 * NT_ERR_TOO_BIG. */
static nt_err store_keys_reply(rooms *r, const char *room, json_t *reply, int64_t *next)
{
    json_t *keys = json_object_get(reply, "keys");
    nt_err rc = rooms_store_keys_locked(r, room, keys, ROOM_KEYS_PAGE);
    if (rc)
        return rc;
    json_int_t last = json_integer_value(json_object_get(json_array_get(keys, json_array_size(keys) - 1), "epoch"));
    *next = json_is_true(json_object_get(reply, "more")) && last > *next ? last : -1;
    return NT_OK;
}

static nt_err store_members_reply(rooms *r, const char *room, json_t *reply, int64_t *next)
{
    json_int_t ver = json_integer_value(json_object_get(reply, "members_ver"));
    nt_err rc = rooms_store_members_locked(r, room, json_object_get(reply, "members"), ver,
                                           json_object_get(reply, "room"), ROOM_MEMBERS_PAGE);
    if (rc)
        return rc;
    *next = json_is_true(json_object_get(reply, "more")) && ver > *next ? ver : -1;
    return NT_OK;
}

/* A page in one commit; on an error nothing of it is kept and *next is
 * -1. */
static nt_err store_page_locked(rooms *r, const char *room, fetch_store_fn store, json_t *reply, int64_t *next)
{
    nt_err rc = roomdb_begin(r->o.db);
    if (!rc)
        rc = store(r, room, reply, next);
    if (!rc)
        rc = roomdb_commit(r->o.db);
    if (!rc)
        return NT_OK;
    roomdb_rollback(r->o.db);
    *next = -1;
    log_warn("rooms: cannot store a page from the host of %s: %s", room, err_str(rc));
    return rc;
}

/* A page of the member list or of the keys (op) from the room's host: a
 * 200 is stored, a 403 means we are no longer a member. *next: in, the
 * page's since; out, the next page's, or -1. */
static nt_err fetch_page(rooms *r, const char *room, port_op op, fetch_store_fn store, int64_t *next)
{
    room_row rm;
    if (!host_of(r, room, &rm))
        return NT_ERR_STATE;
    port_call c = {.op = op, .peer = rm.host, .room = room, .since = *next};
    nt_err rc = rooms_port1(r, &c);
    json_t *reply = c.reply;
    int status = c.status;
    pthread_mutex_lock(&r->lock);
    int64_t since = *next;
    *next = -1;
    if (!rc && status == 200) {
        *next = since;
        rc = store_page_locked(r, room, store, reply, next);
    } else if (!rc && status == 403) {
        not_member_locked(r, room);
    }
    pthread_mutex_unlock(&r->lock);
    json_decref(reply);
    return rc ? rc : status == 200 ? NT_OK : NT_ERR_NET;
}

/* Page after page from `since` (bounded). */
static nt_err fetch_pages(rooms *r, const char *room, port_op op, int64_t since, fetch_store_fn store)
{
    nt_err rc = NT_OK;
    int64_t next = since;
    for (int round = 0; round < ROOM_FETCH_PAGES_MAX; round++)
        if ((rc = fetch_page(r, room, op, store, &next)) || next < 0)
            break;
    return rc;
}

nt_err delivery_fetch_keys(rooms *r, const char *room)
{
    /* ask from the start: a member may lack an older epoch than its newest */
    return fetch_pages(r, room, PORT_KEYS, -1, store_keys_reply);
}

nt_err delivery_fetch_members(rooms *r, const char *room)
{
    /* the rows changed after the version we hold */
    room_row rm;
    if (!host_of(r, room, &rm))
        return NT_ERR_STATE;
    return fetch_pages(r, room, PORT_MEMBERS, rm.members_ver, store_members_reply);
}

/* Apply a poll's entries. When none applies though the host has more,
 * fetch the keys and the member list and apply again, finally: an entry
 * whose sender or epoch still has no key is dropped, since the host has
 * given us all it has and asking again would bring the same. */
static int64_t apply_polled(rooms *r, const char *room, json_t *msgs, int64_t head, int64_t host_head)
{
    if (!json_array_size(msgs))
        return head;
    int64_t now_head = messages_apply(r, room, msgs, false);
    if (now_head != head || now_head >= host_head)
        return now_head;
    if (delivery_fetch_keys(r, room) != NT_OK || delivery_fetch_members(r, room) != NT_OK)
        return now_head;
    return messages_apply(r, room, msgs, true);
}

nt_err delivery_poll_once(rooms *r, const char *room, unsigned wait_s, bool *news)
{
    bool own_news;
    if (!news)
        news = &own_news;
    *news = false;
    room_row rm;
    for (int round = 0; round < 64; round++) { /* bounded catch-up */
        if (!host_of(r, room, &rm))
            return NT_ERR_STATE;
        int64_t head = rm.head, epoch = rm.epoch;
        port_call c = {.op = PORT_POLL, .peer = rm.host, .room = room, .after = head, .limit = ROOM_POLL_LIMIT,
                       .wait = round ? 0 : wait_s};
        nt_err rc = rooms_port1(r, &c);
        json_t *reply = c.reply;
        int status = c.status;
        if (rc || status != 200) {
            if (!rc && status == 403) {
                pthread_mutex_lock(&r->lock);
                not_member_locked(r, room);
                pthread_mutex_unlock(&r->lock);
            }
            json_decref(reply);
            return rc ? rc : NT_ERR_NET;
        }
        json_int_t host_head = json_integer_value(json_object_get(reply, "head"));
        json_int_t host_epoch = json_integer_value(json_object_get(reply, "epoch"));
        json_int_t host_mver = json_integer_value(json_object_get(reply, "members_ver"));
        /* a changed member list first: its new members' messages verify.
         * If it cannot be had, say so after applying what came: the
         * host's long poll answers at once while we lack the list, so a
         * poller must back off rather than ask again right away */
        bool members_new = host_mver > rm.members_ver;
        bool members_failed = members_new && delivery_fetch_members(r, room) != NT_OK;
        int64_t now_head = apply_polled(r, room, json_object_get(reply, "messages"), head, host_head);
        json_decref(reply);
        bool keys_new = host_epoch > epoch && delivery_fetch_keys(r, room) == NT_OK;
        if (now_head < 0)
            return NT_ERR_DB;
        *news = *news || (members_new && !members_failed) || keys_new || now_head > head;
        if (members_failed)
            return NT_ERR_NET;
        if (now_head >= host_head)
            return NT_OK;
        /* behind the host and nothing applied: a gap in what it sent, or
         * keys it would not give; ask again later, not now */
        if (now_head == head)
            return NT_ERR_NET;
    }
    return NT_OK;
}

int64_t delivery_poll_pause(poll_pacing *pp, const poll_outcome *o)
{
    if (o->ok && (o->messages || o->waited)) {
        pp->fails = pp->changes = 0;
        return 0;
    }
    /* news alone: again at once, but it does not undo earlier failures,
     * so a host that only ever sends news backs the member off as far as
     * one that answers with nothing */
    if (o->ok && o->news && ++pp->changes <= POLL_CHANGES_IN_A_ROW)
        return 0;
    pp->changes = 0;
    return push_backoff(++pp->fails);
}

/* A poll-mode room's long-poll loop. A poll that fails, or that the host
 * answers at once with nothing new (a host should wait), is followed by a
 * wait that doubles up to 60 s, which nothing but a stop cuts short. An
 * answer at once with a new member list or new keys is news: the host
 * ends the wait so that the member fetches them, and the next poll goes
 * out at once. */
static void *poller_main(void *arg)
{
    pthread_setname_np(pthread_self(), "rooms-poll");
    poller *p = arg;
    rooms *r = p->r;
    unsigned wait = r->o.poll_wait_s ? r->o.poll_wait_s : 5;
    poll_pacing pace = {0, 0};
    for (;;) {
        room_row rm, after;
        pthread_mutex_lock(&r->lock);
        bool go = !r->stopping && rooms_load_locked(r, p->room, &rm) == NT_OK && rm.state == ROOM_JOINED &&
                  rm.delivery == ROOM_POLL;
        pthread_mutex_unlock(&r->lock);
        if (!go)
            break;
        int64_t t0 = waitq_now_ms();
        poll_outcome o = {.ok = false};
        o.ok = delivery_poll_once(r, p->room, wait, &o.news) == NT_OK;
        o.messages = host_of(r, p->room, &after) && after.head != rm.head;
        o.waited = waitq_now_ms() - t0 >= 1000;
        int64_t pause = delivery_poll_pause(&pace, &o);
        if (!pause)
            continue;
        atomic_fetch_add(&r->poll_backoffs, 1);
        struct timespec ts = waitq_deadline(pause);
        pthread_mutex_lock(&r->lock);
        while (rooms_wait_locked(r, &r->sync_cond, &ts)) {
        }
        pthread_mutex_unlock(&r->lock);
    }
    pthread_mutex_lock(&r->lock);
    p->done = true;
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* Start pollers for poll-mode rooms, reap finished ones. */
static void pollers_update(rooms *r)
{
    id_list l = {.n = 0};
    pthread_mutex_lock(&r->lock);
    for (poller **pp = &r->pollers; *pp;) {
        poller *p = *pp;
        if (p->done) {
            *pp = p->next;
            pthread_mutex_unlock(&r->lock);
            pthread_join(p->thr, NULL);
            free(p);
            pthread_mutex_lock(&r->lock);
            pp = &r->pollers;
            continue;
        }
        pp = &p->next;
    }
    l.skip = r->pollers;
    list_failed("rooms in poll delivery", rooms_store_joined(r->o.db, true, ID_LIST_MAX, id_add, &l));
    for (size_t i = 0; i < l.n && !r->stopping && !r->o.no_threads; i++) {
        poller *p = calloc(1, sizeof *p);
        if (!p)
            break;
        memcpy(p->room, l.ids[i], sizeof p->room);
        p->r = r;
        if (pthread_create(&p->thr, NULL, poller_main, p)) {
            free(p);
            break;
        }
        p->next = r->pollers;
        r->pollers = p;
    }
    pthread_mutex_unlock(&r->lock);
}

/* The backoff slot of a member room (NULL if none), or with `take` a new
 * one (a free slot, else the one due soonest). */
static struct sync_backoff *backoff_slot_locked(rooms *r, const char *room, bool take)
{
    struct sync_backoff *free_slot = NULL, *soonest = &r->sync_bo[0];
    for (size_t i = 0; i < ROOM_SYNC_BACKOFF_SLOTS; i++) {
        struct sync_backoff *b = &r->sync_bo[i];
        if (strcmp(b->room, room) == 0)
            return b;
        if (!b->room[0] && !free_slot)
            free_slot = b;
        if (b->next < soonest->next)
            soonest = b;
    }
    if (!take)
        return NULL;
    struct sync_backoff *b = free_slot ? free_slot : soonest;
    memset(b, 0, sizeof *b);
    snprintf(b->room, sizeof b->room, "%s", room);
    return b;
}

void delivery_sync_reset_locked(rooms *r, const char *room)
{
    struct sync_backoff *b = backoff_slot_locked(r, room, false);
    if (b)
        memset(b, 0, sizeof *b);
}

static bool sync_due_locked(rooms *r, const char *room)
{
    struct sync_backoff *b = backoff_slot_locked(r, room, false);
    return !b || rooms_now(r) >= b->next;
}

/* After a sync of room with its host: a failure doubles the wait before
 * the next (250 ms .. 60 s), a success forgets it. */
static void sync_done_locked(rooms *r, const char *room, bool failed)
{
    if (!failed) {
        delivery_sync_reset_locked(r, room);
        return;
    }
    struct sync_backoff *b = backoff_slot_locked(r, room, true);
    b->fails++;
    b->next = rooms_now(r) + push_backoff(b->fails);
}

/* The member rooms whose sync is due (every joined room at a resync),
 * with what each needs; their need is taken (cleared). */
static void take_needs_locked(rooms *r, bool resync, id_list *l)
{
    id_list all = {.n = 0};
    list_failed("rooms to sync", rooms_store_needy(r->o.db, resync, ID_LIST_MAX, id_add, &all));
    l->n = 0;
    for (size_t i = 0; i < all.n; i++) {
        if (!sync_due_locked(r, all.ids[i]))
            continue; /* backing off: its need waits */
        nt_err rc = rooms_store_set_need(r->o.db, all.ids[i], 0);
        if (rc)
            log_warn("rooms: cannot clear the needs of %s: %s", all.ids[i], err_str(rc));
        id_add(l, all.ids[i], all.need[i] | (resync ? ROOM_NEED_POLL : 0));
    }
}

/* The hosts that came back since the last round (rooms_peer_up): their
 * rooms' pending messages are due now and their sync backoff ends. */
static void hosts_back(rooms *r)
{
    uint8_t up[ROOM_HOSTS_UP_MAX][IDENTITY_ID_LEN];
    pthread_mutex_lock(&r->up_mu);
    size_t n = r->n_up;
    memcpy(up, r->up_hosts, n * IDENTITY_ID_LEN);
    r->n_up = 0;
    pthread_mutex_unlock(&r->up_mu);
    for (size_t i = 0; i < n; i++) {
        char hex[IDENTITY_ID_HEX_LEN + 1];
        if (encoding_hex_encode(up[i], IDENTITY_ID_LEN, hex, sizeof hex))
            continue;
        pthread_mutex_lock(&r->lock);
        nt_err rc = outbox_store_due_for_host(r->o.db, hex, rooms_now(r));
        if (rc)
            log_warn("rooms: cannot retry the messages for host %.16s now: %s", hex, err_str(rc));
        for (size_t k = 0; k < ROOM_SYNC_BACKOFF_SLOTS; k++) {
            room_row rm;
            if (r->sync_bo[k].room[0] && rooms_load_locked(r, r->sync_bo[k].room, &rm) == NT_OK &&
                strcmp(rm.host, hex) == 0)
                r->sync_bo[k].next = 0;
        }
        pthread_mutex_unlock(&r->lock);
    }
}

void delivery_sync_round(rooms *r)
{
    id_list l = {.n = 0};
    hosts_back(r);
    outbox_drain(r);
    pthread_mutex_lock(&r->lock);
    bool resync = rooms_now(r) >= r->next_resync;
    if (resync)
        r->next_resync = rooms_now(r) + ROOM_RESYNC_MS;
    take_needs_locked(r, resync, &l);
    pthread_mutex_unlock(&r->lock);
    for (size_t i = 0; i < l.n && !r->stopping; i++) {
        nt_err rc = NT_OK;
        unsigned need = l.need[i];
        if (need & ROOM_NEED_KEYS)
            rc = delivery_fetch_keys(r, l.ids[i]);
        if (!rc && (need & ROOM_NEED_MEMBERS))
            rc = delivery_fetch_members(r, l.ids[i]);
        if (!rc && need)
            rc = delivery_poll_once(r, l.ids[i], 0, NULL);
        bool failed = rc && rc != NT_ERR_STATE;
        pthread_mutex_lock(&r->lock);
        if (failed) { /* host away, or serving what cannot be applied: try again later,
                       * with whatever was asked for meanwhile */
            nt_err src = rooms_store_need_add(r->o.db, l.ids[i], need);
            if (src)
                log_warn("rooms: cannot keep the needs of %s: %s", l.ids[i], err_str(src));
        }
        sync_done_locked(r, l.ids[i], failed);
        pthread_mutex_unlock(&r->lock);
    }
    pollers_update(r);
    pthread_mutex_lock(&r->lock);
    nt_err rc = events_store_trim(r->o.db, ROOM_EVENTS_KEEP);
    if (rc)
        log_warn("rooms: cannot trim the events log: %s", err_str(rc));
    pthread_mutex_unlock(&r->lock);
}

static void *push_main(void *arg)
{
    pthread_setname_np(pthread_self(), "rooms-push");
    rooms *r = arg;
    for (;;) {
        bool did = false;
        delivery_push_round(r, &did);
        pthread_mutex_lock(&r->lock);
        (void)roomdb_sweep(r->o.db); /* between rounds nothing is in use: a leak ends here */
        if (!did && !r->push_kick && !r->stopping) {
            struct timespec ts = waitq_deadline(IDLE_WAIT_MS);
            pthread_cond_timedwait(&r->push_cond, &r->lock, &ts);
        }
        r->push_kick = false;
        bool stop = r->stopping;
        pthread_mutex_unlock(&r->lock);
        if (stop)
            break;
    }
    return NULL;
}

static void *sync_main(void *arg)
{
    pthread_setname_np(pthread_self(), "rooms-sync");
    rooms *r = arg;
    for (;;) {
        delivery_sync_round(r);
        pthread_mutex_lock(&r->lock);
        (void)roomdb_sweep(r->o.db); /* between rounds nothing is in use: a leak ends here */
        if (!r->sync_kick && !r->stopping) {
            struct timespec ts = waitq_deadline(IDLE_WAIT_MS);
            pthread_cond_timedwait(&r->sync_cond, &r->lock, &ts);
        }
        r->sync_kick = false;
        bool stop = r->stopping;
        pthread_mutex_unlock(&r->lock);
        if (stop)
            break;
    }
    return NULL;
}

nt_err delivery_start(rooms *r)
{
    if (pthread_create(&r->push_thr, NULL, push_main, r))
        return NT_ERR_NOMEM;
    if (pthread_create(&r->sync_thr, NULL, sync_main, r)) {
        pthread_mutex_lock(&r->lock);
        r->stopping = true;
        pthread_cond_broadcast(&r->push_cond);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->push_thr, NULL);
        return NT_ERR_NOMEM;
    }
    return NT_OK;
}

void delivery_stop(rooms *r)
{
    pthread_join(r->push_thr, NULL);
    pthread_join(r->sync_thr, NULL);
    pthread_mutex_lock(&r->lock);
    poller *p = r->pollers;
    r->pollers = NULL;
    pthread_mutex_unlock(&r->lock);
    while (p) {
        poller *next = p->next;
        pthread_join(p->thr, NULL);
        free(p);
        p = next;
    }
}
