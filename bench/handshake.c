/* bench/handshake.c - how many handshakes per second a serving natterd
 * completes for concurrent requestors (ecdh/X25519 and rsa, 3072-bit
 * identities), against the ceiling computed from the crypto it must do,
 * and sealed pings per second on 1 and on 64 sessions.
 *
 *   NATTERD=build/natterd build/bench/handshake [--seconds S] [--threads N]
 *
 * The serving node is a real natterd on 127.0.0.1 (port 0) with the fixed
 * 3072-bit key of bench/bench_keys.h. Requests are made and signed before
 * the clock starts (the requestor's RSA signature is its own cost, not the
 * server's), then N threads post them over keep-alive connections; a
 * sample of the replies is verified afterwards (signature, keys), so every
 * counted handshake is a real one. Ceiling per core = 1 / (CPU time of
 * rsa3072-pss-verify + the key exchange + hkdf + seal-64 +
 * rsa3072-pss-sign), timed here the same way bench/crypto does; times the
 * core count. Output lines are "name value unit" (see bench/README.md). */
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_keys.h"
#include "bench/bench_util.h"
#include "crypto/ecdh.h"
#include "crypto/kdf.h"
#include "crypto/oaep.h"
#include "crypto/rng.h"
#include "crypto/seal.h"
#include "crypto/sign.h"
#include "server/channel/envelope.h"
#include "server/channel/handshake.h"

#define MAX_THREADS 64
#define VERIFY_SAMPLE 8
#define PING_SESSIONS 64

static double g_seconds = 3.0;
static int g_threads = 8;
static char g_peer[64];
static identity *g_me, *g_srv;

static void die(const char *what)
{
    fprintf(stderr, "bench/handshake: %s\n", what);
    exit(1);
}

/* ---- the serving node ---- */

static pid_t g_pid;
static char g_dir[] = "/tmp/natter-bench-hs-XXXXXX";

static void node_start(void)
{
    const char *bin = getenv("NATTERD");
    char data[128], path[192], runfile[192];
    if (!bin || !mkdtemp(g_dir))
        die("set NATTERD to the natterd binary");
    snprintf(data, sizeof data, "%s/data", g_dir);
    snprintf(path, sizeof path, "%s/identity.pem", data);
    snprintf(runfile, sizeof runfile, "%s/natterd.json", data);
    if (mkdir(data, 0700))
        die("mkdir");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write(fd, bench_key_3072, strlen(bench_key_3072)) != (ssize_t)strlen(bench_key_3072))
        die("cannot write the key");
    close(fd);
    if ((g_pid = fork()) == 0) {
        char log[192];
        snprintf(log, sizeof log, "%s/natterd.log", g_dir);
        int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (lfd >= 0) {
            dup2(lfd, 1);
            dup2(lfd, 2);
        }
        execl(bin, bin, "--data-dir", data, "--listen", "127.0.0.1:0", "--client-listen", "127.0.0.1:0",
              "--no-discovery", "--name", "bench", "--log-level", "warn", "--max-sessions", "1000000",
              "--max-sessions-per-peer", "100000", "--max-connections", "1024", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 600; i++) { /* up to 60 s */
        int wst;
        if (waitpid(g_pid, &wst, WNOHANG) == g_pid) {
            g_pid = 0;
            die("natterd exited at start (see its log in the bench's temp dir)");
        }
        json_error_t jerr;
        json_t *j = json_load_file(runfile, 0, &jerr);
        if (j) {
            snprintf(g_peer, sizeof g_peer, "%s", json_string_value(json_object_get(j, "peer")));
            json_decref(j);
            return;
        }
        usleep(100000);
    }
    die("natterd did not start");
}

static void node_stop(void)
{
    if (g_pid > 0) {
        kill(g_pid, SIGTERM);
        waitpid(g_pid, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd))
        fprintf(stderr, "bench/handshake: could not remove %s\n", g_dir);
}

/* ---- HTTP ---- */

/* POST body to path on h (a reused handle: keep-alive); status returned,
 * the answer in *out (caller frees out->data). */
static long post(CURL *h, struct curl_slist *hdrs, const char *path, const char *body, bench_buf *out)
{
    char url[256];
    snprintf(url, sizeof url, "http://%s%s", g_peer, path);
    memset(out, 0, sizeof(*out));
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, bench_on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* ---- handshakes ---- */

typedef struct {
    hs_pending *p;
    char *body;
    char *reply;
    long status;
} hs_job;

static hs_job *g_jobs;
static atomic_size_t g_next;
static size_t g_njobs;
static double g_deadline;

static void *hs_worker(void *arg)
{
    (void)arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    for (;;) {
        size_t i = atomic_fetch_add(&g_next, 1);
        if (i >= g_njobs || bench_clock_s(CLOCK_MONOTONIC) >= g_deadline)
            break;
        bench_buf b;
        g_jobs[i].status = post(h, hdrs, "/v1/handshake", g_jobs[i].body, &b);
        g_jobs[i].reply = b.data;
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return NULL;
}

static uint8_t g_srv_id[IDENTITY_ID_LEN];

static void run_handshakes(const char *label, uint8_t mode, size_t n)
{
    g_jobs = calloc(n, sizeof(*g_jobs));
    g_njobs = n;
    for (size_t i = 0; i < n; i++) {
        json_t *req = NULL;
        if (handshake_start(g_me, "requestor", 0, g_srv_id, mode, ECDH_X25519, (int64_t)time(NULL), &g_jobs[i].p,
                            &req))
            die("handshake_start");
        g_jobs[i].body = json_dumps(req, JSON_COMPACT);
        json_decref(req);
    }
    atomic_store(&g_next, 0);
    pthread_t th[MAX_THREADS];
    double cpu0 = bench_proc_cpu_s(g_pid);
    double t0 = bench_clock_s(CLOCK_MONOTONIC);
    g_deadline = t0 + g_seconds;
    for (int t = 0; t < g_threads; t++)
        pthread_create(&th[t], NULL, hs_worker, NULL);
    for (int t = 0; t < g_threads; t++)
        pthread_join(th[t], NULL);
    double dt = bench_clock_s(CLOCK_MONOTONIC) - t0;
    double cpu = bench_proc_cpu_s(g_pid) - cpu0;
    size_t ok = 0, bad = 0, verified = 0;
    for (size_t i = 0; i < n; i++) {
        if (!g_jobs[i].reply && !g_jobs[i].status)
            continue;
        if (g_jobs[i].status != 200) {
            bad++;
            continue;
        }
        ok++;
        if (verified < VERIFY_SAMPLE) {
            json_error_t jerr;
            json_t *r = json_loads(g_jobs[i].reply, 0, &jerr);
            hs_session s;
            if (!r || handshake_finish(g_jobs[i].p, g_srv, r, (int64_t)time(NULL), &s))
                die("a counted handshake reply did not verify");
            handshake_session_wipe(&s);
            json_decref(r);
            verified++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        handshake_pending_free(g_jobs[i].p);
        free(g_jobs[i].body);
        free(g_jobs[i].reply);
    }
    free(g_jobs);
    printf("handshake-%s %.1f hs/s %zu ok %zu refused %.2f s %d threads (%zu replies verified)\n", label,
           (double)ok / dt, ok, bad, dt, g_threads, verified);
    printf("handshake-%s-per-cpu %.1f hs/cpu-s (server used %.2f CPU-s)\n", label, cpu > 0 ? (double)ok / cpu : 0,
           cpu);
    fflush(stdout);
}

/* ---- the crypto ceiling: CPU time of what the server does per handshake ---- */

static double cpu_us(void (*fn)(void *), void *arg, int min_ops)
{
    double c0 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID), w0 = bench_clock_s(CLOCK_MONOTONIC);
    int ops = 0;
    while (ops < min_ops || bench_clock_s(CLOCK_MONOTONIC) - w0 < 0.3) {
        fn(arg);
        ops++;
    }
    return (bench_clock_s(CLOCK_THREAD_CPUTIME_ID) - c0) * 1e6 / ops;
}

static uint8_t g_msg[600], g_sig[512];
static size_t g_siglen;

static void op_sign(void *a)
{
    (void)a;
    if (sign_create(g_srv, SIGN_HANDSHAKE_REPLY, g_msg, sizeof g_msg, g_sig, sizeof g_sig, &g_siglen))
        die("sign");
}

static void op_verify(void *a)
{
    identity *who = a;
    if (sign_verify(who, SIGN_HANDSHAKE, g_msg, sizeof g_msg, g_sig, g_siglen))
        die("verify");
}

static void op_x25519(void *a)
{
    (void)a;
    ecdh_key *k = NULL;
    uint8_t pub[ECDH_PUB_MAX], sec[ECDH_SECRET_LEN];
    size_t n = 0;
    static const uint8_t peer[32] = {9};
    if (ecdh_generate(&k, ECDH_X25519) || ecdh_public(k, pub, sizeof pub, &n) || ecdh_shared(k, peer, 32, sec))
        die("x25519");
    ecdh_free(k);
}

static void op_oaep(void *a)
{
    identity *to = a;
    uint8_t s[32] = {1}, ct[512];
    size_t n = 0;
    if (oaep_encrypt(to, (const uint8_t *)"natter/v1/hs-rsa", 16, s, 32, ct, sizeof ct, &n))
        die("oaep");
}

static void op_kdf_seal(void *a)
{
    (void)a;
    uint8_t ikm[32] = {1}, nc[32] = {2}, ns[32] = {3}, th[32] = {4}, box[128];
    session_keys k;
    size_t n = 0;
    if (keysched_derive(ikm, nc, ns, th, &k) || seal_encrypt(&k.ak, th, 32, ikm, 32, box, sizeof box, &n))
        die("kdf/seal");
    keysched_wipe(&k);
}

/* Returns the all-cores ceilings (hs/s) for ecdh and rsa. */
static void ceilings(double *ecdh, double *rsa, long cores)
{
    /* A signature by the requestor to verify: make one with its key. */
    if (sign_create(g_me, SIGN_HANDSHAKE, g_msg, sizeof g_msg, g_sig, sizeof g_sig, &g_siglen))
        die("sign");
    double verify = cpu_us(op_verify, g_me, 50);
    double x25519 = cpu_us(op_x25519, NULL, 20), oaep = cpu_us(op_oaep, g_me, 50), kdf = cpu_us(op_kdf_seal, NULL, 200);
    double sign = cpu_us(op_sign, NULL, 10);
    printf("# CPU per op: rsa3072-pss-sign %.0f us, requestor pss-verify %.0f us, x25519-exchange %.0f us, "
           "oaep-encrypt %.0f us, hkdf+seal %.0f us\n", sign, verify, x25519, oaep, kdf);
    *ecdh = (double)cores * 1e6 / (sign + verify + x25519 + kdf);
    *rsa = (double)cores * 1e6 / (sign + verify + oaep + kdf);
    printf("ceiling-ecdh %.1f hs/s (%ld cores)\nceiling-rsa %.1f hs/s (%ld cores)\n", *ecdh, cores, *rsa, cores);
    fflush(stdout);
    fflush(stdout);
}

/* ---- sealed pings ---- */

typedef struct {
    hs_session s;
    atomic_uint_fast64_t seq;
} ping_session;

static ping_session *g_ps;
static size_t g_nps;
static atomic_uint_fast64_t g_pings_ok, g_pings_bad;

static void *ping_worker(void *arg)
{
    size_t t = (size_t)(uintptr_t)arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    for (size_t k = t; bench_clock_s(CLOCK_MONOTONIC) < g_deadline; k += (size_t)g_threads) {
        ping_session *ps = &g_ps[k % g_nps];
        uint64_t seq = atomic_fetch_add(&ps->seq, 1);
        char *body = NULL;
        if (envelope_seal(&ps->s.c2s, ENVELOPE_C2S, ps->s.session_id, seq, "POST", "/v1/peer/ping", NULL, 0,
                          seq == 0 ? ps->s.confirm : NULL, (const uint8_t *)"{\"echo\":1}", 10, &body))
            die("seal");
        bench_buf b;
        long st = post(h, hdrs, "/v1/peer/ping", body, &b);
        envelope e;
        uint8_t *pt = NULL;
        size_t n = 0;
        bool ok = st == 200 && !envelope_parse(b.data, b.len, ENVELOPE_S2C, &e);
        if (ok) {
            ok = !envelope_open(&ps->s.s2c, &e, ENVELOPE_S2C, "POST", "/v1/peer/ping", NULL, &pt, &n);
            envelope_clear(&e);
        }
        atomic_fetch_add(ok ? &g_pings_ok : &g_pings_bad, 1);
        free(pt);
        free(body);
        free(b.data);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return NULL;
}

static void run_pings(size_t sessions)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    g_ps = calloc(sessions, sizeof(*g_ps));
    g_nps = sessions;
    for (size_t i = 0; i < sessions; i++) {
        hs_pending *p = NULL;
        json_t *req = NULL, *rep = NULL;
        if (handshake_start(g_me, "requestor", 0, g_srv_id, HS_MODE_ECDH, ECDH_X25519, (int64_t)time(NULL), &p,
                            &req))
            die("handshake_start");
        char *body = json_dumps(req, JSON_COMPACT);
        bench_buf b;
        json_error_t jerr;
        if (post(h, hdrs, "/v1/handshake", body, &b) != 200 || !(rep = json_loads(b.data, 0, &jerr)) ||
            handshake_finish(p, g_srv, rep, (int64_t)time(NULL), &g_ps[i].s))
            die("handshake for the ping sessions");
        json_decref(req);
        json_decref(rep);
        handshake_pending_free(p);
        free(body);
        free(b.data);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    atomic_store(&g_pings_ok, 0);
    atomic_store(&g_pings_bad, 0);
    pthread_t th[MAX_THREADS];
    double cpu0 = bench_proc_cpu_s(g_pid);
    double t0 = bench_clock_s(CLOCK_MONOTONIC);
    g_deadline = t0 + g_seconds;
    for (int t = 0; t < g_threads; t++)
        pthread_create(&th[t], NULL, ping_worker, (void *)(uintptr_t)t);
    for (int t = 0; t < g_threads; t++)
        pthread_join(th[t], NULL);
    double dt = bench_clock_s(CLOCK_MONOTONIC) - t0;
    double cpu = bench_proc_cpu_s(g_pid) - cpu0;
    printf("ping-%zu-session%s %.1f pings/s %llu ok %llu refused %.2f s %d threads (server %.2f CPU-s, %.0f "
           "pings/cpu-s)\n",
           sessions, sessions == 1 ? "" : "s", (double)atomic_load(&g_pings_ok) / dt,
           (unsigned long long)atomic_load(&g_pings_ok), (unsigned long long)atomic_load(&g_pings_bad), dt,
           g_threads, cpu, cpu > 0 ? (double)atomic_load(&g_pings_ok) / cpu : 0);
    fflush(stdout);
    for (size_t i = 0; i < sessions; i++)
        handshake_session_wipe(&g_ps[i].s);
    free(g_ps);
}

int main(int argc, char **argv)
{
    /* every simulated member comes from 127.0.0.1: no per-source connection
     * cap, no per-source handshake rate or worker-job cap, and room for all
     * of its handshakes at once (the variables are ignored by a natterd
     * that has none) */
    setenv("NATTER_MAX_CONNECTIONS_PER_SOURCE", "0", 1);
    setenv("NATTER_HANDSHAKE_RATE", "0", 1);
    setenv("NATTER_MAX_JOBS_PER_SOURCE", "0", 1);
    setenv("NATTER_MAX_HANDSHAKES", "4096", 1);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            g_seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            g_threads = atoi(argv[++i]);
        else
            die("usage: handshake [--seconds S] [--threads N]");
    }
    if (g_threads < 1 || g_threads > MAX_THREADS || g_seconds <= 0)
        die("bad --threads or --seconds");
    if (rng_init() || curl_global_init(CURL_GLOBAL_DEFAULT))
        die("init");
    /* The server's key (private: the ceiling times its signature) and the
     * requestor's (2048 bits, so that pre-signing thousands of requests
     * stays quick; the server's cost is dominated by its own 3072-bit
     * signature, and the ceiling uses the same requestor key). */
    if (identity_from_private_pem(&g_srv, bench_key_3072, strlen(bench_key_3072) + 1) ||
        identity_from_private_pem(&g_me, bench_key_2048, strlen(bench_key_2048) + 1))
        die("keys");
    memcpy(g_srv_id, identity_id(g_srv), IDENTITY_ID_LEN);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double load[3] = {0};
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    printf("# natter handshake bench: %d requestor threads, %.1f s per run, load average %.1f\n", g_threads,
           g_seconds, load[0]);
    double c_ecdh, c_rsa;
    ceilings(&c_ecdh, &c_rsa, cores);
    node_start();
    size_t n_ecdh = (size_t)(c_ecdh * g_seconds * 1.3) + 64, n_rsa = (size_t)(c_rsa * g_seconds * 1.3) + 64;
    run_handshakes("ecdh-x25519-3072", HS_MODE_ECDH, n_ecdh);
    run_handshakes("rsa-3072", HS_MODE_RSA, n_rsa);
    run_pings(1);
    run_pings(PING_SESSIONS);
    node_stop();
    identity_free(g_me);
    identity_free(g_srv);
    curl_global_cleanup();
    rng_free();
    return 0;
}
