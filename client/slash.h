/* slash.h - the full-screen client's /commands that ask the node.
 *
 * Runs on the feed's worker thread. The UI handles /help, /quit and
 * /switch itself; everything else comes here. */
#ifndef NATTER_CLIENT_SLASH_H
#define NATTER_CLIENT_SLASH_H

#include <jansson.h>
#include "client/api.h"
#include "client/node.h"
#include "common/err.h"

#define SLASH_ARGS_MAX 4

/* Split a command line into words (at most SLASH_ARGS_MAX; the last word
 * takes the rest of the line). Returns the word count; words point into
 * buf, which is modified. */
int slash_split(char *buf, char *words[static SLASH_ARGS_MAX]);

/* Run line ("/peers", "/invite bob"...) with room_id the current room (""
 * when none). On NT_OK *result is a new object:
 *   "lines":   [strings to show in the current window]
 *   "switch":  room id to show next (after /create, /join)
 *   "refresh": true when rooms or peers changed
 *   "title":   what to call the "switch" window (/msg: the peer's label)
 * On failure err says why (shown in the status area). */
NT_MUST_USE nt_err slash_run(api *a, const char *room_id, const char *line, json_t **result,
                             api_error *err);

/* The command names slash_run knows (for /help), NULL-terminated. */
extern const char *const slash_help[];

#endif
