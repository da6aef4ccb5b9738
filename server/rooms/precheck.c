/* precheck.c - what a submitted message is checked against before its
 * verify: the room, the sender's membership and key, the room's epoch and
 * the key of the submission's epoch.
 *
 * The answer comes from one read on a reader connection. Each commit
 * empties a reader's page cache, so under load that read re-reads its
 * pages from the WAL every time; a small cache of accepted answers sits in
 * front of it. An entry is valid while the cache's generation is the one
 * it was read under. The generation moves after every commit that changed
 * a member row, a room key or removed a room: the update hook marks the
 * change while the statement runs, the WAL hook (called once the commit is
 * visible to readers) moves the generation. An answer read under the old
 * generation is therefore never kept past a change it may have missed.
 *
 * The cache only speeds up the way to an accept: the caller redoes the
 * read before it refuses anything, and the commit checks membership and
 * epoch again under the write lock. Without reader connections (no WAL
 * file, tests) there is no cache. */
#include "server/rooms/rooms_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/platform_util.h>

#define PRECHECK_SLOTS 64

struct precheck_slot {
    uint64_t gen; /* 0: empty */
    char room[ROOM_ID_HEX_LEN + 1], sender[IDENTITY_ID_HEX_LEN + 1];
    int64_t sub_epoch; /* the submission epoch the answer (its key) is for */
    precheck answer;   /* found, hosted, a member key: one that accepts */
};

/* ---- reader connections ---- */

nt_err precheck_readers_open(rooms *r, const char *path)
{
    for (size_t i = 0; i < ROOM_READERS; i++) {
        roomdb *db = NULL;
        nt_err rc = roomdb_open(path, DBCONN_READER, &db);
        if (rc)
            return rc;
        pthread_mutex_init(&r->readers[i].mu, NULL);
        r->readers[i].db = db;
        r->n_readers++;
    }
    return NT_OK;
}

void precheck_readers_close(rooms *r)
{
    for (size_t i = 0; i < r->n_readers; i++) {
        roomdb_close(r->readers[i].db);
        pthread_mutex_destroy(&r->readers[i].mu);
    }
    r->n_readers = 0;
}

/* A reader connection, locked (a free one if any); NULL when there are no
 * readers, and then r->lock is held instead and r->o.db is the one to use.
 * Hand it back with reader_put(r, rd) either way. */
static room_reader *reader_get(rooms *r)
{
    if (r->n_readers == 0) {
        pthread_mutex_lock(&r->lock);
        return NULL;
    }
    unsigned start = atomic_fetch_add(&r->next_reader, 1);
    for (size_t i = 0; i < r->n_readers; i++) {
        room_reader *rd = &r->readers[(start + i) % r->n_readers];
        if (pthread_mutex_trylock(&rd->mu) == 0)
            return rd;
    }
    room_reader *rd = &r->readers[start % r->n_readers];
    pthread_mutex_lock(&rd->mu);
    return rd;
}

static void reader_put(rooms *r, room_reader *rd)
{
    /* the reader's use is over: nothing of it may stay active */
    (void)roomdb_sweep(rd ? rd->db : r->o.db);
    pthread_mutex_unlock(rd ? &rd->mu : &r->lock);
}

static_assert(sizeof ((member_submit_check *)0)->key == ROOM_KEY_LEN, "room keys");

static void precheck_read(roomdb *db, const char *room, const char *sender, int64_t epoch, const char *txn,
                          precheck *pc)
{
    member_submit_check v;
    nt_err rc = members_store_submit_check(db, room, sender, epoch, txn, &v);
    if (!rc && v.found) { /* an error reads as no room: refused, never accepted */
        pc->found = true;
        pc->hosted = v.hosted;
        pc->epoch = v.epoch;
        pc->epoch_ts = v.epoch_ts;
        pc->epoch_cause = v.epoch_cause;
        memcpy(pc->pub, v.pub, v.pub_len);
        pc->pub_len = v.pub_len;
        pc->have_key = v.have_key;
        memcpy(pc->key, v.key, ROOM_KEY_LEN);
        pc->dup = v.dup;
        pc->dup_seq = v.dup_seq;
        pc->dup_ts = v.dup_ts;
    }
    mbedtls_platform_zeroize(&v, sizeof v);
}

static size_t slot_of(const char *room, const char *sender, int64_t epoch)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = room; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    for (const char *p = sender; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    h = (h ^ (uint64_t)epoch) * 1099511628211ULL;
    return (size_t)(h % PRECHECK_SLOTS);
}

static bool cache_get(rooms *r, const char *room, const char *sender, int64_t epoch, precheck *pc)
{
    if (!r->pc_slots)
        return false;
    struct precheck_slot *s = &r->pc_slots[slot_of(room, sender, epoch)];
    bool hit = false;
    pthread_mutex_lock(&r->pc_mu);
    if (s->gen && s->gen == atomic_load(&r->pc_gen) && s->sub_epoch == epoch && !strcmp(s->room, room) &&
        !strcmp(s->sender, sender)) {
        hit = true;
        *pc = s->answer;
    }
    pthread_mutex_unlock(&r->pc_mu);
    return hit;
}

/* Keep an answer read under generation gen, if it is one that accepts. */
static void cache_put(rooms *r, const char *room, const char *sender, int64_t epoch, uint64_t gen, const precheck *pc)
{
    if (!r->pc_slots || !pc->found || !pc->hosted || !pc->pub_len || gen != atomic_load(&r->pc_gen))
        return;
    struct precheck_slot *s = &r->pc_slots[slot_of(room, sender, epoch)];
    pthread_mutex_lock(&r->pc_mu);
    s->gen = gen;
    memcpy(s->room, room, sizeof s->room);
    memcpy(s->sender, sender, sizeof s->sender);
    s->sub_epoch = epoch;
    s->answer = *pc;
    s->answer.dup = false; /* the txn id is the caller's, not the slot's */
    pthread_mutex_unlock(&r->pc_mu);
}

void precheck_get(rooms *r, const char *room, const char *sender, int64_t epoch, const char *txn, bool fresh,
                  precheck *pc)
{
    memset(pc, 0, sizeof *pc);
    if (!fresh && cache_get(r, room, sender, epoch, pc)) {
        pc->cached = true;
        return;
    }
    uint64_t gen = atomic_load(&r->pc_gen); /* before the read: a change after it moves the generation */
    /* on a reader connection when there are some: never waits for a commit */
    room_reader *rd = reader_get(r);
    precheck_read(rd ? rd->db : r->o.db, room, sender, epoch, txn, pc);
    reader_put(r, rd);
    cache_put(r, room, sender, epoch, gen, pc);
}

void precheck_wipe(precheck *pc)
{
    mbedtls_platform_zeroize(pc->key, sizeof pc->key);
}

/* ---- invalidation ---- */

static void on_change(void *arg, const char *table, bool deleted)
{
    rooms *r = arg;
    if (!strcmp(table, "room_members") || !strcmp(table, "room_keys") || (deleted && !strcmp(table, "rooms")))
        atomic_store(&r->pc_dirty, true);
}

static void on_commit(void *arg)
{
    rooms *r = arg;
    if (atomic_exchange(&r->pc_dirty, false))
        atomic_fetch_add(&r->pc_gen, 1);
}

void precheck_changed(rooms *r)
{
    atomic_store(&r->pc_dirty, true);
}

nt_err precheck_start(rooms *r)
{
    if (r->n_readers == 0)
        return NT_OK;
    if (!(r->pc_slots = calloc(PRECHECK_SLOTS, sizeof *r->pc_slots)))
        return NT_ERR_NOMEM;
    pthread_mutex_init(&r->pc_mu, NULL);
    atomic_store(&r->pc_gen, 1);
    pthread_mutex_lock(&r->lock);
    roomdb_watch(r->o.db, on_change, on_commit, r);
    pthread_mutex_unlock(&r->lock);
    return NT_OK;
}

void precheck_stop(rooms *r)
{
    if (!r->pc_slots)
        return;
    pthread_mutex_lock(&r->lock);
    roomdb_watch(r->o.db, NULL, NULL, NULL);
    pthread_mutex_unlock(&r->lock);
    mbedtls_platform_zeroize(r->pc_slots, PRECHECK_SLOTS * sizeof *r->pc_slots);
    free(r->pc_slots);
    r->pc_slots = NULL;
    pthread_mutex_destroy(&r->pc_mu);
}
