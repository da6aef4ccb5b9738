/* editline.c - input line editing and history (see editline.h). */
#include "client/editline.h"

#include <stdlib.h>
#include <string.h>

struct editline {
    wchar_t buf[EDITLINE_MAX + 1];
    size_t len, cur;
    size_t bytes;                 /* UTF-8 size of buf[0..len) */
    char *hist[EDITLINE_HISTORY]; /* oldest first, UTF-8 */
    size_t nhist;
    size_t hpos;                  /* == nhist when not browsing */
    char *draft;                  /* line being typed before browsing */
};

nt_err editline_new(editline **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? NT_OK : NT_ERR_NOMEM;
}

void editline_free(editline *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nhist; i++)
        free(e->hist[i]);
    free(e->draft);
    free(e);
}

static bool valid_cp(wchar_t c)
{
    return c >= 0 && c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF);
}

size_t editline_encode(wchar_t c, char out[static 4])
{
    if (!valid_cp(c))
        return 0;
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

size_t editline_decode(const char *s, size_t n, wchar_t *c)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0)
        return 0;
    size_t len;
    wchar_t v, min;
    if (u[0] < 0x80) {
        *c = u[0];
        return 1;
    } else if ((u[0] & 0xE0) == 0xC0) {
        len = 2, v = u[0] & 0x1F, min = 0x80;
    } else if ((u[0] & 0xF0) == 0xE0) {
        len = 3, v = u[0] & 0x0F, min = 0x800;
    } else if ((u[0] & 0xF8) == 0xF0) {
        len = 4, v = u[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (u[i] & 0x3F);
    }
    if (v < min || !valid_cp(v)) /* overlong or surrogate */
        return 0;
    *c = v;
    return len;
}

static size_t cp_bytes(wchar_t c)
{
    char b[4];
    return editline_encode(c, b);
}

static bool put_cp(editline *e, wchar_t c)
{
    size_t nb = cp_bytes(c);
    if (e->len >= EDITLINE_MAX || !nb || e->bytes + nb > EDITLINE_BYTES_MAX)
        return false;
    memmove(e->buf + e->cur + 1, e->buf + e->cur, (e->len - e->cur) * sizeof(wchar_t));
    e->buf[e->cur++] = c;
    e->buf[++e->len] = 0;
    e->bytes += nb;
    return true;
}

bool editline_insert(editline *e, wchar_t c)
{
    if (!valid_cp(c) || c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0))
        return false;
    return put_cp(e, c);
}

bool editline_newline(editline *e)
{
    return put_cp(e, L'\n');
}

void editline_insert_utf8(editline *e, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        wchar_t c;
        size_t used = editline_decode(s, n, &c);
        if (!used)
            return;
        if (c == '\t')
            c = ' ';
        if (!(c == '\n' ? editline_newline(e) : editline_insert(e, c)) && c != '\r' &&
            e->bytes + cp_bytes(c) > EDITLINE_BYTES_MAX)
            return; /* full */
        s += used;
        n -= used;
    }
}

void editline_left(editline *e)
{
    if (e->cur > 0)
        e->cur--;
}

void editline_right(editline *e)
{
    if (e->cur < e->len)
        e->cur++;
}

void editline_home(editline *e)
{
    e->cur = 0;
}

void editline_end(editline *e)
{
    e->cur = e->len;
}

/* Remove [from, to) and put the cursor at from. */
static void cut(editline *e, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        e->bytes -= cp_bytes(e->buf[i]);
    memmove(e->buf + from, e->buf + to, (e->len - to) * sizeof(wchar_t));
    e->len -= to - from;
    e->buf[e->len] = 0;
    e->cur = from;
}

void editline_backspace(editline *e)
{
    if (e->cur > 0)
        cut(e, e->cur - 1, e->cur);
}

void editline_delete(editline *e)
{
    if (e->cur < e->len)
        cut(e, e->cur, e->cur + 1);
}

void editline_kill_word(editline *e)
{
    size_t i = e->cur;
    while (i > 0 && e->buf[i - 1] == ' ')
        i--;
    while (i > 0 && e->buf[i - 1] != ' ')
        i--;
    cut(e, i, e->cur);
}

void editline_kill_line(editline *e)
{
    cut(e, 0, e->len);
}

void editline_kill_to_end(editline *e)
{
    size_t cur = e->cur;
    cut(e, cur, e->len);
}

void editline_utf8(const editline *e, char out[static EDITLINE_UTF8_MAX])
{
    size_t n = 0;
    for (size_t i = 0; i < e->len; i++)
        n += editline_encode(e->buf[i], out + n);
    out[n] = '\0';
}

static void set_text(editline *e, const char *s)
{
    e->len = e->cur = e->bytes = 0;
    e->buf[0] = 0;
    if (s)
        editline_insert_utf8(e, s);
}

void editline_history_up(editline *e)
{
    if (e->hpos == 0)
        return;
    if (e->hpos == e->nhist) {
        char *d = malloc(EDITLINE_UTF8_MAX);
        if (!d)
            return;
        editline_utf8(e, d);
        free(e->draft);
        e->draft = d;
    }
    set_text(e, e->hist[--e->hpos]);
}

void editline_history_down(editline *e)
{
    if (e->hpos >= e->nhist)
        return;
    if (++e->hpos == e->nhist) {
        set_text(e, e->draft);
        free(e->draft);
        e->draft = NULL;
    } else {
        set_text(e, e->hist[e->hpos]);
    }
}

void editline_submit(editline *e, char out[static EDITLINE_UTF8_MAX])
{
    editline_utf8(e, out);
    bool same = e->nhist > 0 && strcmp(e->hist[e->nhist - 1], out) == 0;
    if (out[0] && !same) {
        char *copy = strdup(out);
        if (copy) {
            if (e->nhist == EDITLINE_HISTORY) {
                free(e->hist[0]);
                memmove(e->hist, e->hist + 1, (EDITLINE_HISTORY - 1) * sizeof e->hist[0]);
                e->nhist--;
            }
            e->hist[e->nhist++] = copy;
        }
    }
    e->hpos = e->nhist;
    free(e->draft);
    e->draft = NULL;
    set_text(e, NULL);
}

const wchar_t *editline_text(const editline *e)
{
    return e->buf;
}

size_t editline_len(const editline *e)
{
    return e->len;
}

size_t editline_cursor(const editline *e)
{
    return e->cur;
}

size_t editline_bytes(const editline *e)
{
    return e->bytes;
}

bool editline_multiline(const editline *e)
{
    return wcschr(e->buf, L'\n') != NULL;
}

size_t editline_history_len(const editline *e)
{
    return e->nhist;
}
