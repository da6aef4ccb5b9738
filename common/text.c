#include "text.h"

#include <stdint.h>
#include <string.h>

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

/* Unicode's spaces (Zs): a blank that is shown as one. */
static bool is_space(uint32_t c)
{
    return c == ' ' || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

static bool is_selector(uint32_t c)
{
    return (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xE0100 && c <= 0xE01EF);
}

bool text_invisible(uint32_t c)
{
    return c == 0xAD || c == 0x34F || c == 0x61C || c == 0x115F || c == 0x1160 || c == 0x17B4 || c == 0x17B5 ||
           (c >= 0x180B && c <= 0x180F) || (c >= 0x200B && c <= 0x200F) || (c >= 0x2028 && c <= 0x202E) ||
           (c >= 0x2060 && c <= 0x206F) || c == 0x2800 || c == 0x3164 || is_selector(c) || c == 0xFEFF ||
           c == 0xFFA0 || (c >= 0xFFF0 && c <= 0xFFFB) || (c >= 0x1BCA0 && c <= 0x1BCA3) ||
           (c >= 0x1D173 && c <= 0x1D17A) || (c >= 0xE0000 && c <= 0xE0FFF);
}

/* A tilde, or a character drawn like one: a label is a name, "~" and
 * digits of the id, so a name holding one could carry a fake suffix. */
static bool is_tilde(uint32_t c)
{
    return c == '~' || c == 0x2DC || c == 0x2F7 || c == 0x1FC0 || c == 0x2053 || c == 0x223C || c == 0x301C ||
           c == 0xFF5E;
}

bool text_name_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t prev = 0, cp = 0;
    if (!s || len == 0 || len > TEXT_NAME_MAX)
        return false;
    for (size_t i = 0, k; i < len; i += k) {
        k = utf8_next(p + i, len - i, &cp);
        if (!k || cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || is_tilde(cp))
            return false;
        /* a selector picks an emoji's look; after a Latin letter it shows nothing */
        if (is_selector(cp) ? prev < 0x80 || is_space(prev) || text_invisible(prev) : text_invisible(cp))
            return false;
        if (i == 0 && is_space(cp))
            return false;
        prev = cp;
    }
    return !is_space(cp);
}

/* Look-alikes of Latin letters among Greek and Cyrillic ones, upper and
 * lower case, as the Latin lower-case letter. */
static const struct {
    uint16_t from;
    char to;
} alike[] = {
    {0x391, 'a'}, {0x392, 'b'}, {0x395, 'e'}, {0x396, 'z'}, {0x397, 'h'}, {0x399, 'i'}, {0x39A, 'k'},
    {0x39C, 'm'}, {0x39D, 'n'}, {0x39F, 'o'}, {0x3A1, 'p'}, {0x3A4, 't'}, {0x3A5, 'y'}, {0x3A7, 'x'},
    {0x3B1, 'a'}, {0x3B9, 'i'}, {0x3BA, 'k'}, {0x3BD, 'v'}, {0x3BF, 'o'}, {0x3C1, 'p'}, {0x3C5, 'u'},
    {0x3C7, 'x'}, {0x405, 's'}, {0x406, 'i'}, {0x408, 'j'}, {0x410, 'a'}, {0x412, 'b'}, {0x415, 'e'},
    {0x41A, 'k'}, {0x41C, 'm'}, {0x41D, 'h'}, {0x41E, 'o'}, {0x420, 'p'}, {0x421, 'c'}, {0x422, 't'},
    {0x425, 'x'}, {0x430, 'a'}, {0x435, 'e'}, {0x43E, 'o'}, {0x440, 'p'}, {0x441, 'c'}, {0x443, 'y'},
    {0x445, 'x'}, {0x455, 's'}, {0x456, 'i'}, {0x458, 'j'}, {0x4BB, 'h'}, {0x4CF, 'l'}, {0x501, 'd'},
    {0x51B, 'q'}, {0x51D, 'w'},
};

static uint32_t latin_alike(uint32_t c)
{
    for (size_t i = 0; i < sizeof alike / sizeof alike[0]; i++)
        if (alike[i].from == c)
            return (uint32_t)alike[i].to;
    return c;
}

/* Simple lower case, the look-alikes as Latin: upper case first (a
 * capital may look Latin where its small letter does not), then the small
 * letter, so that a folded character folds to itself. */
static uint32_t fold_cp(uint32_t c)
{
    if (c >= 0xFF01 && c <= 0xFF5E)
        c -= 0xFEE0; /* fullwidth ASCII */
    c = latin_alike(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) ||
        (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) || (c >= 0x410 && c <= 0x42F))
        c += 0x20;
    else if (c >= 0x400 && c <= 0x40F)
        c += 0x50;
    return latin_alike(c);
}

/* c as UTF-8 into out (room for 4). */
static size_t utf8_put(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12);
        out[1] = (char)(0x80 | (c >> 6 & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18);
    out[1] = (char)(0x80 | (c >> 12 & 0x3F));
    out[2] = (char)(0x80 | (c >> 6 & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

char *text_name_fold(const char *s, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p), o = 0;
    bool space = false; /* a space is pending: written before the next character */
    if (!cap)
        return out;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        char piece[4];
        size_t k = utf8_next(p + i, n - i, &c), pl;
        if (!k) { /* not UTF-8: the byte as it is */
            piece[0] = (char)p[i];
            k = pl = 1;
        } else if (text_invisible(c)) {
            i += k;
            continue;
        } else if (is_space(c)) {
            space = o > 0;
            i += k;
            continue;
        } else {
            pl = utf8_put(fold_cp(c), piece);
        }
        if (o + space + pl + 1 > cap)
            break;
        if (space)
            out[o++] = ' ';
        memcpy(out + o, piece, pl);
        o += pl;
        space = false;
        i += k;
    }
    out[o] = '\0';
    return out;
}
