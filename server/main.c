/* natterd - the natter node. See docs/natterd.8. */
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "crypto/rng.h"
#include "server/core/http.h"
#include "server/core/node.h"
#include "server/core/routes.h"
#include "server/core/services.h"
#include "storage/dbconn.h"

#define DRAIN_TIMEOUT_MS 10000 /* how long shutdown waits for requests in flight */

#define FD_RESERVE 512        /* descriptors kept for the database, peer calls and discovery */
#define CLIENT_CONNS_MAX 1024 /* the client API serves this machine's own programs */
#define HANDSHAKES_MIN 4      /* handshakes in progress at least, by default */

/* Raise the open-file limit to its hard limit; the descriptors left for
 * connections. */
static unsigned long fds_for_connections(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max > 1048576 ? 1048576 : rl.rlim_max;
        struct rlimit up = {.rlim_cur = want, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = want;
    }
    return rl.rlim_cur > 2 * FD_RESERVE ? (unsigned long)rl.rlim_cur - FD_RESERVE : FD_RESERVE;
}

/* --max-connections, or when 0 a share of the descriptors: the client
 * API an eighth (at most CLIENT_CONNS_MAX), the peer API the rest. */
static unsigned conn_cap(const config *c, http_api api, unsigned long fds)
{
    if (c->max_connections)
        return (unsigned)c->max_connections;
    unsigned long client = fds / 8 < CLIENT_CONNS_MAX ? fds / 8 : CLIENT_CONNS_MAX;
    unsigned long n = api == HTTP_API_CLIENT ? client : fds - client;
    return (unsigned)(n > 65536 ? 65536 : n < 16 ? 16 : n);
}

/* --max-handshakes, or when 0 four per core: a handshake is CPU bound
 * (an RSA signature, ~5 ms at 3072 bits), so more in progress than the
 * cores can sign only wait, and hold workers while they do. At most a
 * quarter of the workers, so that a flood of handshakes leaves the rest to
 * the sessions already up. */
static unsigned handshake_cap(const config *c)
{
    if (c->max_handshakes)
        return (unsigned)c->max_handshakes;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned long n = cores < 1 ? HANDSHAKES_MIN : 4ul * (unsigned long)cores;
    return (unsigned)(n < HANDSHAKES_MIN ? HANDSHAKES_MIN : n > HTTP_WORKERS_DEFAULT / 4 ? HTTP_WORKERS_DEFAULT / 4 : n);
}

static nt_err start_http(node *nd, http_api api, const char *bind, unsigned long fds, http_server **out)
{
    char err[HTTP_ERR_MAX];
    const config *c = nd->cfg;
    http_opts o = {
        .bind = bind,
        .api = api,
        .token = api == HTTP_API_CLIENT ? nd->token : NULL,
        .body_max = c->max_body,
        .max_connections = conn_cap(c, api, fds),
        .max_per_source = (unsigned)c->max_conns_per_source,
        .timeout_s = (unsigned)c->conn_timeout,
        .request_timeout_s = (unsigned)c->request_timeout,
        /* only the peer API serves strangers; the client API's one address is this machine */
        .max_jobs_per_source = api == HTTP_API_PEER ? (unsigned)c->max_jobs_per_source : 0,
        .max_costly = api == HTTP_API_PEER ? handshake_cap(c) : 0,
    };
    nt_err rc = http_start(&o, routes_all, nd, out, err);
    if (rc)
        log_error("cannot listen for the %s API on %s", api == HTTP_API_PEER ? "peer" : "client", err);
    return rc;
}

/* Start services in order; on failure stop the ones already started. */
static size_t start_services(node *nd, nt_err *rc)
{
    char err[NODE_ERR_MAX];
    size_t i;
    *rc = NT_OK;
    for (i = 0; node_services[i].name; i++) {
        err[0] = '\0';
        if ((*rc = node_services[i].start(nd, err))) {
            log_error("cannot start %s: %s", node_services[i].name, err[0] ? err : err_str(*rc));
            break;
        }
    }
    return i;
}

static void stop_services(node *nd, size_t n)
{
    while (n-- > 0)
        node_services[n].stop(nd);
}

static int run(const config *cfg, const sigset_t *sigs)
{
    char err[NODE_ERR_MAX];
    node *nd = NULL;
    http_server *peer = NULL, *client = NULL;
    size_t n_services = 0;
    int status = EXIT_FAILURE, sig = 0;
    nt_err rc;

    if ((rc = node_open(cfg, &nd, err))) {
        log_error("%s", err);
        goto out;
    }
    log_info("node %s (%s) data dir %s", nd->id_hex, nd->name, nd->data_dir);
    unsigned long fds = fds_for_connections();
    if (start_http(nd, HTTP_API_PEER, cfg->listen, fds, &peer) ||
        start_http(nd, HTTP_API_CLIENT, cfg->client_listen, fds, &client))
        goto out;
    nd->peer_http = peer;
    nd->client_http = client;
    snprintf(nd->peer_addr, sizeof nd->peer_addr, "%s", http_addr(peer));
    snprintf(nd->client_addr, sizeof nd->client_addr, "%s", http_addr(client));
    n_services = start_services(nd, &rc);
    if (rc)
        goto out;
    if ((rc = node_write_runfile(nd))) {
        log_error("cannot write %s/%s: %s", nd->data_dir, NODE_RUN_FILE, err_str(rc));
        goto out;
    }
    log_info("ready: peer API on %s, client API on %s", nd->peer_addr, nd->client_addr);

    while (sigwait(sigs, &sig) == 0 && sig != SIGINT && sig != SIGTERM) {
    }
    log_info("%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    status = EXIT_SUCCESS;
out:
    if (nd)
        node_begin_stop(nd);
    http_quiesce(peer);
    http_quiesce(client);
    if ((peer && !http_drain(peer, DRAIN_TIMEOUT_MS)) || (client && !http_drain(client, DRAIN_TIMEOUT_MS)))
        log_warn("requests still in flight after %d ms; closing them", DRAIN_TIMEOUT_MS);
    http_stop(peer);
    http_stop(client);
    if (nd) {
        nd->peer_http = nd->client_http = NULL;
        stop_services(nd, n_services);
    }
    node_close(nd, status == EXIT_SUCCESS);
    rng_free();
    if (status == EXIT_SUCCESS)
        log_info("stopped");
    return status;
}

int main(int argc, char **argv)
{
    config cfg = {0};
    config_action action;
    char err[CONFIG_ERR_MAX];
    sigset_t sigs;
    log_level lv;

    if (config_parse(&cfg, argc, argv, NULL, &action, err)) {
        fprintf(stderr, "natterd: %s (see --help)\n", err);
        config_free(&cfg);
        return 2;
    }
    if (action != CONFIG_RUN) {
        if (action == CONFIG_HELP)
            config_usage(stdout, "natterd");
        else
            printf("natterd %s\n", NATTER_VERSION);
        config_free(&cfg);
        return EXIT_SUCCESS;
    }
    if (log_level_parse(cfg.log_level, &lv) == NT_OK)
        log_set_level(lv);
    umask(077);
    /* before any other SQLite call: no global lock around every SQLite
     * allocation (natterd reads no memory statistics) */
    if (dbconn_init() != NT_OK)
        log_warn("sqlite: memory statistics stay on");
    /* Block the stop signals in every thread (threads inherit the mask);
     * the main thread takes them with sigwait. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int status = run(&cfg, &sigs);
    config_free(&cfg);
    return status;
}
