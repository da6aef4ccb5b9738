/* bench/discovery.c - how fast nodes find each other, and how much a
 * receiver takes before it drops.
 *
 *   build/bench/discovery [--nodes 3,20] [--skip-mesh] [--skip-flood]
 *
 * 1. mesh (needs root + iproute2; $NATTERD): for each N, N real natterd in
 *    N network namespaces on one bridge (default interface choice,
 *    --key-bits 2048, a private group and port) all start at once; then
 *    one more node joins the running mesh. From the nodes' logs (the
 *    "ready" line and each "discovery: found <id>" line, ms timestamps on
 *    one clock) it reports:
 *      pair   latency of "Y lists X" after both were ready (median, max)
 *      mesh   last node ready -> every node lists every other
 *      join   the extra node ready -> listed by every other node
 * 2. flood (in-process receiver in a private namespace's lo, or skipped
 *    without root): datagrams sent as fast as one thread can, to one
 *    discovery receiver; reports what it read per second, what the kernel
 *    dropped (socket buffer full: SO_RXQ_OVFL) and how long after the
 *    flood its queue was empty (drain). Cases: junk (bad magic), valid
 *    signed announcements (RSA-2048, one sender, distinct seq) with the
 *    node's default limits and with the limits lifted.
 *
 * Output lines are "name value unit" for scripts; '#' lines are comments. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_keys.h"
#include "crypto/identity.h"
#include "crypto/rng.h"
#include "server/discovery/discovery.h"

/* The namespace plumbing is the integration tests' (one copy of it). */
#include "tests/integration/harness_netns.c"

#define MAX_NODES 24
#define READY_TIMEOUT_MS 120000
#define MESH_TIMEOUT_MS 30000

static harness_netns net;
static char group[16];
static uint16_t port;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void cleanup(void) { harness_netns_destroy(&net); }
static void on_signal(int sig)
{
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void private_group(void)
{
    uint8_t r[4] = {0};
    if (rng_bytes(r, sizeof r) != NT_OK)
        exit(1);
    snprintf(group, sizeof group, "239.255.%u.%u", r[0], r[1] | 1);
    port = (uint16_t)(20000 + (r[2] << 8 | r[3]) % 40000);
}

/* --- 1. mesh ---------------------------------------------------------- */

typedef struct {
    pid_t pid;
    char dir[128];
    char id16[17]; /* first 16 hex digits of the node id, as logged */
    long long ready_ms; /* wall ms from the log */
} bnode;

/* "2026-11-22T04:11:58.371Z ..." -> ms since the epoch */
static long long log_ms(const char *line)
{
    struct tm tm = {0};
    int ms = 0;
    if (sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000 + ms;
}

static int spawn_node(bnode *b, int ns, int k, const char *natterd)
{
    char data[160], logp[160], name[32], ports[8];
    snprintf(b->dir, sizeof b->dir, "/tmp/natter-bench-XXXXXX");
    if (!mkdtemp(b->dir))
        return -1;
    snprintf(data, sizeof data, "%s/data", b->dir);
    snprintf(logp, sizeof logp, "%s/log", b->dir);
    snprintf(name, sizeof name, "bench-%d", k);
    snprintf(ports, sizeof ports, "%u", (unsigned)port);
    if (harness_netns_enter(&net, ns) != 0)
        return -1;
    b->pid = fork();
    if (b->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(natterd, natterd, "--data-dir", data, "--listen", "0.0.0.0:0", "--client-listen", "127.0.0.1:0",
              "--key-bits", "2048", "--name", name, "--no-discovery=off", "--discovery-group", group,
              "--discovery-port", ports, (char *)NULL);
        _exit(127);
    }
    (void)harness_netns_enter(&net, -1);
    return b->pid > 0 ? 0 : -1;
}

/* Reads b's log: ready time and id; and, for each other node, when b
 * found it (found[j] = -1 if not yet). */
static void scan_log(bnode *b, bnode *all, int n, long long *found)
{
    char path[192], line[512];
    snprintf(path, sizeof path, "%s/log", b->dir);
    for (int j = 0; j < n; j++)
        found[j] = -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        const char *p;
        if (!b->id16[0] && (p = strstr(line, "] info: node ")) != NULL)
            snprintf(b->id16, sizeof b->id16, "%.16s", p + strlen("] info: node "));
        if (!b->ready_ms && strstr(line, "] info: ready: "))
            b->ready_ms = log_ms(line);
        if ((p = strstr(line, "discovery: found ")) != NULL || (p = strstr(line, "discovery: restarted ")) != NULL) {
            p = strchr(p + strlen("discovery: "), ' ') + 1;
            for (int j = 0; j < n; j++)
                if (all[j].id16[0] && strncmp(p, all[j].id16, 16) == 0 && found[j] < 0)
                    found[j] = log_ms(line);
        }
    }
    fclose(f);
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static void stop_nodes(bnode *b, int n)
{
    for (int i = 0; i < n; i++)
        if (b[i].pid > 0)
            kill(b[i].pid, SIGTERM);
    for (int i = 0; i < n; i++) {
        if (b[i].pid > 0)
            waitpid(b[i].pid, NULL, 0);
        char cmd[160];
        snprintf(cmd, sizeof cmd, "rm -rf %s", b[i].dir);
        if (system(cmd) != 0)
            fprintf(stderr, "# could not remove %s\n", b[i].dir);
    }
}

/* All of b[0..n) ready, with ids. */
static bool all_ready(bnode *b, int n)
{
    static long long found[MAX_NODES + 1];
    for (int i = 0; i < n; i++) {
        scan_log(&b[i], b, n, found);
        if (!b[i].ready_ms || !b[i].id16[0])
            return false;
    }
    return true;
}

/* Latest time any node of b[0..n) other than x listed x; -1 if one has not. */
static long long listed_by_all(bnode *b, int n, int x, long long (*found)[MAX_NODES + 1])
{
    long long last = 0;
    for (int y = 0; y < n; y++) {
        if (y == x)
            continue;
        if (found[y][x] < 0)
            return -1;
        last = found[y][x] > last ? found[y][x] : last;
    }
    return last;
}

static int mesh(int n, const char *natterd)
{
    static bnode b[MAX_NODES + 1];
    static long long found[MAX_NODES + 1][MAX_NODES + 1];
    static long long pair[MAX_NODES * MAX_NODES];
    char why[256];
    int rc = -1, total = n + 1;
    memset(b, 0, sizeof b);
    private_group();
    if (harness_netns_create(&net, total, why, sizeof why) != 0) {
        printf("# SKIPPED: mesh %d: %s\n", n, why);
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (spawn_node(&b[i], i, i, natterd) != 0)
            goto out;
    long long t0 = now_ms();
    while (!all_ready(b, n) && now_ms() - t0 < READY_TIMEOUT_MS)
        pause_ms(50);
    bool done = false;
    for (long long t1 = now_ms(); !done && now_ms() - t1 < MESH_TIMEOUT_MS; pause_ms(50)) {
        done = true;
        for (int i = 0; i < n; i++)
            scan_log(&b[i], b, n, found[i]);
        for (int x = 0; x < n && done; x++)
            done = listed_by_all(b, n, x, found) >= 0;
    }
    if (!done) {
        printf("# mesh %d: not every node listed every other within %d s\n", n, MESH_TIMEOUT_MS / 1000);
        goto out;
    }
    long long last_ready = 0, mesh_at = 0;
    int np = 0;
    for (int x = 0; x < n; x++) {
        last_ready = b[x].ready_ms > last_ready ? b[x].ready_ms : last_ready;
        long long l = listed_by_all(b, n, x, found);
        mesh_at = l > mesh_at ? l : mesh_at;
        for (int y = 0; y < n; y++)
            if (y != x) {
                long long both = b[x].ready_ms > b[y].ready_ms ? b[x].ready_ms : b[y].ready_ms;
                pair[np++] = found[y][x] - both;
            }
    }
    qsort(pair, (size_t)np, sizeof pair[0], cmp_ll);
    printf("mesh%d_pair_median %lld ms\n", n, pair[np / 2]);
    printf("mesh%d_pair_max %lld ms\n", n, pair[np - 1]);
    printf("mesh%d_full %lld ms\n", n, mesh_at - last_ready);

    /* one more node joins the running mesh */
    if (spawn_node(&b[n], n, n, natterd) != 0)
        goto out;
    t0 = now_ms();
    while (!all_ready(b, total) && now_ms() - t0 < READY_TIMEOUT_MS)
        pause_ms(50);
    long long joined = -1;
    for (long long t1 = now_ms(); joined < 0 && now_ms() - t1 < MESH_TIMEOUT_MS; pause_ms(50)) {
        for (int i = 0; i < total; i++)
            scan_log(&b[i], b, total, found[i]);
        joined = listed_by_all(b, total, n, found);
    }
    if (joined < 0) {
        printf("# mesh %d: the joining node was not listed by all within %d s\n", n, MESH_TIMEOUT_MS / 1000);
        goto out;
    }
    printf("mesh%d_join %lld ms\n", n, joined - b[n].ready_ms);
    rc = 0;
out:
    stop_nodes(b, total);
    harness_netns_destroy(&net);
    return rc;
}

/* --- 2. flood --------------------------------------------------------- */

static nt_err count_observe(void *ctx, const identity *pub, const char *name, const char *addr, const uint8_t *inst,
                            int64_t now_unix, bool maybe_replay, bool *is_new, bool *expendable)
{
    (void)ctx, (void)pub, (void)name, (void)addr, (void)inst, (void)now_unix, (void)maybe_replay, (void)expendable;
    *is_new = false;
    return NT_OK;
}

static identity *load_key(const char *pem)
{
    char path[] = "/tmp/natter-bench-key-XXXXXX";
    int fd = mkstemp(path);
    identity *id = NULL;
    if (fd < 0)
        return NULL;
    if (write(fd, pem, strlen(pem)) == (ssize_t)strlen(pem) && identity_load(&id, path) != NT_OK)
        id = NULL;
    close(fd);
    unlink(path);
    return id;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct {
    const char *name;
    bool valid;     /* signed announcements, else junk */
    bool unlimited; /* lift the per-source and verify budgets */
    long rate;      /* packets/s offered; 0 = as fast as one thread sends */
} flood_case;

#define FLOOD_JUNK_PKTS 100000
#define FLOOD_MAX_MS 2000

/* One receiver, one paced sender: what was offered, read, dropped, and how
 * long the queue took to empty after the last packet. */
static int flood_one(const flood_case *fc, identity *self, uint8_t (*pk)[DISCOVERY_PACKET_MAX], size_t *pklen, int npk)
{
    discovery_config c;
    discovery_config_defaults(&c);
    private_group();
    c.group = group;
    c.port = port;
    c.interface = "lo";
    c.sched.interval_ms = 3600 * 1000;
    c.sched.expiry_ms = 7200 * 1000;
    if (fc->unlimited) {
        c.source_rate = c.verify_rate = 1000000000u;
        c.source_burst = c.verify_burst = 1000000000u;
    }
    discovery *d = NULL;
    char err[DISCOVERY_ERR_MAX];
    discovery_hooks h = {.observe = count_observe};
    if (discovery_start(&d, &c, self, "receiver", 7711, &h, err) != NT_OK) {
        printf("# flood: %s\n", err);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, group, &to.sin_addr);
    uint8_t junk[100];
    memset(junk, 'j', sizeof junk);

    discovery_stats s0, s1;
    pause_ms(200); /* let its own start-up announcement and query go by */
    discovery_stats_get(d, &s0);
    long long t0 = now_ms();
    long sent = 0, target = fc->valid ? npk : FLOOD_JUNK_PKTS;
    while (sent < target && now_ms() - t0 < FLOOD_MAX_MS) {
        /* pace: stay at or below rate x elapsed */
        if (fc->rate && sent >= fc->rate * (now_ms() - t0 + 1) / 1000) {
            pause_ms(1);
            continue;
        }
        const uint8_t *p = fc->valid ? pk[sent] : junk;
        size_t len = fc->valid ? pklen[sent] : sizeof junk;
        if (sendto(fd, p, len, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)len)
            sent++;
    }
    long long t_sent = now_ms(), last_change = t_sent;
    uint64_t last = 0;
    /* drained: the read count has not moved for 100 ms */
    for (;;) {
        discovery_stats_get(d, &s1);
        if (s1.received != last) {
            last = s1.received;
            last_change = now_ms();
        } else if (now_ms() - last_change >= 100) {
            break;
        }
        pause_ms(1);
    }
    long got = (long)(s1.received - s0.received), ovf = (long)(s1.overflow - s0.overflow);
    long long span = last_change - t0;
    printf("flood_%s_offered %ld pkts %.0f pkts/s\n", fc->name, sent, sent * 1000.0 / (double)(t_sent - t0 + 1));
    printf("flood_%s_handled %ld pkts %.0f pkts/s\n", fc->name, got, got * 1000.0 / (double)(span + 1));
    printf("flood_%s_dropped_socket %ld pkts\n", fc->name, ovf);
    printf("flood_%s_dropped_before_socket %ld pkts\n", fc->name, sent - got - ovf);
    printf("flood_%s_accepted %llu announcements\n", fc->name, (unsigned long long)(s1.announces - s0.announces));
    printf("flood_%s_dropped_by_node rate_limited %llu busy %llu bad_magic %llu replay %llu\n", fc->name,
           (unsigned long long)(s1.dropped[DISC_RATE_LIMITED] - s0.dropped[DISC_RATE_LIMITED]),
           (unsigned long long)(s1.dropped[DISC_BUSY] - s0.dropped[DISC_BUSY]),
           (unsigned long long)(s1.dropped[DISC_BAD_MAGIC] - s0.dropped[DISC_BAD_MAGIC]),
           (unsigned long long)(s1.dropped[DISC_REPLAY] - s0.dropped[DISC_REPLAY]));
    printf("flood_%s_drain %lld ms\n", fc->name, last_change - t_sent);
    close(fd);
    discovery_stop(d);
    return 0;
}

static int flood(void)
{
    enum { NPK = 1000 };
    static uint8_t pk[NPK][DISCOVERY_PACKET_MAX];
    static size_t pklen[NPK];
    char why[256];
    identity *self = load_key(bench_key_3072), *peer = load_key(bench_key_2048);
    int rc = -1;
    if (!self || !peer) {
        printf("# flood: cannot load the bench keys\n");
        goto out;
    }
    if (harness_netns_create(&net, 1, why, sizeof why) != 0) {
        printf("# SKIPPED: flood: %s\n", why);
        rc = 0;
        goto out;
    }
    long long t0 = now_ms();
    for (int i = 0; i < NPK; i++) {
        discovery_announce_fields f = {.timestamp_ms = wall_ms(), .seq = (uint32_t)i + 1, .peer_port = 7711,
                                       .name = "flooder"};
        memset(f.instance_id, 0x42, sizeof f.instance_id);
        if (discovery_packet_encode_announce(peer, &f, pk[i], sizeof pk[i], &pklen[i]) != NT_OK)
            goto out;
    }
    printf("# signed %d announcements (RSA-2048, %zu bytes) in %lld ms\n", NPK, pklen[0], now_ms() - t0);
    if (harness_netns_enter(&net, 0) != 0)
        goto out;
    static const flood_case cases[] = {
        {"junk_20k", false, false, 20000},
        {"junk_50k", false, false, 50000},
        {"junk_max", false, false, 0},
        {"valid_2k", true, true, 2000},
        {"valid_5k", true, true, 5000},
        {"valid_10k", true, true, 10000},
        {"valid_max", true, true, 0},
        {"valid_default_limits_max", true, false, 0},
    };
    rc = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && rc == 0; i++)
        rc = flood_one(&cases[i], self, pk, pklen, NPK);
    (void)harness_netns_enter(&net, -1);
out:
    harness_netns_destroy(&net);
    identity_free(self);
    identity_free(peer);
    return rc;
}

int main(int argc, char **argv)
{
    const char *natterd = getenv("NATTERD");
    const char *sizes = "3,20";
    bool do_mesh = true, do_flood = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--nodes") == 0 && i + 1 < argc)
            sizes = argv[++i];
        else if (strcmp(argv[i], "--skip-mesh") == 0)
            do_mesh = false;
        else if (strcmp(argv[i], "--skip-flood") == 0)
            do_flood = false;
        else {
            fprintf(stderr, "usage: %s [--nodes 3,20] [--skip-mesh] [--skip-flood]\n", argv[0]);
            return 2;
        }
    }
    if (rng_init() != NT_OK)
        return 1;
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int rc = 0;
    if (do_mesh) {
        if (!natterd || access(natterd, X_OK) != 0) {
            printf("# SKIPPED: mesh: set NATTERD to the natterd binary\n");
        } else {
            char list[64];
            snprintf(list, sizeof list, "%s", sizes);
            for (char *tok = strtok(list, ","); tok && rc == 0; tok = strtok(NULL, ",")) {
                int n = atoi(tok);
                if (n < 2 || n > MAX_NODES - 1) {
                    printf("# mesh: node count %d outside 2..%d\n", n, MAX_NODES - 1);
                    return 2;
                }
                rc = mesh(n, natterd);
            }
        }
    }
    if (do_flood && rc == 0)
        rc = flood();
    rng_free();
    return rc ? 1 : 0;
}
