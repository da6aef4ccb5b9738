/* The full-screen client's model: a message shows once whichever way it
 * arrives (events, history, send reply), own messages move pending -> sent
 * or failed, unread counts, events become notices, and nothing a peer sends
 * can put a control character on the screen. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "client/ident.h"
#include "client/view.h"
#include "tests/test_main.h"

#define ME "aaaa000000000000000000000000000000000000000000000000000000000000"
#define BOB "bbbb000000000000000000000000000000000000000000000000000000000000"
#define EVE "ee11000000000000000000000000000000000000000000000000000000000000"
#define ROOM "0123456789abcdef0123456789abcdef"
#define ROOM2 "fedcba9876543210fedcba9876543210"

static view *v;

static void setup(void)
{
    ck_assert_int_eq(view_new(&v), NT_OK);
    snprintf(v->self, sizeof v->self, ME);
    json_t *peers = json_pack("[{s:s,s:s,s:b},{s:s,s:s,s:b}]", "id", BOB, "name", "bob", "trusted", 1,
                              "id", EVE, "name", "bob", "trusted", 0);
    json_decref(v->names);
    v->names = ident_map(peers, ME, "alice"); /* as an older node lists them: no labels */
    json_decref(peers);
    json_t *rooms = json_pack("[{s:s,s:s,s:s,s:s,s:s,s:i},{s:s,s:s,s:s,s:s,s:s,s:i}]",
                              "id", ROOM, "name", "general", "host", ME, "access", "invite",
                              "state", "hosted", "epoch", 1,
                              "id", ROOM2, "name", "random", "host", BOB, "access", "open",
                              "state", "joined", "epoch", 4);
    view_rooms(v, rooms);
    json_decref(rooms);
}

static void teardown(void)
{
    view_free(v);
}

static json_t *msg(long long seq, const char *sender, const char *text, const char *txn)
{
    json_t *m = json_pack("{s:I,s:s,s:I,s:s,s:i,s:s}", "seq", (json_int_t)seq, "sender", sender,
                          "ts", (json_int_t)1700000000000LL, "text", text, "epoch", 1,
                          "state", "verified");
    if (txn)
        json_object_set_new(m, "txn_id", json_string(txn));
    json_object_set_new(m, "mine", json_boolean(!strcmp(sender, ME)));
    return m;
}

START_TEST(test_rooms_make_windows)
{
    ck_assert_uint_eq(v->n, 3);
    ck_assert_str_eq(v->wins[0].name, "home");
    vwin *w = view_win(v, ROOM2);
    ck_assert_ptr_nonnull(w);
    ck_assert_str_eq(w->name, "random");
    ck_assert_int_eq(w->epoch, 4);
    ck_assert_str_eq(w->state, "joined");
    ck_assert_int_eq(view_find(v, "ran"), 2);
    ck_assert_int_eq(view_find(v, "2"), 2);
    ck_assert_int_eq(view_find(v, "0123"), 1);
    ck_assert_int_eq(view_find(v, "9"), -1);
    ck_assert_int_eq(view_find(v, "zzz"), -1);
}
END_TEST

START_TEST(test_message_once)
{
    vwin *w = view_win(v, ROOM);
    json_t *m = msg(1, BOB, "hi", NULL);
    view_message(v, w, m);
    view_message(v, w, m); /* pushed and polled */
    ck_assert_uint_eq(w->n, 1);
    ck_assert_int_eq(w->unread, 1); /* not the current window */
    ck_assert_str_eq(w->lines[0].text, "hi");
    ck_assert(!w->lines[0].mine);
    json_t *hist = json_pack("{s:[O,o],s:i,s:[]}", "messages", m, msg(2, BOB, "there", NULL),
                             "head", 2, "pending");
    view_history(v, w, hist);
    ck_assert_uint_eq(w->n, 2);
    ck_assert_int_eq(w->lines[1].seq, 2);
    view_switch(v, 1);
    ck_assert_int_eq(w->unread, 0);
    json_decref(m);
    json_decref(hist);
}
END_TEST

START_TEST(test_own_message_states)
{
    vwin *w = view_win(v, ROOM);
    view_pending(v, w, "txn1", "hello");
    ck_assert_str_eq(w->lines[0].state, "pending");
    json_t *e = json_pack("{s:s,s:s,s:s,s:i}", "room", ROOM, "txn_id", "txn1", "state", "sent",
                          "seq", 7);
    view_delivery(v, w, e);
    ck_assert_str_eq(w->lines[0].state, "sent");
    ck_assert_int_eq(w->lines[0].seq, 7);
    json_t *m = msg(7, ME, "hello", "txn1");
    view_message(v, w, m); /* the same message back from the feed */
    ck_assert_uint_eq(w->n, 1);
    ck_assert_int_eq(w->unread, 0);

    view_pending(v, w, "txn2", "lost");
    json_t *f = json_pack("{s:s,s:s,s:s}", "txn_id", "txn2", "state", "failed", "reason",
                          "host refused");
    view_delivery(v, w, f);
    ck_assert_str_eq(w->lines[1].state, "failed");
    ck_assert_str_eq(w->lines[1].reason, "host refused");
    json_decref(e);
    json_decref(m);
    json_decref(f);
}
END_TEST

START_TEST(test_history_keeps_pending_and_notices)
{
    vwin *w = view_win(v, ROOM);
    view_notice(v, w, false, "bob joined");
    view_pending(v, w, "t9", "queued");
    json_t *hist = json_pack("{s:[o],s:i,s:[{s:s,s:s,s:s,s:s}]}", "messages", msg(1, BOB, "old", NULL),
                             "head", 1, "pending", "room", ROOM, "txn_id", "t9", "state", "pending",
                             "text", "queued");
    view_history(v, w, hist);
    ck_assert_uint_eq(w->n, 3);
    ck_assert_int_eq(w->lines[0].kind, VL_NOTICE); /* keeps its place */
    ck_assert_str_eq(w->lines[1].text, "old");     /* before the unsequenced one */
    ck_assert_str_eq(w->lines[2].txn, "t9");
    ck_assert_str_eq(w->lines[2].state, "pending");
    json_decref(hist);
}
END_TEST

START_TEST(test_events)
{
    vwin *w = view_win(v, ROOM);
    json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:i}", "type", "membership", "room", ROOM, "peer", BOB,
                           "membership", "kicked", "ts", 1);
    ck_assert_ptr_nonnull(ev);
    ck_assert(view_event(v, ev)); /* membership: refetch the rooms */
    ck_assert_ptr_nonnull(strstr(w->lines[w->n - 1].text, "bob~bbbb0000 was kicked"));
    json_decref(ev);
    ev = json_pack("{s:s,s:s,s:i,s:i}", "type", "key_rotation", "room", ROOM, "epoch", 5, "ts", 1);
    ck_assert(!view_event(v, ev));
    ck_assert_int_eq(w->epoch, 5);
    ck_assert_ptr_nonnull(strstr(w->lines[w->n - 1].text, "epoch 5"));
    json_decref(ev);
    ev = json_pack("{s:s,s:s,s:o,s:i}", "type", "message", "room", ROOM2, "message",
                   msg(3, BOB, "yo", NULL), "ts", 1);
    view_event(v, ev);
    ck_assert_int_eq(view_win(v, ROOM2)->unread, 1);
    json_decref(ev);
    ev = json_pack("{s:s,s:s,s:s,s:s,s:i}", "type", "membership", "room", ROOM2, "peer", ME,
                   "membership", "kicked", "ts", 1);
    view_event(v, ev);
    vwin *w2 = view_win(v, ROOM2);
    ck_assert_int_eq(w2->lines[w2->n - 1].kind, VL_ERROR);
    ck_assert_ptr_nonnull(strstr(w2->lines[w2->n - 1].text, "you were removed"));
    json_decref(ev);
    /* a topic change: the window's topic and a notice with it */
    ev = json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s},s:i}", "type", "room", "room", ROOM, "change", "topic",
                   "room_info", "id", ROOM, "name", "general", "topic", "lunch at one", "state", "joined", "ts", 1);
    ck_assert(view_event(v, ev));
    ck_assert_str_eq(w->topic, "lunch at one");
    ck_assert_ptr_nonnull(strstr(w->lines[w->n - 1].text, "topic: lunch at one"));
    json_decref(ev);
    /* a message for a room not known yet opens a window for it */
    ev = json_pack("{s:s,s:s,s:o,s:i}", "type", "message", "room", "99999999999999999999999999999999",
                   "message", msg(1, BOB, "new", NULL), "ts", 1);
    view_event(v, ev);
    ck_assert_ptr_nonnull(view_win(v, "99999999999999999999999999999999"));
    json_decref(ev);
}
END_TEST

START_TEST(test_clean)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},
        {"\x1b[2Jwipe", "^[[2Jwipe"},
        {"bell\a", "bell^G"},
        {"c1\xc2\x9b" "31m", "c1<U+009B>31m"},
        {"tab\tnl\n", "tab nl "},
        {"bad\xff", "bad\\xFF"},
        {"日本", "日本"},
        {"\xe2\x80\xae" "gnp.exe", "<U+202E>gnp.exe"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *c = view_clean(cases[i].in);
        ck_assert_str_eq(c, cases[i].out);
        free(c);
    }
    vwin *w = view_win(v, ROOM);
    json_t *m = msg(1, BOB, "\x1b]0;pwned\x07", NULL);
    view_message(v, w, m);
    ck_assert_ptr_null(strchr(w->lines[0].text, 0x1b));
    json_decref(m);
}
END_TEST

/* Senders as the chat view names them: labels, and a mark on those who
 * are neither us nor trusted; a rename shows as a notice. */
START_TEST(test_who)
{
    vwin *w = view_win(v, ROOM);
    char buf[IDENT_LABEL_MAX + 2];
    bool doubtful;
    static const struct {
        const char *sender, *label, *trust, *who;
        bool doubtful;
    } c[] = {
        {ME, NULL, NULL, "alice", false},
        {BOB, NULL, NULL, "bob~bbbb0000", false},     /* trusted, but eve took the name too */
        {EVE, NULL, NULL, "?bob~ee110000", true},
        {"cc00", NULL, NULL, "?~cc00", true},     /* a member we have no peer row for */
        {"cc00", "carl~cc00", "unknown", "?carl~cc00", true}, /* the node's own words */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        json_t *m = msg((long long)i + 1, c[i].sender, "hi", NULL);
        if (c[i].label)
            json_object_set_new(m, "sender_label", json_string(c[i].label));
        if (c[i].trust)
            json_object_set_new(m, "sender_trust", json_string(c[i].trust));
        view_message(v, w, m);
        json_decref(m);
        ck_assert_str_eq(view_who(v, &w->lines[w->n - 1], buf, &doubtful), c[i].who);
        ck_assert_int_eq(doubtful, c[i].doubtful);
    }
    /* the old name as the node labelled it then, not bare: a stranger who
     * called itself "Alice" does not leave "Alice is now known as ..." */
    json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i}", "type", "peer_renamed", "peer", EVE, "old_name",
                           "bob", "old_label", "bob~ee11ee11", "name", "robert", "label", "robert~ee11ee11",
                           "trust", "untrusted", "ts", 1);
    ck_assert(view_event(v, ev));
    json_decref(ev);
    const char *notice = v->wins[0].lines[v->wins[0].n - 1].text;
    ck_assert_msg(strstr(notice, "bob~ee11ee11 is now known as robert~ee11ee11"), "%s", notice);
    ck_assert_str_eq(view_who(v, &w->lines[2], buf, &doubtful), "?robert~ee11ee11");
    /* an older node's event without labels: the rule gives them */
    ev = json_pack("{s:s,s:s,s:s,s:s}", "type", "peer_renamed", "peer", BOB, "old_name", "bob", "name",
                   "\x1b]52;c;eA==\x07rob");
    ck_assert(view_event(v, ev));
    json_decref(ev);
    notice = v->wins[0].lines[v->wins[0].n - 1].text;
    ck_assert_msg(strstr(notice, "bob~bbbb0000 is now known as ^[]52;c;eA==^Grob~bbbb0000"), "%s", notice);
    ck_assert_str_eq(view_who(v, &w->lines[1], buf, &doubtful), "\x1b]52;c;eA==\x07rob~bbbb0000"); /* raw: drawn through term.h */
}
END_TEST

START_TEST(test_line_cap)
{
    vwin *w = view_win(v, ROOM);
    for (int i = 0; i < VIEW_LINES_MAX + 50; i++) {
        json_t *m = msg(i, BOB, "x", NULL);
        view_message(v, w, m);
        json_decref(m);
    }
    ck_assert_uint_eq(w->n, VIEW_LINES_MAX);
    ck_assert_int_eq(w->lines[0].seq, 50);
}
END_TEST

/* Our line is shown at once, then moves to the seq the host gave it; it
 * keeps the time it was typed. */
START_TEST(test_own_line_takes_its_place)
{
    vwin *w = view_win(v, ROOM);
    json_t *m1 = msg(1, BOB, "first", NULL), *m3 = msg(3, EVE, "third", NULL);
    view_message(v, w, m1);
    view_pending(v, w, "mine", "second");
    snprintf(w->lines[1].time, sizeof w->lines[1].time, "09:41"); /* typed then */
    view_message(v, w, m3);                 /* another sender got seq 3 first */
    json_t *e = json_pack("{s:s,s:s,s:s,s:i}", "room", ROOM, "txn_id", "mine", "state", "sent",
                          "seq", 2);
    view_delivery(v, w, e);
    ck_assert_uint_eq(w->n, 3);
    ck_assert_str_eq(w->lines[0].text, "first");
    ck_assert_str_eq(w->lines[1].text, "second");
    ck_assert_str_eq(w->lines[2].text, "third");
    json_t *back = msg(2, ME, "second", "mine");
    view_message(v, w, back);               /* the host's copy, with its ts */
    ck_assert_uint_eq(w->n, 3);
    ck_assert_str_eq(w->lines[1].time, "09:41");
    /* a message seen live after a later one still goes to its place */
    json_t *m0 = msg(0, BOB, "zero", NULL);
    view_message(v, w, m0);
    ck_assert_str_eq(w->lines[0].text, "zero");
    json_decref(m0);
    json_decref(back);
    json_decref(e);
    json_decref(m1);
    json_decref(m3);
}
END_TEST

/* Older pages go above; a short page marks the room's start once. */
START_TEST(test_pages_reach_the_start)
{
    vwin *w = view_win(v, ROOM);
    json_t *newest = json_pack("{s:[o,o],s:i,s:[]}", "messages", msg(3, BOB, "c", NULL),
                               msg(4, BOB, "d", NULL), "head", 4, "pending");
    view_page(v, w, newest, 2);
    ck_assert(!w->at_start);
    ck_assert_int_eq(view_oldest(w), 3);
    w->scroll = 5;
    json_t *older = json_pack("{s:[o],s:i,s:[]}", "messages", msg(2, BOB, "b", NULL), "head", 4,
                              "pending");
    view_page(v, w, older, 2);
    ck_assert(w->at_start);
    ck_assert_int_eq(w->scroll, 5);
    ck_assert_uint_eq(w->n, 5);
    ck_assert_str_eq(w->lines[0].text, "-- start of room general --");
    ck_assert_str_eq(w->lines[1].text, "-- 1 earlier message cannot be read here (sent while you "
                                       "were away, or not readable with your keys) --");
    ck_assert_str_eq(w->lines[2].text, "b");
    ck_assert_str_eq(w->lines[4].text, "d");
    view_page(v, w, older, 2);
    ck_assert_uint_eq(w->n, 5);
    json_decref(newest);
    json_decref(older);
}
END_TEST

/* A window at its line cap stops asking for older pages. */
START_TEST(test_full_window_stops_paging)
{
    vwin *w = view_win(v, ROOM);
    for (int i = 0; i < VIEW_LINES_MAX; i++) {
        json_t *m = msg(1000 + i, BOB, "x", NULL);
        view_message(v, w, m);
        json_decref(m);
    }
    json_t *older = json_pack("{s:[o,o],s:i,s:[]}", "messages", msg(998, BOB, "a", NULL),
                              msg(999, BOB, "b", NULL), "head", 99999, "pending");
    view_page(v, w, older, 2);
    ck_assert(w->at_start);
    ck_assert_int_eq(view_oldest(w), 1001); /* the notice pushed the oldest out */
    ck_assert_ptr_nonnull(strstr(w->lines[w->n - 1].text, "natter tail general"));
    json_decref(older);
}
END_TEST

START_TEST(test_notices_not_doubled)
{
    vwin *w = view_win(v, ROOM);
    view_notice(v, w, false, "joined general");
    view_notice(v, w, false, "joined general");
    ck_assert_uint_eq(w->n, 1);
    /* the host's own /invite said "invited bob": the event adds nothing */
    json_t *ev = json_pack("{s:s,s:s,s:s,s:s}", "type", "membership", "room", ROOM, "peer", BOB,
                           "membership", "invited");
    view_event(v, ev);
    ck_assert_uint_eq(w->n, 1);
    json_decref(ev);
    /* our own join: the /join answer said it */
    ev = json_pack("{s:s,s:s,s:s,s:s}", "type", "membership", "room", ROOM, "peer", ME,
                   "membership", "joined");
    view_event(v, ev);
    ck_assert_uint_eq(w->n, 1);
    json_decref(ev);
    ev = json_pack("{s:s,s:s,s:s,s:s}", "type", "membership", "room", ROOM, "peer", ME,
                   "membership", "kicked");
    view_event(v, ev);
    ck_assert_uint_eq(w->n, 2);
    ck_assert_str_eq(w->lines[1].text, "you were removed from this room");
    json_decref(ev);
}
END_TEST

START_TEST(test_host_offline)
{
    vwin *w = view_win(v, ROOM2); /* hosted by bob */
    json_t *peers = json_pack("[{s:s,s:b}]", "id", BOB, "online", 0);
    view_peers(v, peers);
    ck_assert(w->host_down);
    ck_assert(!view_win(v, ROOM)->host_down); /* ours */
    ck_assert_ptr_nonnull(strstr(w->lines[w->n - 1].text, "is offline"));
    size_t n = w->n;
    view_peers(v, peers);
    ck_assert_uint_eq(w->n, n);
    json_decref(peers);
    peers = json_pack("[{s:s,s:b}]", "id", BOB, "online", 1);
    view_peers(v, peers);
    ck_assert(!w->host_down);
    ck_assert_ptr_nonnull(strstr(w->lines[w->n - 1].text, "online again"));
    json_decref(peers);
}
END_TEST

/* A messages answer with the seqs in s (spaces between), up to '|'; "hN"
 * is its head (the node's highest seq), 99 when not given. */
static json_t *page_of(const char *s)
{
    json_t *a = json_pack("{s:[],s:i,s:[]}", "messages", "head", 99, "pending");
    char *end;
    for (;;) {
        while (*s == ' ')
            s++;
        bool head = *s == 'h';
        long long q = strtoll(s + head, &end, 10);
        if (end == s + head)
            break;
        if (head)
            json_object_set_new(a, "head", json_integer(q));
        else
            json_array_append_new(json_object_get(a, "messages"), msg(q, BOB, "m", NULL));
        s = end;
    }
    return a;
}

/* The window as one string: a message by its seq, a gap marker [N] (above
 * the first message [N^]), the start of the room S, other notices N. */
static void shape(const vwin *w, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = 0;
    for (size_t i = 0; i < w->n && k < cap; i++) {
        const vmsg *l = &w->lines[i];
        if (l->kind == VL_MSG)
            k += (size_t)snprintf(out + k, cap - k, "%s%lld", k ? " " : "", l->seq);
        else if (l->kind == VL_GAP)
            k += (size_t)snprintf(out + k, cap - k, "%s[%lld%s]", k ? " " : "",
                                  strtoll(l->text + 3, NULL, 10), strstr(l->text, "earlier") ? "^" : "");
        else
            k += (size_t)snprintf(out + k, cap - k, "%s%s", k ? " " : "",
                                  strstr(l->text, "start of room") ? "S" : "N");
    }
}

/* Pages (newest first, '|' between) asked with limit, then live messages:
 * a marker wherever seqs the node's answers cover are missing, once. */
static const struct {
    const char *pages;
    int limit;
    const char *live;
    const char *want;
} gap_cases[] = {
    {"1 2 3", 50, "", "S 1 2 3"},
    {"1 2 5", 50, "", "S 1 2 [2] 5"},
    {"3 4 7", 3, "", "3 4 [2] 7"},
    {"3 4 7", 50, "", "S [2^] 3 4 [2] 7"},
    {"2", 50, "", "S [1^] 2"},
    {"1 5|1 5", 50, "5 1", "S 1 [3] 5"},
    {"1 2 5", 50, "4", "S 1 2 [1] 4 5"},
    {"1 2 6", 50, "4 3 5", "S 1 2 3 4 5 6"},
    {"1 2 6", 50, "5 3", "S 1 2 3 [1] 5 6"},
    {"1 2 3", 50, "6 5", "S 1 2 3 5 6"},
    {"8 9|2 4", 2, "", "2 [1] 4 [3] 8 9"},
    {"8 9|2 4|", 2, "", "S [1^] 2 [1] 4 [3] 8 9"},
    {"8 9|2 4|", 2, "3 7 5 6", "S [1^] 2 3 4 5 6 7 8 9"},
    {"", 50, "4 6", "S 4 6"}, /* nothing read: nothing known missing */
    {"4 6|2 5 6 7", 50, "", "S [1^] 2 [1] 4 5 6 7"}, /* history again after a rejoin */
    {"4 6 h6|4 6 9 10 h10", 50, "", "S [3^] 4 [1] 6 [2] 9 10"}, /* 7, 8 sent while away */
    /* apart: the newer range is kept; a full newest page again is no full window */
    {"4 6 h6|9 10 h12", 2, "", "4 6 9 10"},
};

START_TEST(test_gap_markers)
{
    vwin *w = view_win(v, ROOM);
    const char *p = gap_cases[_i].pages;
    char got[512];
    do {
        json_t *a = page_of(p);
        view_page(v, w, a, gap_cases[_i].limit);
        json_decref(a);
        p = strchr(p, '|');
    } while (p++);
    json_t *live = page_of(gap_cases[_i].live), *m;
    size_t i;
    json_array_foreach(json_object_get(live, "messages"), i, m)
        view_message(v, w, m);
    json_decref(live);
    shape(w, got, sizeof got);
    ck_assert_msg(!strcmp(got, gap_cases[_i].want), "case %d: got \"%s\", want \"%s\"", _i, got,
                  gap_cases[_i].want);
}
END_TEST

/* Our own message, sequenced late, fills its part of a gap. */
START_TEST(test_gap_filled_by_own_message)
{
    vwin *w = view_win(v, ROOM);
    char got[128];
    json_t *a = page_of("1 2 6");
    view_page(v, w, a, 50);
    view_pending(v, w, "t4", "mine");
    shape(w, got, sizeof got);
    ck_assert_str_eq(got, "S 1 2 [3] 6 -1");
    json_t *e = json_pack("{s:s,s:s,s:i}", "txn_id", "t4", "state", "sent", "seq", 4);
    view_delivery(v, w, e);
    shape(w, got, sizeof got);
    ck_assert_str_eq(got, "S 1 2 [1] 4 [1] 6");
    json_decref(e);
    json_decref(a);
}
END_TEST

/* A room joined again, or a live message after a jump, asks the history
 * again: what came while away shows, or its gap. */
START_TEST(test_rejoin_asks_history)
{
    vwin *w = view_win(v, ROOM2);
    w->history_asked = true;
    json_t *left = json_pack("[{s:s,s:s,s:s}]", "id", ROOM2, "name", "random", "state", "left");
    json_t *back = json_pack("[{s:s,s:s,s:s}]", "id", ROOM2, "name", "random", "state", "joined");
    view_rooms(v, back);
    ck_assert(w->history_asked); /* no change */
    view_rooms(v, left);
    ck_assert(w->history_asked);
    view_rooms(v, back);
    ck_assert(!w->history_asked);
    w->history_asked = true;
    json_t *a = page_of("1 2 h2");
    view_page(v, w, a, 50);
    json_t *ev = json_pack("{s:s,s:s,s:o}", "type", "message", "room", ROOM2, "message",
                           msg(3, BOB, "next", NULL));
    ck_assert(!view_event(v, ev)); /* the next seq: nothing to ask */
    ck_assert(w->history_asked);
    json_decref(ev);
    ev = json_pack("{s:s,s:s,s:o}", "type", "message", "room", ROOM2, "message", msg(7, BOB, "jump", NULL));
    ck_assert(view_event(v, ev)); /* 4 to 6 unknown: the history again */
    ck_assert(!w->history_asked);
    json_decref(ev);
    json_decref(a);
    json_decref(left);
    json_decref(back);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("view");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_rooms_make_windows);
    tcase_add_test(tc, test_message_once);
    tcase_add_test(tc, test_own_message_states);
    tcase_add_test(tc, test_history_keeps_pending_and_notices);
    tcase_add_test(tc, test_events);
    tcase_add_test(tc, test_clean);
    tcase_add_test(tc, test_line_cap);
    tcase_add_test(tc, test_who);
    tcase_add_test(tc, test_own_line_takes_its_place);
    tcase_add_test(tc, test_pages_reach_the_start);
    tcase_add_test(tc, test_full_window_stops_paging);
    tcase_add_test(tc, test_notices_not_doubled);
    tcase_add_test(tc, test_host_offline);
    tcase_add_test(tc, test_gap_filled_by_own_message);
    tcase_add_test(tc, test_rejoin_asks_history);
    tcase_add_loop_test(tc, test_gap_markers, 0, (int)(sizeof gap_cases / sizeof gap_cases[0]));
    suite_add_tcase(s, tc);
    return s;
}
