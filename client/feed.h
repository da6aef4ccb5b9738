/* feed.h - the full-screen client's background work, so the screen never
 * waits on the node.
 *
 * Two threads, each with its own api handle: the poller long-polls the
 * events endpoint and reports the connection state; the worker runs jobs
 * (refresh, history, send, slash commands) one at a time. Both hand their
 * results to the UI thread as feed_items and write a byte to a pipe whose
 * read end (feed_fd) the UI polls next to the terminal. */
#ifndef NATTER_CLIENT_FEED_H
#define NATTER_CLIENT_FEED_H

#include <jansson.h>
#include <stdbool.h>
#include "client/api.h"
#include "client/locate.h"
#include "client/node.h"
#include "common/err.h"

#define FEED_WAIT_S 25            /* events long-poll wait asked of the node */
#define FEED_POLL_TIMEOUT_MS ((FEED_WAIT_S + 10) * 1000L)
#define FEED_RETRY_MS 1000        /* pause after a failed poll */
#define FEED_EVENTS_RETRY_MS 5000 /* pause when the node answers events with an error */
#define FEED_PAGE 200             /* messages per history page (the node allows 500) */

typedef enum {
    FEED_CONN,     /* up: connection state changed; msg says why when down,
                      or why events fail while up */
    FEED_EVENTS,   /* data: array of events, in order */
    FEED_RESULT,   /* a job finished: job, rc, msg, data */
} feed_kind;

typedef enum {
    JOB_REFRESH,   /* data: {"names": {id: name}, "self": id, "status": {...},
                      "peers": [...], "rooms": [...]} */
    JOB_HISTORY,   /* room; data: the messages answer (newest FEED_PAGE) */
    JOB_OLDER,     /* room, text = the seq to go before (decimal); data: the
                      messages answer (FEED_PAGE before it) */
    JOB_SEND,      /* room, text, txn; data: the outbox entry */
    JOB_SLASH,     /* room (current, may be ""), text = the command line;
                      data: see slash.h */
} feed_job;

typedef struct feed_item {
    struct feed_item *next;
    feed_kind kind;
    feed_job job;
    bool up;
    nt_err rc;
    char room[NODE_ID_MAX];
    char txn[NODE_TXN_LEN + 1];
    char msg[API_MSG_MAX];
    json_t *data;                 /* owned by the item */
} feed_item;

typedef struct feed feed;

/* Start both threads against loc's node (everything copied; the token goes
 * only to a listener that proves it holds it, see locate_api). loc's
 * portfile, when not "", is the node's natterd.json: while the node is
 * unreachable it is read again, so a node restarted on another port is
 * found. */
NT_MUST_USE nt_err feed_start(feed **out, const locate *loc);

/* Stop and join both threads (a long-poll in flight is aborted), free.
 * NULL-safe. Items not taken are freed. */
void feed_stop(feed *f);

/* Read end of the wake-up pipe: readable when items are waiting. */
int feed_fd(const feed *f);

/* All waiting items, oldest first (drains the pipe). Caller frees each with
 * feed_item_free. NULL when none. */
feed_item *feed_take(feed *f);
void feed_item_free(feed_item *it);

/* Queue a job. room and text may be NULL; copied. For JOB_SEND, txn is the
 * transaction id the UI already shows the pending line under. */
NT_MUST_USE nt_err feed_submit(feed *f, feed_job job, const char *room, const char *text,
                               const char *txn);

#endif
