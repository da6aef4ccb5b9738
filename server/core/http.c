/* http.c - the HTTP core's requests: routing, the checks before a
 * handler, replies and accessors. The daemon, its threads and the
 * connection table are in http_daemon.c, http_work.c and http_conn.c
 * (http_int.h says how they fit); the listening socket is made in
 * http_listen.c. */
#include "server/core/http_int.h"

#include <errno.h>
#include <microhttpd.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/platform_util.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"

#define HTTP_ALLOW_MAX 64
#define HTTP_LINE_SCAN_MAX (64 * 1024)  /* how far apart two pieces of one request line can be */

/* ---- matching ------------------------------------------------------- */

bool http_match(const char *pattern, const char *path, http_params *out)
{
    http_params tmp;
    http_params *p = out ? out : &tmp;
    p->n = 0;
    if (*pattern != '/' || *path != '/')
        return false;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++, path++;
        size_t plen = strcspn(pattern, "/"), slen = strcspn(path, "/");
        if (plen >= 2 && pattern[0] == '{' && pattern[plen - 1] == '}') {
            if (slen == 0 || slen >= HTTP_PARAM_MAX || p->n == HTTP_PARAMS_MAX)
                return false;
            p->names[p->n] = pattern + 1;
            p->name_lens[p->n] = plen - 2;
            memcpy(p->values[p->n], path, slen);
            p->values[p->n][slen] = '\0';
            p->n++;
        } else if (plen != slen || memcmp(pattern, path, plen) != 0) {
            return false;
        }
        pattern += plen, path += slen;
    }
    return *pattern == '\0' && *path == '\0';
}

/* ---- replies -------------------------------------------------------- */

static void set_reply(http_req *rq, unsigned status, const char *ctype, char *owned, size_t len)
{
    if (rq->replied) {
        free(owned);
        log_warn("http: second reply to %s %s ignored", rq->method, rq->path);
        return;
    }
    rq->replied = true;
    rq->status = status;
    rq->content_type = ctype;
    rq->out = owned;
    rq->out_len = len;
}

void http_reply_header(http_req *rq, const char *name, const char *value)
{
    if (rq->n_extra == HTTP_EXTRA_HEADERS_MAX)
        return;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n), free(v);
        return;
    }
    rq->extra[rq->n_extra++] = (http_header){n, v};
}

void http_reply_json(http_req *rq, unsigned status, json_t *body)
{
    char *s = body ? json_to_string(body) : NULL;
    json_decref(body);
    if (!s) {
        static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        s = strdup(oom);
        status = 500;
    }
    set_reply(rq, status, "application/json", s, s ? strlen(s) : 0);
}

void http_reply_error(http_req *rq, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[HTTP_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    http_reply_json(rq, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

void http_reply_raw(http_req *rq, unsigned status, const char *content_type, const void *data, size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (!copy) {
        http_reply_error(rq, 500, "internal", "out of memory");
        return;
    }
    memcpy(copy, data, len);
    set_reply(rq, status, content_type, copy, len);
}

unsigned http_status_for(nt_err rc, const char **code)
{
    static const struct {
        nt_err rc;
        unsigned status;
        const char *code;
    } map[] = {
        {NT_ERR_INVALID, 400, "bad_request"}, {NT_ERR_AUTH, 401, "unauthorized"},
        {NT_ERR_REPLAY, 401, "unauthorized"}, {NT_ERR_EXPIRED, 401, "unauthorized"},
        {NT_ERR_FORBIDDEN, 403, "forbidden"}, {NT_ERR_NOT_FOUND, 404, "not_found"},
        {NT_ERR_EXISTS, 409, "conflict"},     {NT_ERR_STATE, 409, "conflict"},
        {NT_ERR_TOO_BIG, 413, "too_large"},   {NT_ERR_BUSY, 503, "busy"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (map[i].rc == rc) {
            if (code)
                *code = map[i].code;
            return map[i].status;
        }
    }
    if (code)
        *code = "internal";
    return 500;
}

void http_reply_nt_err(http_req *rq, nt_err rc, const char *msg)
{
    const char *code;
    unsigned status = http_status_for(rc, &code);
    http_reply_error(rq, status, code, "%s", msg ? msg : err_str(rc));
}

bool http_replied(const http_req *rq) { return rq->replied; }

/* ---- accessors ------------------------------------------------------ */

const char *http_req_method(const http_req *rq) { return rq->method; }
const char *http_req_path(const http_req *rq) { return rq->path; }
const char *http_req_remote(const http_req *rq) { return rq->remote; }
const char *http_req_remote_ip(const http_req *rq) { return rq->remote_ip; }
http_api http_req_api(const http_req *rq) { return rq->h->api; }

const struct sockaddr *http_req_remote_sa(const http_req *rq, socklen_t *len)
{
    if (len)
        *len = rq->remote_sa_len;
    return (const struct sockaddr *)&rq->remote_sa;
}

const char *http_req_param(const http_req *rq, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < rq->params.n; i++)
        if (rq->params.name_lens[i] == n && memcmp(rq->params.names[i], name, n) == 0)
            return rq->params.values[i];
    return NULL;
}

const char *http_req_query(const http_req *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_req_header(const http_req *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *http_req_body(const http_req *rq, size_t *len)
{
    if (len)
        *len = rq->body_len;
    return rq->body ? rq->body : "";
}

nt_err http_req_json_object(http_req *rq, json_t **out)
{
    size_t len;
    const char *b = http_req_body(rq, &len);
    nt_err rc = json_parse_object(b, len, JSON_DEPTH_DEFAULT, out);
    if (rc == NT_ERR_TOO_BIG)
        http_reply_error(rq, 400, "bad_json", "JSON nested deeper than %d levels", JSON_DEPTH_DEFAULT);
    else if (rc)
        http_reply_error(rq, 400, "bad_json", "request body must be a JSON object");
    return rc;
}

nt_err http_req_json_fields(http_req *rq, const json_field fields[], json_t **out)
{
    char msg[JSON_FIELD_MSG_MAX];
    nt_err rc = http_req_json_object(rq, out);
    if (rc)
        return rc;
    if ((rc = json_check_fields(*out, fields, msg))) {
        http_reply_error(rq, 400, "bad_request", "%s", msg);
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- request life --------------------------------------------------- */

/* libmicrohttpd decodes the target in place and hands over C strings, so a
 * NUL in it ("%00", or a raw NUL byte) would silently cut the path, a path
 * parameter or a query value short and send the rest of the request to
 * another route or id. The raw target is seen first (on_uri); a raw NUL
 * shows as a gap between where the target ends as a C string and the
 * version that follows it on the same line (only checked when both lie
 * in the line, as they do in libmicrohttpd 0.9.75). */
static bool target_ok(const http_req *rq, const char *version)
{
    if (rq->nul_in_target)
        return false;
    if (rq->raw_target_end && version && *version && version > rq->raw_target_end + 1 &&
        version - rq->raw_target_end < HTTP_LINE_SCAN_MAX)
        return false;
    for (const char *p = rq->path; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

typedef struct {
    const char *after, *next; /* the first header name that starts after `after` */
} next_key;

static enum MHD_Result find_next_key(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    next_key *nk = cls;
    if (key > nk->after && (!nk->next || key < nk->next))
        nk->next = key;
    return MHD_YES;
}

/* A request header value that a NUL byte cut short: libmicrohttpd (0.9.75)
 * keeps the header block in place, with each line end (CR LF) overwritten
 * by NULs and each value pointing into it, so between the end of a whole
 * value and the next header's name there is nothing but NULs. Anything else
 * there was hidden behind a NUL. Not checked (false) when the value is not
 * inside the block. */
static bool header_cut(const http_req *rq, const char *value)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    const char *start = rq->method, *end = value + strlen(value);
    if (!ci || !start || value < start || (size_t)(end - start) >= ci->header_size ||
        ci->header_size > HTTP_LINE_SCAN_MAX * 16)
        return false;
    next_key nk = {.after = end, .next = NULL};
    MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, find_next_key, &nk);
    const char *stop = nk.next ? nk.next : start + ci->header_size;
    for (const char *p = end; p < stop; p++)
        if (*p)
            return true;
    return false;
}

static bool token_ok(const http_server *h, const char *auth)
{
    static const char scheme[] = "Bearer ";
    if (!auth || strncasecmp(auth, scheme, sizeof scheme - 1) != 0)
        return false;
    const char *t = auth + sizeof scheme - 1;
    size_t n = strlen(t);
    /* The length is public (fixed-size token); the bytes are compared in
     * constant time. */
    return n == h->token_len && mbedtls_ct_memcmp(t, h->token, n) == 0;
}

/* An open route (no token needed) fits this method and path. */
static bool open_route(const http_req *rq)
{
    const http_server *h = rq->h;
    for (size_t t = 0; h->tables[t]; t++)
        for (const http_route *r = h->tables[t]; r->method; r++)
            if (r->api == (h->api | HTTP_API_OPEN) && strcmp(r->method, rq->method) == 0 &&
                http_match(r->pattern, rq->path, NULL))
                return true;
    return false;
}

/* Find the route; on no match reply 404 or 405 with Allow. */
static void route(http_req *rq)
{
    http_server *h = rq->h;
    char allow[HTTP_ALLOW_MAX] = "";
    if (strlen(rq->path) > HTTP_PATH_MAX) {
        http_reply_error(rq, 404, "not_found", "no such path");
        return;
    }
    for (size_t t = 0; h->tables[t]; t++) {
        for (const http_route *r = h->tables[t]; r->method; r++) {
            if ((r->api & ~HTTP_API_OPEN) != h->api || !http_match(r->pattern, rq->path, &rq->params))
                continue;
            if (strcmp(r->method, rq->method) == 0 || strcmp(r->method, HTTP_ANY_METHOD) == 0) {
                rq->route = r;
                rq->body_max = r->body_max ? r->body_max : h->body_max;
                return;
            }
            if (!strstr(allow, r->method) && strlen(allow) + strlen(r->method) + 3 < sizeof allow) {
                if (allow[0])
                    strcat(allow, ", ");
                strcat(allow, r->method);
            }
        }
    }
    rq->params.n = 0;
    if (allow[0]) {
        http_reply_header(rq, "Allow", allow);
        http_reply_error(rq, 405, "method_not_allowed", "%s is not allowed here; use %s", rq->method, allow);
    } else {
        http_reply_error(rq, 404, "not_found", "no such path");
    }
}

/* Checks that need no body: busy, token, target, route, declared length. */
struct query_check {
    const char *allowed; /* "a,b,c" */
    char bad[64];
};

static enum MHD_Result query_name_ok(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct query_check *q = cls;
    size_t n = strlen(key);
    for (const char *a = q->allowed; a && *a;) {
        size_t l = strcspn(a, ",");
        if (l == n && !strncmp(a, key, n))
            return MHD_YES;
        a += l + (a[l] == ',');
    }
    snprintf(q->bad, sizeof q->bad, "%s", key);
    return MHD_NO;
}

/* A parameter the route does not take is refused, named (400). */
static bool query_ok(http_req *rq)
{
    struct query_check q = {.allowed = rq->route->query, .bad = ""};
    if (q.allowed && !strcmp(q.allowed, HTTP_ANY_QUERY))
        return true;
    MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, query_name_ok, &q);
    if (!q.bad[0])
        return true;
    http_reply_error(rq, 400, "bad_request", "unknown query parameter \"%s\"%s%s", q.bad,
                     q.allowed ? "; this path takes " : " (this path takes none)", q.allowed ? q.allowed : "");
    return false;
}

void http_precheck(http_req *rq, const char *version)
{
    http_server *h = rq->h;
    if (http_conns_shed(rq))
        return;
    const char *auth = http_req_header(rq, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h->api == HTTP_API_CLIENT && !open_route(rq) && (!token_ok(h, auth) || header_cut(rq, auth))) {
        http_reply_header(rq, "WWW-Authenticate", "Bearer");
        http_reply_error(rq, 401, "unauthorized", "missing or wrong bearer token (see <data-dir>/api-token)");
        return;
    }
    if (!target_ok(rq, version)) {
        http_reply_error(rq, 400, "bad_request", "the request target holds a NUL or control byte");
        return;
    }
    if (rq->query_overflow) {
        http_reply_error(rq, 400, "bad_request", "the query holds too many parameters");
        return;
    }
    route(rq);
    if (rq->replied || !query_ok(rq))
        return;
    const char *cl = http_req_header(rq, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > rq->body_max)
        http_reply_error(rq, 413, "too_large", "request body over %zu bytes", rq->body_max);
}

void http_run_handler(http_req *rq)
{
    rq->want_wait = rq->want_defer = false;
    rq->route->fn(rq, rq->h->nd);
    rq->runs++;
    if (rq->replied || (rq->want_defer && !rq->on_worker))
        return;
    if (!rq->want_wait || rq->wait_over) {
        log_error("http: handler for %s %s did not reply", rq->method, rq->route->pattern);
        rq->want_wait = false;
        http_reply_error(rq, 500, "internal", "no reply");
    }
}

/* ---- waiting -------------------------------------------------------- */

void http_req_wait(http_req *rq, struct waitq *q, uint64_t gen, unsigned wait_ms)
{
    if (rq->replied)
        return;
    rq->want_wait = true;
    rq->wait_q = q;
    rq->wait_gen = gen;
    if (!rq->wait_deadline_ms)
        rq->wait_deadline_ms = http_now_ms() + wait_ms;
}

bool http_req_wait_over(const http_req *rq) { return rq->wait_over; }
bool http_req_inline(const http_req *rq) { return !rq->on_worker; }

void http_req_defer(http_req *rq)
{
    if (!rq->replied)
        rq->want_defer = true;
}
bool http_req_rerun(const http_req *rq) { return rq->runs > 0; }

void http_ctx_set(http_ctx *c, void *ctx, void (*fr)(void *))
{
    if (c->ctx && c->ctx != ctx && c->fr)
        c->fr(c->ctx);
    c->ctx = ctx;
    c->fr = fr;
}

void http_ctx_clear(http_ctx *c)
{
    if (c->ctx && c->fr)
        c->fr(c->ctx);
    *c = (http_ctx){0};
}

void http_req_set_ctx(http_req *rq, void *ctx, void (*fr)(void *)) { http_ctx_set(&rq->ctx, ctx, fr); }
void *http_req_ctx(const http_req *rq) { return rq->ctx.ctx; }

void http_req_free(http_req *rq)
{
    for (size_t i = 0; i < rq->n_extra; i++)
        free(rq->extra[i].name), free(rq->extra[i].value);
    http_ctx_clear(&rq->ctx);
    /* a client body or reply may hold a password or a message's text */
    if (rq->out)
        mbedtls_platform_zeroize(rq->out, rq->out_len);
    if (rq->body)
        mbedtls_platform_zeroize(rq->body, rq->body_len);
    free(rq->out);
    free(rq->body);
    free(rq);
}
