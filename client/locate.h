/* locate.h - where the client finds its node: data dir, URL and token.
 *
 * Precedence, highest first:
 *   data dir: --data-dir, NATTER_DATA_DIR, $XDG_DATA_HOME/natter,
 *             $HOME/.local/share/natter (the node's own rule)
 *   URL:      --url, NATTER_URL, the client listener in <data-dir>/natterd.json
 *             (written by a node started with port 0), http://127.0.0.1:7710
 *   token:    --token, NATTER_TOKEN, the first line of <data-dir>/api-token */
#ifndef NATTER_CLIENT_LOCATE_H
#define NATTER_CLIENT_LOCATE_H

#include "client/api.h"
#include "common/err.h"

#define LOCATE_PATH_MAX 4096
#define LOCATE_DEFAULT_URL "http://127.0.0.1:7710"
#define LOCATE_ERR_MAX 640

typedef const char *locate_getenv_fn(const char *name);

typedef struct locate {
    char data_dir[LOCATE_PATH_MAX];
    char url[API_URL_MAX];
    char token[API_TOKEN_MAX];   /* zeroed by locate_clear */
    char token_src[LOCATE_PATH_MAX + 32]; /* where the token came from, for messages */
    char portfile[LOCATE_PATH_MAX + 32];  /* natterd.json when the URL came from it, else "" */
} locate;

/* Fill *loc. url_opt, token_opt, dir_opt are the command-line values (NULL
 * when not given); env is getenv(3) when NULL. need_token: a missing token
 * file is an error (NT_ERR_AUTH, reason in err) rather than an empty token.
 * NT_ERR_INVALID when no data dir can be named or a value is too long. */
NT_MUST_USE nt_err locate_node(locate *loc, const char *url_opt, const char *token_opt,
                               const char *dir_opt, int need_token, locate_getenv_fn *env,
                               char err[static LOCATE_ERR_MAX]);

/* Parse the client listener from the text of natterd.json into url
 * ("http://HOST:PORT"). NT_ERR_NOT_FOUND when it names none. */
NT_MUST_USE nt_err locate_parse_portfile(const char *text, char url[static API_URL_MAX]);

/* Zero the token. */
void locate_clear(locate *loc);

#endif
