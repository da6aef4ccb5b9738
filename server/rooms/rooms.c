/* rooms.c - the rooms' lifecycle and the host's side of the peer routes
 * (dispatch, leave, members, keys, delivery; the room list is roomapi.c's).
 * The other modules are below it: nothing in server/rooms calls into this
 * file. */
#include "server/rooms/rooms_int.h"

#include <assert.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/constant_time.h>

#include "crypto/encoding.h"
#include "crypto/oaep.h"
#include "crypto/rng.h"
#include "crypto/sign.h"



/* ---- peer requests: the host side --------------------------------------- */

/* The caller must be a joined member of a room this node hosts. */
static rooms_refusal member_gate_locked(rooms *r, const char *peer, const char *room, room_row *rm, rooms_answer *a)
{
    if (rooms_load_locked(r, room, rm) || rm->state != ROOM_HOSTED)
        return rooms_decline(a, REFUSE_NOT_FOUND, "no such room here");
    member_rec mr;
    if (members_store_get(r->o.db, room, peer, &mr) != NT_OK || mr.state != MEMBER_JOINED)
        return rooms_decline(a, REFUSE_NOT_MEMBER, "not a member of this room");
    return REFUSE_NONE;
}

static rooms_refusal peer_leave(rooms *r, const char *peer, const char *room, rooms_answer *a)
{
    room_row rm;
    pthread_mutex_lock(&r->lock);
    rooms_refusal why = member_gate_locked(r, peer, room, &rm, a);
    if (why)
        goto out;
    if (strcmp(peer, rm.host) == 0) {
        why = rooms_decline(a, REFUSE_FORBIDDEN, "the master cannot leave");
        goto out;
    }
    nt_err rc = roomdb_begin(r->o.db);
    if (!rc)
        rc = members_store_leave(r->o.db, room, peer);
    if (!rc)
        rc = rooms_members_changed_locked(r, room, peer);
    if (!rc)
        rc = rooms_rotate_locked(r, &rm, ROOM_ROT_LEAVE);
    if (!rc) {
        rooms_event_locked(r, "membership", room, json_pack("{s:s,s:s}", "peer", peer, "membership", "left"));
        rc = roomdb_commit(r->o.db);
    } else {
        roomdb_rollback(r->o.db);
    }
    if (rc)
        why = rooms_decline(a, REFUSE_INTERNAL, err_str(rc));
    else
        a->body = json_pack("{s:b}", "ok", 1);
out:
    pthread_mutex_unlock(&r->lock);
    return why;
}

/* ?since= as an integer of -1 or more; absent: -1 (from the start).
 * false when malformed. */
static bool since_param(rooms_query_fn *q, void *qarg, int64_t *out)
{
    const char *s = q ? q(qarg, "since") : NULL;
    char *end = NULL;
    long long v = s ? strtoll(s, &end, 10) : -1;
    *out = v;
    return !s || (end != s && !*end && v >= -1 && v != LLONG_MAX);
}

static rooms_refusal peer_simple(rooms *r, const char *peer, const char *room, const char *what, rooms_query_fn *q,
                                 void *qarg, json_t *body, rooms_answer *a)
{
    room_row rm;
    pthread_mutex_lock(&r->lock);
    rooms_refusal why = member_gate_locked(r, peer, room, &rm, a);
    if (why)
        goto out;
    if (strcmp(what, "members") == 0) {
        /* the rows changed after `since` (default: all), a page at a time */
        int64_t since, upto = 0;
        bool more = false;
        if (!since_param(q, qarg, &since)) {
            why = rooms_decline(a, REFUSE_BAD_REQUEST, "since is a member-list version (-1 or more)");
            goto out;
        }
        json_t *rows = rooms_members_since_json_locked(r, room, since, ROOM_MEMBERS_PAGE, &upto, &more);
        /* the member now holds this version: no push of it, and its long
         * poll stops waking for it */
        if (members_store_raise_seen(r->o.db, room, peer, upto))
            log_warn("rooms: cannot store the member list version %s holds", peer);
        a->body = json_pack("{s:o,s:I,s:b}", "members", rows, "members_ver", (json_int_t)upto, "more", more);
        json_t *ri = rooms_record_json_locked(r, room); /* the room's record travels with the version */
        if (ri)
            json_object_set_new(a->body, "room", ri);
    } else if (strcmp(what, "keys") == 0) {
        /* the epochs after `since`, a page at a time */
        int64_t since;
        if (!since_param(q, qarg, &since)) {
            why = rooms_decline(a, REFUSE_BAD_REQUEST, "since is an epoch (-1 or more)");
            goto out;
        }
        json_t *keys = rooms_member_keys_locked(r, room, peer, since, false, ROOM_KEYS_PAGE, NULL);
        a->body = json_pack("{s:o,s:I,s:b}", "keys", keys, "epoch", (json_int_t)rm.epoch, "more",
                           json_array_size(keys) >= ROOM_KEYS_PAGE);
    } else { /* delivery */
        room_delivery mode;
        if (room_delivery_parse(json_string_value(json_object_get(body, "mode")), &mode)) {
            why = rooms_decline(a, REFUSE_BAD_REQUEST, "mode is push or poll");
            goto out;
        }
        if (members_store_set_delivery(r->o.db, room, peer, mode)) {
            why = rooms_decline(a, REFUSE_INTERNAL, "store failed");
            goto out;
        }
        rooms_wake_push_locked(r);
        a->body = json_pack("{s:b}", "ok", 1);
    }
out:
    pthread_mutex_unlock(&r->lock);
    return why;
}

rooms_refusal rooms_peer_op(rooms *r, port_op op, const char *peer, const char *room, rooms_query_fn *q, void *qarg,
                            json_t *body, rooms_pending *resume, const rooms_rerun *again, rooms_answer *a)
{
    rooms_rerun_q rq = {q, qarg, again, ""};
    q = rooms_rerun_query;
    qarg = &rq;
    *a = (rooms_answer){0};
    if (!rooms_valid_hex(peer, IDENTITY_ID_HEX_LEN))
        return rooms_decline(a, REFUSE_UNAUTHENTICATED, "no peer");
    if (op == PORT_LIST)
        return roomapi_list(r, true, a);
    if (!rooms_valid_hex(room, ROOM_ID_HEX_LEN))
        return rooms_decline(a, REFUSE_NOT_FOUND, "no such path");
    switch (op) {
    case PORT_POLL:
        return messages_peer_poll(r, peer, room, q, qarg, a);
    case PORT_SUBMIT:
        return messages_peer_submit(r, peer, room, body, resume, a);
    case PORT_MEMBERS:
        return peer_simple(r, peer, room, "members", q, qarg, body, a);
    case PORT_KEYS:
        return peer_simple(r, peer, room, "keys", q, qarg, body, a);
    default:
        break;
    }
    if (!json_is_object(body))
        return rooms_decline(a, REFUSE_BAD_REQUEST, "body must be a JSON object");
    switch (op) {
    case PORT_BATCH:
        return messages_peer_submit_batch(r, peer, room, body, resume, a);
    case PORT_JOIN:
        return rooms_peer_join(r, peer, room, body, a);
    case PORT_LEAVE:
        return peer_leave(r, peer, room, a);
    case PORT_DELIVERY:
        return peer_simple(r, peer, room, "delivery", q, qarg, body, a);
    case PORT_NOTIFY:
        return messages_peer_notify(r, peer, room, body, a);
    default:
        return rooms_decline(a, REFUSE_NOT_FOUND, "no such path");
    }
}

/* ---- lifecycle ------------------------------------------------------------ */

static void need_poll(void *arg, const char *id, unsigned need)
{
    (void)need;
    rooms_need_locked(arg, id, ROOM_NEED_POLL);
}

nt_err rooms_new(rooms **out, const rooms_opts *o)
{
    *out = NULL;
    if (!o || !o->db || !o->me || !o->call)
        return NT_ERR_INVALID;
    rooms *r = calloc(1, sizeof *r);
    if (!r)
        return NT_ERR_NOMEM;
    r->o = *o;
    identity_id_hex(o->me, r->me_hex);
    r->me_der = malloc(IDENTITY_PUB_DER_MAX);
    pthread_mutex_init(&r->lock, NULL);
    waitq_init(&r->log_wait);
    waitq_init(&r->ev_wait);
    waitq_cond_init(&r->push_cond);
    waitq_cond_init(&r->sync_cond);
    waitq_cond_init(&r->outbox_cond);
    pthread_mutex_init(&r->pw_mu, NULL);
    pthread_mutex_init(&r->join_mu, NULL);
    pthread_mutex_init(&r->up_mu, NULL);
    nt_err rc = r->me_der ? identity_public_der(o->me, r->me_der, IDENTITY_PUB_DER_MAX, &r->me_der_len) : NT_ERR_NOMEM;
    if (!rc)
        rc = ratelimit_new(&r->pw_rl, &(ratelimit_config){.rate_per_s = 1, .burst = ROOM_PW_BURST},
                           ROOM_PW_RL_SLOTS);
    if (!rc)
        rc = rooms_join_budget_new(r, o->join_rate);
    if (!rc && o->read_path)
        rc = precheck_readers_open(r, o->read_path);
    if (!rc)
        rc = precheck_start(r);
    if (!rc)
        rc = ingest_start(r, &(ingest_ops){.worker_new = messages_key_cache_new,
                                           .worker_free = messages_key_cache_free,
                                           .check = messages_check_unit,
                                           .commit = messages_commit_batch});
    if (!rc) {
        /* catch up on every joined room once at start */
        pthread_mutex_lock(&r->lock);
        rc = rooms_store_joined(o->db, false, SIZE_MAX, need_poll, r);
        pthread_mutex_unlock(&r->lock);
    }
    if (rc) {
        r->o.owns_db = false; /* still the caller's */
        rooms_free(r);
        return rc;
    }
    *out = r;
    return NT_OK;
}

nt_err rooms_start(rooms *r)
{
    if (r->o.no_threads || r->started)
        return NT_OK;
    nt_err rc = delivery_start(r);
    if (!rc)
        r->started = true;
    return rc;
}

void rooms_stop(rooms *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    rooms_log_grew_locked(r);
    rooms_events_grew_locked(r);
    pthread_cond_broadcast(&r->push_cond);
    pthread_cond_broadcast(&r->sync_cond);
    pthread_cond_broadcast(&r->outbox_cond);
    pthread_mutex_unlock(&r->lock);
    if (r->started)
        delivery_stop(r);
    r->started = false;
    ingest_stop(r);
}

void rooms_free(rooms *r)
{
    if (!r)
        return;
    rooms_stop(r);
    /* the ingest and the pre-check still take r->lock as they stop */
    ingest_free(r);
    precheck_stop(r);
    precheck_readers_close(r);
    pthread_mutex_destroy(&r->lock);
    waitq_destroy(&r->log_wait);
    waitq_destroy(&r->ev_wait);
    pthread_cond_destroy(&r->push_cond);
    pthread_cond_destroy(&r->sync_cond);
    pthread_cond_destroy(&r->outbox_cond);
    pthread_mutex_destroy(&r->pw_mu);
    pthread_mutex_destroy(&r->join_mu);
    pthread_mutex_destroy(&r->up_mu);
    ratelimit_free(r->pw_rl);
    ratelimit_free(r->join_rl);
    if (r->o.owns_db)
        roomdb_close(r->o.db);
    free(r->me_der);
    free(r);
}

void rooms_peer_up(void *arg, const uint8_t peer_id[static IDENTITY_ID_LEN])
{
    rooms *r = arg;
    bool queued = false;
    pthread_mutex_lock(&r->up_mu);
    for (size_t i = 0; i < r->n_up && !queued; i++)
        queued = memcmp(r->up_hosts[i], peer_id, IDENTITY_ID_LEN) == 0;
    if (!queued && r->n_up < ROOM_HOSTS_UP_MAX)
        memcpy(r->up_hosts[r->n_up++], peer_id, IDENTITY_ID_LEN);
    pthread_mutex_unlock(&r->up_mu);
    /* without the rooms lock (it may be held by this very thread): a wake
     * lost to a thread about to wait costs it one idle wait, 0.5 s */
    pthread_cond_broadcast(&r->sync_cond);
}

void rooms_tick(rooms *r)
{
    bool did;
    delivery_push_round(r, &did);
    delivery_sync_round(r);
}

uint64_t rooms_dropped(rooms *r)
{
    return atomic_load(&r->dropped);
}

json_t *rooms_status(rooms *r)
{
    return json_pack("{s:I,s:I,s:I,s:I}", "dropped", (json_int_t)atomic_load(&r->dropped), "password_checks",
                     (json_int_t)atomic_load(&r->pw_checks), "poll_backoffs", (json_int_t)atomic_load(&r->poll_backoffs),
                     "joins_rate_limited", (json_int_t)atomic_load(&r->joins_limited));
}
