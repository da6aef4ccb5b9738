/* api.c - libcurl calls to the node's client API (see api.h). */
#include "client/api.h"

#include <curl/curl.h>
#include <mbedtls/platform_util.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct api {
    CURL *curl;
    char url[API_URL_MAX];
    char auth[API_TOKEN_MAX + 32]; /* "Authorization: Bearer <token>" */
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
    return copy_url(a->url, base_url);
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
    if (token)
        snprintf(a->auth, sizeof a->auth, "Authorization: Bearer %s", token);
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

nt_err api_call(api *a, const char *method, const char *path, const json_t *body,
                long timeout_ms, json_t **reply, api_error *err)
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
    if (a->auth[0] && !(hdr = curl_slist_append(hdr, a->auth)))
        goto out;
    if (payload && !(hdr = curl_slist_append(hdr, "Content-Type: application/json")))
        goto out;
    if (!(hdr = curl_slist_append(hdr, "Accept: application/json")))
        goto out;
    if (!(hdr = curl_slist_append(hdr, "Expect:")))
        goto out;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); /* the node is local */
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
    CURLcode cc = curl_easy_perform(c);
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
