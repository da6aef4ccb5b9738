/* presence.c - see presence.h. */
#include "server/core/presence.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t id[IDENTITY_ID_LEN];
    presence_state state;
    uint64_t touched; /* change counter at the last change: the oldest goes when full */
} presence_entry;

typedef struct {
    presence_up_fn fn;
    void *arg;
} presence_hook;

struct presence {
    pthread_mutex_t mu;
    presence_entry peers[PRESENCE_PEERS_MAX];
    size_t n_peers;
    uint64_t clock;
    presence_hook hooks[PRESENCE_HOOKS_MAX];
    size_t n_hooks;
    unsigned running;   /* threads running callbacks now */
    pthread_cond_t idle; /* running dropped to 0 */
};

nt_err presence_new(presence **out)
{
    presence *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p)
        return NT_ERR_NOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->idle, NULL);
    *out = p;
    return NT_OK;
}

void presence_free(presence *p)
{
    if (!p)
        return;
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

nt_err presence_on_up(presence *p, presence_up_fn fn, void *arg)
{
    nt_err rc = NT_ERR_TOO_BIG;
    if (!p || !fn)
        return NT_ERR_INVALID;
    pthread_mutex_lock(&p->mu);
    if (p->n_hooks < PRESENCE_HOOKS_MAX) {
        p->hooks[p->n_hooks++] = (presence_hook){fn, arg};
        rc = NT_OK;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void presence_off_up(presence *p, presence_up_fn fn, void *arg)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    size_t k = 0;
    for (size_t i = 0; i < p->n_hooks; i++)
        if (p->hooks[i].fn != fn || p->hooks[i].arg != arg)
            p->hooks[k++] = p->hooks[i];
    p->n_hooks = k;
    while (p->running)
        pthread_cond_wait(&p->idle, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* Lock held. The entry for id, made (evicting the oldest when full). */
static presence_entry *entry(presence *p, const uint8_t *id)
{
    size_t oldest = 0;
    for (size_t i = 0; i < p->n_peers; i++) {
        if (!memcmp(p->peers[i].id, id, IDENTITY_ID_LEN))
            return &p->peers[i];
        if (p->peers[i].touched < p->peers[oldest].touched)
            oldest = i;
    }
    presence_entry *e = p->n_peers < PRESENCE_PEERS_MAX ? &p->peers[p->n_peers++] : &p->peers[oldest];
    memset(e, 0, sizeof *e);
    memcpy(e->id, id, IDENTITY_ID_LEN);
    return e;
}

presence_state presence_set(presence *p, const uint8_t id[static IDENTITY_ID_LEN], bool up, bool always_hooks)
{
    presence_hook run[PRESENCE_HOOKS_MAX];
    size_t n_run = 0;
    if (!p)
        return PRESENCE_UNKNOWN;
    presence_state want = up ? PRESENCE_UP : PRESENCE_DOWN;
    pthread_mutex_lock(&p->mu);
    presence_entry *e = entry(p, id);
    presence_state before = e->state;
    bool changed = before != want;
    if (changed) {
        e->state = want;
        e->touched = ++p->clock;
    }
    if (up && (changed || always_hooks) && p->n_hooks) {
        n_run = p->n_hooks;
        memcpy(run, p->hooks, n_run * sizeof run[0]);
        p->running++;
    }
    pthread_mutex_unlock(&p->mu);
    if (!n_run)
        return before;
    for (size_t i = 0; i < n_run; i++)
        run[i].fn(run[i].arg, id);
    pthread_mutex_lock(&p->mu);
    if (--p->running == 0)
        pthread_cond_broadcast(&p->idle);
    pthread_mutex_unlock(&p->mu);
    return before;
}

presence_state presence_get(presence *p, const uint8_t id[static IDENTITY_ID_LEN])
{
    presence_state s = PRESENCE_UNKNOWN;
    if (!p)
        return s;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n_peers; i++)
        if (!memcmp(p->peers[i].id, id, IDENTITY_ID_LEN))
            s = p->peers[i].state;
    pthread_mutex_unlock(&p->mu);
    return s;
}
