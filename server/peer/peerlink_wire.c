/* peerlink_wire.c - see peerlink_wire.h. */
#include "server/peer/peerlink_wire.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "server/core/source_addr.h"
#include "server/peer/peerlink.h"

struct peerlink_wire {
    node *nd;           /* borrowed: for node_stopping() */
    source_addr src;    /* where our calls leave from (source_addr.h) */
    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
};

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *ud)
{
    peerlink_wire *w = ud;
    (void)h;
    (void)a;
    pthread_mutex_lock(&w->share_mu[d < CURL_LOCK_DATA_LAST ? d : 0]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *ud)
{
    peerlink_wire *w = ud;
    (void)h;
    pthread_mutex_unlock(&w->share_mu[d < CURL_LOCK_DATA_LAST ? d : 0]);
}

nt_err peerlink_wire_new(node *nd, peerlink_wire **out, char err[static NODE_ERR_MAX])
{
    *out = NULL;
    peerlink_wire *w = calloc(1, sizeof(*w));
    if (!w || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(w);
        snprintf(err, NODE_ERR_MAX, "peer client: cannot initialise libcurl");
        return NT_ERR_NOMEM;
    }
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&w->share_mu[i], NULL);
    if (!(w->share = curl_share_init()) || curl_share_setopt(w->share, CURLSHOPT_LOCKFUNC, share_lock) ||
        curl_share_setopt(w->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
        curl_share_setopt(w->share, CURLSHOPT_USERDATA, w) ||
        curl_share_setopt(w->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) ||
        curl_share_setopt(w->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS)) {
        if (w->share)
            curl_share_cleanup(w->share);
        for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
            pthread_mutex_destroy(&w->share_mu[i]);
        free(w);
        curl_global_cleanup();
        snprintf(err, NODE_ERR_MAX, "peer client: cannot share connections");
        return NT_ERR_NOMEM;
    }
    w->nd = nd;
    source_addr_init(&w->src, nd->peer_addr);
    *out = w;
    return NT_OK;
}

void peerlink_wire_free(peerlink_wire *w)
{
    if (!w)
        return;
    curl_share_cleanup(w->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&w->share_mu[i]);
    free(w);
    curl_global_cleanup();
}

static size_t on_write(char *p, size_t sz, size_t nm, void *ud)
{
    peerlink_buf *b = ud;
    size_t n = sz * nm;
    if (b->over || n > PEERLINK_RESPONSE_MAX - b->len) {
        b->over = true;
        return 0; /* aborts the transfer */
    }
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *nd = realloc(b->data, nc);
        if (!nd)
            return 0;
        b->data = nd;
        b->cap = nc;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return n;
}

void peerlink_wire_buf_free(peerlink_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* A transfer in progress ends early when the node stops, so a long poll
 * to a peer does not hold up the shutdown for its whole wait. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    peerlink_wire *w = ud;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return w->nd && node_stopping(w->nd) ? 1 : 0;
}

CURL *peerlink_wire_easy(peerlink_wire *w, const char *method, const char *url, const char *body, int timeout_ms,
                         peerlink_buf *rb, struct curl_slist *hdrs)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_SHARE, w->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 5000 ? timeout_ms : 5000));
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)PEERLINK_RESPONSE_MAX);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, rb);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, w);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    source_addr_bind(&w->src, h, url);
    if (hdrs)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    if (strcmp(method, body ? "POST" : "GET"))
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    return h;
}

nt_err peerlink_wire_curl_err(CURLcode c)
{
    return c == CURLE_OK ? NT_OK : c == CURLE_OPERATION_TIMEDOUT ? NT_ERR_TIMEOUT
                         : c == CURLE_WRITE_ERROR || c == CURLE_FILESIZE_EXCEEDED ? NT_ERR_TOO_BIG
                                                                                 : NT_ERR_NET;
}

nt_err peerlink_wire_do(peerlink_wire *w, const char *method, const char *url, const char *body, int timeout_ms,
                        long *status, peerlink_buf *rb)
{
    struct curl_slist *hdrs = body ? curl_slist_append(NULL, "Content-Type: application/json") : NULL;
    *status = 0;
    CURL *h = peerlink_wire_easy(w, method, url, body, timeout_ms, rb, hdrs);
    nt_err rc = NT_ERR_NOMEM;
    if (h) {
        rc = peerlink_wire_curl_err(curl_easy_perform(h));
        if (rb->over)
            rc = NT_ERR_TOO_BIG;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        curl_easy_cleanup(h);
    }
    curl_slist_free_all(hdrs);
    return rc;
}

nt_err peerlink_wire_status_err(long status)
{
    switch (status) {
    case 401: case 403: case 421: return NT_ERR_AUTH;
    case 409: return NT_ERR_REPLAY;
    case 429: case 503: return NT_ERR_BUSY;
    case 404: case 405: return NT_ERR_NOT_FOUND;
    case 413: return NT_ERR_TOO_BIG;
    default: return NT_ERR_NET;
    }
}

void peerlink_wire_error_code(const peerlink_buf *rb, char *code, size_t cap)
{
    json_t *o = NULL;
    code[0] = 0;
    if (rb->data && !json_parse_object(rb->data, rb->len, JSON_DEPTH_DEFAULT, &o)) {
        const char *c = json_string_value(json_object_get(json_object_get(o, "error"), "code"));
        if (c)
            snprintf(code, cap, "%s", c);
    }
    json_decref(o);
}
