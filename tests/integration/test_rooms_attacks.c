/* Integration: attacks on a room's host over the real sealed peer channel.
 * The test process is itself a natter node ("mallory": node_open +
 * peerlink, in a temp data dir) talking to a real natterd host A with a
 * real member B; every refused request must leave A's log, head and
 * member list unchanged:
 *   non-member read, write and member list; a member forging another
 *   member's signature; messages sealed under an old or unknown epoch;
 *   tampered ciphertext; an oversized body; malformed submissions; and a
 *   replayed submit (stores once); and the same through the batch route,
 *   where nothing after the first refused message is stored. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/encoding.h"
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
static uint8_t room_id[ROOM_ID_LEN], a_id[IDENTITY_ID_LEN];

/* A sealed request from mallory to A; returns the status. */
static int mcall(const char *method, const char *path, json_t *req, json_t **reply)
{
    return mallory_call(&mal, a_id, method, path, req, reply, 10000);
}

static void setup(void)
{
    rooms_two_nodes(&A, &B, room, room_id);
    json_decref(call(&B, "PUT", "{\"text\":\"bob's real message\"}", 200, "/v1/client/rooms/%s/messages/b1", room));
    mallory_start(&mal);
    mallory_knows(&mal, &A, a_id);
}

static void teardown(void)
{
    mallory_stop(&mal);
    harness_cleanup(&A);
    harness_cleanup(&B);
}

/* A's state that no refused request may change. */
static char *host_state(void)
{
    json_t *m = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s/messages?after=0&limit=500", room);
    json_t *r = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    json_t *mem = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s/members", room);
    size_t i;
    json_t *e;
    /* delivery progress (push cursors) moves on its own: not state an attack could change */
    json_array_foreach(json_object_get(mem, "members"), i, e) json_object_del(e, "cursor");
    json_t *all = json_pack("{s:o,s:O,s:O,s:o}", "messages", json_object_get(m, "messages") ? json_incref(json_object_get(m, "messages")) : json_null(),
                            "head", json_object_get(r, "head"), "epoch", json_object_get(r, "epoch"), "members",
                            json_incref(json_object_get(mem, "members")));
    char *s = json_dumps(all, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(all);
    json_decref(m);
    json_decref(r);
    json_decref(mem);
    return s;
}

/* A's state is still `before`. */
static void assert_unchanged(const char *before)
{
    char *now = host_state();
    ck_assert_str_eq(now, before);
    free(now);
}

/* A submission whose body is `len` bytes of base64 'A's: over the cap. */
static json_t *oversized(const char *txn, size_t len)
{
    char *big = malloc(len + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'A', len);
    big[len] = '\0';
    json_t *j = json_pack("{s:s,s:i,s:s,s:s}", "txn_id", txn, "epoch", 1, "body", big, "sig", "AAAA");
    free(big);
    return j;
}

static json_t *submission(const char *txn, int64_t epoch, const uint8_t key[static ROOM_KEY_LEN], const char *text,
                          bool tamper)
{
    return mallory_submission(&mal, room_id, epoch, key, txn, text, strlen(text), tamper);
}

START_TEST(attacks_refused_state_unchanged)
{
    char path[160], mpath[160], kpath[160], jpath[160];
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/messages", room);
    snprintf(mpath, sizeof mpath, "/v1/peer/rooms/%s/members", room);
    snprintf(kpath, sizeof kpath, "/v1/peer/rooms/%s/keys", room);
    snprintf(jpath, sizeof jpath, "/v1/peer/rooms/%s/join", room);
    char *before = host_state();
    json_t *reply = NULL;

    /* a non-member: no read, no write, no member list, no keys, no join */
    char q[200];
    snprintf(q, sizeof q, "%s?after=0", path);
    ck_assert_int_eq(mcall("GET", q, NULL, &reply), 403);
    ck_assert_ptr_null(json_object_get(reply, "messages"));
    json_decref(reply);
    ck_assert_int_eq(mcall("GET", mpath, NULL, &reply), 403);
    ck_assert_ptr_null(json_object_get(reply, "members"));
    json_decref(reply);
    ck_assert_int_eq(mcall("GET", kpath, NULL, NULL), 403);
    uint8_t zero[ROOM_KEY_LEN] = {0};
    json_t *s = submission("m0", 1, zero, "let me write", false);
    ck_assert_int_eq(mcall("POST", path, s, NULL), 403);
    json_decref(s);
    char b64[MALLORY_PUB_B64_MAX];
    mallory_pub_b64(&mal, b64);
    json_t *jb = json_pack("{s:s}", "pub", b64);
    int st = mcall("POST", jpath, jb, NULL);
    ck_assert_msg(st == 404 || st == 403, "uninvited join: %d", st);
    assert_unchanged(before);

    /* invited, mallory joins and holds the key of epoch 1 */
    char body[128];
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", mal.n->id_hex);
    json_decref(call(&A, "POST", body, 200, "/v1/client/rooms/%s/invite", room));
    ck_assert_int_eq(mcall("POST", jpath, jb, &reply), 200);
    json_decref(jb);
    uint8_t key[ROOM_KEY_LEN];
    size_t kl = 0;
    json_t *k0 = json_array_get(json_object_get(reply, "keys"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(k0, "epoch")), 1);
    const char *kb = json_string_value(json_object_get(k0, "key"));
    ck_assert_int_eq(encoding_b64_decode(kb, strlen(kb), B64_STD, key, sizeof key, &kl), NT_OK);
    json_decref(reply);
    /* bob writes again: mallory, now a member, may read this one */
    json_decref(call(&B, "PUT", "{\"text\":\"bob again\"}", 200, "/v1/client/rooms/%s/messages/b2", room));
    free(before);
    before = host_state();

    /* forging bob: his own body and signature, sent by mallory */
    snprintf(q, sizeof q, "%s?after=0", path);
    ck_assert_int_eq(mcall("GET", q, NULL, &reply), 200);
    json_t *bobs = json_deep_copy(json_array_get(json_object_get(reply, "messages"), 0));
    json_decref(reply);
    ck_assert_str_eq(json_string_value(json_object_get(bobs, "sender")), B.node_id);
    json_t *fake = json_pack("{s:s,s:O,s:O,s:O}", "txn_id", "forged", "epoch", json_object_get(bobs, "epoch"), "body",
                             json_object_get(bobs, "body"), "sig", json_object_get(bobs, "sig"));
    ck_assert_int_eq(mcall("POST", path, fake, &reply), 401);
    json_decref(reply);
    json_decref(fake);
    fake = json_pack("{s:O,s:O,s:O,s:O}", "txn_id", json_object_get(bobs, "txn_id"), "epoch",
                     json_object_get(bobs, "epoch"), "body", json_object_get(bobs, "body"), "sig",
                     json_object_get(bobs, "sig"));
    ck_assert_int_eq(mcall("POST", path, fake, NULL), 401);
    json_decref(fake);
    json_decref(bobs);
    /* tampered ciphertext under a valid-looking signature */
    s = submission("m1", 1, key, "tampered", true);
    ck_assert_int_eq(mcall("POST", path, s, NULL), 401);
    json_decref(s);
    /* an unknown (future) epoch */
    s = submission("m2", 7, key, "from the future", false);
    ck_assert_int_eq(mcall("POST", path, s, &reply), 409);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(reply, "error"), "code")), "stale_epoch");
    json_decref(reply);
    json_decref(s);
    /* malformed: missing fields, bad base64, wrong types */
    json_t *bad[] = {json_pack("{s:s}", "txn_id", "m3"),
                     json_pack("{s:s,s:i,s:s,s:s}", "txn_id", "m3", "epoch", 1, "body", "@@@", "sig", "AAAA"),
                     json_pack("{s:i,s:s,s:s,s:s}", "txn_id", 5, "epoch", "1", "body", "AAAA", "sig", "AAAA"),
                     json_pack("{s:s,s:i,s:s,s:s}", "txn_id", "bad txn", "epoch", 1, "body", "AAAA", "sig", "AAAA")};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(mcall("POST", path, bad[i], NULL), 400);
        json_decref(bad[i]);
    }
    /* an oversized sealed body */
    s = oversized("m4", 59996);
    st = mcall("POST", path, s, NULL);
    ck_assert_msg(st == 413, "oversized: %d", st);
    json_decref(s);
    assert_unchanged(before);

    /* a genuine message, replayed: stored once */
    s = submission("m5", 1, key, "mallory, honestly", false);
    ck_assert_int_eq(mcall("POST", path, s, &reply), 200);
    json_int_t seq = json_integer_value(json_object_get(reply, "seq"));
    json_decref(reply);
    ck_assert_int_eq(mcall("POST", path, s, &reply), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(reply, "seq")), seq);
    ck_assert(json_is_true(json_object_get(reply, "duplicate")));
    json_decref(reply);
    json_decref(s);
    json_t *j = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "head")), seq);
    json_decref(j);

    /* an old epoch, after two rotations (beyond the one-epoch grace) */
    json_decref(call(&A, "POST", NULL, 200, "/v1/client/rooms/%s/rekey", room));
    json_decref(call(&A, "POST", NULL, 200, "/v1/client/rooms/%s/rekey", room));
    free(before);
    before = host_state();
    s = submission("m6", 1, key, "from the past", false);
    ck_assert_int_eq(mcall("POST", path, s, NULL), 409);
    json_decref(s);
    /* kicked: every request refused */
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", mal.n->id_hex);
    json_decref(call(&A, "POST", body, 200, "/v1/client/rooms/%s/kick", room));
    free(before);
    before = host_state();
    ck_assert_int_eq(mcall("GET", kpath, NULL, NULL), 403);
    ck_assert_int_eq(mcall("GET", q, NULL, NULL), 403);
    s = submission("m7", 4, key, "after the kick", false);
    ck_assert_int_eq(mcall("POST", path, s, NULL), 403);
    json_decref(s);
    assert_unchanged(before);
    free(before);
    /* B saw the honest one and never anything refused */
    for (int i = 0; i < 300; i++) {
        j = call(&B, "GET", NULL, 200, "/v1/client/rooms/%s/messages?after=0", room);
        size_t n = json_array_size(json_object_get(j, "messages"));
        json_decref(j);
        if (n >= 3)
            break;
        usleep(50 * 1000);
    }
    j = call(&B, "GET", NULL, 200, "/v1/client/rooms/%s/messages?after=0", room);
    ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 3);
    json_decref(j);
}
END_TEST

static json_t *batch_of(json_t **subs, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(arr, subs[i]);
    return json_pack("{s:o}", "messages", arr);
}

static json_t *result(json_t *reply, size_t i)
{
    return json_array_get(json_object_get(reply, "results"), i);
}

/* The batch route: the same refusals, per message and in order, and
 * nothing after the first refused message is stored. */
START_TEST(batch_attacks_refused_state_unchanged)
{
    char path[160], mpath[160];
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/batch", room);
    snprintf(mpath, sizeof mpath, "/v1/peer/rooms/%s/messages", room);
    uint8_t zero[ROOM_KEY_LEN] = {0}, key[ROOM_KEY_LEN];
    json_t *reply = NULL, *subs[20];
    char *before = host_state();

    /* a non-member's batch */
    subs[0] = submission("n0", 1, zero, "let me in", false);
    json_t *b = batch_of(subs, 1);
    ck_assert_int_eq(mcall("POST", path, b, &reply), 403);
    ck_assert_ptr_null(json_object_get(reply, "results"));
    json_decref(reply);
    json_decref(b);
    json_decref(subs[0]);
    assert_unchanged(before);

    mallory_joins(&mal, &A, a_id, room, key);
    json_decref(call(&B, "PUT", "{\"text\":\"bob again\"}", 200, "/v1/client/rooms/%s/messages/b2", room));
    free(before);
    before = host_state();
    /* bob's signed message, resent by mallory as the batch's first */
    char q[200];
    snprintf(q, sizeof q, "%s?after=0", mpath);
    ck_assert_int_eq(mcall("GET", q, NULL, &reply), 200);
    json_t *bobs = json_deep_copy(json_array_get(json_object_get(reply, "messages"), 0));
    json_decref(reply);
    ck_assert_str_eq(json_string_value(json_object_get(bobs, "sender")), B.node_id);
    subs[0] = json_pack("{s:s,s:O,s:O,s:O}", "txn_id", "forged", "epoch", json_object_get(bobs, "epoch"), "body",
                        json_object_get(bobs, "body"), "sig", json_object_get(bobs, "sig"));
    json_decref(bobs);
    subs[1] = submission("ok-after-forged", 1, key, "not tried", false);
    b = batch_of(subs, 2);
    ck_assert_int_eq(mcall("POST", path, b, &reply), 401);
    json_decref(reply);
    json_decref(b);
    /* malformed anywhere, too many, none, wrong shape, oversized: nothing tried */
    json_t *odd = json_pack("{s:s,s:i,s:s,s:s}", "txn_id", "x1", "epoch", 1, "body", "@@@", "sig", "AAAA");
    json_t *mixed[] = {subs[1], odd};
    b = batch_of(mixed, 2);
    ck_assert_int_eq(mcall("POST", path, b, NULL), 400);
    json_decref(b);
    json_decref(odd);
    json_t *many[17];
    for (size_t i = 0; i < 17; i++)
        many[i] = subs[1];
    b = batch_of(many, 17);
    ck_assert_int_eq(mcall("POST", path, b, NULL), 400);
    json_decref(b);
    b = batch_of(NULL, 0);
    ck_assert_int_eq(mcall("POST", path, b, NULL), 400);
    json_decref(b);
    b = json_pack("{s:s}", "messages", "not a list");
    ck_assert_int_eq(mcall("POST", path, b, NULL), 400);
    json_decref(b);
    json_t *huge = oversized("x2", 299996);
    b = batch_of(&huge, 1);
    int st = mcall("POST", path, b, NULL);
    ck_assert_msg(st == 413, "oversized batch: %d", st);
    json_decref(b);
    json_decref(huge);
    assert_unchanged(before);

    /* [good, tampered, good]: the first stored, the tampered one refused,
     * the third not tried */
    json_decref(subs[0]);
    subs[0] = submission("g1", 1, key, "first of three", false);
    json_t *tampered = submission("g2", 1, key, "tampered", true);
    json_t *three[] = {subs[0], tampered, subs[1]};
    b = batch_of(three, 3);
    ck_assert_int_eq(mcall("POST", path, b, &reply), 200);
    ck_assert_int_eq(json_array_size(json_object_get(reply, "results")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(result(reply, 0), "status")), 200);
    json_int_t seq = json_integer_value(json_object_get(result(reply, 0), "seq"));
    ck_assert_int_eq(json_integer_value(json_object_get(result(reply, 1), "status")), 401);
    ck_assert_str_eq(json_string_value(json_object_get(result(reply, 1), "txn_id")), "g2");
    json_decref(reply);
    /* the same batch replayed: the stored answer, nothing new */
    ck_assert_int_eq(mcall("POST", path, b, &reply), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(result(reply, 0), "seq")), seq);
    ck_assert(json_is_true(json_object_get(result(reply, 0), "duplicate")));
    json_decref(reply);
    json_decref(b);
    json_decref(tampered);
    json_t *j = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "head")), seq);
    json_decref(j);
    /* an epoch from the future in the middle: stops there */
    json_t *future = submission("g3", 9, key, "from the future", false);
    json_t *two[] = {subs[1], future};
    b = batch_of(two, 2);
    ck_assert_int_eq(mcall("POST", path, b, &reply), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(result(reply, 1), "status")), 409);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(result(reply, 1), "error"), "code")),
                     "stale_epoch");
    json_decref(reply);
    json_decref(b);
    json_decref(future);
    j = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "head")), seq + 1);
    json_decref(j);

    /* kicked: the batch is refused whole */
    char body[128];
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", mal.n->id_hex);
    json_decref(call(&A, "POST", body, 200, "/v1/client/rooms/%s/kick", room));
    free(before);
    before = host_state();
    json_t *late = submission("g4", 2, key, "after the kick", false);
    b = batch_of(&late, 1);
    ck_assert_int_eq(mcall("POST", path, b, NULL), 403);
    json_decref(b);
    json_decref(late);
    assert_unchanged(before);
    free(before);
    json_decref(subs[0]);
    json_decref(subs[1]);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("rooms_attacks");
    TCase *tc = tcase_create("attacks");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, attacks_refused_state_unchanged);
    tcase_add_test(tc, batch_attacks_refused_state_unchanged);
    suite_add_tcase(s, tc);
    return s;
}
