/* text.h - checks for user-visible text (names, messages).
 *
 * DESIGN: names are at most 100 bytes of valid UTF-8. Strict UTF-8 means
 * no overlong forms, no surrogates, nothing above U+10FFFF.
 *
 * A display name is not an identity, but people read it as one: a name
 * must not be able to look like another. So a name holds nothing that
 * shows as nothing (text_invisible) and no space at either end, and two
 * names are "alike" when their folded forms (text_name_fold) are equal. */
#ifndef NATTER_TEXT_H
#define NATTER_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEXT_NAME_MAX 100 /* bytes */
/* A folded name is never longer than the name (every mapping shrinks or
 * keeps the UTF-8 length); with its NUL: */
#define TEXT_FOLD_MAX (TEXT_NAME_MAX + 1)

/* s[0..len) is strict UTF-8 with no NUL. */
bool text_utf8_valid(const char *s, size_t len);

/* A display name: 1..TEXT_NAME_MAX bytes of strict UTF-8; no control
 * characters (C0, DEL, C1); no invisible or format character
 * (text_invisible); a variation selector only after a character that is
 * not ASCII (an emoji's presentation); no space (U+0020, U+00A0 and the
 * other Unicode spaces) first or last, so not only spaces either; no
 * tilde nor a character drawn like one (a label is name "~" id digits). */
bool text_name_valid(const char *s, size_t len);

/* Code points that show as nothing, or as a blank that is not a space:
 * soft hyphen, combining grapheme joiner, Hangul and Khmer fillers,
 * Mongolian selectors, zero-width space/joiners, bidi marks, embeddings
 * and isolates, word joiner and invisible operators, variation
 * selectors, BOM, interlinear annotation, braille blank, shorthand and
 * musical format controls, tags. */
bool text_invisible(uint32_t cp);

/* The form in which names are compared for "alike" (s: NUL-terminated;
 * bytes that are not UTF-8 are kept as they are): invisible characters
 * dropped; every run of spaces one U+0020, none at either end; letters
 * lower case (ASCII, fullwidth ASCII as ASCII, Latin-1, Greek, Cyrillic);
 * Cyrillic and Greek letters that look like Latin ones as those. Two
 * names that fold alike may look alike; ones that do not, differ in a
 * visible character (no full NFKC or confusable skeleton: a name with
 * other look-alikes still differs from the id's fingerprint). out gets
 * at most strlen(s) + 1 bytes, cut at cap. Returns out. */
char *text_name_fold(const char *s, char *out, size_t cap);

#endif
