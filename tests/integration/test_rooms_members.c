/* Integration: membership changes reach every member promptly, and a host
 * reaches members it never added itself. Real natterd processes on
 * loopback, client API only.
 *
 * "Promptly" is checked against a bound (MEMBER_WAIT_MS) well under the
 * members' 30 s resync poll (ROOM_RESYNC_MS), so it is the host's push of
 * the change (push-mode members) or the early answer of the long poll
 * (poll-mode members) that delivers it, not the periodic catch-up. Events
 * are read before any members list is asked for on a member, since asking
 * fetches the list from the host and would produce the event itself.
 *
 * The one-way introduction runs twice: members listening on 127.0.0.1
 * like the host, and on 127.0.0.2 / 127.0.0.3, where the host must record
 * the address the member listens on, not just the one its calls came
 * from. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "rooms_util.h"
#include "tests/test_main.h"

#define MEMBER_WAIT_MS 10000 /* well under ROOM_RESYNC_MS (30 s) */

static harness_node A, B, C, D;
static char room[64];


static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* n learns m's address (fetches and pins its key), as `natter add` does. */
static void teardown(void)
{
    harness_cleanup(&A);
    harness_cleanup(&B);
    harness_cleanup(&C);
    harness_cleanup(&D);
}

/* Stop every node that runs: a clean exit (no sanitizer report, no leak). */
static void stop_all(void)
{
    harness_node *all[] = {&A, &B, &C, &D};
    for (int i = 0; i < 4; i++)
        if (all[i]->pid)
            ck_assert_msg(harness_stop(all[i]) == 0, "%s did not exit cleanly", all[i]->name);
}

static void create_room(void)
{
    json_t *j = call(&A, "POST", "{\"name\":\"lobby\"}", 201, "/v1/client/rooms");
    snprintf(room, sizeof room, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
}

/* A invites m, m joins with the given delivery mode. */
static void invite_join(harness_node *m, const char *delivery)
{
    char body[160];
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", m->node_id);
    json_decref(call(&A, "POST", body, 200, "/v1/client/rooms/%s/invite", room));
    snprintf(body, sizeof body, "{\"host\":\"%s\",\"delivery\":\"%s\"}", A.node_id, delivery);
    json_t *j = call(m, "POST", body, 200, "/v1/client/rooms/%s/join", room);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "joined");
    json_decref(j);
}

/* The events token of "now" on n. */
static void events_now(harness_node *n, char tok[static 32])
{
    json_t *j = call(n, "GET", NULL, 200, "/v1/client/events?since=now");
    snprintf(tok, 32, "%s", json_string_value(json_object_get(j, "next")));
    json_decref(j);
}

/* Wait (long-polling n's events from tok, at most timeout_ms) for a
 * membership event about peer with the given membership in our room.
 * Moves tok on. Returns the milliseconds it took, -1 if it did not come. */
static long wait_membership(harness_node *n, char tok[static 32], const char *peer, const char *membership,
                            long timeout_ms)
{
    long start = now_ms();
    while (now_ms() - start < timeout_ms) {
        json_t *j = call(n, "GET", NULL, 200, "/v1/client/events?since=%s&wait=1", tok);
        snprintf(tok, 32, "%s", json_string_value(json_object_get(j, "next")));
        size_t i;
        json_t *e;
        bool seen = false;
        json_array_foreach(json_object_get(j, "events"), i, e) {
            const char *type = json_string_value(json_object_get(e, "type"));
            const char *r = json_string_value(json_object_get(e, "room"));
            const char *p = json_string_value(json_object_get(e, "peer"));
            const char *m = json_string_value(json_object_get(e, "membership"));
            seen |= type && r && p && m && !strcmp(type, "membership") && !strcmp(r, room) && !strcmp(p, peer) &&
                    !strcmp(m, membership);
        }
        json_decref(j);
        if (seen)
            return now_ms() - start;
    }
    return -1;
}

static void expect_membership(harness_node *n, char tok[static 32], harness_node *who, const char *membership)
{
    long ms = wait_membership(n, tok, who->node_id, membership, MEMBER_WAIT_MS);
    if (ms < 0) {
        harness_dump_log(n);
        harness_dump_log(&A);
    }
    ck_assert_msg(ms >= 0, "%s did not see %s %s within %d ms", n->name, who->name, membership, MEMBER_WAIT_MS);
    fprintf(stderr, "%s saw %s %s after %ld ms\n", n->name, who->name, membership, ms);
}

/* The state of peer in n's members list of our room ("" if not listed). */
static void member_state(harness_node *n, harness_node *peer, char out[static 16])
{
    json_t *j = call(n, "GET", NULL, 200, "/v1/client/rooms/%s/members", room);
    json_t *m = harness_json_find(j, "members", "peer", peer->node_id);
    snprintf(out, 16, "%s", m ? json_string_value(json_object_get(m, "state")) : "");
    json_decref(j);
}

static void start_nodes(int n)
{
    harness_node *all[] = {&A, &B, &C, &D};
    const char *names[] = {"alice", "bob", "carol", "dave"};
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(harness_start(all[i], names[i], NULL), 0);
    for (int i = 1; i < n; i++) {
        rooms_add_peer(all[i], &A);
        rooms_add_peer(&A, all[i]);
    }
}

/* Joins, leaves and kicks of C as B sees them, B in the given mode; the
 * kicked C hears of nothing after its kick (D's join is the witness). */
static void membership_changes_reach(const char *b_mode)
{
    char tb[32], tc[32], st[16];
    start_nodes(4);
    create_room();
    invite_join(&B, b_mode);
    events_now(&B, tb);
    invite_join(&C, "push");
    expect_membership(&B, tb, &C, "joined");
    member_state(&B, &C, st);
    ck_assert_str_eq(st, "joined");

    json_decref(call(&C, "POST", "{}", 200, "/v1/client/rooms/%s/leave", room));
    expect_membership(&B, tb, &C, "left");
    member_state(&B, &C, st);
    ck_assert_str_eq(st, ""); /* the client list shows joined and invited only */

    invite_join(&C, "push");
    expect_membership(&B, tb, &C, "joined");
    char body[160];
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", C.node_id);
    json_decref(call(&A, "POST", body, 200, "/v1/client/rooms/%s/kick", room));
    expect_membership(&B, tb, &C, "kicked");
    member_state(&B, &C, st);
    ck_assert_str_eq(st, "");

    /* C is told it is out, then nothing more */
    events_now(&C, tc);
    long start = now_ms();
    json_t *j = NULL;
    for (;;) {
        j = call(&C, "GET", NULL, 200, "/v1/client/rooms/%s", room);
        if (!strcmp(json_string_value(json_object_get(j, "state")), "kicked") || now_ms() - start > MEMBER_WAIT_MS)
            break;
        json_decref(j);
        j = NULL;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "kicked");
    json_decref(j);
    events_now(&C, tc);
    invite_join(&D, "push");
    expect_membership(&B, tb, &D, "joined"); /* the round that told B would have told C */
    j = call(&C, "GET", NULL, 200, "/v1/client/events?since=%s", tc);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "events"), i, e) ck_abort_msg(
        "kicked C got an event: %s %s", json_string_value(json_object_get(e, "type")),
        json_string_value(json_object_get(e, "peer")) ? json_string_value(json_object_get(e, "peer")) : "");
    json_decref(j);
    json_decref(call(&C, "GET", NULL, 403, "/v1/client/rooms/%s/members", room));
    member_state(&A, &D, st); /* D did join: there was something to withhold */
    ck_assert_str_eq(st, "joined");
    stop_all();
}

START_TEST(membership_changes_pushed_to_members)
{
    membership_changes_reach("push");
}
END_TEST

START_TEST(membership_changes_reach_poll_mode_members)
{
    membership_changes_reach("poll");
}
END_TEST

/* n holds at least want messages (has_count), or A's cursor for n is at
 * least want (cursor_at). */
typedef struct {
    harness_node *n;
    size_t want;
} count_arg;

static bool has_count(void *arg)
{
    count_arg *a = arg;
    char path[256];
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?after=0&limit=50", room);
    harness_resp r = {0};
    bool ok = harness_get(a->n, HARNESS_CLIENT, path, &r) == 0 && r.status == 200 &&
              json_array_size(json_object_get(r.json, "messages")) >= a->want;
    harness_resp_free(&r);
    return ok;
}

static bool cursor_at(void *arg)
{
    count_arg *a = arg;
    char path[256];
    snprintf(path, sizeof path, "/v1/client/rooms/%s/members", room);
    harness_resp r = {0};
    bool ok = false;
    size_t i;
    json_t *m;
    if (harness_get(&A, HARNESS_CLIENT, path, &r) == 0 && r.status == 200)
        json_array_foreach(json_object_get(r.json, "members"), i, m) if (
            !strcmp(json_string_value(json_object_get(m, "peer")), a->n->node_id)) ok =
            json_integer_value(json_object_get(m, "cursor")) >= (json_int_t)a->want;
    harness_resp_free(&r);
    return ok;
}

static bool is_invited(void *arg)
{
    harness_node *n = arg;
    char path[256];
    snprintf(path, sizeof path, "/v1/client/rooms/%s", room);
    harness_resp r = {0};
    bool ok = harness_get(n, HARNESS_CLIENT, path, &r) == 0 && r.status == 200 &&
              !strcmp(json_string_value(json_object_get(r.json, "state")) ?: "", "invited");
    harness_resp_free(&r);
    return ok;
}

static void send_text(harness_node *n, const char *txn, const char *text)
{
    char body[128];
    snprintf(body, sizeof body, "{\"text\":\"%s\"}", text);
    json_decref(call(n, "PUT", body, 200, "/v1/client/rooms/%s/messages/%s", room, txn));
}

/* Only B and C add A; A never adds them. Their handshakes tell A where
 * they listen, and that is all A needs to invite them and push to them. */
static void one_way_intro(const char *b_listen, const char *c_listen)
{
    const char *bargs[] = {"--listen", b_listen, NULL}, *cargs[] = {"--listen", c_listen, NULL};
    ck_assert_int_eq(harness_start(&A, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(&B, "bob", bargs), 0);
    ck_assert_int_eq(harness_start(&C, "carol", cargs), 0);
    harness_node *m[] = {&B, &C};
    for (int i = 0; i < 2; i++) {
        rooms_add_peer(m[i], &A);
        json_decref(call(m[i], "POST", "{}", 200, "/v1/client/peers/%s/connect", A.node_id));
        /* A now knows the member, at the address its handshake gave */
        json_t *j = call(&A, "GET", NULL, 200, "/v1/client/peers/%s", m[i]->node_id);
        json_t *addrs = json_object_get(j, "addresses");
        const char *addr = json_string_value(json_object_get(j, "address"));
        if (!addr && json_array_size(addrs))
            addr = json_string_value(json_array_get(addrs, 0));
        ck_assert_msg(addr && !strcmp(addr, m[i]->peer), "A has %s at %s, it listens on %s", m[i]->name,
                      addr ? addr : "(none)", m[i]->peer);
        json_decref(j);
    }
    create_room();
    char body[160];
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof body, "{\"peer\":\"%s\"}", m[i]->node_id);
        json_decref(call(&A, "POST", body, 200, "/v1/client/rooms/%s/invite", room));
    }
    for (int i = 0; i < 2; i++) { /* the invite itself is a push from A */
        ck_assert_msg(harness_wait(is_invited, m[i], MEMBER_WAIT_MS), "%s never got the invite", m[i]->name);
        snprintf(body, sizeof body, "{\"host\":\"%s\"}", A.node_id);
        json_decref(call(m[i], "POST", body, 200, "/v1/client/rooms/%s/join", room));
    }
    long start = now_ms();
    send_text(&A, "a1", "hello from the host");
    for (int i = 0; i < 2; i++) {
        count_arg a = {m[i], 1};
        ck_assert_msg(harness_wait(has_count, &a, MEMBER_WAIT_MS), "%s did not get A's message", m[i]->name);
        /* the host's cursor for the member moved: the push was taken */
        ck_assert_msg(harness_wait(cursor_at, &a, MEMBER_WAIT_MS), "A's cursor for %s did not move", m[i]->name);
    }
    fprintf(stderr, "one-way introduction: pushed to both members in %ld ms\n", now_ms() - start);
    /* a member's message reaches the other member through the host */
    send_text(&B, "b1", "hello from bob");
    count_arg a = {&C, 2};
    ck_assert(harness_wait(has_count, &a, MEMBER_WAIT_MS));
    a.want = 2;
    ck_assert(harness_wait(cursor_at, &a, MEMBER_WAIT_MS));
    json_t *j = call(&C, "GET", NULL, 200, "/v1/client/rooms/%s/messages?after=0", room);
    json_t *msgs = json_object_get(j, "messages");
    ck_assert_int_eq(json_array_size(msgs), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 0), "sender")), A.node_id);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 1), "sender")), B.node_id);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 1), "state")), "verified");
    json_decref(j);
    stop_all();
}

/* Whether n's events after tok hold an event of the given type about our
 * room, of peer (NULL: any) with membership (NULL: any). */
static bool has_event(harness_node *n, const char *tok, const char *type, const char *peer, const char *membership)
{
    json_t *j = call(n, "GET", NULL, 200, "/v1/client/events?since=%s", tok);
    size_t i;
    json_t *e;
    bool seen = false;
    json_array_foreach(json_object_get(j, "events"), i, e) {
        const char *t = json_string_value(json_object_get(e, "type"));
        const char *r = json_string_value(json_object_get(e, "room"));
        const char *p = json_string_value(json_object_get(e, "peer"));
        const char *m = json_string_value(json_object_get(e, "membership"));
        seen |= t && r && !strcmp(t, type) && !strcmp(r, room) && (!peer || (p && !strcmp(p, peer))) &&
                (!membership || (m && !strcmp(m, membership)));
    }
    json_decref(j);
    return seen;
}

/* How long a request of A's to the stopped C may take to show: a push C
 * took just before it stopped (one A sent before t1) holds A's round for
 * A's 5 s push timeout; A's next push to C then waits unread. */
#define HELD_PUSH_WAIT_MS (5000 + MEMBER_WAIT_MS)

/* Whether a request waits unread on a loopback TCP connection to *port
 * (a stopped node's peer port: a call to it is on its way), from the
 * receive queues in /proc/net/tcp. */
static bool request_waits_at(void *arg)
{
    unsigned want = *(const uint16_t *)arg;
    FILE *f = fopen("/proc/net/tcp", "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned port = 0, st = 0;
        unsigned long tx = 0, rx = 0;
        if (sscanf(line, " %*u: %*x:%x %*x:%*x %x %lx:%lx", &port, &st, &tx, &rx) == 4)
            found = port == want && st == 1 /* ESTABLISHED */ && rx > 0;
    }
    fclose(f);
    return found;
}

/* Whether the last message n holds of our room says text. */
typedef struct {
    harness_node *n;
    const char *text;
} text_arg;

static bool last_text_is(void *arg)
{
    text_arg *a = arg;
    json_t *j = call(a->n, "GET", NULL, 0, "/v1/client/rooms/%s/messages?after=0&limit=50", room);
    json_t *msgs = json_object_get(j, "messages");
    json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    bool ok = last && !strcmp(json_string_value(json_object_get(last, "text")) ?: "", a->text);
    json_decref(j);
    return ok;
}

/* B is kicked and invited again before A's next push reaches it: A's push
 * round waits on C, which is stopped (SIGSTOP) with A's notify unread in
 * its socket, while A takes both changes. B must end up invited, and its
 * user told both that it was removed and that it is invited again. (A
 * member kicked while it is down and invited before it comes back polls
 * at its start, learns of the kick from the 403 and then takes the
 * invitation: it is the push that meets a member still joined that lost
 * the invitation.) */
START_TEST(kick_then_invite_before_the_push_reaches_member)
{
    char tb[32], body[160];
    start_nodes(3);
    create_room();
    invite_join(&B, "push");
    invite_join(&C, "push");
    events_now(&B, tb);
    /* all of C stopped before A has anything new for it: kill() returns
     * before C's threads stop, and one still running could take A's push
     * of t1 and answer it, leaving A nothing to send C */
    ck_assert_msg(harness_pause(&C) == 0, "C did not stop");
    json_decref(call(&A, "PUT", "{\"text\":\"one\"}", 200, "/v1/client/rooms/%s/messages/t1", room));
    /* A's round is out and waits for C (up to its 5 s timeout) */
    ck_assert_msg(harness_wait(request_waits_at, &C.peer_port, HELD_PUSH_WAIT_MS), "A sent C nothing");
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", B.node_id);
    json_decref(call(&A, "POST", body, 200, "/v1/client/rooms/%s/kick", room));
    json_decref(call(&A, "POST", body, 200, "/v1/client/rooms/%s/invite", room));
    ck_assert_int_eq(harness_resume(&C), 0);
    if (!rooms_wait_state(&B, room, "invited", MEMBER_WAIT_MS)) {
        harness_dump_log(&B);
        harness_dump_log(&A);
        json_t *j = call(&B, "GET", NULL, 200, "/v1/client/rooms/%s", room);
        ck_abort_msg("B never saw its new invitation: its room is %s",
                     json_string_value(json_object_get(j, "state")));
    }
    ck_assert_msg(has_event(&B, tb, "membership", B.node_id, "kicked"), "B's user was not told of the kick");
    ck_assert_msg(has_event(&B, tb, "invite", NULL, NULL), "B's user was not told of the invitation");
    /* the invitation is a real one: B joins and reads what A writes next */
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", A.node_id);
    json_t *j = call(&B, "POST", body, 200, "/v1/client/rooms/%s/join", room);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "joined");
    json_decref(j);
    json_decref(call(&A, "PUT", "{\"text\":\"two\"}", 200, "/v1/client/rooms/%s/messages/t2", room));
    text_arg two = {&B, "two"};
    ck_assert_msg(harness_wait(last_text_is, &two, MEMBER_WAIT_MS), "B did not get A's message after its join");
    stop_all();
}
END_TEST

START_TEST(host_pushes_to_members_it_never_added)
{
    one_way_intro("127.0.0.1:0", "127.0.0.1:0");
}
END_TEST

START_TEST(host_pushes_to_members_on_other_addresses)
{
    one_way_intro("127.0.0.2:0", "127.0.0.3:0");
}
END_TEST

/* ---- the host's budget of joins per peer ------------------------------ */

#define JOIN_BURST 10     /* --join-rate's default: 10 a minute, in bursts of 10 */
#define JOIN_CYCLES_MAX 40 /* join/leave rounds C tries: the default budget ends them within a dozen */

static json_int_t room_epoch(harness_node *n)
{
    json_t *j = call(n, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    json_int_t e = json_integer_value(json_object_get(j, "epoch"));
    json_decref(j);
    return e;
}

static json_int_t rooms_counter(harness_node *n, const char *field)
{
    json_t *j = call(n, "GET", NULL, 200, "/v1/client/status");
    json_t *v = json_object_get(json_object_get(j, "rooms"), field);
    ck_assert_msg(json_is_integer(v), "status has no rooms.%s", field);
    json_int_t i = json_integer_value(v);
    json_decref(j);
    return i;
}

/* n's user joins our room on A: the status; with 429 the error code must
 * be rate_limited and *retry gets the Retry-After header in seconds. */
static long join_room(harness_node *n, long *retry)
{
    char body[160], path[160], hv[32];
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", A.node_id);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/join", room);
    harness_resp r = {0};
    ck_assert_int_eq(harness_call(n, HARNESS_CLIENT, "POST", path, body, &r), 0);
    long st = r.status;
    *retry = 0;
    if (st == 429) {
        ck_assert_str_eq(harness_error_code(&r), "rate_limited");
        ck_assert_ptr_nonnull(harness_resp_header(&r, "Retry-After", hv, sizeof hv));
        *retry = atol(hv);
        ck_assert_int_eq(json_integer_value(json_object_get(r.json, "retry_after")), *retry);
    }
    harness_resp_free(&r);
    return st;
}

typedef struct {
    harness_node *n;
    json_int_t epoch;
} epoch_arg;

static bool epoch_reached(void *arg)
{
    epoch_arg *e = arg;
    return room_epoch(e->n) >= e->epoch;
}

/* A member of an open room who joins and leaves in a loop makes the host
 * rotate the key at each leave, and every other member open each new key:
 * past the host's budget of joins for that peer its joins are refused 429
 * rate_limited with Retry-After, before anything is done, so the epoch
 * stops moving. The other members are not touched, and another peer still
 * joins. */
START_TEST(join_leave_loop_rate_limited)
{
    start_nodes(4);
    json_t *j = call(&A, "POST", "{\"name\":\"lobby\",\"access\":\"open\"}", 201, "/v1/client/rooms");
    snprintf(room, sizeof room, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    long retry = 0, st = 0;
    ck_assert_int_eq(join_room(&B, &retry), 200);

    int joins = 0;
    for (int i = 0; i < JOIN_CYCLES_MAX; i++) {
        st = join_room(&C, &retry);
        if (st != 200)
            break;
        joins++;
        json_decref(call(&C, "POST", "{}", 200, "/v1/client/rooms/%s/leave", room));
    }
    fprintf(stderr, "C joined and left %d times, then %ld (Retry-After %ld)\n", joins, st, retry);
    ck_assert_msg(st == 429, "C joined and left %d times and was never refused (last status %ld)", joins, st);
    ck_assert_int_ge(joins, JOIN_BURST); /* a burst of ordinary joins is never refused */
    ck_assert_int_le(joins, JOIN_BURST + 1); /* one more may have come in during the loop */
    ck_assert_int_ge(retry, 1);
    ck_assert_int_le(retry, 60);

    /* refused joins change nothing on the host: no member row, no epoch */
    json_int_t epoch = room_epoch(&A);
    ck_assert_int_ge(epoch, 1 + joins); /* one rotation per leave */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(join_room(&C, &retry), 429);
    ck_assert_int_eq(room_epoch(&A), epoch);
    char state[16];
    member_state(&A, &C, state);
    ck_assert_str_eq(state, "");
    ck_assert_int_ge(rooms_counter(&A, "joins_rate_limited"), 4);
    ck_assert_int_eq(rooms_counter(&B, "joins_rate_limited"), 0);

    /* B holds the last key and talks as before */
    epoch_arg e = {&B, epoch};
    ck_assert_msg(harness_wait(epoch_reached, &e, MEMBER_WAIT_MS), "B did not reach epoch %lld", (long long)epoch);
    send_text(&B, "b1", "still here");
    count_arg a = {&A, 1};
    ck_assert(harness_wait(has_count, &a, MEMBER_WAIT_MS));
    /* another peer's join is its own */
    ck_assert_int_eq(join_room(&D, &retry), 200);
    member_state(&A, &D, state);
    ck_assert_str_eq(state, "joined");
    ck_assert_int_eq(room_epoch(&A), epoch);
    stop_all();
}
END_TEST

/* ---- no grace for the previous epoch after a kick -------------------- */

/* The epoch of message txn in node n's copy of our room (0 when n does
 * not hold it verified). */
static json_int_t msg_epoch(harness_node *n, const char *txn)
{
    json_t *j = call(n, "GET", NULL, 200, "/v1/client/rooms/%s/messages?after=0&limit=50", room);
    json_t *m = harness_json_find(j, "messages", "txn_id", txn);
    json_int_t e = 0;
    if (m && !strcmp(json_string_value(json_object_get(m, "state")) ?: "", "verified"))
        e = json_integer_value(json_object_get(m, "epoch"));
    json_decref(j);
    return e;
}

/* Does a->n hold message a->txn, verified? */
typedef struct {
    harness_node *n;
    const char *txn;
} msg_arg;

static bool msg_there(void *arg)
{
    msg_arg *a = arg;
    return msg_epoch(a->n, a->txn) > 0;
}

/* A member that has not yet received the key of a kick's rotation seals
 * under the epoch before it, which the kicked member holds. The host
 * takes nothing under that epoch after a removal (no grace): it answers
 * stale_epoch, and the member fetches the key, reseals and sends again,
 * so the message is delivered to every member under the new epoch (D,
 * which stayed up, is the witness; the kicked C is not sent it).
 *
 * B is away at the kick, and A away when B comes back, so B's message is
 * sealed before B can hear of the rotation; B comes back on a new port,
 * so that A's pushes (to the port B had) do not reach it: B hears of the
 * rotation only through its own calls, and its outbox goes first once A
 * is back (a handshake makes it due at once). */
START_TEST(message_sealed_before_a_kick_is_resealed)
{
    start_nodes(4);
    create_room();
    invite_join(&B, "push");
    invite_join(&C, "push");
    invite_join(&D, "push"); /* stays up throughout: the witness of delivery */
    epoch_arg e1 = {&B, 1};
    ck_assert(harness_wait(epoch_reached, &e1, MEMBER_WAIT_MS));

    ck_assert_int_eq(harness_stop(&B), 0);
    char body[160];
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", C.node_id);
    json_t *j = call(&A, "POST", body, 200, "/v1/client/rooms/%s/kick", room);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 2);
    json_decref(j);
    ck_assert_int_eq(harness_stop(&A), 0);

    ck_assert_int_eq(harness_restart(&B, NULL), 0); /* a new peer port */
    ck_assert_int_eq(room_epoch(&B), 1);            /* A is away: B cannot have the new key */
    json_decref(call(&B, "PUT", "{\"text\":\"sealed before B heard of the kick\"}", 202,
                     "/v1/client/rooms/%s/messages/b1", room));

    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)A.peer_port);
    const char *args[] = {"--listen", listen, NULL};
    ck_assert_int_eq(harness_restart(&A, args), 0);
    json_decref(call(&B, "POST", "{}", 200, "/v1/client/peers/%s/connect", A.node_id)); /* A is back */

    msg_arg on_a = {&A, "b1"}, on_d = {&D, "b1"};
    if (!harness_wait(msg_there, &on_a, MEMBER_WAIT_MS) || !harness_wait(msg_there, &on_d, MEMBER_WAIT_MS)) {
        harness_dump_log(&A);
        harness_dump_log(&B);
        ck_abort_msg("B's message did not reach A and D within %d ms", MEMBER_WAIT_MS);
    }
    ck_assert_int_eq(msg_epoch(&A, "b1"), 2);
    ck_assert_int_eq(msg_epoch(&D, "b1"), 2);
    ck_assert_int_eq(room_epoch(&B), 2);
    j = call(&B, "PUT", "{\"text\":\"sealed before B heard of the kick\"}", 200, "/v1/client/rooms/%s/messages/b1",
             room);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "sent");
    json_decref(j);
    stop_all();
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("rooms_members");
    TCase *tc = tcase_create("rooms_members");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, membership_changes_pushed_to_members);
    tcase_add_test(tc, membership_changes_reach_poll_mode_members);
    tcase_add_test(tc, host_pushes_to_members_it_never_added);
    tcase_add_test(tc, host_pushes_to_members_on_other_addresses);
    suite_add_tcase(s, tc);
    TCase *tk = tcase_create("kick_reinvite"); /* its own case: CK_RUN_CASE=kick_reinvite runs it alone */
    tcase_add_checked_fixture(tk, NULL, teardown);
    tcase_set_timeout(tk, 120);
    tcase_add_test(tk, kick_then_invite_before_the_push_reaches_member);
    suite_add_tcase(s, tk);
    TCase *tj = tcase_create("join_budget");
    tcase_add_checked_fixture(tj, NULL, teardown);
    tcase_set_timeout(tj, 240);
    tcase_add_test(tj, join_leave_loop_rate_limited);
    suite_add_tcase(s, tj);
    TCase *tg = tcase_create("removal_grace");
    tcase_add_checked_fixture(tg, NULL, teardown);
    tcase_set_timeout(tg, 120);
    tcase_add_test(tg, message_sealed_before_a_kick_is_resealed);
    suite_add_tcase(s, tg);
    return s;
}
