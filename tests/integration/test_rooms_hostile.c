/* Integration: a hostile peer on the LAN against real natterd nodes. The
 * test process is itself a natter node ("mallory": node_open + peerlink)
 * talking over the real sealed channel to a host A and a member B:
 *   - password guessing is answered 429 rate_limited (with retry_after)
 *     after a few attempts, and the slow hash runs outside the lock that
 *     other members' messages need;
 *   - unsolicited invitations are capped per inviting peer, and a room id
 *     stays bound to its host (an invite for it from another peer: 409);
 *   - a host serving log entries that cannot be verified (unknown sender,
 *     unknown epoch, bad signature) gets them dropped and counted, and the
 *     member's head moves past them instead of asking again and again;
 *   - a signed text that is not valid UTF-8 or holds a NUL is dropped and
 *     counted, never shown (cut); the client API refuses to send one. */
#include <check.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/encoding.h"
#include "crypto/rng.h"
#include "harness.h"
#include "harness_mallory.h"
#include "rooms_util.h"
#include "server/core/node.h"
#include "server/rooms/roomcrypt.h"
#include "tests/test_main.h"

#define WAIT_MS 30000

static harness_node A, B;
static mallory mal;
static char room[64];
static uint8_t room_id[ROOM_ID_LEN], a_id[IDENTITY_ID_LEN], b_id[IDENTITY_ID_LEN];

static int mcall(const char *method, const char *path, json_t *req, json_t **reply)
{
    return mallory_call(&mal, a_id, method, path, req, reply, 10000);
}

static void setup(void)
{
    rooms_two_nodes(&A, &B, room, room_id);
    mallory_start(&mal);
    mallory_knows(&mal, &A, a_id);
    mallory_knows(&mal, &B, b_id);
}

static void teardown(void)
{
    mallory_stop(&mal);
    harness_cleanup(&A);
    harness_cleanup(&B);
}

/* An integer field of a room on node n (GET /v1/client/rooms/{id}). */
static json_int_t room_int(harness_node *n, const char *id, const char *field)
{
    json_t *j = call(n, "GET", NULL, 200, "/v1/client/rooms/%s", id);
    json_int_t v = json_integer_value(json_object_get(j, field));
    json_decref(j);
    return v;
}

/* A counter of GET /v1/client/status: section.field. */
static json_int_t status_int(harness_node *n, const char *section, const char *field)
{
    json_t *j = call(n, "GET", NULL, 200, "/v1/client/status");
    json_int_t v = json_integer_value(json_object_get(json_object_get(j, section), field));
    json_decref(j);
    return v;
}

typedef struct {
    harness_node *n;
    json_int_t head;
} head_wait;

static bool head_reached(void *arg)
{
    head_wait *w = arg;
    return room_int(w->n, room, "head") >= w->head;
}

static void wait_head(harness_node *n, json_int_t head)
{
    head_wait w = {n, head};
    if (!harness_wait(head_reached, &w, WAIT_MS)) {
        harness_dump_log(n);
        ck_abort_msg("%s's head stays at %lld, want %lld", n->name, (long long)room_int(n, room, "head"),
                     (long long)head);
    }
}

/* A submission of text[0..len) from mallory, sealed and signed properly. */
static json_t *submission(const char *txn, const uint8_t key[static ROOM_KEY_LEN], const char *text, size_t len)
{
    return mallory_submission(&mal, room_id, 1, key, txn, text, len, false);
}

/* Texts shown on n in `room`, joined with '|'. */
static char *shown(harness_node *n)
{
    json_t *j = call(n, "GET", NULL, 200, "/v1/client/rooms/%s/messages?after=0&limit=500", room);
    char *out = calloc(1, 4096);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(j, "messages"), i, m) {
        strncat(out, json_string_value(json_object_get(m, "text")), 4095 - strlen(out));
        strncat(out, "|", 4095 - strlen(out));
    }
    json_decref(j);
    return out;
}

/* A signed text with a NUL in it or that is not UTF-8 is dropped and
 * counted on the host's own view and on a member, never shown cut; the
 * client API refuses to send either. */
START_TEST(invalid_plaintext_dropped)
{
    uint8_t key[ROOM_KEY_LEN];
    char path[160];
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/messages", room);
    mallory_joins(&mal, &A, a_id, room, key);
    static const char nul[] = "shown\0hidden", bad[] = "caf\xc3 \xff\xfe";
    json_t *s = submission("nul", key, nul, sizeof nul - 1);
    ck_assert_int_eq(mcall("POST", path, s, NULL), 200);
    json_decref(s);
    s = submission("utf8", key, bad, sizeof bad - 1);
    ck_assert_int_eq(mcall("POST", path, s, NULL), 200);
    json_decref(s);
    s = submission("fine", key, "fine", 4);
    json_t *ack = NULL;
    ck_assert_int_eq(mcall("POST", path, s, &ack), 200);
    json_decref(s);
    json_int_t last = json_integer_value(json_object_get(ack, "seq"));
    json_decref(ack);
    wait_head(&B, last);
    for (harness_node *n = &A; n; n = n == &A ? &B : NULL) {
        char *t = shown(n);
        ck_assert_msg(strcmp(t, "fine|") == 0, "%s shows %s", n->name, t);
        free(t);
        ck_assert_int_eq(room_int(n, room, "dropped"), 2);
        ck_assert_int_ge(status_int(n, "rooms", "dropped"), 2);
    }
    /* the sending side: a text with NUL, or not UTF-8, is not sent */
    harness_resp r = {0};
    char p2[160];
    snprintf(p2, sizeof p2, "/v1/client/rooms/%s/messages/n1", room);
    ck_assert_int_eq(harness_call(&B, HARNESS_CLIENT, "PUT", p2, "{\"text\":\"a\\u0000b\"}", &r), 0);
    ck_assert_int_eq(r.status, 400);
    harness_resp_free(&r);
    snprintf(p2, sizeof p2, "/v1/client/rooms/%s/messages/n2", room);
    ck_assert_int_eq(harness_call(&B, HARNESS_CLIENT, "PUT", p2, "{\"text\":\"caf\xc3 \xff\"}", &r), 0);
    ck_assert_int_eq(r.status, 400);
    harness_resp_free(&r);
    ck_assert_int_eq(room_int(&B, room, "head"), last);
}
END_TEST

static const char *code_of(json_t *reply)
{
    return json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
}

/* mallory's notify {"event": "invite"} for `id` to peer `to`. */
static int invite(const uint8_t *to, const char *id, json_t **reply)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/notify", id);
    json_t *req = json_pack("{s:s,s:{s:s,s:s}}", "event", "invite", "room", "name", "free stuff", "access", "open");
    int status = mallory_call(&mal, to, "POST", path, req, reply, 10000);
    json_decref(req);
    return status;
}

/* Rooms in B's list whose host is mallory. */
static size_t rooms_from_mallory(void)
{
    json_t *j = call(&B, "GET", NULL, 200, "/v1/client/rooms");
    size_t i, n = 0;
    json_t *rm;
    json_array_foreach(json_object_get(j, "rooms"), i, rm) n +=
        strcmp(json_string_value(json_object_get(rm, "host")), mal.n->id_hex) == 0;
    json_decref(j);
    return n;
}

/* 150 unsolicited invitations from one peer: a few are kept, the rest are
 * refused 429 and stored nowhere. */
START_TEST(invitation_flood_capped)
{
    int ok = 0, limited = 0;
    for (int i = 0; i < 150; i++) {
        uint8_t idb[ROOM_ID_LEN];
        char id[ROOM_ID_HEX_LEN + 1];
        ck_assert_int_eq(rng_bytes(idb, sizeof idb), NT_OK);
        ck_assert_int_eq(encoding_hex_encode(idb, sizeof idb, id, sizeof id), NT_OK);
        json_t *reply = NULL;
        int st = invite(b_id, id, &reply);
        if (st == 200) {
            ok++;
        } else {
            ck_assert_int_eq(st, 429);
            ck_assert_str_eq(json_string_value(json_object_get(json_object_get(reply, "error"), "code")),
                             "rate_limited");
            limited++;
        }
        json_decref(reply);
    }
    ck_assert_int_ge(ok, 1);
    ck_assert_int_le(ok, 8);
    ck_assert_int_eq(ok + limited, 150);
    ck_assert_uint_eq(rooms_from_mallory(), (size_t)ok);
}
END_TEST

/* A room id is bound to its host: an invite for it from another peer is
 * refused 409 and changes nothing, whether the room is hosted here or
 * joined from elsewhere. */
START_TEST(room_id_bound_to_host)
{
    json_t *before = call(&B, "GET", NULL, 200, "/v1/client/rooms/%s", room), *reply = NULL;
    ck_assert_int_eq(invite(b_id, room, &reply), 409);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(reply, "error"), "code")), "conflict");
    json_decref(reply);
    json_t *after = call(&B, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    ck_assert_msg(json_equal(before, after), "B's room row changed");
    json_decref(before);
    json_decref(after);
    before = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    ck_assert_int_eq(invite(a_id, room, NULL), 409);
    after = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    ck_assert_msg(json_equal(before, after), "A's room row changed");
    json_decref(before);
    json_decref(after);
    ck_assert_uint_eq(rooms_from_mallory(), 0);
    /* nor does B's user rebind it: a join naming another host is refused
     * before that host is asked */
    char body[128];
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", mal.n->id_hex);
    before = call(&B, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    reply = call(&B, "POST", body, 409, "/v1/client/rooms/%s/join", room);
    ck_assert_str_eq(code_of(reply), "conflict");
    json_decref(reply);
    after = call(&B, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    ck_assert_msg(json_equal(before, after), "B's room row changed");
    json_decref(before);
    json_decref(after);
}
END_TEST

/* A password room on A (each with a name of its own: names are unique
 * per host); its id into pw_room. */
static void password_room(char pw_room[static ROOM_ID_HEX_LEN + 1])
{
    static int n;
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"locked%d\",\"access\":\"password\",\"password\":\"sesame\"}", ++n);
    json_t *j = call(&A, "POST", body, 201, "/v1/client/rooms");
    snprintf(pw_room, ROOM_ID_HEX_LEN + 1, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
}

static int mallory_join_pw(const char *id, const char *pw, json_t **reply, int timeout_ms)
{
    char path[160], b64[MALLORY_PUB_B64_MAX];
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/join", id);
    mallory_pub_b64(&mal, b64);
    json_t *jb = json_pack("{s:s}", "pub", b64);
    if (pw)
        json_object_set_new(jb, "password", json_string(pw));
    int st = mallory_call(&mal, a_id, "POST", path, jb, reply, timeout_ms);
    json_decref(jb);
    return st;
}

/* Guessing a room's password: distinct refusals for a missing and a wrong
 * password, then 429 rate_limited with retry_after, even for the right
 * one; another peer still joins. */
START_TEST(password_guessing_rate_limited)
{
    char pw_room[ROOM_ID_HEX_LEN + 1];
    password_room(pw_room);
    json_t *reply = NULL;
    ck_assert_int_eq(mallory_join_pw(pw_room, NULL, &reply, 10000), 403);
    ck_assert_str_eq(code_of(reply), "password_required");
    json_decref(reply);
    int tries = 0, st = 0;
    for (; tries < 30; tries++) {
        st = mallory_join_pw(pw_room, "guess", &reply, 10000);
        if (st == 429)
            break;
        ck_assert_int_eq(st, 403);
        ck_assert_str_eq(code_of(reply), "wrong_password");
        json_decref(reply);
    }
    ck_assert_int_eq(st, 429);
    ck_assert_int_ge(tries, 1);
    ck_assert_int_le(tries, 8);
    ck_assert_str_eq(code_of(reply), "rate_limited");
    ck_assert_int_ge(json_integer_value(json_object_get(reply, "retry_after")), 1);
    json_decref(reply);
    ck_assert_int_eq(mallory_join_pw(pw_room, "sesame", &reply, 10000), 429);
    json_decref(reply);
    /* B relays its user's join: the host's answer, and B's user is not limited by mallory */
    char body[160];
    snprintf(body, sizeof body, "{\"host\":\"%s\",\"password\":\"sesame\"}", A.node_id);
    json_decref(call(&B, "POST", body, 200, "/v1/client/rooms/%s/join", pw_room));
    json_t *mem = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s/members", pw_room);
    ck_assert_uint_eq(json_array_size(json_object_get(mem, "members")), 2);
    json_decref(mem);
    /* B's user guessing in another room: the host's 429 reaches the
     * client API with a Retry-After header */
    password_room(pw_room);
    snprintf(body, sizeof body, "{\"host\":\"%s\",\"password\":\"guess\"}", A.node_id);
    char path[160], hv[32];
    snprintf(path, sizeof path, "/v1/client/rooms/%s/join", pw_room);
    harness_resp r = {0};
    for (tries = 0; tries < 30; tries++) {
        ck_assert_int_eq(harness_call(&B, HARNESS_CLIENT, "POST", path, body, &r), 0);
        if (r.status == 429)
            break;
        ck_assert_int_eq(r.status, 403);
        ck_assert_str_eq(harness_error_code(&r), "wrong_password");
        harness_resp_free(&r);
    }
    ck_assert_int_eq(r.status, 429);
    ck_assert_str_eq(harness_error_code(&r), "rate_limited");
    ck_assert_ptr_nonnull(harness_resp_header(&r, "Retry-After", hv, sizeof hv));
    ck_assert_int_ge(atoi(hv), 1);
    harness_resp_free(&r);
}
END_TEST

/* Set a room's PBKDF2 iteration count in A's database (A keeps running:
 * WAL lets a second connection write): a guess then hashes for seconds. */
static void slow_hash(const char *id, int64_t iter)
{
    char p[PATH_MAX + 16];
    sqlite3 *db = NULL;
    snprintf(p, sizeof p, "%s/natter.db", A.data_dir);
    ck_assert_int_eq(sqlite3_open(p, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_busy_timeout(db, 10000), SQLITE_OK);
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE rooms SET pw_iter=%lld WHERE id='%s'", (long long)iter, id);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_changes(db), 1);
    sqlite3_close(db);
}

typedef struct {
    const char *room;
    int status;
} guess_job;

static void *guess_main(void *arg)
{
    guess_job *g = arg;
    json_t *reply = NULL;
    g->status = mallory_join_pw(g->room, "guess", &reply, 300000);
    json_decref(reply);
    return NULL;
}

static bool hashing(void *arg)
{
    return status_int(arg, "rooms", "password_checks") >= 1;
}

/* While a password guess is being hashed on A, a member's message is
 * stored and acknowledged: the hash holds no lock the message needs. */
START_TEST(password_hash_outside_lock)
{
    char pw_room[ROOM_ID_HEX_LEN + 1];
    password_room(pw_room);
    slow_hash(pw_room, 8000000);
    guess_job g = {pw_room, 0};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, guess_main, &g), 0);
    ck_assert_msg(harness_wait(hashing, &A, WAIT_MS), "no password check began on A");
    json_t *j = call(&B, "PUT", "{\"text\":\"while hashing\"}", 0, "/v1/client/rooms/%s/messages/w1", room);
    const char *state = json_string_value(json_object_get(j, "state"));
    ck_assert_msg(state && strcmp(state, "sent") == 0, "B's message: %s", state ? state : "(no state)");
    json_decref(j);
    /* the order that matters: acknowledged while the hash still ran */
    ck_assert_int_ge(status_int(&A, "rooms", "password_checks"), 1);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(g.status, 403);
    ck_assert_int_eq(status_int(&A, "rooms", "password_checks"), 0);
}
END_TEST

/* Log rows written straight into A's database, after its head: a sender
 * that is no member, an epoch no one has a key for, a member's entry with
 * a bad signature. A then serves them as its log, as a hostile host would. */
static void hostile_entries(json_int_t head)
{
    char p[PATH_MAX + 16];
    sqlite3 *db = NULL;
    snprintf(p, sizeof p, "%s/natter.db", A.data_dir);
    ck_assert_int_eq(sqlite3_open(p, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_busy_timeout(db, 10000), SQLITE_OK);
    static const char *const senders[] = {
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", NULL, NULL};
    static const int64_t epochs[] = {1, 99, 1};
    ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < 3; i++) {
        sqlite3_stmt *st = NULL;
        uint8_t junk[64];
        memset(junk, 0x5a + i, sizeof junk);
        ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT INTO room_messages(room,seq,sender,epoch,txn_id,ts,body,"
                                            "sig,text) VALUES(?,?,?,?,?,?,?,?,NULL)", -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, head + 1 + i);
        sqlite3_bind_text(st, 3, senders[i] ? senders[i] : B.node_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, epochs[i]);
        char txn[16];
        snprintf(txn, sizeof txn, "evil%d", i);
        sqlite3_bind_text(st, 5, txn, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, (int64_t)time(NULL) * 1000);
        sqlite3_bind_blob(st, 7, junk, sizeof junk, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 8, junk, 32, SQLITE_TRANSIENT);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
    }
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE rooms SET head=%lld WHERE id='%s'", (long long)head + 3, room);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A member given entries it can never verify drops and counts them, moves
 * its head past them, and then stops asking the host. */
START_TEST(member_never_loops)
{
    json_decref(call(&B, "PUT", "{\"text\":\"before\"}", 200, "/v1/client/rooms/%s/messages/b1", room));
    json_int_t head = room_int(&A, room, "head");
    wait_head(&B, head);
    hostile_entries(head);
    /* a real message after them: A pushes the whole run to B */
    json_decref(call(&A, "PUT", "{\"text\":\"after\"}", 200, "/v1/client/rooms/%s/messages/a1", room));
    wait_head(&B, head + 4);
    ck_assert_int_eq(room_int(&B, room, "dropped"), 3);
    char *t = shown(&B);
    ck_assert_str_eq(t, "before|after|");
    free(t);
    /* B now asks A almost nothing (a stuck member asked ~20 times a second) */
    json_int_t served = status_int(&A, "peer_channel", "sealed_ok");
    sleep(4);
    json_int_t more = status_int(&A, "peer_channel", "sealed_ok") - served;
    ck_assert_msg(more <= 6, "B made %lld requests to A in 4 s after catching up", (long long)more);
    ck_assert_int_eq(room_int(&B, room, "head"), head + 4);
}
END_TEST

/* A's log claims one more entry than it serves: a gap before seq
 * head+2 that no poll fills. */
static void hostile_gap(json_int_t head)
{
    char p[PATH_MAX + 16], sql[800];
    sqlite3 *db = NULL;
    snprintf(p, sizeof p, "%s/natter.db", A.data_dir);
    ck_assert_int_eq(sqlite3_open(p, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_busy_timeout(db, 10000), SQLITE_OK);
    snprintf(sql, sizeof sql,
             "BEGIN IMMEDIATE; INSERT INTO room_messages(room,seq,sender,epoch,txn_id,ts,body,sig) "
             "VALUES('%s',%lld,'%s',1,'gap',0,x'00',x'00'); UPDATE rooms SET head=%lld WHERE id='%s'; COMMIT",
             room, (long long)head + 2, B.node_id, (long long)head + 2, room);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

typedef struct {
    json_int_t from, want;
} served_wait;

static bool served_more(void *arg)
{
    served_wait *w = arg;
    return status_int(&A, "peer_channel", "sealed_ok") - w->from >= w->want;
}

/* A host whose log has a hole it never fills: the member asks again, less
 * and less often, instead of asking in a tight loop. */
START_TEST(member_backs_off_from_gap)
{
    json_int_t head = room_int(&A, room, "head");
    hostile_gap(head);
    /* a few rounds of asking (the poll, keys and members of each) */
    served_wait w = {status_int(&A, "peer_channel", "sealed_ok"), 9};
    ck_assert_msg(harness_wait(served_more, &w, WAIT_MS), "B did not try to fill the gap");
    json_int_t served = status_int(&A, "peer_channel", "sealed_ok");
    sleep(4);
    json_int_t more = status_int(&A, "peer_channel", "sealed_ok") - served;
    ck_assert_msg(more <= 12, "B made %lld requests to A in 4 s", (long long)more);
    ck_assert_int_eq(room_int(&B, room, "head"), head);
}
END_TEST

/* One case per test, so that CK_RUN_CASE=<test> runs one alone. */
static void add(Suite *s, const char *name, const TTest *t)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, t);
    suite_add_tcase(s, tc);
}

Suite *test_suite(void)
{
    Suite *s = suite_create("rooms_hostile");
    add(s, "invalid_plaintext_dropped", invalid_plaintext_dropped);
    add(s, "invitation_flood_capped", invitation_flood_capped);
    add(s, "room_id_bound_to_host", room_id_bound_to_host);
    add(s, "password_guessing_rate_limited", password_guessing_rate_limited);
    add(s, "password_hash_outside_lock", password_hash_outside_lock);
    add(s, "member_never_loops", member_never_loops);
    add(s, "member_backs_off_from_gap", member_backs_off_from_gap);
    return s;
}
