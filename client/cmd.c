/* cmd.c - one-shot commands (see cmd.h). */
#include "client/cmd.h"
#include "client/cmdctx.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "client/api.h"
#include "client/field.h"
#include "client/ident.h"
#include "client/locate.h"
#include "client/node.h"
#include "client/resolve.h"
#include "client/term.h"

#define TAIL_DEFAULT 20
#define TAIL_PAGE 500      /* the node's limit per messages call */
#define EVENTS_WAIT_S 25
#define EVENTS_TIMEOUT_MS ((EVENTS_WAIT_S + 10) * 1000L)
#define RECONNECT_MIN_MS 250L
#define RECONNECT_MAX_MS 5000L
#define PAGE_MAX 500
#define PATH_MAX_LEN CMD_PATH_MAX

int cmd_exit_code(nt_err rc)
{
    switch (rc) {
    case NT_OK: return EXIT_OK;
    case NT_ERR_NET:
    case NT_ERR_TIMEOUT: return EXIT_UNREACHABLE;
    case NT_ERR_AUTH: return EXIT_AUTH;
    case NT_ERR_NOT_FOUND: return EXIT_NOTFOUND;
    default: return EXIT_NODE;
    }
}

/* Report a failed call and give its exit status. */
int cmd_fail(ctx *c, nt_err rc)
{
    const char *m = c->err.message[0] ? c->err.message : err_str(rc);
    term_printf(stderr, "natter: %s\n", m);
    return cmd_exit_code(rc);
}

void cmd_print_json(const json_t *j)
{
    json_dumpf(j, stdout, JSON_COMPACT | JSON_ENCODE_ANY);
    fputc('\n', stdout);
}

/* A scalar as text into buf. */
static const char *scalar(const json_t *v, char *buf, size_t cap)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, cap, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, cap, "%s", json_is_true(v) ? "yes" : "no");
    else if (json_is_null(v))
        snprintf(buf, cap, "-");
    else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(buf, cap, "%s", s ? s : "?");
        free(s);
    }
    return buf;
}

/* "key: value" lines, nested objects as "key.sub: value". */
static void print_fields(const json_t *o, const char *prefix)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        char key[256], buf[1024];
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", k);
        if (json_is_object(v))
            print_fields(v, key);
        else
            term_printf(stdout, "%-28s %s\n", key, scalar(v, buf, sizeof buf));
    }
}

int cmd_call(ctx *c, const char *method, const char *path, json_t *body, json_t **reply)
{
    nt_err rc = api_call(c->a, method, path, body, 0, reply, &c->err);
    json_decref(body);
    return rc == NT_OK ? EXIT_OK : cmd_fail(c, rc);
}

int cmd_find(ctx *c, node_kind k, const char *q, json_t **obj, char id[static NODE_ID_MAX])
{
    nt_err rc = node_find(c->a, k, q, obj, id, &c->err);
    if (rc == NT_ERR_EXISTS && !strcmp(c->err.code, "ambiguous")) {
        term_printf(stderr, "natter: %s\n", c->err.message);
        return EXIT_NOTFOUND;
    }
    return rc == NT_OK ? EXIT_OK : cmd_fail(c, rc);
}

/* Simple commands: print the node's answer (JSON) or its fields (text). */
int cmd_answer(ctx *c, json_t *reply, const char *done)
{
    if (c->o->json)
        cmd_print_json(reply);
    else if (done)
        term_printf(stdout, "%s\n", done);
    else if (json_is_object(reply))
        print_fields(reply, "");
    json_decref(reply);
    return EXIT_OK;
}

static int c_status(ctx *c)
{
    json_t *r;
    int x = cmd_call(c, "GET", "/v1/client/status", NULL, &r);
    return x ? x : cmd_answer(c, r, NULL);
}

static void peer_row(const json_t *p, const json_t *list)
{
    char s[13], lb[IDENT_LABEL_MAX];
    const char *fp = field_str(p, "fingerprint");
    bool online = field_bool(p, "online", false);
    term_printf(stdout, "%-20s %-12s %-9s %-7s %-22s %s\n", ident_peer_label(p, list, lb),
                node_short(field_str(p, F_ID), s), ident_trust(p), online ? "online" : "offline",
                field_str(p, "address") ? field_str(p, "address") : "-", fp ? fp : "");
}

static int c_peers(ctx *c)
{
    json_t *r;
    int x = cmd_call(c, "GET", "/v1/client/peers", NULL, &r);
    if (x || c->o->json)
        return x ? x : cmd_answer(c, r, NULL);
    json_t *l = field_list(r, F_PEERS);
    size_t i;
    json_t *p;
    if (!l || json_array_size(l) == 0)
        term_printf(stdout, "no peers yet: `natter add HOST:PORT`, or wait for discovery\n");
    else
        term_printf(stdout, "%-20s %-12s %-9s %-7s %-22s %s\n", "PEER", "ID", "TRUST", "STATE", "ADDRESS",
                    "FINGERPRINT");
    json_array_foreach(l, i, p)
        peer_row(p, l);
    json_decref(r);
    return EXIT_OK;
}

static int c_add(ctx *c)
{
    json_t *r;
    int x = cmd_call(c, "POST", "/v1/client/peers", json_pack("{s:s}", "address", c->o->args[0]), &r);
    if (x || c->o->json)
        return x ? x : cmd_answer(c, r, NULL);
    json_t *p = json_is_object(field_get(r, "peer")) ? field_get(r, "peer") : r;
    const char *fp = field_str(p, "fingerprint");
    char lb[IDENT_LABEL_MAX];
    ident_peer_label(p, NULL, lb);
    term_printf(stdout, "added %s (%s, %s)\n", lb, ident_trust(p), field_str(p, F_ID) ? field_str(p, F_ID) : "?");
    term_printf(stdout, "fingerprint %s\n", fp ? fp : "-");
    term_printf(stdout, "compare it with the peer's owner, then: natter trust %s\n", lb);
    json_decref(r);
    return EXIT_OK;
}

static int peer_action(ctx *c, const char *action, const char *done)
{
    json_t *p, *r;
    char id[NODE_ID_MAX], path[PATH_MAX_LEN], msg[256];
    int x = cmd_find(c, NODE_PEER, c->o->args[0], &p, id);
    if (x)
        return x;
    snprintf(path, sizeof path, "/v1/client/peers/%s/%s", id, action);
    char lb[IDENT_LABEL_MAX];
    snprintf(msg, sizeof msg, "%s %s", done, ident_peer_label(p, NULL, lb));
    json_decref(p);
    x = cmd_call(c, "POST", path, NULL, &r);
    return x ? x : cmd_answer(c, r, msg);
}

static int c_connect(ctx *c) { return peer_action(c, "connect", "session up with"); }
static int c_trust(ctx *c) { return peer_action(c, "trust", "trusted"); }

static int c_rooms(ctx *c)
{
    json_t *r, *names = NULL;
    char self[NODE_ID_MAX];
    int x = cmd_call(c, "GET", "/v1/client/rooms", NULL, &r);
    if (x || c->o->json)
        return x ? x : cmd_answer(c, r, NULL);
    if (node_names(c->a, &names, self, &c->err) != NT_OK)
        names = NULL; /* hosts shown by id */
    json_t *l = field_list(r, F_ROOMS), *o;
    size_t i;
    if (!l || json_array_size(l) == 0)
        term_printf(stdout, "no rooms yet: `natter create NAME`, or join one\n");
    else
        term_printf(stdout, "%-24s %-12s %-9s %-8s %-16s %s\n", "NAME", "ID", "ACCESS", "STATE", "HOST", "EPOCH");
    json_array_foreach(l, i, o) {
        char s1[13], nb[IDENT_LABEL_MAX], host[IDENT_LABEL_MAX + 2];
        const char *st = field_str(o, "state"), *hid = field_str(o, "host");
        snprintf(host, sizeof host, "%s%s", ident_doubtful(ident_trust_of(names, hid, NULL)) ? "?" : "",
                 node_name_of(hid, names, nb));
        term_printf(stdout, "%-24s %-12s %-9s %-8s %-16s %lld\n", field_str(o, F_NAME) ? field_str(o, F_NAME) : "?",
                    node_short(field_str(o, F_ID), s1), field_str(o, "access") ? field_str(o, "access") : "-",
                    st ? st : "-", host, field_int(o, "epoch", 0));
        if (field_str(o, "topic") && field_str(o, "topic")[0])
            term_printf(stdout, "  topic: %s\n", field_str(o, "topic"));
    }
    json_decref(names);
    json_decref(r);
    return EXIT_OK;
}

static int c_create(ctx *c)
{
    json_t *b = json_pack("{s:s, s:s}", "name", c->o->args[0], "access",
                          c->o->access ? c->o->access : "invite");
    if (b && c->o->password)
        json_object_set_new(b, "password", json_string(c->o->password));
    if (b && c->o->topic)
        json_object_set_new(b, "topic", json_string(c->o->topic));
    json_t *r;
    int x = cmd_call(c, "POST", "/v1/client/rooms", b, &r);
    if (x || c->o->json)
        return x ? x : cmd_answer(c, r, NULL);
    json_t *room = json_is_object(field_get(r, "room")) ? field_get(r, "room") : r;
    term_printf(stdout, "created room %s (%s)\n", c->o->args[0], field_str(room, F_ID) ? field_str(room, F_ID) : "?");
    json_decref(r);
    return EXIT_OK;
}

static int c_invite(ctx *c)
{
    json_t *room, *peer, *r;
    char rid[NODE_ID_MAX], pid[NODE_ID_MAX], path[PATH_MAX_LEN], msg[512];
    int x = cmd_find(c, NODE_ROOM, c->o->args[0], &room, rid);
    if (x)
        return x;
    json_decref(room);
    if ((x = cmd_find(c, NODE_PEER, c->o->args[1], &peer, pid)))
        return x;
    char lb[IDENT_LABEL_MAX];
    snprintf(msg, sizeof msg, "invited %s (%s) to %s", ident_peer_label(peer, NULL, lb), ident_trust(peer),
             c->o->args[0]);
    json_decref(peer);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/invite", rid);
    x = cmd_call(c, "POST", path, json_pack("{s:s}", "peer", pid), &r);
    return x ? x : cmd_answer(c, r, msg);
}

/* Message text from stdin, up to NODE_TEXT_MAX bytes; one trailing newline
 * dropped. NULL (message printed) when too long or unreadable. */
static char *read_stdin(void)
{
    char *buf = malloc(NODE_TEXT_MAX + 2);
    if (!buf)
        return NULL;
    size_t n = fread(buf, 1, NODE_TEXT_MAX + 1, stdin);
    if (ferror(stdin) || n > NODE_TEXT_MAX) {
        term_printf(stderr, "natter: %s\n", n > NODE_TEXT_MAX ? "message over 16 KiB" : "cannot read stdin");
        free(buf);
        return NULL;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n] = '\0';
    return buf;
}

char *cmd_text(const ctx *c, int i)
{
    char *text = c->o->nargs > i ? strdup(c->o->args[i]) : read_stdin();
    if (text && (!text[0] || strlen(text) > NODE_TEXT_MAX)) {
        term_printf(stderr, "natter: %s\n", text[0] ? "message over 16 KiB" : "empty message");
        free(text);
        text = NULL;
    }
    return text;
}

void cmd_print_sent(const ctx *c, const json_t *r, const char *prefix)
{
    if (c->o->json) {
        cmd_print_json(r);
        return;
    }
    const json_t *m = json_is_object(field_get(r, "message")) ? field_get(r, "message") : r;
    long long seq = field_int(m, F_SEQ, -1);
    const char *st = field_str(m, "state");
    const char *why = field_str(m, "reason");
    if (seq >= 0)
        term_printf(stdout, "%ssent (seq %lld)\n", prefix, seq);
    else
        term_printf(stdout, "%s%s%s%s\n", prefix, st ? st : "sent", why ? ": " : "", why ? why : "");
}

static int c_send(ctx *c)
{
    json_t *room, *r = NULL;
    char rid[NODE_ID_MAX];
    char *text = cmd_text(c, 1);
    if (!text)
        return EXIT_USAGE;
    int x = cmd_find(c, NODE_ROOM, c->o->args[0], &room, rid);
    if (x)
        goto out;
    json_decref(room);
    nt_err rc = node_send(c->a, rid, text, &r, &c->err);
    if (rc != NT_OK) {
        x = cmd_fail(c, rc);
        goto out;
    }
    cmd_print_sent(c, r, "");
out:
    json_decref(r);
    free(text);
    return x;
}

static void print_msg(const json_t *m, const json_t *names, bool json)
{
    if (json) {
        cmd_print_json(m);
        return;
    }
    char t[NODE_TIME_MAX], sb[IDENT_LABEL_MAX];
    node_fmt_time(m, t);
    const char *txt = field_str(m, F_TEXT);
    /* "?" marks a sender who is neither this node nor trusted */
    term_printf(stdout, "[%s] <%s%s> %s\n", t, ident_doubtful(node_sender_trust(m, names)) ? "?" : "",
                node_sender(m, names, sb), txt ? txt : "");
}

/* This node's unacknowledged messages (outbox), after the room's log. */
static void print_pending(const json_t *reply, const json_t *names)
{
    json_t *l = field_get(reply, "pending"), *e;
    size_t i;
    json_array_foreach(l, i, e) {
        const char *st = field_str(e, "state");
        const char *why = field_str(e, "reason");
        if (st && !strcmp(st, "sent"))
            continue;
        term_printf(stdout, "[-----] <me> %s  (%s%s%s)\n", field_str(e, F_TEXT) ? field_str(e, F_TEXT) : "",
               st ? st : "pending", why ? ": " : "", why ? why : "");
    }
}

/* The token that starts "from now on", taken before the messages are read
 * so that nothing falls between the two. */
static int events_now(ctx *c, char since[static 512])
{
    json_t *r;
    int x = cmd_call(c, "GET", "/v1/client/events?since=now&wait=0", NULL, &r);
    if (x)
        return x;
    char nb[64];
    json_t *next = field_get(r, F_NEXT);
    snprintf(since, 512, "%s", next ? scalar(next, nb, sizeof nb) : "");
    json_decref(r);
    return EXIT_OK;
}

/* Print the messages of room rid after *last, oldest first, page by page;
 * *last advances. */
static nt_err print_after(ctx *c, const char *rid, long long *last, const json_t *names)
{
    char path[PATH_MAX_LEN];
    for (;;) {
        json_t *r;
        snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?after=%lld&limit=%d", rid, *last, PAGE_MAX);
        nt_err rc = api_call(c->a, "GET", path, NULL, 0, &r, &c->err);
        if (rc != NT_OK)
            return rc;
        json_t *l = field_list(r, F_MESSAGES), *m;
        size_t i, n = json_array_size(l);
        long long before = *last;
        json_array_foreach(l, i, m) {
            long long seq = field_int(m, F_SEQ, -1);
            if (seq <= *last)
                continue;
            print_msg(m, names, c->o->json);
            *last = seq;
        }
        json_decref(r);
        if (n < PAGE_MAX || *last == before) /* the end, or no progress */
            return NT_OK;
    }
}

static void nap_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && ts.tv_nsec + ts.tv_sec > 0)
        ;
}

/* The node is away, or busy (503: over its connection limit, or
 * shutting down): worth waiting for. */
static bool transient(nt_err rc) { return rc == NT_ERR_NET || rc == NT_ERR_TIMEOUT || rc == NT_ERR_BUSY; }

/* The node went away while we followed a room: wait for it to come back
 * (on any port: natterd.json is read again each time), then print what
 * was sent meanwhile and go on. Only a node that answers with an error (a
 * changed token, say) ends the wait; Ctrl-C ends the command. */
static int reconnect(ctx *c, const char *rid, long long *last, char since[static 512], const json_t *names)
{
    term_printf(stderr, "natter: lost the node at %s; waiting for it to come back (Ctrl-C to stop)\n", c->loc.url);
    for (long wait = RECONNECT_MIN_MS;; wait = wait * 2 < RECONNECT_MAX_MS ? wait * 2 : RECONNECT_MAX_MS) {
        nap_ms(wait);
        locate loc;
        char lerr[LOCATE_ERR_MAX];
        api *a = NULL;
        if (locate_node(&loc, c->o->url, c->o->token, c->o->data_dir, 1, NULL, lerr) != NT_OK) {
            locate_clear(&loc);
            continue; /* no natterd.json yet */
        }
        if (locate_api(&loc, &a) != NT_OK) {
            locate_clear(&loc);
            continue;
        }
        api_free(c->a);
        locate_clear(&c->loc);
        c->a = a;
        c->loc = loc;
        locate_clear(&loc);
        json_t *r;
        memset(&c->err, 0, sizeof c->err);
        nt_err rc = api_call(c->a, "GET", "/v1/client/events?since=now&wait=0", NULL, 0, &r, &c->err);
        if (transient(rc))
            continue;
        if (rc != NT_OK)
            return cmd_fail(c, rc);
        char nb[64];
        json_t *next = field_get(r, F_NEXT);
        snprintf(since, 512, "%s", next ? scalar(next, nb, sizeof nb) : "");
        json_decref(r);
        if (transient(rc = print_after(c, rid, last, names)))
            continue;
        if (rc != NT_OK)
            return cmd_fail(c, rc);
        term_printf(stderr, "natter: back on %s\n", c->loc.url);
        return EXIT_OK;
    }
}

/* A peer_renamed event while following: later lines name the peer anew. */
static void renamed(const ctx *c, json_t *names, const json_t *ev)
{
    char ob[IDENT_LABEL_MAX], nb[IDENT_LABEL_MAX];
    const char *old = ident_old_label(ev, ob), *now = ident_new_label(ev, nb);
    if (c->o->json)
        return;
    term_printf(stdout, "-!- %s is now known as %s\n", old ? old : "?", now ? now : "?");
    ident_renamed(names, ev);
}

/* Print new messages of room rid from the events long-poll until the
 * process is interrupted, waiting out the node's restarts. */
static int follow(ctx *c, const char *rid, long long last, char since[static 512], json_t *names)
{
    char path[PATH_MAX_LEN];
    for (;;) {
        json_t *r;
        snprintf(path, sizeof path, "/v1/client/events?wait=%d%s%s", EVENTS_WAIT_S,
                 since[0] ? "&since=" : "", since);
        nt_err rc = api_call(c->a, "GET", path, NULL, EVENTS_TIMEOUT_MS, &r, &c->err);
        if (transient(rc)) {
            int x = reconnect(c, rid, &last, since, names);
            if (x)
                return x;
            continue;
        }
        if (rc != NT_OK)
            return cmd_fail(c, rc);
        json_t *evs = field_list(r, F_EVENTS), *e;
        size_t i;
        json_array_foreach(evs, i, e) {
            json_t *m = field_get(e, "message");
            const char *room = field_str(e, "room");
            const char *type = field_str(e, F_TYPE);
            long long seq = field_int(m, F_SEQ, -1);
            if (type && !strcmp(type, "peer_renamed"))
                renamed(c, names, e);
            if (!json_is_object(m) || !room || strcmp(room, rid) || (type && strcmp(type, "message")) ||
                seq <= last)
                continue;
            print_msg(m, names, c->o->json);
            last = seq;
        }
        json_t *next = field_get(r, F_NEXT);
        char nb[64];
        if (next)
            snprintf(since, 512, "%s", scalar(next, nb, sizeof nb));
        json_decref(r);
    }
}

/* The last want messages of room rid into *out (a messages answer), in
 * pages of at most TAIL_PAGE going back with before=, until want or the
 * room's first message. */
static int tail_fetch(ctx *c, const char *rid, long want, json_t **out)
{
    char path[PATH_MAX_LEN];
    json_t *r = NULL, *page = NULL;
    long ask = want < TAIL_PAGE ? want : TAIL_PAGE;
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?limit=%ld", rid, ask);
    int x = cmd_call(c, "GET", path, NULL, &r);
    json_t *all = x ? NULL : field_list(r, F_MESSAGES);
    long got = (long)json_array_size(all);
    /* a full page may have more before it; each round adds a page */
    for (int round = 0; !x && all && got == ask && (long)json_array_size(all) < want &&
                        round <= want / TAIL_PAGE; round++) {
        long have = (long)json_array_size(all);
        long long low = field_int(json_array_get(all, 0), F_SEQ, -1);
        if (low <= 1)
            break; /* nothing before the first message */
        ask = want - have < TAIL_PAGE ? want - have : TAIL_PAGE;
        snprintf(path, sizeof path, "/v1/client/rooms/%s/messages?before=%lld&limit=%ld", rid, low, ask);
        if ((x = cmd_call(c, "GET", path, NULL, &page)))
            break;
        json_t *older = field_list(page, F_MESSAGES);
        got = (long)json_array_size(older);
        if (got > 0 && (json_array_extend(older, all) || json_object_set(r, "messages", older)))
            got = 0; /* out of memory: show what we have */
        all = field_list(r, F_MESSAGES);
        json_decref(page);
        page = NULL;
    }
    if (x)
        json_decref(r);
    *out = x ? NULL : r;
    return x;
}

static int c_tail(ctx *c)
{
    json_t *room, *r = NULL, *names = NULL;
    char rid[NODE_ID_MAX], self[NODE_ID_MAX], since[512] = "";
    int x = cmd_find(c, NODE_ROOM, c->o->args[0], &room, rid);
    if (x)
        return x;
    json_decref(room);
    if (c->o->follow) {
        setvbuf(stdout, NULL, _IOLBF, 0); /* each message as it comes, also into a pipe */
        if ((x = events_now(c, since)))
            return x;
    }
    if (!c->o->json && node_names(c->a, &names, self, &c->err) != NT_OK)
        names = NULL; /* ids instead of names */
    if ((x = tail_fetch(c, rid, c->o->limit ? c->o->limit : TAIL_DEFAULT, &r)))
        goto out;
    json_t *l = field_list(r, F_MESSAGES), *m;
    size_t i;
    long long last = field_int(r, "head", -1);
    if (c->o->json && !c->o->follow)
        cmd_print_json(r);
    json_array_foreach(l, i, m) {
        if (!c->o->json || c->o->follow)
            print_msg(m, names, c->o->json);
        if (field_int(m, F_SEQ, -1) > last)
            last = field_int(m, F_SEQ, -1);
    }
    if (!c->o->json)
        print_pending(r, names);
    x = c->o->follow ? follow(c, rid, last, since, names) : EXIT_OK;
out:
    json_decref(r);
    json_decref(names);
    return x;
}

static int c_rekey(ctx *c)
{
    json_t *room, *r;
    char rid[NODE_ID_MAX], path[PATH_MAX_LEN], msg[300];
    int x = cmd_find(c, NODE_ROOM, c->o->args[0], &room, rid);
    if (x)
        return x;
    json_decref(room);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/rekey", rid);
    if ((x = cmd_call(c, "POST", path, NULL, &r)))
        return x;
    long long epoch = field_int(r, "epoch", -1);
    if (epoch >= 0)
        snprintf(msg, sizeof msg, "new key for %s (epoch %lld)", c->o->args[0], epoch);
    else
        snprintf(msg, sizeof msg, "new key for %s", c->o->args[0]);
    return cmd_answer(c, r, msg);
}

static int c_token(ctx *c)
{
    if (c->o->json) {
        json_t *j = json_pack("{s:s, s:s, s:s}", "token", c->loc.token, "url", c->loc.url,
                              "source", c->loc.token_src);
        cmd_print_json(j);
        json_decref(j);
    } else {
        term_printf(stdout, "%s\n", c->loc.token);
    }
    return EXIT_OK;
}

typedef int cmd_fn(ctx *c);

static const struct {
    const char *name;
    cmd_fn *fn;
} table[] = {
    {"status", c_status}, {"peers", c_peers},   {"add", c_add},       {"connect", c_connect},
    {"trust", c_trust},   {"rooms", c_rooms},   {"create", c_create}, {"invite", c_invite},
    {"join", cmdconv_join}, {"send", c_send},   {"tail", c_tail},     {"rekey", c_rekey},
    {"token", c_token},   {"leave", cmdconv_leave}, {"kick", cmdconv_kick},
    {"members", cmdconv_members}, {"topic", cmdconv_topic}, {"name", cmdconv_name},
    {"untrust", cmdconv_untrust}, {"whois", cmdconv_whois}, {"msg", cmdconv_msg},
};

int cmd_run(const opts *o)
{
    ctx c = {.o = o};
    char lerr[LOCATE_ERR_MAX];
    int x = EXIT_USAGE;
    nt_err rc = locate_node(&c.loc, o->url, o->token, o->data_dir, 1, NULL, lerr);
    if (rc != NT_OK) {
        term_printf(stderr, "natter: %s\n", lerr);
        x = rc == NT_ERR_AUTH ? EXIT_AUTH : EXIT_USAGE;
        goto out;
    }
    if ((rc = locate_api(&c.loc, &c.a)) != NT_OK) {
        term_printf(stderr, "natter: cannot set up a client for %s: %s\n", c.loc.url, err_str(rc));
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, o->cmd->name) == 0)
            x = table[i].fn(&c);
out:
    api_free(c.a);
    locate_clear(&c.loc);
    fflush(stdout);
    return x;
}
