/* Integration: an invited member reads from its invitation on, across
 * real natterd nodes. What is written between the invitation and the join
 * (the first words of a direct conversation, `natter msg`) reaches the
 * joiner in plaintext; what came before the invitation, or while a
 * departed member was away until it was invited again, does not, and a
 * member invited again gets a key made after its return. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_natter.h"
#include "rooms_util.h"
#include "tests/test_main.h"

#define WAIT_MS 15000

static harness_node a, b;
static const char *const quiet[] = {"--no-discovery", NULL}; /* only the peers we add */

static void setup(void)
{
    ck_assert_int_eq(harness_start(&a, "alice", quiet), 0);
    ck_assert_int_eq(harness_start(&b, "bob", quiet), 0);
    char body[128];
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", a.peer);
    json_decref(call(&b, "POST", body, 201, "/v1/client/peers"));
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", b.peer);
    json_decref(call(&a, "POST", body, 200, "/v1/client/peers"));
}

static void teardown(void)
{
    harness_cleanup(&a);
    harness_cleanup(&b);
}

typedef struct {
    harness_node *n;
    const char *room, *text;
} text_arg;

/* Whether n's copy of room holds a message whose plaintext is text. */
static bool has_text(harness_node *n, const char *room, const char *text)
{
    json_t *j = call(n, "GET", NULL, 0, "/v1/client/rooms/%s/messages?limit=100", room), *m;
    size_t i;
    bool hit = false;
    json_array_foreach(json_object_get(j, "messages"), i, m)
        hit = hit || !strcmp(json_string_value(json_object_get(m, "text")) ?: "", text);
    json_decref(j);
    return hit;
}

static bool text_there(void *arg)
{
    text_arg *x = arg;
    return has_text(x->n, x->room, x->text);
}

static void wait_text(harness_node *n, const char *room, const char *text)
{
    text_arg x = {n, room, text};
    if (!harness_wait(text_there, &x, WAIT_MS)) {
        harness_dump_log(n);
        ck_abort_msg("%s never read \"%s\" in %s", n->name, text, room);
    }
}

static void wait_invited(harness_node *n, const char *room)
{
    ck_assert_msg(rooms_wait_state(n, room, "invited", WAIT_MS), "%s never saw its invitation to %s", n->name, room);
}

static void send_text(harness_node *n, const char *room, const char *txn, const char *text)
{
    char body[256];
    snprintf(body, sizeof body, "{\"text\":\"%s\"}", text);
    json_t *j = call(n, "PUT", body, 200, "/v1/client/rooms/%s/messages/%s", room, txn);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "sent");
    json_decref(j);
}

static void join(harness_node *n, const char *room, const harness_node *host)
{
    char body[128];
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", host->node_id);
    json_decref(call(n, "POST", body, 200, "/v1/client/rooms/%s/join", room));
}

static json_int_t epoch_of(harness_node *n, const char *room)
{
    json_t *j = call(n, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    json_int_t e = json_integer_value(json_object_get(j, "epoch"));
    json_decref(j);
    return e;
}

/* natter msg to a peer that has not joined yet: its first words wait for
 * it and read in plaintext once it joins. */
START_TEST(dm_first_words_reach_the_peer)
{
    natter_out o;
    ck_assert_int_eq(natter_run(&a, NULL, &o, "msg", "bob", "first words", NULL), 0);
    natter_expect(&o, 0, "to bob~", NULL);
    natter_out_free(&o);
    ck_assert_int_eq(natter_run(&a, NULL, &o, "msg", "bob", "second words", NULL), 0);
    natter_expect(&o, 0, "sent", NULL);
    natter_out_free(&o);
    json_t *l = natter_api_get(&a, "/v1/client/rooms");
    json_t *dm = harness_json_find(l, "rooms", "name", "@bob");
    ck_assert_ptr_nonnull(dm);
    char rid[ROOM_ID_HEX_LEN + 1];
    snprintf(rid, sizeof rid, "%s", json_string_value(json_object_get(dm, "id")));
    json_decref(l);

    wait_invited(&b, rid);
    /* bob answers with natter msg, which takes the invitation */
    ck_assert_int_eq(natter_run(&b, NULL, &o, "msg", "alice", "hi back", NULL), 0);
    natter_expect(&o, 0, "to alice~", NULL);
    natter_out_free(&o);
    wait_text(&b, rid, "first words");
    wait_text(&b, rid, "second words");
    wait_text(&a, rid, "hi back");
    wait_text(&b, rid, "hi back");
    ck_assert_int_eq(natter_run(&b, NULL, &o, "tail", "@bob", NULL), 0);
    natter_expect(&o, 0, "alice~", NULL);
    ck_assert_msg(strstr(o.out, "first words") && strstr(o.out, "second words") && strstr(o.out, "hi back"),
                  "tail: %s", o.out);
    natter_out_free(&o);
}
END_TEST

/* The member reads from its invitation: nothing before it, and nothing
 * from while it was away once it left and was invited again. */
START_TEST(nothing_before_the_invitation)
{
    json_t *j = call(&a, "POST", "{\"name\":\"club\"}", 201, "/v1/client/rooms");
    char rid[ROOM_ID_HEX_LEN + 1], body[128];
    snprintf(rid, sizeof rid, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    send_text(&a, rid, "t1", "before the invitation");
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", b.node_id);
    json_decref(call(&a, "POST", body, 200, "/v1/client/rooms/%s/invite", rid));
    send_text(&a, rid, "t2", "between invitation and join");
    wait_invited(&b, rid);
    join(&b, rid, &a);
    send_text(&a, rid, "t3", "after the join");
    wait_text(&b, rid, "between invitation and join");
    wait_text(&b, rid, "after the join");
    ck_assert(!has_text(&b, rid, "before the invitation"));

    /* away and back: the messages of its absence stay closed to it */
    json_decref(call(&b, "POST", "{}", 200, "/v1/client/rooms/%s/leave", rid));
    send_text(&a, rid, "t4", "while bob was away");
    json_int_t away = epoch_of(&a, rid);
    json_decref(call(&a, "POST", body, 200, "/v1/client/rooms/%s/invite", rid));
    ck_assert_int_eq(epoch_of(&a, rid), away + 1); /* a key the absence never used */
    send_text(&a, rid, "t5", "bob is invited again");
    wait_invited(&b, rid);
    join(&b, rid, &a);
    wait_text(&b, rid, "bob is invited again");
    ck_assert(!has_text(&b, rid, "while bob was away"));
    ck_assert(has_text(&b, rid, "after the join")); /* its earlier copy stays */
    ck_assert(!has_text(&b, rid, "before the invitation"));
}
END_TEST

/* The master withdraws an invitation before it is taken: the invitee
 * learns it (its room is kicked, its user gets the membership event). */
START_TEST(kick_withdraws_a_pending_invitation)
{
    json_t *j = call(&a, "POST", "{\"name\":\"club\"}", 201, "/v1/client/rooms");
    char rid[ROOM_ID_HEX_LEN + 1], body[128];
    snprintf(rid, sizeof rid, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    j = call(&b, "GET", NULL, 200, "/v1/client/events?since=now");
    char tok[32];
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(j, "next")));
    json_decref(j);
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", b.node_id);
    json_decref(call(&a, "POST", body, 200, "/v1/client/rooms/%s/invite", rid));
    wait_invited(&b, rid);
    json_decref(call(&a, "POST", body, 200, "/v1/client/rooms/%s/kick", rid));
    if (!rooms_wait_state(&b, rid, "kicked", WAIT_MS)) {
        harness_dump_log(&b);
        ck_abort_msg("bob still holds the withdrawn invitation to %s", rid);
    }
    j = call(&b, "GET", NULL, 200, "/v1/client/events?since=%s", tok);
    json_t *e, *ev = NULL;
    size_t i;
    json_array_foreach(json_object_get(j, "events"), i, e) if (
        !strcmp(json_string_value(json_object_get(e, "type")) ?: "", "membership") &&
        !strcmp(json_string_value(json_object_get(e, "room")) ?: "", rid) &&
        !strcmp(json_string_value(json_object_get(e, "membership")) ?: "", "kicked")) ev = e;
    ck_assert_msg(ev != NULL, "bob's user was not told of the kick");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "peer")), b.node_id);
    json_decref(j);
    /* that the host then stops pushing the notice is test_rooms's
     * (notice_refused_for_good_is_dropped, on a clock it moves) */
    j = call(&b, "GET", NULL, 200, "/v1/client/rooms/%s", rid);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "kicked");
    json_decref(j);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("rooms_invite");
    TCase *tc = tcase_create("twonodes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, dm_first_words_reach_the_peer);
    tcase_add_test(tc, nothing_before_the_invitation);
    tcase_add_test(tc, kick_withdraws_a_pending_invitation);
    suite_add_tcase(s, tc);
    return s;
}
