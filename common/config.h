/* config.h - natterd's settings: defaults, NATTER_* environment, flags.
 *
 * Every setting is one line of CONFIG_OPTIONS below; that line makes the
 * struct field, the --long-flag, the NATTER_<FLAG> environment variable
 * (upper case, '-' -> '_'), the default and the --help text. To add a
 * setting, add a line here (and read cfg->field where you need it).
 *
 * Kinds: STR (char *, owned by the config; NULL = unset), UINT (unsigned
 * long in [min, max]), BOOL (bool; accepts 1/0, true/false, yes/no, on/off),
 * FLAG (bool switched on by the bare flag, e.g. --no-discovery; also takes
 * --flag=off and the BOOL words in the environment).
 * A default is a string parsed like user input; NULL means unset, or
 * computed in config_parse (data-dir from XDG); name stays NULL unless given
 * (the node then uses its stored name or the host name).
 * Precedence: default < environment < command line. */
#ifndef NATTER_CONFIG_H
#define NATTER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "err.h"

/*        kind  field           flag              default             min   max        metavar     help */
#define CONFIG_OPTIONS(X)                                                                                   \
    X(STR,  data_dir,        "data-dir",        NULL,               0,    0,         "DIR",      "data directory (default $XDG_DATA_HOME/natter, else ~/.local/share/natter)") \
    X(STR,  name,            "name",            NULL,               0,    0,         "NAME",     "display name for this run (default: the one set over the API, else the host name)") \
    X(STR,  listen,          "listen",          "0.0.0.0:7711",     0,    0,         "HOST:PORT","peer API listener (port 0 picks a free port)") \
    X(STR,  client_listen,   "client-listen",   "127.0.0.1:7710",   0,    0,         "HOST:PORT","client API listener (port 0 picks a free port)") \
    X(UINT, key_bits,        "key-bits",        "3072",             2048, 4096,      "BITS",     "RSA identity size at first start: 2048, 3072 or 4096") \
    X(STR,  log_level,       "log-level",       "info",             0,    0,         "LEVEL",    "error, warn, info or debug") \
    X(UINT, max_body,        "max-body",        "65536",            1024, 16777216,  "BYTES",    "largest request body accepted (413 above)") \
    X(UINT, max_connections, "max-connections", "0",                0,    1000000,   "N",        "open connections per listener, 503 above (0: from the open-file limit, in the thousands)") \
    X(UINT, max_conns_per_source, "max-connections-per-source", "64", 0, 1000000, "N",        "open connections from one address per listener, 503 above (0: no cap)") \
    X(UINT, conn_timeout,    "conn-timeout",    "30",               1,    3600,      "SECONDS",  "a connection with no request this long is closed") \
    X(UINT, request_timeout, "request-timeout", "10",               1,    3600,      "SECONDS",  "a request's head and body must arrive within this (408 after)") \
    X(FLAG, no_discovery,    "no-discovery",    "off",              0,    0,         "",         "turn LAN discovery off (peers can still be added by address)") \
    X(STR,  discovery_group, "discovery-group", "239.255.77.10",    0,    0,         "ADDR",     "IPv4 multicast group for discovery") \
    X(UINT, discovery_port,  "discovery-port",  "7712",             1,    65535,     "PORT",     "UDP port for discovery") \
    X(STR,  interface,       "interface",       NULL,               0,    0,         "IFNAME",   "discover on this interface only (default: every multicast-capable one)") \
    X(UINT, discovery_ttl,   "discovery-ttl",   "1",                1,    255,       "HOPS",     "multicast TTL of announcements") \
    X(UINT, announce_interval, "announce-interval", "30",           1,    3600,      "SECONDS",  "mean time between announcements (+-20% jitter)") \
    X(UINT, peer_expiry,     "peer-expiry",     "90",               1,    86400,     "SECONDS",  "a discovered peer unseen this long is shown offline") \
    X(UINT, session_idle,    "session-idle",    "3600",             1,    604800,    "SECONDS",  "drop a peer session idle this long (both directions re-handshake)") \
    X(UINT, session_max,     "session-max",     "86400",            1,    2592000,   "SECONDS",  "drop a peer session this long after its handshake") \
    X(UINT, max_sessions,    "max-sessions",    "4096",             1,    1000000,   "N",        "peer sessions this node serves at once (503 above)") \
    X(UINT, max_sessions_per_peer, "max-sessions-per-peer", "16",   1,    100000,    "N",        "sessions one peer may hold here at once (429 above)") \
    X(UINT, max_new_peers_per_source, "max-new-peers-per-source", "16", 1, 100000, "N", "new peers first learned from one address per hour (handshakes 429 above, announcements dropped)") \
    X(UINT, handshake_rate,  "handshake-rate",  "10",               0,    100000,    "N",        "handshakes one address may start per second, in bursts of 4N (429 above; 0: no limit)") \
    X(UINT, max_handshakes,  "max-handshakes",  "0",                0,    4096,      "N",        "handshakes being verified and signed, or waiting for a worker, at once from all addresses (503 above; 0: 4 per core, 4 to 16)") \
    X(UINT, max_jobs_per_source, "max-jobs-per-source", "16",       0,    1000000,   "N",        "peer API requests from one address running on or waiting for a worker at once (503 above; 0: no cap)") \
    X(STR,  handshake_mode,  "handshake-mode",  "ecdh",             0,    0,         "MODE",     "key agreement this node asks for: ecdh (X25519), ecdh-p256 or rsa (no forward secrecy)") \
    X(UINT, join_rate,       "join-rate",       "10",               1,    6000,      "N",        "joins one peer may ask of the rooms this node hosts per minute, in bursts of N (429 above)")

#define CONFIG_FIELD_STR(f) char *f;
#define CONFIG_FIELD_UINT(f) unsigned long f;
#define CONFIG_FIELD_BOOL(f) bool f;
#define CONFIG_FIELD_FLAG(f) bool f;
#define CONFIG_FIELD_(kind, field, flag, def, min, max, meta, help) CONFIG_FIELD_##kind(field)

typedef struct config {
    CONFIG_OPTIONS(CONFIG_FIELD_)
    unsigned long long given; /* bit i: option i came from the environment or argv */
} config;

#define CONFIG_ERR_MAX 256

typedef enum { CONFIG_RUN = 0, CONFIG_HELP, CONFIG_VERSION } config_action;

/* Optional environment lookup for tests; NULL means getenv(3). */
typedef const char *config_getenv_fn(const char *name);

/* Fill *cfg (which must be zeroed or config_free'd) from defaults, the
 * environment and argv. On error returns NT_ERR_INVALID with a one-line
 * reason in err. *action says whether --help or --version was given.
 * Resets getopt state, so it may be called more than once. */
NT_MUST_USE nt_err config_parse(config *cfg, int argc, char **argv, config_getenv_fn *env,
                                config_action *action, char err[static CONFIG_ERR_MAX]);

/* Was the option with this --flag name given (environment or command
 * line) rather than left at its default? */
bool config_given(const config *cfg, const char *flag);

/* Is s a listen address natterd can bind: "HOST:PORT" or "[V6]:PORT" with
 * a host that resolves and a port in 0..65535 (0 = pick a free one)? On
 * false, err says why. */
bool config_listen_valid(const char *s, char err[static CONFIG_ERR_MAX]);

/* Free the strings in cfg and zero it. NULL-safe. */
void config_free(config *cfg);

/* Write the --help text (flags, environment names, defaults) to f. */
void config_usage(FILE *f, const char *prog);

#endif
