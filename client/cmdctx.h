/* cmdctx.h - what the one-shot command modules (cmd.c, cmdconv.c) share:
 * the running command's context and the ways it reports. Not for other
 * callers: main.c uses cmd.h. */
#ifndef NATTER_CLIENT_CMDCTX_H
#define NATTER_CLIENT_CMDCTX_H

#include <jansson.h>
#include "client/api.h"
#include "client/locate.h"
#include "client/node.h"
#include "client/opts.h"

#define CMD_PATH_MAX 1024

typedef struct ctx {
    const opts *o;
    locate loc;
    api *a;
    api_error err;
} ctx;

/* Print c->err (or rc's name) as "natter: ..." on stderr; the exit status. */
int cmd_fail(ctx *c, nt_err rc);

/* api_call that consumes body (may be NULL); on failure reports it. */
int cmd_call(ctx *c, const char *method, const char *path, json_t *body, json_t **reply);

/* node_find with its failure reported (ambiguous names list candidates). */
int cmd_find(ctx *c, node_kind k, const char *q, json_t **obj, char id[static NODE_ID_MAX]);

/* Print reply (consumed): as JSON with --json, else done (may be NULL: its
 * fields). EXIT_OK. */
int cmd_answer(ctx *c, json_t *reply, const char *done);

/* j as one line of compact JSON on stdout. */
void cmd_print_json(const json_t *j);

/* Message text for send/msg: args[i], or standard input when there is no
 * such argument; NULL (said why) when empty, unreadable or over 16 KiB.
 * Caller frees. */
char *cmd_text(const ctx *c, int i);

/* "sent (seq N)" or the delivery state of a send's answer, or the JSON. */
void cmd_print_sent(const ctx *c, const json_t *reply, const char *prefix);

/* The commands of cmdconv.c. */
int cmdconv_join(ctx *c);
int cmdconv_leave(ctx *c);
int cmdconv_kick(ctx *c);
int cmdconv_members(ctx *c);
int cmdconv_topic(ctx *c);
int cmdconv_name(ctx *c);
int cmdconv_untrust(ctx *c);
int cmdconv_whois(ctx *c);
int cmdconv_msg(ctx *c);

#endif
