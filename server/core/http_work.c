/* http_work.c - worker threads for handlers that may block, and parked
 * requests (long polls that wait with no thread). See http_int.h.
 *
 * Workers start as needed, up to threads_max, and leave after
 * their idle time (http_opts) without work. A parked request is on the server's parked
 * list and on its wait queue; whichever of the wake (waitq callback), the
 * timer (its deadline) or the stop takes it off the wait queue first
 * resumes its connection, and its event thread takes it off the parked
 * list when it runs it again. Lock order: pool.mu, then a waitq's lock. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"
#include "server/core/http_int.h"

#define TIMER_MAX_MS 1000
#define STOP_UNPARK_MS 2000 /* how long the stop waits for resumed requests to be taken */

/* ---- workers -------------------------------------------------------- */

static void run_job(http_server *h, http_req *rq)
{
    rq->on_worker = true;
    http_run_handler(rq);
    /* before the event thread may have rq back (and end it) */
    http_conns_job_done(rq);
    if (rq->replied)
        MHD_resume_connection(rq->conn);
    else
        http_pool_park(h, rq);
}

/* The next job, or NULL when this worker should leave: stopping, or idle
 * for its idle time, and in either case no request on its way in (one
 * counted in `queued` whose submitter has let go of the lock to suspend
 * its connection was promised a worker: http_pool_submit). */
static http_req *next_job_locked(http_pool *p)
{
    while (!p->q_head && (!p->stop || p->queued > 0)) {
        struct timespec ts = waitq_deadline(p->idle_ms);
        p->idle++;
        int rc = pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        p->idle--;
        if (rc == ETIMEDOUT && !p->q_head && p->queued == 0)
            return NULL;
    }
    http_req *rq = p->q_head;
    if (rq) {
        p->q_head = rq->job_next;
        if (!p->q_head)
            p->q_tail = NULL;
        rq->job_next = NULL;
        p->queued--;
    }
    return rq;
}

static void *worker_main(void *arg)
{
    http_server *h = arg;
    http_pool *p = &h->pool;
    pthread_setname_np(pthread_self(), "http-worker");
    pthread_mutex_lock(&p->mu);
    http_req *rq;
    while ((rq = next_job_locked(p))) {
        pthread_mutex_unlock(&p->mu);
        run_job(h, rq);
        pthread_mutex_lock(&p->mu);
    }
    p->threads--;
    pthread_cond_broadcast(&p->gone);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static bool spawn_worker(http_server *h)
{
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    bool ok = pthread_create(&t, &at, worker_main, h) == 0;
    pthread_attr_destroy(&at);
    return ok;
}

bool http_pool_submit(http_server *h, http_req *rq)
{
    http_pool *p = &h->pool;
    pthread_mutex_lock(&p->mu);
    if (p->stop || p->queued >= p->queue_max) {
        pthread_mutex_unlock(&p->mu);
        return false;
    }
    /* a worker for it, started now, so that `threads` counts only threads
     * that run: one that takes the lock first waits for the job below */
    if (p->queued + 1 > p->idle && p->threads < p->threads_max) {
        if (spawn_worker(h)) {
            p->threads++;
        } else {
            log_warn("http: cannot start a worker thread (%u running)", p->threads);
            if (p->threads == 0) { /* none would take it: 503, not a wait */
                pthread_mutex_unlock(&p->mu);
                return false;
            }
        }
    }
    p->queued++; /* the slot is this request's: no worker leaves while it is on its way */
    pthread_mutex_unlock(&p->mu);
    MHD_suspend_connection(rq->conn); /* before any worker can see it */
    pthread_mutex_lock(&p->mu);
    if (p->q_tail)
        p->q_tail->job_next = rq;
    else
        p->q_head = rq;
    p->q_tail = rq;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return true;
}

/* ---- parked requests ------------------------------------------------ */

/* A waitq callback: under the queue's lock, so only mark and resume. */
static void on_wake(waitq_entry *e)
{
    http_req *rq = e->arg;
    atomic_store(&rq->park, PARK_RESUMING);
    MHD_resume_connection(rq->conn);
}

static void park_link_locked(http_pool *p, http_req *rq)
{
    rq->park_prev = NULL;
    rq->park_next = p->parked;
    if (p->parked)
        p->parked->park_prev = rq;
    p->parked = rq;
    p->n_parked++;
}

/* Take rq off its wait queue and resume it with its wait over; false
 * when a wake took it first (and resumes it). Under pool.mu. */
static bool expire_locked(http_req *rq)
{
    if (atomic_load(&rq->park) != PARK_PARKED || !waitq_remove(&rq->we))
        return false;
    rq->wait_over = true;
    atomic_store(&rq->park, PARK_RESUMING);
    MHD_resume_connection(rq->conn);
    return true;
}

void http_pool_park(http_server *h, http_req *rq)
{
    http_pool *p = &h->pool;
    int64_t now = http_now_ms();
    pthread_mutex_lock(&p->mu);
    if (atomic_load(&h->stopping) || now >= rq->wait_deadline_ms || !rq->wait_q) {
        pthread_mutex_unlock(&p->mu);
        rq->wait_over = true;
        MHD_resume_connection(rq->conn);
        return;
    }
    rq->we.fn = on_wake;
    rq->we.arg = rq;
    atomic_store(&rq->park, PARK_PARKED);
    park_link_locked(p, rq);
    if (!waitq_add(rq->wait_q, &rq->we, rq->wait_gen)) {
        /* woken since the handler looked: it looks again */
        atomic_store(&rq->park, PARK_RESUMING);
        MHD_resume_connection(rq->conn);
    } else if (rq->wait_deadline_ms < p->timer_next) {
        pthread_cond_signal(&p->timer_cv); /* sooner than the timer would look */
    }
    pthread_mutex_unlock(&p->mu);
}

void http_pool_unpark(http_server *h, http_req *rq)
{
    http_pool *p = &h->pool;
    pthread_mutex_lock(&p->mu);
    if (rq->park_prev)
        rq->park_prev->park_next = rq->park_next;
    else
        p->parked = rq->park_next;
    if (rq->park_next)
        rq->park_next->park_prev = rq->park_prev;
    rq->park_prev = rq->park_next = NULL;
    p->n_parked--;
    atomic_store(&rq->park, PARK_NONE);
    if (p->n_parked == 0)
        pthread_cond_broadcast(&p->gone);
    pthread_mutex_unlock(&p->mu);
}

void http_pool_release_all(http_server *h)
{
    http_pool *p = &h->pool;
    if (!p->ready)
        return;
    pthread_mutex_lock(&p->mu);
    for (http_req *rq = p->parked; rq; rq = rq->park_next)
        (void)expire_locked(rq);
    pthread_mutex_unlock(&p->mu);
}

static void *timer_main(void *arg)
{
    http_server *h = arg;
    http_pool *p = &h->pool;
    pthread_setname_np(pthread_self(), "http-timer");
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        int64_t now = http_now_ms(), next = now + TIMER_MAX_MS;
        bool stopping = atomic_load(&h->stopping);
        for (http_req *rq = p->parked; rq; rq = rq->park_next) {
            if (atomic_load(&rq->park) != PARK_PARKED)
                continue;
            if (stopping || rq->wait_deadline_ms <= now)
                (void)expire_locked(rq);
            else if (rq->wait_deadline_ms < next)
                next = rq->wait_deadline_ms;
        }
        p->timer_next = next;
        struct timespec ts = waitq_deadline(next - now);
        pthread_cond_timedwait(&p->timer_cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

nt_err http_pool_init(http_server *h, unsigned threads_max, unsigned queue_max, unsigned idle_ms)
{
    http_pool *p = &h->pool;
    p->idle_ms = idle_ms;
    pthread_mutex_init(&p->mu, NULL);
    waitq_cond_init(&p->cv);
    waitq_cond_init(&p->gone);
    waitq_cond_init(&p->timer_cv);
    p->threads_max = threads_max;
    p->queue_max = queue_max;
    p->ready = true;
    if (pthread_create(&p->timer, NULL, timer_main, h))
        return NT_ERR_NOMEM;
    p->timer_started = true;
    return NT_OK;
}

void http_pool_fini(http_pool *p)
{
    if (!p->ready)
        return;
    pthread_mutex_lock(&p->mu);
    struct timespec until = waitq_deadline(STOP_UNPARK_MS);
    while (p->n_parked > 0 && pthread_cond_timedwait(&p->gone, &p->mu, &until) != ETIMEDOUT) {
    }
    if (p->n_parked > 0)
        log_warn("http: %u parked requests not taken back before the stop", p->n_parked);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_cond_broadcast(&p->timer_cv);
    while (p->threads > 0)
        pthread_cond_wait(&p->gone, &p->mu);
    pthread_mutex_unlock(&p->mu);
    if (p->timer_started)
        pthread_join(p->timer, NULL);
    p->timer_started = false;
}

void http_pool_destroy(http_pool *p)
{
    if (!p->ready)
        return;
    pthread_cond_destroy(&p->timer_cv);
    pthread_cond_destroy(&p->gone);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    p->ready = false;
}
