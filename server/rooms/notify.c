#include "server/rooms/notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct notify {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t counter;
    bool closed;
};

nt_err notify_new(notify **out)
{
    notify *n = calloc(1, sizeof *n);
    pthread_condattr_t attr;
    *out = NULL;
    if (!n)
        return NT_ERR_NOMEM;
    pthread_mutex_init(&n->mu, NULL);
    /* Monotonic, so that a wall-clock jump neither cuts nor stretches a wait. */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cv, &attr);
    pthread_condattr_destroy(&attr);
    *out = n;
    return NT_OK;
}

void notify_free(notify *n)
{
    if (!n)
        return;
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n);
}

uint64_t notify_bump(notify *n)
{
    pthread_mutex_lock(&n->mu);
    uint64_t v = ++n->counter;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    return v;
}

uint64_t notify_current(notify *n)
{
    pthread_mutex_lock(&n->mu);
    uint64_t v = n->counter;
    pthread_mutex_unlock(&n->mu);
    return v;
}

uint64_t notify_wait(notify *n, uint64_t seen, unsigned timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L)
        until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&n->mu);
    while (n->counter == seen && !n->closed)
        if (pthread_cond_timedwait(&n->cv, &n->mu, &until) == ETIMEDOUT)
            break;
    uint64_t v = n->counter;
    pthread_mutex_unlock(&n->mu);
    return v;
}

void notify_close(notify *n)
{
    pthread_mutex_lock(&n->mu);
    n->closed = true;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

bool notify_closed(notify *n)
{
    pthread_mutex_lock(&n->mu);
    bool c = n->closed;
    pthread_mutex_unlock(&n->mu);
    return c;
}
