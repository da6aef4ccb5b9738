/* http.c - libmicrohttpd glue: routing, body caps, replies (the listening
 * socket is made in http_listen.c).
 *
 * Threading model: MHD_USE_THREAD_PER_CONNECTION with an internal polling
 * thread for accept. Each connection's requests run on that connection's
 * thread, which is what lets long-poll handlers simply block (see http.h).
 * The cost is one thread per open connection; --max-connections caps it. */
#include "server/core/http.h"

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
#include "server/core/http_listen.h"
#include "server/core/http_mhd_fix.h"

#define HTTP_BUSY_SLACK 16      /* connections above max_connections that still get a 503 */
#define HTTP_TOKEN_MAX 128
#define HTTP_ALLOW_MAX 64
#define HTTP_DISCARD_MAX (1024 * 1024) /* over-cap body bytes read before cutting the connection */
#define HTTP_LINE_SCAN_MAX (64 * 1024)  /* how far apart two pieces of one request line can be */

struct http_server {
    struct MHD_Daemon *d;
    int listen_fd;
    http_api api;
    char token[HTTP_TOKEN_MAX];
    size_t token_len;
    size_t body_max;
    unsigned max_connections;
    const http_route *const *tables;
    struct node *nd;
    char addr[HTTP_ADDR_MAX];
    uint16_t port;
    atomic_uint_fast64_t requests, errors_4xx, errors_5xx, connections;
    uint64_t active; /* under mu */
    pthread_mutex_t mu;
    pthread_cond_t idle;
};

typedef struct {
    char *name, *value;
} header;

struct http_req {
    http_server *h;
    struct MHD_Connection *conn;
    bool started;         /* the access handler has seen it */
    bool nul_in_target;   /* "%00" in the request target */
    const char *raw_target_end; /* where the request target read as a C string ends */
    const char *method, *path;
    const http_route *route;
    http_params params;
    size_t body_max;
    char *body;
    size_t body_len, body_cap;
    bool too_big;
    size_t discarded;
    char remote[HTTP_ADDR_MAX], remote_ip[HTTP_ADDR_MAX];
    struct sockaddr_storage remote_sa;
    socklen_t remote_sa_len;
    /* the reply, built by the handler, sent by the access callback */
    bool replied, queued;
    unsigned status;
    char *out;
    size_t out_len;
    const char *content_type;
    header extra[HTTP_EXTRA_HEADERS_MAX];
    size_t n_extra;
};

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
    rq->extra[rq->n_extra++] = (header){n, v};
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

static void precheck(http_req *rq, const char *version)
{
    http_server *h = rq->h;
    if (atomic_load(&h->connections) > h->max_connections) {
        http_reply_header(rq, "Retry-After", "1");
        http_reply_error(rq, 503, "busy", "too many connections");
        return;
    }
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
    route(rq);
    if (rq->replied || !query_ok(rq))
        return;
    const char *cl = http_req_header(rq, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > rq->body_max)
        http_reply_error(rq, 413, "too_large", "request body over %zu bytes", rq->body_max);
}

static void set_remote(http_req *rq)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    strcpy(rq->remote, "?");
    strcpy(rq->remote_ip, "?");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    memcpy(&rq->remote_sa, sa, len);
    rq->remote_sa_len = len;
    char host[INET6_ADDRSTRLEN], serv[8];
    if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return;
    snprintf(rq->remote_ip, sizeof rq->remote_ip, "%s", host);
    snprintf(rq->remote, sizeof rq->remote, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

static bool body_append(http_req *rq, const char *data, size_t n)
{
    if (n > rq->body_max - rq->body_len)
        return false;
    if (rq->body_len + n + 1 > rq->body_cap) {
        size_t cap = rq->body_cap ? rq->body_cap : 1024;
        while (cap < rq->body_len + n + 1)
            cap *= 2;
        if (cap > rq->body_max + 1)
            cap = rq->body_max + 1;
        char *b = realloc(rq->body, cap);
        if (!b)
            return false;
        rq->body = b;
        rq->body_cap = cap;
    }
    memcpy(rq->body + rq->body_len, data, n);
    rq->body_len += n;
    rq->body[rq->body_len] = '\0';
    return true;
}

static enum MHD_Result queue_reply(http_req *rq)
{
    http_server *h = rq->h;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(rq->out_len, rq->out ? rq->out : (char *)"", MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rq->content_type ? rq->content_type : "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (size_t i = 0; i < rq->n_extra; i++)
        MHD_add_response_header(r, rq->extra[i].name, rq->extra[i].value);
    enum MHD_Result ret = MHD_queue_response(rq->conn, rq->status, r);
    MHD_destroy_response(r);
    rq->queued = true;
    atomic_fetch_add(&h->requests, 1);
    if (rq->status >= 500)
        atomic_fetch_add(&h->errors_5xx, 1);
    else if (rq->status >= 400)
        atomic_fetch_add(&h->errors_4xx, 1);
    log_debug("http %s %s %s -> %u", rq->remote, rq->method, rq->path, rq->status);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    http_server *h = cls;
    http_req *rq = *con_cls;
    if (!rq || !rq->started) {
        if (!rq && !(rq = calloc(1, sizeof *rq)))
            return MHD_NO;
        rq->started = true;
        rq->h = h;
        rq->conn = c;
        rq->method = method;
        rq->path = url;
        rq->body_max = h->body_max;
        *con_cls = rq;
        pthread_mutex_lock(&h->mu);
        h->active++;
        pthread_mutex_unlock(&h->mu);
        set_remote(rq);
        precheck(rq, version);
        /* Errors go out at once, so an unwanted body is never read (MHD
         * then closes the connection). A good request waits for the next
         * call: queueing now would cost keep-alive. */
        return rq->replied ? queue_reply(rq) : MHD_YES;
    }
    if (rq->queued) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        /* MHD refuses a response queued mid-upload, so an over-long body of
         * unknown length (chunked) is read and dropped until it ends, then
         * answered with 413; past HTTP_DISCARD_MAX the connection is cut. */
        if (rq->too_big || !body_append(rq, upload, *upload_size)) {
            rq->too_big = true;
            rq->discarded += *upload_size;
            if (rq->discarded > HTTP_DISCARD_MAX)
                return MHD_NO;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->too_big) {
        http_reply_error(rq, 413, "too_large", "request body over %zu bytes", rq->body_max);
        return queue_reply(rq);
    }
    rq->route->fn(rq, h->nd);
    if (!rq->replied) {
        log_error("http: handler for %s %s did not reply", rq->method, rq->route->pattern);
        http_reply_error(rq, 500, "internal", "no reply");
    }
    return queue_reply(rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    http_server *h = cls;
    http_req *rq = *con_cls;
    if (!rq)
        return;
    *con_cls = NULL;
    bool started = rq->started;
    for (size_t i = 0; i < rq->n_extra; i++)
        free(rq->extra[i].name), free(rq->extra[i].value);
    free(rq->out);
    free(rq->body);
    free(rq);
    if (!started) /* libmicrohttpd answered the request itself */
        return;
    pthread_mutex_lock(&h->mu);
    if (--h->active == 0)
        pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->mu);
}

/* The connection whose request this thread handles, for libmicrohttpd's
 * log callback (http_mhd_fix.h): one thread per connection here. */
static _Thread_local struct MHD_Connection *tl_conn;

/* The raw request target, before libmicrohttpd decodes it: the request
 * starts here (freed by on_completed). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    tl_conn = c;
    http_req *rq = calloc(1, sizeof *rq);
    if (!rq)
        return NULL;
    rq->nul_in_target = strstr(uri, "%00") != NULL;
    rq->raw_target_end = uri + strlen(uri);
    return rq;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx, enum MHD_ConnectionNotificationCode toe)
{
    http_server *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&h->connections, 1);
    else
        atomic_fetch_sub(&h->connections, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[LOG_LINE_MAX];
    vsnprintf(buf, sizeof buf, fmt, ap);
    log_debug("libmicrohttpd: %s", buf);
    if (tl_conn && http_mhd_fix_answer(tl_conn, buf))
        tl_conn = NULL;
}

/* ---- server --------------------------------------------------------- */

nt_err http_start(const http_opts *o, const http_route *const *tables, struct node *nd, http_server **out,
                  char err[static HTTP_ERR_MAX])
{
    nt_err rc;
    http_server *h = calloc(1, sizeof *h);
    *out = NULL;
    err[0] = '\0';
    if (!h)
        return NT_ERR_NOMEM;
    h->listen_fd = -1;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->idle, NULL);
    h->api = o->api;
    h->body_max = o->body_max;
    h->max_connections = o->max_connections;
    h->tables = tables;
    h->nd = nd;
    if (o->token) {
        h->token_len = strlen(o->token);
        if (h->token_len >= sizeof h->token) {
            rc = NT_ERR_INVALID;
            goto fail;
        }
        memcpy(h->token, o->token, h->token_len);
    }
    if ((rc = http_listen_bind(o->bind, &h->listen_fd, err)))
        goto fail;
    bool v6 = false;
    http_listen_describe(h->listen_fd, h->addr, &h->port, &v6);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_POLL;
    if (v6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
                            MHD_OPTION_LISTEN_SOCKET, h->listen_fd,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)(o->max_connections + HTTP_BUSY_SLACK),
                            MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                            MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, HTTP_ERR_MAX, "%s: cannot start the HTTP server", o->bind);
        rc = NT_ERR_NET;
        goto fail;
    }
    *out = h;
    return NT_OK;
fail:
    http_stop(h);
    return rc;
}

const char *http_addr(const http_server *h) { return h->addr; }
uint16_t http_port(const http_server *h) { return h->port; }

void http_quiesce(http_server *h)
{
    if (!h || !h->d)
        return;
    MHD_socket s = MHD_quiesce_daemon(h->d);
    if (s != MHD_INVALID_SOCKET && s == h->listen_fd) {
        close(h->listen_fd);
        h->listen_fd = -1;
    }
}

bool http_drain(http_server *h, unsigned timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L)
        until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&h->mu);
    while (h->active > 0)
        if (pthread_cond_timedwait(&h->idle, &h->mu, &until) == ETIMEDOUT)
            break;
    bool done = h->active == 0;
    pthread_mutex_unlock(&h->mu);
    return done;
}

void http_stop(http_server *h)
{
    if (!h)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    pthread_cond_destroy(&h->idle);
    pthread_mutex_destroy(&h->mu);
    mbedtls_platform_zeroize(h->token, sizeof h->token);
    free(h);
}

void http_stats_get(const http_server *h, http_stats *out)
{
    http_server *m = (http_server *)h;
    out->requests = atomic_load(&m->requests);
    out->errors_4xx = atomic_load(&m->errors_4xx);
    out->errors_5xx = atomic_load(&m->errors_5xx);
    out->connections = atomic_load(&m->connections);
    pthread_mutex_lock(&m->mu);
    out->active = m->active;
    pthread_mutex_unlock(&m->mu);
}
