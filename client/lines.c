/* lines.c - the chat area of the full-screen client (see lines.h). */
#include "client/lines.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "client/editline.h"
#include "client/ident.h"
#include "client/term.h"

#define INDENT 6             /* continuation rows start under the text */

typedef struct cell {
    wchar_t c;
    int attr;
} cell;

int lines_cwidth(wchar_t c)
{
    int w = wcwidth(c);
    return w < 0 ? 1 : w;
}

/* Append UTF-8 s to cells with attr, made safe (term.h) on the way. */
static size_t put(cell *out, size_t n, size_t cap, const char *s, int attr)
{
    char *safe = term_dup(s);
    size_t len = safe ? strlen(safe) : 0;
    s = safe;
    while (len > 0 && n < cap) {
        wchar_t c;
        size_t used = editline_decode(s, len, &c);
        if (!used)
            c = 0xFFFD, used = 1;
        if (c < 0x20)
            c = ' ';
        out[n++] = (cell){c, attr};
        s += used;
        len -= used;
    }
    free(safe);
    return n;
}

static cell *line_cells(const view *v, const vmsg *l, size_t *n)
{
    size_t cap = (l->text ? strlen(l->text) : 0) + (l->reason ? strlen(l->reason) : 0) + 256;
    cell *c = malloc(cap * sizeof *c);
    char nb[IDENT_LABEL_MAX + 2], who[IDENT_LABEL_MAX + 6];
    if (!c)
        return NULL;
    size_t k = 0;
    if (l->kind == VL_GAP) {
        *n = put(c, 0, cap, l->text, C_NOTICE);
        return c;
    }
    k = put(c, k, cap, l->time, 0);
    k = put(c, k, cap, " ", 0);
    if (l->kind != VL_MSG) {
        k = put(c, k, cap, l->kind == VL_ERROR ? "!!! " : "-!- ", l->kind == VL_ERROR ? C_ERROR : C_NOTICE);
        k = put(c, k, cap, l->text, l->kind == VL_ERROR ? C_ERROR : C_NOTICE);
    } else {
        bool doubtful;
        snprintf(who, sizeof who, "<%s>", view_who(v, l, nb, &doubtful));
        k = put(c, k, cap, who, l->mine ? C_ME : doubtful ? C_STRANGER : C_OTHER);
        k = put(c, k, cap, " ", 0);
        k = put(c, k, cap, l->text, 0);
        if (l->mine && l->state[0]) {
            bool bad = !strcmp(l->state, "failed");
            k = put(c, k, cap, "  [", C_PENDING);
            k = put(c, k, cap, l->state, bad ? C_ERROR : C_PENDING);
            if (bad && l->reason) {
                k = put(c, k, cap, ": ", C_ERROR);
                k = put(c, k, cap, l->reason, C_ERROR);
            }
            k = put(c, k, cap, "]", C_PENDING);
        }
    }
    *n = k;
    return c;
}

/* Row starts of cells wrapped at width, at the last space of a row when
 * there is one; returns the row count, fills starts[] up to max. */
static int wrap(const cell *c, size_t n, int width, size_t *starts, int max)
{
    int rows = 1, x = 0, x_after_sp = 0;
    size_t row_start = 0, last_sp = (size_t)-1;
    if (max > 0)
        starts[0] = 0;
    for (size_t i = 0; i < n; i++) {
        int w = lines_cwidth(c[i].c);
        if (x + w > width) {
            size_t brk = i;
            int carried = 0;
            if (last_sp != (size_t)-1 && last_sp > row_start &&
                INDENT + (x - x_after_sp) + w <= width) {
                brk = last_sp + 1; /* the word moves down whole */
                carried = x - x_after_sp;
            }
            if (rows < max)
                starts[rows] = brk;
            rows++;
            row_start = brk;
            last_sp = (size_t)-1;
            x = INDENT + carried;
        }
        x += w;
        if (c[i].c == ' ') {
            last_sp = i;
            x_after_sp = x;
        }
    }
    return rows;
}

void lines_pen_on(int a)
{
    if (a && has_colors())
        attron(COLOR_PAIR(a));
    if (a == C_ME || a == C_ERROR)
        attron(A_BOLD);
}

void lines_pen_off(int a)
{
    if (a && has_colors())
        attroff(COLOR_PAIR(a));
    attroff(A_BOLD);
}

/* mvaddnstr of text that may hold a peer's words (names, errors). */
void lines_add_safe(int y, int x, const char *s, int n)
{
    char buf[4096];
    mvaddnstr(y, x, term_clean(s, buf, sizeof buf), n);
}

static void draw_cells(const cell *c, size_t from, size_t to, int y, int x0, bool cont)
{
    int x = x0;
    move(y, x0);
    if (cont) {
        for (int i = 0; i < INDENT; i++)
            addch(' ');
        x += INDENT;
    }
    for (size_t i = from; i < to; i++) {
        lines_pen_on(c[i].attr);
        wchar_t s[2] = {c[i].c, 0};
        addnwstr(s, 1);
        lines_pen_off(c[i].attr);
        x += lines_cwidth(c[i].c);
    }
}

#define WRAP_MAX 512

/* Messages of the current window in rows [top, top+h) and columns [x0, x0+w). */
void lines_draw(view *v, int top, int h, int x0, int w)
{
    vwin *win = &v->wins[v->cur];
    size_t starts[WRAP_MAX];
    int need = h + win->scroll, total = 0;
    size_t first = win->n;
    while (first > 0 && total < need) {
        size_t n;
        cell *c = line_cells(v, &win->lines[--first], &n);
        total += c ? wrap(c, n, w, starts, WRAP_MAX) : 1;
        free(c);
    }
    if (first == 0 && total < need && win->scroll > 0) {
        win->scroll = total > h ? total - h : 0; /* at the top: stop */
        need = h + win->scroll;
        win->want_older = !win->at_start; /* and fetch what came before */
    }
    int skip = total > need ? total - need : 0;
    int row = -skip;
    for (size_t i = first; i < win->n && row < h; i++) {
        size_t n;
        cell *c = line_cells(v, &win->lines[i], &n);
        if (!c)
            continue;
        int r = wrap(c, n, w, starts, WRAP_MAX);
        for (int k = 0; k < r && k < WRAP_MAX; k++, row++) {
            if (row < 0 || row >= h)
                continue;
            size_t end = k + 1 < r && k + 1 < WRAP_MAX ? starts[k + 1] : n;
            draw_cells(c, starts[k], end, top + row, x0, k > 0);
        }
        free(c);
    }
    if (win->scroll > 0) {
        lines_pen_on(C_BAR);
        mvprintw(top + h - 1, x0 + (w > 14 ? w - 14 : 0), "-- more %4d --", win->scroll);
        if (win->older_asked)
            mvprintw(top, x0 + (w > 28 ? w - 28 : 0), "-- loading older messages --");
        lines_pen_off(C_BAR);
    }
}
