/* rooms stores: the enums' names and parses (as the JSON and the database
 * hold them), the need mask stored as words, rows through the typed
 * functions, per-handle statement caches, and no statement left active. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "storage/events_store.h"
#include "storage/keys_store.h"
#include "storage/log_store.h"
#include "storage/members_store.h"
#include "storage/outbox_store.h"
#include "storage/roomdb.h"
#include "storage/rooms_store.h"
#include "unit_util.h"
#include "tests/test_main.h"

static const char room[] = "00112233445566778899aabbccddeeff";
static const char host[] = "ab00000000000000000000000000000000000000000000000000000000000000";
static const char peer[] = "cd00000000000000000000000000000000000000000000000000000000000000";
static roomdb *db;

static void setup(void)
{
    sqlite3 *raw = NULL;
    ck_assert_int_eq(sqlite3_open(":memory:", &raw), SQLITE_OK);
    ck_assert_int_eq(roomdb_adopt(raw, &db), NT_OK);
    ck_assert_int_eq(roomdb_migrate(db), NT_OK);
    ck_assert_int_eq(rooms_store_invite(db, room, "lobby", "", host, ROOM_ACCESS_INVITE, 1), NT_OK);
}

static void teardown(void)
{
    ck_assert_no_active_statements(roomdb_sqlite(db));
    roomdb_close(db);
    db = NULL;
}

START_TEST(enum_names_round_trip)
{
    for (int s = ROOM_HOSTED; s <= ROOM_KICKED; s++) {
        room_state back;
        ck_assert_int_eq(room_state_parse(room_state_name((room_state)s), &back), NT_OK);
        ck_assert_int_eq(back, s);
    }
    for (int s = MEMBER_JOINED; s <= MEMBER_KICKED; s++) {
        member_state back;
        ck_assert_int_eq(member_state_parse(member_state_name((member_state)s), &back), NT_OK);
        ck_assert_int_eq(back, s);
    }
    for (int s = OUTBOX_PENDING; s <= OUTBOX_FAILED; s++) {
        outbox_state back;
        ck_assert_int_eq(outbox_state_parse(outbox_state_name((outbox_state)s), &back), NT_OK);
        ck_assert_int_eq(back, s);
    }
    member_role role;
    ck_assert_int_eq(member_role_parse("master", &role), NT_OK);
    ck_assert_int_eq(role, MEMBER_ROLE_MASTER);
    ck_assert_str_eq(member_role_name(MEMBER_ROLE_MEMBER), "member");
    room_state rs;
    ck_assert_int_eq(room_state_parse("Hosted", &rs), NT_ERR_INVALID);
    ck_assert_int_eq(room_state_parse(NULL, &rs), NT_ERR_INVALID);
    outbox_state os;
    ck_assert_int_eq(outbox_state_parse("", &os), NT_ERR_INVALID);
}
END_TEST

/* delivery, access and notice are enums in C and the words the wire and
 * the columns always held */
START_TEST(delivery_access_notice_names)
{
    static const char *const dl[] = {"push", "poll"}, *const ac[] = {"invite", "open", "password"},
                             *const nt[] = {"", "invite", "kicked"};
    for (int i = 0; i < 2; i++) {
        room_delivery d;
        ck_assert_int_eq(room_delivery_parse(dl[i], &d), NT_OK);
        ck_assert_str_eq(room_delivery_name(d), dl[i]);
    }
    for (int i = 0; i < 3; i++) {
        room_access a;
        member_notice n;
        ck_assert_int_eq(room_access_parse(ac[i], &a), NT_OK);
        ck_assert_str_eq(room_access_name(a), ac[i]);
        ck_assert_int_eq(member_notice_parse(nt[i], &n), NT_OK);
        ck_assert_str_eq(member_notice_name(n), nt[i]);
    }
    room_delivery d;
    room_access a;
    member_notice n;
    ck_assert_int_eq(room_delivery_parse("Push", &d), NT_ERR_INVALID);
    ck_assert_int_eq(room_delivery_parse(NULL, &d), NT_ERR_INVALID);
    ck_assert_int_eq(room_access_parse("", &a), NT_ERR_INVALID);
    ck_assert_int_eq(member_notice_parse("kick", &n), NT_ERR_INVALID);
    room_rec rm;
    ck_assert_int_eq(rooms_store_get(db, room, &rm), NT_OK);
    ck_assert_int_eq(rm.access, ROOM_ACCESS_INVITE);
    ck_assert_int_eq(rm.delivery, ROOM_PUSH); /* the column's default */
    ck_assert_int_eq(rooms_store_set_delivery(db, room, ROOM_POLL), NT_OK);
    int64_t same = 0;
    ck_assert_int_eq(roomdb_int(db, &same, "SELECT delivery='poll' FROM rooms WHERE id=?", "s", room), NT_OK);
    ck_assert_int_eq(same, 1);
    ck_assert_int_eq(roomdb_exec(db, "UPDATE rooms SET access='closed' WHERE id=?", "s", room), NT_OK);
    ck_assert_int_eq(rooms_store_get(db, room, &rm), NT_ERR_DB);
}
END_TEST

START_TEST(need_is_a_mask_stored_as_words)
{
    room_rec rm;
    ck_assert_int_eq(rooms_store_get(db, room, &rm), NT_OK);
    ck_assert_int_eq(rm.state, ROOM_INVITED);
    ck_assert_uint_eq(rm.need, 0);
    ck_assert_int_eq(rooms_store_need_add(db, room, ROOM_NEED_KEYS), NT_OK);
    ck_assert_int_eq(rooms_store_need_add(db, room, ROOM_NEED_POLL), NT_OK);
    ck_assert_int_eq(rooms_store_need_add(db, room, ROOM_NEED_KEYS), NT_OK); /* already there */
    ck_assert_int_eq(rooms_store_get(db, room, &rm), NT_OK);
    ck_assert_uint_eq(rm.need, ROOM_NEED_KEYS | ROOM_NEED_POLL);
    int64_t n = 0;
    /* the column keeps the words the old code wrote and read */
    ck_assert_int_eq(roomdb_int(db, &n, "SELECT need='keys poll ' FROM rooms WHERE id=?", "s", room), NT_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(rooms_store_set_need(db, room, 0), NT_OK);
    ck_assert_int_eq(rooms_store_get(db, room, &rm), NT_OK);
    ck_assert_uint_eq(rm.need, 0);
    ck_assert_int_eq(rooms_store_need_add(db, "ffffffffffffffffffffffffffffffff", ROOM_NEED_POLL), NT_ERR_NOT_FOUND);
}
END_TEST

START_TEST(a_row_with_an_unknown_state_is_an_error)
{
    room_rec rm;
    ck_assert_int_eq(roomdb_exec(db, "UPDATE rooms SET state='weird' WHERE id=?", "s", room), NT_OK);
    ck_assert_int_eq(rooms_store_get(db, room, &rm), NT_ERR_DB);
    ck_assert_int_eq(rooms_store_get(db, "ffffffffffffffffffffffffffffffff", &rm), NT_ERR_NOT_FOUND);
}
END_TEST

/* What began a room's epoch is stored with it, as the word the key_rotation
 * event says; a row from before the column reads "unknown". */
START_TEST(epoch_cause_stored_with_the_rotation)
{
    static const char *const words[] = {"unknown", "created", "policy", "rekey", "reinvite", "leave", "kick"};
    for (int c = ROOM_ROT_UNKNOWN; c <= ROOM_ROT_KICK; c++) {
        room_rotation back;
        ck_assert_str_eq(room_rotation_name((room_rotation)c), words[c]);
        ck_assert_int_eq(room_rotation_parse(words[c], &back), NT_OK);
        ck_assert_int_eq(back, c);
    }
    room_rotation bad;
    ck_assert_int_eq(room_rotation_parse("Kick", &bad), NT_ERR_INVALID);
    room_rec rm;
    ck_assert_int_eq(rooms_store_get(db, room, &rm), NT_OK);
    ck_assert_int_eq(rm.epoch_cause, ROOM_ROT_UNKNOWN);
    ck_assert_int_eq(rooms_store_rotated(db, room, 42, ROOM_ROT_KICK), NT_OK);
    ck_assert_int_eq(rooms_store_get(db, room, &rm), NT_OK);
    ck_assert_int_eq(rm.epoch, 1);
    ck_assert_int_eq(rm.epoch_ts, 42);
    ck_assert_int_eq(rm.epoch_cause, ROOM_ROT_KICK);
    member_submit_check v;
    ck_assert_int_eq(members_store_submit_check(db, room, peer, 1, "t", &v), NT_OK);
    ck_assert_int_eq(v.epoch_cause, ROOM_ROT_KICK);
    ck_assert_int_eq(rooms_store_rotated(db, room, 43, ROOM_ROT_POLICY), NT_OK);
    ck_assert_int_eq(members_store_submit_check(db, room, peer, 2, "t", &v), NT_OK);
    ck_assert_int_eq(v.epoch_cause, ROOM_ROT_POLICY);
    ck_assert_int_eq(roomdb_exec(db, "UPDATE rooms SET epoch_cause='weird' WHERE id=?", "s", room), NT_OK);
    ck_assert_int_eq(rooms_store_get(db, room, &rm), NT_ERR_DB);
}
END_TEST

/* A database from before the cause was stored: the migration adds it,
 * and its rooms read "unknown" (no grace for their previous epoch). */
START_TEST(epoch_cause_migrates_as_unknown)
{
    sqlite3 *raw = NULL;
    roomdb *old = NULL;
    ck_assert_int_eq(sqlite3_open(":memory:", &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, ROOMDB_SCHEMA, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, ROOMDB_MEMBERS_VER, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(roomdb_adopt(raw, &old), NT_OK);
    ck_assert_int_eq(roomdb_exec(old, "INSERT INTO rooms(id,name,host,state,epoch,created) VALUES(?,'x',?,'hosted',3,1)",
                                 "ss", room, host),
                     NT_OK);
    ck_assert_int_eq(roomdb_migrate(old), NT_OK);
    ck_assert_int_eq(roomdb_migrate(old), NT_OK); /* once only */
    room_rec rm;
    ck_assert_int_eq(rooms_store_get(old, room, &rm), NT_OK);
    ck_assert_int_eq(rm.epoch, 3);
    ck_assert_int_eq(rm.epoch_cause, ROOM_ROT_UNKNOWN);
    ck_assert_no_active_statements(roomdb_sqlite(old));
    roomdb_close(old);
}
END_TEST

START_TEST(outbox_states_change_once)
{
    outbox_entry e;
    bool changed = false;
    ck_assert_int_eq(outbox_store_add(db, room, "t1", "hello", 5), NT_OK);
    ck_assert_int_eq(outbox_store_add(db, room, "t1", "again", 6), NT_ERR_EXISTS);
    ck_assert_int_eq(outbox_store_get(db, room, "t1", true, &e), NT_OK);
    ck_assert_int_eq(e.state, OUTBOX_PENDING);
    ck_assert_str_eq(e.text, "hello");
    ck_assert(!e.has_seq);
    outbox_entry_clear(&e);
    ck_assert_ptr_null(e.text);
    ck_assert_int_eq(outbox_store_set_state(db, room, "t1", OUTBOX_SENT, 7, NULL, &changed), NT_OK);
    ck_assert(changed);
    ck_assert_int_eq(outbox_store_set_state(db, room, "t1", OUTBOX_SENT, 7, NULL, &changed), NT_OK);
    ck_assert(!changed);
    ck_assert_int_eq(outbox_store_get(db, room, "t1", false, &e), NT_OK);
    ck_assert_int_eq(e.state, OUTBOX_SENT);
    ck_assert(e.has_seq);
    ck_assert_int_eq(e.seq, 7);
    ck_assert_ptr_null(e.text);
    ck_assert_int_eq(outbox_store_get(db, room, "t2", false, &e), NT_ERR_NOT_FOUND);
}
END_TEST

static void count_member(void *arg, const member_rec *m)
{
    (void)m;
    (*(int *)arg)++;
}

START_TEST(members_and_keys_through_typed_rows)
{
    uint8_t key[KEYS_STORE_KEY_LEN], got[KEYS_STORE_KEY_LEN];
    memset(key, 7, sizeof key);
    ck_assert_int_eq(keys_store_add(db, room, 1, key, 1), NT_OK);
    ck_assert_int_eq(keys_store_add(db, room, 1, key, 1), NT_ERR_EXISTS);
    ck_assert_int_eq(keys_store_keep(db, room, 1, key, 1), NT_OK);
    ck_assert_int_eq(keys_store_get(db, room, 1, got), NT_OK);
    ck_assert_mem_eq(got, key, sizeof key);
    ck_assert_int_eq(keys_store_get(db, room, 2, got), NT_ERR_NOT_FOUND);
    int64_t oldest = -1;
    ck_assert_int_eq(keys_store_oldest(db, room, &oldest), NT_OK);
    ck_assert_int_eq(oldest, 1);

    member_rec m;
    int n = 0;
    ck_assert_int_eq(members_store_put(db, room, host, MEMBER_ROLE_MASTER, MEMBER_JOINED, NULL, 0, 0), NT_OK);
    ck_assert_int_eq(members_store_invite(db, room, peer, 0, 1), NT_OK);
    ck_assert_int_eq(members_store_get(db, room, peer, &m), NT_OK);
    ck_assert_int_eq(m.state, MEMBER_INVITED);
    ck_assert_int_eq(m.role, MEMBER_ROLE_MEMBER);
    ck_assert_uint_eq(m.pub_len, 0);
    ck_assert_int_eq(members_store_current(db, room, count_member, &n), NT_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(members_store_kick(db, room, peer), NT_OK);
    int64_t current = 0;
    ck_assert_int_eq(members_store_count(db, room, MEMBERS_CURRENT, &current), NT_OK);
    ck_assert_int_eq(current, 1);
    ck_assert_int_eq(members_store_get(db, room, "ee", &m), NT_ERR_NOT_FOUND);
}
END_TEST

static void note_push(void *arg, const member_push *p)
{
    member_notice *n = arg;
    if (!strcmp(p->peer, peer))
        *n = p->notice;
}

/* A push that delivered an older notice (the invitation) does not clear
 * one set meanwhile (a kick): the member would never hear of its kick. */
START_TEST(notice_done_clears_only_the_notice_delivered)
{
    ck_assert_int_eq(rooms_store_set_state(db, room, ROOM_HOSTED), NT_OK);
    ck_assert_int_eq(members_store_invite(db, room, peer, 0, 1), NT_OK);
    ck_assert_int_eq(members_store_kick(db, room, peer), NT_OK); /* while the invitation was on its way */
    ck_assert_int_eq(members_store_notice_done(db, room, peer, MEMBER_NOTICE_INVITE), NT_OK);
    member_notice n = MEMBER_NOTICE_NONE;
    ck_assert_int_eq(members_store_push_due(db, host, INT64_MAX, 8, note_push, &n), NT_OK);
    ck_assert_int_eq(n, MEMBER_NOTICE_KICKED);
    ck_assert_int_eq(members_store_notice_done(db, room, peer, MEMBER_NOTICE_KICKED), NT_OK);
    n = MEMBER_NOTICE_NONE;
    ck_assert_int_eq(members_store_push_due(db, host, INT64_MAX, 8, note_push, &n), NT_OK);
    ck_assert_int_eq(n, MEMBER_NOTICE_NONE);
}
END_TEST

/* An invitation after a kick not delivered yet keeps the kick before it
 * ("reinvite"); the kick delivered, the invitation is owed, and then
 * nothing. A kick again withdraws the invitation. */
START_TEST(reinvite_keeps_the_kick_before_the_invitation)
{
    ck_assert_int_eq(rooms_store_set_state(db, room, ROOM_HOSTED), NT_OK);
    ck_assert_int_eq(members_store_admit(db, room, peer, NULL, 0, ROOM_PUSH, 0, 1), NT_OK);
    ck_assert_int_eq(members_store_kick(db, room, peer), NT_OK);
    ck_assert_int_eq(members_store_invite(db, room, peer, 0, 1), NT_OK);
    member_notice n = MEMBER_NOTICE_NONE;
    ck_assert_int_eq(members_store_push_due(db, host, INT64_MAX, 8, note_push, &n), NT_OK);
    ck_assert_int_eq(n, MEMBER_NOTICE_REINVITE);
    ck_assert_int_eq(members_store_invite(db, room, peer, 0, 1), NT_OK); /* again: the same */
    n = MEMBER_NOTICE_NONE;
    ck_assert_int_eq(members_store_push_due(db, host, INT64_MAX, 8, note_push, &n), NT_OK);
    ck_assert_int_eq(n, MEMBER_NOTICE_REINVITE);
    ck_assert_int_eq(members_store_notice_done(db, room, peer, MEMBER_NOTICE_REINVITE), NT_OK);
    n = MEMBER_NOTICE_NONE;
    ck_assert_int_eq(members_store_push_due(db, host, INT64_MAX, 8, note_push, &n), NT_OK);
    ck_assert_int_eq(n, MEMBER_NOTICE_INVITE);
    /* withdrawn by a kick: the kick is owed, and an invitation after it keeps it first */
    ck_assert_int_eq(members_store_kick(db, room, peer), NT_OK);
    n = MEMBER_NOTICE_NONE;
    ck_assert_int_eq(members_store_push_due(db, host, INT64_MAX, 8, note_push, &n), NT_OK);
    ck_assert_int_eq(n, MEMBER_NOTICE_KICKED);
    ck_assert_int_eq(members_store_invite(db, room, peer, 0, 1), NT_OK);
    /* the plain kick was on its way when the invitation came: delivered, the invitation is owed */
    ck_assert_int_eq(members_store_notice_done(db, room, peer, MEMBER_NOTICE_KICKED), NT_OK);
    n = MEMBER_NOTICE_NONE;
    ck_assert_int_eq(members_store_push_due(db, host, INT64_MAX, 8, note_push, &n), NT_OK);
    ck_assert_int_eq(n, MEMBER_NOTICE_INVITE);
    ck_assert_int_eq(members_store_notice_done(db, room, peer, MEMBER_NOTICE_INVITE), NT_OK);
    n = MEMBER_NOTICE_NONE;
    ck_assert_int_eq(members_store_push_due(db, host, INT64_MAX, 8, note_push, &n), NT_OK);
    ck_assert_int_eq(n, MEMBER_NOTICE_NONE);
}
END_TEST

/* A departed row with a notice still owed (a kick not delivered) is never
 * the one replaced at the row cap: the kick would be lost, and the peer,
 * still joined as far as it knows, would swallow a later invitation.
 * Delivered, the row may go. */
START_TEST(a_row_owing_a_notice_is_not_replaced)
{
    static const char other[] = "ef00000000000000000000000000000000000000000000000000000000000000";
    member_rec m;
    int64_t n = -1;
    ck_assert_int_eq(rooms_store_set_state(db, room, ROOM_HOSTED), NT_OK);
    ck_assert_int_eq(members_store_admit(db, room, peer, NULL, 0, ROOM_PUSH, 0, 1), NT_OK);
    ck_assert_int_eq(members_store_kick(db, room, peer), NT_OK);
    ck_assert_int_eq(members_store_replaceable(db, room, MEMBERS_DEPARTED, &n), NT_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(members_store_drop_oldest(db, room, MEMBERS_DEPARTED), NT_ERR_NOT_FOUND);
    ck_assert_int_eq(members_store_get(db, room, peer, &m), NT_OK);
    ck_assert_int_eq(members_store_drop_oldest_but(db, room, host, other), NT_ERR_NOT_FOUND);
    ck_assert_int_eq(members_store_get(db, room, peer, &m), NT_OK);
    /* a departed row owing nothing goes first, though newer */
    ck_assert_int_eq(members_store_admit(db, room, other, NULL, 0, ROOM_PUSH, 0, 1), NT_OK);
    ck_assert_int_eq(members_store_leave(db, room, other), NT_OK);
    ck_assert_int_eq(members_store_drop_oldest(db, room, MEMBERS_DEPARTED), NT_OK);
    ck_assert_int_eq(members_store_get(db, room, other, &m), NT_ERR_NOT_FOUND);
    ck_assert_int_eq(members_store_get(db, room, peer, &m), NT_OK);
    ck_assert_int_eq(members_store_notice_done(db, room, peer, MEMBER_NOTICE_KICKED), NT_OK);
    ck_assert_int_eq(members_store_replaceable(db, room, MEMBERS_DEPARTED, &n), NT_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(members_store_drop_oldest(db, room, MEMBERS_DEPARTED), NT_OK);
    ck_assert_int_eq(members_store_get(db, room, peer, &m), NT_ERR_NOT_FOUND);
}
END_TEST

/* A member's copy at its row cap: a departed row goes first, then the
 * oldest of any state, never the two kept (the host's, its own). */
START_TEST(member_drops_departed_first_and_keeps_two)
{
    static const char me[] = "ee00000000000000000000000000000000000000000000000000000000000000";
    static const char a[] = "a100000000000000000000000000000000000000000000000000000000000000";
    static const char b[] = "b100000000000000000000000000000000000000000000000000000000000000";
    member_rec m;
    ck_assert_int_eq(members_store_put(db, room, host, MEMBER_ROLE_MASTER, MEMBER_JOINED, NULL, 0, 1), NT_OK);
    ck_assert_int_eq(members_store_put(db, room, me, MEMBER_ROLE_MEMBER, MEMBER_JOINED, NULL, 0, 1), NT_OK);
    ck_assert_int_eq(members_store_put(db, room, a, MEMBER_ROLE_MEMBER, MEMBER_JOINED, NULL, 0, 2), NT_OK);
    ck_assert_int_eq(members_store_put(db, room, b, MEMBER_ROLE_MEMBER, MEMBER_LEFT, NULL, 0, 3), NT_OK);
    ck_assert_int_eq(members_store_drop_oldest_but(db, room, host, me), NT_OK);
    ck_assert_int_eq(members_store_get(db, room, b, &m), NT_ERR_NOT_FOUND);
    ck_assert_int_eq(members_store_drop_oldest_but(db, room, host, me), NT_OK);
    ck_assert_int_eq(members_store_get(db, room, a, &m), NT_ERR_NOT_FOUND);
    ck_assert_int_eq(members_store_drop_oldest_but(db, room, host, me), NT_ERR_NOT_FOUND);
    ck_assert_int_eq(members_store_get(db, room, host, &m), NT_OK);
    ck_assert_int_eq(members_store_get(db, room, me, &m), NT_OK);
}
END_TEST

/* An invitee reads from its invitation: the seq and epoch of it are kept
 * through its join and a repeated invitation; a departed member invited
 * again starts from the new invitation; a joiner never invited (an open
 * room) from the head at its join. */
START_TEST(invitation_seq_and_epoch_carry_to_the_join)
{
    static const uint8_t der[] = {1, 2, 3};
    member_rec m;
    ck_assert_int_eq(members_store_invite(db, room, peer, 5, 2), NT_OK);
    ck_assert_int_eq(members_store_invite(db, room, peer, 7, 3), NT_OK); /* still invited: kept */
    ck_assert_int_eq(members_store_admit(db, room, peer, der, sizeof der, ROOM_PUSH, 9, 3), NT_OK);
    ck_assert_int_eq(members_store_get(db, room, peer, &m), NT_OK);
    ck_assert_int_eq(m.state, MEMBER_JOINED);
    ck_assert_int_eq(m.from_seq, 5);
    ck_assert_int_eq(m.cursor, 5);
    ck_assert_int_eq(m.from_epoch, 2);
    ck_assert_int_eq(m.key_epoch, 3);
    ck_assert_int_eq(members_store_leave(db, room, peer), NT_OK);
    ck_assert_int_eq(members_store_invite(db, room, peer, 12, 4), NT_OK);
    ck_assert_int_eq(members_store_admit(db, room, peer, der, sizeof der, ROOM_PUSH, 15, 5), NT_OK);
    ck_assert_int_eq(members_store_get(db, room, peer, &m), NT_OK);
    ck_assert_int_eq(m.from_seq, 12);
    ck_assert_int_eq(m.from_epoch, 4);
    ck_assert_int_eq(m.key_epoch, 5);
    ck_assert_int_eq(members_store_admit(db, room, "ee", der, sizeof der, ROOM_POLL, 15, 5), NT_OK);
    ck_assert_int_eq(members_store_get(db, room, "ee", &m), NT_OK);
    ck_assert_int_eq(m.from_seq, 15);
    ck_assert_int_eq(m.from_epoch, 5);
}
END_TEST

static bool take_entry(void *arg, const log_entry *e)
{
    *(int64_t *)arg = e->seq;
    return true;
}

START_TEST(log_and_events)
{
    static const uint8_t body[3] = {1, 2, 3}, sig[2] = {4, 5};
    log_entry e = {.room = room, .seq = 1, .sender = host, .epoch = 1, .txn = "a", .ts = 9, .body = body,
                   .body_len = sizeof body, .sig = sig, .sig_len = sizeof sig, .text = "hi"};
    ck_assert_int_eq(log_store_append(db, &e), NT_OK);
    ck_assert_int_eq(log_store_append(db, &e), NT_ERR_EXISTS);
    ck_assert_int_eq(log_store_apply(db, &e), NT_OK); /* a member's second copy is ignored */
    int64_t seq = 0, ts = 0;
    ck_assert_int_eq(log_store_find(db, room, host, "a", &seq, &ts), NT_OK);
    ck_assert_int_eq(seq, 1);
    ck_assert_int_eq(ts, 9);
    seq = 0;
    ck_assert_int_eq(log_store_text_at(db, room, 1, take_entry, &seq), NT_OK);
    ck_assert_int_eq(seq, 1);
    ck_assert_int_eq(log_store_text_at(db, room, 2, take_entry, &seq), NT_ERR_NOT_FOUND);

    int64_t last = -1;
    ck_assert_int_eq(events_store_last(db, &last), NT_OK);
    ck_assert_int_eq(last, 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(events_store_add(db, i, "room", room, "{}"), NT_OK);
    ck_assert_int_eq(events_store_trim(db, 2), NT_OK);
    int64_t left = 0;
    ck_assert_int_eq(roomdb_int(db, &left, "SELECT count(*) FROM room_events", ""), NT_OK);
    ck_assert_int_eq(left, 2);
}
END_TEST

START_TEST(statement_caches_are_per_handle)
{
    sqlite3 *raw = NULL;
    roomdb *other = NULL;
    ck_assert_int_eq(sqlite3_open(":memory:", &raw), SQLITE_OK);
    ck_assert_int_eq(roomdb_adopt(raw, &other), NT_OK);
    ck_assert_int_eq(roomdb_migrate(other), NT_OK);
    room_rec rm;
    /* the same SQL text on two handles: each prepares its own statement */
    ck_assert_int_eq(rooms_store_get(db, room, &rm), NT_OK);
    ck_assert_int_eq(rooms_store_get(other, room, &rm), NT_ERR_NOT_FOUND);
    roomdb_close(other); /* closes with its cache: db's statements live on */
    ck_assert_int_eq(rooms_store_get(db, room, &rm), NT_OK);
    ck_assert_str_eq(rm.name, "lobby");
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("rooms_store");
    TCase *tc = tcase_create("stores");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, enum_names_round_trip);
    tcase_add_test(tc, delivery_access_notice_names);
    tcase_add_test(tc, notice_done_clears_only_the_notice_delivered);
    tcase_add_test(tc, reinvite_keeps_the_kick_before_the_invitation);
    tcase_add_test(tc, need_is_a_mask_stored_as_words);
    tcase_add_test(tc, a_row_with_an_unknown_state_is_an_error);
    tcase_add_test(tc, epoch_cause_stored_with_the_rotation);
    tcase_add_test(tc, epoch_cause_migrates_as_unknown);
    tcase_add_test(tc, outbox_states_change_once);
    tcase_add_test(tc, members_and_keys_through_typed_rows);
    tcase_add_test(tc, invitation_seq_and_epoch_carry_to_the_join);
    tcase_add_test(tc, a_row_owing_a_notice_is_not_replaced);
    tcase_add_test(tc, member_drops_departed_first_and_keeps_two);
    tcase_add_test(tc, log_and_events);
    tcase_add_test(tc, statement_caches_are_per_handle);
    suite_add_tcase(s, tc);
    return s;
}
