/* locate.c - data dir, URL and token for the client (see locate.h). */
#include "client/locate.h"

#include <errno.h>
#include <jansson.h>
#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PORTFILE_MAX 8192

static const char *env_get(locate_getenv_fn *env, const char *name)
{
    const char *v = env ? env(name) : getenv(name);
    return v && v[0] ? v : NULL;
}

static int copy(char *dst, size_t cap, const char *src)
{
    return snprintf(dst, cap, "%s", src) < (int)cap ? 0 : -1;
}

static nt_err data_dir(locate *loc, const char *dir_opt, locate_getenv_fn *env)
{
    const char *d = dir_opt ? dir_opt : env_get(env, "NATTER_DATA_DIR");
    int n;
    if (d)
        n = snprintf(loc->data_dir, sizeof loc->data_dir, "%s", d);
    else if ((d = env_get(env, "XDG_DATA_HOME")))
        n = snprintf(loc->data_dir, sizeof loc->data_dir, "%s/natter", d);
    else if ((d = env_get(env, "HOME")))
        n = snprintf(loc->data_dir, sizeof loc->data_dir, "%s/.local/share/natter", d);
    else
        return NT_ERR_INVALID;
    return n < (int)sizeof loc->data_dir ? NT_OK : NT_ERR_INVALID;
}

/* "HOST:PORT" or "http://..." into a URL; 0.0.0.0 and :: become loopback
 * since that is where a wildcard listener is reached from this machine. */
static nt_err url_from_listen(const char *s, char url[static API_URL_MAX])
{
    if (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0)
        return copy(url, API_URL_MAX, s) ? NT_ERR_TOO_BIG : NT_OK;
    const char *colon = strrchr(s, ':');
    if (!colon || !colon[1])
        return NT_ERR_INVALID;
    char host[256];
    size_t hl = (size_t)(colon - s);
    if (hl == 0 || hl >= sizeof host)
        return NT_ERR_INVALID;
    memcpy(host, s, hl);
    host[hl] = '\0';
    const char *h = host;
    if (strcmp(h, "0.0.0.0") == 0 || strcmp(h, "*") == 0)
        h = "127.0.0.1";
    else if (strcmp(h, "[::]") == 0 || strcmp(h, "::") == 0)
        h = "[::1]";
    int n = snprintf(url, API_URL_MAX, "http://%s:%s", h, colon + 1);
    return n < API_URL_MAX ? NT_OK : NT_ERR_TOO_BIG;
}

static nt_err from_port(const char *host, json_int_t port, char url[static API_URL_MAX])
{
    if (port <= 0 || port > 65535)
        return NT_ERR_INVALID;
    char buf[300];
    snprintf(buf, sizeof buf, "%s:%lld", host ? host : "127.0.0.1", (long long)port);
    return url_from_listen(buf, url);
}

/* The node's port file names its client listener; accept the few shapes a
 * listener description takes: a URL, "host:port", {host, port} or a port. */
static nt_err from_value(const json_t *v, char url[static API_URL_MAX])
{
    if (json_is_string(v))
        return url_from_listen(json_string_value(v), url);
    if (json_is_integer(v))
        return from_port(NULL, json_integer_value(v), url);
    if (json_is_object(v)) {
        const json_t *u = json_object_get(v, "url");
        if (json_is_string(u))
            return url_from_listen(json_string_value(u), url);
        const json_t *l = json_object_get(v, "listen");
        if (json_is_string(l))
            return url_from_listen(json_string_value(l), url);
        return from_port(json_string_value(json_object_get(v, "host")),
                         json_integer_value(json_object_get(v, "port")), url);
    }
    return NT_ERR_NOT_FOUND;
}

nt_err locate_parse_portfile(const char *text, char url[static API_URL_MAX])
{
    static const char *const keys[] = {"client_url", "client_api", "client", "client_listen",
                                       "client_port"};
    json_t *j = json_loads(text, 0, NULL);
    nt_err rc = NT_ERR_NOT_FOUND;
    if (!json_is_object(j))
        goto out;
    const json_t *l = json_object_get(j, "listeners");
    if (json_is_object(l) && (rc = from_value(json_object_get(l, "client"), url)) == NT_OK)
        goto out;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const json_t *v = json_object_get(j, keys[i]);
        if (v && (rc = from_value(v, url)) == NT_OK)
            goto out;
    }
    rc = NT_ERR_NOT_FOUND;
out:
    json_decref(j);
    return rc;
}

nt_err locate_parse_node_id(const char *text, char id[static HELLO_NODE_ID_MAX + 1])
{
    json_t *j = json_loads(text, 0, NULL);
    const char *v = json_string_value(json_object_get(j, "node_id"));
    nt_err rc = NT_ERR_NOT_FOUND;
    id[0] = '\0';
    if (v && v[0] && strlen(v) <= HELLO_NODE_ID_MAX && strspn(v, "0123456789abcdef") == strlen(v)) {
        snprintf(id, HELLO_NODE_ID_MAX + 1, "%s", v);
        rc = NT_OK;
    }
    json_decref(j);
    return rc;
}

/* Whole small file into buf (NUL-terminated); -1 with errno on failure. */
static int read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        errno = EIO;
        return -1;
    }
    buf[n] = '\0';
    return 0;
}

static nt_err token_file(locate *loc, char err[static LOCATE_ERR_MAX])
{
    char buf[API_TOKEN_MAX + 2];
    snprintf(loc->token_src, sizeof loc->token_src, "%s/api-token", loc->data_dir);
    if (read_small(loc->token_src, buf, sizeof buf) != 0) {
        if (errno == ENOENT)
            snprintf(err, LOCATE_ERR_MAX,
                     "cannot read the API token %.400s: no natterd has run with this data dir "
                     "yet; start one (natterd, or make run) and try again, or pass --data-dir "
                     "or --token", loc->token_src);
        else
            snprintf(err, LOCATE_ERR_MAX, "cannot read the API token %.400s: %s (pass --token?)",
                     loc->token_src, strerror(errno));
        return NT_ERR_AUTH;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    nt_err rc = NT_OK;
    if (!buf[0] || copy(loc->token, sizeof loc->token, buf)) {
        snprintf(err, LOCATE_ERR_MAX, "the API token in %.400s is empty or too long", loc->token_src);
        rc = NT_ERR_AUTH;
    }
    mbedtls_platform_zeroize(buf, sizeof buf);
    return rc;
}

nt_err locate_node(locate *loc, const char *url_opt, const char *token_opt, const char *dir_opt,
                   int need_token, locate_getenv_fn *env, char err[static LOCATE_ERR_MAX])
{
    memset(loc, 0, sizeof *loc);
    err[0] = '\0';
    if (data_dir(loc, dir_opt, env) != NT_OK) {
        snprintf(err, LOCATE_ERR_MAX, "no data dir: set --data-dir, NATTER_DATA_DIR or HOME");
        return NT_ERR_INVALID;
    }
    const char *u = url_opt ? url_opt : env_get(env, "NATTER_URL");
    if (u) {
        if (url_from_listen(u, loc->url) != NT_OK) {
            snprintf(err, LOCATE_ERR_MAX, "bad node URL: %.400s (want http://HOST:PORT)", u);
            return NT_ERR_INVALID;
        }
    } else {
        char text[PORTFILE_MAX];
        /* even when absent now: a node started later writes it */
        snprintf(loc->portfile, sizeof loc->portfile, "%s/natterd.json", loc->data_dir);
        if (read_small(loc->portfile, text, sizeof text) != 0 ||
            locate_parse_portfile(text, loc->url) != NT_OK)
            (void)copy(loc->url, sizeof loc->url, LOCATE_DEFAULT_URL);
        else if (locate_parse_node_id(text, loc->node_id) != NT_OK)
            loc->node_id[0] = '\0';
    }
    const char *t = token_opt ? token_opt : env_get(env, "NATTER_TOKEN");
    if (t) {
        if (copy(loc->token, sizeof loc->token, t) || strpbrk(t, "\r\n")) {
            snprintf(err, LOCATE_ERR_MAX, "the API token given is too long or has a newline");
            return NT_ERR_AUTH;
        }
        snprintf(loc->token_src, sizeof loc->token_src, "%s",
                 token_opt ? "--token" : "NATTER_TOKEN");
        return NT_OK;
    }
    nt_err rc = token_file(loc, err);
    loc->from_data_dir = rc == NT_OK && !u;
    return rc != NT_OK && !need_token ? NT_OK : rc;
}

nt_err locate_api(const locate *loc, api **out)
{
    nt_err rc = api_new(out, loc->url, loc->token[0] ? loc->token : NULL);
    if (rc == NT_OK)
        api_set_expect(*out, loc->node_id, loc->from_data_dir ? loc->data_dir : NULL);
    return rc;
}

void locate_clear(locate *loc)
{
    mbedtls_platform_zeroize(loc->token, sizeof loc->token);
}
