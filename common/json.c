#include "json.h"

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

nt_err json_parse_capped(const char *buf, size_t len, size_t max_depth, json_t **out)
{
    json_error_t jerr;
    *out = NULL;
    if (!buf)
        return NT_ERR_INVALID;
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
