/* editline.h - the full-screen client's input line: editing and history.
 *
 * The line is kept as Unicode code points (wchar_t), so cursor moves and
 * deletions step over whole characters, never into a UTF-8 sequence.
 * editline_utf8 gives the text to send. No terminal I/O here: the TUI maps
 * keys to these calls, and tests drive them directly. */
#ifndef NATTER_CLIENT_EDITLINE_H
#define NATTER_CLIENT_EDITLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <wchar.h>
#include "common/err.h"

#define EDITLINE_BYTES_MAX (16 * 1024) /* UTF-8 bytes in one line: what the node accepts */
#define EDITLINE_MAX EDITLINE_BYTES_MAX /* code points (all ASCII at most) */
#define EDITLINE_HISTORY 200  /* lines kept */
#define EDITLINE_UTF8_MAX (EDITLINE_BYTES_MAX + 1)

typedef struct editline editline;

NT_MUST_USE nt_err editline_new(editline **out);
void editline_free(editline *e);

/* Insert one code point at the cursor. false when the line is full (its
 * UTF-8 would pass EDITLINE_BYTES_MAX) or c is a control character or not
 * a valid code point. */
bool editline_insert(editline *e, wchar_t c);
/* Insert a line break (a pasted multi-line text); false when full. */
bool editline_newline(editline *e);
/* Insert UTF-8 text (e.g. history); newlines kept, tabs become spaces;
 * stops at the first invalid byte or when full. */
void editline_insert_utf8(editline *e, const char *s);

void editline_left(editline *e);
void editline_right(editline *e);
void editline_home(editline *e);
void editline_end(editline *e);
void editline_backspace(editline *e);     /* delete before the cursor */
void editline_delete(editline *e);        /* delete at the cursor */
void editline_kill_word(editline *e);     /* Ctrl-W: the word before the cursor */
void editline_kill_line(editline *e);     /* Ctrl-U: everything */
void editline_kill_to_end(editline *e);   /* Ctrl-K */

/* History: up recalls older lines, down newer ones and finally the line that
 * was being typed before up was pressed. */
void editline_history_up(editline *e);
void editline_history_down(editline *e);

/* Enter: the line as UTF-8 into out (cap EDITLINE_UTF8_MAX), added to the
 * history unless empty or equal to the last entry, and the line cleared. */
void editline_submit(editline *e, char out[static EDITLINE_UTF8_MAX]);

/* Current contents (borrowed, NUL-terminated), length and cursor, in code
 * points. */
const wchar_t *editline_text(const editline *e);
size_t editline_len(const editline *e);
size_t editline_cursor(const editline *e);
/* The line's size as UTF-8, in bytes (at most EDITLINE_BYTES_MAX). */
size_t editline_bytes(const editline *e);
/* Whether the line holds a line break. */
bool editline_multiline(const editline *e);
size_t editline_history_len(const editline *e);

/* The line as UTF-8 without submitting it. */
void editline_utf8(const editline *e, char out[static EDITLINE_UTF8_MAX]);

/* Encode one code point as UTF-8 into out[4]; returns the byte count, 0 for
 * an invalid code point. Decode one from s (n bytes available): returns the
 * bytes used (0 on an invalid or truncated sequence). */
size_t editline_encode(wchar_t c, char out[static 4]);
size_t editline_decode(const char *s, size_t n, wchar_t *c);

#endif
