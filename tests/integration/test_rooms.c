/* Integration: rooms and messages between three (or four) real natterd
 * processes on loopback, through the client API only (what the terminal
 * client and curl users do): chat in one order with verified senders,
 * polling members, restarts and catch-up, the outbox across an outage,
 * kill -9 of the host during a burst, kick and rotation, refusals. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "rooms_util.h"
#include "tests/test_main.h"

#define WAIT_MS 30000

static harness_node A, B, C, D;


static long status_of(harness_node *n, const char *method, const char *path, const char *body)
{
    harness_resp r = {0};
    ck_assert_int_eq(harness_call(n, HARNESS_CLIENT, method, path, body, &r), 0);
    long s = r.status;
    harness_resp_free(&r);
    return s;
}

/* n learns m's address (fetches and pins its key). */
static void add_peer(harness_node *n, harness_node *m)
{
    char body[128];
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", m->peer);
    harness_resp r = {0};
    ck_assert_int_eq(harness_call(n, HARNESS_CLIENT, "POST", "/v1/client/peers", body, &r), 0);
    ck_assert_msg(r.status == 200 || r.status == 201, "add peer: %ld %s", r.status, r.body ? r.body : "");
    harness_resp_free(&r);
}

static void start3(void)
{
    ck_assert_int_eq(harness_start(&A, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(&B, "bob", NULL), 0);
    ck_assert_int_eq(harness_start(&C, "carol", NULL), 0);
    add_peer(&B, &A);
    add_peer(&C, &A);
    add_peer(&A, &B);
    add_peer(&A, &C);
}

/* Restart on the same peer port: the others know the node by address. */
static void restart_same_port(harness_node *n)
{
    char listen[80];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)n->peer_port);
    const char *args[] = {"--listen", listen, NULL};
    ck_assert_int_eq(harness_restart(n, args), 0);
}

static void teardown(void)
{
    harness_cleanup(&A);
    harness_cleanup(&B);
    harness_cleanup(&C);
    harness_cleanup(&D);
}

static char room[64];

static void create_and_join(const char *extra)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"lobby\",\"topic\":\"integration\"%s}", extra ? extra : "");
    json_t *j = call(&A, "POST", body, 201, "/v1/client/rooms");
    snprintf(room, sizeof room, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    harness_node *m[] = {&B, &C};
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof body, "{\"peer\":\"%s\"}", m[i]->node_id);
        json_decref(call(&A, "POST", body, 200, "/v1/client/rooms/%s/invite", room));
        snprintf(body, sizeof body, "{\"host\":\"%s\"}", A.node_id);
        j = call(m[i], "POST", body, 200, "/v1/client/rooms/%s/join", room);
        ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "joined");
        json_decref(j);
    }
}

static long send_msg(harness_node *n, const char *txn, const char *text)
{
    char path[256];
    json_t *b = json_pack("{s:s}", "text", text);
    char *s = json_dumps(b, 0);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/%s", room, txn);
    long st = status_of(n, "PUT", path, s);
    free(s);
    json_decref(b);
    return st;
}

static json_t *messages(harness_node *n)
{
    return call(n, "GET", NULL, 200, "/v1/client/rooms/%s/messages?after=0&limit=500", room);
}

typedef struct {
    harness_node *n;
    size_t want;
} count_arg;

static bool has_count(void *arg)
{
    count_arg *a = arg;
    char path[256];
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?after=0&limit=500", room);
    harness_resp r = {0};
    if (harness_get(a->n, HARNESS_CLIENT, path, &r) || r.status != 200) {
        harness_resp_free(&r);
        return false;
    }
    bool ok = json_array_size(json_object_get(r.json, "messages")) >= a->want;
    harness_resp_free(&r);
    return ok;
}

static void wait_count(harness_node *n, size_t want)
{
    count_arg a = {n, want};
    if (!harness_wait(has_count, &a, WAIT_MS)) {
        harness_dump_log(n);
        ck_abort_msg("%s did not reach %zu messages", n->name, want);
    }
}

/* seq 1..n contiguous, each once; returns the array (borrowed from j). */
static json_t *check_contiguous(json_t *j, size_t n)
{
    json_t *msgs = json_object_get(j, "messages");
    ck_assert_int_eq(json_array_size(msgs), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(msgs, i), "seq")), (json_int_t)i + 1);
    return msgs;
}

START_TEST(three_way_chat_same_order_verified)
{
    start3();
    create_and_join(NULL);
    harness_node *who[] = {&A, &B, &C, &B, &A, &C};
    char txn[16], text[64];
    for (int k = 0; k < 6; k++) {
        snprintf(txn, sizeof txn, "t%d", k);
        snprintf(text, sizeof text, "message %d from %.20s", k, who[k]->name);
        ck_assert_int_eq(send_msg(who[k], txn, text), 200);
    }
    harness_node *all[] = {&A, &B, &C};
    json_t *ref = NULL;
    for (int i = 0; i < 3; i++) {
        wait_count(all[i], 6);
        json_t *j = messages(all[i]);
        json_t *msgs = check_contiguous(j, 6);
        for (size_t k = 0; k < 6; k++) {
            json_t *m = json_array_get(msgs, k);
            ck_assert_str_eq(json_string_value(json_object_get(m, "state")), "verified");
            if (ref) { /* same order, text and sender everywhere */
                json_t *o = json_array_get(json_object_get(ref, "messages"), k);
                ck_assert_str_eq(json_string_value(json_object_get(m, "text")),
                                 json_string_value(json_object_get(o, "text")));
                ck_assert_str_eq(json_string_value(json_object_get(m, "sender")),
                                 json_string_value(json_object_get(o, "sender")));
            }
        }
        if (!ref)
            ref = j;
        else
            json_decref(j);
    }
    /* senders are the nodes that sent (per-node order kept: A's t0 before t4) */
    json_t *msgs = json_object_get(ref, "messages");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 0), "text")), "message 0 from alice");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 0), "sender")), A.node_id);
    json_decref(ref);
    /* members list: the three of them, for members only */
    json_t *j = call(&C, "GET", NULL, 200, "/v1/client/rooms/%s/members", room);
    ck_assert_int_eq(json_array_size(json_object_get(j, "members")), 3);
    json_decref(j);
}
END_TEST

typedef struct {
    harness_node *n;
    const char *type;
    char since[32];
} ev_arg;

START_TEST(poll_mode_and_restart_catch_up)
{
    start3();
    create_and_join(NULL);
    json_decref(call(&C, "POST", "{\"mode\":\"poll\"}", 200, "/v1/client/rooms/%s/delivery", room));
    json_t *j = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s/members", room);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(j, "members"), i, m) if (strcmp(json_string_value(json_object_get(m, "peer")),
                                                                       C.node_id) == 0)
        ck_assert_str_eq(json_string_value(json_object_get(m, "delivery")), "poll");
    json_decref(j);
    char txn[16];
    for (int k = 0; k < 4; k++) {
        snprintf(txn, sizeof txn, "p%d", k);
        ck_assert_int_eq(send_msg(k % 2 ? &B : &A, txn, "polled"), 200);
    }
    wait_count(&C, 4);
    /* C stopped while A and B talk, then restarted: catches up */
    ck_assert_int_eq(harness_stop(&C), 0);
    for (int k = 4; k < 10; k++) {
        snprintf(txn, sizeof txn, "p%d", k);
        ck_assert_int_eq(send_msg(k % 2 ? &B : &A, txn, "while C was away"), 200);
    }
    restart_same_port(&C);
    wait_count(&C, 10);
    j = messages(&C);
    check_contiguous(j, 10);
    json_decref(j);
    /* push mode again, then stop and restart: no gap, no duplicate */
    json_decref(call(&C, "POST", "{\"mode\":\"push\"}", 200, "/v1/client/rooms/%s/delivery", room));
    ck_assert_int_eq(harness_stop(&C), 0);
    for (int k = 10; k < 14; k++) {
        snprintf(txn, sizeof txn, "p%d", k);
        ck_assert_int_eq(send_msg(&B, txn, "pushed later"), 200);
    }
    restart_same_port(&C);
    wait_count(&C, 14);
    j = messages(&C);
    check_contiguous(j, 14);
    json_decref(j);
}
END_TEST

START_TEST(outbox_survives_host_outage_and_restart)
{
    start3();
    create_and_join(NULL);
    ck_assert_int_eq(send_msg(&B, "first", "before the outage"), 200);
    ck_assert_int_eq(harness_stop(&A), 0);
    ck_assert_int_eq(send_msg(&B, "o1", "one"), 202);
    ck_assert_int_eq(send_msg(&B, "o2", "two"), 202);
    ck_assert_int_eq(send_msg(&B, "o3", "three"), 202);
    json_t *j = messages(&B);
    json_t *pend = json_object_get(j, "pending");
    ck_assert_int_eq(json_array_size(pend), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(pend, 0), "state")), "pending");
    json_decref(j);
    /* B restarts while A is still away: the outbox is on disk */
    ck_assert_int_eq(harness_stop(&B), 0);
    restart_same_port(&B);
    j = messages(&B);
    ck_assert_int_eq(json_array_size(json_object_get(j, "pending")), 3);
    json_decref(j);
    restart_same_port(&A);
    wait_count(&A, 4);
    j = messages(&A);
    json_t *msgs = check_contiguous(j, 4);
    const char *want[] = {"before the outage", "one", "two", "three"};
    for (size_t k = 0; k < 4; k++)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, k), "text")), want[k]);
    json_decref(j);
    wait_count(&C, 4);
    /* a retried transaction id stores nothing new */
    ck_assert_int_eq(send_msg(&B, "o2", "two"), 200);
    ck_assert_int_eq(send_msg(&B, "o2", "something else"), 409);
    j = messages(&A);
    check_contiguous(j, 4);
    json_decref(j);
}
END_TEST

/* A backlog goes out in batches (at most 16 per request), in order: the
 * host's peer listener counts far fewer requests than messages. */
START_TEST(outbox_backlog_goes_in_batches)
{
    enum { N = 40 };
    start3();
    create_and_join(NULL);
    ck_assert_int_eq(harness_stop(&A), 0);
    char txn[16], text[32];
    for (int i = 0; i < N; i++) {
        snprintf(txn, sizeof txn, "bk%d", i);
        snprintf(text, sizeof text, "backlog %d", i);
        ck_assert_int_eq(send_msg(&B, txn, text), 202);
    }
    restart_same_port(&A);
    wait_count(&A, N);
    json_t *j = messages(&A);
    json_t *msgs = check_contiguous(j, N);
    for (int i = 0; i < N; i++) {
        snprintf(text, sizeof text, "backlog %d", i);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, (size_t)i), "text")), text);
    }
    json_decref(j);
    j = call(&A, "GET", NULL, 200, "/v1/client/status");
    json_int_t reqs = json_integer_value(json_object_get(json_object_get(json_object_get(j, "listeners"), "peer"),
                                                         "requests"));
    json_decref(j);
    ck_assert_msg(reqs < N - 10, "%lld peer requests for %d messages", (long long)reqs, N);
    wait_count(&C, N);
    j = messages(&C);
    check_contiguous(j, N);
    json_decref(j);
}
END_TEST

enum { BURST = 30, KILL_AFTER = 10 };

typedef struct {
    harness_node *n;
    const char *tag;
    json_int_t seq_of[BURST]; /* 0: not acknowledged (kept in the outbox) */
    int bad;                  /* answers other than 200/202 */
} burst_arg;

static atomic_int burst_acks;

static void *burst(void *arg)
{
    burst_arg *a = arg;
    char path[256], body[64];
    for (int k = 0; k < BURST; k++) {
        snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/%s%d", room, a->tag, k);
        snprintf(body, sizeof body, "{\"text\":\"%s %d\"}", a->tag, k);
        harness_resp r = {0};
        if (harness_call(a->n, HARNESS_CLIENT, "PUT", path, body, &r) == 0 && r.status == 200) {
            a->seq_of[k] = json_integer_value(json_object_get(r.json, "seq"));
            atomic_fetch_add(&burst_acks, 1);
        } else if (r.status != 202) {
            a->bad++;
        }
        harness_resp_free(&r);
    }
    return NULL;
}

static bool acks_reached(void *arg)
{
    return atomic_load(&burst_acks) >= *(int *)arg;
}

/* The host goes down while both members are sending (kill -9, or SIGTERM:
 * then it must exit cleanly, answering or refusing what is in flight);
 * after a restart every acknowledged message is there at its seq, and
 * every message exactly once. */
static void host_down_during_burst(bool sigterm)
{
    start3();
    create_and_join(NULL);
    burst_arg ab = {.n = &B, .tag = "b"}, ac = {.n = &C, .tag = "c"};
    pthread_t tb, tc;
    atomic_store(&burst_acks, 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, burst, &ab), 0);
    ck_assert_int_eq(pthread_create(&tc, NULL, burst, &ac), 0);
    int kill_at = KILL_AFTER;
    ck_assert(harness_wait(acks_reached, &kill_at, WAIT_MS));
    if (sigterm)
        ck_assert_int_eq(harness_stop(&A), 0);
    else
        harness_kill(&A);
    pthread_join(tb, NULL);
    pthread_join(tc, NULL);
    ck_assert_int_eq(ab.bad, 0);
    ck_assert_int_eq(ac.bad, 0);
    if (!sigterm)
        ck_assert_int_lt(atomic_load(&burst_acks), 2 * BURST); /* some were caught by the kill */
    restart_same_port(&A);
    wait_count(&A, 2 * BURST);
    json_t *j = messages(&A);
    json_t *msgs = check_contiguous(j, 2 * BURST);
    /* every acknowledged message is there at the seq it was given, and
     * every message is there exactly once */
    burst_arg *args[] = {&ab, &ac};
    for (int s = 0; s < 2; s++) {
        for (int k = 0; k < BURST; k++) {
            char text[32];
            snprintf(text, sizeof text, "%s %d", args[s]->tag, k);
            int found = 0;
            for (size_t i = 0; i < 2 * BURST; i++) {
                json_t *m = json_array_get(msgs, i);
                if (strcmp(json_string_value(json_object_get(m, "text")), text) == 0) {
                    found++;
                    if (args[s]->seq_of[k])
                        ck_assert_int_eq(json_integer_value(json_object_get(m, "seq")), args[s]->seq_of[k]);
                }
            }
            ck_assert_msg(found == 1, "%s found %d times", text, found);
        }
    }
    json_decref(j);
}

START_TEST(kill_host_during_burst)
{
    host_down_during_burst(false);
}
END_TEST

START_TEST(stop_host_during_burst)
{
    host_down_during_burst(true);
}
END_TEST

START_TEST(kick_rotates_and_excludes)
{
    start3();
    create_and_join(NULL);
    ck_assert_int_eq(send_msg(&A, "k1", "everyone"), 200);
    wait_count(&C, 1);
    char body[128];
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", C.node_id);
    json_t *j = call(&A, "POST", body, 200, "/v1/client/rooms/%s/kick", room);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 2);
    json_decref(j);
    /* B may not hold the epoch-2 key yet: a message it sealed under epoch 1
     * gets 409 stale_epoch (no grace after a removal), so it is resealed
     * and sent from the outbox (202) */
    int st = send_msg(&B, "k2", "after the kick");
    ck_assert_msg(st == 200 || st == 202, "B's send after the kick: %d", st);
    ck_assert_int_eq(send_msg(&A, "k3", "still here"), 200);
    wait_count(&B, 3);
    j = call(&B, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 2);
    json_decref(j);
    /* C: told it is out, holds no epoch-2 key, reads nothing new */
    for (int k = 0; k < 200; k++) {
        j = call(&C, "GET", NULL, 200, "/v1/client/rooms/%s", room);
        bool kicked = strcmp(json_string_value(json_object_get(j, "state")), "kicked") == 0;
        if (kicked)
            ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 1);
        json_decref(j);
        if (kicked)
            break;
        usleep(50 * 1000);
    }
    j = call(&C, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "kicked");
    json_decref(j);
    j = messages(&C);
    ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 1);
    json_decref(j);
    ck_assert_int_eq(send_msg(&C, "k4", "let me in"), 403);
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", A.node_id);
    ck_assert_int_eq(status_of(&C, "POST", "/v1/client/rooms/x/join", body), 404);
    char path[128];
    snprintf(path, sizeof path, "/v1/client/rooms/%s/join", room);
    ck_assert_int_eq(status_of(&C, "POST", path, body), 403);
    j = messages(&A);
    check_contiguous(j, 3);
    json_decref(j);
}
END_TEST

START_TEST(rotation_after_small_n)
{
    start3();
    create_and_join(",\"rotate_messages\":3");
    char txn[16];
    harness_node *who[] = {&A, &B, &C};
    for (int k = 0; k < 7; k++) {
        snprintf(txn, sizeof txn, "r%d", k);
        ck_assert_int_eq(send_msg(who[k % 3], txn, "rotating"), 200);
    }
    for (int i = 0; i < 3; i++) {
        wait_count(who[i], 7);
        json_t *j = messages(who[i]);
        json_t *msgs = check_contiguous(j, 7);
        ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(msgs, 6), "epoch")), 3);
        json_decref(j);
    }
    json_t *j = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s", room);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 3);
    json_decref(j);
}
END_TEST

START_TEST(refusals_change_nothing)
{
    start3();
    create_and_join(NULL);
    ck_assert_int_eq(harness_start(&D, "dave", NULL), 0);
    add_peer(&D, &A);
    add_peer(&A, &D);
    ck_assert_int_eq(send_msg(&B, "x1", "members only"), 200);
    /* a non-member: cannot join an invite-only room, read, write or list */
    char body[128], path[128];
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", A.node_id);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/join", room);
    long st = status_of(&D, "POST", path, body);
    ck_assert_msg(st == 404 || st == 403, "join: %ld", st);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages", room);
    ck_assert_int_eq(status_of(&D, "GET", path, NULL), 404);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/members", room);
    ck_assert_int_eq(status_of(&D, "GET", path, NULL), 404);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/x2", room);
    ck_assert_int_eq(status_of(&D, "PUT", path, "{\"text\":\"hi\"}"), 404);
    /* only the master invites, kicks and rekeys */
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", D.node_id);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/invite", room);
    ck_assert_int_eq(status_of(&B, "POST", path, body), 403);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/rekey", room);
    ck_assert_int_eq(status_of(&B, "POST", path, NULL), 403);
    /* oversized text, malformed JSON, bad txn id */
    char *big = malloc(16384 + 64);
    memset(big, 'x', 16384 + 64);
    memcpy(big, "{\"text\":\"", 9);
    memcpy(big + 16384 + 10, "\"}", 3);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/big", room);
    ck_assert_int_eq(status_of(&B, "PUT", path, big), 413);
    free(big);
    ck_assert_int_eq(status_of(&B, "PUT", path, "{\"text\":"), 400);
    ck_assert_int_eq(status_of(&B, "PUT", path, "{\"text\":5}"), 400);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/bad%%20id", room);
    ck_assert_int_eq(status_of(&B, "PUT", path, "{\"text\":\"x\"}"), 400);
    /* nothing changed at the host */
    json_t *j = messages(&A);
    check_contiguous(j, 1);
    json_decref(j);
    j = call(&A, "GET", NULL, 200, "/v1/client/rooms/%s/members", room);
    ck_assert_int_eq(json_array_size(json_object_get(j, "members")), 3);
    json_decref(j);
}
END_TEST

START_TEST(events_long_poll)
{
    start3();
    create_and_join(NULL);
    json_t *j = call(&C, "GET", NULL, 200, "/v1/client/events?since=now");
    char since[32];
    snprintf(since, sizeof since, "%s", json_string_value(json_object_get(j, "next")));
    json_decref(j);
    ck_assert_int_eq(send_msg(&B, "e1", "wake up"), 200);
    bool seen = false;
    for (int round = 0; round < 20 && !seen; round++) {
        j = call(&C, "GET", NULL, 200, "/v1/client/events?since=%s&wait=5", since);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(j, "events"), i, e) {
            if (strcmp(json_string_value(json_object_get(e, "type")), "message") == 0) {
                json_t *m = json_object_get(e, "message");
                ck_assert_str_eq(json_string_value(json_object_get(m, "text")), "wake up");
                ck_assert_str_eq(json_string_value(json_object_get(m, "sender")), B.node_id);
                seen = true;
            }
        }
        snprintf(since, sizeof since, "%s", json_string_value(json_object_get(j, "next")));
        json_decref(j);
    }
    ck_assert(seen);
}
END_TEST

/* The README's curl walk-through, run with curl itself: A creates a room,
 * invites B and C, they join, all three send, all three read the same
 * log. The script prints each node's message list as one JSON line. */
static const char curl_script[] =
    "set -eu\n"
    "api() { t=$1; shift; curl -sf -H \"Authorization: Bearer $t\" -H 'Content-Type: application/json' \"$@\"; }\n"
    "id_of() { sed -n 's/.*\"id\":\"\\([0-9a-f]\\{32\\}\\)\".*/\\1/p'; }\n"
    "api $TB -d \"{\\\"address\\\": \\\"$PA\\\"}\" $NB/v1/client/peers >/dev/null\n"
    "api $TC -d \"{\\\"address\\\": \\\"$PA\\\"}\" $NC/v1/client/peers >/dev/null\n"
    "api $TA -d \"{\\\"address\\\": \\\"$PB\\\"}\" $NA/v1/client/peers >/dev/null\n"
    "api $TA -d \"{\\\"address\\\": \\\"$PC\\\"}\" $NA/v1/client/peers >/dev/null\n"
    "ROOM=$(api $TA -d '{\"name\": \"lobby\", \"topic\": \"lunch plans\"}' $NA/v1/client/rooms | id_of)\n"
    "api $TA -d \"{\\\"peer\\\": \\\"$IB\\\"}\" $NA/v1/client/rooms/$ROOM/invite >/dev/null\n"
    "api $TA -d \"{\\\"peer\\\": \\\"$IC\\\"}\" $NA/v1/client/rooms/$ROOM/invite >/dev/null\n"
    "api $TB -d \"{\\\"host\\\": \\\"$IA\\\"}\" $NB/v1/client/rooms/$ROOM/join >/dev/null\n"
    "api $TC -d \"{\\\"host\\\": \\\"$IA\\\"}\" $NC/v1/client/rooms/$ROOM/join >/dev/null\n"
    "api $TA -X PUT -d '{\"text\": \"hello from alice\"}' $NA/v1/client/rooms/$ROOM/messages/m1 >/dev/null\n"
    "api $TB -X PUT -d '{\"text\": \"hello from bob\"}' $NB/v1/client/rooms/$ROOM/messages/m1 >/dev/null\n"
    "api $TC -X PUT -d '{\"text\": \"hello from carol\"}' $NC/v1/client/rooms/$ROOM/messages/m1 >/dev/null\n"
    "for pair in \"$TA $NA\" \"$TB $NB\" \"$TC $NC\"; do\n"
    "  set -- $pair\n"
    "  for i in $(seq 300); do\n"
    "    out=$(api $1 \"$2/v1/client/rooms/$ROOM/messages?after=0&limit=50\")\n"
    "    case $out in *'\"seq\":3'*) break;; esac\n"
    "    sleep 0.05\n"
    "  done\n"
    "  echo \"$out\"\n"
    "done\n";

START_TEST(curl_readme_scenario)
{
    ck_assert_int_eq(harness_start(&A, "alice", NULL), 0);
    ck_assert_int_eq(harness_start(&B, "bob", NULL), 0);
    ck_assert_int_eq(harness_start(&C, "carol", NULL), 0);
    char script[PATH_MAX], cmd[8192];
    snprintf(script, sizeof script, "%s/readme.sh", A.dir);
    FILE *f = fopen(script, "w");
    ck_assert_ptr_nonnull(f);
    fputs(curl_script, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "TA=%s NA=%s PA=%s IA=%s TB=%s NB=%s PB=%s IB=%s TC=%s NC=%s PC=%s IC=%s bash %s", A.token, A.client_url,
             A.peer, A.node_id, B.token, B.client_url, B.peer, B.node_id, C.token, C.client_url, C.peer, C.node_id,
             script);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[16384];
    json_t *lists[3] = {0};
    for (int i = 0; i < 3 && fgets(line, sizeof line, p); i++)
        lists[i] = json_loads(line, 0, NULL);
    ck_assert_int_eq(pclose(p), 0);
    const char *senders[] = {A.node_id, B.node_id, C.node_id};
    for (int i = 0; i < 3; i++) {
        ck_assert_ptr_nonnull(lists[i]);
        json_t *msgs = check_contiguous(lists[i], 3);
        for (size_t k = 0; k < 3; k++) {
            json_t *m = json_array_get(msgs, k), *ref = json_array_get(json_object_get(lists[0], "messages"), k);
            ck_assert_str_eq(json_string_value(json_object_get(m, "text")),
                             json_string_value(json_object_get(ref, "text")));
            ck_assert_str_eq(json_string_value(json_object_get(m, "sender")),
                             json_string_value(json_object_get(ref, "sender")));
            ck_assert_str_eq(json_string_value(json_object_get(m, "state")), "verified");
        }
    }
    /* each text carries its sender's name: the verified sender matches it */
    for (size_t k = 0; k < 3; k++) {
        json_t *m = json_array_get(json_object_get(lists[0], "messages"), k);
        const char *text = json_string_value(json_object_get(m, "text"));
        int who = strstr(text, "alice") ? 0 : strstr(text, "bob") ? 1 : 2;
        ck_assert_str_eq(json_string_value(json_object_get(m, "sender")), senders[who]);
    }
    for (int i = 0; i < 3; i++)
        json_decref(lists[i]);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("rooms");
    TCase *tc = tcase_create("rooms");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, three_way_chat_same_order_verified);
    tcase_add_test(tc, poll_mode_and_restart_catch_up);
    tcase_add_test(tc, outbox_survives_host_outage_and_restart);
    tcase_add_test(tc, outbox_backlog_goes_in_batches);
    tcase_add_test(tc, kill_host_during_burst);
    tcase_add_test(tc, stop_host_during_burst);
    tcase_add_test(tc, kick_rotates_and_excludes);
    tcase_add_test(tc, rotation_after_small_n);
    tcase_add_test(tc, refusals_change_nothing);
    tcase_add_test(tc, events_long_poll);
    tcase_add_test(tc, curl_readme_scenario);
    suite_add_tcase(s, tc);
    return s;
}
