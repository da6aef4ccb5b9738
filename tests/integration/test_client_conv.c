/* Integration: the one-shot `natter` commands for conversations, across
 * real natterd nodes: leave, kick, members, topic, name, untrust, whois;
 * join by name over online peers' rooms, and its refusals said so a
 * person can act (left, password missing or wrong); msg, the direct
 * conversation that is made once and then reused from both sides. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_natter.h"
#include "tests/test_main.h"

#define WAIT_MS 15000

static harness_node a, b;
static const char *const quiet[] = {"--no-discovery", NULL}; /* only the peers we add */

static void setup(void)
{
    ck_assert_int_eq(harness_start(&a, "alice", quiet), 0);
    ck_assert_int_eq(harness_start(&b, "bob", quiet), 0);
}

static void teardown(void)
{
    harness_cleanup(&a);
    harness_cleanup(&b);
}

#define ON(n, o, ...) ck_assert_int_eq(natter_run((n), NULL, (o), __VA_ARGS__, NULL), 0)

/* Run natter on n, check its exit status and output, free it. */
static void check_run(const harness_node *n, int status, const char *in_out, const char *in_err, const char *a1,
                      const char *a2, const char *a3, const char *a4, const char *a5)
{
    natter_out o;
    ck_assert_int_eq(natter_run(n, NULL, &o, a1, a2, a3, a4, a5, NULL), 0);
    natter_expect(&o, status, in_out, in_err);
    natter_out_free(&o);
}

/* The id of n's room called name ("" if none; static). */
static const char *room_id(const harness_node *n, const char *name, const char *state)
{
    static char id[64];
    json_t *l = natter_api_get(n, "/v1/client/rooms"), *r;
    size_t i;
    id[0] = '\0';
    json_array_foreach(json_object_get(l, "rooms"), i, r)
        if (!strcmp(json_string_value(json_object_get(r, "name")), name) &&
            (!state || !strcmp(json_string_value(json_object_get(r, "state")), state)))
            snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r, "id")));
    json_decref(l);
    return id;
}

typedef struct {
    const harness_node *n;
    const char *name, *state;
} room_arg;

static bool has_room(void *arg)
{
    room_arg *x = arg;
    return room_id(x->n, x->name, x->state)[0] != '\0';
}

static void wait_room(const harness_node *n, const char *name, const char *state)
{
    room_arg x = {n, name, state};
    ck_assert_msg(harness_wait(has_room, &x, WAIT_MS), "%s never saw room %s %s", n->name, name,
                  state ? state : "");
}

/* a and b know each other, with a session from b to a. */
static void meet(void)
{
    check_run(&a, 0, NULL, NULL, "add", b.peer, NULL, NULL, NULL);
    check_run(&b, 0, NULL, NULL, "add", a.peer, NULL, NULL, NULL);
    check_run(&b, 0, "session up", NULL, "connect", "alice", NULL, NULL, NULL);
    check_run(&a, 0, "session up", NULL, "connect", "bob", NULL, NULL, NULL);
}

/* The member entry of peer in n's member list of room rid (new ref). */
static json_t *member(const harness_node *n, const char *rid, const char *peer)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/client/rooms/%s/members", rid);
    json_t *l = natter_api_get(n, path);
    json_t *hit = json_incref(harness_json_find(l, "members", "peer", peer));
    json_decref(l);
    return hit;
}

static bool bob_joined(void *arg)
{
    json_t *m = member(&a, arg, b.node_id);
    bool ok = m && !strcmp(json_string_value(json_object_get(m, "state")), "joined");
    json_decref(m);
    return ok;
}

typedef struct {
    const harness_node *n;
    const char *name, *topic;
} topic_arg;

/* n lists room name with topic. */
static bool topic_is(void *arg)
{
    topic_arg *x = arg;
    json_t *l = natter_api_get(x->n, "/v1/client/rooms");
    json_t *r = harness_json_find(l, "rooms", "name", x->name);
    bool ok = r && !strcmp(json_string_value(json_object_get(r, "topic")), x->topic);
    json_decref(l);
    return ok;
}

/* topic, members, whois, kick, leave, name, untrust: what the TUI's
 * slash commands do, from a script, checked against the node. */
START_TEST(room_and_peer_commands)
{
    natter_out o;
    char alice[32], bob[32], rid[64];
    snprintf(alice, sizeof alice, "alice~%.8s", a.node_id);
    snprintf(bob, sizeof bob, "bob~%.8s", b.node_id);
    meet();
    check_run(&a, 0, NULL, NULL, "create", "general", "--topic", "plans for\x1b[2J friday", NULL);
    snprintf(rid, sizeof rid, "%s", room_id(&a, "general", NULL));
    check_run(&a, 0, "  topic: plans for^[[2J friday\n", NULL, "rooms", NULL, NULL, NULL, NULL);
    check_run(&a, 0, "plans for^[[2J friday\n", NULL, "topic", "general", NULL, NULL, NULL);
    check_run(&a, 0, NULL, NULL, "invite", "general", "bob", NULL, NULL);
    wait_room(&b, "general", "invited");
    check_run(&b, 0, "joined general", NULL, "join", "general", NULL, NULL, NULL);
    ck_assert(harness_wait(bob_joined, rid, WAIT_MS));

    /* topic TEXT: the host changes it, its member's node is told */
    check_run(&a, 0, "topic of general set", NULL, "topic", "general", "saturday instead", NULL, NULL);
    check_run(&a, 0, "saturday instead\n", NULL, "topic", "general", NULL, NULL, NULL);
    topic_arg ta = {&b, "general", "saturday instead"};
    ck_assert_msg(harness_wait(topic_is, &ta, WAIT_MS), "bob never saw the new topic");
    check_run(&b, 0, "saturday instead\n", NULL, "topic", "general", NULL, NULL, NULL);
    check_run(&b, 1, NULL, "master", "topic", "general", "mine", NULL, NULL);
    ON(&a, &o, "topic", "general", "", "--json");
    natter_expect(&o, 0, NULL, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(o.json, "topic")), "");
    natter_out_free(&o);
    check_run(&a, 0, "general has no topic", NULL, "topic", "general", NULL, NULL, NULL);
    check_run(&a, 5, NULL, NULL, "topic", "nowhere", "x", NULL, NULL);

    /* members: labels from the node, the host as master; --json is its answer */
    ON(&a, &o, "members", "general");
    natter_expect(&o, 0, "MEMBER", NULL);
    ck_assert_msg(strstr(o.out, "?bob~") && strstr(o.out, "member") && strstr(o.out, "alice") &&
                  strstr(o.out, "master"), "members: %s", o.out);
    natter_out_free(&o);
    ON(&a, &o, "members", "general", "--json");
    natter_expect(&o, 0, NULL, NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(o.json, "members")), 2);
    natter_out_free(&o);

    /* whois, then trust and untrust: the label follows */
    ON(&a, &o, "whois", "bob");
    natter_expect(&o, 0, NULL, NULL);
    ck_assert_msg(strstr(o.out, bob) && strstr(o.out, "untrusted") && strstr(o.out, b.node_id) &&
                  strstr(o.out, "fingerprint"), "whois: %s", o.out);
    natter_out_free(&o);
    ON(&a, &o, "whois", "bob", "--json");
    ck_assert_str_eq(json_string_value(json_object_get(o.json, "id")), b.node_id);
    natter_out_free(&o);
    check_run(&a, 0, NULL, NULL, "trust", "bob", NULL, NULL, NULL);
    check_run(&a, 0, "bob (trusted)", NULL, "whois", "bob", NULL, NULL, NULL);
    check_run(&a, 0, bob, NULL, "untrust", "bob", NULL, NULL, NULL);
    json_t *p = natter_api_get(&a, "/v1/client/peers"), *e;
    size_t i;
    json_array_foreach(json_object_get(p, "peers"), i, e)
        ck_assert(json_is_false(json_object_get(e, "trusted")));
    json_decref(p);
    check_run(&a, 5, NULL, "no peer called", "untrust", "nobody", NULL, NULL, NULL);

    /* kick: only the host; the member is out and the key moves on */
    check_run(&b, 1, NULL, NULL, "kick", "general", "alice", NULL, NULL);
    check_run(&a, 0, "kicked bob", NULL, "kick", "general", "bob", NULL, NULL);
    json_t *m = member(&a, rid, b.node_id);
    ck_assert(!m || !strcmp(json_string_value(json_object_get(m, "state")), "kicked"));
    json_decref(m);

    /* leave an open room; the host cannot leave its own */
    check_run(&a, 0, NULL, NULL, "create", "town", "--access", "open", NULL);
    check_run(&b, 0, NULL, NULL, "join", "town", "--host", "alice", NULL);
    check_run(&b, 0, "left town", NULL, "leave", "town", NULL, NULL, NULL);
    ck_assert_str_ne(room_id(&b, "town", "left"), "");
    check_run(&a, 1, NULL, NULL, "leave", "town", NULL, NULL, NULL);

    /* name: the node's name changes */
    check_run(&a, 0, "now called alicia", NULL, "name", "alicia", NULL, NULL, NULL);
    json_t *st = natter_api_get(&a, "/v1/client/status");
    ck_assert_str_eq(json_string_value(json_object_get(st, "name")), "alicia");
    json_decref(st);
    check_run(&a, 1, NULL, NULL, "name", "", NULL, NULL, NULL);
    check_run(&a, 0, "Usage: natter whois PEER", NULL, "whois", "--help", NULL, NULL, NULL);
    check_run(&a, 0, "Exit status", NULL, "msg", "--help", NULL, NULL, NULL);
    (void)alice;
}
END_TEST

/* join by name, without --host: a peer's open room is found, several
 * are named with their hosts; a room left needs a new invitation; a
 * password room says whether the password is missing or wrong. */
START_TEST(join_by_name_and_refusals)
{
    harness_node c;
    ck_assert_int_eq(harness_start(&c, "carol", quiet), 0);
    char alice[32], carol[32], line[96];
    snprintf(alice, sizeof alice, "alice~%.8s", a.node_id);
    snprintf(carol, sizeof carol, "carol~%.8s", c.node_id);
    meet();
    check_run(&a, 0, NULL, NULL, "create", "lobby", "--access", "open", NULL);
    check_run(&b, 0, "joined lobby", NULL, "join", "lobby", NULL, NULL, NULL);
    ck_assert_str_ne(room_id(&b, "lobby", "joined"), "");

    /* two peers with a "town": refused, with both candidates */
    check_run(&b, 0, NULL, NULL, "add", c.peer, NULL, NULL, NULL);
    check_run(&c, 0, NULL, NULL, "add", b.peer, NULL, NULL, NULL);
    check_run(&b, 0, NULL, NULL, "connect", "carol", NULL, NULL, NULL);
    check_run(&a, 0, NULL, NULL, "create", "town", "--access", "open", NULL);
    check_run(&c, 0, NULL, NULL, "create", "town", "--access", "open", NULL);
    natter_out o;
    ON(&b, &o, "join", "town");
    natter_expect(&o, 5, NULL, "fits 2 rooms");
    snprintf(line, sizeof line, "town @ %s", alice);
    ck_assert_msg(strstr(o.err, line), "no %s in %s", line, o.err);
    snprintf(line, sizeof line, "town @ %s", carol);
    ck_assert_msg(strstr(o.err, line), "no %s in %s", line, o.err);
    natter_out_free(&o);
    check_run(&b, 0, "joined town", NULL, "join", "town", "--host", "carol", NULL);

    /* password: missing and wrong are told apart */
    check_run(&a, 0, NULL, NULL, "create", "vault", "--password", "open sesame", NULL);
    check_run(&b, 1, NULL, "vault needs a password: natter join vault --password PW", "join", "vault", NULL,
              NULL, NULL);
    snprintf(line, sizeof line, "wrong password for vault (ask %s", alice);
    check_run(&b, 1, NULL, line, "join", "vault", "--password", "guess", NULL);
    check_run(&b, 0, "joined vault", NULL, "join", "vault", "--password", "open sesame", NULL);

    /* an invite-only room left: its host must invite again */
    check_run(&a, 0, NULL, NULL, "create", "secret", NULL, NULL, NULL);
    check_run(&a, 0, NULL, NULL, "invite", "secret", "bob", NULL, NULL);
    wait_room(&b, "secret", "invited");
    check_run(&b, 0, NULL, NULL, "join", "secret", NULL, NULL, NULL);
    check_run(&b, 0, "left secret", NULL, "leave", "secret", NULL, NULL, NULL);
    snprintf(line, sizeof line, "you left secret; ask %s for a new invite", alice);
    check_run(&b, 1, NULL, line, "join", "secret", NULL, NULL, NULL);
    check_run(&b, 5, NULL, "no room called \"nowhere\"", "join", "nowhere", NULL, NULL, NULL);
    harness_cleanup(&c);
}
END_TEST

static size_t rooms_named(const harness_node *n, const char *name)
{
    json_t *l = natter_api_get(n, "/v1/client/rooms"), *r;
    size_t i, k = 0;
    json_array_foreach(json_object_get(l, "rooms"), i, r)
        k += !strcmp(json_string_value(json_object_get(r, "name")), name);
    json_decref(l);
    return k;
}

/* msg makes one conversation and both sides keep using it. */
START_TEST(msg_opens_and_reuses_a_conversation)
{
    meet();
    check_run(&a, 0, "to bob~", NULL, "msg", "bob", "hello bob", NULL, NULL);
    ck_assert_uint_eq(rooms_named(&a, "@bob"), 1);
    char rid[64];
    snprintf(rid, sizeof rid, "%s", room_id(&a, "@bob", "hosted"));
    ck_assert_str_ne(rid, "");
    check_run(&a, 0, "sent", NULL, "msg", "bob", "still there?", NULL, NULL);
    ck_assert_uint_eq(rooms_named(&a, "@bob"), 1);
    /* bob's side: alice's invitation to the conversation is taken, not a new room made */
    wait_room(&b, "@bob", "invited");
    check_run(&b, 0, "to alice~", NULL, "msg", "alice", "hi back", NULL, NULL);
    ck_assert_uint_eq(rooms_named(&b, "@alice"), 0);
    ck_assert_str_eq(room_id(&b, "@bob", "joined"), rid);
    ck_assert(harness_wait(bob_joined, rid, WAIT_MS));
    natter_proc p;
    ck_assert_int_eq(natter_spawn(&a, &p, "tail", "@bob", "-f", NULL), 0);
    ck_assert(natter_wait_output(&p, "> hello bob", WAIT_MS));
    ck_assert(natter_wait_output(&p, "> hi back", WAIT_MS));
    natter_stop(&p);
    /* bob reads from his invitation on: alice's first words too */
    ck_assert_int_eq(natter_spawn(&b, &p, "tail", "@bob", "-f", NULL), 0);
    ck_assert(natter_wait_output(&p, "> hello bob", WAIT_MS));
    ck_assert(natter_wait_output(&p, "<bob> hi back", WAIT_MS));
    natter_stop(&p);
    check_run(&a, 5, NULL, "no peer called", "msg", "nobody", "hi", NULL, NULL);
    check_run(&a, 2, NULL, "usage", "msg", NULL, NULL, NULL, NULL);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("client_conv");
    TCase *tc = tcase_create("twonodes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, room_and_peer_commands);
    tcase_add_test(tc, join_by_name_and_refusals);
    tcase_add_test(tc, msg_opens_and_reuses_a_conversation);
    suite_add_tcase(s, tc);
    return s;
}

