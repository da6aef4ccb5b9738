/* waitq.c - see waitq.h. */
#include "common/waitq.h"

#include <stddef.h>

void waitq_init(waitq *q)
{
    pthread_mutex_init(&q->mu, NULL);
    q->gen = 0;
    q->head = NULL;
    q->waiting = 0;
}

void waitq_destroy(waitq *q) { pthread_mutex_destroy(&q->mu); }

uint64_t waitq_gen(waitq *q)
{
    pthread_mutex_lock(&q->mu);
    uint64_t g = q->gen;
    pthread_mutex_unlock(&q->mu);
    return g;
}

bool waitq_add(waitq *q, waitq_entry *e, uint64_t gen)
{
    pthread_mutex_lock(&q->mu);
    bool ok = q->gen == gen;
    if (ok) {
        __atomic_store_n(&e->q, q, __ATOMIC_RELEASE);
        e->prev = NULL;
        e->next = q->head;
        if (q->head)
            q->head->prev = e;
        q->head = e;
        q->waiting++;
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

static void unlink_locked(waitq *q, waitq_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        q->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    e->prev = e->next = NULL;
    __atomic_store_n(&e->q, NULL, __ATOMIC_RELEASE);
    q->waiting--;
}

bool waitq_remove(waitq_entry *e)
{
    /* e->q is read without a lock: it changes only from the list to NULL,
     * under that list's lock, so a non-NULL value names the list to lock
     * and is checked again under it. */
    waitq *q = __atomic_load_n(&e->q, __ATOMIC_ACQUIRE);
    if (!q)
        return false;
    pthread_mutex_lock(&q->mu);
    bool on = e->q == q;
    if (on)
        unlink_locked(q, e);
    pthread_mutex_unlock(&q->mu);
    return on;
}

void waitq_wake(waitq *q)
{
    pthread_mutex_lock(&q->mu);
    q->gen++;
    while (q->head) {
        waitq_entry *e = q->head;
        unlink_locked(q, e);
        e->fn(e);
    }
    pthread_mutex_unlock(&q->mu);
}

void waitq_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

int64_t waitq_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool waitq_deadline_passed(const struct timespec *d)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > d->tv_sec || (now.tv_sec == d->tv_sec && now.tv_nsec >= d->tv_nsec);
}

struct timespec waitq_deadline(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    else if (ts.tv_nsec < 0)
        ts.tv_sec--, ts.tv_nsec += 1000000000L;
    return ts;
}

typedef struct {
    waitq_entry e;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool woke;
} blocking_wait;

static void blocking_wake(waitq_entry *e)
{
    blocking_wait *w = e->arg;
    pthread_mutex_lock(&w->mu);
    w->woke = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

bool waitq_wait(waitq *q, uint64_t gen, unsigned timeout_ms)
{
    blocking_wait w = {.e = {.fn = blocking_wake}, .woke = false};
    w.e.arg = &w;
    pthread_mutex_init(&w.mu, NULL);
    waitq_cond_init(&w.cv);
    bool woke = true;
    if (waitq_add(q, &w.e, gen)) {
        struct timespec ts = waitq_deadline(timeout_ms);
        pthread_mutex_lock(&w.mu);
        while (!w.woke && pthread_cond_timedwait(&w.cv, &w.mu, &ts) == 0) {
        }
        pthread_mutex_unlock(&w.mu);
        /* off the list: if a wake took it first, its callback is done
         * once the list's lock is ours */
        woke = !waitq_remove(&w.e);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return woke;
}

uint64_t waitq_waiting(waitq *q)
{
    pthread_mutex_lock(&q->mu);
    uint64_t n = q->waiting;
    pthread_mutex_unlock(&q->mu);
    return n;
}
