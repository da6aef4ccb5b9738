#include "text.h"

#include <stdint.h>

/* Decode one code point at s (n bytes left); 0 on malformed input. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t c = s[0], min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xE0) == 0xC0)
        len = 2, c &= 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        len = 3, c &= 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        len = 4, c &= 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

bool text_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = utf8_next(p + i, len - i, &cp);
        if (!k || cp == 0)
            return false;
        i += k;
    }
    return true;
}

bool text_name_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    bool visible = false;
    if (!s || len == 0 || len > TEXT_NAME_MAX)
        return false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = utf8_next(p + i, len - i, &cp);
        if (!k || cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
            return false;
        if (cp != ' ')
            visible = true;
        i += k;
    }
    return visible;
}
