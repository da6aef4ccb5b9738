/* rooms_store.c - see rooms_store.h. */
#include "rooms_store.h"

#include <stdio.h>
#include <string.h>

#include "../crypto/encoding.h"

static const char *const state_names[] = {
    [ROOM_HOSTED] = "hosted", [ROOM_JOINED] = "joined", [ROOM_INVITED] = "invited",
    [ROOM_LEFT] = "left",     [ROOM_KICKED] = "kicked",
};
#define N_STATES (sizeof state_names / sizeof state_names[0])

const char *room_state_name(room_state s)
{
    return (unsigned)s < N_STATES ? state_names[s] : "left";
}

nt_err room_state_parse(const char *s, room_state *out)
{
    int i = roomdb_word_index(s, state_names, N_STATES);
    if (i < 0)
        return NT_ERR_INVALID;
    *out = (room_state)i;
    return NT_OK;
}

static const char *const delivery_names[] = {[ROOM_PUSH] = "push", [ROOM_POLL] = "poll"};
static const char *const access_names[] = {
    [ROOM_ACCESS_INVITE] = "invite", [ROOM_ACCESS_OPEN] = "open", [ROOM_ACCESS_PASSWORD] = "password"};

const char *room_delivery_name(room_delivery d)
{
    return (unsigned)d < ROOMDB_N_WORDS(delivery_names) ? delivery_names[d] : "push";
}

nt_err room_delivery_parse(const char *s, room_delivery *out)
{
    int i = roomdb_word_index(s, delivery_names, ROOMDB_N_WORDS(delivery_names));
    if (i < 0)
        return NT_ERR_INVALID;
    *out = (room_delivery)i;
    return NT_OK;
}

const char *room_access_name(room_access a)
{
    return (unsigned)a < ROOMDB_N_WORDS(access_names) ? access_names[a] : "invite";
}

nt_err room_access_parse(const char *s, room_access *out)
{
    int i = roomdb_word_index(s, access_names, ROOMDB_N_WORDS(access_names));
    if (i < 0)
        return NT_ERR_INVALID;
    *out = (room_access)i;
    return NT_OK;
}

static const char *const rotation_names[] = {
    [ROOM_ROT_UNKNOWN] = "unknown", [ROOM_ROT_CREATED] = "created", [ROOM_ROT_POLICY] = "policy",
    [ROOM_ROT_REKEY] = "rekey",     [ROOM_ROT_REINVITE] = "reinvite", [ROOM_ROT_LEAVE] = "leave",
    [ROOM_ROT_KICK] = "kick",
};

const char *room_rotation_name(room_rotation c)
{
    return (unsigned)c < ROOMDB_N_WORDS(rotation_names) ? rotation_names[c] : "unknown";
}

nt_err room_rotation_parse(const char *s, room_rotation *out)
{
    int i = roomdb_word_index(s, rotation_names, ROOMDB_N_WORDS(rotation_names));
    if (i < 0)
        return NT_ERR_INVALID;
    *out = (room_rotation)i;
    return NT_OK;
}

/* need as stored: the words of its bits, each followed by a space */
static const struct {
    unsigned bit;
    const char *word;
} need_words[] = {{ROOM_NEED_KEYS, "keys"}, {ROOM_NEED_MEMBERS, "members"}, {ROOM_NEED_POLL, "poll"}};
#define N_NEEDS (sizeof need_words / sizeof need_words[0])

static void need_text(unsigned need, char out[static 32])
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < N_NEEDS; i++)
        if (need & need_words[i].bit)
            o += (size_t)snprintf(out + o, 32 - o, "%s ", need_words[i].word);
}

static unsigned need_parse(const char *s)
{
    unsigned need = 0;
    for (size_t i = 0; i < N_NEEDS; i++)
        if (strstr(s, need_words[i].word))
            need |= need_words[i].bit;
    return need;
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

static nt_err room_row(sqlite3_stmt *st, room_rec *out)
{
    size_t n = 0;
    memset(out, 0, sizeof *out);
    copy(out->id, sizeof out->id, roomdb_text(st, 0));
    copy(out->name, sizeof out->name, roomdb_text(st, 1));
    copy(out->topic, sizeof out->topic, roomdb_text(st, 2));
    copy(out->host, sizeof out->host, roomdb_text(st, 3));
    out->need = need_parse(roomdb_text(st, 7));
    int64_t *f[] = {&out->rot_msgs, &out->rot_secs, &out->epoch,   &out->epoch_ts, &out->since_rot,
                    &out->head,     &out->from_seq, &out->dropped, &out->created,  &out->members_ver,
                    &out->from_epoch};
    for (int i = 0; i < 11; i++)
        *f[i] = sqlite3_column_int64(st, 8 + i);
    out->joined_ver = sqlite3_column_int64(st, 20);
    if (room_state_parse(roomdb_text(st, 5), &out->state) || room_access_parse(roomdb_text(st, 4), &out->access) ||
        room_delivery_parse(roomdb_text(st, 6), &out->delivery) ||
        room_rotation_parse(roomdb_text(st, 19), &out->epoch_cause) ||
        encoding_hex_decode(out->id, ROOMS_ID_HEX_LEN, out->idb, sizeof out->idb, &n) || n != ROOMS_ID_LEN)
        return NT_ERR_DB;
    return NT_OK;
}

nt_err rooms_store_get(roomdb *db, const char *id, room_rec *out)
{
    sqlite3_stmt *st = roomdb_prep(db,
                                   "SELECT id,name,topic,host,access,state,delivery,need,rot_msgs,rot_secs,epoch,"
                                   "epoch_ts,since_rot,head,from_seq,dropped,created,members_ver,from_epoch,epoch_cause,"
                                   "joined_ver "
                                   "FROM rooms "
                                   "WHERE id=?",
                                   "s", id);
    if (!st)
        return NT_ERR_DB;
    int s = sqlite3_step(st);
    nt_err rc = s == SQLITE_ROW ? room_row(st, out) : s == SQLITE_DONE ? NT_ERR_NOT_FOUND : NT_ERR_DB;
    roomdb_done(db, st);
    return rc;
}

nt_err rooms_store_create(roomdb *db, const room_new *n)
{
    return roomdb_exec(db,
                       "INSERT INTO rooms(id,name,topic,host,access,pw_salt,pw_hash,pw_iter,rot_msgs,rot_secs,"
                       "state,created) VALUES(?,?,?,?,?,?,?,?,?,?,'hosted',?)",
                       "sssssbbiiii", n->id, n->name, n->topic, n->host, room_access_name(n->access), n->salt, (size_t)ROOMS_SALT_LEN,
                       n->hash, (size_t)ROOMS_PW_HASH_LEN, n->pw_iter, n->rot_msgs, n->rot_secs, n->created);
}

nt_err rooms_store_pw(roomdb *db, const char *id, uint8_t salt[static ROOMS_SALT_LEN],
                      uint8_t hash[static ROOMS_PW_HASH_LEN], unsigned *iter)
{
    sqlite3_stmt *st = roomdb_prep(db, "SELECT pw_salt,pw_hash,pw_iter FROM rooms WHERE id=?", "s", id);
    if (!st)
        return NT_ERR_DB;
    int s = sqlite3_step(st);
    nt_err rc = s == SQLITE_ROW || s == SQLITE_DONE ? NT_ERR_NOT_FOUND : NT_ERR_DB;
    if (s == SQLITE_ROW && sqlite3_column_bytes(st, 0) == ROOMS_SALT_LEN &&
        sqlite3_column_bytes(st, 1) == ROOMS_PW_HASH_LEN && sqlite3_column_int64(st, 2) > 0 &&
        sqlite3_column_int64(st, 2) <= UINT32_MAX) {
        memcpy(salt, sqlite3_column_blob(st, 0), ROOMS_SALT_LEN);
        memcpy(hash, sqlite3_column_blob(st, 1), ROOMS_PW_HASH_LEN);
        *iter = (unsigned)sqlite3_column_int64(st, 2);
        rc = NT_OK;
    }
    roomdb_done(db, st);
    return rc;
}

nt_err rooms_store_invite(roomdb *db, const char *id, const char *name, const char *topic, const char *host,
                          room_access access, int64_t created)
{
    return roomdb_exec(db,
                       "INSERT INTO rooms(id,name,topic,host,access,state,created) VALUES(?1,?2,?3,?4,?5,"
                       "'invited',?6) ON CONFLICT(id) DO UPDATE SET state='invited', name=?2, topic=?3",
                       "sssssi", id, name, topic, host, room_access_name(access), created);
}

nt_err rooms_store_join(roomdb *db, const room_joined *j)
{
    return roomdb_exec(db,
                       "INSERT INTO rooms(id,name,topic,host,access,state,delivery,head,from_seq,created,from_epoch,"
                       "joined_ver) VALUES(?1,?2,?3,?4,?5,'joined',?6,?7,?7,?8,?9,?10) ON CONFLICT(id) DO UPDATE "
                       "SET name=?2, topic=?3, host=?4, access=?5, state='joined', delivery=?6, head=max(head,?7), "
                       "need='', from_epoch=?9, joined_ver=?10",
                       "ssssssiiii", j->id, j->name, j->topic, j->host, room_access_name(j->access),
                       room_delivery_name(j->delivery), j->from_seq, j->created, j->from_epoch, j->joined_ver);
}

nt_err rooms_store_invited(roomdb *db, const char *host, int64_t *n)
{
    *n = 0;
    if (host)
        return roomdb_int(db, n, "SELECT count(*) FROM rooms WHERE host=? AND state='invited'", "s", host);
    return roomdb_int(db, n, "SELECT count(*) FROM rooms WHERE state='invited'", "");
}

nt_err rooms_store_hosted_named(roomdb *db, const char *name, int64_t *n)
{
    *n = 0;
    return roomdb_int(db, n, "SELECT count(*) FROM rooms WHERE state='hosted' AND name=?", "s", name);
}

nt_err rooms_store_set_state(roomdb *db, const char *id, room_state state)
{
    return roomdb_exec(db, "UPDATE rooms SET state=? WHERE id=?", "ss", room_state_name(state), id);
}

nt_err rooms_store_set_delivery(roomdb *db, const char *id, room_delivery delivery)
{
    return roomdb_exec(db, "UPDATE rooms SET delivery=? WHERE id=?", "ss", room_delivery_name(delivery), id);
}

nt_err rooms_store_set_topic(roomdb *db, const char *id, const char *topic)
{
    return roomdb_exec(db, "UPDATE rooms SET topic=? WHERE id=?", "ss", topic, id);
}

nt_err rooms_store_rotated(roomdb *db, const char *id, int64_t now, room_rotation cause)
{
    return roomdb_exec(db, "UPDATE rooms SET epoch=epoch+1, epoch_ts=?, epoch_cause=?, since_rot=0 WHERE id=?", "iss",
                       now, room_rotation_name(cause), id);
}

nt_err rooms_store_set_epoch(roomdb *db, const char *id, int64_t epoch, int64_t now)
{
    return roomdb_exec(db, "UPDATE rooms SET epoch=?, epoch_ts=? WHERE id=?", "iis", epoch, now, id);
}

nt_err rooms_store_set_head(roomdb *db, const char *id, int64_t head, int64_t since_rot)
{
    return roomdb_exec(db, "UPDATE rooms SET head=?, since_rot=? WHERE id=?", "iis", head, since_rot, id);
}

nt_err rooms_store_dropped(roomdb *db, const char *id, int64_t head, int64_t n)
{
    if (head < 0)
        return roomdb_exec(db, "UPDATE rooms SET dropped=dropped+? WHERE id=?", "is", n, id);
    return roomdb_exec(db, "UPDATE rooms SET head=?, dropped=dropped+? WHERE id=?", "iis", head, n, id);
}

nt_err rooms_store_set_need(roomdb *db, const char *id, unsigned bits)
{
    char text[32];
    need_text(bits, text);
    return roomdb_exec(db, "UPDATE rooms SET need=? WHERE id=?", "ss", text, id);
}

nt_err rooms_store_need_add(roomdb *db, const char *id, unsigned bits)
{
    sqlite3_stmt *st = roomdb_prep(db, "SELECT need FROM rooms WHERE id=?", "s", id);
    if (!st)
        return NT_ERR_DB;
    int s = sqlite3_step(st);
    unsigned need = s == SQLITE_ROW ? need_parse(roomdb_text(st, 0)) : 0;
    roomdb_done(db, st);
    if (s != SQLITE_ROW)
        return s == SQLITE_DONE ? NT_ERR_NOT_FOUND : NT_ERR_DB;
    return (need | bits) == need ? NT_OK : rooms_store_set_need(db, id, need | bits);
}

nt_err rooms_store_members_ver(roomdb *db, const char *id, int64_t *ver)
{
    return roomdb_int(db, ver, "SELECT members_ver FROM rooms WHERE id=?", "s", id);
}

nt_err rooms_store_members_ver_raise(roomdb *db, const char *id, int64_t ver)
{
    return roomdb_exec(db, "UPDATE rooms SET members_ver=max(members_ver,?) WHERE id=?", "is", ver, id);
}

nt_err rooms_store_members_ver_bump(roomdb *db, const char *id)
{
    return roomdb_exec(db, "UPDATE rooms SET members_ver=members_ver+1 WHERE id=?", "s", id);
}

/* Rows of (id[, need]) to fn. */
static nt_err each_id(roomdb *db, sqlite3_stmt *st, rooms_store_id_fn *fn, void *arg)
{
    if (!st)
        return NT_ERR_DB;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        fn(arg, roomdb_text(st, 0), sqlite3_column_count(st) > 1 ? need_parse(roomdb_text(st, 1)) : 0);
    roomdb_done(db, st);
    return s == SQLITE_DONE ? NT_OK : NT_ERR_DB;
}

nt_err rooms_store_all(roomdb *db, size_t max, rooms_store_id_fn *fn, void *arg)
{
    return each_id(db, roomdb_prep(db, "SELECT id FROM rooms ORDER BY created, id LIMIT ?", "i", (int64_t)max), fn,
                   arg);
}

nt_err rooms_store_listed(roomdb *db, rooms_store_id_fn *fn, void *arg)
{
    return each_id(db,
                   roomdb_prep(db, "SELECT id FROM rooms WHERE state='hosted' AND access IN ('open','password') "
                               "ORDER BY created", ""),
                   fn, arg);
}

nt_err rooms_store_rotation_due(roomdb *db, int64_t now, size_t max, rooms_store_id_fn *fn, void *arg)
{
    return each_id(db,
                   roomdb_prep(db, "SELECT id FROM rooms WHERE state='hosted' AND epoch_ts + rot_secs*1000 <= ? "
                               "LIMIT ?", "ii", now, (int64_t)max),
                   fn, arg);
}

nt_err rooms_store_joined(roomdb *db, bool poll_only, size_t max, rooms_store_id_fn *fn, void *arg)
{
    return each_id(db,
                   roomdb_prep(db, "SELECT id FROM rooms WHERE state='joined' AND (delivery='poll' OR NOT ?) LIMIT ?",
                               "ii", (int64_t)poll_only, (int64_t)max),
                   fn, arg);
}

nt_err rooms_store_needy(roomdb *db, bool all, size_t max, rooms_store_id_fn *fn, void *arg)
{
    return each_id(db,
                   roomdb_prep(db, "SELECT id,need FROM rooms WHERE state='joined' AND (need!='' OR ?) LIMIT ?", "ii",
                               (int64_t)all, (int64_t)max),
                   fn, arg);
}
