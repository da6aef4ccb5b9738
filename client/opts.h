/* opts.h - the natter command line: global options, commands, their help.
 *
 *   natter [OPTIONS]                      full-screen client
 *   natter [OPTIONS] COMMAND [ARGS...]    one-shot command for scripts
 *
 * Options may come before or after the command; "--" ends them (so a
 * message may begin with '-'). */
#ifndef NATTER_CLIENT_OPTS_H
#define NATTER_CLIENT_OPTS_H

#include <stdbool.h>
#include <stdio.h>
#include "common/err.h"

#define OPTS_ARGS_MAX 8
#define OPTS_ERR_MAX 256

/* Exit codes of every natter command (also in --help and natter(1)). */
enum {
    EXIT_OK = 0,
    EXIT_NODE = 1,        /* the node answered an error */
    EXIT_USAGE = 2,       /* bad command line */
    EXIT_UNREACHABLE = 3, /* natterd not running / not answering */
    EXIT_AUTH = 4,        /* token missing or refused */
    EXIT_NOTFOUND = 5,    /* no such peer or room, or an ambiguous name */
};

/* Options a command accepts besides the global ones. */
enum {
    OPT_ACCESS = 1 << 0,
    OPT_PASSWORD = 1 << 1,
    OPT_HOST = 1 << 2,
    OPT_FOLLOW = 1 << 3,
    OPT_LIMIT = 1 << 4,
    OPT_TOPIC = 1 << 5,
};

typedef struct opts_cmd {
    const char *name;
    int min_args, max_args;
    unsigned flags;       /* OPT_* accepted */
    const char *synopsis; /* after "natter " */
    const char *summary;  /* one line */
    const char *help;     /* paragraph(s) for `natter CMD --help` */
} opts_cmd;

typedef struct opts {
    const char *url, *token, *data_dir;
    const char *access, *password, *host, *topic;
    long limit;           /* tail: messages to show, 0 = default */
    bool json, help, version, follow;
    const opts_cmd *cmd;  /* NULL: full-screen mode */
    const char *args[OPTS_ARGS_MAX];
    int nargs;
} opts;

/* Parse argv (strings are borrowed). NT_ERR_INVALID with a one-line reason
 * in err for an unknown command or option, a missing option value, an
 * option the command does not take, or a wrong number of arguments (not
 * checked when --help is given). */
NT_MUST_USE nt_err opts_parse(opts *o, int argc, char **argv, char err[static OPTS_ERR_MAX]);

/* The command called name, or NULL. */
const opts_cmd *opts_find(const char *name);

/* `natter --help` and `natter CMD --help`. */
void opts_usage(FILE *f);
void opts_cmd_usage(FILE *f, const opts_cmd *c);

#endif
