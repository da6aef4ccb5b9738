/* cmdconv.c - the one-shot commands about rooms and peers beyond the
 * basics: join (with its search and refusals), leave, kick, members,
 * topic, name, untrust, whois and msg (see cmdctx.h, natter(1)). */
#include "client/cmdctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "client/dm.h"
#include "client/field.h"
#include "client/ident.h"
#include "client/resolve.h"
#include "client/term.h"

#define ROOM_ID_HEX 32
#define JOIN_SEARCH_PEERS 32 /* online peers asked for their rooms, at most */
#define JOIN_CANDIDATES_MAX 8
#define CAND_LINE_MAX 160

/* A room of an online peer that a join query fits. */
typedef struct cand {
    char rid[NODE_ID_MAX], hid[NODE_ID_MAX];
    char line[CAND_LINE_MAX]; /* "name @ host label" */
    bool exact;
} cand;

typedef struct cands {
    cand c[JOIN_CANDIDATES_MAX];
    size_t n, more; /* more: fits beyond the cap */
} cands;

/* How q names room: 2 exactly (its id or name, in any case), 1 as a
 * prefix of either, 0 not at all. */
static int fits(const json_t *room, const char *q)
{
    const char *id = field_str(room, F_ID), *name = field_str(room, F_NAME);
    size_t n = strlen(q);
    if ((id && !strcmp(id, q)) || (name && !strcasecmp(name, q)))
        return 2;
    return (id && !strncmp(id, q, n)) || (name && !strncasecmp(name, q, n));
}

static void cand_add(cands *cs, const json_t *room, const json_t *peer, const json_t *peers, int fit)
{
    const char *id = field_str(room, F_ID), *name = field_str(room, F_NAME);
    if (!id)
        return;
    if (cs->n == JOIN_CANDIDATES_MAX) {
        cs->more++;
        return;
    }
    cand *x = &cs->c[cs->n++];
    char lb[IDENT_LABEL_MAX];
    const char *host = field_str(room, "host");
    snprintf(x->rid, sizeof x->rid, "%s", id);
    snprintf(x->hid, sizeof x->hid, "%s", host ? host : field_str(peer, F_ID));
    snprintf(x->line, sizeof x->line, "%s @ %s", name ? name : id, ident_peer_label(peer, peers, lb));
    x->exact = fit == 2;
}

/* Every room of an online peer (the first JOIN_SEARCH_PEERS) that q fits. */
static nt_err search_peers(ctx *c, const char *q, cands *cs)
{
    json_t *peers, *p;
    size_t i, asked = 0;
    nt_err rc = node_list(c->a, "/v1/client/peers", F_PEERS, &peers, &c->err);
    if (rc != NT_OK)
        return rc;
    json_array_foreach(peers, i, p) {
        char path[CMD_PATH_MAX];
        const char *pid = field_str(p, F_ID);
        json_t *l, *r;
        api_error e;
        size_t j;
        if (!pid || !field_bool(p, "online", false) || asked++ >= JOIN_SEARCH_PEERS)
            continue;
        snprintf(path, sizeof path, "/v1/client/peers/%s/rooms", pid);
        if (node_list(c->a, path, F_ROOMS, &l, &e) != NT_OK)
            continue; /* away just now: its rooms are not candidates */
        json_array_foreach(l, j, r) {
            int fit = fits(r, q);
            if (fit)
                cand_add(cs, r, p, peers, fit);
        }
        json_decref(l);
    }
    json_decref(peers);
    return NT_OK;
}

/* Exact fits hide prefix fits; then exactly one must be left. */
static int pick(ctx *c, const char *q, cands *cs, char rid[static NODE_ID_MAX], char hid[static NODE_ID_MAX])
{
    size_t exact = 0, k = 0;
    for (size_t i = 0; i < cs->n; i++)
        exact += cs->c[i].exact;
    for (size_t i = 0; i < cs->n; i++)
        if (!exact || cs->c[i].exact)
            cs->c[k++] = cs->c[i];
    cs->n = k;
    if (exact)
        cs->more = 0;
    if (cs->n == 1 && !cs->more) {
        snprintf(rid, NODE_ID_MAX, "%s", cs->c[0].rid);
        snprintf(hid, NODE_ID_MAX, "%s", cs->c[0].hid);
        return EXIT_OK;
    }
    if (cs->n == 0) {
        term_printf(stderr, "natter: no room called \"%s\" among my rooms or my online peers' open rooms "
                    "(not invited? name its host: --host PEER)\n", q);
        return EXIT_NOTFOUND;
    }
    term_printf(stderr, "natter: room \"%s\" fits %zu%s rooms; name its host with --host PEER:\n", q,
                cs->n + cs->more, cs->more ? " or more" : "");
    for (size_t i = 0; i < cs->n; i++)
        term_printf(stderr, "  %s\n", cs->c[i].line);
    return EXIT_NOTFOUND;
}

/* ROOM among the rooms of --host (hid set): its id into rid. An
 * invite-only room is not listed: its id, from its host, will do. */
static int host_room(ctx *c, const char *q, const char *hid, char rid[static NODE_ID_MAX])
{
    char path[CMD_PATH_MAX], msg[RESOLVE_ERR_MAX];
    json_t *list;
    size_t i;
    snprintf(path, sizeof path, "/v1/client/peers/%s/rooms", hid);
    nt_err rc = node_list(c->a, path, F_ROOMS, &list, &c->err);
    if (rc != NT_OK)
        return cmd_fail(c, rc);
    rc = resolve_find(list, q, "room", &i, msg);
    if (rc == NT_OK)
        snprintf(rid, NODE_ID_MAX, "%s", field_str(json_array_get(list, i), F_ID) ?
                 field_str(json_array_get(list, i), F_ID) : "");
    else if (strlen(q) == ROOM_ID_HEX && strspn(q, "0123456789abcdef") == ROOM_ID_HEX)
        rc = NT_OK, snprintf(rid, NODE_ID_MAX, "%s", q);
    json_decref(list);
    if (rc != NT_OK) {
        term_printf(stderr, "natter: %s at %s\n", msg, c->o->host);
        return EXIT_NOTFOUND;
    }
    return EXIT_OK;
}

/* The room to join: among my rooms (invitations, and rooms I left: *mine
 * gets it, a new reference), else among the rooms of --host, else among
 * the open rooms of every online peer. Sets rid and hid (the host id). */
static int join_target(ctx *c, char rid[static NODE_ID_MAX], char hid[static NODE_ID_MAX], json_t **mine)
{
    json_t *peer;
    const char *q = c->o->args[0];
    hid[0] = rid[0] = '\0';
    if (node_find(c->a, NODE_ROOM, q, mine, rid, &c->err) == NT_OK) {
        const char *h = field_str(*mine, F_HOST);
        snprintf(hid, NODE_ID_MAX, "%s", h ? h : "");
        if (!c->o->host)
            return EXIT_OK;
    } else if (!strcmp(c->err.code, "ambiguous")) {
        term_printf(stderr, "natter: %s\n", c->err.message);
        return EXIT_NOTFOUND;
    }
    if (!c->o->host) {
        cands cs = {.n = 0};
        nt_err rc = search_peers(c, q, &cs);
        return rc != NT_OK ? cmd_fail(c, rc) : pick(c, q, &cs, rid, hid);
    }
    int x = cmd_find(c, NODE_PEER, c->o->host, &peer, hid);
    if (x)
        return x;
    json_decref(peer);
    return rid[0] ? EXIT_OK : host_room(c, q, hid, rid);
}

/* The host's refusal of a join, as the user can act on it. */
static int join_refused(ctx *c, nt_err rc, const json_t *mine, const char *hid)
{
    const char *q = c->o->args[0], *code = c->err.code, *st = field_str(mine, "state");
    char lb[IDENT_LABEL_MAX], self[NODE_ID_MAX];
    json_t *names = NULL;
    api_error e;
    if (node_names(c->a, &names, self, &e) != NT_OK)
        names = NULL;
    const char *host = node_name_of(hid, names, lb);
    int x = EXIT_NODE;
    if (!strcmp(code, "password_required"))
        term_printf(stderr, "natter: %s needs a password: natter join %s --password PW\n", q, q);
    else if (!strcmp(code, "wrong_password"))
        term_printf(stderr, "natter: wrong password for %s (ask %s for it)\n", q, host);
    else if (st && (!strcmp(st, "left") || !strcmp(st, "kicked")) &&
             (!strcmp(code, "not_found") || !strcmp(code, "forbidden")))
        term_printf(stderr, "natter: you %s %s; ask %s for a new invite\n",
                    !strcmp(st, "left") ? "left" : "were kicked from", q, host);
    else
        x = cmd_fail(c, rc);
    json_decref(names);
    return x;
}

int cmdconv_join(ctx *c)
{
    char rid[NODE_ID_MAX], hid[NODE_ID_MAX], path[CMD_PATH_MAX], msg[512];
    json_t *mine = NULL, *r = NULL, *b = NULL;
    int x = join_target(c, rid, hid, &mine);
    if (x)
        goto out;
    b = json_object();
    if (b && hid[0])
        json_object_set_new(b, "host", json_string(hid));
    if (b && c->o->password)
        json_object_set_new(b, "password", json_string(c->o->password));
    snprintf(path, sizeof path, "/v1/client/rooms/%s/join", rid);
    nt_err rc = api_call(c->a, "POST", path, b, 0, &r, &c->err);
    if (rc != NT_OK) {
        x = join_refused(c, rc, mine, hid);
        goto out;
    }
    snprintf(msg, sizeof msg, "joined %s", c->o->args[0]);
    x = cmd_answer(c, r, msg);
    r = NULL;
out:
    json_decref(b);
    json_decref(r);
    json_decref(mine);
    return x;
}

/* ROOM of the first argument: its id into rid (the object is dropped). */
static int room_arg(ctx *c, char rid[static NODE_ID_MAX])
{
    json_t *room;
    int x = cmd_find(c, NODE_ROOM, c->o->args[0], &room, rid);
    json_decref(room);
    return x;
}

int cmdconv_leave(ctx *c)
{
    char rid[NODE_ID_MAX], path[CMD_PATH_MAX], msg[300];
    json_t *r;
    int x = room_arg(c, rid);
    if (x)
        return x;
    snprintf(path, sizeof path, "/v1/client/rooms/%s/leave", rid);
    snprintf(msg, sizeof msg, "left %s", c->o->args[0]);
    x = cmd_call(c, "POST", path, NULL, &r);
    return x ? x : cmd_answer(c, r, msg);
}

int cmdconv_kick(ctx *c)
{
    char rid[NODE_ID_MAX], pid[NODE_ID_MAX], path[CMD_PATH_MAX], lb[IDENT_LABEL_MAX];
    json_t *peer, *r;
    int x = room_arg(c, rid);
    if (x || (x = cmd_find(c, NODE_PEER, c->o->args[1], &peer, pid)))
        return x;
    ident_peer_label(peer, NULL, lb);
    json_decref(peer);
    snprintf(path, sizeof path, "/v1/client/rooms/%s/kick", rid);
    if ((x = cmd_call(c, "POST", path, json_pack("{s:s}", "peer", pid), &r)))
        return x;
    if (c->o->json)
        return cmd_answer(c, r, NULL);
    term_printf(stdout, "kicked %s from %s; the room key is now epoch %lld\n", lb, c->o->args[0],
                field_int(r, "epoch", -1));
    json_decref(r);
    return EXIT_OK;
}

int cmdconv_members(ctx *c)
{
    char rid[NODE_ID_MAX], path[CMD_PATH_MAX], self[NODE_ID_MAX];
    json_t *r, *names = NULL, *m;
    size_t i;
    int x = room_arg(c, rid);
    if (x)
        return x;
    snprintf(path, sizeof path, "/v1/client/rooms/%s/members", rid);
    if ((x = cmd_call(c, "GET", path, NULL, &r)) || c->o->json)
        return x ? x : cmd_answer(c, r, NULL);
    if (node_names(c->a, &names, self, &c->err) != NT_OK)
        names = NULL; /* the node's own labels */
    json_t *l = field_list(r, F_MEMBERS);
    term_printf(stdout, "%-20s %-12s %-9s %-7s %s\n", "MEMBER", "ID", "TRUST", "ROLE", "STATE");
    json_array_foreach(l, i, m) {
        char lb[IDENT_LABEL_MAX], s[13], who[IDENT_LABEL_MAX + 1];
        const char *id = field_str(m, "peer"), *role = field_str(m, "role"), *st = field_str(m, "state");
        const char *trust = ident_trust_of(names, id, field_str(m, "trust"));
        snprintf(who, sizeof who, "%s%s", ident_doubtful(trust) ? "?" : "",
                 ident_label_of(names, id, field_str(m, "name"), field_str(m, "label"), lb));
        term_printf(stdout, "%-20s %-12s %-9s %-7s %s\n", who, node_short(id, s), trust, role ? role : "-",
                    st ? st : "-");
    }
    json_decref(names);
    json_decref(r);
    return EXIT_OK;
}

/* topic ROOM TEXT: the host's user changes it (PATCH); the members'
 * nodes are told by the host. */
static int set_topic(ctx *c)
{
    char rid[NODE_ID_MAX], path[CMD_PATH_MAX], msg[300];
    json_t *r;
    int x = room_arg(c, rid);
    if (x)
        return x;
    snprintf(path, sizeof path, "/v1/client/rooms/%s", rid);
    if ((x = cmd_call(c, "PATCH", path, json_pack("{s:s}", "topic", c->o->args[1]), &r)))
        return x;
    snprintf(msg, sizeof msg, c->o->args[1][0] ? "topic of %s set" : "topic of %s cleared", c->o->args[0]);
    return cmd_answer(c, r, msg);
}

int cmdconv_topic(ctx *c)
{
    char rid[NODE_ID_MAX];
    json_t *room;
    if (c->o->nargs > 1)
        return set_topic(c);
    int x = cmd_find(c, NODE_ROOM, c->o->args[0], &room, rid);
    if (x)
        return x;
    const char *t = field_str(room, "topic"), *name = field_str(room, F_NAME);
    if (c->o->json) {
        json_t *j = json_pack("{s:s, s:s, s:s}", "id", rid, "name", name ? name : "", "topic", t ? t : "");
        cmd_print_json(j);
        json_decref(j);
    } else if (t && t[0]) {
        term_printf(stdout, "%s\n", t);
    } else {
        term_printf(stdout, "%s has no topic\n", c->o->args[0]);
    }
    json_decref(room);
    return EXIT_OK;
}

int cmdconv_name(ctx *c)
{
    char msg[TEXT_NAME_MAX * 4 + 64];
    json_t *r;
    int x = cmd_call(c, "PUT", "/v1/client/name", json_pack("{s:s}", "name", c->o->args[0]), &r);
    if (x)
        return x;
    const char *n = field_str(r, "name");
    snprintf(msg, sizeof msg, "this node is now called %s", n ? n : c->o->args[0]);
    return cmd_answer(c, r, msg);
}

int cmdconv_untrust(ctx *c)
{
    char id[NODE_ID_MAX], path[CMD_PATH_MAX], msg[IDENT_LABEL_MAX + 64], lb[IDENT_LABEL_MAX];
    json_t *p, *r;
    int x = cmd_find(c, NODE_PEER, c->o->args[0], &p, id);
    if (x)
        return x;
    json_decref(p);
    snprintf(path, sizeof path, "/v1/client/peers/%s/trust", id);
    if ((x = cmd_call(c, "POST", path, json_pack("{s:b}", "trusted", 0), &r)))
        return x;
    /* the node's new label: with the trust gone it names the id */
    snprintf(msg, sizeof msg, "no longer trusted: %s", ident_peer_label(r, NULL, lb));
    return cmd_answer(c, r, msg);
}

static void whois_line(const char *key, const char *val)
{
    term_printf(stdout, "%-12s %s\n", key, val && val[0] ? val : "-");
}

/* A client API time (ms since the Unix epoch) as local date and time, or
 * NULL for none. */
static const char *fmt_ms(long long ms, char out[static 32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (t <= 0 || !localtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm))
        return NULL;
    return out;
}

int cmdconv_whois(ctx *c)
{
    char id[NODE_ID_MAX], path[CMD_PATH_MAX], lb[IDENT_LABEL_MAX], t[32];
    json_t *p, *r;
    int x = cmd_find(c, NODE_PEER, c->o->args[0], &p, id);
    if (x)
        return x;
    json_decref(p);
    snprintf(path, sizeof path, "/v1/client/peers/%s", id);
    if ((x = cmd_call(c, "GET", path, NULL, &r)) || c->o->json)
        return x ? x : cmd_answer(c, r, NULL);
    term_printf(stdout, "%s%s (%s)\n", ident_doubtful(ident_trust(r)) ? "?" : "", ident_peer_label(r, NULL, lb),
                ident_trust(r));
    whois_line("id", field_str(r, F_ID));
    whois_line("name", field_str(r, F_NAME));
    whois_line("fingerprint", field_str(r, "fingerprint"));
    whois_line("address", field_str(r, "address"));
    whois_line("online", field_bool(r, "online", false) ? "yes" : "no");
    whois_line("session", field_str(r, "session.state"));
    whois_line("last seen", fmt_ms(field_int(r, "last_seen", 0), t));
    if (field_bool(r, "name_collision", false))
        whois_line("note", "another known peer or this node has a name alike");
    json_decref(r);
    return EXIT_OK;
}

int cmdconv_msg(ctx *c)
{
    char pid[NODE_ID_MAX], rid[NODE_ID_MAX], lb[IDENT_LABEL_MAX], prefix[IDENT_LABEL_MAX + 32];
    json_t *peer = NULL, *r = NULL;
    bool created;
    char *text = cmd_text(c, 1);
    if (!text)
        return EXIT_USAGE;
    int x = cmd_find(c, NODE_PEER, c->o->args[0], &peer, pid);
    if (x)
        goto out;
    nt_err rc = dm_open(c->a, peer, rid, &created, &c->err);
    if (rc == NT_OK)
        rc = node_send(c->a, rid, text, &r, &c->err);
    if (rc != NT_OK) {
        x = cmd_fail(c, rc);
        goto out;
    }
    snprintf(prefix, sizeof prefix, "to %s: ", ident_peer_label(peer, NULL, lb));
    cmd_print_sent(c, r, prefix);
    if (created && !c->o->json)
        term_printf(stdout, "new conversation with %s: they read what is sent once they take the "
                    "invitation\n", lb);
out:
    json_decref(r);
    json_decref(peer);
    free(text);
    return x;
}
