/* locate.h - where the client finds its node: data dir, URL and token.
 *
 * Precedence, highest first:
 *   data dir: --data-dir, NATTER_DATA_DIR, $XDG_DATA_HOME/natter,
 *             $HOME/.local/share/natter (the node's own rule)
 *   URL:      --url, NATTER_URL, the client listener in <data-dir>/natterd.json
 *             (written by a node started with port 0), http://127.0.0.1:7710
 *   token:    --token, NATTER_TOKEN, the first line of <data-dir>/api-token
 *
 * Wherever the URL comes from, the token goes only to a listener that
 * proves it holds it (api_set_expect in api.h); natterd.json also names the
 * node id that listener must have. */
#ifndef NATTER_CLIENT_LOCATE_H
#define NATTER_CLIENT_LOCATE_H

#include "client/api.h"
#include "common/err.h"
#include "common/hello.h"

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
    char node_id[HELLO_NODE_ID_MAX + 1];  /* named by natterd.json, else "" */
    bool from_data_dir;                   /* URL and token both from the data dir */
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

/* Parse the node id from the text of natterd.json into id (lowercase hex,
 * at most HELLO_NODE_ID_MAX digits). NT_ERR_NOT_FOUND when it names none. */
NT_MUST_USE nt_err locate_parse_node_id(const char *text, char id[static HELLO_NODE_ID_MAX + 1]);

/* A client for loc's node: URL and token from loc, and the proof it must
 * give before the token is sent (api_set_expect). *out as api_new. */
NT_MUST_USE nt_err locate_api(const locate *loc, api **out);

/* Zero the token. */
void locate_clear(locate *loc);

#endif
