/* test_ingest.c - the host's submission pipeline (server/rooms/ingest.c) under
 * concurrency, on a real SQLite file in WAL mode with reader connections:
 * every accepted message gets exactly one seq, retries racing their
 * original get the same one, forged signatures store nothing, a
 * submission after the pipeline stopped is still committed, batches keep
 * their order and stop at their first refusal, and the pre-check's cache
 * (server/rooms/precheck.c) follows every change it must. */
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
#include "crypto/sign.h"
#include "server/rooms/roomcrypt.h"
#include "server/rooms/rooms.h"
#include "tests/rooms_paths.h"
#include "server/rooms/rooms_int.h"
#include "storage/roomdb.h"
#include "unit_util.h"
#include "tests/test_main.h"

#define THREADS 8
#define PER_THREAD 20
#define TOTAL (THREADS * PER_THREAD)

static identity *host_id, *member_id; /* generated once: RSA generation is slow */
static char dir[64], file[128], room_hex[ROOM_ID_HEX_LEN + 1], member_hex[IDENTITY_ID_HEX_LEN + 1], path[128];
static uint8_t room_id[ROOM_ID_LEN], room_key[ROOM_KEY_LEN];
static roomdb *db;
static rooms *R;

static json_t *subs[THREADS][PER_THREAD], *forged[THREADS][PER_THREAD];
static int64_t seq_first[THREADS][PER_THREAD], seq_retry[THREADS][PER_THREAD];

static void no_call(void *arg, port_call *calls, size_t n, int timeout_ms)
{
    (void)arg;
    (void)timeout_ms;
    for (size_t i = 0; i < n; i++)
        calls[i].rc = NT_ERR_NET;
}

static json_t *make_sub(const char *txn, const char *text, bool forge)
{
    uint8_t *body = NULL, sig[SIGN_MAX_LEN];
    size_t bl, sl;
    char b64b[1024], b64s[1024];
    ck_assert_int_eq(roomcrypt_seal(room_id, 1, room_key, identity_id(member_id), text, strlen(text), &body, &bl),
                     NT_OK);
    ck_assert_int_eq(roomcrypt_sign(member_id, room_id, 1, txn, body, bl, sig, sizeof sig, &sl), NT_OK);
    if (forge)
        sig[sl / 2] ^= 0x01;
    ck_assert_int_eq(encoding_b64_encode(body, bl, B64_STD, b64b, sizeof b64b), NT_OK);
    ck_assert_int_eq(encoding_b64_encode(sig, sl, B64_STD, b64s, sizeof b64s), NT_OK);
    free(body);
    return json_pack("{s:s,s:i,s:s,s:s}", "txn_id", txn, "epoch", 1, "body", b64b, "sig", b64s);
}

static int submit(json_t *sub, int64_t *seq)
{
    json_t *reply = NULL;
    int st = rooms_peer_handle(R, member_hex, "POST", path, NULL, NULL, sub, &reply);
    *seq = json_integer_value(json_object_get(reply, "seq"));
    json_decref(reply);
    return st;
}

static int64_t count(const char *sql)
{
    int64_t n = -1;
    ck_assert_int_eq(roomdb_int(db, &n, sql, "s", room_hex), NT_OK);
    return n;
}

static void setup(void)
{
    ck_assert_int_eq(rng_init(), NT_OK);
    if (!host_id) {
        ck_assert_int_eq(identity_generate(&host_id, 2048), NT_OK);
        ck_assert_int_eq(identity_generate(&member_id, 2048), NT_OK);
    }
    snprintf(dir, sizeof dir, "/tmp/natter-ingest-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/natter.db", dir);
    sqlite3 *raw = NULL;
    ck_assert_int_eq(sqlite3_open(file, &raw), SQLITE_OK);
    ck_assert_int_eq(roomdb_adopt(raw, &db), NT_OK);
    ck_assert_int_eq(sqlite3_exec(roomdb_sqlite(db), "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(roomdb_migrate(db), NT_OK);
    rooms_opts o = {.db = db, .read_path = file, .me = host_id, .call = no_call, .no_threads = true};
    ck_assert_int_eq(rooms_new(&R, &o), NT_OK);

    ck_assert_int_eq(rng_bytes(room_id, sizeof room_id), NT_OK);
    ck_assert_int_eq(rng_bytes(room_key, sizeof room_key), NT_OK);
    ck_assert_int_eq(encoding_hex_encode(room_id, sizeof room_id, room_hex, sizeof room_hex), NT_OK);
    identity_id_hex(member_id, member_hex);
    char host_hex[IDENTITY_ID_HEX_LEN + 1];
    identity_id_hex(host_id, host_hex);
    uint8_t der[IDENTITY_PUB_DER_MAX];
    size_t der_len;
    ck_assert_int_eq(identity_public_der(member_id, der, sizeof der, &der_len), NT_OK);
    ck_assert_int_eq(roomdb_exec(db,
                                 "INSERT INTO rooms(id,name,host,state,epoch,epoch_ts,rot_msgs,created) "
                                 "VALUES(?,'ingest',?,'hosted',1,?,1000000,0)",
                                 "ssi", room_hex, host_hex, (int64_t)time(NULL) * 1000),
                     NT_OK);
    ck_assert_int_eq(roomdb_exec(db, "INSERT INTO room_keys(room,epoch,key,created) VALUES(?,1,?,0)", "sb", room_hex,
                                 room_key, sizeof room_key),
                     NT_OK);
    ck_assert_int_eq(roomdb_exec(db,
                                 "INSERT INTO room_members(room,peer,state,pub,delivery,from_epoch,key_epoch) "
                                 "VALUES(?,?,'joined',?,'poll',1,1)",
                                 "ssb", room_hex, member_hex, der, der_len),
                     NT_OK);
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/messages", room_hex);

    char txn[32], text[64];
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < PER_THREAD; k++) {
            snprintf(txn, sizeof txn, "t%d-%d", i, k);
            snprintf(text, sizeof text, "message %d from thread %d", k, i);
            subs[i][k] = make_sub(txn, text, false);
            snprintf(txn, sizeof txn, "forged%d-%d", i, k);
            forged[i][k] = make_sub(txn, "not from the member", true);
        }
}

static void teardown(void)
{
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < PER_THREAD; k++) {
            json_decref(subs[i][k]);
            json_decref(forged[i][k]);
            subs[i][k] = forged[i][k] = NULL;
        }
    rooms_free(R);
    R = NULL;
    roomdb_close(db);
    db = NULL;
    remove_db_dir(dir, file);
    rng_free();
}

/* Thread i sends its own messages, then retries thread i+1's (which may
 * still be in flight), then a forged one; returns its failure count. */
static void *worker(void *arg)
{
    int i = (int)(intptr_t)arg, bad = 0;
    int64_t seq;
    for (int k = 0; k < PER_THREAD; k++) {
        bad += submit(subs[i][k], &seq_first[i][k]) != 200;
        bad += submit(subs[(i + 1) % THREADS][k], &seq_retry[(i + 1) % THREADS][k]) != 200;
        bad += submit(forged[i][k], &seq) != 401;
    }
    return (void *)(intptr_t)bad;
}

/* Every message got one seq of 1..TOTAL, each given once, and its retry
 * the same one; with in_order, each thread's seqs also rise. */
static void check_one_seq_each(bool in_order)
{
    bool seen[TOTAL + 1] = {false};
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < PER_THREAD; k++) {
            int64_t s = seq_first[i][k];
            ck_assert_int_ge(s, 1);
            ck_assert_int_le(s, TOTAL);
            ck_assert_msg(!seen[s], "seq %lld given twice", (long long)s);
            seen[s] = true;
            ck_assert_int_eq(seq_retry[i][k], s); /* the retry got the first result */
            if (in_order && k > 0)
                ck_assert_int_gt(s, seq_first[i][k - 1]);
        }
}

START_TEST(concurrent_submissions_one_seq_each)
{
    run_workers(worker, THREADS);
    check_one_seq_each(false);
    ck_assert_int_eq(count("SELECT count(*) FROM room_messages WHERE room=?"), TOTAL);
    ck_assert_int_eq(count("SELECT head FROM rooms WHERE id=?"), TOTAL);
    ck_assert_int_eq(count("SELECT max(seq) - min(seq) + 1 FROM room_messages WHERE room=?"), TOTAL);
    ck_assert_int_eq(count("SELECT count(*) FROM room_messages WHERE room=? AND txn_id LIKE 'forged%'"), 0);
    /* the host opened its own copy of every message, and its user was told */
    ck_assert_int_eq(count("SELECT count(*) FROM room_messages WHERE room=? AND text LIKE 'message %'"), TOTAL);
    ck_assert_int_eq(count("SELECT count(*) FROM room_events WHERE room=? AND type='message'"), TOTAL);
}
END_TEST

START_TEST(submission_after_stop_still_commits)
{
    int64_t seq = 0;
    ck_assert_int_eq(submit(subs[0][0], &seq), 200);
    ck_assert_int_eq(seq, 1);
    rooms_stop(R); /* the verify and commit threads are gone */
    ck_assert_int_eq(submit(subs[0][1], &seq), 200);
    ck_assert_int_eq(seq, 2);
    ck_assert_int_eq(submit(subs[0][1], &seq), 200); /* a retry: same seq */
    ck_assert_int_eq(seq, 2);
    ck_assert_int_eq(submit(forged[0][0], &seq), 401);
    ck_assert_int_eq(count("SELECT count(*) FROM room_messages WHERE room=?"), 2);
}
END_TEST

/* Whether the pre-check for the member answers from the cache; *pub_len
 * gets the member key's length in that answer. */
static bool precheck_cached(size_t *pub_len)
{
    precheck pc;
    precheck_get(R, room_hex, member_hex, 1, "probe", false, &pc);
    bool cached = pc.cached;
    *pub_len = pc.pub_len;
    precheck_wipe(&pc);
    return cached;
}

START_TEST(precheck_cache_follows_changes)
{
    int64_t seq = 0;
    size_t pub = 0;
    ck_assert_int_eq(submit(subs[0][0], &seq), 200); /* fills the cache */
    ck_assert(precheck_cached(&pub));
    ck_assert_uint_gt(pub, 0);
    /* the room row moves with every batch: not a change the cache minds */
    ck_assert_int_eq(roomdb_exec(db, "UPDATE rooms SET head=head WHERE id=?", "s", room_hex), NT_OK);
    ck_assert(precheck_cached(&pub));
    /* a member row changes: the next answer is read afresh, and says so */
    ck_assert_int_eq(roomdb_exec(db, "UPDATE room_members SET state='kicked' WHERE room=? AND peer=?", "ss", room_hex,
                                 member_hex),
                     NT_OK);
    ck_assert(!precheck_cached(&pub));
    ck_assert_uint_eq(pub, 0);
    ck_assert_int_eq(submit(subs[0][1], &seq), 403);
    ck_assert_int_eq(roomdb_exec(db, "UPDATE room_members SET state='joined' WHERE room=? AND peer=?", "ss", room_hex,
                                 member_hex),
                     NT_OK);
    ck_assert(!precheck_cached(&pub)); /* read afresh, then kept */
    ck_assert(precheck_cached(&pub));
    /* a new room key (a rotation) */
    ck_assert_int_eq(roomdb_exec(db, "INSERT INTO room_keys(room,epoch,key,created) VALUES(?,2,?,0)", "sb", room_hex,
                                 room_key, sizeof room_key),
                     NT_OK);
    ck_assert(!precheck_cached(&pub));
    /* a forged signature under a txn id already committed gets the stored
     * answer, from the cache's path as from the database's */
    ck_assert(precheck_cached(&pub));
    json_t *f = make_sub(json_string_value(json_object_get(subs[0][0], "txn_id")), "someone else's words", true);
    ck_assert_int_eq(submit(f, &seq), 200);
    ck_assert_int_eq(seq, 1);
    json_decref(f);
    ck_assert_int_eq(count("SELECT count(*) FROM room_messages WHERE room=?"), 1);
}
END_TEST

/* A batch request ({"messages": [...]}) on the host's batch route. */
static int submit_batch(json_t *const *items, size_t n, json_t **reply)
{
    char bpath[160];
    snprintf(bpath, sizeof bpath, "/v1/peer/rooms/%s/batch", room_hex);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(arr, items[i]);
    json_t *body = json_pack("{s:o}", "messages", arr);
    json_t *rep = NULL;
    int st = rooms_peer_handle(R, member_hex, "POST", bpath, NULL, NULL, body, &rep);
    json_decref(body);
    if (reply)
        *reply = rep;
    else
        json_decref(rep);
    return st;
}

static int64_t result_seq(json_t *reply, size_t i)
{
    return json_integer_value(json_object_get(json_array_get(json_object_get(reply, "results"), i), "seq"));
}

static int result_status(json_t *reply, size_t i)
{
    return (int)json_integer_value(json_object_get(json_array_get(json_object_get(reply, "results"), i), "status"));
}

/* Thread i sends its messages in batches of 5, then the same batches of
 * thread i+1's (which may be in flight); returns its failure count. */
static void *batch_worker(void *arg)
{
    int i = (int)(intptr_t)arg, bad = 0, j = (i + 1) % THREADS;
    for (int k = 0; k < PER_THREAD; k += 5) {
        json_t *rep = NULL;
        bad += submit_batch(&subs[i][k], 5, &rep) != 200 || json_array_size(json_object_get(rep, "results")) != 5;
        for (int m = 0; m < 5; m++)
            seq_first[i][k + m] = result_seq(rep, (size_t)m);
        json_decref(rep);
        bad += submit_batch(&subs[j][k], 5, &rep) != 200 || json_array_size(json_object_get(rep, "results")) != 5;
        for (int m = 0; m < 5; m++)
            seq_retry[j][k + m] = result_seq(rep, (size_t)m);
        json_decref(rep);
    }
    return (void *)(intptr_t)bad;
}

START_TEST(concurrent_batches_in_order_one_seq_each)
{
    run_workers(batch_worker, THREADS);
    check_one_seq_each(true); /* a sender's messages keep their order */
    ck_assert_int_eq(count("SELECT count(*) FROM room_messages WHERE room=?"), TOTAL);
    ck_assert_int_eq(count("SELECT head FROM rooms WHERE id=?"), TOTAL);
    ck_assert_int_eq(count("SELECT count(*) FROM room_events WHERE room=? AND type='message'"), TOTAL);
}
END_TEST

START_TEST(batch_stops_at_the_first_refusal)
{
    json_t *rep = NULL;
    /* [ok, ok, forged, ok]: the first two stored, the forged one refused,
     * the last not tried */
    json_t *b1[] = {subs[0][0], subs[0][1], forged[0][0], subs[0][2]};
    ck_assert_int_eq(submit_batch(b1, 4, &rep), 200);
    ck_assert_int_eq(json_array_size(json_object_get(rep, "results")), 3);
    ck_assert_int_eq(result_seq(rep, 0), 1);
    ck_assert_int_eq(result_seq(rep, 1), 2);
    ck_assert_int_eq(result_status(rep, 2), 401);
    json_t *r2 = json_array_get(json_object_get(rep, "results"), 2);
    ck_assert_str_eq(json_string_value(json_object_get(r2, "txn_id")), "forged0-0");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r2, "error"), "code")), "bad_signature");
    /* the refused item on the wire, byte for byte: its error, then its txn id and status */
    char *wire = json_dumps(r2, JSON_COMPACT);
    ck_assert_str_eq(wire, "{\"error\":{\"code\":\"bad_signature\",\"message\":\"the signature does not verify "
                           "for the sender\"},\"txn_id\":\"forged0-0\",\"status\":401}");
    free(wire);
    json_decref(rep);
    ck_assert_int_eq(count("SELECT count(*) FROM room_messages WHERE room=?"), 2);
    /* the same batch again: the stored answers, nothing new */
    ck_assert_int_eq(submit_batch(b1, 4, &rep), 200);
    ck_assert_int_eq(json_array_size(json_object_get(rep, "results")), 3);
    ck_assert_int_eq(result_seq(rep, 1), 2);
    ck_assert(json_is_true(json_object_get(json_array_get(json_object_get(rep, "results"), 1), "duplicate")));
    json_decref(rep);
    ck_assert_int_eq(count("SELECT count(*) FROM room_messages WHERE room=?"), 2);
    /* refused first: the batch gets that refusal, as a single submit would */
    json_t *b2[] = {forged[0][1], subs[0][2]};
    ck_assert_int_eq(submit_batch(b2, 2, &rep), 401);
    ck_assert_ptr_null(json_object_get(rep, "results"));
    json_decref(rep);
    /* malformed anywhere, or too many: nothing tried */
    json_t *odd = json_pack("{s:s}", "txn_id", "odd");
    json_t *b3[] = {subs[0][2], odd};
    ck_assert_int_eq(submit_batch(b3, 2, NULL), 400);
    json_decref(odd);
    ck_assert_int_eq(submit_batch(&subs[1][0], 17, NULL), 400);
    ck_assert_int_eq(submit_batch(NULL, 0, NULL), 400);
    ck_assert_int_eq(count("SELECT count(*) FROM room_messages WHERE room=?"), 2);
    /* the same message twice in one batch: stored once, both answers name its seq */
    json_t *twice[] = {subs[2][0], subs[2][0]};
    ck_assert_int_eq(submit_batch(twice, 2, &rep), 200);
    ck_assert_int_eq(result_seq(rep, 0), 3);
    ck_assert_int_eq(result_seq(rep, 1), 3);
    ck_assert(json_is_true(json_object_get(json_array_get(json_object_get(rep, "results"), 1), "duplicate")));
    json_decref(rep);
    ck_assert_int_eq(count("SELECT count(*) FROM room_messages WHERE room=?"), 3);
    /* the rest, in order; then after the pipeline stopped (inline) */
    ck_assert_int_eq(submit_batch(&subs[0][2], 3, &rep), 200);
    ck_assert_int_eq(result_seq(rep, 0), 4);
    ck_assert_int_eq(result_seq(rep, 2), 6);
    json_decref(rep);
    rooms_stop(R);
    json_t *b4[] = {subs[0][5], subs[0][6], forged[0][2], subs[0][7]};
    ck_assert_int_eq(submit_batch(b4, 4, &rep), 200);
    ck_assert_int_eq(json_array_size(json_object_get(rep, "results")), 3);
    ck_assert_int_eq(result_seq(rep, 1), 8);
    json_decref(rep);
    ck_assert_int_eq(count("SELECT count(*) FROM room_messages WHERE room=?"), 8);
    ck_assert_int_eq(count("SELECT head FROM rooms WHERE id=?"), 8);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("ingest");
    TCase *tc = tcase_create("ingest");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, concurrent_submissions_one_seq_each);
    tcase_add_test(tc, submission_after_stop_still_commits);
    tcase_add_test(tc, precheck_cache_follows_changes);
    tcase_add_test(tc, concurrent_batches_in_order_one_seq_each);
    tcase_add_test(tc, batch_stops_at_the_first_refusal);
    suite_add_tcase(s, tc);
    return s;
}
