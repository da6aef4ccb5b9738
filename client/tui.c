/* tui.c - the full-screen client: ncursesw screen, keys and the feed.
 *
 * One thread draws and reads keys; it waits in poll(2) on the terminal and
 * on the feed's wake-up pipe, so a slow or absent node never freezes the
 * screen. Everything the node says arrives as feed items (feed.h) and is
 * folded into the view (view.h) before the next redraw. */
#include "client/tui.h"

#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#include "client/editline.h"
#include "client/feed.h"
#include "client/field.h"
#include "client/ident.h"
#include "client/locate.h"
#include "client/slash.h"
#include "client/lines.h"
#include "client/term.h"
#include "client/view.h"

#define REFRESH_EVERY_S 10   /* peers online, room list */
#define LIST_WIDTH_MAX 22
#define MIN_COLS 30
#define MIN_ROWS 6
#define COUNTER_FROM 1024    /* input bytes from which the size is shown */
#define KEY_PASTE_BEGIN (KEY_MAX + 1) /* bracketed paste: ESC[200~ ... ESC[201~ */
#define KEY_PASTE_END (KEY_MAX + 2)


typedef struct tui {
    view *v;
    feed *f;
    editline *ed;
    char url[API_URL_MAX];
    char node_name[VIEW_NAME_MAX];
    int peers_total, peers_online;
    int conn;                /* -1 unknown, 0 down, 1 up */
    bool ever_up;
    char conn_msg[API_MSG_MAX];
    char status[API_MSG_MAX];
    bool status_err;
    time_t last_refresh;
    bool quit;
    bool hinted;             /* first-run hints given */
    bool pasting;            /* between the terminal's paste brackets */
} tui;

static volatile sig_atomic_t got_sigint;

static void on_sigint(int sig)
{
    got_sigint = 1;
}

static void set_status(tui *t, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_status(tui *t, bool error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->status, sizeof t->status, fmt, ap);
    va_end(ap);
    t->status_err = error;
}

/* ---- drawing ------------------------------------------------------------ */


static void fill_row(int y, int pair)
{
    lines_pen_on(pair);
    move(y, 0);
    for (int i = 0; i < COLS; i++)
        addch(' ');
    lines_pen_off(pair);
}

static void draw_bars(tui *t)
{
    vwin *w = &t->v->wins[t->v->cur];
    char buf[1024], nb[IDENT_LABEL_MAX];
    fill_row(0, C_BAR);
    if (w->id[0])
        snprintf(buf, sizeof buf, " %s  [%s%s%s, epoch %lld, host %s%s%s]%s%s", w->name,
                 w->access[0] ? w->access : "?", w->state[0] ? ", " : "", w->state, w->epoch,
                 ident_doubtful(ident_trust_of(t->v->names, w->host, NULL)) ? "?" : "",
                 view_name(t->v, w->host, nb), w->host_down ? " OFFLINE" : "",
                 w->topic[0] ? "  " : "", w->topic);
    else
        snprintf(buf, sizeof buf, " natter %s  [home: /help for commands, Alt+1..9 rooms]",
                 NATTER_VERSION);
    lines_pen_on(C_BAR);
    lines_add_safe(0, 0, buf, COLS);
    lines_pen_off(C_BAR);

    int y = LINES - 2;
    bool down = t->conn == 0;
    fill_row(y, down ? C_DOWN : C_BAR);
    if (down)
        snprintf(buf, sizeof buf, " DISCONNECTED: %s (retrying; your typing is kept) ", t->conn_msg);
    else if (t->conn < 0)
        snprintf(buf, sizeof buf, " connecting to %s ... ", t->url);
    else
        snprintf(buf, sizeof buf, " [%s] [peers %d/%d online] [connected] ",
                 t->node_name[0] ? t->node_name : "?", t->peers_online, t->peers_total);
    lines_pen_on(down ? C_DOWN : C_BAR);
    attron(A_BOLD);
    lines_add_safe(y, 0, buf, COLS);
    attroff(A_BOLD);
    int x = (int)strlen(buf);
    if (t->status[0] && !down && x < COLS - 1) {
        if (t->status_err)
            attron(A_BOLD);
        lines_add_safe(y, x, t->status, COLS - x);
        attroff(A_BOLD);
    }
    lines_pen_off(down ? C_DOWN : C_BAR);
}

static void draw_list(tui *t, int lw)
{
    char buf[VIEW_NAME_MAX + 32];
    for (size_t i = 0; i < t->v->n && (int)i < LINES - 3; i++) {
        vwin *w = &t->v->wins[i];
        const char *mark = !strcmp(w->state, "invited") ? "?" :
                           (!strcmp(w->state, "kicked") || !strcmp(w->state, "left")) ? "x" : "";
        if (w->unread)
            snprintf(buf, sizeof buf, "%zu %s%s (%d)", i, mark, w->name, w->unread);
        else
            snprintf(buf, sizeof buf, "%zu %s%s", i, mark, w->name);
        if (i == t->v->cur)
            attron(A_REVERSE);
        else if (w->unread)
            attron(A_BOLD);
        lines_add_safe(1 + (int)i, 0, buf, lw - 1);
        attroff(A_REVERSE | A_BOLD);
    }
    for (int y = 1; y < LINES - 2; y++)
        mvaddch(y, lw - 1, ACS_VLINE);
}

/* "[bytes/max]" at the right of the input row once the text is long. */
static int draw_counter(tui *t, int y)
{
    char buf[48];
    size_t bytes = editline_bytes(t->ed);
    if (bytes < COUNTER_FROM && !editline_multiline(t->ed))
        return 0;
    snprintf(buf, sizeof buf, " [%zu/%d]", bytes, EDITLINE_BYTES_MAX);
    int n = (int)strlen(buf);
    if (bytes >= EDITLINE_BYTES_MAX)
        attron(A_BOLD);
    mvaddstr(y, COLS - n, buf);
    attroff(A_BOLD);
    return n;
}

static void draw_input(tui *t)
{
    vwin *w = &t->v->wins[t->v->cur];
    char prompt[VIEW_NAME_MAX + 4];
    snprintf(prompt, sizeof prompt, "[%s] ", w->name);
    int y = LINES - 1, pw = (int)strlen(prompt);
    if (pw > COLS / 3)
        pw = COLS / 3;
    lines_add_safe(y, 0, prompt, pw);
    const wchar_t *s = editline_text(t->ed);
    size_t cur = editline_cursor(t->ed), len = editline_len(t->ed), start = 0;
    int right = COLS - 1 - draw_counter(t, y);
    int avail = right - pw, wcur = 0;
    for (size_t i = 0; i < cur; i++)
        wcur += lines_cwidth(s[i]);
    while (start < cur && wcur >= avail)
        wcur -= lines_cwidth(s[start++]); /* scroll so the cursor stays visible */
    int x = pw;
    for (size_t i = start; i < len && x + lines_cwidth(s[i]) <= right; i++) {
        wchar_t c = s[i] == L'\n' ? L'\x23CE' : s[i]; /* a pasted line break: ⏎ */
        mvaddnwstr(y, x, &c, 1);
        x += lines_cwidth(s[i]);
    }
    move(y, pw + wcur);
}

static void draw(tui *t)
{
    erase();
    if (COLS < MIN_COLS || LINES < MIN_ROWS) {
        mvaddnstr(0, 0, "natter: terminal too small", COLS);
        refresh();
        return;
    }
    int lw = COLS / 5 < LIST_WIDTH_MAX ? COLS / 5 : LIST_WIDTH_MAX;
    if (lw < 8)
        lw = 8;
    draw_list(t, lw);
    lines_draw(t->v, 1, LINES - 3, lw + 1, COLS - lw - 1);
    draw_bars(t);
    draw_input(t);
    refresh();
}

/* ---- what the node says -------------------------------------------------- */

static void submit(tui *t, feed_job job, const char *room, const char *text, const char *txn)
{
    if (feed_submit(t->f, job, room, text, txn) != NT_OK)
        set_status(t, true, "out of memory");
}

static void refresh_soon(tui *t)
{
    submit(t, JOB_REFRESH, NULL, NULL, NULL);
    t->last_refresh = time(NULL);
}

static void ask_histories(tui *t)
{
    for (size_t i = 1; i < t->v->n; i++) {
        vwin *w = &t->v->wins[i];
        if (!w->history_asked && strcmp(w->state, "invited")) {
            w->history_asked = true;
            submit(t, JOB_HISTORY, w->id, NULL, NULL);
        }
    }
}

static void on_refresh(tui *t, json_t *d)
{
    json_t *names = field_get(d, "names");
    if (json_is_object(names)) {
        json_decref(t->v->names);
        t->v->names = json_incref(names);
    }
    snprintf(t->v->self, sizeof t->v->self, "%s", field_str(d, "self") ? field_str(d, "self") : "");
    const char *nm = field_str(field_get(d, "status"), "name");
    char *clean = view_clean(nm ? nm : "");
    snprintf(t->node_name, sizeof t->node_name, "%s", clean ? clean : "");
    free(clean);
    json_t *peers = field_get(d, "peers"), *p;
    size_t i;
    t->peers_total = (int)json_array_size(peers);
    t->peers_online = 0;
    json_array_foreach(peers, i, p)
        t->peers_online += field_bool(p, "online", false);
    view_rooms(t->v, field_get(d, "rooms"));
    view_peers(t->v, peers);
    ask_histories(t);
    if (!t->hinted) {
        t->hinted = true;
        if (t->peers_total == 0)
            view_notice(t->v, NULL, false, "no peers yet: wait for discovery on the LAN, or "
                                           "/add HOST:PORT (a peer's natterd, port 7711)");
        if (json_array_size(field_get(d, "rooms")) == 0)
            view_notice(t->v, NULL, false, "no rooms yet: /create NAME makes one here; "
                                           "/rooms shows peers' open rooms to /join");
    }
}

static void on_result(tui *t, feed_item *it)
{
    vwin *w = view_win(t->v, it->room);
    if (it->rc != NT_OK) {
        set_status(t, true, "%s", it->msg);
        if (it->job == JOB_SEND) {
            json_t *e = json_pack("{s:s, s:s, s:s}", "txn_id", it->txn, "state", "failed",
                                  "reason", it->msg);
            view_delivery(t->v, w, e);
            json_decref(e);
        } else if (it->job == JOB_SLASH) {
            view_notice(t->v, w, true, "%s", it->msg);
        } else if (it->job == JOB_HISTORY && w) {
            w->history_asked = false; /* again on the next refresh */
        } else if (it->job == JOB_OLDER && w) {
            w->older_asked = false;   /* again on the next scroll */
        }
        return;
    }
    if (t->status_err && it->job != JOB_REFRESH)
        set_status(t, false, "%s", ""); /* the last error is over */
    switch (it->job) {
    case JOB_REFRESH:
        on_refresh(t, it->data);
        break;
    case JOB_HISTORY:
        view_page(t->v, w, it->data, FEED_PAGE);
        break;
    case JOB_OLDER:
        if (w)
            w->older_asked = false;
        view_page(t->v, w, it->data, FEED_PAGE);
        break;
    case JOB_SEND:
        view_delivery(t->v, w, it->data);
        break;
    case JOB_SLASH: {
        json_t *lines = field_get(it->data, "lines"), *l;
        size_t i;
        json_array_foreach(lines, i, l)
            view_notice(t->v, w, false, "%s", json_string_value(l));
        if (json_array_size(lines))
            set_status(t, false, "%s", json_string_value(json_array_get(lines, 0)));
        const char *sw = field_str(it->data, "switch");
        if (sw) {
            vwin *nw = view_win_add(t->v, sw, NULL);
            if (nw) {
                view_switch(t->v, (size_t)(nw - t->v->wins));
                nw->history_asked = false;
                if (json_array_size(lines))
                    view_notice(t->v, nw, false, "%s",
                                json_string_value(json_array_get(lines, json_array_size(lines) - 1)));
            }
        }
        if (sw || field_bool(it->data, "refresh", false))
            refresh_soon(t);
        break;
    }
    }
}

static void on_conn(tui *t, feed_item *it)
{
    if (it->up) {
        if (t->conn == 0) {
            view_notice(t->v, NULL, false, "connected to natterd again");
            if (t->v->cur != 0)
                view_notice(t->v, &t->v->wins[t->v->cur], false, "connected to natterd again");
        }
        t->conn = 1;
        t->ever_up = true;
        if (it->msg[0])
            set_status(t, true, "live updates unavailable: %s", it->msg);
        else
            set_status(t, false, "%s", "");
        for (size_t i = 1; i < t->v->n; i++)
            t->v->wins[i].history_asked = false; /* catch up what we missed */
        refresh_soon(t);
    } else {
        if (t->conn != 0) {
            view_notice(t->v, NULL, true, "disconnected: %s", it->msg);
            if (t->v->cur != 0)
                view_notice(t->v, &t->v->wins[t->v->cur], true, "disconnected: %s", it->msg);
        }
        t->conn = 0;
        snprintf(t->conn_msg, sizeof t->conn_msg, "%s", it->msg);
    }
}

static void take_feed(tui *t)
{
    bool refresh = false;
    for (feed_item *it = feed_take(t->f), *next; it; it = next) {
        next = it->next;
        if (it->kind == FEED_CONN)
            on_conn(t, it);
        else if (it->kind == FEED_RESULT)
            on_result(t, it);
        else {
            size_t i;
            json_t *e;
            json_array_foreach(it->data, i, e)
                refresh |= view_event(t->v, e);
        }
        feed_item_free(it);
    }
    if (refresh)
        refresh_soon(t);
}

/* The reader scrolled past the oldest line: the page before it. */
static void ask_older(tui *t)
{
    vwin *w = &t->v->wins[t->v->cur];
    char before[32];
    if (!w->want_older || w->older_asked || w->at_start || !w->id[0])
        return;
    w->want_older = false;
    long long low = view_oldest(w);
    if (low <= 1 && low >= 0) {
        view_page(t->v, w, NULL, FEED_PAGE); /* nothing before seq 1 */
        return;
    }
    if (low < 0)
        return; /* the first history is not here yet */
    snprintf(before, sizeof before, "%lld", low);
    w->older_asked = true;
    submit(t, JOB_OLDER, w->id, before, NULL);
}

/* ---- what the user types --------------------------------------------------- */

static void show_help(tui *t)
{
    vwin *w = &t->v->wins[t->v->cur];
    view_notice(t->v, w, false, "commands (PEER and ROOM: name, unique prefix or id):");
    for (size_t i = 0; slash_help[i]; i++)
        view_notice(t->v, w, false, "  %s", slash_help[i]);
    view_notice(t->v, w, false, "  /switch ROOM|N         show a room (also Alt+N, Ctrl-N/Ctrl-P)");
    view_notice(t->v, w, false, "  /help  /quit           this text; leave natter (also Ctrl-C)");
    view_notice(t->v, w, false, "anything else is sent to the current room; //text sends /text");
    view_notice(t->v, w, false, "keys: PageUp/PageDown scroll, Up/Down history, Left/Right/Home/End,"
                                " Ctrl-W/Ctrl-U/Ctrl-K delete");
}

static void send_text(tui *t, const char *text)
{
    vwin *w = &t->v->wins[t->v->cur];
    char txn[NODE_TXN_LEN + 1];
    if (!w->id[0]) {
        set_status(t, true, "this is the home window: /switch to a room, or /create NAME");
        return;
    }
    if (strlen(text) > NODE_TEXT_MAX) {
        set_status(t, true, "message over 16 KiB, not sent");
        return;
    }
    if (node_txn_id(txn) != NT_OK) {
        set_status(t, true, "no random transaction id");
        return;
    }
    w->scroll = 0;
    view_pending(t->v, w, txn, text);
    submit(t, JOB_SEND, w->id, text, txn);
}

static void command(tui *t, const char *line)
{
    char buf[EDITLINE_UTF8_MAX], *words[SLASH_ARGS_MAX];
    snprintf(buf, sizeof buf, "%s", line + 1);
    int n = slash_split(buf, words);
    if (n == 0 || !strcmp(words[0], "help")) {
        show_help(t);
    } else if (!strcmp(words[0], "quit") || !strcmp(words[0], "exit")) {
        t->quit = true;
    } else if (!strcmp(words[0], "switch") || !strcmp(words[0], "s")) {
        int i = n > 1 ? view_find(t->v, words[1]) : -1;
        if (i < 0)
            set_status(t, true, "no single window \"%s\": try a number, a name or /rooms",
                       n > 1 ? words[1] : "");
        else
            view_switch(t->v, (size_t)i);
    } else {
        set_status(t, false, "%s ...", line);
        submit(t, JOB_SLASH, t->v->wins[t->v->cur].id, line, NULL);
    }
}

static void enter(tui *t)
{
    char line[EDITLINE_UTF8_MAX];
    bool multi = editline_multiline(t->ed);
    editline_submit(t->ed, line);
    if (multi) { /* pasted lines are one message, never commands */
        size_t n = strlen(line);
        while (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (line[0])
            send_text(t, line);
        return;
    }
    if (!line[0])
        return;
    if (line[0] == '/' && line[1] != '/')
        command(t, line);
    else
        send_text(t, line[0] == '/' ? line + 1 : line);
}

static void scroll_by(tui *t, int rows)
{
    vwin *w = &t->v->wins[t->v->cur];
    w->scroll += rows;
    if (w->scroll < 0)
        w->scroll = 0;
}

static void cycle(tui *t, int d)
{
    view_switch(t->v, (t->v->cur + t->v->n + (size_t)(d + (int)t->v->n)) % t->v->n);
}

/* A character typed or pasted; says so when the line is full. */
static void type_char(tui *t, wint_t c)
{
    bool ok = t->pasting && (c == '\r' || c == '\n') ? editline_newline(t->ed)
                                                    : editline_insert(t->ed, c == '\t' ? L' ' : (wchar_t)c);
    if (!ok && (c >= 0x20 || c == '\r' || c == '\n' || c == '\t') && c != 0x7F &&
        editline_bytes(t->ed) + 4 > EDITLINE_BYTES_MAX)
        set_status(t, true, "the message is at its limit of %d bytes: more is not taken",
                   EDITLINE_BYTES_MAX);
}

static void paste_end(tui *t)
{
    size_t lines = 1;
    t->pasting = false;
    for (const wchar_t *p = editline_text(t->ed); *p; p++)
        lines += *p == L'\n';
    if (lines > 1)
        set_status(t, false, "pasted %zu lines: Enter sends them as one message, Ctrl-U clears",
                   lines);
}

static void key(tui *t, int r, wint_t c)
{
    int page = LINES > 6 ? LINES - 5 : 1;
    if (r == KEY_CODE_YES && (c == KEY_PASTE_BEGIN || c == KEY_PASTE_END)) {
        if (c == KEY_PASTE_BEGIN)
            t->pasting = true;
        else
            paste_end(t);
        return;
    }
    if (t->pasting) { /* nothing pasted acts: no Enter, no command, no key */
        if (r != KEY_CODE_YES)
            type_char(t, c);
        else if (c == KEY_ENTER)
            type_char(t, '\n');
        return;
    }
    if (r == KEY_CODE_YES) {
        switch (c) {
        case KEY_LEFT: editline_left(t->ed); break;
        case KEY_RIGHT: editline_right(t->ed); break;
        case KEY_HOME: editline_home(t->ed); break;
        case KEY_END: editline_end(t->ed); break;
        case KEY_BACKSPACE: editline_backspace(t->ed); break;
        case KEY_DC: editline_delete(t->ed); break;
        case KEY_UP: editline_history_up(t->ed); break;
        case KEY_DOWN: editline_history_down(t->ed); break;
        case KEY_PPAGE: scroll_by(t, page); break;
        case KEY_NPAGE: scroll_by(t, -page); break;
        case KEY_ENTER: enter(t); break;
        case KEY_RESIZE: clearok(curscr, TRUE); break;
        default: break;
        }
        return;
    }
    switch (c) {
    case '\r':
    case '\n': enter(t); break;
    case 127:
    case 8: editline_backspace(t->ed); break;
    case 1: editline_home(t->ed); break;          /* Ctrl-A */
    case 5: editline_end(t->ed); break;           /* Ctrl-E */
    case 11: editline_kill_to_end(t->ed); break;  /* Ctrl-K */
    case 21: editline_kill_line(t->ed); break;    /* Ctrl-U */
    case 23: editline_kill_word(t->ed); break;    /* Ctrl-W */
    case 12: clearok(curscr, TRUE); break;        /* Ctrl-L */
    case 14: cycle(t, 1); break;                  /* Ctrl-N */
    case 16: cycle(t, -1); break;                 /* Ctrl-P */
    case 4:                                       /* Ctrl-D on an empty line */
        if (editline_len(t->ed) == 0)
            t->quit = true;
        break;
    case 27: {                                    /* Alt+N: ESC then N */
        wint_t n;
        if (get_wch(&n) == OK && n >= '0' && n <= '9')
            view_switch(t->v, (size_t)(n - '0'));
        break;
    }
    default:
        type_char(t, c);
    }
}

/* ---- main loop ------------------------------------------------------------- */

static void screen_init(void)
{
    initscr();
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    define_key("\033[200~", KEY_PASTE_BEGIN);
    define_key("\033[201~", KEY_PASTE_END);
    fputs("\033[?2004h", stdout); /* bracketed paste: a paste arrives marked */
    fflush(stdout);
    if (has_colors()) {
        start_color();
        use_default_colors();
        init_pair(C_BAR, COLOR_WHITE, COLOR_BLUE);
        init_pair(C_NOTICE, COLOR_CYAN, -1);
        init_pair(C_ERROR, COLOR_RED, -1);
        init_pair(C_ME, COLOR_GREEN, -1);
        init_pair(C_OTHER, COLOR_YELLOW, -1);
        init_pair(C_PENDING, COLOR_MAGENTA, -1);
        init_pair(C_DOWN, COLOR_WHITE, COLOR_RED);
        init_pair(C_LIST, -1, -1);
        init_pair(C_STRANGER, COLOR_RED, -1); /* untrusted or unknown senders */
    }
}

static void loop(tui *t)
{
    while (!t->quit && !got_sigint) {
        draw(t);
        ask_older(t);
        struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                              {.fd = feed_fd(t->f), .events = POLLIN}};
        int rc = poll(p, 2, 1000);
        if (rc < 0 && errno != EINTR)
            break;
        if (p[0].revents & (POLLHUP | POLLERR))
            break; /* the terminal went away */
        take_feed(t);
        wint_t c;
        int r;
        while ((r = get_wch(&c)) != ERR && !t->quit)
            key(t, r, c);
        if (t->conn == 1 && time(NULL) - t->last_refresh >= REFRESH_EVERY_S)
            refresh_soon(t);
    }
}

int tui_run(const opts *o)
{
    locate loc;
    char err[LOCATE_ERR_MAX];
    tui t = {.conn = -1};
    int x = EXIT_USAGE;
    nt_err rc = locate_node(&loc, o->url, o->token, o->data_dir, 1, NULL, err);
    if (rc != NT_OK) {
        fprintf(stderr, "natter: %s\n", err);
        return rc == NT_ERR_AUTH ? EXIT_AUTH : EXIT_USAGE;
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "natter: the full-screen mode needs a terminal; see natter --help for "
                        "one-shot commands\n");
        goto out;
    }
    snprintf(t.url, sizeof t.url, "%s", loc.url);
    if (view_new(&t.v) != NT_OK || editline_new(&t.ed) != NT_OK ||
        feed_start(&t.f, &loc) != NT_OK) {
        fprintf(stderr, "natter: cannot start (out of memory or threads)\n");
        x = EXIT_NODE;
        goto out;
    }
    view_notice(t.v, NULL, false, "natter %s, talking to natterd at %s", NATTER_VERSION, loc.url);
    view_notice(t.v, NULL, false, "type /help for commands; /peers, /rooms, /create NAME, "
                                  "/join ROOM; Alt+1..9 switch rooms; /quit to leave");
    if (strcmp(nl_langinfo(CODESET), "UTF-8") != 0)
        view_notice(t.v, NULL, true, "the locale is not UTF-8 (set LANG, e.g. C.UTF-8): "
                                     "non-ASCII text will not show right");
    struct sigaction sa = {.sa_handler = on_sigint};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    screen_init();
    loop(&t);
    fputs("\033[?2004l", stdout);
    fflush(stdout);
    endwin();
    x = EXIT_OK;
out:
    feed_stop(t.f);
    view_free(t.v);
    editline_free(t.ed);
    locate_clear(&loc);
    return x;
}
