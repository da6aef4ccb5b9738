/* lines.h - the full-screen client's chat area: a window's lines as
 * coloured cells, wrapped at words, drawn bottom-up from the reader's
 * scroll position (ncursesw). */
#ifndef NATTER_CLIENT_LINES_H
#define NATTER_CLIENT_LINES_H

#include <wchar.h>
#include "client/view.h"

/* Colour pairs, set up by the TUI. */
enum { C_BAR = 1, C_NOTICE, C_ERROR, C_ME, C_OTHER, C_PENDING, C_DOWN, C_LIST, C_STRANGER };

/* Columns c takes on screen (1 for an unprintable one). */
int lines_cwidth(wchar_t c);
/* Pen for colour pair a (0: none); off again. */
void lines_pen_on(int a);
void lines_pen_off(int a);
/* mvaddnstr of text that may hold a peer's words (names, errors). */
void lines_add_safe(int y, int x, const char *s, int n);

/* The current window of v in rows [top, top+h) and columns [x0, x0+w).
 * Clamps its scroll at the oldest line, and then sets want_older unless
 * the room's start is shown. */
void lines_draw(view *v, int top, int h, int x0, int w);

#endif
