/* session.c - see session.h.
 *
 * Sessions and nonces sit in two chained hash tables keyed by random bytes
 * (the session id and the requestor's nonce are uniformly random, so their
 * first bytes are a fine hash). Expired entries are dropped lazily on
 * lookup and by session_sweep(). */
#include "server/channel/session.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/platform_util.h>
#include "server/channel/replay.h"

#define SESSION_BUCKETS 1024
#define NONCE_BUCKETS 4096

typedef struct session {
    struct session *next;
    uint8_t id[HS_SESSION_ID_LEN];
    uint8_t peer[IDENTITY_ID_LEN];
    seal_key c2s, s2c;
    uint8_t confirm[KEYSCHED_CONFIRM_LEN];
    bool confirmed;
    uint16_t port;
    int64_t created, expires_at, last_used;
    uint64_t requests;
    replay_window window;
} session;

typedef struct nonce_entry {
    struct nonce_entry *next;
    uint8_t nonce[HS_NONCE_LEN];
    int64_t forget_at;
} nonce_entry;

struct session_table {
    pthread_mutex_t lock;
    session_limits lim;
    session *buckets[SESSION_BUCKETS];
    nonce_entry *nonces[NONCE_BUCKETS];
    size_t n_sessions, n_nonces;
};

static size_t bucket_of(const uint8_t *random_bytes, size_t n)
{
    size_t h = 0;
    for (int i = 0; i < 4; i++)
        h = (h << 8) | random_bytes[i];
    return h % n;
}

static void session_destroy(session *s)
{
    mbedtls_platform_zeroize(s, sizeof(*s));
    free(s);
}

/* An unconfirmed session gets a shorter idle time, so half-open
 * handshakes do not hold a peer's session slots for an hour. */
static int64_t idle_of(const session_table *t, const session *s)
{
    if (s->confirmed || t->lim.idle < SESSION_UNCONFIRMED_IDLE)
        return (int64_t)t->lim.idle;
    return SESSION_UNCONFIRMED_IDLE;
}

static bool expired(const session_table *t, const session *s, int64_t now)
{
    return now >= s->expires_at || now - s->last_used >= idle_of(t, s);
}

nt_err session_table_new(session_table **out, const session_limits *lim)
{
    session_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NT_ERR_NOMEM;
    if (pthread_mutex_init(&t->lock, NULL)) {
        free(t);
        return NT_ERR_NOMEM;
    }
    if (lim)
        t->lim = *lim;
    if (!t->lim.idle)
        t->lim.idle = SESSION_DEFAULT_IDLE;
    if (!t->lim.absolute)
        t->lim.absolute = SESSION_DEFAULT_ABSOLUTE;
    if (!t->lim.max_sessions)
        t->lim.max_sessions = SESSION_DEFAULT_MAX;
    if (!t->lim.max_per_peer)
        t->lim.max_per_peer = SESSION_DEFAULT_PER_PEER;
    *out = t;
    return NT_OK;
}

void session_table_free(session_table *t)
{
    if (!t)
        return;
    for (size_t b = 0; b < SESSION_BUCKETS; b++)
        for (session *s = t->buckets[b], *next; s; s = next) {
            next = s->next;
            session_destroy(s);
        }
    for (size_t b = 0; b < NONCE_BUCKETS; b++)
        for (nonce_entry *e = t->nonces[b], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

void session_table_limits(const session_table *t, session_limits *out)
{
    *out = t->lim;
}

/* Find sid; drops it (and returns NULL with *was_expired) if it expired.
 * Lock held. */
static session *find(session_table *t, const uint8_t *sid, int64_t now, bool *was_expired)
{
    session **pp = &t->buckets[bucket_of(sid, SESSION_BUCKETS)];
    if (was_expired)
        *was_expired = false;
    for (; *pp; pp = &(*pp)->next) {
        session *s = *pp;
        if (memcmp(s->id, sid, HS_SESSION_ID_LEN))
            continue;
        if (expired(t, s, now)) {
            *pp = s->next;
            session_destroy(s);
            t->n_sessions--;
            if (was_expired)
                *was_expired = true;
            return NULL;
        }
        return s;
    }
    return NULL;
}

static size_t count_peer(session_table *t, const uint8_t *peer, int64_t now)
{
    size_t n = 0;
    for (size_t b = 0; b < SESSION_BUCKETS; b++)
        for (session *s = t->buckets[b]; s; s = s->next)
            if ((!peer || !memcmp(s->peer, peer, IDENTITY_ID_LEN)) && !expired(t, s, now))
                n++;
    return n;
}

/* True if nonce is remembered; forgets expired nonces in its bucket. */
static bool nonce_seen(session_table *t, const uint8_t *nonce, int64_t now)
{
    nonce_entry **pp = &t->nonces[bucket_of(nonce, NONCE_BUCKETS)];
    bool seen = false;
    while (*pp) {
        nonce_entry *e = *pp;
        if (now >= e->forget_at) {
            *pp = e->next;
            free(e);
            t->n_nonces--;
            continue;
        }
        if (!memcmp(e->nonce, nonce, HS_NONCE_LEN))
            seen = true;
        pp = &e->next;
    }
    return seen;
}

/* Drop every expired session and nonce. Lock held. */
static size_t sweep_locked(session_table *t, int64_t now)
{
    size_t dropped = 0;
    for (size_t b = 0; b < SESSION_BUCKETS; b++)
        for (session **pp = &t->buckets[b]; *pp;) {
            session *s = *pp;
            if (expired(t, s, now)) {
                *pp = s->next;
                session_destroy(s);
                t->n_sessions--;
                dropped++;
            } else {
                pp = &s->next;
            }
        }
    for (size_t b = 0; b < NONCE_BUCKETS; b++)
        for (nonce_entry **pp = &t->nonces[b]; *pp;) {
            nonce_entry *e = *pp;
            if (now >= e->forget_at) {
                *pp = e->next;
                free(e);
                t->n_nonces--;
            } else {
                pp = &e->next;
            }
        }
    return dropped;
}

/* The link to peer's least recently used session idle for at least
 * SESSION_EVICT_IDLE, or NULL. (lock held) */
static session **stale_of(session_table *t, const uint8_t *peer, int64_t now)
{
    session **best = NULL;
    for (size_t b = 0; b < SESSION_BUCKETS; b++)
        for (session **pp = &t->buckets[b]; *pp; pp = &(*pp)->next)
            if (!memcmp((*pp)->peer, peer, IDENTITY_ID_LEN) && now - (*pp)->last_used >= SESSION_EVICT_IDLE &&
                (!best || (*pp)->last_used < (*best)->last_used))
                best = pp;
    return best;
}

/* evict: make room by dropping a stale session of the same peer (only when
 * the new session is really being added). */
static nt_err precheck_locked(session_table *t, const uint8_t *peer, const uint8_t *nonce, int64_t now, bool evict)
{
    if (nonce_seen(t, nonce, now))
        return NT_ERR_REPLAY;
    if (count_peer(t, peer, now) >= t->lim.max_per_peer) {
        /* A peer that restarted or re-connected left idle sessions behind:
         * those give way; sessions in use never do. */
        session **pp = stale_of(t, peer, now);
        if (!pp)
            return NT_ERR_FORBIDDEN;
        if (evict) {
            session *old = *pp;
            *pp = old->next;
            session_destroy(old);
            t->n_sessions--;
        }
    }
    if (t->n_sessions >= t->lim.max_sessions || t->n_nonces >= SESSION_NONCE_MAX) {
        (void)sweep_locked(t, now); /* full, but perhaps only of dead entries */
        if (t->n_sessions >= t->lim.max_sessions || t->n_nonces >= SESSION_NONCE_MAX)
            return NT_ERR_BUSY;
    }
    return NT_OK;
}

nt_err session_precheck(session_table *t, const uint8_t peer[static IDENTITY_ID_LEN],
                        const uint8_t nonce[static HS_NONCE_LEN], int64_t now)
{
    pthread_mutex_lock(&t->lock);
    nt_err rc = precheck_locked(t, peer, nonce, now, false);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

nt_err session_insert(session_table *t, const uint8_t sid[static HS_SESSION_ID_LEN],
                      const uint8_t peer[static IDENTITY_ID_LEN], uint16_t port,
                      const uint8_t nonce[static HS_NONCE_LEN], const session_keys *keys, const uint8_t confirm[static KEYSCHED_CONFIRM_LEN], int64_t now,
                      int64_t *expires_at)
{
    session *s = calloc(1, sizeof(*s));
    nonce_entry *ne = calloc(1, sizeof(*ne));
    nt_err rc = NT_ERR_NOMEM;
    if (!s || !ne)
        goto out;
    memcpy(s->id, sid, HS_SESSION_ID_LEN);
    memcpy(s->peer, peer, IDENTITY_ID_LEN);
    s->port = port;
    s->c2s = keys->c2s;
    s->s2c = keys->s2c;
    memcpy(s->confirm, confirm, KEYSCHED_CONFIRM_LEN);
    s->created = s->last_used = now;
    s->expires_at = now + (int64_t)t->lim.absolute;
    replay_init(&s->window);
    memcpy(ne->nonce, nonce, HS_NONCE_LEN);
    ne->forget_at = now + SESSION_NONCE_TTL;

    pthread_mutex_lock(&t->lock);
    rc = precheck_locked(t, peer, nonce, now, true);
    if (!rc && find(t, sid, now, NULL))
        rc = NT_ERR_EXISTS;
    if (!rc) {
        size_t b = bucket_of(sid, SESSION_BUCKETS);
        s->next = t->buckets[b];
        t->buckets[b] = s;
        t->n_sessions++;
        b = bucket_of(nonce, NONCE_BUCKETS);
        ne->next = t->nonces[b];
        t->nonces[b] = ne;
        t->n_nonces++;
        *expires_at = s->expires_at;
        s = NULL;
        ne = NULL;
    }
    pthread_mutex_unlock(&t->lock);
out:
    if (s)
        session_destroy(s);
    free(ne);
    return rc;
}

nt_err session_begin(session_table *t, const uint8_t sid[static HS_SESSION_ID_LEN], uint64_t seq, int64_t now,
                     session_view *v)
{
    memset(v, 0, sizeof(*v));
    bool was_expired = false;
    nt_err rc = NT_OK;
    pthread_mutex_lock(&t->lock);
    session *s = find(t, sid, now, &was_expired);
    if (!s) {
        rc = was_expired ? NT_ERR_EXPIRED : NT_ERR_NOT_FOUND;
    } else if (!replay_would_accept(&s->window, seq)) {
        rc = NT_ERR_REPLAY;
    } else {
        memcpy(v->peer, s->peer, IDENTITY_ID_LEN);
        v->c2s = s->c2s;
        v->s2c = s->s2c;
        memcpy(v->confirm, s->confirm, KEYSCHED_CONFIRM_LEN);
        v->confirmed = s->confirmed;
        v->port = s->port;
        v->created = s->created;
        v->expires_at = s->expires_at;
        v->last_used = s->last_used;
        v->requests = s->requests;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

nt_err session_commit(session_table *t, const uint8_t sid[static HS_SESSION_ID_LEN], uint64_t seq, int64_t now)
{
    nt_err rc;
    pthread_mutex_lock(&t->lock);
    session *s = find(t, sid, now, NULL);
    if (!s) {
        rc = NT_ERR_NOT_FOUND;
    } else if (!(rc = replay_accept(&s->window, seq))) {
        s->confirmed = true;
        s->last_used = now;
        s->requests++;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void session_view_wipe(session_view *v)
{
    mbedtls_platform_zeroize(v, sizeof(*v));
}

nt_err session_drop(session_table *t, const uint8_t sid[static HS_SESSION_ID_LEN])
{
    nt_err rc = NT_ERR_NOT_FOUND;
    pthread_mutex_lock(&t->lock);
    for (session **pp = &t->buckets[bucket_of(sid, SESSION_BUCKETS)]; *pp; pp = &(*pp)->next) {
        session *s = *pp;
        if (!memcmp(s->id, sid, HS_SESSION_ID_LEN)) {
            *pp = s->next;
            session_destroy(s);
            t->n_sessions--;
            rc = NT_OK;
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

size_t session_sweep(session_table *t, int64_t now)
{
    pthread_mutex_lock(&t->lock);
    size_t n = sweep_locked(t, now);
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t session_count(session_table *t, const uint8_t *peer, int64_t now)
{
    pthread_mutex_lock(&t->lock);
    size_t n = count_peer(t, peer, now);
    pthread_mutex_unlock(&t->lock);
    return n;
}

static void info_of(const session_table *t, const session *s, session_info *si)
{
    memcpy(si->id, s->id, HS_SESSION_ID_LEN);
    memcpy(si->peer, s->peer, IDENTITY_ID_LEN);
    si->confirmed = s->confirmed;
    si->created = s->created;
    si->expires_at = s->expires_at;
    si->idle_expires_at = s->last_used + idle_of(t, s);
    si->requests = s->requests;
}

nt_err session_info_get(session_table *t, const uint8_t sid[static HS_SESSION_ID_LEN], int64_t now,
                        session_info *out)
{
    nt_err rc = NT_ERR_NOT_FOUND;
    pthread_mutex_lock(&t->lock);
    session *s = find(t, sid, now, NULL);
    if (s) {
        info_of(t, s, out);
        rc = NT_OK;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

size_t session_list_peer(session_table *t, const uint8_t peer[static IDENTITY_ID_LEN], int64_t now,
                         session_info *out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t b = 0; b < SESSION_BUCKETS; b++)
        for (session *s = t->buckets[b]; s; s = s->next) {
            if (memcmp(s->peer, peer, IDENTITY_ID_LEN) || expired(t, s, now))
                continue;
            session_info si;
            info_of(t, s, &si);
            /* Keep the newest `cap`, newest first (insertion sort, cap is small). */
            size_t pos = n < cap ? n : cap;
            while (pos > 0 && out[pos - 1].created < si.created)
                pos--;
            if (pos >= cap)
                continue;
            size_t last = n < cap ? n : cap - 1;
            memmove(out + pos + 1, out + pos, (last - pos) * sizeof(*out));
            out[pos] = si;
            if (n < cap)
                n++;
        }
    pthread_mutex_unlock(&t->lock);
    return n;
}
