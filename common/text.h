/* text.h - checks for user-visible text (names, messages).
 *
 * DESIGN: names are at most 100 bytes of valid UTF-8. Strict UTF-8 means
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
#ifndef NATTER_TEXT_H
#define NATTER_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#define TEXT_NAME_MAX 100 /* bytes */

/* s[0..len) is strict UTF-8 with no NUL. */
bool text_utf8_valid(const char *s, size_t len);

/* A display name: 1..TEXT_NAME_MAX bytes of strict UTF-8, no control
 * characters (C0, DEL, C1), not only spaces. */
bool text_name_valid(const char *s, size_t len);

#endif
