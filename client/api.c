/* api.c - libcurl calls to the node's client API (see api.h). */
#include "client/api.h"

#include <curl/curl.h>
#include <mbedtls/platform_util.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include "common/hello.h"

struct api {
    CURL *curl;
    char url[API_URL_MAX];
    char auth[API_TOKEN_MAX + 32]; /* "Authorization: Bearer <token>" */
    char token[API_TOKEN_MAX];     /* for checking the node's proof */
    char expect_id[HELLO_NODE_ID_MAX + 1]; /* "" = any */
    char data_dir[API_URL_MAX];    /* "" unless URL and token came from it */
    int proven;                    /* the open connection is to a node with the token */
    int guard;                     /* refuse new connections (the token is on its way) */
    int refused;                   /* guard refused one */
    char *body;                    /* response accumulator */
    size_t len, cap;
    int too_big;
    const volatile int *cancel;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

/* curl_global_init is not thread-safe in every build; once is enough. */
static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    api *a = ud;
    size_t n = size * nmemb;
    if (a->len + n > API_RESPONSE_MAX) {
        a->too_big = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap ? a->cap : 4096;
        while (cap < a->len + n + 1)
            cap *= 2;
        char *p = realloc(a->body, cap);
        if (!p)
            return 0;
        a->body = p;
        a->cap = cap;
    }
    memcpy(a->body + a->len, ptr, n);
    a->len += n;
    a->body[a->len] = '\0';
    return n;
}

static nt_err copy_url(char dst[static API_URL_MAX], const char *base_url)
{
    size_t ul = strlen(base_url);
    while (ul > 0 && base_url[ul - 1] == '/')
        ul--;
    if (ul == 0 || ul >= API_URL_MAX)
        return NT_ERR_INVALID;
    memcpy(dst, base_url, ul);
    dst[ul] = '\0';
    return NT_OK;
}

nt_err api_set_url(api *a, const char *base_url)
{
    if (strcmp(a->url, base_url) != 0)
        a->proven = 0;
    return copy_url(a->url, base_url);
}

void api_set_expect(api *a, const char *node_id, const char *data_dir)
{
    snprintf(a->expect_id, sizeof a->expect_id, "%s", node_id ? node_id : "");
    snprintf(a->data_dir, sizeof a->data_dir, "%s", data_dir ? data_dir : "");
    a->proven = 0;
}

nt_err api_new(api **out, const char *base_url, const char *token)
{
    *out = NULL;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return NT_ERR_NET;
    char url[API_URL_MAX];
    if (copy_url(url, base_url) != NT_OK || (token && strlen(token) >= API_TOKEN_MAX))
        return NT_ERR_INVALID;
    if (token && strpbrk(token, "\r\n"))
        return NT_ERR_INVALID;
    api *a = calloc(1, sizeof *a);
    if (!a)
        return NT_ERR_NOMEM;
    memcpy(a->url, url, sizeof url);
    if (token && token[0]) {
        snprintf(a->auth, sizeof a->auth, "Authorization: Bearer %s", token);
        snprintf(a->token, sizeof a->token, "%s", token);
    }
    a->curl = curl_easy_init();
    if (!a->curl) {
        free(a);
        return NT_ERR_NOMEM;
    }
    *out = a;
    return NT_OK;
}

void api_free(api *a)
{
    if (!a)
        return;
    curl_easy_cleanup(a->curl);
    mbedtls_platform_zeroize(a->auth, sizeof a->auth);
    mbedtls_platform_zeroize(a->token, sizeof a->token);
    free(a->body);
    free(a);
}

void api_set_cancel(api *a, const volatile int *flag)
{
    a->cancel = flag;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const api *a = ud;
    return a->cancel && *a->cancel; /* non-zero aborts the transfer */
}

const char *api_url(const api *a)
{
    return a->url;
}

nt_err api_status_err(long st)
{
    switch (st) {
    case 400: return NT_ERR_INVALID;
    case 401: return NT_ERR_AUTH;
    case 403: return NT_ERR_FORBIDDEN;
    case 404: return NT_ERR_NOT_FOUND;
    case 409: return NT_ERR_EXISTS;
    case 413: return NT_ERR_TOO_BIG;
    case 429:
    case 503: return NT_ERR_BUSY;
    default: return st >= 200 && st < 300 ? NT_OK : NT_ERR_STATE;
    }
}

static void set_err(api_error *err, long status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_err(api_error *err, long status, const char *code, const char *fmt, ...)
{
    if (!err)
        return;
    err->status = status;
    snprintf(err->code, sizeof err->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    /* one line, whatever the node sent */
    for (char *p = err->message; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
}

/* The node's {"error": {"code", "message"}} body, or a generic line. */
static void node_error(api *a, long st, api_error *err)
{
    json_t *j = a->len ? json_loadb(a->body, a->len, 0, NULL) : NULL;
    json_t *e = json_is_object(j) ? json_object_get(j, "error") : NULL;
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (st == 401 && !code)
        code = "unauthorized";
    if (st == 401)
        set_err(err, st, code, "natterd at %s refused the API token: check --token, NATTER_TOKEN "
                "or <data-dir>/api-token", a->url);
    else
        set_err(err, st, code ? code : "http_error", "%s%s%s", code ? code : "",
                code ? ": " : "", msg ? msg : "the node answered an error");
    json_decref(j);
}

static nt_err transport_error(api *a, CURLcode cc, const char *cerr, api_error *err)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        if (a->data_dir[0])
            set_err(err, 0, "unreachable", "natterd is not running (data dir %s)", a->data_dir);
        else
            set_err(err, 0, "unreachable", "natterd is not running at %s", a->url);
        return NT_ERR_NET;
    case CURLE_OPERATION_TIMEDOUT:
        set_err(err, 0, "timeout", "natterd at %s did not answer in time", a->url);
        return NT_ERR_TIMEOUT;
    case CURLE_ABORTED_BY_CALLBACK:
        set_err(err, 0, "cancelled", "cancelled");
        return NT_ERR_NET;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        set_err(err, 0, "unreachable", "the connection to natterd at %s was closed", a->url);
        return NT_ERR_NET;
    default:
        if (a->too_big) {
            set_err(err, 0, "too_big", "the node's answer is larger than %u bytes",
                    API_RESPONSE_MAX);
            return NT_ERR_TOO_BIG;
        }
        set_err(err, 0, "transport", "cannot talk to natterd at %s: %s", a->url,
                cerr[0] ? cerr : curl_easy_strerror(cc));
        return NT_ERR_NET;
    }
}

/* Opens every socket curl asks for, except while the token is on its way:
 * then only a connection on which the node proved itself may carry it. */
static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *sa)
{
    api *a = ud;
    if (a->guard) {
        a->refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
}

/* One HTTP exchange; with the Authorization header only when auth. */
/* Every option of one request on the reset handle c. */
static void set_options(api *a, CURL *c, const char *url, struct curl_slist *hdr, const char *method,
                        const char *payload, long timeout_ms, char cerr[static CURL_ERROR_SIZE])
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); /* the node is local */
    curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 1L); /* only the connection last proven */
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, a);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, API_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : API_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    if (a->cancel) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, a);
    }
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)API_RESPONSE_MAX);
    if (strcmp(method, "GET") == 0)
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    else if (strcmp(method, "DELETE") != 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload ? payload : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(payload ? strlen(payload) : 0));
    }
}

static nt_err perform(api *a, const char *method, const char *path, const json_t *body, long timeout_ms,
                      int auth, json_t **reply, api_error *err)
{
    nt_err rc = NT_ERR_NOMEM;
    struct curl_slist *hdr = NULL;
    char *payload = NULL;
    char url[API_URL_MAX * 2];
    char cerr[CURL_ERROR_SIZE] = "";
    if (reply)
        *reply = NULL;
    if (err)
        memset(err, 0, sizeof *err);
    if (snprintf(url, sizeof url, "%s%s", a->url, path) >= (int)sizeof url) {
        set_err(err, 0, "invalid", "request path too long");
        return NT_ERR_INVALID;
    }
    if (body && !(payload = json_dumps(body, JSON_COMPACT)))
        goto out;
    a->len = 0;
    a->too_big = 0;
    if (a->body)
        a->body[0] = '\0';

    CURL *c = a->curl;
    curl_easy_reset(c); /* keeps the connection cache */
    if (auth && !(hdr = curl_slist_append(hdr, a->auth)))
        goto out;
    if (payload && !(hdr = curl_slist_append(hdr, "Content-Type: application/json")))
        goto out;
    if (!(hdr = curl_slist_append(hdr, "Accept: application/json")))
        goto out;
    if (!(hdr = curl_slist_append(hdr, "Expect:")))
        goto out;
    set_options(a, c, url, hdr, method, payload, timeout_ms, cerr);
    a->guard = auth;
    a->refused = 0;
    CURLcode cc = curl_easy_perform(c);
    a->guard = 0;
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    if (cc != CURLE_OK) {
        rc = transport_error(a, cc, cerr, err);
        goto out;
    }
    long st = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    rc = api_status_err(st);
    if (rc != NT_OK) {
        node_error(a, st, err);
        goto out;
    }
    json_t *j = a->len ? json_loadb(a->body, a->len, JSON_REJECT_DUPLICATES, NULL) : json_null();
    if (!j) {
        set_err(err, st, "bad_reply", "the node's answer is not JSON");
        rc = NT_ERR_STATE;
        goto out;
    }
    if (reply)
        *reply = j;
    else
        json_decref(j);
    rc = NT_OK;
out:
    if (rc == NT_ERR_NOMEM && err && !err->message[0])
        set_err(err, 0, "nomem", "out of memory");
    curl_slist_free_all(hdr);
    free(payload);
    return rc;
}

/* The hello answer fits: the node holds our token (and is the node
 * expected). NULL when it does, else why not. */
static const char *check_hello(const api *a, const json_t *r, const uint8_t nonce[static HELLO_NONCE_LEN])
{
    const char *id = json_string_value(json_object_get(r, "node_id"));
    const char *proof = json_string_value(json_object_get(r, "proof"));
    if (!id || !proof)
        return "no proof in its answer";
    if (a->expect_id[0] && strcmp(id, a->expect_id) != 0)
        return "another node id than natterd.json names";
    if (!hello_check(a->token, nonce, id, proof))
        return "a wrong proof";
    return NULL;
}

/* A listener that did not prove itself: drop every connection to it, and
 * say so. Without a data dir the token was given by hand, so a wrong proof
 * is more likely a wrong token (exit 4) than a stranger. */
static nt_err unproven(api *a, const char *why, api_error *err)
{
    curl_easy_cleanup(a->curl);
    a->curl = curl_easy_init();
    if (!a->curl) {
        set_err(err, 0, "nomem", "out of memory");
        return NT_ERR_NOMEM;
    }
    if (a->data_dir[0]) {
        set_err(err, 0, "not_our_node", "natterd is not running (data dir %s): what answers at %s "
                "is not its node (%s); the API token was not sent", a->data_dir, a->url, why);
        return NT_ERR_NET;
    }
    bool wrong = strcmp(why, "a wrong proof") == 0;
    set_err(err, 0, wrong ? "unauthorized" : "not_our_node", "%s at %s did not prove it holds the API "
            "token (%s%s); the token was not sent", wrong ? "natterd" : "what answers", a->url, why,
            wrong ? ": check --token, NATTER_TOKEN or <data-dir>/api-token" : "");
    return wrong ? NT_ERR_AUTH : NT_ERR_NET;
}

/* GET /v1/client/hello with a fresh nonce, no token (common/hello.h). */
static nt_err prove(api *a, api_error *err)
{
    uint8_t nonce[HELLO_NONCE_LEN];
    char path[64 + HELLO_NONCE_HEX_LEN];
    json_t *r = NULL;
    a->proven = 0;
    if (getrandom(nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce) {
        set_err(err, 0, "random", "no random nonce");
        return NT_ERR_IO;
    }
    int n = snprintf(path, sizeof path, "/v1/client/hello?nonce=");
    for (size_t i = 0; i < sizeof nonce; i++)
        n += snprintf(path + n, sizeof path - (size_t)n, "%02x", nonce[i]);
    nt_err rc = perform(a, "GET", path, NULL, 0, 0, &r, err);
    if (rc == NT_ERR_NET || rc == NT_ERR_TIMEOUT || rc == NT_ERR_NOMEM || rc == NT_ERR_BUSY)
        return rc;
    const char *why = rc == NT_OK ? check_hello(a, r, nonce) : "no answer to GET /v1/client/hello";
    json_decref(r);
    if (why)
        return unproven(a, why, err);
    a->proven = 1;
    return NT_OK;
}

nt_err api_call(api *a, const char *method, const char *path, const json_t *body,
                long timeout_ms, json_t **reply, api_error *err)
{
    if (!a->auth[0])
        return perform(a, method, path, body, timeout_ms, 0, reply, err);
    nt_err rc = NT_OK;
    if (!a->proven && (rc = prove(a, err)) != NT_OK)
        return rc;
    rc = perform(a, method, path, body, timeout_ms, 1, reply, err);
    if (rc == NT_ERR_NET && a->refused) { /* the proven connection closed: prove the next */
        if ((rc = prove(a, err)) != NT_OK)
            return rc;
        rc = perform(a, method, path, body, timeout_ms, 1, reply, err);
        if (rc == NT_ERR_NET && a->refused)
            set_err(err, 0, "unreachable", "natterd at %s closed the connection it proved "
                    "itself on", a->url);
    }
    return rc;
}
