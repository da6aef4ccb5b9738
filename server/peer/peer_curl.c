/* peer_curl.c - see peer_curl.h. */
#include "server/peer/peer_curl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/peer/peerlink.h"

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *ud)
{
    peer_curl *c = ud;
    (void)h;
    (void)a;
    pthread_mutex_lock(&c->share_mu[d < CURL_LOCK_DATA_LAST ? d : 0]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *ud)
{
    peer_curl *c = ud;
    (void)h;
    pthread_mutex_unlock(&c->share_mu[d < CURL_LOCK_DATA_LAST ? d : 0]);
}

static size_t on_write(char *p, size_t sz, size_t nm, void *ud)
{
    peer_curl_buf *b = ud;
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

void peer_curl_buf_free(peer_curl_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* A transfer in progress ends early when the node stops, so a long poll
 * to a peer does not hold up the shutdown for its whole wait. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    peer_curl *c = ud;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return c->nd && node_stopping(c->nd) ? 1 : 0;
}

CURL *peer_curl_easy(peer_curl *c, const char *method, const char *url, const char *body, int timeout_ms,
                     peer_curl_buf *rb, struct curl_slist *hdrs)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
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
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    source_addr_bind(&c->src, h, url);
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

nt_err peer_curl_rc(CURLcode code)
{
    return code == CURLE_OK ? NT_OK : code == CURLE_OPERATION_TIMEDOUT ? NT_ERR_TIMEOUT
                         : code == CURLE_WRITE_ERROR || code == CURLE_FILESIZE_EXCEEDED ? NT_ERR_TOO_BIG
                                                                                       : NT_ERR_NET;
}

nt_err peer_curl_do(peer_curl *c, const char *method, const char *url, const char *body, int timeout_ms, long *status,
                    peer_curl_buf *rb)
{
    struct curl_slist *hdrs = body ? curl_slist_append(NULL, "Content-Type: application/json") : NULL;
    *status = 0;
    CURL *h = peer_curl_easy(c, method, url, body, timeout_ms, rb, hdrs);
    nt_err rc = NT_ERR_NOMEM;
    if (h) {
        rc = peer_curl_rc(curl_easy_perform(h));
        if (rb->over)
            rc = NT_ERR_TOO_BIG;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        curl_easy_cleanup(h);
    }
    curl_slist_free_all(hdrs);
    return rc;
}

nt_err peer_curl_init(peer_curl *c, node *nd, char err[static NODE_ERR_MAX])
{
    memset(c, 0, sizeof *c);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, NODE_ERR_MAX, "peer client: cannot initialise libcurl");
        return NT_ERR_NOMEM;
    }
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_mu[i], NULL);
    if (!(c->share = curl_share_init()) || curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock) ||
        curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
        curl_share_setopt(c->share, CURLSHOPT_USERDATA, c) ||
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) ||
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS)) {
        if (c->share)
            curl_share_cleanup(c->share);
        for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
            pthread_mutex_destroy(&c->share_mu[i]);
        curl_global_cleanup();
        snprintf(err, NODE_ERR_MAX, "peer client: cannot share connections");
        return NT_ERR_NOMEM;
    }
    c->nd = nd;
    source_addr_init(&c->src, nd->peer_addr);
    return NT_OK;
}

void peer_curl_cleanup(peer_curl *c)
{
    curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_mu[i]);
    curl_global_cleanup();
}
