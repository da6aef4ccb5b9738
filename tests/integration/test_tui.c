/* Integration: the full-screen client under tmux, two real nodes.
 *
 * Alice (node A) and Bob (node B) each run `natter` in a detached tmux
 * session of a fixed size on a private tmux socket; the test types with
 * send-keys and reads the screens with capture-pane, waiting (bounded) for
 * text to appear. A creates a room and invites B, B joins, both talk and
 * see each other's messages; /rekey and /kick show on both screens; the
 * terminal is resized; A's node is stopped while the client runs (a clear
 * DISCONNECTED state) and restarted (the client finds it again). The final
 * screens are written to $BUILD/tui-session.txt for the README. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "harness_natter.h"
#include "tests/test_main.h"

#define COLS_START 100
#define ROWS_START 24
#define SCREEN_WAIT_MS 20000
#define POLL_MS 100
#define OUTBOX_WAIT_MS 90000
#define CMD_MAX 2048
/* tmux target: the active pane of the session named exactly %s. A bare
 * "-t b" is tried first as a window of the most recent session, by the
 * start of its name too, and only then as a session; a new window is
 * called "bash" until tmux renames it after the program its shell runs
 * (at most every 500 ms), so keys meant for session b went to c. */
#define PANE "=%s:"

static harness_node a, b, c;
static char sock[64];
static const char *const quiet[] = {"--no-discovery", NULL};

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
    char cmd[CMD_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static char *capture(const char *s)
{
    char cmd[256], *buf = NULL;
    size_t len = 0;
    snprintf(cmd, sizeof cmd, "tmux -L %s capture-pane -p -t " PANE " 2>/dev/null", sock, s);
    FILE *p = popen(cmd, "r");
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while (p && (n = fread(chunk, 1, sizeof chunk, p)) > 0)
        fwrite(chunk, 1, n, m);
    if (p)
        pclose(p);
    fclose(m);
    return buf;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait until the screen of session s shows text; fail with the screen. */
static void see_within(const char *s, const char *text, int timeout_ms)
{
    char *scr = NULL;
    for (int waited = 0; waited <= timeout_ms; waited += POLL_MS) {
        free(scr);
        scr = capture(s);
        if (scr && strstr(scr, text)) {
            free(scr);
            return;
        }
        sleep_ms(POLL_MS);
    }
    ck_abort_msg("screen %s never showed \"%s\"; it shows:\n%s", s, text, scr ? scr : "(nothing)");
}

static void see(const char *s, const char *text)
{
    see_within(s, text, SCREEN_WAIT_MS);
}

static bool screen_has(const char *s, const char *text)
{
    char *scr = capture(s);
    bool hit = scr && strstr(scr, text);
    free(scr);
    return hit;
}

/* How often text shows in the chat area of s (above the status line). */
static int screen_count(const char *s, const char *text)
{
    char *scr = capture(s), *save = NULL;
    int n = 0, y = 0;
    for (char *l = scr ? strtok_r(scr, "\n", &save) : NULL; l && y < ROWS_START - 2;
         l = strtok_r(NULL, "\n", &save), y++)
        for (const char *p = l; (p = strstr(p, text)); p += strlen(text))
            n++;
    free(scr);
    return n;
}

/* Row y (0-based) of session s holds text. */
static bool row_has(const char *s, int y, const char *text)
{
    char *scr = capture(s), *save = NULL;
    bool hit = false;
    int i = 0;
    for (char *l = scr ? strtok_r(scr, "\n", &save) : NULL; l && !hit; l = strtok_r(NULL, "\n", &save), i++)
        hit = i == y && strstr(l, text);
    free(scr);
    return hit;
}

/* Type a line (literally) and Enter. text must not contain a single quote. */
static void type(const char *s, const char *text)
{
    ck_assert_ptr_null(strchr(text, '\''));
    ck_assert_int_eq(sh("tmux -L %s send-keys -t " PANE " -l '%s'", sock, s, text), 0);
    ck_assert_int_eq(sh("tmux -L %s send-keys -t " PANE " Enter", sock, s), 0);
}

/* A detached session s running cmd (no single quotes in it). */
static void new_session(const char *s, const char *cmd)
{
    ck_assert_ptr_null(strchr(cmd, '\''));
    ck_assert_int_eq(sh("tmux -L %s -f /dev/null new-session -d -s %s -x %d -y %d '%s'", sock, s, COLS_START,
                        ROWS_START, cmd), 0);
}

static void start_client(const char *s, const harness_node *n)
{
    const char *bin = getenv("NATTER") ? getenv("NATTER") : "build/natter";
    char cmd[PATH_MAX + 128];
    snprintf(cmd, sizeof cmd, "env LANG=C.UTF-8 LC_ALL=C.UTF-8 %s --data-dir %s", bin, n->data_dir);
    new_session(s, cmd);
}

static void add_peer(const harness_node *to, const harness_node *peer)
{
    char body[160];
    harness_resp r;
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", peer->peer);
    ck_assert_int_eq(harness_post(to, HARNESS_CLIENT, "/v1/client/peers", body, &r), 0);
    ck_assert_msg(r.status == 200 || r.status == 201, "add peer: %ld %s", r.status, r.body);
    harness_resp_free(&r);
}

static void kill_tmux(void)
{
    sh("tmux -L %s kill-server >/dev/null 2>&1", sock);
}

/* A failed check ends the test's process with _exit: no atexit, no
 * teardown. So the socket is the runner's (named in test_setup), a test
 * starts by ending a server a failed one left, and the runner ends the
 * last one after each case (unchecked teardown), with its clients. */
static void setup_tmux(void)
{
    kill_tmux();
}

static void setup(void)
{
    setup_tmux();
    ck_assert_int_eq(harness_start(&a, "alice", quiet), 0);
    ck_assert_int_eq(harness_start(&b, "bob", quiet), 0);
    add_peer(&a, &b);
    add_peer(&b, &a);
}

static void teardown(void)
{
    kill_tmux();
    harness_cleanup(&a);
    harness_cleanup(&b);
    harness_cleanup(&c);
}

/* The first capture of a run (fresh) truncates the file; Check runs each
 * test in its own process, so this cannot be a static counter. */
static void save_session(const char *title, const char *s, bool fresh)
{
    const char *dir = getenv("BUILD");
    char path[512];
    snprintf(path, sizeof path, "%s/tui-session.txt", dir ? dir : "build");
    FILE *f = fopen(path, fresh ? "w" : "a");
    if (!f)
        return;
    char *scr = capture(s);
    fprintf(f, "==== %s\n%s\n", title, scr ? scr : "");
    free(scr);
    fclose(f);
}

START_TEST(two_users_talk)
{
    char bob[96], alice[96], line[256];
    snprintf(bob, sizeof bob, "bob~%.8s", b.node_id); /* neither trusts the other yet */
    snprintf(alice, sizeof alice, "alice~%.8s", a.node_id);
    start_client("a", &a);
    start_client("b", &b);
    see("a", "[connected]");
    see("b", "[connected]");
    see("a", "[peers 1/1 online]");

    type("a", "/create lobby");
    see("a", "created room lobby");
    see("a", "lobby  [invite, hosted, epoch 1, host alice]");
    type("a", "/invite bob");
    snprintf(line, sizeof line, "invited %s", bob);
    see("a", line);
    snprintf(line, sizeof line, "%s (untrusted) invited you to room lobby: /join lobby", alice);
    see("b", line);
    type("b", "/join lobby");
    see("b", "joined lobby");
    see("b", "lobby  [invite, joined");
    snprintf(line, sizeof line, "%s joined", bob);
    see("a", line);
    /* each said once: no echo of the invitation or of Bob's own join */
    ck_assert(!screen_has("a", "was invited"));
    ck_assert_int_eq(screen_count("b", "joined lobby"), 1);
    ck_assert(!screen_has("b", "you joined"));

    /* an untrusted sender is marked and named with its id */
    type("a", "hello bob, ünïcödé ✓ 日本");
    snprintf(line, sizeof line, "<?%s> hello bob, ünïcödé ✓ 日本", alice);
    see("b", line);
    see("a", "<alice> hello bob, ünïcödé ✓ 日本  [sent]");
    type("b", "hi alice");
    snprintf(line, sizeof line, "<?%s> hi alice", bob);
    see("a", line);
    see("b", "<bob> hi alice  [sent]");

    /* input line editing: Left twice, Backspace, then Home and a prefix */
    ck_assert_int_eq(sh("tmux -L %s send-keys -t =b: -l 'typo'", sock), 0);
    ck_assert_int_eq(sh("tmux -L %s send-keys -t =b: Left Left BSpace Home", sock), 0);
    ck_assert_int_eq(sh("tmux -L %s send-keys -t =b: -l 'no '", sock), 0);
    ck_assert_int_eq(sh("tmux -L %s send-keys -t =b: Enter", sock), 0);
    snprintf(line, sizeof line, "<?%s> no tpo", bob);
    see("a", line);
    /* history: Up brings the last line back */
    ck_assert_int_eq(sh("tmux -L %s send-keys -t =b: Up", sock), 0);
    see("b", "[lobby] no tpo");
    ck_assert_int_eq(sh("tmux -L %s send-keys -t =b: C-u", sock), 0);

    /* unread counts and Alt+N: Bob looks at home while Alice writes */
    ck_assert_int_eq(sh("tmux -L %s send-keys -t =b: M-0", sock), 0);
    see("b", "[home]");
    type("a", "while you were away");
    see("b", "1 lobby (1)");
    ck_assert_int_eq(sh("tmux -L %s send-keys -t =b: M-1", sock), 0);
    snprintf(line, sizeof line, "<?%s> while you were away", alice);
    see("b", line);
    ck_assert(!screen_has("b", "lobby (1)"));

    /* peers: fingerprint, trust, whois */
    type("a", "/peers");
    see("a", "untrusted online  seen just now");
    type("a", "/trust bob");
    snprintf(line, sizeof line, "trusted %s", bob);
    see("a", line);
    /* trusted, and the only bob: the plain name, no mark, on the lines already shown too */
    snprintf(line, sizeof line, "<bob> no tpo");
    see("a", line);
    type("a", "/whois bob");
    see("a", "fingerprint");
    see("a", "trusted        true");
    see("a", "last_seen      just now"); /* readable: relative times, no JSON */
    ck_assert(!screen_has("a", "{\""));
    ck_assert(!screen_has("a", "[\""));

    /* the host goes away: Bob's message waits in his node's outbox as
     * pending and turns sent once the host is back (same peer port, which
     * Bob's node knows; a new client port, which Alice's client finds) */
    char listen[80];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)a.peer_port);
    ck_assert_int_eq(harness_stop(&a), 0);
    see("a", "DISCONNECTED");
    type("b", "queued while the host is away");
    see("b", "queued while the host is away  [pending]");
    const char *same_port[] = {"--listen", listen, "--no-discovery", NULL};
    ck_assert_int_eq(harness_restart(&a, same_port), 0);
    see("a", "connected to natterd again");
    /* the outbox retries with exponential backoff (250 ms doubling): allow
     * for a retry scheduled while the host was still starting */
    see_within("b", "queued while the host is away  [sent]", OUTBOX_WAIT_MS);
    see("a", "<bob> queued while the host is away");

    type("a", "/members");
    see("a", "2 members:");
    type("a", "/rekey");
    see("a", "new room key: epoch 2");
    see("b", "room key rotated: now epoch 2");
    save_session("alice, after /rekey", "a", true);
    save_session("bob, after /rekey", "b", false);

    type("a", "/kick bob");
    see("a", "kicked bob; the room key is now epoch 3");
    see("a", "bob was kicked");
    see("b", "you were removed from this room");
    see("b", "[invite, kicked");

    /* an unknown command or peer: shown in the status area, no crash */
    type("a", "/whois nobody");
    see("a", "no peer called \"nobody\"");
    type("a", "/frob");
    see("a", "unknown command /frob");

    /* an open room: listed by /rooms on Bob's side, joined by name and
     * host, left again */
    type("a", "/create side open");
    see("a", "created room side (open)");
    type("b", "/rooms");
    see("b", "joinable");
    type("b", "/join side alice");
    see("b", "joined side");
    see("a", "bob joined");
    type("b", "/leave");
    see("b", "you left side");
    see("a", "bob left");
}
END_TEST

/* The screen of session s has exactly rows lines, none wider than cols,
 * the status bar on the second last and the prompt on the last. */
static bool fits(const char *s, int cols, int rows, const char *status, const char *prompt)
{
    char *scr = capture(s), *save = NULL;
    int n = 0;
    bool ok = scr != NULL, st = false, pr = false;
    for (char *l = scr ? strtok_r(scr, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
        n++;
        size_t w = 0;
        for (const unsigned char *p = (const unsigned char *)l; *p; p++)
            w += (*p & 0xC0) != 0x80; /* characters; all one column here */
        ok &= (int)w <= cols;
        if (n == rows - 1)
            st = strstr(l, status) != NULL;
        if (n == rows)
            pr = strncmp(l, prompt, strlen(prompt)) == 0;
    }
    free(scr);
    return ok && st && pr && n <= rows;
}

START_TEST(resize_and_node_restart)
{
    start_client("a", &a);
    see("a", "[connected]");
    type("a", "/create lobby");
    see("a", "created room lobby");

    /* scrollback: 40 messages from elsewhere, then PageUp / PageDown */
    json_t *rooms = NULL;
    harness_resp r;
    ck_assert_int_eq(harness_get(&a, HARNESS_CLIENT, "/v1/client/rooms", &r), 0);
    rooms = json_incref(json_object_get(r.json, "rooms"));
    harness_resp_free(&r);
    const char *rid = json_string_value(json_object_get(json_array_get(rooms, 0), "id"));
    ck_assert_ptr_nonnull(rid);
    for (int i = 1; i <= 40; i++) {
        char path[160], body[64];
        snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/scroll-%d", rid, i);
        snprintf(body, sizeof body, "{\"text\":\"msg %02d\"}", i);
        ck_assert_int_eq(harness_put(&a, HARNESS_CLIENT, path, body, &r), 0);
        ck_assert_int_eq(r.status, 200);
        harness_resp_free(&r);
    }
    json_decref(rooms);
    see("a", "msg 40");
    ck_assert(!screen_has("a", "msg 05"));
    ck_assert_int_eq(sh("tmux -L %s send-keys -t =a: PPage", sock), 0);
    see("a", "-- more");
    see("a", "msg 05");
    ck_assert(!screen_has("a", "msg 40"));
    ck_assert_int_eq(sh("tmux -L %s send-keys -t =a: NPage", sock), 0);
    see("a", "msg 40");
    ck_assert(!screen_has("a", "-- more"));
    type("a", "a line long enough that a narrow terminal has to wrap it onto a second row");
    see("a", "second row  [sent]");

    ck_assert_int_eq(sh("tmux -L %s resize-window -t =a: -x 60 -y 16", sock), 0);
    bool ok = false;
    for (int w = 0; w <= SCREEN_WAIT_MS && !(ok = fits("a", 60, 16, "[connected]", "[lobby]")); w += POLL_MS)
        sleep_ms(POLL_MS);
    char *scr = capture("a");
    ck_assert_msg(ok, "not redrawn at 60x16:\n%s", scr);
    free(scr);
    see("a", "<alice> a line long enough"); /* still there, rewrapped */
    ck_assert_int_eq(sh("tmux -L %s resize-window -t =a: -x %d -y %d", sock, COLS_START, ROWS_START), 0);
    ok = false;
    for (int w = 0; w <= SCREEN_WAIT_MS && !(ok = fits("a", COLS_START, ROWS_START, "[connected]", "[lobby]"));
         w += POLL_MS)
        sleep_ms(POLL_MS);
    ck_assert(ok);

    /* the node goes away under the client: a clear state, typing kept */
    int st = harness_stop(&a);
    if (st != 0)
        harness_dump_log(&a);
    ck_assert_msg(st == 0, "natterd exit status %d on SIGTERM", st);
    see("a", "DISCONNECTED: natterd is not running (data dir");
    type("a", "sent while the node is down");
    see("a", "[failed: natterd is not running");
    ck_assert_int_eq(sh("tmux -L %s send-keys -t =a: -l 'kept'", sock), 0);
    see("a", "[lobby] kept");
    save_session("alice, node stopped", "a", false);

    /* back on another port: found through its port file */
    ck_assert_int_eq(harness_restart(&a, quiet), 0);
    see("a", "connected to natterd again");
    see("a", "[connected]");
    see("a", "[lobby] kept");
    ck_assert_int_eq(sh("tmux -L %s send-keys -t =a: Enter", sock), 0);
    see("a", "<alice> kept  [sent]");
    save_session("alice, node back", "a", false);
    type("a", "/quit");
    for (int w = 0; w <= SCREEN_WAIT_MS; w += POLL_MS) {
        if (sh("tmux -L %s has-session -t =a 2>/dev/null", sock) != 0)
            return; /* natter exited and took the session with it */
        sleep_ms(POLL_MS);
    }
    ck_abort_msg("/quit did not end natter");
}
END_TEST

/* Room names and texts from elsewhere reach the screen escaped: an OSC 52
 * clipboard write, a screen clear and a right-to-left override show as
 * text instead of acting. */
START_TEST(hostile_text_shows_escaped)
{
    harness_resp r;
    const char *rid;
    ck_assert_int_eq(harness_post(&a, HARNESS_CLIENT, "/v1/client/rooms",
                                  "{\"name\":\"\\u202egen\",\"access\":\"invite\"}", &r), 0);
    ck_assert_msg(r.status == 200 || r.status == 201, "create: %ld %s", r.status, r.body);
    ck_assert_ptr_nonnull(rid = json_string_value(json_object_get(r.json, "id")));
    char path[160];
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/hostile-1", rid);
    harness_resp m;
    ck_assert_int_eq(harness_put(&a, HARNESS_CLIENT, path,
                                 "{\"text\":\"hi\\u001b]52;c;cm0gLXJmIH4=\\u0007\\u001b[2J\\u202eevil\"}", &m), 0);
    ck_assert_int_eq(m.status, 200);
    harness_resp_free(&m);
    harness_resp_free(&r);
    start_client("a", &a);
    see("a", "[connected]");
    see("a", "1 <U+202E>gen");
    ck_assert_int_eq(sh("tmux -L %s send-keys -t =a: M-1", sock), 0);
    see("a", "<alice> hi^[]52;c;cm0gLXJmIH4=^G^[[2J<U+202E>evil");
    see("a", " <U+202E>gen  [invite, hosted");
    save_session("alice, hostile text escaped", "a", false);
}
END_TEST

/* Room id of the room A creates with body (JSON). */
static void create_room(const char *body, char rid[static 80])
{
    harness_resp r;
    ck_assert_int_eq(harness_post(&a, HARNESS_CLIENT, "/v1/client/rooms", body, &r), 0);
    ck_assert_msg(r.status == 200 || r.status == 201, "create: %ld %s", r.status, r.body);
    const char *id = json_string_value(json_object_get(r.json, "id"));
    ck_assert_ptr_nonnull(id);
    snprintf(rid, 80, "%s", id);
    harness_resp_free(&r);
}

static void put_msg(harness_node *n, const char *rid, const char *txn, const char *text)
{
    char path[200];
    harness_resp r;
    json_t *o = json_pack("{s:s}", "text", text);
    char *body = json_dumps(o, 0);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/%s", rid, txn);
    ck_assert_int_eq(harness_put(n, HARNESS_CLIENT, path, body, &r), 0);
    ck_assert_msg(r.status == 200, "send: %ld %s", r.status, r.body);
    harness_resp_free(&r);
    free(body);
    json_decref(o);
}

/* Invite n to A's room rid and join it through n's node. */
static void join_room(harness_node *n, const char *rid)
{
    char path[200], body[200];
    harness_resp r;
    snprintf(path, sizeof path, "/v1/client/rooms/%s/invite", rid);
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", n->node_id);
    ck_assert_int_eq(harness_post(&a, HARNESS_CLIENT, path, body, &r), 0);
    ck_assert_msg(r.status == 200, "invite: %ld %s", r.status, r.body);
    harness_resp_free(&r);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/join", rid);
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", a.node_id);
    ck_assert_int_eq(harness_post(n, HARNESS_CLIENT, path, body, &r), 0);
    ck_assert_msg(r.status == 200, "join: %ld %s", r.status, r.body);
    harness_resp_free(&r);
}

static void keys(const char *s, const char *k)
{
    ck_assert_int_eq(sh("tmux -L %s send-keys -t " PANE " %s", sock, s, k), 0);
}

/* Show window n of session s (Alt+n), a room called name, once the room
 * list has it: the client starts with the home window alone, so an Alt+n
 * pressed before its first refresh comes back does nothing. */
static void open_window(const char *s, int n, const char *name)
{
    char text[128];
    snprintf(text, sizeof text, "%d %s", n, name);
    see(s, text);
    snprintf(text, sizeof text, "M-%d", n);
    keys(s, text);
    snprintf(text, sizeof text, "[%s]", name);
    see(s, text);
}

/* Paste text into session s the way a terminal does: bracketed when the
 * program asked for it (tmux paste-buffer -p). */
static void paste(const char *s, const char *text, size_t len)
{
    char path[96];
    snprintf(path, sizeof path, "/tmp/natter-paste-%d", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    fclose(f);
    ck_assert_int_eq(sh("tmux -L %s load-buffer -b p %s && tmux -L %s paste-buffer -p -d -b p -t " PANE,
                        sock, path, sock, s), 0);
    unlink(path);
}

/* PageUp fetches older pages on demand back to the first of 320 messages,
 * and marks the start; the room's topic is in the title. */
START_TEST(scrollback_reaches_the_start)
{
    char rid[80], txn[32], text[32];
    create_room("{\"name\":\"general\",\"access\":\"invite\",\"topic\":\"all about it\"}", rid);
    for (int i = 1; i <= 320; i++) {
        snprintf(txn, sizeof txn, "bulk-%d", i);
        snprintf(text, sizeof text, "bulk %03d of 320", i);
        put_msg(&a, rid, txn, text);
    }
    start_client("a", &a);
    see("a", "[connected]");
    open_window("a", 1, "general");
    see("a", "bulk 320 of 320");
    bool start = false;
    for (int i = 0; i < 80 && !start; i++) { /* ~19 rows a page: 17 pages and the fetches */
        keys("a", "PPage");
        for (int w = 0; w < 5 && !(start = screen_has("a", "-- start of room general --")); w++)
            sleep_ms(POLL_MS);
    }
    char *scr = capture("a");
    ck_assert_msg(start, "PageUp never reached the start; the screen:\n%s", scr);
    free(scr);
    see("a", "bulk 001 of 320");
    see("a", "host alice]  all about it");
    keys("a", "End"); /* the input's End; PageDown brings the newest back */
    for (int i = 0; i < 80 && screen_has("a", "-- more"); i++)
        keys("a", "NPage");
    see("a", "bulk 320 of 320");
}
END_TEST

/* A multi-line paste is one message and never a command; the input holds
 * 16 KiB and says when it is full. */
START_TEST(paste_and_long_input)
{
    char rid[80];
    create_room("{\"name\":\"lobby\",\"access\":\"invite\"}", rid);
    start_client("a", &a);
    see("a", "[connected]");
    open_window("a", 1, "lobby");
    see("a", "lobby  [invite, hosted, epoch 1");
    type("a", "/frob");
    see("a", "unknown command /frob");
    ck_assert(row_has("a", ROWS_START - 2, "unknown command /frob"));
    const char multi[] = "/rekey\nsecond line\n";
    paste("a", multi, sizeof multi - 1);
    see("a", "pasted 3 lines");
    keys("a", "Enter");
    see("a", "<alice> /rekey second line  [sent]");
    ck_assert(!row_has("a", ROWS_START - 2, "unknown command")); /* the error went with the success */
    ck_assert(!screen_has("a", "new room key"));
    ck_assert(screen_has("a", "epoch 1"));

    /* 5000 characters: all of them are sent */
    char *big = malloc(17001);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', 17000);
    big[0] = 'B';
    big[4999] = 'E';
    paste("a", big, 5000);
    see("a", "[5000/16384]");
    keys("a", "Enter");
    see("a", "E  [sent]");
    harness_resp r;
    char path[200];
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?limit=5", rid);
    ck_assert_int_eq(harness_get(&a, HARNESS_CLIENT, path, &r), 0);
    json_t *msgs = json_object_get(r.json, "messages");
    const char *last = json_string_value(json_object_get(json_array_get(msgs, json_array_size(msgs) - 1), "text"));
    ck_assert_ptr_nonnull(last);
    ck_assert_uint_eq(strlen(last), 5000);
    harness_resp_free(&r);
    /* more than 16 KiB: the input stops there and says so */
    paste("a", big, 17000);
    see("a", "[16384/16384]");
    see("a", "at its limit of 16384 bytes");
    keys("a", "C-u");
    free(big);
}
END_TEST

/* Texts in the order they appear on screen s must follow want[0..n). */
static bool screen_in_order(const char *s, char want[][32], int n, char **scr)
{
    *scr = capture(s);
    const char *at = *scr;
    for (int i = 0; i < n && at; i++)
        at = strstr(at, want[i]);
    return at != NULL;
}

/* Three senders at once: every screen shows the host's order, own lines
 * included. */
START_TEST(own_lines_in_room_order)
{
    char rid[80], want[15][32], line[64];
    const char *const names[] = {"a", "b", "c"};
    harness_node *nodes[] = {&a, &b, &c};
    ck_assert_int_eq(harness_start(&c, "carol", quiet), 0);
    add_peer(&a, &c);
    add_peer(&c, &a);
    create_room("{\"name\":\"general\",\"access\":\"invite\"}", rid);
    join_room(&b, rid);
    join_room(&c, rid);
    for (int i = 0; i < 3; i++) {
        start_client(names[i], nodes[i]);
        see(names[i], "[connected]");
        open_window(names[i], 1, "general");
    }
    for (int round = 1; round <= 5; round++)
        for (int i = 0; i < 3; i++) {
            snprintf(line, sizeof line, "order %s%d", names[i], round);
            type(names[i], line);
        }
    /* the host's log, once all 15 are in */
    harness_resp r = {0};
    char path[200];
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?limit=100", rid);
    size_t n = 0;
    for (int w = 0; w <= OUTBOX_WAIT_MS && n < 15; w += POLL_MS) {
        harness_resp_free(&r);
        ck_assert_int_eq(harness_get(&a, HARNESS_CLIENT, path, &r), 0);
        n = json_array_size(json_object_get(r.json, "messages"));
        if (n < 15)
            sleep_ms(POLL_MS);
    }
    ck_assert_uint_eq(n, 15);
    for (size_t i = 0; i < n; i++)
        snprintf(want[i], sizeof want[i], "%s",
                 json_string_value(json_object_get(json_array_get(json_object_get(r.json, "messages"), i), "text")));
    harness_resp_free(&r);
    for (int i = 0; i < 3; i++) {
        char *scr = NULL;
        bool ok = false;
        for (int w = 0; w <= SCREEN_WAIT_MS && !ok; w += POLL_MS) {
            free(scr);
            ok = screen_in_order(names[i], want, 15, &scr) && !strstr(scr, "[pending]");
            if (!ok)
                sleep_ms(POLL_MS);
        }
        ck_assert_msg(ok, "screen %s is not in the host's order (%s, %s, %s ...):\n%s", names[i],
                      want[0], want[1], want[2], scr);
        free(scr);
    }
}
END_TEST

/* The room's host goes away: the title says so, with a notice. */
START_TEST(host_offline_shown)
{
    char rid[80], line[128], listen[80];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)b.peer_port);
    const char *short_expiry[] = {"--no-discovery", "--peer-expiry", "8", "--listen", listen, NULL};
    ck_assert_int_eq(harness_stop(&b), 0);
    ck_assert_int_eq(harness_restart(&b, short_expiry), 0);
    create_room("{\"name\":\"general\",\"access\":\"invite\"}", rid);
    join_room(&b, rid);
    start_client("b", &b);
    see("b", "[connected]");
    open_window("b", 1, "general");
    ck_assert(!screen_has("b", "OFFLINE"));
    ck_assert_int_eq(harness_stop(&a), 0);
    snprintf(line, sizeof line, "alice~%.8s OFFLINE]", a.node_id);
    see_within("b", line, 60000);
    see("b", "is offline: what you write waits here");
}
END_TEST

/* /msg PEER TEXT: a conversation room of the two, made by the first
 * message and taken up (the invitation joined) by the other side's. */
START_TEST(direct_messages)
{
    char line[256];
    start_client("a", &a);
    start_client("b", &b);
    see("a", "[peers 1/1 online]");
    see("b", "[connected]");
    type("a", "/msg bob hi there,  bob");
    see("a", "new conversation with bob~");
    see("a", "<alice> hi there,  bob");
    see("b", "invited you to room @bob");
    type("b", "/msg alice hello again"); /* takes the invitation: bob reads from here on */
    see("b", "joined, epoch"); /* the title: the invitation was taken */
    see("b", "<bob> hello again");
    snprintf(line, sizeof line, "<?bob~%.8s> hello again", b.node_id);
    see("a", line);
    snprintf(line, sizeof line, "1 bob~%.8s", b.node_id); /* the conversation is called by its peer */
    see("a", line);
    type("a", "/msg");
    see("a", "usage: /msg PEER TEXT");
}
END_TEST

/* A member who leaves and is invited back sees how many messages came
 * while it was away (not readable with its keys), not a silent jump. */
START_TEST(rejoin_shows_the_gap)
{
    char rid[80], path[200];
    harness_resp r;
    create_room("{\"name\":\"lobby\",\"access\":\"invite\"}", rid);
    join_room(&b, rid);
    put_msg(&a, rid, "gap-before", "said before leaving");
    start_client("b", &b);
    see("b", "[connected]");
    open_window("b", 1, "lobby");
    see_within("b", "said before leaving", 20000);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/leave", rid);
    ck_assert_int_eq(harness_post(&b, HARNESS_CLIENT, path, "{}", &r), 0);
    ck_assert_msg(r.status == 200, "leave: %ld %s", r.status, r.body);
    harness_resp_free(&r);
    put_msg(&a, rid, "gap-1", "away one");
    put_msg(&a, rid, "gap-2", "away two");
    put_msg(&a, rid, "gap-3", "away three");
    join_room(&b, rid);
    put_msg(&a, rid, "gap-after", "said after rejoining");
    see_within("b", "said after rejoining", 20000);
    see_within("b", "messages missing here (sent while you were away", 20000);
    char *scr = capture("b");
    ck_assert_msg(!strstr(scr, "away one"), "a message sent while away shows:\n%s", scr);
    free(scr);
    ck_assert_int_eq(screen_count("b", "missing here"), 1);
    save_session("bob, back in lobby after being away", "b", false);
}
END_TEST

/* Keys and screens go to the session named, whatever its windows are
 * called: here the newest session's window is "bash", as a client's is
 * for a moment after its session starts. */
START_TEST(keys_reach_the_named_session)
{
    new_session("a", "cat");
    new_session("b", "cat");
    new_session("c", "cat");
    ck_assert_int_eq(sh("tmux -L %s rename-window -t =c: bash", sock), 0);
    type("b", "meant for b");
    see("b", "meant for b");
    ck_assert(!screen_has("a", "meant for b"));
    ck_assert(!screen_has("c", "meant for b"));
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("tui");
    TCase *tc = tcase_create("targets"); /* tmux alone, no nodes */
    tcase_add_checked_fixture(tc, setup_tmux, kill_tmux);
    tcase_add_unchecked_fixture(tc, NULL, kill_tmux);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, keys_reach_the_named_session);
    suite_add_tcase(s, tc);
    tc = tcase_create("tmux");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_unchecked_fixture(tc, NULL, kill_tmux);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, two_users_talk);
    tcase_add_test(tc, resize_and_node_restart);
    tcase_add_test(tc, hostile_text_shows_escaped);
    tcase_add_test(tc, direct_messages);
    suite_add_tcase(s, tc);
    /* one case each, so that one can run alone (CK_RUN_CASE) */
    const struct {
        const char *name;
        const TTest *test;
    } cases[] = {{"scrollback", scrollback_reaches_the_start}, {"paste", paste_and_long_input},
                 {"order", own_lines_in_room_order}, {"host_down", host_offline_shown},
                 {"rejoin", rejoin_shows_the_gap}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_unchecked_fixture(tc, NULL, kill_tmux);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int test_setup(void)
{
    snprintf(sock, sizeof sock, "natter-test-%d", (int)getpid());
    if (system("tmux -V >/dev/null 2>&1") != 0) {
        fprintf(stderr, "tmux is missing: install it (make deps)\n");
        return EXIT_FAILURE; /* a missing tool is a failure, not a skip */
    }
    return TEST_GO;
}
