/* discovery_node.c - see discovery_node.h. */
#include "server/discovery/discovery_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "crypto/encoding.h"
#include "server/discovery/discovery.h"
#include "storage/peers.h"
#include "server/peer/peer_names.h"

/* A known peer's row is written only when an announcement says something
 * new (name, address, instance) or its last_seen is refresh_s old: a
 * write is a commit, an fsync under the store lock, and announcements
 * come every interval. */
#define ANNOUNCE_REFRESH_MAX_S 60

/* The peer list shows a peer online while its last_seen is within
 * --peer-expiry (client_peers), and the announcement after the one that
 * found the row fresh may come 1.2 intervals later (jitter): half of what
 * is left keeps a margin for whole seconds. 0 (write every time) when
 * nothing is left: e.g. test settings. */
static int64_t refresh_s(const config *cfg)
{
    int64_t slack_ds = (int64_t)cfg->peer_expiry * 10 - (int64_t)cfg->announce_interval * 12; /* tenths of s */
    int64_t r = slack_ds > 0 ? slack_ds / 20 : 0;
    return r < ANNOUNCE_REFRESH_MAX_S ? r : ANNOUNCE_REFRESH_MAX_S;
}

/* The peer row of id, if any, into *p; *known set. */
static nt_err row_of(node *nd, const identity *pub, peer_info *p, bool *known)
{
    nt_err rc = peers_get(nd->db, identity_id(pub), p);
    *known = rc == NT_OK;
    return rc == NT_ERR_NOT_FOUND ? NT_OK : rc;
}

/* Does the row p already say all that a sighting would write? */
static bool row_fresh(const peer_info *p, const char *name, const char *addr, const uint8_t *instance_id,
                      int64_t now_unix, int64_t refresh)
{
    return now_unix - p->last_seen < refresh && (!name || !strcmp(p->name, name)) &&
           (!addr || !strcmp(p->address, addr)) &&
           (!instance_id || (p->has_instance && !memcmp(p->instance_id, instance_id, PEERS_INSTANCE_LEN)));
}

static nt_err observe(void *ctx, const identity *pub, const char *name, const char *addr, const uint8_t *instance_id,
                      int64_t now_unix, bool maybe_replay, bool *is_new, bool *expendable)
{
    node *nd = ctx;
    char origin[PEERS_ADDR_MAX];
    peers_sighting sg = {0};
    bool known = false, fresh = false;
    snprintf(origin, sizeof origin, "%s", addr);
    char *colon = strrchr(origin, ':');
    if (colon)
        *colon = 0;
    *is_new = false;
    peer_info *p = malloc(sizeof *p);
    nt_err rc = p ? row_of(nd, pub, p, &known) : NT_ERR_NOMEM;
    if (!rc && known && maybe_replay) {
        /* Perhaps an old announcement replayed from elsewhere: the peer is
         * up (its key signed it), but nothing it says moves the row. */
        name = addr = NULL;
        instance_id = NULL;
    }
    if (!rc)
        fresh = known && row_fresh(p, name, addr, instance_id, now_unix, refresh_s(nd->cfg));
    /* a multicast sighting leaves the source as it is: new rows are "multicast" */
    *expendable = !rc && (!known || (!strcmp(p->source, "multicast") && !p->trusted));
    free(p);
    if (!rc && !fresh)
        rc = peer_names_record(nd, pub, name, addr, "multicast", instance_id, origin, now_unix, &sg);
    *is_new = sg.is_new;
    if (rc && rc != NT_ERR_BUSY)
        log_warn("discovery: peer table refused %s at %s: %s", name ? name : "a known peer", origin, err_str(rc));
    if (!rc)
        peer_names_presence(nd, identity_id(pub), true, false, "announced itself");
    return rc;
}

/* Only for a peer in the table: a stranger's goodbye is no news. */
static void goodbye(void *ctx, const uint8_t id[static IDENTITY_ID_LEN])
{
    node *nd = ctx;
    identity *k = NULL;
    if (peers_get_key(nd->db, id, &k) == NT_OK)
        peer_names_presence(nd, id, false, false, "said goodbye (stopping)");
    identity_free(k);
}

static identity *pinned_key(void *ctx, const uint8_t id[static IDENTITY_ID_LEN])
{
    node *nd = ctx;
    identity *k = NULL;
    return peers_get_key(nd->db, id, &k) == NT_OK ? k : NULL;
}

static void current_name(void *ctx, char out[static DISCOVERY_NAME_MAX + 1])
{
    char name[TEXT_NAME_MAX + 1];
    node_name(ctx, name);
    snprintf(out, DISCOVERY_NAME_MAX + 1, "%s", name);
}

static void log_hook(void *ctx, int level, const char *msg)
{
    (void)ctx;
    static const log_level map[] = {LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG};
    if (level >= 0 && level <= 3 && log_enabled(map[level]))
        log_msg(map[level], "%s", msg);
}

/* The port of "host:port" / "[v6]:port". */
static uint16_t port_of(const char *addr)
{
    const char *c = strrchr(addr, ':');
    long p = c ? strtol(c + 1, NULL, 10) : 0;
    return p > 0 && p <= 65535 ? (uint16_t)p : 0;
}

/* The host of "host:port" (brackets of "[v6]" kept: not IPv4 then). */
static void host_of(const char *addr, char out[static HTTP_ADDR_MAX])
{
    snprintf(out, HTTP_ADDR_MAX, "%s", addr);
    char *c = strrchr(out, ':');
    if (c)
        *c = '\0';
}

nt_err discovery_node_start(node *nd, char err[static NODE_ERR_MAX])
{
    const config *cfg = nd->cfg;
    nd->discovery = NULL;
    if (cfg->no_discovery) {
        log_info("discovery: off (--no-discovery)");
        return NT_OK;
    }
    if (cfg->peer_expiry <= cfg->announce_interval) {
        snprintf(err, NODE_ERR_MAX, "--peer-expiry (%lu s) must be longer than --announce-interval (%lu s)",
                 cfg->peer_expiry, cfg->announce_interval);
        return NT_ERR_INVALID;
    }
    discovery_config c;
    discovery_config_defaults(&c);
    c.group = cfg->discovery_group;
    c.port = (uint16_t)cfg->discovery_port;
    c.interface = cfg->interface;
    c.ttl = (unsigned)cfg->discovery_ttl;
    c.sched.interval_ms = (int64_t)cfg->announce_interval * 1000;
    c.sched.expiry_ms = (int64_t)cfg->peer_expiry * 1000;
    char name[TEXT_NAME_MAX + 1], derr[DISCOVERY_ERR_MAX], listen[HTTP_ADDR_MAX];
    host_of(nd->peer_addr, listen);
    c.listen = listen;
    node_name(nd, name);
    discovery_hooks h = {.ctx = nd, .observe = observe, .name = current_name, .pinned_key = pinned_key,
                         .log = log_hook, .goodbye = goodbye};
    nt_err rc = discovery_start(&nd->discovery, &c, nd->id, name, port_of(nd->peer_addr), &h, derr);
    if (rc)
        snprintf(err, NODE_ERR_MAX, "%s", derr);
    return rc;
}

void discovery_node_stop(node *nd)
{
    discovery_stop(nd->discovery);
    nd->discovery = NULL;
}

json_t *discovery_node_status(node *nd)
{
    discovery *d = nd->discovery;
    if (!d)
        return json_pack("{s:b}", "enabled", 0);
    discovery_stats s;
    discovery_stats_get(d, &s);
    uint8_t inst[DISCOVERY_INSTANCE_LEN];
    char inst_hex[2 * DISCOVERY_INSTANCE_LEN + 1] = "";
    discovery_instance_id(d, inst);
    if (encoding_hex_encode(inst, sizeof inst, inst_hex, sizeof inst_hex) != NT_OK)
        inst_hex[0] = '\0';
    json_t *dropped = json_object();
    for (int r = DISC_OK + 1; r < DISC__COUNT; r++)
        json_object_set_new(dropped, discovery_drop_str((discovery_drop)r), json_integer((json_int_t)s.dropped[r]));
    const config *cfg = nd->cfg;
    json_t *o = json_object();
    const struct {
        const char *k;
        uint64_t v;
    } nums[] = {
        {"port", cfg->discovery_port},
        {"interfaces", s.interfaces},
        {"announce_interval_s", cfg->announce_interval},
        {"peer_expiry_s", cfg->peer_expiry},
        {"peers", s.peers},
        {"sent", s.sent},
        {"send_errors", s.send_errors},
        {"received", s.received},
        {"announces", s.announces},
        {"queries", s.queries},
        {"restarts", s.restarts},
        {"key_fetches", s.key_fetches},
        {"overflow", s.overflow},
    };
    json_object_set_new(o, "enabled", json_true());
    json_object_set_new(o, "group", json_string(cfg->discovery_group));
    json_object_set_new(o, "interface", cfg->interface ? json_string(cfg->interface) : json_null());
    json_object_set_new(o, "instance_id", json_string(inst_hex));
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        json_object_set_new(o, nums[i].k, json_integer((json_int_t)nums[i].v));
    json_object_set_new(o, "dropped", dropped);
    return o;
}
