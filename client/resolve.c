/* resolve.c - name, prefix or id to one object (see resolve.h). */
#include "client/resolve.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "client/field.h"

#define MATCH_SHOW 4

typedef int match_fn(const json_t *o, const char *q);

static int exact_id(const json_t *o, const char *q)
{
    const char *id = field_str(o, RESOLVE_ID_KEYS);
    return id && strcasecmp(id, q) == 0;
}

static int exact_name(const json_t *o, const char *q)
{
    const char *n = field_str(o, RESOLVE_NAME_KEYS);
    return n && strcmp(n, q) == 0;
}

static int exact_name_nocase(const json_t *o, const char *q)
{
    const char *n = field_str(o, RESOLVE_NAME_KEYS);
    return n && strcasecmp(n, q) == 0;
}

static int prefix(const json_t *o, const char *q)
{
    size_t ql = strlen(q);
    const char *id = field_str(o, RESOLVE_ID_KEYS);
    const char *n = field_str(o, RESOLVE_NAME_KEYS);
    return (id && strncasecmp(id, q, ql) == 0) || (n && strncasecmp(n, q, ql) == 0);
}

static void describe(const json_t *o, char *buf, size_t cap)
{
    const char *id = field_str(o, RESOLVE_ID_KEYS);
    const char *n = field_str(o, RESOLVE_NAME_KEYS);
    snprintf(buf, cap, "%s (%.12s)", n ? n : "?", id ? id : "?");
}

nt_err resolve_find(const json_t *list, const char *query, const char *what, size_t *index,
                    char err[static RESOLVE_ERR_MAX])
{
    static match_fn *const passes[] = {exact_id, exact_name, exact_name_nocase, prefix};
    err[0] = '\0';
    if (!json_is_array(list) || !query || !query[0]) {
        snprintf(err, RESOLVE_ERR_MAX, "no %s named", what);
        return NT_ERR_INVALID;
    }
    for (size_t p = 0; p < sizeof passes / sizeof passes[0]; p++) {
        size_t hits = 0, first = 0, i;
        json_t *o;
        json_array_foreach(list, i, o) {
            if (json_is_object(o) && passes[p](o, query)) {
                if (!hits++)
                    first = i;
            }
        }
        if (hits == 1) {
            *index = first;
            return NT_OK;
        }
        if (hits > 1) {
            int n = snprintf(err, RESOLVE_ERR_MAX, "\"%s\" fits %zu %ss:", query, hits, what);
            size_t shown = 0;
            json_array_foreach(list, i, o) {
                if (shown >= MATCH_SHOW || n < 0 || (size_t)n >= RESOLVE_ERR_MAX)
                    break;
                if (json_is_object(o) && passes[p](o, query)) {
                    char d[128];
                    describe(o, d, sizeof d);
                    n += snprintf(err + n, RESOLVE_ERR_MAX - (size_t)n, "%s %s",
                                  shown ? "," : "", d);
                    shown++;
                }
            }
            if (hits > shown && n >= 0 && (size_t)n < RESOLVE_ERR_MAX)
                snprintf(err + n, RESOLVE_ERR_MAX - (size_t)n, ", ...");
            return NT_ERR_EXISTS;
        }
    }
    snprintf(err, RESOLVE_ERR_MAX, "no %s called \"%s\"", what, query);
    return NT_ERR_NOT_FOUND;
}
