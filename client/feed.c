/* feed.c - poller and worker threads for the full-screen client (feed.h). */
#include "client/feed.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "client/field.h"
#include "common/waitq.h"
#include "client/locate.h"
#include "client/slash.h"

#define SINCE_MAX 256

typedef struct job {
    struct job *next;
    feed_job kind;
    char room[NODE_ID_MAX];
    char txn[NODE_TXN_LEN + 1];
    char *text;
} job;

struct feed {
    api *poll_api, *work_api;
    pthread_t poller, worker;
    int started_poller, started_worker;
    int pipe_rd, pipe_wr;
    volatile int quit;
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* jobs queued, or quit */
    feed_item *items, *items_tail;
    job *jobs, *jobs_tail;
    char portfile[LOCATE_PATH_MAX + 32]; /* "" when the URL was given */
    char url[API_URL_MAX];       /* guarded by mu */
    unsigned url_gen;            /* bumped when url changes */
};

/* The node may have come back on another port: follow its port file. */
static void relocate(feed *f)
{
    char text[4096], url[API_URL_MAX];
    FILE *fp = f->portfile[0] ? fopen(f->portfile, "re") : NULL;
    if (!fp)
        return;
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    if (locate_parse_portfile(text, url) != NT_OK || strcmp(url, api_url(f->poll_api)) == 0)
        return;
    if (api_set_url(f->poll_api, url) != NT_OK)
        return;
    pthread_mutex_lock(&f->mu);
    snprintf(f->url, sizeof f->url, "%s", url);
    f->url_gen++;
    pthread_mutex_unlock(&f->mu);
}

void feed_item_free(feed_item *it)
{
    if (!it)
        return;
    json_decref(it->data);
    free(it);
}

static void post(feed *f, feed_item *it)
{
    pthread_mutex_lock(&f->mu);
    if (f->items_tail)
        f->items_tail->next = it;
    else
        f->items = it;
    f->items_tail = it;
    pthread_mutex_unlock(&f->mu);
    char b = 1;
    /* a full pipe already wakes the UI; nothing to do on EAGAIN */
    if (write(f->pipe_wr, &b, 1) < 0 && errno != EAGAIN)
        return;
}

static feed_item *item(feed_kind k)
{
    feed_item *it = calloc(1, sizeof *it);
    if (it)
        it->kind = k;
    return it;
}

static void post_conn(feed *f, bool up, const char *msg)
{
    feed_item *it = item(FEED_CONN);
    if (!it)
        return;
    it->up = up;
    snprintf(it->msg, sizeof it->msg, "%s", msg ? msg : "");
    post(f, it);
}

/* Sleep ms, or less when told to quit. */
static void pause_ms(feed *f, long ms)
{
    struct timespec ts = waitq_deadline(ms);
    pthread_mutex_lock(&f->mu);
    while (!f->quit && pthread_cond_timedwait(&f->cv, &f->mu, &ts) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&f->mu);
}

/* One events call; updates since. NT_OK with events posted (if any).
 * Until the node is known to be up the call does not wait, so that a node
 * coming back is reported at once, not after a whole long-poll. */
static nt_err poll_once(feed *f, char since[static SINCE_MAX], bool up, api_error *err)
{
    char path[SINCE_MAX + 96];
    bool fresh = !since[0];
    snprintf(path, sizeof path, "/v1/client/events?since=%s&wait=%d", fresh ? "now" : since,
             fresh || !up ? 0 : FEED_WAIT_S);
    json_t *r = NULL;
    nt_err rc = api_call(f->poll_api, "GET", path, NULL,
                         fresh || !up ? API_TIMEOUT_MS : FEED_POLL_TIMEOUT_MS, &r, err);
    if (rc != NT_OK)
        return rc;
    json_t *next = field_get(r, "next");
    if (json_is_string(next))
        snprintf(since, SINCE_MAX, "%s", json_string_value(next));
    else if (json_is_integer(next))
        snprintf(since, SINCE_MAX, "%lld", (long long)json_integer_value(next));
    json_t *evs = field_list(r, "events");
    if (!fresh && evs && json_array_size(evs) > 0) {
        feed_item *it = item(FEED_EVENTS);
        if (it) {
            it->data = json_incref(evs);
            post(f, it);
        }
    }
    json_decref(r);
    return NT_OK;
}

static void *poller_main(void *arg)
{
    feed *f = arg;
    char since[SINCE_MAX] = "";
    int up = -1; /* unknown at start */
    while (!f->quit) {
        api_error err;
        nt_err rc = poll_once(f, since, up == 1, &err);
        if (f->quit)
            break;
        if (rc == NT_ERR_TIMEOUT && up == 1)
            continue; /* a slow long-poll is not a lost node */
        if (rc == NT_ERR_INVALID) /* the node forgot our token: start over */
            since[0] = '\0';
        if (rc != NT_ERR_NET && rc != NT_ERR_TIMEOUT && rc != NT_ERR_AUTH) {
            /* the node answers, only the events call failed: still connected */
            if (up != 1)
                post_conn(f, true, rc == NT_OK ? NULL : err.message);
            up = 1;
            if (rc != NT_OK)
                pause_ms(f, FEED_EVENTS_RETRY_MS);
            continue;
        }
        post_conn(f, false, err.message);
        up = 0;
        if (rc == NT_ERR_NET)
            relocate(f);
        pause_ms(f, FEED_RETRY_MS);
    }
    return NULL;
}

static nt_err do_refresh(feed *f, json_t **data, api_error *err)
{
    json_t *names = NULL, *st = NULL, *peers = NULL, *rooms = NULL;
    char self[NODE_ID_MAX];
    nt_err rc = node_names(f->work_api, &names, self, err);
    if (rc == NT_OK)
        rc = api_call(f->work_api, "GET", "/v1/client/status", NULL, 0, &st, err);
    /* a node that lacks or fails one list still shows the rest */
    if (rc == NT_OK && node_list(f->work_api, "/v1/client/peers", F_PEERS, &peers, err) != NT_OK)
        peers = json_array();
    if (rc == NT_OK && node_list(f->work_api, "/v1/client/rooms", F_ROOMS, &rooms, err) != NT_OK)
        rooms = json_array();
    if (rc == NT_OK && (!peers || !rooms))
        rc = NT_ERR_NOMEM;
    if (rc == NT_OK) {
        *data = json_pack("{s:o, s:s, s:o, s:o, s:o}", "names", names, "self", self, "status", st,
                          "peers", peers, "rooms", rooms);
        names = st = peers = rooms = NULL;
        rc = *data ? NT_OK : NT_ERR_NOMEM;
    }
    json_decref(names);
    json_decref(st);
    json_decref(peers);
    json_decref(rooms);
    return rc;
}

static void run_job(feed *f, job *j)
{
    feed_item *it = item(FEED_RESULT);
    if (!it)
        return;
    api_error err = {0};
    char path[NODE_ID_MAX + 96];
    it->job = j->kind;
    snprintf(it->room, sizeof it->room, "%s", j->room);
    snprintf(it->txn, sizeof it->txn, "%s", j->txn);
    switch (j->kind) {
    case JOB_REFRESH:
        it->rc = do_refresh(f, &it->data, &err);
        break;
    case JOB_HISTORY:
        snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?limit=%d", j->room, FEED_PAGE);
        it->rc = api_call(f->work_api, "GET", path, NULL, 0, &it->data, &err);
        break;
    case JOB_OLDER:
        snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?before=%lld&limit=%d", j->room,
                 j->text ? strtoll(j->text, NULL, 10) : 1, FEED_PAGE);
        it->rc = api_call(f->work_api, "GET", path, NULL, 0, &it->data, &err);
        break;
    case JOB_SEND:
        snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/%s", j->room, j->txn);
        json_t *body = json_pack("{s:s}", "text", j->text ? j->text : "");
        it->rc = body ? api_call(f->work_api, "PUT", path, body, 0, &it->data, &err) : NT_ERR_NOMEM;
        json_decref(body);
        break;
    case JOB_SLASH:
        it->rc = slash_run(f->work_api, j->room, j->text ? j->text : "", &it->data, &err);
        break;
    }
    if (it->rc != NT_OK)
        snprintf(it->msg, sizeof it->msg, "%s", err.message[0] ? err.message : err_str(it->rc));
    post(f, it);
}

static void *worker_main(void *arg)
{
    feed *f = arg;
    unsigned gen = 0;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        while (!f->quit && !f->jobs)
            pthread_cond_wait(&f->cv, &f->mu);
        job *j = f->jobs;
        if (f->quit) {
            pthread_mutex_unlock(&f->mu);
            return NULL;
        }
        f->jobs = j->next;
        if (!f->jobs)
            f->jobs_tail = NULL;
        if (gen != f->url_gen) {
            gen = f->url_gen;
            nt_err urc = api_set_url(f->work_api, f->url); /* the poller checked it */
            (void)urc;
        }
        pthread_mutex_unlock(&f->mu);
        run_job(f, j);
        free(j->text);
        free(j);
    }
}

nt_err feed_submit(feed *f, feed_job kind, const char *room, const char *text, const char *txn)
{
    job *j = calloc(1, sizeof *j);
    if (!j || (text && !(j->text = strdup(text)))) {
        free(j);
        return NT_ERR_NOMEM;
    }
    j->kind = kind;
    snprintf(j->room, sizeof j->room, "%s", room ? room : "");
    snprintf(j->txn, sizeof j->txn, "%s", txn ? txn : "");
    pthread_mutex_lock(&f->mu);
    if (f->jobs_tail)
        f->jobs_tail->next = j;
    else
        f->jobs = j;
    f->jobs_tail = j;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return NT_OK;
}

int feed_fd(const feed *f)
{
    return f->pipe_rd;
}

feed_item *feed_take(feed *f)
{
    char buf[256];
    while (read(f->pipe_rd, buf, sizeof buf) > 0)
        ;
    pthread_mutex_lock(&f->mu);
    feed_item *it = f->items;
    f->items = f->items_tail = NULL;
    pthread_mutex_unlock(&f->mu);
    return it;
}

nt_err feed_start(feed **out, const locate *loc)
{
    int fds[2];
    *out = NULL;
    feed *f = calloc(1, sizeof *f);
    if (!f)
        return NT_ERR_NOMEM;
    f->pipe_rd = f->pipe_wr = -1;
    snprintf(f->portfile, sizeof f->portfile, "%s", loc->portfile);
    pthread_mutex_init(&f->mu, NULL);
    waitq_cond_init(&f->cv);
    nt_err rc = NT_ERR_IO;
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        goto fail;
    f->pipe_rd = fds[0];
    f->pipe_wr = fds[1];
    if ((rc = locate_api(loc, &f->poll_api)) != NT_OK || (rc = locate_api(loc, &f->work_api)) != NT_OK)
        goto fail;
    api_set_cancel(f->poll_api, &f->quit);
    api_set_cancel(f->work_api, &f->quit);
    rc = NT_ERR_NOMEM;
    /* the threads inherit a mask without the UI's signals, so Ctrl-C and a
     * resize always interrupt the UI thread's poll(2) at once */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    if (pthread_create(&f->poller, NULL, poller_main, f) == 0)
        f->started_poller = 1;
    if (f->started_poller && pthread_create(&f->worker, NULL, worker_main, f) == 0)
        f->started_worker = 1;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!f->started_worker)
        goto fail;
    *out = f;
    return NT_OK;
fail:
    feed_stop(f);
    return rc;
}

void feed_stop(feed *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->quit = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (f->started_poller)
        pthread_join(f->poller, NULL);
    if (f->started_worker)
        pthread_join(f->worker, NULL);
    for (feed_item *it = f->items, *n; it; it = n) {
        n = it->next;
        feed_item_free(it);
    }
    for (job *j = f->jobs, *n; j; j = n) {
        n = j->next;
        free(j->text);
        free(j);
    }
    api_free(f->poll_api);
    api_free(f->work_api);
    if (f->pipe_rd >= 0)
        close(f->pipe_rd);
    if (f->pipe_wr >= 0)
        close(f->pipe_wr);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}
