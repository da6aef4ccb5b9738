/* slash.c - /commands that ask the node (see slash.h). */
#include "client/slash.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "client/field.h"
#include "client/dm.h"
#include "client/ident.h"
#include "client/resolve.h"

#define LINE_MAX_LEN 512
#define PATH_LEN (NODE_ID_MAX * 2 + 64)
#define JOIN_SEARCH_PEERS 32

const char *const slash_help[] = {
    "/peers                 known and discovered peers (fingerprint, trust)",
    "/add HOST:PORT         add a peer by address",
    "/connect PEER          open a session with a peer now",
    "/trust PEER            mark a peer trusted (compare fingerprints first)",
    "/whois PEER            one peer in detail",
    "/rooms                 my rooms, and open rooms of online peers",
    "/create NAME [open|invite|password] [PASSWORD]   create a room here",
    "/join ROOM [PEER] [PASSWORD]   join an invitation or a peer's room",
    "/invite PEER           invite a peer to this room (host only)",
    "/kick PEER             remove a member from this room (host only)",
    "/leave                 leave this room",
    "/rekey                 new key for this room (host only)",
    "/members               who is in this room",
    "/msg PEER TEXT         direct message: a room with just PEER and you",
    NULL,
};

typedef struct sctx {
    api *a;
    const char *room;      /* current room id or "" */
    json_t *out;           /* result object */
    json_t *lines;         /* borrowed from out */
    json_t *names;         /* id -> name */
    api_error *err;
} sctx;

static void say(sctx *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(sctx *s, const char *fmt, ...)
{
    char buf[LINE_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(s->lines, json_string(buf));
}

static nt_err fail(sctx *s, nt_err rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static nt_err fail(sctx *s, nt_err rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err->message, sizeof s->err->message, fmt, ap);
    va_end(ap);
    return rc;
}

int slash_split(char *buf, char *words[static SLASH_ARGS_MAX])
{
    int n = 0;
    char *p = buf;
    while (*p && n < SLASH_ARGS_MAX) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        words[n++] = p;
        if (n == SLASH_ARGS_MAX)
            break; /* the last word keeps the rest */
        while (*p && *p != ' ')
            p++;
        if (*p)
            *p++ = '\0';
    }
    if (n == SLASH_ARGS_MAX) {
        size_t l = strlen(words[n - 1]);
        while (l > 0 && words[n - 1][l - 1] == ' ')
            words[n - 1][--l] = '\0';
    }
    return n;
}

static const char *name_of(sctx *s, const char *id, char buf[static IDENT_LABEL_MAX])
{
    return node_name_of(id, s->names, buf);
}

static nt_err need_room(sctx *s)
{
    if (!s->room[0])
        return fail(s, NT_ERR_INVALID, "no room here: /switch to a room first (or /rooms)");
    return NT_OK;
}

static nt_err post(sctx *s, const char *path, json_t *body, json_t **reply)
{
    nt_err rc = api_call(s->a, "POST", path, body, 0, reply, s->err);
    json_decref(body);
    return rc;
}

/* "3 min ago" (or "in 2 h") for a time in ms since the Unix epoch (every
 * client API time). */
static const char *ago(long long t_ms, time_t now, char buf[static 32])
{
    long long t = t_ms / 1000;
    long long d = (long long)now - t, m = d < 0 ? -d : d;
    const char *in = d < 0 ? "in " : "", *back = d < 0 ? "" : " ago";
    if (t <= 0)
        snprintf(buf, 32, "never");
    else if (m < 10)
        snprintf(buf, 32, "just now");
    else if (m < 60)
        snprintf(buf, 32, "%s%lld s%s", in, m, back);
    else if (m < 3600)
        snprintf(buf, 32, "%s%lld min%s", in, m / 60, back);
    else if (m < 86400)
        snprintf(buf, 32, "%s%lld h%s", in, m / 3600, back);
    else
        snprintf(buf, 32, "%s%lld days%s", in, m / 86400, back);
    return buf;
}

static bool is_time_key(const char *k)
{
    size_t n = strlen(k);
    return !strcmp(k, "last_seen") || !strcmp(k, "first_seen") || !strcmp(k, "last_ok") ||
           (n > 3 && !strcmp(k + n - 3, "_at"));
}

static nt_err c_peers(sctx *s, int argc, char **argv)
{
    json_t *l, *p;
    size_t i;
    nt_err rc = node_list(s->a, "/v1/client/peers", F_PEERS, &l, s->err);
    if (rc != NT_OK)
        return rc;
    if (json_array_size(l) == 0)
        say(s, "no peers yet: /add HOST:PORT, or wait for discovery");
    json_array_foreach(l, i, p) {
        char lb[IDENT_LABEL_MAX], when[32];
        const char *fp = field_str(p, "fingerprint");
        say(s, "%-16s %-9s %-7s seen %-12s %s", ident_peer_label(p, l, lb), ident_trust(p),
            field_bool(p, "online", false) ? "online" : "offline",
            ago(field_int(p, "last_seen", 0), time(NULL), when), fp ? fp : "");
    }
    json_decref(l);
    return NT_OK;
}

static nt_err c_add(sctx *s, int argc, char **argv)
{
    json_t *r;
    nt_err rc = post(s, "/v1/client/peers", json_pack("{s:s}", "address", argv[1]), &r);
    if (rc != NT_OK)
        return rc;
    json_t *p = json_is_object(field_get(r, "peer")) ? field_get(r, "peer") : r;
    const char *fp = field_str(p, "fingerprint");
    char lb[IDENT_LABEL_MAX];
    ident_peer_label(p, NULL, lb);
    say(s, "added %s (%.12s, %s), fingerprint %s", lb, field_str(p, F_ID) ? field_str(p, F_ID) : "?",
        ident_trust(p), fp ? fp : "-");
    say(s, "compare the fingerprint with its owner, then /trust %s", lb);
    json_object_set_new(s->out, "refresh", json_true());
    json_decref(r);
    return NT_OK;
}

static nt_err find(sctx *s, node_kind k, const char *q, char id[static NODE_ID_MAX])
{
    json_t *o;
    nt_err rc = node_find(s->a, k, q, &o, id, s->err);
    json_decref(o);
    return rc;
}

static nt_err peer_post(sctx *s, const char *q, const char *action, const char *done)
{
    char id[NODE_ID_MAX], path[PATH_LEN], nb[IDENT_LABEL_MAX];
    json_t *r;
    nt_err rc = find(s, NODE_PEER, q, id);
    if (rc != NT_OK)
        return rc;
    snprintf(path, sizeof path, "/v1/client/peers/%s/%s", id, action);
    if ((rc = post(s, path, NULL, &r)) != NT_OK)
        return rc;
    say(s, "%s %s", done, name_of(s, id, nb));
    json_object_set_new(s->out, "refresh", json_true());
    json_decref(r);
    return NT_OK;
}

static nt_err c_connect(sctx *s, int argc, char **argv)
{
    return peer_post(s, argv[1], "connect", "session up with");
}

static nt_err c_trust(sctx *s, int argc, char **argv)
{
    return peer_post(s, argv[1], "trust", "trusted");
}

/* One whois line: times relative (with the date), lists joined; never
 * raw JSON. Nothing for an absent member. */
static void say_field(sctx *s, const char *k, const json_t *v)
{
    char buf[LINE_MAX_LEN], when[32];
    if (json_is_array(v)) {
        size_t i, n = 0;
        json_t *e;
        buf[0] = '\0';
        json_array_foreach(v, i, e)
            if (json_is_string(e) && n + strlen(json_string_value(e)) + 3 < sizeof buf)
                n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", n ? ", " : "", json_string_value(e));
        say(s, "%-14s %s", k, n ? buf : "(none)");
    } else if (json_is_integer(v) && is_time_key(k)) {
        time_t t = (time_t)(json_integer_value(v) / 1000); /* ms since the Unix epoch */
        struct tm tm;
        char abs[32] = "";
        if (t > 0 && localtime_r(&t, &tm))
            strftime(abs, sizeof abs, " (%Y-%m-%d %H:%M)", &tm);
        say(s, "%-14s %s%s", k, ago(json_integer_value(v), time(NULL), when), abs);
    } else if (json_is_string(v)) {
        say(s, "%-14s %s", k, json_string_value(v));
    } else if (json_is_boolean(v)) {
        say(s, "%-14s %s", k, json_is_true(v) ? "true" : "false");
    } else if (json_is_integer(v)) {
        say(s, "%-14s %lld", k, (long long)json_integer_value(v));
    }
}

/* The session in one line: state, mode, last answer, expiry. */
static void say_session(sctx *s, const json_t *ss)
{
    char ok[32], exp[32];
    const char *st = field_str(ss, "state"), *mode = field_str(ss, "mode");
    if (!json_is_object(ss))
        return;
    say(s, "%-14s %s%s%s%s, last answer %s, expires %s", "session", st ? st : "?",
        mode ? " (" : "", mode ? mode : "", mode ? ")" : "",
        ago(field_int(ss, "last_ok", 0), time(NULL), ok),
        field_int(ss, "expires_at", 0) ? ago(field_int(ss, "expires_at", 0), time(NULL), exp) : "-");
}

static nt_err c_whois(sctx *s, int argc, char **argv)
{
    static const char *const keys[] = {"label", "name", "id", "fingerprint", "trusted", "trust",
                                       "online", "last_seen", "first_seen", "addresses", "source",
                                       "delivery", NULL};
    char id[NODE_ID_MAX], path[PATH_LEN];
    json_t *r;
    nt_err rc = find(s, NODE_PEER, argv[1], id);
    if (rc != NT_OK)
        return rc;
    snprintf(path, sizeof path, "/v1/client/peers/%s", id);
    if ((rc = api_call(s->a, "GET", path, NULL, 0, &r, s->err)) != NT_OK)
        return rc;
    json_t *p = json_is_object(field_get(r, "peer")) ? field_get(r, "peer") : r;
    for (size_t i = 0; keys[i]; i++)
        say_field(s, keys[i], json_object_get(p, keys[i]));
    if (json_is_true(json_object_get(p, "name_collision")))
        say(s, "%-14s %s", "note", "another peer or this node has a name alike");
    say_session(s, json_object_get(p, "session"));
    json_decref(r);
    return NT_OK;
}

static void room_line(sctx *s, const json_t *r, const char *where)
{
    char nb[IDENT_LABEL_MAX];
    const char *topic = field_str(r, "topic");
    say(s, "%-20s %-8s %-8s host %-16s %.12s%s%s", field_str(r, F_NAME) ? field_str(r, F_NAME) : "?",
        field_str(r, "access") ? field_str(r, "access") : "-", where,
        name_of(s, field_str(r, "host"), nb), field_str(r, F_ID) ? field_str(r, F_ID) : "?",
        topic && topic[0] ? "  " : "", topic ? topic : "");
}

static nt_err c_rooms(sctx *s, int argc, char **argv)
{
    json_t *l, *r, *peers = NULL;
    size_t i;
    nt_err rc = node_list(s->a, "/v1/client/rooms", F_ROOMS, &l, s->err);
    if (rc != NT_OK)
        return rc;
    if (json_array_size(l) == 0)
        say(s, "no rooms of mine yet: /create NAME, or /join one below");
    json_array_foreach(l, i, r)
        room_line(s, r, field_str(r, "state") ? field_str(r, "state") : "");
    json_decref(l);
    /* open rooms of peers with a session: what /join can take */
    if (node_list(s->a, "/v1/client/peers", F_PEERS, &peers, s->err) != NT_OK)
        return NT_OK;
    json_t *p;
    json_array_foreach(peers, i, p) {
        char path[PATH_LEN];
        const char *pid = field_str(p, F_ID);
        if (i >= JOIN_SEARCH_PEERS || !pid || !field_bool(p, "online", false))
            continue;
        snprintf(path, sizeof path, "/v1/client/peers/%s/rooms", pid);
        json_t *pl;
        api_error e2;
        if (node_list(s->a, path, F_ROOMS, &pl, &e2) != NT_OK)
            continue;
        size_t j;
        json_array_foreach(pl, j, r)
            room_line(s, r, "joinable");
        json_decref(pl);
    }
    json_decref(peers);
    memset(s->err, 0, sizeof *s->err);
    return NT_OK;
}

static nt_err c_create(sctx *s, int argc, char **argv)
{
    const char *access = argc > 2 ? argv[2] : "invite";
    if (strcmp(access, "open") && strcmp(access, "invite") && strcmp(access, "password"))
        return fail(s, NT_ERR_INVALID, "access is open, invite or password, not \"%s\"", access);
    if (!strcmp(access, "password") && argc < 4)
        return fail(s, NT_ERR_INVALID, "usage: /create NAME password PASSWORD");
    json_t *b = json_pack("{s:s, s:s}", "name", argv[1], "access", access), *r;
    if (b && argc > 3)
        json_object_set_new(b, "password", json_string(argv[3]));
    nt_err rc = post(s, "/v1/client/rooms", b, &r);
    if (rc != NT_OK)
        return rc;
    const char *id = field_str(r, F_ID);
    say(s, "created room %s (%s); /invite PEER to add people", argv[1], access);
    if (id)
        json_object_set_new(s->out, "switch", json_string(id));
    json_object_set_new(s->out, "refresh", json_true());
    json_decref(r);
    return NT_OK;
}

/* ROOM among my rooms (an invitation), else among the open rooms of PEER
 * (or of every online peer when no PEER is given). */
static nt_err join_target(sctx *s, const char *q, const char *peer, char rid[static NODE_ID_MAX],
                          char hid[static NODE_ID_MAX])
{
    json_t *obj = NULL, *peers = NULL, *p;
    char msg[RESOLVE_ERR_MAX], pid[NODE_ID_MAX] = "";
    nt_err rc;
    size_t i;
    if (!peer && node_find(s->a, NODE_ROOM, q, &obj, rid, s->err) == NT_OK) {
        snprintf(hid, NODE_ID_MAX, "%s", field_str(obj, "host") ? field_str(obj, "host") : "");
        json_decref(obj);
        return NT_OK;
    }
    if (peer && (rc = find(s, NODE_PEER, peer, pid)) != NT_OK)
        return rc;
    if ((rc = node_list(s->a, "/v1/client/peers", F_PEERS, &peers, s->err)) != NT_OK)
        return rc;
    rc = fail(s, NT_ERR_NOT_FOUND, "no room \"%s\" among my rooms or my peers' open rooms", q);
    json_array_foreach(peers, i, p) {
        const char *id = field_str(p, F_ID);
        if (i >= JOIN_SEARCH_PEERS || !id || (pid[0] && strcmp(pid, id)))
            continue;
        char path[PATH_LEN];
        json_t *l;
        api_error e2;
        snprintf(path, sizeof path, "/v1/client/peers/%s/rooms", id);
        if (node_list(s->a, path, F_ROOMS, &l, &e2) != NT_OK)
            continue;
        size_t k;
        if (resolve_find(l, q, "room", &k, msg) == NT_OK) {
            json_t *r = json_array_get(l, k);
            snprintf(rid, NODE_ID_MAX, "%s", field_str(r, F_ID) ? field_str(r, F_ID) : "");
            snprintf(hid, NODE_ID_MAX, "%s", field_str(r, "host") ? field_str(r, "host") : id);
            rc = NT_OK;
        }
        json_decref(l);
        if (rc == NT_OK)
            break;
    }
    json_decref(peers);
    return rc;
}

static nt_err c_join(sctx *s, int argc, char **argv)
{
    char rid[NODE_ID_MAX], hid[NODE_ID_MAX] = "", path[PATH_LEN];
    const char *peer = argc > 2 ? argv[2] : NULL;
    nt_err rc = join_target(s, argv[1], peer, rid, hid);
    if (rc != NT_OK)
        return rc;
    json_t *b = json_object(), *r;
    if (b && hid[0])
        json_object_set_new(b, "host", json_string(hid));
    if (b && argc > 3)
        json_object_set_new(b, "password", json_string(argv[3]));
    snprintf(path, sizeof path, "/v1/client/rooms/%s/join", rid);
    if ((rc = post(s, path, b, &r)) != NT_OK)
        return rc;
    say(s, "joined %s", field_str(r, F_NAME) ? field_str(r, F_NAME) : argv[1]);
    json_object_set_new(s->out, "switch", json_string(rid));
    json_object_set_new(s->out, "refresh", json_true());
    json_decref(r);
    return NT_OK;
}

/* POST /rooms/{current}/action with {"peer": id} (or no body). */
static nt_err room_post(sctx *s, const char *action, const char *peer_q, json_t **reply,
                        char pid[static NODE_ID_MAX])
{
    char path[PATH_LEN];
    nt_err rc = need_room(s);
    pid[0] = '\0';
    if (rc == NT_OK && peer_q)
        rc = find(s, NODE_PEER, peer_q, pid);
    if (rc != NT_OK)
        return rc;
    snprintf(path, sizeof path, "/v1/client/rooms/%s/%s", s->room, action);
    json_object_set_new(s->out, "refresh", json_true());
    return post(s, path, peer_q ? json_pack("{s:s}", "peer", pid) : NULL, reply);
}

static nt_err c_invite(sctx *s, int argc, char **argv)
{
    json_t *r;
    char pid[NODE_ID_MAX], nb[IDENT_LABEL_MAX];
    nt_err rc = room_post(s, "invite", argv[1], &r, pid);
    if (rc == NT_OK)
        say(s, "invited %s", name_of(s, pid, nb));
    json_decref(r);
    return rc;
}

static nt_err c_kick(sctx *s, int argc, char **argv)
{
    json_t *r;
    char pid[NODE_ID_MAX], nb[IDENT_LABEL_MAX];
    nt_err rc = room_post(s, "kick", argv[1], &r, pid);
    if (rc == NT_OK)
        say(s, "kicked %s; the room key is now epoch %lld", name_of(s, pid, nb),
            field_int(r, "epoch", -1));
    json_decref(r);
    return rc;
}

static nt_err c_leave(sctx *s, int argc, char **argv)
{
    json_t *r;
    char pid[NODE_ID_MAX];
    nt_err rc = room_post(s, "leave", NULL, &r, pid);
    if (rc == NT_OK)
        say(s, "you left %s", field_str(r, F_NAME) ? field_str(r, F_NAME) : "the room");
    json_decref(r);
    return rc;
}

static nt_err c_rekey(sctx *s, int argc, char **argv)
{
    json_t *r;
    char pid[NODE_ID_MAX];
    nt_err rc = room_post(s, "rekey", NULL, &r, pid);
    if (rc == NT_OK)
        say(s, "new room key: epoch %lld", field_int(r, "epoch", -1));
    json_decref(r);
    return rc;
}

static nt_err c_members(sctx *s, int argc, char **argv)
{
    char path[PATH_LEN], nb[IDENT_LABEL_MAX];
    json_t *l, *m;
    size_t i;
    nt_err rc = need_room(s);
    if (rc != NT_OK)
        return rc;
    snprintf(path, sizeof path, "/v1/client/rooms/%s/members", s->room);
    if ((rc = node_list(s->a, path, F_MEMBERS, &l, s->err)) != NT_OK)
        return rc;
    say(s, "%zu member%s:", json_array_size(l), json_array_size(l) == 1 ? "" : "s");
    json_array_foreach(l, i, m) {
        const char *id = field_str(m, "peer");
        const char *trust = ident_trust_of(s->names, id, field_str(m, "trust"));
        say(s, "  %s%-16s %.12s  %-9s %-7s %s", ident_doubtful(trust) ? "?" : " ",
            ident_label_of(s->names, id, field_str(m, "name"), field_str(m, "label"), nb), id ? id : "?",
            trust, field_str(m, "role") ? field_str(m, "role") : "", field_str(m, "state") ? field_str(m, "state") : "");
    }
    json_decref(l);
    return NT_OK;
}

/* A direct message: the conversation with PEER (dm.h), found or made,
 * gets the text, and becomes the current window. */
static nt_err c_msg(sctx *s, int argc, char **argv)
{
    char pid[NODE_ID_MAX], rid[NODE_ID_MAX], lb[IDENT_LABEL_MAX];
    json_t *peer = NULL, *r = NULL;
    bool created;
    if (argc > 3)
        argv[2][strlen(argv[2])] = ' '; /* the split cut the text once: it is all one */
    nt_err rc = node_find(s->a, NODE_PEER, argv[1], &peer, pid, s->err);
    if (rc == NT_OK)
        rc = dm_open(s->a, peer, rid, &created, s->err);
    if (rc == NT_OK)
        rc = node_send(s->a, rid, argv[2], &r, s->err);
    if (rc == NT_OK) {
        ident_peer_label(peer, NULL, lb);
        if (created)
            say(s, "new conversation with %s (an invite-only room of the two of you); "
                   "%s reads what is sent once they take the invitation", lb, lb);
        json_object_set_new(s->out, "switch", json_string(rid));
        json_object_set_new(s->out, "title", json_string(lb));
        json_object_set_new(s->out, "refresh", json_true());
    }
    json_decref(peer);
    json_decref(r);
    return rc;
}

typedef nt_err slash_fn(sctx *s, int argc, char **argv);

static const struct {
    const char *name;
    int min, max; /* words including the command */
    slash_fn *fn;
    const char *usage;
} table[] = {
    {"peers", 1, 1, c_peers, "/peers"},         {"add", 2, 2, c_add, "/add HOST:PORT"},
    {"connect", 2, 2, c_connect, "/connect PEER"}, {"trust", 2, 2, c_trust, "/trust PEER"},
    {"whois", 2, 2, c_whois, "/whois PEER"},    {"rooms", 1, 1, c_rooms, "/rooms"},
    {"create", 2, 4, c_create, "/create NAME [open|invite|password] [PASSWORD]"},
    {"join", 2, 4, c_join, "/join ROOM [PEER] [PASSWORD]"},
    {"invite", 2, 2, c_invite, "/invite PEER"}, {"kick", 2, 2, c_kick, "/kick PEER"},
    {"leave", 1, 1, c_leave, "/leave"},         {"rekey", 1, 1, c_rekey, "/rekey"},
    {"members", 1, 1, c_members, "/members"},   {"msg", 3, 4, c_msg, "/msg PEER TEXT"},
};

nt_err slash_run(api *a, const char *room_id, const char *line, json_t **result, api_error *err)
{
    char buf[LINE_MAX_LEN * 8], self[NODE_ID_MAX];
    char *w[SLASH_ARGS_MAX];
    sctx s = {.a = a, .room = room_id ? room_id : "", .err = err};
    memset(err, 0, sizeof *err);
    *result = NULL;
    snprintf(buf, sizeof buf, "%s", line[0] == '/' ? line + 1 : line);
    int n = slash_split(buf, w);
    if (n == 0)
        return fail(&s, NT_ERR_INVALID, "empty command: /help lists them");
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(table[i].name, w[0]))
            continue;
        if (n < table[i].min || n > table[i].max)
            return fail(&s, NT_ERR_INVALID, "usage: %s", table[i].usage);
        s.out = json_pack("{s:[]}", "lines");
        if (!s.out)
            return NT_ERR_NOMEM;
        s.lines = json_object_get(s.out, "lines");
        if (node_names(a, &s.names, self, err) != NT_OK)
            s.names = json_object();
        nt_err rc = table[i].fn(&s, n, w);
        json_decref(s.names);
        if (rc != NT_OK) {
            json_decref(s.out);
            if (!err->message[0])
                snprintf(err->message, sizeof err->message, "%s", err_str(rc));
            return rc;
        }
        *result = s.out;
        return NT_OK;
    }
    return fail(&s, NT_ERR_INVALID, "unknown command /%s: /help lists them", w[0]);
}
