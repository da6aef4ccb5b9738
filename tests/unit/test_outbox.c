/* test_outbox.c - the sender's outbox (server/rooms/outbox.c) against hosts that
 * answer in different ways, through the rooms transport: a host that takes
 * batches gets a backlog in order in batches of at most 16; one that
 * refuses a message in a batch gets the rest again; a host without the
 * batch route (an older natterd: plaintext 404) still gets every message,
 * one per request, in order; a batch answer that does not match what was
 * sent settles nothing. The member is a real rooms instance on a real
 * SQLite file; only the host is played by the transport. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/encoding.h"
#include "crypto/identity.h"
#include "crypto/rng.h"
#include "server/rooms/roomcrypt.h"
#include "server/rooms/rooms.h"
#include "server/rooms/rooms_int.h"
#include "storage/roomdb.h"
#include "unit_util.h"
#include "tests/test_main.h"

#define ENTRIES 20

static identity *me; /* generated once: RSA generation is slow */
static char dir[64], file[128], room_hex[ROOM_ID_HEX_LEN + 1];
static const char host_hex[] = "ab00000000000000000000000000000000000000000000000000000000000000";
static roomdb *db;
static rooms *R;

/* The host, as the transport sees it. */
typedef enum { HOST_BATCHES, HOST_OLD, HOST_CONFUSED, HOST_STALE } host_kind;
static struct {
    host_kind kind;
    int64_t head;
    const char *refuse_txn; /* refused once with 401, as a bad signature */
    bool refused;
    int requests, batches, largest;
    char order[ENTRIES * 8 + 1]; /* the txn ids stored, in order */
    bool hold, in_call;          /* hold: a call waits until hold is cleared */
    pthread_mutex_t mu;
    pthread_cond_t cv;
} H = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* A host that takes its time: the call waits while H.hold is set. */
static void host_gate(void)
{
    pthread_mutex_lock(&H.mu);
    H.in_call = true;
    pthread_cond_broadcast(&H.cv);
    while (H.hold)
        pthread_cond_wait(&H.cv, &H.mu);
    pthread_mutex_unlock(&H.mu);
}

static json_t *store(const char *txn)
{
    if (H.kind == HOST_STALE) /* always a newer epoch, whose key it never serves */
        return json_pack("{s:s,s:i,s:{s:s,s:s},s:i}", "txn_id", txn, "status", 409, "error", "code", "stale_epoch",
                         "message", "sealed with an epoch that is not current", "epoch", 2);
    if (H.refuse_txn && !H.refused && strcmp(txn, H.refuse_txn) == 0) {
        H.refused = true;
        return json_pack("{s:s,s:i,s:{s:s,s:s}}", "txn_id", txn, "status", 401, "error", "code", "bad_signature",
                         "message", "the signature does not verify");
    }
    strcat(H.order, txn);
    strcat(H.order, " ");
    return json_pack("{s:s,s:i,s:I,s:I}", "txn_id", txn, "status", 200, "seq", (json_int_t)++H.head, "ts",
                     (json_int_t)1);
}

static void host(void *arg, port_call *calls, size_t n, int timeout_ms)
{
    (void)arg;
    (void)timeout_ms;
    host_gate();
    for (size_t i = 0; i < n; i++) {
        port_call *c = &calls[i];
        c->reply = NULL;
        c->rc = NT_OK;
        H.requests++;
        ck_assert_str_eq(c->peer, host_hex);
        ck_assert_str_eq(c->room, room_hex);
        ck_assert(c->op == PORT_BATCH || c->op == PORT_SUBMIT);
        if (c->op == PORT_BATCH) {
            json_t *msgs = json_object_get(c->req, "messages");
            size_t k = json_array_size(msgs);
            if (H.kind == HOST_OLD) { /* no such route: a plaintext 404 the transport cannot open */
                c->status = 404;
                c->rc = NT_ERR_NOT_FOUND;
                continue;
            }
            H.batches++;
            H.largest = (int)k > H.largest ? (int)k : H.largest;
            json_t *res = json_array();
            for (size_t m = 0; m < k; m++) {
                const char *txn = json_string_value(json_object_get(json_array_get(msgs, m), "txn_id"));
                json_t *e = H.kind == HOST_CONFUSED ? json_pack("{s:s,s:i,s:i}", "txn_id", "other", "status", 200,
                                                               "seq", 99)
                                                    : store(txn);
                bool refused = json_integer_value(json_object_get(e, "status")) != 200;
                json_array_append_new(res, e);
                if (refused)
                    break;
            }
            c->status = 200;
            c->reply = json_pack("{s:o}", "results", res);
        } else {
            json_t *e = store(json_string_value(json_object_get(c->req, "txn_id")));
            c->status = (int)json_integer_value(json_object_get(e, "status"));
            json_object_del(e, "status");
            c->reply = e;
        }
    }
}

static void setup(void)
{
    ck_assert_int_eq(rng_init(), NT_OK);
    if (!me)
        ck_assert_int_eq(identity_generate(&me, 2048), NT_OK);
    H.kind = HOST_BATCHES;
    H.head = 0;
    H.refuse_txn = NULL;
    H.refused = H.hold = H.in_call = false;
    H.requests = H.batches = H.largest = 0;
    H.order[0] = '\0';
    snprintf(dir, sizeof dir, "/tmp/natter-outbox-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/natter.db", dir);
    sqlite3 *raw = NULL;
    ck_assert_int_eq(sqlite3_open(file, &raw), SQLITE_OK);
    ck_assert_int_eq(roomdb_adopt(raw, &db), NT_OK);
    ck_assert_int_eq(sqlite3_exec(roomdb_sqlite(db), "PRAGMA journal_mode=WAL;", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(roomdb_migrate(db), NT_OK);
    rooms_opts o = {.db = db, .read_path = file, .me = me, .call = host, .no_threads = true};
    ck_assert_int_eq(rooms_new(&R, &o), NT_OK);
    uint8_t id[ROOM_ID_LEN], key[ROOM_KEY_LEN];
    ck_assert_int_eq(rng_bytes(id, sizeof id), NT_OK);
    ck_assert_int_eq(rng_bytes(key, sizeof key), NT_OK);
    ck_assert_int_eq(encoding_hex_encode(id, sizeof id, room_hex, sizeof room_hex), NT_OK);
    ck_assert_int_eq(roomdb_exec(db,
                                 "INSERT INTO rooms(id,name,host,state,epoch,epoch_ts,created) "
                                 "VALUES(?,'away',?,'joined',1,0,0)",
                                 "ss", room_hex, host_hex),
                     NT_OK);
    ck_assert_int_eq(roomdb_exec(db, "INSERT INTO room_keys(room,epoch,key,created) VALUES(?,1,?,0)", "sb", room_hex,
                                 key, sizeof key),
                     NT_OK);
    char txn[16], text[32];
    for (int i = 0; i < ENTRIES; i++) {
        snprintf(txn, sizeof txn, "t%02d", i);
        snprintf(text, sizeof text, "backlog %d", i);
        ck_assert_int_eq(roomdb_exec(db, "INSERT INTO room_outbox(room,txn_id,text,created) VALUES(?,?,?,?)", "sssi",
                                     room_hex, txn, text, (int64_t)i),
                         NT_OK);
    }
}

static void teardown(void)
{
    rooms_free(R);
    R = NULL;
    roomdb_close(db);
    db = NULL;
    remove_db_dir(dir, file);
    rng_free();
}

static int64_t count(const char *sql)
{
    int64_t n = -1;
    ck_assert_int_eq(roomdb_int(db, &n, sql, "s", room_hex), NT_OK);
    return n;
}

/* Drain until nothing is due (bounded), making every entry due at once. */
static void drain_all(void)
{
    for (int round = 0; round < 50 && count("SELECT count(*) FROM room_outbox WHERE room=? AND state='pending'"); round++) {
        ck_assert_int_eq(roomdb_exec(db, "UPDATE room_outbox SET next_try=0 WHERE room=?", "s", room_hex), NT_OK);
        outbox_drain(R);
    }
}

static void expect_all_sent_in_order(int skipped)
{
    char want[ENTRIES * 8 + 1] = "", txn[16];
    for (int i = 0; i < ENTRIES; i++) {
        if (i == skipped)
            continue;
        snprintf(txn, sizeof txn, "t%02d ", i);
        strcat(want, txn);
    }
    ck_assert_str_eq(H.order, want);
    ck_assert_int_eq(count("SELECT count(*) FROM room_outbox WHERE room=? AND state='sent'"),
                     skipped >= 0 ? ENTRIES - 1 : ENTRIES);
    /* each entry's seq is the host's, in the order typed */
    ck_assert_int_eq(count("SELECT count(*) FROM room_outbox a JOIN room_outbox b ON a.room=b.room AND "
                           "a.rowid<b.rowid WHERE a.room=? AND a.state='sent' AND b.state='sent' AND a.seq>=b.seq"),
                     0);
}

START_TEST(backlog_goes_in_batches_in_order)
{
    H.kind = HOST_BATCHES;
    drain_all();
    expect_all_sent_in_order(-1);
    ck_assert_int_eq(H.requests, 2); /* 16 + 4 */
    ck_assert_int_eq(H.largest, ROOM_SUBMIT_BATCH_MAX);
}
END_TEST

START_TEST(refused_message_ends_its_batch)
{
    H.kind = HOST_BATCHES;
    H.refuse_txn = "t03";
    drain_all();
    expect_all_sent_in_order(3);
    ck_assert_int_eq(count("SELECT count(*) FROM room_outbox WHERE room=? AND state='failed' AND txn_id='t03'"), 1);
    ck_assert_int_eq(H.requests, 2); /* t00-t15 (t03 refused, the rest not tried), then t04-t19 */
}
END_TEST

START_TEST(host_without_batches_gets_every_message)
{
    H.kind = HOST_OLD;
    drain_all();
    expect_all_sent_in_order(-1);
    ck_assert_int_eq(H.batches, 0);
}
END_TEST

START_TEST(mismatched_answer_settles_nothing)
{
    H.kind = HOST_CONFUSED;
    outbox_drain(R);
    ck_assert_int_ge(H.requests, 1);
    ck_assert_int_eq(count("SELECT count(*) FROM room_outbox WHERE room=? AND state='pending'"), ENTRIES);
    ck_assert_int_eq(count("SELECT count(*) FROM room_outbox WHERE room=? AND seq IS NOT NULL"), 0);
}
END_TEST

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A host that answers every send "stale epoch" with a newer epoch whose
 * key it never gives: the first retry comes soon (a real rotation: fetch
 * the key, reseal, resend), the next ones back off as any failure does,
 * instead of every 100 ms for as long as the message is pending. */
START_TEST(stale_epoch_without_the_key_backs_off)
{
    H.kind = HOST_STALE;
    int64_t last = 0;
    for (int k = 0; k < 5; k++) {
        ck_assert_int_eq(roomdb_exec(db, "UPDATE room_outbox SET next_try=0 WHERE room=?", "s", room_hex), NT_OK);
        int64_t before = wall_ms();
        outbox_drain(R);
        int64_t next = count("SELECT next_try FROM room_outbox WHERE room=? AND txn_id='t00'");
        int64_t delay = next - before;
        if (k == 0)
            ck_assert_int_le(delay, 1000);
        else
            ck_assert_msg(delay > last, "retry %d after %lld ms, the one before after %lld ms", k, (long long)delay,
                          (long long)last);
        last = delay;
    }
    ck_assert_int_ge(last, 4000);
    ck_assert_int_eq(count("SELECT count(*) FROM room_outbox WHERE room=? AND state='pending'"), ENTRIES);
}
END_TEST

static void *release_later(void *arg)
{
    (void)arg;
    usleep(100 * 1000); /* so that the send finds the slot taken; it must wait either way */
    pthread_mutex_lock(&H.mu);
    H.hold = false;
    pthread_cond_broadcast(&H.cv);
    pthread_mutex_unlock(&H.mu);
    return NULL;
}

static void *drain_thread(void *arg)
{
    (void)arg;
    outbox_drain(R);
    return NULL;
}

/* A send that finds another thread already sending the room's entries
 * (the sync thread took the new message first) waits for that attempt:
 * it answers "sent" when the host took the message, not "pending" with no
 * attempt made. */
START_TEST(send_waits_for_the_other_sender)
{
    ck_assert_int_eq(roomdb_exec(db, "DELETE FROM room_outbox WHERE room=? AND txn_id<>'t00'", "s", room_hex), NT_OK);
    pthread_t t;
    pthread_mutex_lock(&H.mu);
    H.hold = true;
    pthread_mutex_unlock(&H.mu);
    ck_assert_int_eq(pthread_create(&t, NULL, drain_thread, NULL), 0);
    pthread_mutex_lock(&H.mu);
    while (!H.in_call) /* the drain holds the room's sending slot, t00 in flight */
        pthread_cond_wait(&H.cv, &H.mu);
    pthread_mutex_unlock(&H.mu);
    outbox_state state;
    /* let the host answer a little later, from another thread */
    pthread_t rel;
    ck_assert_int_eq(pthread_create(&rel, NULL, release_later, NULL), 0);
    outbox_try(R, room_hex, "t00", &state);
    ck_assert_int_eq(state, OUTBOX_SENT);
    pthread_join(rel, NULL);
    pthread_join(t, NULL);
    ck_assert_int_eq(H.requests, 1); /* sent once, by the drain */
    ck_assert_str_eq(H.order, "t00 ");
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("outbox");
    TCase *tc = tcase_create("outbox");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, backlog_goes_in_batches_in_order);
    tcase_add_test(tc, refused_message_ends_its_batch);
    tcase_add_test(tc, host_without_batches_gets_every_message);
    tcase_add_test(tc, mismatched_answer_settles_nothing);
    tcase_add_test(tc, stale_epoch_without_the_key_backs_off);
    tcase_add_test(tc, send_waits_for_the_other_sender);
    suite_add_tcase(s, tc);
    return s;
}
