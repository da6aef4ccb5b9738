/* opts.c - command line parsing and help (see opts.h). */
#include "client/opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const opts_cmd cmds[] = {
    {"status", 0, 0, 0, "status", "show the node: id, name, uptime, listeners, counters",
     "Asks the node for its status. With --json, prints the node's answer as is."},
    {"peers", 0, 0, 0, "peers", "list known and discovered peers",
     "Lists the peers the node knows: name, id prefix, fingerprint, trust and\n"
     "whether a session is up."},
    {"add", 1, 1, 0, "add HOST:PORT", "add a peer by address (fetches and pins its identity)",
     "Adds the node listening at HOST:PORT (its peer API) as a peer. The node\n"
     "fetches the peer's identity and pins its key. Compare the fingerprint out\n"
     "of band, then `natter trust`."},
    {"connect", 1, 1, 0, "connect PEER", "open a session with a peer now (handshake)",
     "Runs the handshake with PEER now. PEER is a name, a unique prefix of a\n"
     "name or id, or an id."},
    {"trust", 1, 1, 0, "trust PEER", "mark a peer trusted after comparing fingerprints",
     "Marks PEER trusted. Do this only after comparing its fingerprint with its\n"
     "owner over another channel."},
    {"rooms", 0, 0, 0, "rooms", "list my rooms (hosted and joined)",
     "Lists the rooms this node hosts or has joined."},
    {"create", 1, 1, OPT_ACCESS | OPT_PASSWORD | OPT_TOPIC,
     "create NAME [--access open|invite|password] [--password PW] [--topic TEXT]",
     "create a room hosted here",
     "Creates a room hosted by this node. Access is invite (default: only\n"
     "invited peers may join), open (any peer with a session) or password\n"
     "(--password, or NATTER_ROOM_PASSWORD). --topic sets the room's topic\n"
     "(at most 1000 bytes); it is fixed from then on."},
    {"invite", 2, 2, 0, "invite ROOM PEER", "invite a peer to a room you host",
     "Invites PEER to ROOM. Only the room's host may invite."},
    {"join", 1, 1, OPT_HOST | OPT_PASSWORD, "join ROOM [--host PEER] [--password PW]",
     "join a room",
     "Joins ROOM. ROOM is one of my rooms (an invitation), else an open or\n"
     "password room of an online peer (each is asked for its rooms), or with\n"
     "--host, a room that PEER hosts. A name that several peers' rooms share\n"
     "is refused with the candidates (ROOM @ host): add --host. A room you\n"
     "left or were kicked from needs a new invitation from its host; a\n"
     "password room says whether the password is missing or wrong."},
    {"leave", 1, 1, 0, "leave ROOM", "leave a room (its host rotates the key)",
     "Leaves ROOM. The host rotates the room key, so later messages are not\n"
     "readable here. The host cannot leave its own room. To come back to an\n"
     "invite-only room you need a new invitation."},
    {"kick", 2, 2, 0, "kick ROOM PEER", "remove a member from a room you host",
     "Removes PEER from ROOM and rotates the room key at once. Only the\n"
     "room's host may kick. Prints the new key epoch."},
    {"members", 1, 1, 0, "members ROOM", "list a room's members",
     "Lists ROOM's joined and invited members: label, id prefix, trust, role\n"
     "(master is the host) and state. A member's node asks the host."},
    {"topic", 1, 2, 0, "topic ROOM [TEXT]", "show or change a room's topic",
     "Prints ROOM's topic; with TEXT (at most 1000 bytes, \"\" clears it) sets\n"
     "it. Only the room's host changes a topic; its members' nodes are told\n"
     "and show the new one."},
    {"name", 1, 1, 0, "name NEWNAME", "rename this node",
     "Renames this node (1-100 bytes of UTF-8). The name is remembered and\n"
     "peers learn it from the next signed handshake or announcement. A\n"
     "natterd --name flag overrides it for that run."},
    {"untrust", 1, 1, 0, "untrust PEER", "take back a peer's trust",
     "Marks PEER not trusted: it is shown with \"?\" and its id again, and a\n"
     "trusted peer of the same name wins PEER arguments."},
    {"whois", 1, 1, 0, "whois PEER", "show one peer in detail",
     "Prints PEER's label, id, name, trust, fingerprint, address, whether it\n"
     "is online and its session."},
    {"msg", 1, 2, 0, "msg PEER [TEXT]", "send a direct message to a peer",
     "Sends TEXT (or standard input) to PEER in a conversation: an\n"
     "invite-only room whose only members are this node and PEER. An existing\n"
     "one (hosted here or by PEER) is reused; else a room named \"@NAME\"\n"
     "(PEER's name) is created here and PEER invited. Prints the room and\n"
     "the message's sequence number or delivery state."},
    {"send", 1, 2, 0, "send ROOM [TEXT]", "send a message (TEXT, or standard input)",
     "Sends TEXT to ROOM. Without TEXT, reads the message from standard input\n"
     "(up to 16 KiB). Prints the message's sequence number or delivery state."},
    {"tail", 1, 1, OPT_FOLLOW | OPT_LIMIT, "tail ROOM [-f] [-n N | --limit N]", "show a room's last messages",
     "Prints ROOM's last N messages (-n N, -nN or --limit=N; 1-10000, default\n"
     "20; more than the node gives in one answer are fetched in pages): time,\n"
     "sender, text and, for messages not yet delivered, their state. With -f,\n"
     "keeps printing new messages as they arrive until interrupted, waiting\n"
     "out restarts of the node. With --json, one JSON object per line."},
    {"rekey", 1, 1, 0, "rekey ROOM", "rotate a room's key (host only)",
     "Asks ROOM's host (this node) to make a new room key and send it to every\n"
     "member."},
    {"token", 0, 0, 0, "token", "print the client API token (for curl)",
     "Prints the token the node expects in `Authorization: Bearer ...`, read\n"
     "from the data dir."},
};

#define NCMDS (sizeof cmds / sizeof cmds[0])

const opts_cmd *opts_find(const char *name)
{
    for (size_t i = 0; i < NCMDS; i++)
        if (strcmp(cmds[i].name, name) == 0)
            return &cmds[i];
    return NULL;
}

typedef struct optdef {
    const char *lng;
    char shrt;
    unsigned flag; /* 0 = global */
    int takes_value;
} optdef;

static const optdef optdefs[] = {
    {"url", 0, 0, 1},     {"token", 0, 0, 1},        {"data-dir", 0, 0, 1},
    {"json", 0, 0, 0},    {"help", 'h', 0, 0},        {"version", 'V', 0, 0},
    {"access", 0, OPT_ACCESS, 1}, {"password", 0, OPT_PASSWORD, 1},
    {"host", 0, OPT_HOST, 1},     {"follow", 'f', OPT_FOLLOW, 0},
    {"limit", 'n', OPT_LIMIT, 1}, {"topic", 0, OPT_TOPIC, 1},
};

static const optdef *find_opt(const char *arg, const char **value)
{
    *value = NULL;
    for (size_t i = 0; i < sizeof optdefs / sizeof optdefs[0]; i++) {
        const optdef *d = &optdefs[i];
        if (arg[1] == '-') {
            size_t n = strlen(d->lng);
            if (strncmp(arg + 2, d->lng, n) == 0 && (arg[2 + n] == '\0' || arg[2 + n] == '=')) {
                if (arg[2 + n] == '=')
                    *value = arg + 3 + n;
                return d;
            }
        } else if (d->shrt && arg[1] == d->shrt && (arg[2] == '\0' || d->takes_value)) {
            if (arg[2] != '\0')
                *value = arg + 2; /* -n20 */
            return d;
        }
    }
    return NULL;
}

static nt_err set_opt(opts *o, const optdef *d, const char *v, char err[static OPTS_ERR_MAX])
{
    const char *n = d->lng;
    if (!strcmp(n, "url")) o->url = v;
    else if (!strcmp(n, "token")) o->token = v;
    else if (!strcmp(n, "data-dir")) o->data_dir = v;
    else if (!strcmp(n, "json")) o->json = true;
    else if (!strcmp(n, "help")) o->help = true;
    else if (!strcmp(n, "version")) o->version = true;
    else if (!strcmp(n, "password")) o->password = v;
    else if (!strcmp(n, "host")) o->host = v;
    else if (!strcmp(n, "follow")) o->follow = true;
    else if (!strcmp(n, "topic")) o->topic = v;
    else if (!strcmp(n, "access")) {
        if (strcmp(v, "open") && strcmp(v, "invite") && strcmp(v, "password")) {
            snprintf(err, OPTS_ERR_MAX, "--access must be open, invite or password, not \"%s\"", v);
            return NT_ERR_INVALID;
        }
        o->access = v;
    } else if (!strcmp(n, "limit")) {
        char *end;
        errno = 0;
        long l = strtol(v, &end, 10);
        if (errno || end == v || *end || l < 1 || l > 10000) {
            snprintf(err, OPTS_ERR_MAX, "--limit wants a number from 1 to 10000, not \"%s\"", v);
            return NT_ERR_INVALID;
        }
        o->limit = l;
    }
    return NT_OK;
}

nt_err opts_parse(opts *o, int argc, char **argv, char err[static OPTS_ERR_MAX])
{
    memset(o, 0, sizeof *o);
    err[0] = '\0';
    unsigned seen = 0;
    const char *pos[OPTS_ARGS_MAX + 1];
    int npos = 0;
    bool dashdash = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && strcmp(a, "--") == 0) {
            dashdash = true;
            continue;
        }
        if (dashdash || a[0] != '-' || a[1] == '\0') {
            if (npos > OPTS_ARGS_MAX) {
                snprintf(err, OPTS_ERR_MAX, "too many arguments");
                return NT_ERR_INVALID;
            }
            pos[npos++] = a;
            continue;
        }
        const char *v;
        const optdef *d = find_opt(a, &v);
        if (!d) {
            snprintf(err, OPTS_ERR_MAX, "unknown option %s", a);
            return NT_ERR_INVALID;
        }
        if (d->takes_value && !v) {
            if (i + 1 >= argc) {
                snprintf(err, OPTS_ERR_MAX, "option --%s needs a value", d->lng);
                return NT_ERR_INVALID;
            }
            v = argv[++i];
        } else if (!d->takes_value && v) {
            snprintf(err, OPTS_ERR_MAX, "option --%s takes no value", d->lng);
            return NT_ERR_INVALID;
        }
        seen |= d->flag;
        if (set_opt(o, d, v, err) != NT_OK)
            return NT_ERR_INVALID;
    }
    if (npos > 0) {
        /* `natter help CMD` reads as `natter CMD --help` */
        if (strcmp(pos[0], "help") == 0) {
            o->help = true;
            memmove(pos, pos + 1, (size_t)--npos * sizeof pos[0]);
        }
    }
    if (npos > 0) {
        o->cmd = opts_find(pos[0]);
        if (!o->cmd) {
            snprintf(err, OPTS_ERR_MAX, "unknown command \"%s\" (see natter --help)", pos[0]);
            return NT_ERR_INVALID;
        }
        for (int i = 1; i < npos; i++)
            o->args[o->nargs++] = pos[i];
    }
    unsigned allowed = o->cmd ? o->cmd->flags : 0;
    if (seen & ~allowed) {
        snprintf(err, OPTS_ERR_MAX, "%s%s does not take that option (see --help)",
                 o->cmd ? "natter " : "natter", o->cmd ? o->cmd->name : "");
        return NT_ERR_INVALID;
    }
    if (o->cmd && !o->help && (o->nargs < o->cmd->min_args || o->nargs > o->cmd->max_args)) {
        snprintf(err, OPTS_ERR_MAX, "usage: natter %s", o->cmd->synopsis);
        return NT_ERR_INVALID;
    }
    if (o->cmd && !strcmp(o->cmd->name, "create")) {
        if (o->password && !o->access)
            o->access = "password";
        if (o->access && !strcmp(o->access, "password") && !o->password &&
            !(o->password = getenv("NATTER_ROOM_PASSWORD"))) {
            snprintf(err, OPTS_ERR_MAX, "--access password needs --password PW");
            return NT_ERR_INVALID;
        }
    }
    return NT_OK;
}

static const char exit_codes[] =
    "Exit status:\n"
    "  0  success\n"
    "  1  the node answered an error (its code and message are printed)\n"
    "  2  bad command line\n"
    "  3  natterd is not running or did not answer in time\n"
    "  4  API token missing or refused\n"
    "  5  no such peer or room, or a name that fits several\n";

static const char globals[] =
    "Options (any command):\n"
    "  --json            machine-readable output (the node's JSON answer)\n"
    "  --url URL         node's client API (env NATTER_URL; default from the data\n"
    "                    dir's natterd.json, else http://127.0.0.1:7710)\n"
    "  --token TOKEN     API token (env NATTER_TOKEN; default <data-dir>/api-token)\n"
    "  --data-dir DIR    node's data dir (env NATTER_DATA_DIR; default\n"
    "                    $XDG_DATA_HOME/natter, else ~/.local/share/natter)\n"
    "  -h, --help        help; `natter COMMAND --help` for one command\n"
    "  -V, --version     print the version\n";

void opts_usage(FILE *f)
{
    fprintf(f, "natter %s - secure LAN chat client\n\n"
               "Usage:\n"
               "  natter [OPTIONS]                    full-screen chat (type /help inside)\n"
               "  natter [OPTIONS] COMMAND [ARGS...]  one-shot command\n\n"
               "Commands:\n", NATTER_VERSION);
    for (size_t i = 0; i < NCMDS; i++)
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "\nPEER and ROOM are a name, a unique prefix of a name or id, or an id.\n\n%s\n%s"
               "\nSee natter(1).\n", globals, exit_codes);
}

void opts_cmd_usage(FILE *f, const opts_cmd *c)
{
    fprintf(f, "Usage: natter %s\n\n%s.\n\n%s\n\n%s\n%s", c->synopsis, c->summary, c->help,
            globals, exit_codes);
}
