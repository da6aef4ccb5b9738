/* precheck.c - what a submitted message is checked against before its
 * verify: the room, the sender's membership and key, the room's epoch and
 * the key of the submission's epoch.
 *
 * The answer comes from one SELECT on a reader connection. Each commit
 * empties a reader's page cache, so under load that SELECT re-reads its
 * pages from the WAL every time; a small cache of accepted answers sits in
 * front of it. An entry is valid while the cache's generation is the one
 * it was read under. The generation moves after every commit that changed
 * a member row, a room key or removed a room: the update hook marks the
 * change while the statement runs, the WAL hook (called once the commit is
 * visible to readers) moves the generation. An answer read under the old
 * generation is therefore never kept past a change it may have missed.
 *
 * The cache only speeds up the way to an accept: the caller redoes the
 * SELECT before it refuses anything, and the commit checks membership and
 * epoch again under the write lock. Without reader connections (no WAL
 * file, tests) there is no cache. */
#include "server/rooms/rooms_int.h"

#include <stdlib.h>
#include <string.h>
#include <mbedtls/platform_util.h>

#define PRECHECK_SLOTS 64
#define WAL_CHECKPOINT_FRAMES 1000 /* SQLite's own autocheckpoint default */

struct precheck_slot {
    uint64_t gen; /* 0: empty */
    char room[ROOM_ID_HEX_LEN + 1], sender[IDENTITY_ID_HEX_LEN + 1];
    int64_t sub_epoch; /* the submission epoch the answer (its key) is for */
    precheck answer;   /* found, hosted, a member key: one that accepts */
};

static void precheck_read(roomdb *db, const char *room, const char *sender, int64_t epoch, const char *txn,
                          precheck *pc)
{
    sqlite3_stmt *st = roomdb_prep(db,
                                   "SELECT r.state, r.epoch, r.epoch_ts, m.pub, k.key, d.seq, d.ts FROM rooms r "
                                   "LEFT JOIN room_members m ON m.room=r.id AND m.peer=?2 AND m.state='joined' "
                                   "LEFT JOIN room_keys k ON k.room=r.id AND k.epoch=?3 "
                                   "LEFT JOIN room_messages d ON d.room=r.id AND d.sender=?2 AND d.txn_id=?4 "
                                   "WHERE r.id=?1",
                                   "ssis", room, sender, epoch, txn);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        pc->found = true;
        pc->hosted = strcmp(roomdb_text(st, 0), "hosted") == 0;
        pc->epoch = sqlite3_column_int64(st, 1);
        pc->epoch_ts = sqlite3_column_int64(st, 2);
        int n = sqlite3_column_bytes(st, 3);
        if (n > 0 && n <= IDENTITY_PUB_DER_MAX) {
            memcpy(pc->pub, sqlite3_column_blob(st, 3), (size_t)n);
            pc->pub_len = (size_t)n;
        }
        if (sqlite3_column_bytes(st, 4) == ROOM_KEY_LEN) {
            memcpy(pc->key, sqlite3_column_blob(st, 4), ROOM_KEY_LEN);
            pc->have_key = true;
        }
        pc->dup = sqlite3_column_type(st, 5) != SQLITE_NULL;
        pc->dup_seq = sqlite3_column_int64(st, 5);
        pc->dup_ts = sqlite3_column_int64(st, 6);
    }
    roomdb_done(db, st);
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
    room_reader *rd = rooms_reader_get(r);
    precheck_read(rd ? rd->db : r->o.db, room, sender, epoch, txn, pc);
    rooms_reader_put(r, rd);
    cache_put(r, room, sender, epoch, gen, pc);
}

void precheck_wipe(precheck *pc)
{
    mbedtls_platform_zeroize(pc->key, sizeof pc->key);
}

/* ---- invalidation ---- */

static void on_update(void *arg, int op, const char *db, const char *table, sqlite3_int64 rowid)
{
    (void)db;
    (void)rowid;
    rooms *r = arg;
    if (!strcmp(table, "room_members") || !strcmp(table, "room_keys") ||
        (op == SQLITE_DELETE && !strcmp(table, "rooms")))
        atomic_store(&r->pc_dirty, true);
}

static int on_wal(void *arg, sqlite3 *db, const char *name, int frames)
{
    rooms *r = arg;
    if (atomic_exchange(&r->pc_dirty, false))
        atomic_fetch_add(&r->pc_gen, 1);
    /* this hook replaces SQLite's autocheckpoint: do what it did */
    if (frames >= WAL_CHECKPOINT_FRAMES)
        (void)sqlite3_wal_checkpoint(db, name);
    return SQLITE_OK;
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
    sqlite3_update_hook(roomdb_sqlite(r->o.db), on_update, r);
    sqlite3_wal_hook(roomdb_sqlite(r->o.db), on_wal, r);
    pthread_mutex_unlock(&r->lock);
    return NT_OK;
}

void precheck_stop(rooms *r)
{
    if (!r->pc_slots)
        return;
    pthread_mutex_lock(&r->lock);
    sqlite3_update_hook(roomdb_sqlite(r->o.db), NULL, NULL);
    sqlite3_wal_autocheckpoint(roomdb_sqlite(r->o.db), WAL_CHECKPOINT_FRAMES); /* SQLite's own hook back */
    pthread_mutex_unlock(&r->lock);
    mbedtls_platform_zeroize(r->pc_slots, PRECHECK_SLOTS * sizeof *r->pc_slots);
    free(r->pc_slots);
    r->pc_slots = NULL;
    pthread_mutex_destroy(&r->pc_mu);
}
