/* members_store.c - see members_store.h. */
#include "members_store.h"

#include <stdio.h>
#include <string.h>

static const char *const state_names[] = {
    [MEMBER_JOINED] = "joined", [MEMBER_INVITED] = "invited", [MEMBER_LEFT] = "left", [MEMBER_KICKED] = "kicked"};
static const char *const role_names[] = {[MEMBER_ROLE_MASTER] = "master", [MEMBER_ROLE_MEMBER] = "member"};
static const char *const notice_names[] = {
    [MEMBER_NOTICE_NONE] = "", [MEMBER_NOTICE_INVITE] = "invite", [MEMBER_NOTICE_KICKED] = "kicked",
    [MEMBER_NOTICE_REINVITE] = "reinvite"};


const char *member_state_name(member_state s)
{
    return (unsigned)s < ROOMDB_N_WORDS(state_names) ? state_names[s] : "left";
}

nt_err member_state_parse(const char *s, member_state *out)
{
    int i = roomdb_word_index(s, state_names, ROOMDB_N_WORDS(state_names));
    if (i < 0)
        return NT_ERR_INVALID;
    *out = (member_state)i;
    return NT_OK;
}

const char *member_role_name(member_role r)
{
    return (unsigned)r < ROOMDB_N_WORDS(role_names) ? role_names[r] : "member";
}

nt_err member_role_parse(const char *s, member_role *out)
{
    int i = roomdb_word_index(s, role_names, ROOMDB_N_WORDS(role_names));
    if (i < 0)
        return NT_ERR_INVALID;
    *out = (member_role)i;
    return NT_OK;
}

const char *member_notice_name(member_notice n)
{
    return (unsigned)n < ROOMDB_N_WORDS(notice_names) ? notice_names[n] : "";
}

nt_err member_notice_parse(const char *s, member_notice *out)
{
    int i = roomdb_word_index(s, notice_names, ROOMDB_N_WORDS(notice_names));
    if (i < 0)
        return NT_ERR_INVALID;
    *out = (member_notice)i;
    return NT_OK;
}

#define MEMBER_COLS "peer,role,state,delivery,cursor,key_epoch,from_epoch,from_seq,members_seen,mver,pub"

static nt_err member_row(sqlite3_stmt *st, member_rec *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->peer, sizeof m->peer, "%s", roomdb_text(st, 0));
    int64_t *f[] = {&m->cursor, &m->key_epoch, &m->from_epoch, &m->from_seq, &m->members_seen, &m->mver};
    for (int i = 0; i < 6; i++)
        *f[i] = sqlite3_column_int64(st, 4 + i);
    int n = sqlite3_column_bytes(st, 10);
    if (n > 0 && (size_t)n <= sizeof m->pub) {
        memcpy(m->pub, sqlite3_column_blob(st, 10), (size_t)n);
        m->pub_len = (size_t)n;
    }
    if (member_role_parse(roomdb_text(st, 1), &m->role) || member_state_parse(roomdb_text(st, 2), &m->state) ||
        room_delivery_parse(roomdb_text(st, 3), &m->delivery))
        return NT_ERR_DB;
    return NT_OK;
}

nt_err members_store_get(roomdb *db, const char *room, const char *peer, member_rec *out)
{
    sqlite3_stmt *st = roomdb_prep(db, "SELECT " MEMBER_COLS " FROM room_members WHERE room=? AND peer=?", "ss", room,
                                   peer);
    if (!st)
        return NT_ERR_DB;
    int s = sqlite3_step(st);
    nt_err rc = s == SQLITE_ROW ? member_row(st, out) : s == SQLITE_DONE ? NT_ERR_NOT_FOUND : NT_ERR_DB;
    roomdb_done(db, st);
    return rc;
}

nt_err members_store_count(roomdb *db, const char *room, members_which which, int64_t *n)
{
    *n = 0;
    switch (which) {
    case MEMBERS_JOINED:
        return roomdb_int(db, n, "SELECT count(*) FROM room_members WHERE room=? AND state='joined'", "s", room);
    case MEMBERS_CURRENT:
        return roomdb_int(db, n, "SELECT count(*) FROM room_members WHERE room=? AND state IN ('joined','invited')",
                          "s", room);
    case MEMBERS_ALL:
        return roomdb_int(db, n, "SELECT count(*) FROM room_members WHERE room=?", "s", room);
    default: /* the departed are counted by members_store_replaceable */
        return NT_ERR_INVALID;
    }
}

nt_err members_store_add_master(roomdb *db, const char *room, const char *peer, const uint8_t *der, size_t der_len)
{
    return roomdb_exec(db,
                       "INSERT INTO room_members(room,peer,role,state,pub,key_epoch,from_epoch) "
                       "VALUES(?,?,'master','joined',?,1,1)",
                       "ssb", room, peer, der, der_len);
}

/* A row still invited with the seq and epoch of its invitation recorded
 * (from_epoch > 0: epochs start at 1) keeps them. */
#define INVITED_KEEPS "CASE WHEN state='invited' AND from_epoch>0 THEN "

nt_err members_store_admit(roomdb *db, const char *room, const char *peer, const uint8_t *der, size_t der_len,
                           room_delivery delivery, int64_t head, int64_t epoch)
{
    return roomdb_exec(db,
                       "INSERT INTO room_members(room,peer,state,pub,delivery,cursor,key_epoch,from_epoch,"
                       "from_seq) VALUES(?1,?2,'joined',?3,?4,?5,?6,?6,?5) ON CONFLICT(room,peer) DO UPDATE "
                       "SET state='joined', pub=?3, delivery=?4, key_epoch=?6, "
                       "cursor=" INVITED_KEEPS "from_seq ELSE ?5 END, "
                       "from_epoch=" INVITED_KEEPS "from_epoch ELSE ?6 END, "
                       "from_seq=" INVITED_KEEPS "from_seq ELSE ?5 END, notice='', next_try=0, fails=0",
                       "ssbsii", room, peer, der, der_len, room_delivery_name(delivery), head, epoch);
}

nt_err members_store_invite(roomdb *db, const char *room, const char *peer, int64_t head, int64_t epoch)
{
    return roomdb_exec(db,
                       "INSERT INTO room_members(room,peer,state,notice,cursor,from_seq,from_epoch) "
                       "VALUES(?1,?2,'invited','invite',?3,?3,?4) ON CONFLICT(room,peer) DO UPDATE SET "
                       "from_seq=" INVITED_KEEPS "from_seq ELSE ?3 END, "
                       "from_epoch=" INVITED_KEEPS "from_epoch ELSE ?4 END, "
                       "cursor=" INVITED_KEEPS "cursor ELSE ?3 END, "
                       "state='invited', notice=CASE WHEN notice IN ('kicked','reinvite') THEN 'reinvite' "
                       "ELSE 'invite' END, next_try=0, fails=0",
                       "ssii", room, peer, head, epoch);
}

nt_err members_store_kick(roomdb *db, const char *room, const char *peer)
{
    return roomdb_exec(db, "UPDATE room_members SET state='kicked', notice='kicked', next_try=0, fails=0 "
                       "WHERE room=? AND peer=?", "ss", room, peer);
}

nt_err members_store_leave(roomdb *db, const char *room, const char *peer)
{
    return roomdb_exec(db, "UPDATE room_members SET state='left', notice='' WHERE room=? AND peer=?", "ss", room,
                       peer);
}

nt_err members_store_put(roomdb *db, const char *room, const char *peer, member_role role, member_state state,
                         const uint8_t *der, size_t der_len, int64_t ver)
{
    return roomdb_exec(db,
                       "INSERT INTO room_members(room,peer,role,state,pub,mver) VALUES(?1,?2,?3,?4,?5,?6) "
                       "ON CONFLICT(room,peer) DO UPDATE SET role=?3, state=?4, pub=coalesce(?5,pub), mver=?6",
                       "ssssbi", room, peer, member_role_name(role), member_state_name(state), der, der_len, ver);
}

/* The rows drop_oldest may replace among `which`: never one with a
 * notice still owed (a kick not yet delivered would be lost, and the peer
 * would swallow a later invitation to a room it thinks it is in).
 * Literals, one per `which` and use: roomdb caches statements by address. */
#define REPLACEABLE_LEFT "room=? AND state='left' AND notice=''"
#define REPLACEABLE_DEPARTED "room=? AND state IN ('left','kicked') AND notice=''"

nt_err members_store_replaceable(roomdb *db, const char *room, members_which which, int64_t *n)
{
    *n = 0;
    if (which == MEMBERS_LEFT)
        return roomdb_int(db, n, "SELECT count(*) FROM room_members WHERE " REPLACEABLE_LEFT, "s", room);
    if (which == MEMBERS_DEPARTED)
        return roomdb_int(db, n, "SELECT count(*) FROM room_members WHERE " REPLACEABLE_DEPARTED, "s", room);
    return NT_ERR_INVALID;
}

/* Delete the row a lookup (rc) found. */
static nt_err drop_row(roomdb *db, nt_err rc, int64_t row)
{
    return rc ? rc : roomdb_exec(db, "DELETE FROM room_members WHERE rowid=?", "i", row);
}

nt_err members_store_drop_oldest(roomdb *db, const char *room, members_which which)
{
    int64_t row = 0;
    nt_err rc;
    if (which == MEMBERS_LEFT)
        rc = roomdb_int(db, &row, "SELECT rowid FROM room_members WHERE " REPLACEABLE_LEFT
                        " ORDER BY mver,rowid LIMIT 1", "s", room);
    else if (which == MEMBERS_DEPARTED)
        rc = roomdb_int(db, &row, "SELECT rowid FROM room_members WHERE " REPLACEABLE_DEPARTED
                        " ORDER BY mver,rowid LIMIT 1", "s", room);
    else
        return NT_ERR_INVALID;
    return drop_row(db, rc, row);
}

nt_err members_store_drop_oldest_but(roomdb *db, const char *room, const char *keep, const char *keep2)
{
    int64_t row = 0;
    nt_err rc = roomdb_int(db, &row,
                           "SELECT rowid FROM room_members WHERE room=?1 AND peer NOT IN (?2,?3) AND notice='' "
                           "ORDER BY state NOT IN ('left','kicked'),mver,rowid LIMIT 1",
                           "sss", room, keep, keep2);
    return drop_row(db, rc, row);
}

nt_err members_store_stamp(roomdb *db, const char *room, const char *peer)
{
    return roomdb_exec(db, "UPDATE room_members SET mver=(SELECT members_ver FROM rooms WHERE id=?1) "
                       "WHERE room=?1 AND peer=?2", "ss", room, peer);
}

nt_err members_store_seen_current(roomdb *db, const char *room, const char *peer)
{
    return roomdb_exec(db, "UPDATE room_members SET members_seen=(SELECT members_ver FROM rooms WHERE "
                       "id=?1) WHERE room=?1 AND peer=?2", "ss", room, peer);
}

nt_err members_store_set_seen(roomdb *db, const char *room, const char *peer, int64_t v)
{
    return roomdb_exec(db, "UPDATE room_members SET members_seen=? WHERE room=? AND peer=?", "iss", v, room, peer);
}

nt_err members_store_raise_seen(roomdb *db, const char *room, const char *peer, int64_t v)
{
    return roomdb_exec(db, "UPDATE room_members SET members_seen=max(members_seen,?) WHERE room=? AND peer=?", "iss",
                       v, room, peer);
}

nt_err members_store_set_delivery(roomdb *db, const char *room, const char *peer, room_delivery delivery)
{
    return roomdb_exec(db, "UPDATE room_members SET delivery=?, next_try=0, fails=0 WHERE room=? AND peer=?", "sss",
                       room_delivery_name(delivery), room, peer);
}

nt_err members_store_polled(roomdb *db, const char *room, const char *peer, int64_t seq)
{
    return roomdb_exec(db, "UPDATE room_members SET cursor=? WHERE room=? AND peer=? AND cursor+64<=?", "issi", seq,
                       room, peer, seq);
}

nt_err members_store_wake(roomdb *db, const char *room)
{
    return roomdb_exec(db, "UPDATE room_members SET next_try=0 WHERE room=? AND fails=0 AND next_try>0", "s", room);
}

nt_err members_store_push_due(roomdb *db, const char *me, int64_t now, size_t max, members_store_push_fn *fn,
                              void *arg)
{
    sqlite3_stmt *st = roomdb_prep(
        db,
        "SELECT m.room,m.peer,m.state,m.delivery,m.cursor,m.key_epoch,m.from_epoch,m.notice,r.head,r.epoch,"
        "m.members_seen,r.members_ver,m.mver "
        "FROM room_members m JOIN rooms r ON r.id=m.room WHERE r.state='hosted' AND m.peer!=? AND m.next_try<=? AND "
        "(m.notice!='' OR (m.state='joined' AND ((m.delivery='push' AND (m.cursor<r.head OR "
        "m.members_seen<r.members_ver)) OR m.key_epoch<r.epoch))) "
        "LIMIT ?",
        "sii", me, now, (int64_t)max);
    if (!st)
        return NT_ERR_DB;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        member_push p = {.room = roomdb_text(st, 0), .peer = roomdb_text(st, 1), .cursor = sqlite3_column_int64(st, 4),
                         .key_epoch = sqlite3_column_int64(st, 5), .from_epoch = sqlite3_column_int64(st, 6),
                         .head = sqlite3_column_int64(st, 8), .epoch = sqlite3_column_int64(st, 9),
                         .members_seen = sqlite3_column_int64(st, 10), .members_ver = sqlite3_column_int64(st, 11),
                         .mver = sqlite3_column_int64(st, 12)};
        if (member_state_parse(roomdb_text(st, 2), &p.state))
            p.state = MEMBER_LEFT; /* unreadable: offered no messages */
        if (room_delivery_parse(roomdb_text(st, 3), &p.delivery))
            p.delivery = ROOM_POLL; /* unreadable: not pushed */
        if (member_notice_parse(roomdb_text(st, 7), &p.notice))
            p.notice = MEMBER_NOTICE_NONE;
        fn(arg, &p);
    }
    roomdb_done(db, st);
    return s == SQLITE_DONE ? NT_OK : NT_ERR_DB;
}

nt_err members_store_notice_done(roomdb *db, const char *room, const char *peer, member_notice sent)
{
    return roomdb_exec(db,
                       "UPDATE room_members SET notice=CASE WHEN notice='reinvite' THEN 'invite' ELSE '' END, "
                       "fails=0, next_try=0 WHERE room=?1 AND peer=?2 AND (notice=?3 OR (?3='kicked' AND "
                       "notice='reinvite'))",
                       "sss", room, peer, member_notice_name(sent));
}

nt_err members_store_pushed(roomdb *db, const char *room, const char *peer, int64_t cursor, int64_t key_epoch,
                            int64_t seen, int64_t next_try)
{
    return roomdb_exec(db,
                       "UPDATE room_members SET cursor=max(cursor,?), key_epoch=max(key_epoch,?), "
                       "members_seen=max(members_seen,?), fails=0, next_try=? WHERE room=? AND peer=?",
                       "iiiiss", cursor, key_epoch, seen, next_try, room, peer);
}

nt_err members_store_next_fail(roomdb *db, const char *room, const char *peer, int64_t *fails)
{
    return roomdb_int(db, fails, "SELECT fails+1 FROM room_members WHERE room=? AND peer=?", "ss", room, peer);
}

nt_err members_store_retry_at(roomdb *db, const char *room, const char *peer, int64_t fails, int64_t next_try)
{
    return roomdb_exec(db, "UPDATE room_members SET fails=?, next_try=? WHERE room=? AND peer=?", "iiss", fails,
                       next_try, room, peer);
}

static nt_err each_member(roomdb *db, sqlite3_stmt *st, members_store_fn *fn, void *arg)
{
    if (!st)
        return NT_ERR_DB;
    int s;
    member_rec m;
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        if (member_row(st, &m) == NT_OK)
            fn(arg, &m);
    roomdb_done(db, st);
    return s == SQLITE_DONE ? NT_OK : NT_ERR_DB;
}

nt_err members_store_current(roomdb *db, const char *room, members_store_fn *fn, void *arg)
{
    return each_member(db,
                       roomdb_prep(db, "SELECT " MEMBER_COLS " FROM room_members WHERE room=? AND "
                                   "state IN ('joined','invited') ORDER BY role='master' DESC, peer", "s", room),
                       fn, arg);
}

nt_err members_store_since(roomdb *db, const char *room, int64_t ver, size_t max, members_store_fn *fn, void *arg)
{
    return each_member(db,
                       roomdb_prep(db, "SELECT " MEMBER_COLS " FROM room_members WHERE room=? AND mver>? "
                                   "ORDER BY mver,peer LIMIT ?", "sii", room, ver, (int64_t)max),
                       fn, arg);
}

nt_err members_store_submit_check(roomdb *db, const char *room, const char *sender, int64_t epoch, const char *txn,
                                  member_submit_check *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = roomdb_prep(db,
                                   "SELECT r.state, r.epoch, r.epoch_ts, m.pub, k.key, d.seq, d.ts, r.epoch_cause "
                                   "FROM rooms r "
                                   "LEFT JOIN room_members m ON m.room=r.id AND m.peer=?2 AND m.state='joined' "
                                   "LEFT JOIN room_keys k ON k.room=r.id AND k.epoch=?3 "
                                   "LEFT JOIN room_messages d ON d.room=r.id AND d.sender=?2 AND d.txn_id=?4 "
                                   "WHERE r.id=?1",
                                   "ssis", room, sender, epoch, txn);
    if (!st)
        return NT_ERR_DB;
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        out->found = true;
        out->hosted = strcmp(roomdb_text(st, 0), "hosted") == 0;
        out->epoch = sqlite3_column_int64(st, 1);
        out->epoch_ts = sqlite3_column_int64(st, 2);
        int n = sqlite3_column_bytes(st, 3);
        if (n > 0 && (size_t)n <= sizeof out->pub) {
            memcpy(out->pub, sqlite3_column_blob(st, 3), (size_t)n);
            out->pub_len = (size_t)n;
        }
        if (sqlite3_column_bytes(st, 4) == sizeof out->key) {
            memcpy(out->key, sqlite3_column_blob(st, 4), sizeof out->key);
            out->have_key = true;
        }
        out->dup = sqlite3_column_type(st, 5) != SQLITE_NULL;
        out->dup_seq = sqlite3_column_int64(st, 5);
        out->dup_ts = sqlite3_column_int64(st, 6);
        if (room_rotation_parse(roomdb_text(st, 7), &out->epoch_cause))
            out->epoch_cause = ROOM_ROT_UNKNOWN; /* no grace: refused at worst, never taken */
    }
    roomdb_done(db, st);
    return s == SQLITE_ROW || s == SQLITE_DONE ? NT_OK : NT_ERR_DB;
}
