#include "json.h"

#include <stdio.h>
#include <string.h>

/* Nesting depth of buf, ignoring brackets inside strings; stops early once
 * over max so that a huge input does not cost more than one pass. */
static bool depth_ok(const char *buf, size_t len, size_t max)
{
    size_t depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == '[' || c == '{') {
            if (++depth > max)
                return false;
        } else if ((c == ']' || c == '}') && depth > 0)
            depth--;
    }
    return true;
}

/* ---- the flat fast path ----
 *
 * Nearly every body natter reads is one flat object whose values are plain
 * strings (base64, hex, names) or integers. Jansson reads such text at
 * about 14 ns a byte (it checks UTF-8 and copies each string twice), which
 * for a sealed 2 KiB envelope costs more than opening it. This reads that
 * shape in one pass, and also values that are lists of such objects (a
 * batch of submissions, a notify's messages). Anything else (an escape or
 * any byte outside printable ASCII in a string, deeper nesting, other
 * arrays, reals, true/false/null, a duplicate or long key, a long integer)
 * is left to Jansson, so the two never disagree about what a text means:
 * the fast path only ever takes texts that Jansson would parse to the same
 * value. */
#define FLAT_KEY_MAX 64
#define FLAT_INT_DIGITS 18 /* always fits in json_int_t */

static size_t skip_ws(const char *b, size_t i, size_t n)
{
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
        i++;
    return i;
}

/* The string whose opening quote is at b[i-1]: true with *end at its
 * closing quote if it holds only printable ASCII and no backslash. */
static bool plain_string(const char *b, size_t i, size_t n, size_t *end)
{
    for (; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if (c == '"') {
            *end = i;
            return true;
        }
        if (c < 0x20 || c > 0x7e || c == '\\')
            return false;
    }
    return false;
}

/* An integer at b[i]: optional '-', then 1..18 digits, no leading zero,
 * not followed by a fraction, an exponent or more digits. */
static bool plain_int(const char *b, size_t i, size_t n, size_t *end, json_int_t *v)
{
    bool neg = i < n && b[i] == '-';
    size_t start = neg ? ++i : i;
    json_int_t acc = 0;
    while (i < n && b[i] >= '0' && b[i] <= '9' && i - start < FLAT_INT_DIGITS)
        acc = acc * 10 + (b[i++] - '0');
    size_t digits = i - start;
    if (digits == 0 || (digits > 1 && b[start] == '0'))
        return false;
    if (i < n && ((b[i] >= '0' && b[i] <= '9') || b[i] == '.' || b[i] == 'e' || b[i] == 'E'))
        return false;
    *end = i;
    *v = neg ? -acc : acc;
    return true;
}

static json_t *parse_obj(const char *b, size_t i, size_t n, size_t *out_end, bool lists);

/* A list of flat objects at b[i] == '[': true with *end past its ']'. */
static json_t *parse_list(const char *b, size_t i, size_t n, size_t *out_end)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    i = skip_ws(b, i + 1, n);
    if (i < n && b[i] == ']') {
        *out_end = i + 1;
        return a;
    }
    for (;;) {
        size_t end;
        json_t *o = parse_obj(b, i, n, &end, false);
        if (!o || json_array_append_new(a, o))
            break;
        i = skip_ws(b, end, n);
        if (i < n && b[i] == ',') {
            i = skip_ws(b, i + 1, n);
            continue;
        }
        if (i < n && b[i] == ']') {
            *out_end = i + 1;
            return a;
        }
        break;
    }
    json_decref(a);
    return NULL;
}

/* An object at b[i] == '{' whose values are plain strings and integers,
 * and, with lists, lists of such objects: *out_end past its '}'. */
static json_t *parse_obj(const char *b, size_t i, size_t n, size_t *out_end, bool lists)
{
    size_t end;
    if (i >= n || b[i] != '{')
        return NULL;
    json_t *o = json_object();
    if (!o)
        return NULL;
    i = skip_ws(b, i + 1, n);
    if (i < n && b[i] == '}')
        goto close;
    for (;;) {
        char key[FLAT_KEY_MAX + 1];
        if (i >= n || b[i] != '"' || !plain_string(b, i + 1, n, &end) || end - (i + 1) > FLAT_KEY_MAX)
            goto no;
        memcpy(key, b + i + 1, end - (i + 1));
        key[end - (i + 1)] = '\0';
        if (json_object_get(o, key)) /* a duplicate: Jansson refuses or keeps one, as its flags say */
            goto no;
        i = skip_ws(b, end + 1, n);
        if (i >= n || b[i] != ':')
            goto no;
        i = skip_ws(b, i + 1, n);
        json_t *v;
        if (i < n && b[i] == '"') {
            if (!plain_string(b, i + 1, n, &end))
                goto no;
            v = json_stringn_nocheck(b + i + 1, end - (i + 1)); /* ASCII: valid UTF-8 */
            i = end + 1;
        } else if (lists && i < n && b[i] == '[') {
            if (!(v = parse_list(b, i, n, &end)))
                goto no;
            i = end;
        } else {
            json_int_t x;
            if (!plain_int(b, i, n, &end, &x))
                goto no;
            v = json_integer(x);
            i = end;
        }
        if (!v || json_object_set_new_nocheck(o, key, v)) /* steals v, even when it fails */
            goto no;
        i = skip_ws(b, i, n);
        if (i < n && b[i] == ',') {
            i = skip_ws(b, i + 1, n);
            continue;
        }
        if (i < n && b[i] == '}')
            break;
        goto no;
    }
close:
    *out_end = i + 1;
    return o;
no:
    json_decref(o);
    return NULL;
}

/* The whole of b[0..n) as such an object (lists: up to depth 3), or NULL. */
static json_t *parse_flat(const char *b, size_t n, bool lists)
{
    size_t end;
    json_t *o = parse_obj(b, skip_ws(b, 0, n), n, &end, lists);
    if (o && skip_ws(b, end, n) == n)
        return o;
    json_decref(o);
    return NULL;
}

json_t *json_load_fast(const char *buf, size_t len, size_t flags, json_error_t *err)
{
    if (buf && !(flags & ~(size_t)(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY))) {
        json_t *o = parse_flat(buf, len, true);
        if (o)
            return o;
    }
    return json_loadb(buf, len, flags, err);
}

nt_err json_parse_capped(const char *buf, size_t len, size_t max_depth, json_t **out)
{
    json_error_t jerr;
    *out = NULL;
    if (!buf)
        return NT_ERR_INVALID;
    if (max_depth >= 1 && (*out = parse_flat(buf, len, max_depth >= 3)) != NULL)
        return NT_OK; /* one level deep by construction, three with lists */
    if (!depth_ok(buf, len, max_depth))
        return NT_ERR_TOO_BIG;
    /* JSON_REJECT_DUPLICATES: a key given twice is ambiguous, refuse it. */
    json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!v)
        return NT_ERR_INVALID;
    *out = v;
    return NT_OK;
}

nt_err json_parse_object(const char *buf, size_t len, size_t max_depth, json_t **out)
{
    nt_err rc = json_parse_capped(buf, len, max_depth, out);
    if (rc)
        return rc;
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return NT_ERR_INVALID;
    }
    return NT_OK;
}

nt_err json_get_str(const json_t *obj, const char *key, size_t max_len, const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return NT_ERR_NOT_FOUND;
    if (!json_is_string(v))
        return NT_ERR_INVALID;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    /* Embedded NULs (\u0000) would make the C string shorter than the value. */
    if (n == 0 || n > max_len || strlen(s) != n)
        return NT_ERR_INVALID;
    *out = s;
    return NT_OK;
}

nt_err json_get_int(const json_t *obj, const char *key, json_int_t min, json_int_t max, json_int_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return NT_ERR_NOT_FOUND;
    if (!json_is_integer(v))
        return NT_ERR_INVALID;
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return NT_ERR_INVALID;
    *out = i;
    return NT_OK;
}

nt_err json_get_bool(const json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return NT_ERR_NOT_FOUND;
    if (!json_is_boolean(v))
        return NT_ERR_INVALID;
    *out = json_is_true(v);
    return NT_OK;
}

char *json_to_string(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---- request members ---- */

#define FIELD_NAME_SHOWN 64

/* The member name as printable ASCII (it is the peer's text), cut short. */
static void shown_name(const char *name, char out[static FIELD_NAME_SHOWN + 1])
{
    size_t i = 0;
    for (; name[i] && i < FIELD_NAME_SHOWN; i++)
        out[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
    out[i] = '\0';
}

static const json_field *field_find(const json_field fields[], const char *name)
{
    for (size_t i = 0; fields && fields[i].name; i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

static unsigned type_bit(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return JSON_F_STRING;
    case JSON_INTEGER: return JSON_F_INT;
    case JSON_TRUE:
    case JSON_FALSE: return JSON_F_BOOL;
    case JSON_ARRAY: return JSON_F_ARRAY;
    case JSON_OBJECT: return JSON_F_OBJECT;
    default: return 0; /* null and reals: only JSON_F_ANY takes them */
    }
}

static bool value_listed(const char *v, const char *const *one_of)
{
    for (size_t i = 0; one_of[i]; i++)
        if (strcmp(v, one_of[i]) == 0)
            return true;
    return false;
}

static void list_values(const char *const *one_of, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; one_of[i] && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", one_of[i]);
}

static const char *type_words(unsigned types)
{
    switch (types) {
    case JSON_F_STRING: return "a string";
    case JSON_F_INT: return "an integer";
    case JSON_F_BOOL: return "true or false";
    case JSON_F_ARRAY: return "an array";
    case JSON_F_OBJECT: return "an object";
    default: return "of another type";
    }
}

/* One member against its field; the items of an array or the members of an
 * object against sub. */
static nt_err check_member(const json_field *f, const char *shown, const json_t *v, char msg[static JSON_FIELD_MSG_MAX])
{
    char values[JSON_FIELD_MSG_MAX / 2];
    if (f->types != JSON_F_ANY && !(type_bit(v) & f->types)) {
        snprintf(msg, JSON_FIELD_MSG_MAX, "field \"%s\" must be %s", shown, type_words(f->types));
        return NT_ERR_INVALID;
    }
    if (json_is_string(v) && f->one_of && !value_listed(json_string_value(v), f->one_of)) {
        list_values(f->one_of, values, sizeof values);
        snprintf(msg, JSON_FIELD_MSG_MAX, "field \"%s\" must be one of: %s", shown, values);
        return NT_ERR_INVALID;
    }
    if (!f->sub || !(json_is_array(v) || json_is_object(v)))
        return NT_OK;
    if (json_is_object(v))
        return json_check_fields(v, f->sub, msg);
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item) {
        if (!json_is_object(item)) {
            snprintf(msg, JSON_FIELD_MSG_MAX, "field \"%s\" must hold objects", shown);
            return NT_ERR_INVALID;
        }
        if (json_check_fields(item, f->sub, msg))
            return NT_ERR_INVALID;
    }
    return NT_OK;
}

nt_err json_check_fields(const json_t *obj, const json_field fields[], char msg[static JSON_FIELD_MSG_MAX])
{
    const char *name;
    const json_t *v;
    char shown[FIELD_NAME_SHOWN + 1];
    msg[0] = '\0';
    if (!obj)
        return NT_OK;
    json_object_foreach((json_t *)obj, name, v) {
        const json_field *f = field_find(fields, name);
        shown_name(name, shown);
        if (!f) {
            snprintf(msg, JSON_FIELD_MSG_MAX, "unknown field \"%s\"", shown);
            return NT_ERR_INVALID;
        }
        if (check_member(f, shown, v, msg))
            return NT_ERR_INVALID;
    }
    return NT_OK;
}
