/* discovery_fetch.c - see discovery_fetch.h. */
#include "server/discovery/discovery_fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FETCH_BODY_MAX (16 * 1024)

typedef enum { SLOT_FREE = 0, SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE } slot_state;

typedef struct {
    slot_state state;
    uint16_t port;
    discovery_fetch_job job;
} slot;

struct discovery_fetch {
    pthread_mutex_t mu;
    pthread_cond_t cv;    /* a slot was queued, or stop */
    atomic_bool stop;
    unsigned timeout_ms;
    int pipe[2];          /* one byte per finished job */
    pthread_t workers[DISCOVERY_FETCH_WORKERS];
    unsigned n_workers;
    slot slots[DISCOVERY_FETCH_SLOTS];
};

/* ---- one fetch (on a worker, no lock held) ---- */

typedef struct {
    char buf[FETCH_BODY_MAX];
    size_t len;
} body;

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    body *b = ctx;
    size_t k = size * n;
    if (k > sizeof b->buf - 1 - b->len)
        return 0; /* over the cap: abort the transfer */
    memcpy(b->buf + b->len, p, k);
    b->len += k;
    return k;
}

/* A transfer in flight ends when the fetcher stops. */
static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    return atomic_load(&((discovery_fetch *)ctx)->stop) ? 1 : 0;
}

/* GET http://ip:port/v1/node and keep its public key only if it hashes to
 * the announced id. */
static discovery_drop fetch_key(discovery_fetch *f, struct in_addr ip, uint16_t port,
                                const uint8_t id[static IDENTITY_ID_LEN], identity **out)
{
    char url[64], ips[INET_ADDRSTRLEN];
    body *b = calloc(1, sizeof *b);
    CURL *h = curl_easy_init();
    json_t *j = NULL;
    discovery_drop res = DISC_KEY_UNAVAILABLE;
    long status = 0;
    *out = NULL;
    if (!b || !h)
        goto out;
    inet_ntop(AF_INET, &ip, ips, sizeof ips);
    snprintf(url, sizeof url, "http://%s:%u/v1/node", ips, (unsigned)port);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)f->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, f);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    if (curl_easy_perform(h) != CURLE_OK || curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
        status != 200)
        goto out;
    j = json_loadb(b->buf, b->len, 0, NULL);
    const char *pem = json_string_value(json_object_get(j, "public_key"));
    if (!pem || identity_from_pem(out, pem, strlen(pem)) != NT_OK)
        goto out;
    if (memcmp(identity_id(*out), id, IDENTITY_ID_LEN) != 0) {
        identity_free(*out);
        *out = NULL;
        res = DISC_ID_MISMATCH;
        goto out;
    }
    res = DISC_OK;
out:
    json_decref(j);
    if (h)
        curl_easy_cleanup(h);
    free(b);
    return res;
}

/* ---- workers ---- */

/* Lock held: a queued slot, or NULL. */
static slot *next_queued(discovery_fetch *f)
{
    for (size_t i = 0; i < DISCOVERY_FETCH_SLOTS; i++)
        if (f->slots[i].state == SLOT_QUEUED)
            return &f->slots[i];
    return NULL;
}

static void *worker_main(void *arg)
{
    discovery_fetch *f = arg;
    pthread_setname_np(pthread_self(), "disc-fetch");
    pthread_mutex_lock(&f->mu);
    for (;;) {
        slot *s = NULL;
        while (!atomic_load(&f->stop) && !(s = next_queued(f)))
            pthread_cond_wait(&f->cv, &f->mu);
        if (atomic_load(&f->stop))
            break;
        s->state = SLOT_RUNNING;
        /* Only this worker touches a running slot's job. */
        pthread_mutex_unlock(&f->mu);
        identity *key = NULL;
        discovery_drop r = fetch_key(f, s->job.src, s->port, s->job.id, &key);
        pthread_mutex_lock(&f->mu);
        s->job.key = key;
        s->job.result = r;
        s->state = SLOT_DONE;
        ssize_t w = write(f->pipe[1], "x", 1);
        (void)w; /* a full pipe already says "look" */
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* ---- API ---- */

nt_err discovery_fetch_new(discovery_fetch **out, unsigned timeout_ms)
{
    discovery_fetch *f = calloc(1, sizeof *f);
    *out = NULL;
    if (!f)
        return NT_ERR_NOMEM;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    atomic_init(&f->stop, false);
    f->timeout_ms = timeout_ms;
    f->pipe[0] = f->pipe[1] = -1;
    nt_err rc = NT_ERR_IO;
    if (pipe2(f->pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        goto out;
    rc = NT_ERR_NOMEM;
    for (; f->n_workers < DISCOVERY_FETCH_WORKERS; f->n_workers++)
        if (pthread_create(&f->workers[f->n_workers], NULL, worker_main, f) != 0)
            goto out;
    *out = f;
    f = NULL;
    rc = NT_OK;
out:
    discovery_fetch_free(f);
    return rc;
}

void discovery_fetch_free(discovery_fetch *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    atomic_store(&f->stop, true);
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    for (unsigned i = 0; i < f->n_workers; i++)
        pthread_join(f->workers[i], NULL);
    for (size_t i = 0; i < DISCOVERY_FETCH_SLOTS; i++)
        identity_free(f->slots[i].job.key);
    for (int i = 0; i < 2; i++)
        if (f->pipe[i] >= 0)
            close(f->pipe[i]);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

int discovery_fetch_fd(const discovery_fetch *f)
{
    return f->pipe[0];
}

nt_err discovery_fetch_submit(discovery_fetch *f, const uint8_t *pkt, size_t len, struct in_addr src, uint16_t port,
                              const uint8_t id[static IDENTITY_ID_LEN])
{
    slot *free_slot = NULL;
    nt_err rc = NT_OK;
    if (len > DISCOVERY_PACKET_MAX)
        return NT_ERR_TOO_BIG;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < DISCOVERY_FETCH_SLOTS && !rc; i++) {
        slot *s = &f->slots[i];
        if (s->state == SLOT_FREE)
            free_slot = free_slot ? free_slot : s;
        else if (s->job.src.s_addr == src.s_addr || !memcmp(s->job.id, id, IDENTITY_ID_LEN))
            rc = NT_ERR_EXISTS; /* one at a time per source and per id */
    }
    if (!rc && !free_slot)
        rc = NT_ERR_BUSY;
    if (!rc) {
        memset(free_slot, 0, sizeof *free_slot);
        memcpy(free_slot->job.pkt, pkt, len);
        free_slot->job.len = len;
        free_slot->job.src = src;
        memcpy(free_slot->job.id, id, IDENTITY_ID_LEN);
        free_slot->port = port;
        free_slot->state = SLOT_QUEUED;
        pthread_cond_signal(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

bool discovery_fetch_take(discovery_fetch *f, discovery_fetch_job *out)
{
    char drain[64];
    bool got = false;
    while (read(f->pipe[0], drain, sizeof drain) > 0)
        ; /* the slots are the truth; the pipe only wakes the poller */
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < DISCOVERY_FETCH_SLOTS && !got; i++) {
        slot *s = &f->slots[i];
        if (s->state != SLOT_DONE)
            continue;
        *out = s->job;
        memset(s, 0, sizeof *s); /* the key now belongs to out */
        got = true;
    }
    pthread_mutex_unlock(&f->mu);
    return got;
}

size_t discovery_fetch_pending(discovery_fetch *f)
{
    size_t n = 0;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < DISCOVERY_FETCH_SLOTS; i++)
        n += f->slots[i].state != SLOT_FREE;
    pthread_mutex_unlock(&f->mu);
    return n;
}
