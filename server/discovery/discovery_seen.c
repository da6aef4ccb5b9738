/* discovery_seen.c - see discovery_seen.h. A linear table: LANs have tens
 * of nodes, the cap keeps the scan (32-byte compares) in microseconds. */
#include "server/discovery/discovery_seen.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    bool used;
    bool accepted; /* an announcement from this id was verified */
    bool expendable; /* known from multicast only: may give way within the window */
    uint8_t id[IDENTITY_ID_LEN];
    uint8_t instance[DISCOVERY_INSTANCE_LEN];
    uint32_t seq;
    int64_t timestamp_ms; /* sender's clock, of the last accepted packet */
    int64_t seen_ms;      /* our monotonic clock */
    int64_t fetch_retry_ms;
    identity *key;
} entry;

struct discovery_seen {
    size_t cap;
    entry *e;
};

nt_err discovery_seen_new(discovery_seen **out, size_t cap)
{
    *out = NULL;
    if (cap == 0)
        return NT_ERR_INVALID;
    discovery_seen *t = calloc(1, sizeof *t);
    if (!t)
        return NT_ERR_NOMEM;
    t->e = calloc(cap, sizeof *t->e);
    if (!t->e) {
        free(t);
        return NT_ERR_NOMEM;
    }
    t->cap = cap;
    *out = t;
    return NT_OK;
}

void discovery_seen_free(discovery_seen *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->cap; i++)
        identity_free(t->e[i].key);
    free(t->e);
    free(t);
}

static entry *find(const discovery_seen *t, const uint8_t *id)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->e[i].used && memcmp(t->e[i].id, id, IDENTITY_ID_LEN) == 0)
            return &t->e[i];
    return NULL;
}

/* How readily slot c takes a new id at now_ms, highest first; 0: not at
 * all. A free slot; an id we only failed to fetch a key for; a node no
 * packet of which can pass the time check any more; a node known from
 * multicast only (anyone can mint those: they must not crowd out the
 * rest); never a node we handshook with or trust heard within the window. */
static int readiness(const entry *c, int64_t now_ms)
{
    if (!c->used)
        return 4;
    if (!c->accepted)
        return 3;
    if (now_ms - c->seen_ms > DISCOVERY_SEEN_KEEP_MS)
        return 2;
    return c->expendable ? 1 : 0;
}

/* The slot a new id would take at now_ms, or NULL: the readiest, and of
 * those the one heard from longest ago. */
static entry *victim_for(const discovery_seen *t, int64_t now_ms)
{
    entry *victim = NULL;
    int best = 0;
    for (size_t i = 0; i < t->cap && best < 4; i++) {
        entry *c = &t->e[i];
        int r = readiness(c, now_ms);
        if (r > best || (r && r == best && c->seen_ms < victim->seen_ms)) {
            victim = c;
            best = r;
        }
    }
    return victim;
}

/* The entry for id, made (replacing victim_for) if absent; NULL when
 * there is no room. */
static entry *find_or_add(discovery_seen *t, const uint8_t *id, int64_t now_ms, bool *added)
{
    entry *e = find(t, id), *victim;
    *added = false;
    if (e)
        return e;
    if (!(victim = victim_for(t, now_ms)))
        return NULL;
    identity_free(victim->key);
    memset(victim, 0, sizeof *victim);
    victim->used = true;
    memcpy(victim->id, id, IDENTITY_ID_LEN);
    victim->seen_ms = now_ms;
    *added = true;
    return victim;
}

discovery_drop discovery_seen_room(const discovery_seen *t, const uint8_t id[static IDENTITY_ID_LEN], int64_t now_ms)
{
    return find(t, id) || victim_for(t, now_ms) ? DISC_OK : DISC_BUSY;
}

discovery_drop discovery_seen_check(const discovery_seen *t, const discovery_packet *p)
{
    const entry *e = find(t, p->node_id);
    if (!e || !e->accepted)
        return DISC_OK;
    if (memcmp(e->instance, p->instance_id, DISCOVERY_INSTANCE_LEN) == 0)
        return p->seq > e->seq ? DISC_OK : DISC_REPLAY;
    /* A restart comes later on the sender's own clock. */
    return p->timestamp_ms > e->timestamp_ms ? DISC_OK : DISC_REPLAY;
}

bool discovery_seen_accept(discovery_seen *t, const discovery_packet *p, identity **key, int64_t now_ms,
                           bool expendable, bool *new_peer, bool *new_instance)
{
    bool added;
    entry *e = find_or_add(t, p->node_id, now_ms, &added);
    if (!e)
        return false;
    bool was_accepted = e->accepted;
    bool changed = !was_accepted || memcmp(e->instance, p->instance_id, DISCOVERY_INSTANCE_LEN) != 0;
    if (new_peer)
        *new_peer = !was_accepted;
    if (new_instance)
        *new_instance = was_accepted && changed;
    e->accepted = true;
    e->expendable = expendable;
    memcpy(e->instance, p->instance_id, DISCOVERY_INSTANCE_LEN);
    e->seq = p->seq;
    e->timestamp_ms = p->timestamp_ms;
    e->seen_ms = now_ms;
    e->fetch_retry_ms = 0;
    if (!e->key && key && *key) {
        e->key = *key;
        *key = NULL;
    }
    return true;
}

const identity *discovery_seen_key(const discovery_seen *t, const uint8_t id[static IDENTITY_ID_LEN])
{
    const entry *e = find(t, id);
    return e ? e->key : NULL;
}

bool discovery_seen_fetch_allowed(const discovery_seen *t, const uint8_t id[static IDENTITY_ID_LEN], int64_t now_ms)
{
    const entry *e = find(t, id);
    return !e || now_ms >= e->fetch_retry_ms;
}

void discovery_seen_fetch_failed(discovery_seen *t, const uint8_t id[static IDENTITY_ID_LEN], int64_t now_ms)
{
    bool added;
    entry *e = find_or_add(t, id, now_ms, &added);
    if (e)
        e->fetch_retry_ms = now_ms + DISCOVERY_FETCH_RETRY_MS;
}

bool discovery_seen_get(const discovery_seen *t, const uint8_t id[static IDENTITY_ID_LEN], int64_t *last_seen_ms,
                        uint8_t instance[DISCOVERY_INSTANCE_LEN])
{
    const entry *e = find(t, id);
    if (!e || !e->accepted)
        return false;
    if (last_seen_ms)
        *last_seen_ms = e->seen_ms;
    if (instance)
        memcpy(instance, e->instance, DISCOVERY_INSTANCE_LEN);
    return true;
}

bool discovery_seen_expendable(const discovery_seen *t, const uint8_t id[static IDENTITY_ID_LEN])
{
    const entry *e = find(t, id);
    return e && e->accepted && e->expendable;
}

size_t discovery_seen_count(const discovery_seen *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++)
        n += t->e[i].used && t->e[i].accepted;
    return n;
}
