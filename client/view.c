/* view.c - windows and lines of the full-screen client (see view.h). */
#include "client/view.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "client/dm.h"
#include "client/editline.h"
#include "client/field.h"
#include "client/ident.h"
#include "client/term.h"

#define SEARCH_BACK 1000 /* lines searched for a duplicate */

nt_err view_new(view **out)
{
    view *v = calloc(1, sizeof *v);
    if (!v || !(v->names = json_object())) {
        free(v);
        *out = NULL;
        return NT_ERR_NOMEM;
    }
    v->n = 1;
    snprintf(v->wins[0].name, sizeof v->wins[0].name, "home");
    *out = v;
    return NT_OK;
}

static void line_free(vmsg *l)
{
    free(l->sender_label);
    free(l->text);
    free(l->reason);
}

void view_free(view *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        for (size_t j = 0; j < v->wins[i].n; j++)
            line_free(&v->wins[i].lines[j]);
        free(v->wins[i].lines);
    }
    json_decref(v->names);
    free(v);
}

char *view_clean(const char *s)
{
    char *flat = strdup(s ? s : ""); /* a line on screen: newlines become spaces */
    if (!flat)
        return NULL;
    for (char *p = flat; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    char *out = term_dup(flat);
    free(flat);
    return out;
}

const char *view_name(const view *v, const char *id, char buf[static IDENT_LABEL_MAX])
{
    return node_name_of(id, v->names, buf);
}

const char *view_who(const view *v, const vmsg *l, char buf[static IDENT_LABEL_MAX + 2], bool *doubtful)
{
    char lb[IDENT_LABEL_MAX];
    const char *label = ident_label_of(v->names, l->sender, NULL, l->sender_label, lb);
    const char *trust = l->mine ? "self" : ident_trust_of(v->names, l->sender, l->sender_trust);
    *doubtful = ident_doubtful(trust);
    snprintf(buf, IDENT_LABEL_MAX + 2, "%s%s", *doubtful ? "?" : "", label);
    return buf;
}

vwin *view_win(view *v, const char *id)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->wins[i].id, id ? id : "") == 0)
            return &v->wins[i];
    return NULL;
}

vwin *view_win_add(view *v, const char *id, const char *name)
{
    vwin *w = view_win(v, id);
    if (w)
        return w;
    if (v->n >= VIEW_WINS_MAX)
        return NULL;
    w = &v->wins[v->n++];
    memset(w, 0, sizeof *w);
    snprintf(w->id, sizeof w->id, "%s", id);
    char *clean = view_clean(name ? name : "");
    snprintf(w->name, sizeof w->name, "%.12s", id);
    if (clean && clean[0])
        snprintf(w->name, sizeof w->name, "%s", clean);
    free(clean);
    return w;
}

static bool is_cur(const view *v, const vwin *w)
{
    return w == &v->wins[v->cur];
}

static vmsg *push(vwin *w)
{
    if (w->n == VIEW_LINES_MAX) {
        line_free(&w->lines[0]);
        memmove(w->lines, w->lines + 1, (w->n - 1) * sizeof *w->lines);
        w->n--;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        vmsg *p = realloc(w->lines, cap * sizeof *p);
        if (!p)
            return NULL;
        w->lines = p;
        w->cap = cap;
    }
    vmsg *l = &w->lines[w->n++];
    memset(l, 0, sizeof *l);
    l->seq = -1;
    if (w->scroll > 0)
        w->scroll++; /* keep the reader's place */
    return l;
}

static void now_time(char out[static NODE_TIME_MAX])
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, NODE_TIME_MAX, "%H:%M", &tm);
}

void view_notice(view *v, vwin *w, bool error, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!w)
        w = &v->wins[0];
    char *text = view_clean(buf);
    vmsg *last = w->n ? &w->lines[w->n - 1] : NULL;
    if (!text || (last && last->kind != VL_MSG && last->text && !strcmp(last->text, text))) {
        free(text); /* the same notice twice in a row says nothing new */
        return;
    }
    vmsg *l = push(w);
    if (!l) {
        free(text);
        return;
    }
    l->kind = error ? VL_ERROR : VL_NOTICE;
    now_time(l->time);
    l->text = text;
}

static bool later(const vmsg *l, long long seq)
{
    if (l->kind == VL_GAP)
        return true; /* it stands before a later message (regap) */
    return l->kind == VL_MSG && (l->seq < 0 || l->seq > seq);
}

/* Where a message with seq goes: after everything but the run of later or
 * unsequenced messages at the end (notices keep their place). */
static size_t seq_pos(const vwin *w, long long seq)
{
    size_t pos = w->n, stop = w->n > SEARCH_BACK ? w->n - SEARCH_BACK : 0;
    if (seq < 0)
        return pos;
    while (pos > stop && later(&w->lines[pos - 1], seq))
        pos--;
    return pos;
}

/* Line l, whose seq is now known, moved to its place in the room's order. */
static vmsg *reposition(vwin *w, vmsg *l)
{
    size_t i = (size_t)(l - w->lines);
    vmsg tmp = *l;
    if (tmp.seq < 0)
        return l;
    memmove(w->lines + i, w->lines + i + 1, (w->n - i - 1) * sizeof *w->lines);
    w->n--;
    size_t pos = seq_pos(w, tmp.seq);
    memmove(w->lines + pos + 1, w->lines + pos, (w->n - pos) * sizeof *w->lines);
    w->lines[pos] = tmp;
    w->n++;
    return &w->lines[pos];
}

static vmsg *find_line(vwin *w, long long seq, const char *txn)
{
    size_t stop = w->n > SEARCH_BACK ? w->n - SEARCH_BACK : 0;
    for (size_t i = w->n; i-- > stop;) {
        vmsg *l = &w->lines[i];
        if (l->kind != VL_MSG)
            continue;
        if ((seq >= 0 && l->seq == seq) || (txn && txn[0] && strcmp(l->txn, txn) == 0))
            return l;
    }
    return NULL;
}

static vmsg *insert_at(vwin *w, size_t pos);

/* How many seqs are missing before message seq, after message prev (0:
 * seq is the first message): only where the node's answers cover them. */
static long long missing(const vwin *w, long long prev, long long seq)
{
    if (prev <= 0)
        return w->at_start && w->cov_lo == 1 && seq > 1 && seq <= w->cov_hi ? seq - 1 : 0;
    return seq > prev + 1 && w->cov_lo <= prev && seq <= w->cov_hi ? seq - prev - 1 : 0;
}

static bool gap_line(vmsg *l, long long n, bool top)
{
    char buf[160];
    memset(l, 0, sizeof *l);
    l->kind = VL_GAP;
    l->seq = -1;
    snprintf(buf, sizeof buf, "-- %lld %smessage%s %s here (sent while you were away, "
             "or not readable with your keys) --", n, top ? "earlier " : "", n == 1 ? "" : "s",
             top ? "cannot be read" : "missing");
    return (l->text = strdup(buf)) != NULL;
}

/* Count (out == NULL) or write the window's lines with a gap marker before
 * each message that follows missing seqs, at most budget markers. */
static size_t gap_fill(const vwin *w, vmsg *out, size_t budget)
{
    size_t k = 0, gaps = 0;
    long long prev = 0;
    for (size_t i = 0; i < w->n; i++) {
        const vmsg *l = &w->lines[i];
        if (l->kind == VL_MSG && l->seq >= 0) {
            long long n = missing(w, prev, l->seq);
            if (n > 0 && gaps < budget && (!out || gap_line(&out[k], n, prev == 0)))
                k++, gaps++;
            prev = l->seq;
        }
        if (out)
            out[k] = *l;
        k++;
    }
    return k;
}

/* The window's gap markers made again from its messages and coverage:
 * after any change, so they never repeat and move when a gap fills. */
static void regap(vwin *w)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (w->lines[i].kind == VL_GAP)
            line_free(&w->lines[i]);
        else
            w->lines[n++] = w->lines[i];
    }
    w->n = n;
    size_t budget = VIEW_LINES_MAX - n, total = gap_fill(w, NULL, budget);
    if (total <= n)
        return;
    vmsg *lines = malloc(total * sizeof *lines);
    if (!lines)
        return; /* shown without markers */
    w->n = gap_fill(w, lines, budget);
    free(w->lines);
    w->lines = lines;
    w->cap = total;
}

/* Seqs lo..hi are known whole: merged with the window's coverage, or kept
 * instead of it when newer and apart from it. */
static void cover(vwin *w, long long lo, long long hi)
{
    if (lo < 1 || hi < lo)
        return;
    if (w->cov_hi > 0 && lo <= w->cov_hi + 1 && hi + 1 >= w->cov_lo) {
        lo = lo < w->cov_lo ? lo : w->cov_lo;
        hi = hi > w->cov_hi ? hi : w->cov_hi;
    } else if (w->cov_hi > hi) {
        return;
    }
    w->cov_lo = lo;
    w->cov_hi = hi;
}

/* The lowest and highest seq in a messages answer (0, 0 when none). */
static void span(const json_t *answer, long long *lo, long long *hi)
{
    json_t *m;
    size_t i;
    *lo = *hi = 0;
    json_array_foreach(field_get(answer, "messages"), i, m) {
        long long s = field_int(m, "seq", -1);
        if (s < 1)
            continue;
        if (!*lo || s < *lo)
            *lo = s;
        if (s > *hi)
            *hi = s;
    }
}

static void fill_msg(view *v, vmsg *l, const json_t *m)
{
    const char *txn = field_str(m, "txn_id");
    const char *sender = field_str(m, "sender");
    l->kind = VL_MSG;
    l->seq = field_int(m, "seq", l->seq);
    if (txn)
        snprintf(l->txn, sizeof l->txn, "%s", txn);
    if (sender)
        snprintf(l->sender, sizeof l->sender, "%s", sender);
    const char *sl = field_str(m, "sender_label"), *st = field_str(m, "sender_trust");
    if (sl && !l->sender_label)
        l->sender_label = strdup(sl);
    if (st)
        snprintf(l->sender_trust, sizeof l->sender_trust, "%s", st);
    l->mine = field_bool(m, "mine", false) || (sender && v->self[0] && !strcmp(sender, v->self));
    if (l->mine)
        snprintf(l->state, sizeof l->state, "sent");
    if (!l->mine || !l->time[0]) /* our own keep the time they were typed */
        node_fmt_time(m, l->time);
    if (!l->time[0])
        now_time(l->time);
    if (!l->text) {
        l->text = view_clean(field_str(m, "text"));
    }
}

void view_message(view *v, vwin *w, const json_t *msg)
{
    if (!w || !json_is_object(msg))
        return;
    long long seq = field_int(msg, "seq", -1);
    const char *txn = field_str(msg, "txn_id");
    vmsg *l = find_line(w, seq, field_bool(msg, "mine", false) ? txn : NULL);
    if (!l && txn && field_str(msg, "sender") && !strcmp(field_str(msg, "sender"), v->self))
        l = find_line(w, -1, txn);
    if (l) {
        long long was = l->seq;
        fill_msg(v, l, msg);
        if (was != l->seq)
            reposition(w, l);
        regap(w);
        return;
    }
    size_t pos = seq_pos(w, seq);
    if (!(l = pos == w->n ? push(w) : insert_at(w, pos)))
        return;
    fill_msg(v, l, msg);
    if (!l->mine && !is_cur(v, w))
        w->unread++;
    regap(w);
}

void view_pending(view *v, vwin *w, const char *txn, const char *text)
{
    vmsg *l = w ? push(w) : NULL;
    if (!l)
        return;
    l->kind = VL_MSG;
    l->mine = true;
    snprintf(l->txn, sizeof l->txn, "%s", txn);
    snprintf(l->sender, sizeof l->sender, "%s", v->self);
    snprintf(l->state, sizeof l->state, "pending");
    now_time(l->time);
    l->text = view_clean(text);
}

void view_delivery(view *v, vwin *w, const json_t *e)
{
    const char *txn = field_str(e, "txn_id");
    const char *st = field_str(e, "state");
    if (!w || !txn || !st)
        return;
    vmsg *l = find_line(w, -1, txn);
    if (!l) {
        if (!field_str(e, "text") || !strcmp(st, "sent"))
            return;
        view_pending(v, w, txn, field_str(e, "text"));
        l = &w->lines[w->n - 1];
        char when[NODE_TIME_MAX];
        node_fmt_time(e, when); /* when the node says it was written */
        if (when[0])
            snprintf(l->time, sizeof l->time, "%s", when);
    }
    snprintf(l->state, sizeof l->state, "%s", st);
    free(l->reason);
    l->reason = field_str(e, "reason") && strcmp(st, "sent") ? view_clean(field_str(e, "reason")) : NULL;
    long long was = l->seq;
    l->seq = field_int(e, "seq", l->seq);
    if (was != l->seq)
        reposition(w, l);
    regap(w);
}

/* A new line at index pos (lines from pos move down one). */
static vmsg *insert_at(vwin *w, size_t pos)
{
    bool full = w->n == VIEW_LINES_MAX;
    if (full && pos == 0)
        return NULL; /* older than everything kept */
    if (!push(w))
        return NULL;
    if (full)
        pos--; /* push dropped the oldest line */
    vmsg tmp = w->lines[w->n - 1];
    memmove(w->lines + pos + 1, w->lines + pos, (w->n - 1 - pos) * sizeof *w->lines);
    w->lines[pos] = tmp;
    return &w->lines[pos];
}

void view_history(view *v, vwin *w, const json_t *answer)
{
    json_t *msgs = field_get(answer, "messages"), *pend = field_get(answer, "pending"), *m;
    size_t i;
    if (!w)
        return;
    json_array_foreach(msgs, i, m) {
        long long seq = field_int(m, "seq", -1);
        const char *txn = field_str(m, "txn_id");
        bool mine = field_bool(m, "mine", false);
        vmsg *l = find_line(w, seq, mine ? txn : NULL);
        if (!l && txn && mine)
            l = find_line(w, -1, txn);
        if (l) {
            long long was = l->seq;
            fill_msg(v, l, m);
            if (was != l->seq)
                reposition(w, l);
            continue;
        }
        /* before the first later or unsequenced message: notices keep their place */
        size_t pos = w->n;
        for (size_t j = 0; j < w->n; j++)
            if (w->lines[j].kind == VL_MSG && (w->lines[j].seq > seq || w->lines[j].seq < 0)) {
                pos = j;
                break;
            }
        int scroll = w->scroll;
        if ((l = insert_at(w, pos)))
            fill_msg(v, l, m);
        w->scroll = scroll;
    }
    json_array_foreach(pend, i, m)
        view_delivery(v, w, m);
    long long lo, hi;
    span(answer, &lo, &hi);
    cover(w, lo, hi);
    regap(w);
}

long long view_oldest(const vwin *w)
{
    long long low = -1;
    for (size_t i = 0; i < w->n; i++)
        if (w->lines[i].kind == VL_MSG && w->lines[i].seq >= 0 && (low < 0 || w->lines[i].seq < low))
            low = w->lines[i].seq;
    return low;
}

static void mark_start(vwin *w)
{
    char buf[VIEW_NAME_MAX + 32];
    int scroll = w->scroll;
    w->at_start = true; /* nothing more to ask for, shown or not */
    vmsg *l = insert_at(w, 0);
    w->scroll = scroll; /* above the reader's place */
    if (!l)
        return;
    l->kind = VL_NOTICE;
    snprintf(buf, sizeof buf, "-- start of room %s --", w->name);
    l->text = strdup(buf);
}

void view_page(view *v, vwin *w, const json_t *answer, int limit)
{
    if (!w)
        return;
    int scroll = w->scroll;
    long long oldest = view_oldest(w);
    size_t got = json_array_size(field_get(answer, "messages"));
    view_history(v, w, answer);
    w->scroll = scroll; /* older lines go above the reader's place */
    long long lo, hi;
    span(answer, &lo, &hi);
    if ((int)got < limit)
        lo = 1; /* nothing readable before */
    /* an older page ends just before oldest, the first one at head */
    long long head = field_int(answer, "head", 0), top = oldest > 0 && oldest < head ? oldest : head;
    cover(w, lo, oldest > 0 && top > hi ? top : hi);
    if (w->at_start) {
        regap(w);
        return;
    }
    if ((int)got < limit) {
        mark_start(w);
    } else if (oldest >= 0 && view_oldest(w) == oldest && w->n >= VIEW_LINES_MAX) {
        w->at_start = true; /* the window is full: stop asking */
        view_notice(v, w, false, "older messages are not kept here (over %d lines): "
                                 "natter tail %s -n N shows them", VIEW_LINES_MAX, w->name);
    }
    regap(w);
}

static void host_changed(view *v, vwin *w, bool down)
{
    char nb[IDENT_LABEL_MAX];
    w->host_down = down;
    if (down)
        view_notice(v, w, true, "the host %s is offline: what you write waits here as pending "
                                "and is sent when it is back", view_name(v, w->host, nb));
    else
        view_notice(v, w, false, "the host %s is online again", view_name(v, w->host, nb));
}

void view_peers(view *v, const json_t *peers)
{
    for (size_t i = 1; i < v->n; i++) {
        vwin *w = &v->wins[i];
        json_t *p, *host = NULL;
        size_t k;
        if (!w->host[0] || !strcmp(w->host, v->self) || !strcmp(w->state, "invited"))
            continue;
        json_array_foreach(peers, k, p)
            if (field_str(p, "id") && !strcmp(field_str(p, "id"), w->host))
                host = p;
        bool down = !host || !field_bool(host, "online", false);
        if (down != w->host_down)
            host_changed(v, w, down);
    }
}

void view_rooms(view *v, const json_t *rooms)
{
    size_t i;
    json_t *r;
    json_array_foreach(rooms, i, r) {
        const char *id = field_str(r, "id");
        if (!id)
            continue;
        vwin *w = view_win_add(v, id, field_str(r, "name"));
        if (!w)
            return;
        char lb[IDENT_LABEL_MAX];
        const char *shown = dm_is(r) ? dm_title(r, v->names, v->self, lb) : field_str(r, "name");
        char *clean = view_clean(shown ? shown : ""); /* a conversation is called by its peer */
        if (clean && clean[0])
            snprintf(w->name, sizeof w->name, "%s", clean);
        free(clean);
        snprintf(w->access, sizeof w->access, "%s", field_str(r, "access") ? field_str(r, "access") : "");
        const char *st = field_str(r, "state") ? field_str(r, "state") : "";
        if (w->state[0] && strcmp(w->state, st) && !strcmp(st, "joined"))
            w->history_asked = false; /* back: what came while away shows (or its gap) */
        snprintf(w->state, sizeof w->state, "%s", st);
        snprintf(w->host, sizeof w->host, "%s", field_str(r, "host") ? field_str(r, "host") : "");
        w->epoch = field_int(r, "epoch", w->epoch);
        char *topic = view_clean(field_str(r, "topic") ? field_str(r, "topic") : "");
        snprintf(w->topic, sizeof w->topic, "%s", topic ? topic : "");
        free(topic);
    }
}

static const char *member_verb(const char *m)
{
    if (!m)
        return "changed";
    if (!strcmp(m, "joined")) return "joined";
    if (!strcmp(m, "left")) return "left";
    if (!strcmp(m, "kicked")) return "was kicked";
    if (!strcmp(m, "invited")) return "was invited";
    return m;
}

/* Whether live message m comes after a jump in seq past what the node's
 * answers cover (say after a rejoin): the history is then asked again. */
static bool jumps(const vwin *w, const json_t *m)
{
    long long seq = field_int(m, "seq", -1), top = 0;
    for (size_t i = 0; i < w->n; i++)
        if (w->lines[i].kind == VL_MSG && w->lines[i].seq > top)
            top = w->lines[i].seq;
    return top > 0 && seq > top + 1 && seq > w->cov_hi;
}

bool view_event(view *v, const json_t *ev)
{
    const char *type = field_str(ev, "type");
    const char *room = field_str(ev, "room");
    const char *peer = field_str(ev, "peer");
    char nb[IDENT_LABEL_MAX];
    if (!type)
        return false;
    vwin *w = room ? view_win(v, room) : NULL;
    if (!strcmp(type, "message")) {
        bool jump = w && jumps(w, field_get(ev, "message"));
        if (!w && room && (w = view_win_add(v, room, NULL)))
            w->history_asked = false;
        view_message(v, w, field_get(ev, "message"));
        if (jump)
            w->history_asked = false; /* its answer says whether the jump is a gap */
        return w == NULL || jump;
    }
    if (!strcmp(type, "delivery")) {
        json_t *d = field_get(ev, "delivery");
        view_delivery(v, w ? w : view_win(v, field_str(d, "room")), d);
        return false;
    }
    if (!strcmp(type, "invite")) {
        json_t *ri = field_get(ev, "room_info");
        const char *rn = field_str(ri, "name"), *from = peer ? peer : field_str(ri, "host");
        const char *trust = ident_trust_of(v->names, from, field_str(ev, "trust"));
        view_notice(v, NULL, false, "%s (%s) invited you to room %s: /join %s",
                    ident_label_of(v->names, from, field_str(ev, "name"), field_str(ev, "label"), nb),
                    trust, rn ? rn : room, rn ? rn : room);
        return true;
    }
    if (!strcmp(type, "peer"))
        return true; /* a peer came or went: the next refresh shows it (a host's rooms say so) */
    if (!strcmp(type, "peer_renamed")) {
        char ob[IDENT_LABEL_MAX], now_b[IDENT_LABEL_MAX];
        const char *old = ident_old_label(ev, ob), *now = ident_new_label(ev, now_b);
        view_notice(v, NULL, false, "%s is now known as %s", old ? old : view_name(v, peer, nb), now ? now : "?");
        ident_renamed(v->names, ev);
        return true;
    }
    if (!strcmp(type, "membership")) {
        const char *m = field_str(ev, "membership");
        bool kicked = m && !strcmp(m, "kicked");
        bool mine = peer && !strcmp(peer, v->self);
        /* what this node did itself (join, leave, the host's invite) its
         * command's answer already said */
        bool said = mine ? m && (!strcmp(m, "joined") || !strcmp(m, "left"))
                         : m && !strcmp(m, "invited") && w && !strcmp(w->state, "hosted");
        if (said)
            return true;
        if (mine)
            view_notice(v, w, kicked, "you %s", kicked ? "were removed from this room" : member_verb(m));
        else
            view_notice(v, w, false, "%s %s", view_name(v, peer, nb), member_verb(m));
        return true;
    }
    if (!strcmp(type, "key_rotation")) {
        long long e = field_int(ev, "epoch", -1);
        if (w && e >= 0)
            w->epoch = e;
        view_notice(v, w, false, "room key rotated: now epoch %lld", e);
        return false;
    }
    if (!strcmp(type, "room")) {
        json_t *ri = field_get(ev, "room_info");
        if (json_is_object(ri)) {
            json_t *one = json_pack("[O]", ri);
            view_rooms(v, one);
            json_decref(one);
        }
        const char *change = field_str(ev, "change");
        if (w && change && !strcmp(change, "topic"))
            view_notice(v, w, false, "topic: %s", w->topic[0] ? w->topic : "(none)");
        return true;
    }
    return false;
}

void view_switch(view *v, size_t i)
{
    if (i >= v->n)
        return;
    v->cur = i;
    v->wins[i].unread = 0;
}

int view_find(const view *v, const char *q)
{
    char *end;
    long n = strtol(q, &end, 10);
    if (q[0] && !*end && strlen(q) <= 2) /* a window number; longer digits are an id */
        return n >= 0 && (size_t)n < v->n ? (int)n : -1;
    int hit = -1, hits = 0;
    size_t ql = strlen(q);
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->wins[i].name, q) || (v->wins[i].id[0] && !strcasecmp(v->wins[i].id, q)))
            return (int)i;
    for (size_t i = 0; i < v->n; i++)
        if (!strncasecmp(v->wins[i].name, q, ql) ||
            (v->wins[i].id[0] && !strncasecmp(v->wins[i].id, q, ql))) {
            hit = (int)i;
            hits++;
        }
    return hits == 1 ? hit : -1;
}
