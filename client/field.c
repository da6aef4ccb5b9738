/* field.c - tolerant JSON field reads (see field.h). */
#include "client/field.h"

#include <stdlib.h>
#include <string.h>

#define FIELD_KEY_MAX 128

/* One key, possibly dotted, looked up in o. */
static json_t *get_path(const json_t *o, const char *key, size_t len)
{
    char buf[FIELD_KEY_MAX];
    if (len >= sizeof buf)
        return NULL;
    memcpy(buf, key, len);
    buf[len] = '\0';
    json_t *cur = (json_t *)o;
    char *save = NULL;
    for (char *part = strtok_r(buf, ".", &save); part && cur; part = strtok_r(NULL, ".", &save))
        cur = json_is_object(cur) ? json_object_get(cur, part) : NULL;
    return cur;
}

json_t *field_get(const json_t *o, const char *keys)
{
    if (!json_is_object(o) || !keys)
        return NULL;
    const char *k = keys;
    for (;;) {
        size_t len = strcspn(k, "|");
        json_t *v = len ? get_path(o, k, len) : NULL;
        if (v && !json_is_null(v))
            return v;
        if (!k[len])
            return NULL;
        k += len + 1;
    }
}

const char *field_str(const json_t *o, const char *keys)
{
    return json_string_value(field_get(o, keys));
}

long long field_int(const json_t *o, const char *keys, long long def)
{
    json_t *v = field_get(o, keys);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    if (json_is_string(v)) {
        char *end;
        long long n = strtoll(json_string_value(v), &end, 10);
        if (end != json_string_value(v) && !*end)
            return n;
    }
    return def;
}

bool field_bool(const json_t *o, const char *keys, bool def)
{
    json_t *v = field_get(o, keys);
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    if (json_is_string(v))
        return strcmp(json_string_value(v), "true") == 0;
    return def;
}

json_t *field_list(const json_t *reply, const char *keys)
{
    if (json_is_array(reply))
        return (json_t *)reply;
    json_t *v = field_get(reply, keys);
    return json_is_array(v) ? v : NULL;
}
