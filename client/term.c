/* term.c - terminal-safe text (see term.h). */
#include "client/term.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "client/editline.h"
#include "common/text.h"

bool term_hidden(uint32_t c)
{
    /* What names may not hold (text_invisible), but for what text in
     * some scripts and emoji need: ZWJ/ZWNJ, Mongolian selectors, variation
     * selectors, the braille blank. */
    bool needed = c == 0x200C || c == 0x200D || (c >= 0x180B && c <= 0x180F && c != 0x180E) || c == 0x2800 ||
                  (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xE0100 && c <= 0xE01EF);
    return (c >= 0x80 && c < 0xA0) || (text_invisible(c) && !needed);
}

/* One character (or a bad byte) at s as it should be shown, into piece;
 * returns the input bytes used. */
static size_t one(const char *s, size_t n, char piece[static 16])
{
    wchar_t c;
    size_t used = editline_decode(s, n, &c);
    if (!used) {
        snprintf(piece, 16, "\\x%02X", (unsigned char)s[0]);
        return 1;
    }
    if (c == '\t')
        snprintf(piece, 16, " ");
    else if (c < 0x20 || c == 0x7F)
        snprintf(piece, 16, "^%c", c == 0x7F ? '?' : (char)(c + 0x40));
    else if (term_hidden((uint32_t)c))
        snprintf(piece, 16, "<U+%04X>", (unsigned)c);
    else {
        memcpy(piece, s, used);
        piece[used] = '\0';
    }
    return used;
}

char *term_clean(const char *s, char *out, size_t cap)
{
    size_t n = s ? strlen(s) : 0, o = 0;
    while (n > 0) {
        char piece[16];
        size_t used = one(s, n, piece), pl = strlen(piece);
        if (o + pl + 1 > cap)
            break;
        memcpy(out + o, piece, pl);
        o += pl;
        s += used;
        n -= used;
    }
    out[o] = '\0';
    return out;
}

char *term_dup(const char *s)
{
    size_t cap = (s ? strlen(s) : 0) * TERM_EXPAND + 1;
    char *out = malloc(cap);
    return out ? term_clean(s, out, cap) : NULL;
}

int term_printf(FILE *f, const char *fmt, ...)
{
    char *raw = NULL, *clean = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&raw, fmt, ap);
    va_end(ap);
    if (n < 0)
        return EOF;
    bool nl = n > 0 && raw[n - 1] == '\n' && fmt[0] && fmt[strlen(fmt) - 1] == '\n';
    if (nl)
        raw[n - 1] = '\0';
    clean = term_dup(raw);
    int rc = clean ? fputs(clean, f) : EOF;
    if (rc != EOF && nl)
        rc = fputc('\n', f);
    free(raw);
    free(clean);
    return rc;
}
