#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "text.h"

#define CONFIG_ENV_MAX 64

typedef enum { KIND_STR, KIND_UINT, KIND_BOOL, KIND_FLAG } opt_kind;

typedef struct {
    opt_kind kind;
    const char *flag;
    const char *def;
    unsigned long min, max;
    const char *meta, *help;
    size_t off;
} opt_desc;

#define CONFIG_DESC_(kind, field, flag, def, min, max, meta, help) \
    {KIND_##kind, flag, def, min, max, meta, help, offsetof(config, field)},

static const opt_desc opts[] = {CONFIG_OPTIONS(CONFIG_DESC_)};
#define N_OPTS (sizeof opts / sizeof opts[0])
_Static_assert(N_OPTS <= 64, "config.given holds one bit per option");

enum { OPT_HELP = 'h', OPT_VERSION = 'V', OPT_BASE = 256 };

static void env_name(const opt_desc *o, char out[static CONFIG_ENV_MAX])
{
    size_t n = (size_t)snprintf(out, CONFIG_ENV_MAX, "NATTER_%s", o->flag);
    for (size_t i = 7; i < n && i < CONFIG_ENV_MAX; i++)
        out[i] = out[i] == '-' ? '_' : (char)toupper((unsigned char)out[i]);
}

static nt_err parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *out = true; return NT_OK; }
        if (strcasecmp(s, no[i]) == 0) { *out = false; return NT_OK; }
    }
    return NT_ERR_INVALID;
}

/* Store value (from source "where") into the field of o. */
static nt_err set_opt(config *cfg, const opt_desc *o, const char *val, const char *where,
                      char err[static CONFIG_ERR_MAX])
{
    void *field = (char *)cfg + o->off;
    if (strcmp(where, "default") != 0)
        cfg->given |= 1ULL << (size_t)(o - opts);
    switch (o->kind) {
    case KIND_STR: {
        char *dup = strdup(val);
        if (!dup)
            return NT_ERR_NOMEM;
        free(*(char **)field);
        *(char **)field = dup;
        return NT_OK;
    }
    case KIND_UINT: {
        char *end;
        errno = 0;
        unsigned long v = strtoul(val, &end, 10);
        if (!isdigit((unsigned char)val[0]) || *end || errno || v < o->min || v > o->max) {
            snprintf(err, CONFIG_ERR_MAX, "%s: --%s wants a number in %lu..%lu, got '%.40s'", where, o->flag,
                     o->min, o->max, val);
            return NT_ERR_INVALID;
        }
        *(unsigned long *)field = v;
        return NT_OK;
    }
    case KIND_FLAG:
        if (!val) { /* given on the command line without a value */
            *(bool *)field = true;
            return NT_OK;
        }
        /* fall through */
    case KIND_BOOL:
        if (parse_bool(val, (bool *)field)) {
            snprintf(err, CONFIG_ERR_MAX, "%s: --%s wants on/off, got '%.40s'", where, o->flag, val);
            return NT_ERR_INVALID;
        }
        return NT_OK;
    }
    return NT_ERR_INVALID;
}

static nt_err default_data_dir(config *cfg, config_getenv_fn *env)
{
    const char *xdg = env("XDG_DATA_HOME"), *home = env("HOME");
    char buf[4096];
    if (xdg && xdg[0] == '/')
        snprintf(buf, sizeof buf, "%s/natter", xdg);
    else if (home && home[0])
        snprintf(buf, sizeof buf, "%s/.local/share/natter", home);
    else
        return NT_ERR_INVALID;
    return (cfg->data_dir = strdup(buf)) ? NT_OK : NT_ERR_NOMEM;
}

bool config_given(const config *cfg, const char *flag)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strcmp(opts[i].flag, flag) == 0)
            return (cfg->given >> i) & 1;
    return false;
}

/* getaddrinfo reads a service number modulo 65536 ("99999" is 34463), so
 * the port is checked here, digit by digit. */
static bool port_valid(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 5 || strspn(p, "0123456789") != n)
        return false;
    return strtoul(p, NULL, 10) <= 65535;
}

bool config_listen_valid(const char *s, char err[static CONFIG_ERR_MAX])
{
    const char *colon = s ? strrchr(s, ':') : NULL;
    char host[256];
    size_t hl = colon ? (size_t)(colon - s) : 0;
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (!colon || hl == 0 || hl >= sizeof host || !port_valid(colon + 1)) {
        snprintf(err, CONFIG_ERR_MAX, "'%.80s' is not HOST:PORT with a port in 0..65535 (0 picks a free port)",
                 s ? s : "");
        return false;
    }
    memcpy(host, s, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &ai);
    if (ai)
        freeaddrinfo(ai);
    if (gai) {
        snprintf(err, CONFIG_ERR_MAX, "'%.80s': %s", host, gai_strerror(gai));
        return false;
    }
    return true;
}

/* Checks that need more than one field or more than a range. */
static nt_err validate(const config *cfg, char err[static CONFIG_ERR_MAX])
{
    log_level lv;
    char why[CONFIG_ERR_MAX];
    if (!config_listen_valid(cfg->listen, why) || !config_listen_valid(cfg->client_listen, why)) {
        snprintf(err, CONFIG_ERR_MAX, "--%s: %.200s", config_listen_valid(cfg->listen, why) ? "client-listen" : "listen",
                 why);
        return NT_ERR_INVALID;
    }
    if (cfg->key_bits != 2048 && cfg->key_bits != 3072 && cfg->key_bits != 4096) {
        snprintf(err, CONFIG_ERR_MAX, "--key-bits must be 2048, 3072 or 4096");
        return NT_ERR_INVALID;
    }
    if (log_level_parse(cfg->log_level, &lv)) {
        snprintf(err, CONFIG_ERR_MAX, "--log-level must be error, warn, info or debug");
        return NT_ERR_INVALID;
    }
    if (cfg->name && !text_name_valid(cfg->name, strlen(cfg->name))) {
        snprintf(err, CONFIG_ERR_MAX,
                 "--name must be 1..%d bytes of UTF-8 without control or invisible characters or surrounding space",
                 TEXT_NAME_MAX);
        return NT_ERR_INVALID;
    }
    if (!cfg->data_dir[0]) {
        snprintf(err, CONFIG_ERR_MAX, "--data-dir must not be empty");
        return NT_ERR_INVALID;
    }
    if (!cfg->handshake_mode || (strcmp(cfg->handshake_mode, "ecdh") && strcmp(cfg->handshake_mode, "ecdh-p256") &&
                                 strcmp(cfg->handshake_mode, "rsa"))) {
        snprintf(err, CONFIG_ERR_MAX, "--handshake-mode must be ecdh, ecdh-p256 or rsa");
        return NT_ERR_INVALID;
    }
    return NT_OK;
}

static nt_err apply_defaults_and_env(config *cfg, config_getenv_fn *env, char err[static CONFIG_ERR_MAX])
{
    nt_err rc;
    for (size_t i = 0; i < N_OPTS; i++) {
        char name[CONFIG_ENV_MAX];
        env_name(&opts[i], name);
        const char *v = env(name);
        if (v && (rc = set_opt(cfg, &opts[i], v, name, err)))
            return rc;
        if (!v && opts[i].def && (rc = set_opt(cfg, &opts[i], opts[i].def, "default", err)))
            return rc;
    }
    return NT_OK;
}

static const char *real_getenv(const char *name) { return getenv(name); }

nt_err config_parse(config *cfg, int argc, char **argv, config_getenv_fn *env, config_action *action,
                    char err[static CONFIG_ERR_MAX])
{
    struct option lopts[N_OPTS + 3];
    nt_err rc;
    err[0] = '\0';
    *action = CONFIG_RUN;
    if (!env)
        env = real_getenv;
    if ((rc = apply_defaults_and_env(cfg, env, err)))
        return rc;
    for (size_t i = 0; i < N_OPTS; i++)
        lopts[i] = (struct option){opts[i].flag, opts[i].kind == KIND_FLAG ? optional_argument : required_argument,
                                   NULL, OPT_BASE + (int)i};
    lopts[N_OPTS] = (struct option){"help", no_argument, NULL, OPT_HELP};
    lopts[N_OPTS + 1] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    lopts[N_OPTS + 2] = (struct option){0};

    optind = 0; /* glibc: full re-initialisation */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":hV", lopts, NULL)) != -1) {
        if (c == OPT_HELP || c == OPT_VERSION) {
            *action = c == OPT_HELP ? CONFIG_HELP : CONFIG_VERSION;
            return NT_OK;
        }
        if (c >= OPT_BASE && c < OPT_BASE + (int)N_OPTS) {
            const opt_desc *o = &opts[c - OPT_BASE];
            if ((rc = set_opt(cfg, o, optarg, "command line", err)))
                return rc;
            continue;
        }
        const char *bad = argv[optind - 1] ? argv[optind - 1] : "?";
        snprintf(err, CONFIG_ERR_MAX, c == ':' ? "option '%.60s' needs a value" : "unknown option '%.60s'", bad);
        return NT_ERR_INVALID;
    }
    if (optind < argc) {
        snprintf(err, CONFIG_ERR_MAX, "unexpected argument '%.60s'", argv[optind]);
        return NT_ERR_INVALID;
    }
    if (!cfg->data_dir && (rc = default_data_dir(cfg, env))) {
        snprintf(err, CONFIG_ERR_MAX, "no --data-dir given and neither XDG_DATA_HOME nor HOME is set");
        return rc;
    }
    return validate(cfg, err);
}

void config_free(config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].kind == KIND_STR)
            free(*(char **)((char *)cfg + opts[i].off));
    memset(cfg, 0, sizeof *cfg);
}

void config_usage(FILE *f, const char *prog)
{
    fprintf(f, "usage: %s [options]\n\nA natter node: peer API, client API, discovery and storage.\n\n", prog);
    for (size_t i = 0; i < N_OPTS; i++) {
        char name[CONFIG_ENV_MAX], left[64];
        env_name(&opts[i], name);
        snprintf(left, sizeof left, "--%s %s", opts[i].flag, opts[i].meta);
        fprintf(f, "  %-28s %s\n  %-28s env %s%s%s\n", left, opts[i].help, "", name,
                opts[i].def ? ", default " : "", opts[i].def ? opts[i].def : "");
    }
    fprintf(f, "  %-28s %s\n  %-28s %s\n", "-h, --help", "show this help", "-V, --version", "show the version");
}
