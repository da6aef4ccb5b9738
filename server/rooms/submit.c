/* submit.c - the host's side of a member's submission, one message
 * (POST /v1/peer/rooms/{id}/messages) or a batch (/batch): parsed, queued
 * to the ingest (verify, group commit), answered when its commit is done.
 *
 * No thread waits for the commit: the request is parked (rooms_answer's
 * wait) on its own wait queue, which the ingest wakes when the unit is
 * answered; the caller then passes the pending submission back
 * (rooms_peer_op's resume) and gets the answer. The pending object is
 * shared by the request and the ingest, each holding a reference: a
 * request that gives up (its wait over, or the node stopping) leaves the
 * items to the ingest, which frees them when it is done with them. */
#include "server/rooms/rooms_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/platform_util.h>

#include "crypto/encoding.h"
#include "crypto/sign.h"

#define SUBMIT_WAIT_MS 60000 /* longer than any commit: the request answers 503 after it */

struct rooms_pending {
    atomic_int refs;
    atomic_bool done;
    waitq wq; /* woken once, when the ingest has answered the unit */
    bool batch;
    size_t n;
    char sender[IDENTITY_ID_HEX_LEN + 1], room[ROOM_ID_HEX_LEN + 1];
    json_t *body; /* the request's body: the submissions' txn ids point into it */
    submission *subs;
    gc_item *items;
};

static rooms_refusal parse_submission(json_t *body, submission *s, rooms_answer *a)
{
    memset(s, 0, sizeof *s);
    if (!json_is_object(body))
        return rooms_decline(a, REFUSE_BAD_REQUEST, "body must be a JSON object");
    json_t *jb = json_object_get(body, "body"), *je = json_object_get(body, "epoch");
    s->txn = json_string_value(json_object_get(body, "txn_id"));
    if (!rooms_valid_txn(s->txn) || !json_is_integer(je) || !json_is_string(jb) ||
        !json_is_string(json_object_get(body, "sig")))
        return rooms_decline(a, REFUSE_BAD_REQUEST, "txn_id, epoch, body and sig are required");
    if (strlen(json_string_value(jb)) > encoding_b64_len(ROOM_BODY_MAX, B64_STD))
        return rooms_decline(a, REFUSE_TOO_LARGE, "message body over its cap");
    s->epoch = json_integer_value(je);
    s->body = rooms_b64_get_public(jb, ROOM_BODY_MAX, &s->body_len);
    s->sig = rooms_b64_get_public(json_object_get(body, "sig"), SIGN_MAX_LEN, &s->sig_len);
    if (!s->body || !s->sig || s->epoch < 1)
        return rooms_decline(a, REFUSE_BAD_REQUEST, "body and sig must be base64, epoch positive");
    return REFUSE_NONE;
}

/* ---- the pending submission ---- */

static void pending_free(rooms_pending *p)
{
    for (size_t i = 0; p->items && p->subs && i < p->n; i++) {
        json_decref(p->items[i].reply);
        if (p->items[i].text) {
            mbedtls_platform_zeroize(p->items[i].text, p->items[i].text_len);
            free(p->items[i].text);
        }
        messages_submission_free(&p->subs[i]);
    }
    free(p->items);
    free(p->subs);
    json_decref(p->body);
    waitq_destroy(&p->wq);
    free(p);
}

void rooms_pending_release(rooms_pending *p)
{
    if (p && atomic_fetch_sub(&p->refs, 1) == 1)
        pending_free(p);
}

static void pending_done(void *arg)
{
    rooms_pending *p = arg;
    atomic_store(&p->done, true);
    waitq_wake(&p->wq);
    rooms_pending_release(p); /* the ingest's */
}

static rooms_pending *pending_new(const char *peer, const char *room, json_t *body, size_t n, bool batch)
{
    rooms_pending *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->subs = calloc(n, sizeof *p->subs);
    p->items = calloc(n, sizeof *p->items);
    atomic_init(&p->refs, 1);
    atomic_init(&p->done, false);
    waitq_init(&p->wq);
    p->n = n;
    p->batch = batch;
    p->body = json_incref(body);
    snprintf(p->sender, sizeof p->sender, "%s", peer);
    snprintf(p->room, sizeof p->room, "%s", room ? room : "");
    if (!p->subs || !p->items) {
        pending_free(p);
        return NULL;
    }
    return p;
}

/* Queue p's items and tell the caller to wait for them. */
static rooms_refusal pending_queue(rooms *r, rooms_pending *p, rooms_answer *a)
{
    for (size_t i = 0; i < p->n; i++)
        p->items[i] = (gc_item){.sender = p->sender, .room = p->room, .s = &p->subs[i],
                                .more = i + 1 < p->n ? &p->items[i + 1] : NULL};
    a->wait.q = &p->wq;
    a->wait.gen = waitq_gen(&p->wq); /* before the ingest can answer */
    a->wait.ms = SUBMIT_WAIT_MS;
    a->wait.pending = p;
    atomic_fetch_add(&p->refs, 1); /* the ingest's, until pending_done */
    ingest_submit(r, &p->items[0], pending_done, p);
    return REFUSE_NONE;
}

/* The answer to a batch: each item's answer with its txn id and status, in
 * order, up to the first refused one; the items after it were not tried.
 * When none was stored (or found stored), the batch's answer is its first
 * item's, as a single submit would get it. An item's status and body on
 * the wire are its refusal's, from the one table (rooms_answer_http). */
static rooms_refusal batch_reply(gc_item *items, size_t n, rooms_answer *a)
{
    if (items[0].refusal != REFUSE_NONE) {
        json_decref(a->body);
        a->body = items[0].reply;
        items[0].reply = NULL;
        return items[0].refusal;
    }
    json_t *results = json_array();
    for (size_t i = 0; i < n && results && !items[i].untried; i++) {
        rooms_answer ia = {.body = items[i].reply};
        json_t *e = NULL;
        items[i].reply = NULL;
        int status = rooms_answer_http(items[i].refusal, &ia, &e);
        if (!e)
            e = json_object();
        if (!e || json_object_set_new(e, "txn_id", json_string(items[i].s->txn)) ||
            json_object_set_new(e, "status", json_integer(status)) || json_array_append_new(results, e)) {
            json_decref(results);
            results = NULL;
        }
        if (items[i].refusal != REFUSE_NONE)
            break;
    }
    json_decref(a->body);
    a->body = results ? json_pack("{s:o}", "results", results) : NULL;
    return a->body ? REFUSE_NONE : rooms_decline(a, REFUSE_INTERNAL, "out of memory");
}

/* The answer of a pending submission (the caller releases it). */
static rooms_refusal pending_answer(rooms_pending *p, rooms_answer *a)
{
    if (!atomic_load(&p->done))
        return rooms_decline(a, REFUSE_BUSY, "the message is not stored yet; send it again");
    if (p->batch)
        return batch_reply(p->items, p->n, a);
    json_decref(a->body);
    a->body = p->items[0].reply;
    p->items[0].reply = NULL;
    return p->items[0].refusal;
}

rooms_refusal messages_peer_submit(rooms *r, const char *peer, const char *room, json_t *body,
                                   rooms_pending *resume, rooms_answer *a)
{
    if (resume)
        return pending_answer(resume, a);
    rooms_pending *p = pending_new(peer, room, body, 1, false);
    if (!p)
        return rooms_decline(a, REFUSE_BUSY, "out of memory");
    rooms_refusal why = parse_submission(body, &p->subs[0], a);
    if (why) {
        rooms_pending_release(p);
        return why;
    }
    return pending_queue(r, p, a);
}

rooms_refusal messages_peer_submit_batch(rooms *r, const char *peer, const char *room, json_t *body,
                                         rooms_pending *resume, rooms_answer *a)
{
    if (resume)
        return pending_answer(resume, a);
    json_t *arr = json_object_get(body, "messages");
    size_t n = json_array_size(arr);
    if (!json_is_object(body) || !json_is_array(arr) || n < 1 || n > ROOM_SUBMIT_BATCH_MAX)
        return rooms_decline(a, REFUSE_BAD_REQUEST, "body must be {\"messages\": [1 to 16 submissions]}");
    rooms_pending *p = pending_new(peer, room, body, n, true);
    if (!p)
        return rooms_decline(a, REFUSE_BUSY, "out of memory");
    /* every item well formed, or nothing is tried */
    rooms_refusal why = REFUSE_NONE;
    for (size_t i = 0; i < n && !why; i++)
        why = parse_submission(json_array_get(arr, i), &p->subs[i], a);
    if (why) {
        rooms_pending_release(p);
        return why;
    }
    return pending_queue(r, p, a);
}
