/* ingest.c - the host's path for submitted messages after their pre-check:
 * verify, then group commit.
 *
 * A submitter only queues its unit (one request: a submission, or a batch
 * of them) and waits (ingest_run), or is called back (ingest_submit: a
 * peer's request, parked without a thread until then). One verify thread per core takes items off the verify queue,
 * checks the RSA signature and opens the host's copy, and hands good items
 * to the committer; the committer writes everything waiting in one
 * transaction (one fsync) and wakes exactly the submitters it acked. The
 * verify threads never wait for a commit, and no more threads compete for
 * the cores than there are cores plus the committer, so the commit that
 * everyone waits for is not starved by dozens of verifies.
 *
 * Submissions still run on the calling thread when the threads are gone
 * (rooms_stop), so a late request is answered, not lost. */
#include "server/rooms/rooms_int.h"

#include <stdlib.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <time.h>

#define INGEST_VERIFIERS_MAX 16
/* A batch is committed when no verified item is about to join it, or when
 * it has this many: fewer fsyncs under load, no wait when idle. */
#define INGEST_BATCH_MAX 64
#define INGEST_VERIFY_NICE 10

typedef struct {
    gc_item *head, *tail;
} item_queue;

struct ingest {
    pthread_mutex_t lock;
    pthread_cond_t verify_cond; /* the verify queue has items, or stop */
    pthread_cond_t commit_cond; /* the commit queue has items, or stop */
    item_queue verify_q, commit_q;
    size_t verifying; /* items a verify thread is working on */
    size_t n_commit;  /* items in commit_q */
    size_t inflight;  /* items submitted and not yet done */
    bool stop_verify, stop_commit, running;
    pthread_t verifier[INGEST_VERIFIERS_MAX], committer;
    ingest_ops ops;
    size_t n_verifiers;
    bool committer_started;
};

static void q_push(item_queue *q, gc_item *it)
{
    it->next = NULL;
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
}

static gc_item *q_pop(item_queue *q)
{
    gc_item *it = q->head;
    if (it && !(q->head = it->next))
        q->tail = NULL;
    return it;
}

/* Take items out of the count in flight (in->lock held). */
static void retire_locked(ingest *in, const gc_item *list)
{
    for (const gc_item *it = list; it; it = it->next)
        in->inflight--;
}

/* Wake the submitters of a list of answered items, without in->lock: each
 * wake is one futex call, and a woken submitter has no lock to fight the
 * committer for. An item lives on its submitter's stack and may be gone as
 * soon as its semaphore is posted, so `next` is read first. */
static void wake_all(gc_item *list)
{
    for (gc_item *it = list, *next; it; it = next) {
        next = it->next;
        if (it->on_done)
            it->on_done(it->done_arg);
        else
            sem_post(&it->done);
    }
}

/* Commit when nothing verified is about to join the batch, or once it
 * holds half of what is in flight: the other half is then verified while
 * this half commits, so neither the verifiers nor the committer sit idle. */
static bool batch_ready_locked(const ingest *in)
{
    size_t half = in->inflight / 2;
    return in->n_commit > 0 && (in->stop_commit || in->n_commit >= INGEST_BATCH_MAX || in->n_commit >= half ||
                                (!in->verify_q.head && in->verifying == 0));
}

static void *verify_main(void *arg)
{
    pthread_setname_np(pthread_self(), "ingest-verify");
    rooms *r = arg;
    ingest *in = r->in;
    /* below the committer and the connection threads: a verify can wait a
     * little, the commit that acks a whole batch should not (Linux: the
     * nice value is per thread; raising it needs no privilege) */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), INGEST_VERIFY_NICE) != 0) {
        /* best effort: the same work, only less well ordered */
    }
    key_cache *kc = in->ops.worker_new(); /* NULL: each key parsed afresh */
    pthread_mutex_lock(&in->lock);
    for (;;) {
        gc_item *it = q_pop(&in->verify_q);
        if (!it) {
            if (in->stop_verify)
                break;
            pthread_cond_wait(&in->verify_cond, &in->lock);
            continue;
        }
        in->verifying++;
        pthread_mutex_unlock(&in->lock);
        bool pending = in->ops.check(r, kc, it);
        pthread_mutex_lock(&in->lock);
        in->verifying--;
        if (!pending) { /* refused, or duplicates: answer at once */
            it->next = NULL;
            retire_locked(in, it);
        } else {
            q_push(&in->commit_q, it);
            in->n_commit++;
        }
        if (batch_ready_locked(in))
            pthread_cond_signal(&in->commit_cond);
        if (!pending) {
            pthread_mutex_unlock(&in->lock);
            wake_all(it);
            pthread_mutex_lock(&in->lock);
        }
    }
    pthread_mutex_unlock(&in->lock);
    in->ops.worker_free(kc);
    return NULL;
}

static void *commit_main(void *arg)
{
    pthread_setname_np(pthread_self(), "ingest-commit");
    rooms *r = arg;
    ingest *in = r->in;
    pthread_mutex_lock(&in->lock);
    for (;;) {
        if (!batch_ready_locked(in)) {
            if (in->stop_commit && !in->n_commit)
                break;
            pthread_cond_wait(&in->commit_cond, &in->lock);
            continue;
        }
        gc_item *batch = in->commit_q.head;
        in->commit_q.head = in->commit_q.tail = NULL;
        in->n_commit = 0;
        pthread_mutex_unlock(&in->lock);
        in->ops.commit(r, batch);
        pthread_mutex_lock(&in->lock);
        retire_locked(in, batch);
        pthread_mutex_unlock(&in->lock);
        wake_all(batch);
        pthread_mutex_lock(&in->lock);
    }
    pthread_mutex_unlock(&in->lock);
    return NULL;
}

nt_err ingest_start(rooms *r, const ingest_ops *ops)
{
    ingest *in = calloc(1, sizeof *in);
    if (!in)
        return NT_ERR_NOMEM;
    in->ops = *ops;
    pthread_mutex_init(&in->lock, NULL);
    pthread_cond_init(&in->verify_cond, NULL);
    pthread_cond_init(&in->commit_cond, NULL);
    r->in = in;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = cores < 1 ? 1 : cores > INGEST_VERIFIERS_MAX ? INGEST_VERIFIERS_MAX : (size_t)cores;
    if (pthread_create(&in->committer, NULL, commit_main, r) != 0)
        return NT_ERR_NOMEM;
    in->committer_started = true;
    while (in->n_verifiers < want && pthread_create(&in->verifier[in->n_verifiers], NULL, verify_main, r) == 0)
        in->n_verifiers++;
    if (in->n_verifiers == 0)
        return NT_ERR_NOMEM;
    in->running = true;
    return NT_OK;
}

void ingest_stop(rooms *r)
{
    ingest *in = r->in;
    if (!in)
        return;
    /* the verifiers finish the verify queue, then the committer what
     * they handed on; new submissions meanwhile run inline */
    pthread_mutex_lock(&in->lock);
    in->running = false;
    in->stop_verify = true;
    pthread_cond_broadcast(&in->verify_cond);
    pthread_mutex_unlock(&in->lock);
    for (size_t i = 0; i < in->n_verifiers; i++)
        pthread_join(in->verifier[i], NULL);
    in->n_verifiers = 0;
    pthread_mutex_lock(&in->lock);
    in->stop_commit = true;
    pthread_cond_signal(&in->commit_cond);
    pthread_mutex_unlock(&in->lock);
    if (in->committer_started)
        pthread_join(in->committer, NULL);
    in->committer_started = false;
}

void ingest_free(rooms *r)
{
    ingest *in = r->in;
    if (!in)
        return;
    ingest_stop(r);
    pthread_mutex_destroy(&in->lock);
    pthread_cond_destroy(&in->verify_cond);
    pthread_cond_destroy(&in->commit_cond);
    free(in);
    r->in = NULL;
}

void ingest_submit(rooms *r, gc_item *it, void (*on_done)(void *arg), void *arg)
{
    ingest *in = r->in;
    it->next = NULL;
    it->on_done = on_done;
    it->done_arg = arg;
    pthread_mutex_lock(&in->lock);
    if (!in->running) { /* stopping: verify and commit on this thread */
        pthread_mutex_unlock(&in->lock);
        if (in->ops.check(r, NULL, it))
            in->ops.commit(r, it);
        on_done(arg);
        return;
    }
    in->inflight++;
    q_push(&in->verify_q, it);
    pthread_cond_signal(&in->verify_cond);
    pthread_mutex_unlock(&in->lock);
}

rooms_refusal ingest_run(rooms *r, gc_item *it)
{
    /* `it` is a unit: its first item, the rest of its request on `more` */
    ingest *in = r->in;
    it->next = NULL;
    pthread_mutex_lock(&in->lock);
    if (!in->running) { /* stopping: verify and commit on this thread */
        pthread_mutex_unlock(&in->lock);
        if (in->ops.check(r, NULL, it))
            in->ops.commit(r, it);
        return it->refusal;
    }
    if (sem_init(&it->done, 0, 0) != 0) { /* cannot happen on Linux; answer rather than hang */
        pthread_mutex_unlock(&in->lock);
        rooms_answer a = {.body = it->reply};
        it->refusal = rooms_decline(&a, REFUSE_BUSY, "cannot queue the message");
        it->reply = a.body;
        it->decided = true;
        return it->refusal;
    }
    in->inflight++;
    q_push(&in->verify_q, it);
    pthread_cond_signal(&in->verify_cond);
    pthread_mutex_unlock(&in->lock);
    while (sem_wait(&it->done) != 0) /* EINTR only */
        ;
    sem_destroy(&it->done);
    return it->refusal;
}
