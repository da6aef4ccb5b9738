/* hostile_corpus.c - the hostile values test_hostile_input sends: see
 * hostile.h. */
#include "hostile.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t hx_seg_tricks(const char *good, hx_seg_trick t[static HX_SEG_TRICKS_MAX], char *buf, size_t cap)
{
    size_t k = 0, gl = strlen(good);
    char *p = buf;
#define PUT(nm, w, f, ...)                                                                  \
    do {                                                                                   \
        int len_ = snprintf(p, cap - (size_t)(p - buf), __VA_ARGS__);                      \
        t[k++] = (hx_seg_trick){nm, p, w, f};                                                 \
        p += len_ + 1;                                                                     \
    } while (0)
    PUT("shorter by one", 0, 0, "%.*s", (int)gl - 1, good);
    PUT("longer by one", 0, 0, "%sa", good);
    PUT("upper-case hex", 0, 0, "%s", good);
    for (char *c = (char *)t[k - 1].seg; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
    PUT("non-hex", 0, 0, "%.*sg", (int)gl - 1, good);
    PUT("overlong", 0, 0, "%s%s%s%s%s", good, good, good, good, good);
    PUT("%00 at the end", 400, X_EDGE, "%s%%00", good);
    PUT("%00 alone", 400, X_EDGE, "%%00");
    PUT("%00 inside", 400, X_EDGE, "%.8s%%00%s", good, good + 8);
    PUT("%2f", 0, 0, "%%2f");
    PUT("%2f inside", 0, 0, "%.8s%%2f%s", good, good + 9);
    PUT("..", 0, 0, "..");
    PUT("%2e%2e", 0, 0, "%%2e%%2e");
    PUT(".", 0, 0, ".");
    PUT("empty (double slash)", 0, 0, "%s", "");
    PUT("unicode", 0, 0, "%s", "\xc3\xa9\xc3\xa9");
    PUT("unicode escaped", 0, 0, "%%C3%%A9%.*s", (int)gl - 1, good);
    PUT("%ff", 0, 0, "%%ff%.*s", (int)gl - 1, good);
    PUT("bad escape", 0, 0, "%%zz%.*s", (int)gl - 2, good);
    PUT("space", 0, 0, "%%20%s", good);
#undef PUT
    return k;
}

static hx_blob mk(const char *name, const char *text, size_t len)
{
    hx_blob b = {name, malloc(len + 1), len};
    memcpy(b.text, text, len);
    b.text[len] = '\0';
    return b;
}

static hx_blob deep(size_t levels, const char *open, const char *close, const char *name)
{
    size_t ol = strlen(open), cl = strlen(close), n = levels * (ol + cl) + 1;
    hx_blob b = {name, malloc(n + 1), 0};
    for (size_t i = 0; i < levels; i++, b.len += ol)
        memcpy(b.text + b.len, open, ol);
    b.text[b.len++] = '1';
    for (size_t i = 0; i < levels; i++, b.len += cl)
        memcpy(b.text + b.len, close, cl);
    b.text[b.len] = '\0';
    return b;
}

size_t hx_malformed_json(hx_blob out[static HX_BLOBS_MAX])
{
    static const struct {
        const char *name, *text;
    } t[] = {
        {"empty object truncated", "{"},        {"truncated member", "{\"name\":"},
        {"truncated string", "{\"name\":\"ab"}, {"trailing garbage", "{}x"},
        {"two objects", "{} {}"},               {"trailing comma", "{\"a\":1,}"},
        {"array", "[]"},                        {"null", "null"},
        {"number", "1"},                        {"string", "\"s\""},
        {"huge exponent", "{\"name\":1e999999}"}, {"huge integer", "{\"name\":123456789012345678901234567890}"},
        {"-huge integer", "{\"name\":-99999999999999999999}"}, {"NaN", "{\"name\":NaN}"},
        {"Infinity", "{\"name\":Infinity}"},   {"duplicate keys", "{\"name\":\"a\",\"name\":\"b\"}"},
        {"escaped NUL", "{\"name\":\"a\\u0000b\"}"}, {"lone high surrogate", "{\"name\":\"\\ud800\"}"},
        {"lone low surrogate", "{\"name\":\"\\udc00x\"}"}, {"bad escape", "{\"name\":\"\\x41\"}"},
        {"single quotes", "{'name':'a'}"},      {"comment", "{/*c*/\"name\":\"a\"}"},
        {"unquoted key", "{name:\"a\"}"},       {"invalid UTF-8", "{\"name\":\"\xff\xfe\"}"},
        {"overlong UTF-8", "{\"name\":\"\xc0\xaf\"}"}, {"UTF-8 surrogate", "{\"name\":\"\xed\xa0\x80\"}"},
        {"BOM", "\xef\xbb\xbf{\"name\":\"a\"}"}, {"control char", "{\"name\":\"a\x01\"}"},
        {"whitespace", " \r\n\t "},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        out[n++] = mk(t[i].name, t[i].text, strlen(t[i].text));
    out[n++] = mk("raw NUL in a string", "{\"name\":\"a\0b\"}", 14);
    out[n++] = mk("NUL after the object", "{}\0", 3);
    out[n++] = deep(10000, "[", "]", "10k nested arrays");
    out[n++] = deep(10000, "{\"a\":", "}", "10k nested objects");
    out[n++] = deep(40, "{\"a\":", "}", "40 nested objects");
    return n;
}

void hx_blobs_free(hx_blob *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(b[i].text);
}

char *hx_json_with(const json_t *o, const char *field, const char *raw)
{
    json_t *c = json_deep_copy(o);
    char *out;
    ck_assert_ptr_nonnull(c);
    if (!raw) {
        json_object_del(c, field);
        out = json_dumps(c, JSON_COMPACT);
    } else {
        json_object_set_new(c, field, json_string("@@"));
        char *s = json_dumps(c, JSON_COMPACT), *at = strstr(s, "\"@@\"");
        out = malloc(strlen(s) + strlen(raw) + 1);
        ck_assert_ptr_nonnull(out);
        sprintf(out, "%.*s%s%s", (int)(at - s), s, raw, at + 4);
        free(s);
    }
    json_decref(c);
    ck_assert_ptr_nonnull(out);
    return out;
}

const char *const *hx_wrong_values(char type, size_t *n)
{
    static const char *const s[] = {"1", "1.5", "true", "null", "[]", "{}", "[\"x\"]", "{\"x\":\"y\"}", "-1"};
    static const char *const b[] = {"\"true\"", "1", "0", "null", "[]", "{}", "\"\""};
    static const char *const i[] = {"\"1\"", "1.5", "true", "null", "[]", "{}", "-1", "0", "1e400", "99999999999999999999"};
    *n = type == 'b' ? sizeof b / sizeof b[0] : type == 'i' ? sizeof i / sizeof i[0] : sizeof s / sizeof s[0];
    return type == 'b' ? b : type == 'i' ? i : s;
}

char *hx_long_field(const char *prefix, const char *field, size_t n, char c, size_t *len)
{
    size_t cap = strlen(prefix) + strlen(field) + n + 16;
    char *b = malloc(cap);
    int o = snprintf(b, cap, "{%s\"%s\":\"", prefix, field);
    memset(b + o, c, n);
    o += (int)n;
    o += snprintf(b + o, cap - (size_t)o, "\"}");
    *len = (size_t)o;
    return b;
}

