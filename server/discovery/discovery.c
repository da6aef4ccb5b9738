/* discovery.c - multicast sockets and the discovery thread; see discovery.h. */
#include "server/discovery/discovery.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/ratelimit.h"
#include "crypto/rng.h"
#include "server/discovery/discovery_fetch.h"
#include "server/discovery/discovery_seen.h"

#define RATELIMIT_SLOTS 1024
#define RECV_BATCH 64          /* datagrams per wake before timers are checked again */
#define SKEW_WARN_EVERY_MS (60 * 1000)
/* Not a drop: the datagram waits for its key to be fetched (discovery_fetch)
 * and is checked, and counted, when the fetch is done. */
#define DISC_QUEUED DISC__COUNT

/* Key fetches (announcements without a key): node-wide 1/s, burst 4. */
static const ratelimit_config fetch_budget_cfg = {.rate_per_s = 1, .burst = 4};

typedef struct {
    int ifindex;
    struct in_addr addr;
    char name[IF_NAMESIZE];
} iface;

struct discovery {
    discovery_config c;
    char group_s[INET_ADDRSTRLEN];
    char ifname[IF_NAMESIZE];
    struct in_addr group;
    bool has_listen;          /* the peer API listens on listen only */
    struct in_addr listen;
    const identity *self;
    char name[DISCOVERY_NAME_MAX + 1];
    uint16_t peer_port;
    uint8_t instance[DISCOVERY_INSTANCE_LEN];
    uint32_t seq;
    int64_t skew_warned_ms;
    int64_t settled_unix_ms;  /* our start: announcements timestamped before it may be replays */
    discovery_hooks h;

    int fd;
    int wake[2];
    pthread_t thread;
    bool thread_started;

    iface ifs[DISCOVERY_IFACES_MAX];
    unsigned n_ifs;
    discovery_sched sched;
    ratelimit *rl;
    ratelimit_bucket verify_budget;
    ratelimit_bucket fetch_budget;
    discovery_fetch *fetch;

    pthread_mutex_t mu; /* guards stats and seen against readers on other threads */
    discovery_stats stats;
    discovery_seen *seen;
};

void discovery_config_defaults(discovery_config *c)
{
    memset(c, 0, sizeof *c);
    c->group = DISCOVERY_GROUP_DEFAULT;
    c->port = DISCOVERY_PORT_DEFAULT;
    c->ttl = DISCOVERY_TTL_DEFAULT;
    c->loop = true;
    discovery_sched_defaults(&c->sched);
    c->source_rate = 5;
    c->source_burst = 20;
    c->verify_rate = 1000;
    c->verify_burst = 200;
    c->fetch_timeout_ms = 500;
}

/* --- small helpers ---------------------------------------------------- */

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
static int64_t unix_ms(void) { return clock_ms(CLOCK_REALTIME); }

static uint32_t drbg_u32(void *ctx)
{
    (void)ctx;
    uint32_t v = 0;
    if (rng_bytes((uint8_t *)&v, sizeof v) != NT_OK)
        v = (uint32_t)mono_ms(); /* timing jitter only; never a secret */
    return v;
}

static void logf_(discovery *d, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(discovery *d, int level, const char *fmt, ...)
{
    if (!d->h.log)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    d->h.log(d->h.ctx, level, msg);
}

static void count(discovery *d, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&d->mu);
    *field += n;
    pthread_mutex_unlock(&d->mu);
}

/* --- interfaces and socket -------------------------------------------- */

static bool have_iface(const discovery *d, int ifindex)
{
    for (unsigned i = 0; i < d->n_ifs; i++)
        if (d->ifs[i].ifindex == ifindex)
            return true;
    return false;
}

/* Is a (one of getifaddrs) an interface to use? With a specific listen
 * address only the interface holding it (lo for 127.0.0.1): packets sent
 * elsewhere would carry a source address nothing of ours listens on. */
static bool iface_wanted(const discovery *d, const struct ifaddrs *a)
{
    if (d->ifname[0] && strcmp(a->ifa_name, d->ifname) != 0)
        return false;
    if (d->has_listen)
        return ((struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr == d->listen.s_addr;
    return d->ifname[0] || ((a->ifa_flags & IFF_MULTICAST) && !(a->ifa_flags & IFF_LOOPBACK));
}

/* Join the group on every up IPv4 interface that can multicast (or on the
 * named one, which may be lo; see iface_wanted). Called at start and then
 * every interval on its own timer (discovery_sched_scan_due); already-joined
 * interfaces are kept. */
static void scan_ifaces(discovery *d)
{
    struct ifaddrs *all = NULL;
    if (getifaddrs(&all) != 0) {
        logf_(d, 1, "discovery: getifaddrs: %s", strerror(errno));
        return;
    }
    iface now[DISCOVERY_IFACES_MAX];
    unsigned n = 0;
    for (struct ifaddrs *a = all; a && n < DISCOVERY_IFACES_MAX; a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !(a->ifa_flags & IFF_UP))
            continue;
        if (!iface_wanted(d, a))
            continue;
        int idx = (int)if_nametoindex(a->ifa_name);
        bool dup = false;
        for (unsigned i = 0; i < n; i++)
            dup |= now[i].ifindex == idx;
        if (idx <= 0 || dup)
            continue;
        now[n].ifindex = idx;
        now[n].addr = ((struct sockaddr_in *)a->ifa_addr)->sin_addr;
        snprintf(now[n].name, sizeof now[n].name, "%s", a->ifa_name);
        if (!have_iface(d, idx)) {
            struct ip_mreqn mr = {.imr_multiaddr = d->group, .imr_address = now[n].addr, .imr_ifindex = idx};
            if (setsockopt(d->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) != 0 && errno != EADDRINUSE) {
                logf_(d, 1, "discovery: join %s on %s: %s", d->group_s, a->ifa_name, strerror(errno));
                continue;
            }
            logf_(d, 2, "discovery: joined %s:%u on %s", d->group_s, (unsigned)d->c.port, a->ifa_name);
        }
        n++;
    }
    freeifaddrs(all);
    memcpy(d->ifs, now, n * sizeof now[0]);
    if (n == 0 && d->n_ifs != 0)
        logf_(d, 1, "discovery: no multicast-capable interface is up");
    d->n_ifs = n;
    pthread_mutex_lock(&d->mu);
    d->stats.interfaces = n;
    pthread_mutex_unlock(&d->mu);
}

static nt_err open_socket(discovery *d, char *err)
{
    int one = 1, zero = 0;
    unsigned char ttl = (unsigned char)d->c.ttl, loop = d->c.loop ? 1 : 0;
    d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (d->fd < 0)
        goto fail;
    /* Several nodes on one host share the port. Binding to the group
     * address keeps unicast datagrams to the port out. */
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(d->c.port), .sin_addr = d->group};
    if (setsockopt(d->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(d->fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero) != 0 ||
        setsockopt(d->fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0 ||
        setsockopt(d->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0 ||
        setsockopt(d->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0)
        goto fail;
    if (d->c.rcvbuf > 0 && setsockopt(d->fd, SOL_SOCKET, SO_RCVBUF, &d->c.rcvbuf, sizeof d->c.rcvbuf) != 0)
        goto fail;
    if (bind(d->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        goto fail;
    return NT_OK;
fail:
    snprintf(err, DISCOVERY_ERR_MAX, "discovery socket on %s:%u: %s", d->group_s, (unsigned)d->c.port,
             strerror(errno));
    return NT_ERR_IO;
}

static void send_all(discovery *d, const uint8_t *buf, size_t len)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(d->c.port), .sin_addr = d->group};
    uint64_t ok = 0, bad = 0;
    for (unsigned i = 0; i < d->n_ifs; i++) {
        struct ip_mreqn mr = {.imr_address = d->ifs[i].addr, .imr_ifindex = d->ifs[i].ifindex};
        if (setsockopt(d->fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr) != 0 ||
            sendto(d->fd, buf, len, 0, (struct sockaddr *)&to, sizeof to) != (ssize_t)len) {
            bad++;
            logf_(d, 3, "discovery: send on %s: %s", d->ifs[i].name, strerror(errno));
        } else {
            ok++;
        }
    }
    pthread_mutex_lock(&d->mu);
    d->stats.sent += ok;
    d->stats.send_errors += bad;
    pthread_mutex_unlock(&d->mu);
}

/* An announcement, or a goodbye (flags DISCOVERY_FLAG_GOODBYE). */
static void announce(discovery *d, uint8_t flags)
{
    uint8_t buf[DISCOVERY_PACKET_MAX];
    size_t len = 0;
    char name[DISCOVERY_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s", d->name);
    if (d->h.name) {
        d->h.name(d->h.ctx, name);
        if (!discovery_packet_name_ok(name, strlen(name)))
            snprintf(name, sizeof name, "%s", d->name);
    }
    discovery_announce_fields f = {.timestamp_ms = unix_ms(), .seq = ++d->seq, .peer_port = d->peer_port,
                                   .name = name, .flags = flags, .has_addr = d->has_listen};
    memcpy(f.instance_id, d->instance, sizeof f.instance_id);
    memcpy(f.addr, &d->listen.s_addr, sizeof f.addr);
    nt_err rc = discovery_packet_encode_announce(d->self, &f, buf, sizeof buf, &len);
    if (rc) {
        logf_(d, 0, "discovery: encode announcement: %s", err_str(rc));
        return;
    }
    send_all(d, buf, len);
}

static void query(discovery *d)
{
    uint8_t buf[DISCOVERY_QUERY_LEN];
    size_t len = 0;
    if (discovery_packet_encode_query(identity_id(d->self), d->instance, unix_ms(), buf, sizeof buf, &len) == NT_OK)
        send_all(d, buf, len);
}

/* --- receiving -------------------------------------------------------- */

/* The key to check p with: the cached one, the one in the packet (bound
 * to the id), or fetched. *fresh is set when the caller owns the result. */
static discovery_drop key_for(discovery *d, const discovery_packet *p, struct in_addr src, int64_t now,
                              const identity **key, identity **fresh)
{
    *fresh = NULL;
    *key = discovery_seen_key(d->seen, p->node_id);
    if (p->key) {
        /* The id is the key's hash, so a cached key for the id is this
         * key: then the binding (one SHA-256) is all there is to check,
         * and the DER is parsed only the first time. */
        if (*key)
            return discovery_packet_check_binding(p);
        discovery_drop r = discovery_packet_check_key(p, fresh);
        if (r == DISC_OK)
            *key = *fresh;
        return r;
    }
    if (*key)
        return DISC_OK;
    if (d->h.pinned_key && (*fresh = d->h.pinned_key(d->h.ctx, p->node_id)) != NULL) {
        if (memcmp(identity_id(*fresh), p->node_id, IDENTITY_ID_LEN) == 0) {
            *key = *fresh;
            return DISC_OK;
        }
        identity_free(*fresh);
        *fresh = NULL;
    }
    if (p->flags & DISCOVERY_FLAG_GOODBYE)
        return DISC_KEY_UNAVAILABLE; /* no fetch from a node that is going */
    /* A fetch goes to whatever address the datagram claims to come from,
     * so fetches are few node-wide, not just per id; they run on the
     * fetcher's threads (one per id and per source at a time), and the
     * datagram is checked when its fetch is done (fetch_done). */
    if (!discovery_seen_fetch_allowed(d->seen, p->node_id, now) ||
        !ratelimit_bucket_take(&d->fetch_budget, &fetch_budget_cfg, now))
        return DISC_KEY_UNAVAILABLE;
    size_t len = p->signed_len + 2 + p->sig_len; /* the whole datagram (no trailing bytes) */
    if (discovery_fetch_submit(d->fetch, p->raw, len, src, p->peer_port, p->node_id) != NT_OK)
        return DISC_KEY_UNAVAILABLE;
    count(d, &d->stats.key_fetches, 1);
    return DISC_QUEUED;
}

/* Check p's signature with key and record it. *fresh, when not NULL, is
 * key and owned by the caller; the seen table may take it. */
static discovery_drop accept_with_key(discovery *d, const discovery_packet *p, struct in_addr src, int64_t now,
                                      const identity *key, identity **fresh)
{
    discovery_drop r;
    if (!ratelimit_bucket_take(&d->verify_budget,
                               &(ratelimit_config){.rate_per_s = d->c.verify_rate, .burst = d->c.verify_burst}, now)) {
        r = DISC_BUSY;
        goto out;
    }
    struct in_addr at;
    if ((r = discovery_packet_verify(p, key)) != DISC_OK ||
        (r = discovery_packet_address(p, (const uint8_t *)&src.s_addr, (uint8_t *)&at.s_addr)) != DISC_OK)
        goto out;

    char addr[INET_ADDRSTRLEN + 8], ips[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &at, ips, sizeof ips);
    snprintf(addr, sizeof addr, "%s:%u", ips, (unsigned)p->peer_port);
    bool is_new = false, new_peer = false, new_inst = false, bye = p->flags & DISCOVERY_FLAG_GOODBYE;
    bool expendable = bye && discovery_seen_expendable(d->seen, p->node_id);
    /* A goodbye is recorded only for a node heard since start: one from a
     * stranger asks nothing of the peer table (and so of its cap of new
     * ids per source), so it must not take a slot either. */
    bool keep = !bye || discovery_seen_get(d->seen, p->node_id, NULL, NULL);
    bool maybe_replay = p->timestamp_ms < d->settled_unix_ms;
    nt_err orc = NT_OK;
    if (bye && d->h.goodbye)
        d->h.goodbye(d->h.ctx, p->node_id);
    else if (!bye && d->h.observe)
        orc = d->h.observe(d->h.ctx, key, p->name, addr, p->instance_id, unix_ms() / 1000, maybe_replay, &is_new,
                           &expendable);
    if (orc) {
        r = orc == NT_ERR_BUSY ? DISC_PEER_CAP : DISC_STORE;
        goto out;
    }
    pthread_mutex_lock(&d->mu);
    if (keep && !discovery_seen_accept(d->seen, p, fresh, now, expendable, &new_peer, &new_inst))
        r = DISC_BUSY; /* cannot happen: seen_ok made sure of room on this thread */
    d->stats.announces++;
    d->stats.restarts += new_inst;
    d->stats.peers = (unsigned)discovery_seen_count(d->seen);
    pthread_mutex_unlock(&d->mu);
    if (new_peer || new_inst) {
        char hex[IDENTITY_ID_HEX_LEN + 1];
        for (int i = 0; i < 8; i++)
            snprintf(hex + 2 * i, 3, "%02x", p->node_id[i]);
        logf_(d, 2, "discovery: %s %s \"%s\" at %s", new_inst ? "restarted" : "found", hex, p->name, addr);
    }
    if (bye)
        logf_(d, 2, "discovery: \"%s\" at %s said goodbye", p->name, addr);
out:
    return r;
}

/* The seen table's verdict before any work: a replay, or a new id with no
 * room to remember it (then its replay state could not be kept). A
 * goodbye from a node not heard since start is not remembered (see
 * accept_with_key), so nothing would stop its replays: one timestamped
 * before our start may be an old one, and is taken for a replay (an
 * announcement from then may not move a peer either). Only the discovery
 * thread changes the table, so the answer holds until accept_with_key
 * records p. */
static discovery_drop seen_ok(discovery *d, const discovery_packet *p, int64_t now)
{
    discovery_drop r = discovery_seen_check(d->seen, p);
    if (r != DISC_OK)
        return r;
    if (!(p->flags & DISCOVERY_FLAG_GOODBYE))
        return discovery_seen_room(d->seen, p->node_id, now);
    bool heard = discovery_seen_get(d->seen, p->node_id, NULL, NULL);
    return !heard && p->timestamp_ms < d->settled_unix_ms ? DISC_REPLAY : DISC_OK;
}

static discovery_drop accept_announce(discovery *d, const discovery_packet *p, struct in_addr src, int64_t now)
{
    const identity *key = NULL;
    identity *fresh = NULL;
    discovery_drop r = seen_ok(d, p, now);
    if (r == DISC_OK && (r = key_for(d, p, src, now, &key, &fresh)) == DISC_OK)
        r = accept_with_key(d, p, src, now, key, &fresh);
    identity_free(fresh);
    return r;
}

/* Count a datagram's fate (lock not held). */
static void count_result(discovery *d, discovery_drop r)
{
    if (r == DISC_OK || r == DISC_QUEUED)
        return;
    pthread_mutex_lock(&d->mu);
    d->stats.dropped[r]++;
    pthread_mutex_unlock(&d->mu);
    if (r != DISC_OWN)
        logf_(d, 3, "discovery: dropped a datagram: %s", discovery_drop_str(r));
}

/* The datagrams whose key fetch finished: checked now, with the key. */
static void fetch_done(discovery *d)
{
    discovery_fetch_job *j = malloc(sizeof *j);
    while (j && discovery_fetch_take(d->fetch, j)) {
        int64_t now = mono_ms();
        discovery_packet p;
        discovery_drop r = j->result;
        if (r != DISC_OK) {
            pthread_mutex_lock(&d->mu);
            discovery_seen_fetch_failed(d->seen, j->id, now);
            pthread_mutex_unlock(&d->mu);
        } else if ((r = discovery_packet_decode(j->pkt, j->len, &p)) == DISC_OK &&
                   (r = seen_ok(d, &p, now)) == DISC_OK) {
            r = accept_with_key(d, &p, j->src, now, j->key, &j->key);
        }
        identity_free(j->key);
        count_result(d, r);
    }
    free(j);
}

static discovery_drop handle(discovery *d, const uint8_t *buf, size_t n, struct in_addr src, int64_t now)
{
    discovery_packet p;
    discovery_drop r;
    if (n > DISCOVERY_PACKET_MAX)
        return DISC_TOO_BIG;
    /* Our own packets (multicast loop) are set aside before the source's
     * token bucket, which nodes sharing one host address (lo) share. A
     * forger using our id gains nothing: such packets are dropped here. */
    if (n >= DISCOVERY_HEADER_LEN && memcmp(buf, DISCOVERY_MAGIC, DISCOVERY_MAGIC_LEN) == 0 &&
        memcmp(buf + DISCOVERY_MAGIC_LEN + 2, identity_id(d->self), IDENTITY_ID_LEN) == 0)
        return DISC_OWN;
    if (!ratelimit_allow(d->rl, &src, sizeof src, now))
        return DISC_RATE_LIMITED;
    if ((r = discovery_packet_decode(buf, n, &p)) != DISC_OK)
        return r;
    if (memcmp(p.node_id, identity_id(d->self), IDENTITY_ID_LEN) == 0)
        return DISC_OWN;
    if ((r = discovery_packet_check_time(&p, unix_ms(), DISCOVERY_TIME_WINDOW_MS)) != DISC_OK)
        return r;
    if (p.type == DISCOVERY_QUERY) {
        discovery_sched_on_query(&d->sched, now);
        count(d, &d->stats.queries, 1);
        return DISC_OK;
    }
    return accept_announce(d, &p, src, now);
}

/* Read what is queued, at most RECV_BATCH datagrams. */
static void drain(discovery *d)
{
    uint8_t buf[DISCOVERY_PACKET_MAX + 1];
    char ctl[CMSG_SPACE(sizeof(uint32_t))];
    for (int i = 0; i < RECV_BATCH; i++) {
        struct sockaddr_in src;
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
        struct msghdr mh = {.msg_name = &src, .msg_namelen = sizeof src, .msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = ctl, .msg_controllen = sizeof ctl};
        /* MSG_TRUNC: the real length, so an oversized datagram is seen
         * as such and not as a truncated packet. */
        ssize_t n = recvmsg(d->fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0)
            return;
        uint32_t ovfl = 0;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL)
                memcpy(&ovfl, CMSG_DATA(cm), sizeof ovfl);
        discovery_drop r = mh.msg_namelen >= sizeof src && src.sin_family == AF_INET
                               ? handle(d, buf, (size_t)n, src.sin_addr, mono_ms())
                               : DISC_TRUNCATED;
        pthread_mutex_lock(&d->mu);
        d->stats.received++;
        if (ovfl > d->stats.overflow)
            d->stats.overflow = ovfl;
        pthread_mutex_unlock(&d->mu);
        if (r == DISC_TIME_SKEW && mono_ms() - d->skew_warned_ms >= SKEW_WARN_EVERY_MS) {
            /* The one drop a user can fix: say so, but not per packet. */
            char ips[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &src.sin_addr, ips, sizeof ips);
            logf_(d, 1, "discovery: ignoring %s: its clock differs from ours by more than %lld s", ips,
                  DISCOVERY_TIME_WINDOW_MS / 1000);
            d->skew_warned_ms = mono_ms();
        }
        count_result(d, r);
    }
}

static void *run(void *arg)
{
    pthread_setname_np(pthread_self(), "discovery");
    discovery *d = arg;
    for (;;) {
        int64_t now = mono_ms();
        unsigned todo = discovery_sched_poll(&d->sched, now);
        if (discovery_sched_scan_due(&d->sched, now))
            scan_ifaces(d);
        if (todo & DISCOVERY_DO_ANNOUNCE)
            announce(d, 0);
        if (todo & DISCOVERY_DO_QUERY)
            query(d);
        int64_t next = discovery_sched_next_ms(&d->sched), scan = discovery_sched_next_scan_ms(&d->sched);
        int64_t wait = (scan < next ? scan : next) - mono_ms();
        if (wait < 0)
            wait = 0;
        if (wait > 60000)
            wait = 60000;
        struct pollfd pf[3] = {{.fd = d->fd, .events = POLLIN},
                               {.fd = d->wake[0], .events = POLLIN},
                               {.fd = discovery_fetch_fd(d->fetch), .events = POLLIN}};
        int k = poll(pf, 3, (int)wait);
        if (k < 0 && errno != EINTR)
            logf_(d, 0, "discovery: poll: %s", strerror(errno));
        if (pf[1].revents)
            break;
        if (pf[2].revents & POLLIN)
            fetch_done(d);
        if (pf[0].revents & POLLIN)
            drain(d);
    }
    return NULL;
}

/* --- lifecycle -------------------------------------------------------- */

/* What discovery_start refuses before it opens anything; d->group is set. */
static nt_err check_config(discovery *d, const discovery_config *c, const char *name, size_t nlen, uint16_t peer_port,
                           char err[static DISCOVERY_ERR_MAX])
{
    if (!discovery_packet_name_ok(name, nlen) || !identity_has_private(d->self) || peer_port == 0) {
        snprintf(err, DISCOVERY_ERR_MAX, "discovery: bad name, key or peer port");
        return NT_ERR_INVALID;
    }
    if (!c->group || inet_pton(AF_INET, c->group, &d->group) != 1 || !IN_MULTICAST(ntohl(d->group.s_addr))) {
        snprintf(err, DISCOVERY_ERR_MAX, "discovery: group %s is not an IPv4 multicast address",
                 c->group ? c->group : "(none)");
        return NT_ERR_INVALID;
    }
    if (c->port == 0 || c->ttl < 1 || c->ttl > 255 || c->sched.interval_ms <= 0 || c->sched.expiry_ms <= 0 ||
        !c->source_rate || !c->source_burst || !c->verify_rate || !c->verify_burst) {
        snprintf(err, DISCOVERY_ERR_MAX, "discovery: bad port, TTL, interval or limits");
        return NT_ERR_INVALID;
    }
    if (c->interface && strlen(c->interface) >= IF_NAMESIZE) {
        snprintf(err, DISCOVERY_ERR_MAX, "discovery: interface name too long");
        return NT_ERR_INVALID;
    }
    if (c->interface && c->interface[0] && if_nametoindex(c->interface) == 0) {
        snprintf(err, DISCOVERY_ERR_MAX, "discovery: no interface %s", c->interface);
        return NT_ERR_INVALID;
    }
    return NT_OK;
}

nt_err discovery_start(discovery **out, const discovery_config *c, const identity *self, const char *name,
                       uint16_t peer_port, const discovery_hooks *hooks, char err[static DISCOVERY_ERR_MAX])
{
    nt_err rc = NT_ERR_INVALID;
    discovery *d = calloc(1, sizeof *d);
    *out = NULL;
    err[0] = '\0';
    if (!d) {
        snprintf(err, DISCOVERY_ERR_MAX, "discovery: out of memory");
        return NT_ERR_NOMEM;
    }
    d->fd = d->wake[0] = d->wake[1] = -1;
    d->skew_warned_ms = INT64_MIN / 2;
    /* Our replay state (discovery_seen) starts empty: a packet sent before
     * now could be replayed to us once. Its timestamp says so, on the
     * sender's clock: a sender whose clock runs s ahead of ours leaves its
     * last s before our start open. Waiting out the whole window instead
     * would leave every known peer's address where it was for 300 s after
     * each start, also a peer that restarted elsewhere meanwhile. */
    d->settled_unix_ms = unix_ms();
    pthread_mutex_init(&d->mu, NULL);
    d->c = *c;
    d->self = self;
    d->peer_port = peer_port;
    d->has_listen = c->listen && c->listen[0] && inet_pton(AF_INET, c->listen, &d->listen) == 1 &&
                    d->listen.s_addr != htonl(INADDR_ANY);
    if (hooks)
        d->h = *hooks;
    size_t nlen = name ? strlen(name) : 0;
    if ((rc = check_config(d, c, name, nlen, peer_port, err)))
        goto out;
    memcpy(d->name, name, nlen + 1);
    snprintf(d->ifname, sizeof d->ifname, "%s", c->interface ? c->interface : "");
    inet_ntop(AF_INET, &d->group, d->group_s, sizeof d->group_s);
    d->c.group = d->group_s;
    d->c.interface = d->ifname;
    d->c.listen = NULL; /* borrowed; d->listen holds it */
    if ((rc = rng_bytes(d->instance, sizeof d->instance)) != NT_OK) {
        snprintf(err, DISCOVERY_ERR_MAX, "discovery: rng: %s", err_str(rc));
        goto out;
    }
    ratelimit_config rlc = {.rate_per_s = c->source_rate, .burst = c->source_burst};
    if ((rc = ratelimit_new(&d->rl, &rlc, RATELIMIT_SLOTS)) != NT_OK ||
        (rc = discovery_seen_new(&d->seen, DISCOVERY_SEEN_DEFAULT_CAP)) != NT_OK ||
        (rc = discovery_fetch_new(&d->fetch, c->fetch_timeout_ms)) != NT_OK) {
        snprintf(err, DISCOVERY_ERR_MAX, "discovery: %s", err_str(rc));
        goto out;
    }
    int64_t now = mono_ms();
    ratelimit_bucket_init(&d->verify_budget, &(ratelimit_config){.rate_per_s = c->verify_rate, .burst = c->verify_burst},
                          now);
    ratelimit_bucket_init(&d->fetch_budget, &fetch_budget_cfg, now);
    discovery_sched_init(&d->sched, &c->sched, now, drbg_u32, NULL);
    if ((rc = open_socket(d, err)) != NT_OK)
        goto out;
    if (pipe2(d->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        rc = NT_ERR_IO;
        snprintf(err, DISCOVERY_ERR_MAX, "discovery: pipe: %s", strerror(errno));
        goto out;
    }
    scan_ifaces(d);
    if (d->n_ifs == 0)
        logf_(d, 1, "discovery: no %s interface is up yet; will retry at each announcement",
              d->ifname[0] ? d->ifname : "multicast-capable");
    if (pthread_create(&d->thread, NULL, run, d) != 0) {
        rc = NT_ERR_NOMEM;
        snprintf(err, DISCOVERY_ERR_MAX, "discovery: cannot start thread");
        goto out;
    }
    d->thread_started = true;
    *out = d;
    d = NULL;
    rc = NT_OK;
out:
    discovery_stop(d);
    return rc;
}

void discovery_stop(discovery *d)
{
    if (!d)
        return;
    if (d->thread_started) {
        ssize_t w = write(d->wake[1], "x", 1);
        (void)w;
        pthread_join(d->thread, NULL);
        announce(d, DISCOVERY_FLAG_GOODBYE); /* the thread is gone: the socket is ours */
    }
    discovery_fetch_free(d->fetch); /* after the thread: it is the only caller */
    if (d->fd >= 0)
        close(d->fd);
    for (int i = 0; i < 2; i++)
        if (d->wake[i] >= 0)
            close(d->wake[i]);
    ratelimit_free(d->rl);
    discovery_seen_free(d->seen);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

void discovery_stats_get(discovery *d, discovery_stats *out)
{
    pthread_mutex_lock(&d->mu);
    *out = d->stats;
    pthread_mutex_unlock(&d->mu);
}

void discovery_instance_id(const discovery *d, uint8_t out[static DISCOVERY_INSTANCE_LEN])
{
    memcpy(out, d->instance, DISCOVERY_INSTANCE_LEN);
}
