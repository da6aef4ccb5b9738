/* view.h - what the full-screen client shows: windows (home + one per
 * room) and their lines, kept apart from ncurses so tests can drive it.
 *
 * Window 0 is "home" (notices, command output with no room). Message lines
 * are keyed by room sequence number and, for this node's own messages, by
 * transaction id, so a message seen by the events feed, the history and the
 * send reply shows once, with its latest delivery state. */
#ifndef NATTER_CLIENT_VIEW_H
#define NATTER_CLIENT_VIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "client/node.h"
#include "common/err.h"

#define VIEW_LINES_MAX 10000  /* per window; the oldest go first */
#define VIEW_TOPIC_MAX 256
#define VIEW_WINS_MAX 64
#define VIEW_STATE_MAX 16
#define VIEW_NAME_MAX 128

/* VL_GAP: a marker between two message lines whose seqs are not
 * neighbours though the node's answers cover the range between (those seqs
 * were sent while this node was away or are not readable with its keys),
 * or above the first message once the room's start is reached. Made again
 * after every change of the window's messages (view.c), never duplicated. */
typedef enum { VL_MSG, VL_NOTICE, VL_ERROR, VL_GAP } vline_kind;

typedef struct vmsg {
    vline_kind kind;
    long long seq;                 /* -1: not yet sequenced */
    char txn[NODE_TXN_LEN + 1];    /* own messages */
    char time[NODE_TIME_MAX];
    char sender[NODE_ID_MAX];      /* node id; named at draw time (view_who) */
    char *sender_label;            /* owned; the message's sender_label, may be NULL */
    char sender_trust[VIEW_STATE_MAX]; /* the message's sender_trust, may be "" */
    char state[VIEW_STATE_MAX];    /* own messages: pending, sent, failed */
    bool mine;
    char *text;                    /* owned, made safe by view_clean */
    char *reason;                  /* owned, why it failed; may be NULL */
} vmsg;

typedef struct vwin {
    char id[NODE_ID_MAX];          /* room id; "" for home */
    char name[VIEW_NAME_MAX];
    char access[VIEW_STATE_MAX];
    char state[VIEW_STATE_MAX];    /* hosted, joined, invited, left, kicked */
    char host[NODE_ID_MAX];
    char topic[VIEW_TOPIC_MAX];    /* made safe; "" when none */
    long long epoch;
    int unread;
    bool history_asked;
    bool older_asked;              /* a page before the oldest line is on its way */
    bool at_start;                 /* the room's first message is shown */
    bool want_older;               /* the reader scrolled past the oldest line */
    bool host_down;                /* the room's host is not online (view_peers) */
    int scroll;                    /* screen rows scrolled back */
    long long cov_lo, cov_hi;      /* seqs whose every readable message the
                                    * node's messages answers gave (0: none) */
    vmsg *lines;
    size_t n, cap;
} vwin;

typedef struct view {
    vwin wins[VIEW_WINS_MAX];
    size_t n, cur;
    json_t *names;                 /* node id -> name; owned */
    char self[NODE_ID_MAX];
} view;

NT_MUST_USE nt_err view_new(view **out);
void view_free(view *v);

/* The window for room id ("" = home), or NULL. */
vwin *view_win(view *v, const char *id);
/* The window for room id, made (named name, or the id's start) if new.
 * NULL when VIEW_WINS_MAX windows exist. */
vwin *view_win_add(view *v, const char *id, const char *name);

/* A notice line; one equal to the window's last line is not repeated. */
void view_notice(view *v, vwin *w, bool error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A Message object (events, history): added, or merged into the line with
 * the same seq or txn. Counts as unread when w is not the current window
 * and the message is not ours. */
void view_message(view *v, vwin *w, const json_t *msg);

/* Our message just typed, under txn, state pending, with the time it was
 * typed (kept once the host sequences it). When its seq becomes known
 * (view_delivery, view_message) the line moves to its place in the room's
 * order. */
void view_pending(view *v, vwin *w, const char *txn, const char *text);

/* An OutboxEntry (send reply, delivery event): update the line with its
 * txn (state, seq, reason); added when unknown and it carries text. */
void view_delivery(view *v, vwin *w, const json_t *entry);

/* A messages answer ({messages, head, pending}): merged in seq order
 * before anything newer already shown. */
void view_history(view *v, vwin *w, const json_t *answer);

/* A page of older messages (a messages answer asked with before= and
 * limit) or the first history (limit): merged like view_history; fewer than
 * limit messages means the room's start is reached, marked with a line
 * "-- start of room NAME --" above the first message. */
void view_page(view *v, vwin *w, const json_t *answer, int limit);

/* The lowest seq shown in w, or -1 when none. */
long long view_oldest(const vwin *w);

/* Peers list (GET /v1/client/peers): marks each room whose host is not
 * this node and not online as host_down, with a notice when that changes. */
void view_peers(view *v, const json_t *peers);

/* Sync the room windows with a rooms list (new rooms get windows; known
 * ones get their name, state, access, host, epoch). */
void view_rooms(view *v, const json_t *rooms);

/* One event from the events feed. Returns true when the rooms list should
 * be fetched again (invites, membership, room changes), and the histories
 * asked again (a message after a jump in seq the view does not know). */
bool view_event(view *v, const json_t *ev);

/* Make window i current (clears its unread count). */
void view_switch(view *v, size_t i);

/* Window by number ("2"), room name, unique prefix or id; -1 if none or
 * ambiguous. */
int view_find(const view *v, const char *query);

/* A node id's label (names map, see node_name_of). */
const char *view_name(const view *v, const char *id, char buf[static IDENT_LABEL_MAX]);

/* Who wrote line l, as the chat view shows it: the sender's label from
 * v->names (else the message's own), with "?" before it when the sender is
 * neither this node nor trusted (ident.h). *doubtful says which. Raw text:
 * show through term.h. Returns buf. */
const char *view_who(const view *v, const vmsg *l, char buf[static IDENT_LABEL_MAX + 2], bool *doubtful);

/* Copy s for one screen line: newlines become spaces, then term_dup
 * (term.h) shows every control, bidi or invisible character and bad byte
 * as a visible escape, so that nothing a peer sends can move the cursor,
 * change the terminal or reorder text. Caller frees; NULL on ENOMEM. */
char *view_clean(const char *s);

#endif
