/* cmd.h - natter's one-shot commands (natter status, send, tail...).
 *
 * Output goes to stdout (text for people, or with --json the node's own
 * JSON answer), errors to stderr as one line "natter: ...". */
#ifndef NATTER_CLIENT_CMD_H
#define NATTER_CLIENT_CMD_H

#include "client/opts.h"
#include "common/err.h"

/* Run o->cmd; returns the process exit status (EXIT_* in opts.h). */
int cmd_run(const opts *o);

/* Exit status for a failed call's status code. */
int cmd_exit_code(nt_err rc);

#endif
