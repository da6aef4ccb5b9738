/* resolve.c - name, prefix or id to one object (see resolve.h). */
#include "client/resolve.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "client/field.h"
#include "client/ident.h"

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

/* ---- peers: labels and trusted first -------------------------------------- */

typedef int peer_match_fn(const json_t *o, const json_t *peers, const char *q);

static int p_id(const json_t *o, const json_t *peers, const char *q) { return exact_id(o, q); }
static int p_name(const json_t *o, const json_t *peers, const char *q) { return exact_name(o, q); }
static int p_name_nocase(const json_t *o, const json_t *peers, const char *q) { return exact_name_nocase(o, q); }
static int p_prefix(const json_t *o, const json_t *peers, const char *q)
{
    char buf[IDENT_LABEL_MAX];
    return prefix(o, q) || strncmp(ident_peer_label(o, peers, buf), q, strlen(q)) == 0;
}

static int p_label(const json_t *o, const json_t *peers, const char *q)
{
    char buf[IDENT_LABEL_MAX];
    return strcmp(ident_peer_label(o, peers, buf), q) == 0;
}

/* "name~hex": the peer's name is name (may be empty) and its id starts
 * with hex (1..64 digits): a label typed with fewer digits than shown,
 * or with digits where the label is the bare name. */
static int p_name_id(const json_t *o, const json_t *peers, const char *q)
{
    const char *tilde = strrchr(q, '~'), *n = field_str(o, RESOLVE_NAME_KEYS), *id = field_str(o, RESOLVE_ID_KEYS);
    size_t hl = tilde ? strlen(tilde + 1) : 0;
    if (!tilde || !hl || hl > 64 || strspn(tilde + 1, "0123456789abcdefABCDEF") != hl || !id)
        return 0;
    return strlen(n ? n : "") == (size_t)(tilde - q) && !strncmp(n ? n : "", q, (size_t)(tilde - q)) &&
           strncasecmp(id, tilde + 1, hl) == 0;
}

static bool is_trusted(const json_t *o)
{
    const char *t = ident_trust(o);
    return !strcmp(t, "trusted") || !strcmp(t, "self");
}

/* "\"q\" fits N peers: bob~3fa2c9d1 (untrusted), ..." over the candidates. */
static void list_candidates(const json_t *peers, const char *q, peer_match_fn *fn, bool trusted_only,
                            size_t hits, char err[static RESOLVE_ERR_MAX])
{
    int n = snprintf(err, RESOLVE_ERR_MAX, "\"%s\" fits %zu %speers:", q, hits,
                     trusted_only ? "trusted " : "");
    size_t shown = 0, i;
    json_t *o;
    json_array_foreach(peers, i, o) {
        if (shown >= MATCH_SHOW || n < 0 || (size_t)n >= RESOLVE_ERR_MAX)
            break;
        if (!json_is_object(o) || !fn(o, peers, q) || (trusted_only && !is_trusted(o)))
            continue;
        char buf[IDENT_LABEL_MAX];
        n += snprintf(err + n, RESOLVE_ERR_MAX - (size_t)n, "%s %s (%s)", shown ? "," : "",
                      ident_peer_label(o, peers, buf), ident_trust(o));
        shown++;
    }
    if (hits > shown && n >= 0 && (size_t)n < RESOLVE_ERR_MAX)
        snprintf(err + n, RESOLVE_ERR_MAX - (size_t)n, ", ...");
    if (n >= 0 && (size_t)n < RESOLVE_ERR_MAX)
        snprintf(err + n, RESOLVE_ERR_MAX - (size_t)n, "; name one by its label or id");
}

/* One step: NT_OK (index set), NT_ERR_EXISTS (err set) or NT_ERR_NOT_FOUND. */
static nt_err peer_pass(const json_t *peers, const char *q, peer_match_fn *fn, size_t *index,
                        char err[static RESOLVE_ERR_MAX])
{
    size_t hits = 0, trusted = 0, first = 0, first_trusted = 0, i;
    json_t *o;
    json_array_foreach(peers, i, o) {
        if (!json_is_object(o) || !fn(o, peers, q))
            continue;
        if (!hits++)
            first = i;
        if (is_trusted(o) && !trusted++)
            first_trusted = i;
    }
    if (trusted == 1 || (trusted == 0 && hits == 1)) {
        *index = trusted ? first_trusted : first;
        return NT_OK;
    }
    if (hits == 0)
        return NT_ERR_NOT_FOUND;
    list_candidates(peers, q, fn, trusted > 1, trusted > 1 ? trusted : hits, err);
    return NT_ERR_EXISTS;
}

nt_err resolve_peer(const json_t *peers, const char *query, size_t *index, char err[static RESOLVE_ERR_MAX])
{
    static peer_match_fn *const passes[] = {p_id, p_label, p_name_id, p_name, p_name_nocase, p_prefix};
    err[0] = '\0';
    if (!json_is_array(peers) || !query || !query[0]) {
        snprintf(err, RESOLVE_ERR_MAX, "no peer named");
        return NT_ERR_INVALID;
    }
    for (size_t p = 0; p < sizeof passes / sizeof passes[0]; p++) {
        nt_err rc = peer_pass(peers, query, passes[p], index, err);
        if (rc != NT_ERR_NOT_FOUND)
            return rc;
    }
    snprintf(err, RESOLVE_ERR_MAX, "no peer called \"%s\"", query);
    return NT_ERR_NOT_FOUND;
}
