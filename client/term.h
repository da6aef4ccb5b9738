/* term.h - text from the node made safe for a terminal.
 *
 * Names, room names, topics, labels and message texts come from peers and
 * may hold anything. Before any of it reaches the terminal (one-shot
 * commands and the full-screen client alike) it goes through term_clean,
 * which keeps printable text and writes everything that could move the
 * cursor, change the terminal or hide or reorder text as a visible escape:
 *   C0 controls and DEL  as caret notation: ESC -> "^[", LF -> "^J", DEL -> "^?"
 *                        (TAB becomes a space)
 *   C1 controls, bidi controls (U+061C, U+200E-200F, U+202A-202E,
 *   U+2066-2069), invisible and format characters and blanks that are
 *   not spaces (U+00AD, U+034F, Hangul fillers U+115F-1160, U+3164,
 *   U+FFA0, U+17B4-17B5, U+180E, U+200B, U+2028-2029, U+2060-206F,
 *   U+FEFF, U+FFF0-FFFB, U+1BCA0-1BCA3, U+1D173-1D17A, tags
 *   U+E0000-E0FFF)     as "<U+XXXX>"
 *   bytes that are not UTF-8 as "\xNN"
 * so an ESC ] 52 sequence (clipboard write), a cursor move or a right-to-
 * left override shows as text. ZWJ/ZWNJ (U+200C-200D), variation
 * selectors, Mongolian selectors and the braille blank stay: emoji and
 * several scripts need them (names cannot hold them: text_name_valid). --json output is not cleaned: it keeps the
 * exact text (JSON escapes C0 itself). */
#ifndef NATTER_CLIENT_TERM_H
#define NATTER_CLIENT_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TERM_EXPAND 9 /* the most bytes one input byte or character becomes, per byte */

/* The code point is written escaped (not counting C0/DEL/invalid bytes). */
bool term_hidden(uint32_t cp);

/* s (NULL = "") cleaned into out (cap >= 1), cut at a whole escape or
 * character when it does not fit. Returns out. */
char *term_clean(const char *s, char *out, size_t cap);

/* s cleaned into a new string (caller frees); NULL when out of memory. */
char *term_dup(const char *s);

/* printf to f with the formatted text cleaned; the format's own trailing
 * "\n" (if any) stays a newline. Returns what fputs returns. */
int term_printf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
