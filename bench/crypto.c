/* bench/crypto.c - single-threaded throughput of each crypto primitive as
 * the node uses it: the ceilings the node's own benchmarks are held to.
 *
 *   build/bench/crypto [--seconds S] [--filter SUBSTRING]
 *
 * Each item runs for about S seconds of wall time (default 0.5) on one
 * thread. Output (stable, for scripts; see bench/README.md):
 *
 *   # comment lines start with '#'
 *   cores <n>
 *   <name> <ops_per_s> ops/s <us_per_op> us/op <cpu_ops_per_s> cpu-ops/s <ops> ops <seconds> s
 *   est <name> <ops_per_s> ops/s <us_per_op> us/op   (sums of measured items)
 *
 * ops/s and us/op are by wall time; cpu-ops/s divides by the thread's CPU
 * time, which stays meaningful on a machine other jobs are loading. The
 * estimates use CPU time: they are per-core ceilings.
 *
 * Names are fixed: rsa<bits>-pss-sign|verify, rsa3072-oaep-encrypt|decrypt,
 * x25519|p256-keygen|shared|exchange, hkdf-session, seal|open-64|1k|16k.
 * Multiply ops/s by the core count for a parallel upper bound. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/version.h>

#include "bench/bench_keys.h"
#include "crypto/ecdh.h"
#include "crypto/identity.h"
#include "crypto/kdf.h"
#include "crypto/oaep.h"
#include "crypto/rng.h"
#include "crypto/seal.h"
#include "crypto/sign.h"

#define MAX_RESULTS 32
#define SEAL_BENCH_MAX (16 * 1024)
#define HANDSHAKE_TRANSCRIPT 512 /* bytes signed per handshake message, about */
#define PEER_AD_LEN 64           /* session id, direction, seq, method, path */

typedef struct {
    char name[40];
    double cpu_us_per_op;
} result;

static double g_seconds = 0.5;
static const char *g_filter;
static result g_results[MAX_RESULTS];
static size_t g_nresults;

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static void die(const char *what, nt_err rc)
{
    fprintf(stderr, "bench/crypto: %s: %s\n", what, err_str(rc));
    exit(1);
}

static bool wanted(const char *name)
{
    return !g_filter || strstr(name, g_filter) != NULL;
}

static void record(const char *name, unsigned long ops, double secs, double cpu)
{
    double ops_s = (double)ops / secs, us = secs * 1e6 / (double)ops;
    double cpu_ops_s = cpu > 0 ? (double)ops / cpu : ops_s;
    printf("%-22s %12.1f ops/s %11.2f us/op %12.1f cpu-ops/s %9lu ops %6.2f s\n", name, ops_s, us, cpu_ops_s, ops,
           secs);
    fflush(stdout);
    if (g_nresults < MAX_RESULTS) {
        snprintf(g_results[g_nresults].name, sizeof g_results[g_nresults].name, "%s", name);
        g_results[g_nresults++].cpu_us_per_op = 1e6 / cpu_ops_s;
    }
}

/* Runs op(ctx) until g_seconds have passed (at least 3 times). */
typedef nt_err (*op_fn)(void *ctx);

static void run(const char *name, op_fn op, void *ctx)
{
    if (!wanted(name))
        return;
    nt_err rc = op(ctx); /* warm-up, and fail early */
    if (rc)
        die(name, rc);
    unsigned long ops = 0;
    double start = now(), cpu0 = clock_s(CLOCK_THREAD_CPUTIME_ID), t;
    do {
        rc = op(ctx);
        if (rc)
            die(name, rc);
        ops++;
        t = now() - start;
    } while (t < g_seconds || ops < 3);
    record(name, ops, t, clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu0);
}

static double us_of(const char *name)
{
    for (size_t i = 0; i < g_nresults; i++)
        if (strcmp(g_results[i].name, name) == 0)
            return g_results[i].cpu_us_per_op;
    return -1;
}

/* ---- RSA ----------------------------------------------------------------- */

typedef struct {
    identity *id;
    uint8_t msg[HANDSHAKE_TRANSCRIPT];
    uint8_t sig[SIGN_MAX_LEN];
    size_t siglen;
    uint8_t secret[32];
    uint8_t ct[SIGN_MAX_LEN];
    size_t ctlen;
} rsa_ctx;

static nt_err op_sign(void *p)
{
    rsa_ctx *c = p;
    return sign_create(c->id, SIGN_HANDSHAKE, c->msg, sizeof c->msg, c->sig, sizeof c->sig, &c->siglen);
}

static nt_err op_verify(void *p)
{
    rsa_ctx *c = p;
    return sign_verify(c->id, SIGN_HANDSHAKE, c->msg, sizeof c->msg, c->sig, c->siglen);
}

static const uint8_t oaep_label[] = "natter/v1/bench";

static nt_err op_oaep_enc(void *p)
{
    rsa_ctx *c = p;
    return oaep_encrypt(c->id, oaep_label, sizeof oaep_label, c->secret, sizeof c->secret, c->ct, sizeof c->ct,
                        &c->ctlen);
}

static nt_err op_oaep_dec(void *p)
{
    rsa_ctx *c = p;
    uint8_t out[SIGN_MAX_LEN];
    size_t n = 0;
    nt_err rc = oaep_decrypt(c->id, oaep_label, sizeof oaep_label, c->ct, c->ctlen, out, sizeof out, &n);
    if (!rc && (n != sizeof c->secret || memcmp(out, c->secret, n) != 0))
        rc = NT_ERR_CRYPTO;
    return rc;
}

static void bench_rsa(unsigned bits, const char *pem)
{
    rsa_ctx c = {0};
    char name[40];
    nt_err rc = identity_from_private_pem(&c.id, pem, strlen(pem));
    if (rc)
        die("bench key", rc);
    if (identity_bits(c.id) != bits)
        die("bench key size", NT_ERR_INVALID);
    if ((rc = rng_bytes(c.msg, sizeof c.msg)) || (rc = rng_bytes(c.secret, sizeof c.secret)))
        die("rng", rc);
    snprintf(name, sizeof name, "rsa%u-pss-sign", bits);
    run(name, op_sign, &c);
    if ((rc = op_sign(&c)))
        die("sign", rc);
    snprintf(name, sizeof name, "rsa%u-pss-verify", bits);
    run(name, op_verify, &c);
    if (bits == 3072) {
        run("rsa3072-oaep-encrypt", op_oaep_enc, &c);
        if ((rc = op_oaep_enc(&c)))
            die("oaep", rc);
        run("rsa3072-oaep-decrypt", op_oaep_dec, &c);
    }
    identity_free(c.id);
}

/* ---- ECDH ---------------------------------------------------------------- */

typedef struct {
    ecdh_curve curve;
    ecdh_key *mine;
    uint8_t peer[ECDH_PUB_MAX];
    size_t peer_len;
} ecdh_ctx;

static nt_err op_ecdh_keygen(void *p)
{
    ecdh_ctx *c = p;
    ecdh_key *k = NULL;
    uint8_t pub[ECDH_PUB_MAX];
    size_t n = 0;
    nt_err rc = ecdh_generate(&k, c->curve);
    if (!rc)
        rc = ecdh_public(k, pub, sizeof pub, &n);
    ecdh_free(k);
    return rc;
}

static nt_err op_ecdh_shared(void *p)
{
    ecdh_ctx *c = p;
    uint8_t s[ECDH_SECRET_LEN];
    return ecdh_shared(c->mine, c->peer, c->peer_len, s);
}

/* What one side of a handshake does: fresh key, its public half, secret. */
static nt_err op_ecdh_exchange(void *p)
{
    ecdh_ctx *c = p;
    ecdh_key *k = NULL;
    uint8_t pub[ECDH_PUB_MAX], s[ECDH_SECRET_LEN];
    size_t n = 0;
    nt_err rc = ecdh_generate(&k, c->curve);
    if (!rc)
        rc = ecdh_public(k, pub, sizeof pub, &n);
    if (!rc)
        rc = ecdh_shared(k, c->peer, c->peer_len, s);
    ecdh_free(k);
    return rc;
}

static void bench_ecdh(ecdh_curve curve)
{
    ecdh_ctx c = {.curve = curve};
    ecdh_key *peer = NULL;
    char name[40];
    nt_err rc;
    if ((rc = ecdh_generate(&c.mine, curve)) || (rc = ecdh_generate(&peer, curve)) ||
        (rc = ecdh_public(peer, c.peer, sizeof c.peer, &c.peer_len)))
        die("ecdh setup", rc);
    snprintf(name, sizeof name, "%s-keygen", ecdh_curve_name(curve));
    run(name, op_ecdh_keygen, &c);
    snprintf(name, sizeof name, "%s-shared", ecdh_curve_name(curve));
    run(name, op_ecdh_shared, &c);
    snprintf(name, sizeof name, "%s-exchange", ecdh_curve_name(curve));
    run(name, op_ecdh_exchange, &c);
    ecdh_free(c.mine);
    ecdh_free(peer);
}

/* ---- HKDF: a session's key schedule -------------------------------------- */

static nt_err op_hkdf_session(void *p)
{
    (void)p;
    /* As api-spec/protocol.md "Key schedule": salt = both nonces, ikm =
     * ECDH secret, context = transcript hash; four channel keys and the
     * two halves of the key that seals the authentication key. */
    static const uint8_t salt[64] = {1}, ikm[32] = {2}, ctx[32] = {3};
    uint8_t k[6][32];
    kdf_output outs[] = {{"c2s enc", k[0], 32}, {"c2s mac", k[1], 32},      {"s2c enc", k[2], 32},
                         {"s2c mac", k[3], 32}, {"auth-key enc", k[4], 32}, {"auth-key mac", k[5], 32}};
    return kdf_derive(salt, sizeof salt, ikm, sizeof ikm, ctx, sizeof ctx, outs, sizeof outs / sizeof outs[0]);
}

/* ---- seal ------------------------------------------------------------------ */

typedef struct {
    seal_key key;
    size_t len;
    uint8_t ad[PEER_AD_LEN];
    uint8_t pt[SEAL_BENCH_MAX];
    uint8_t box[SEAL_BENCH_MAX + SEAL_OVERHEAD_MAX];
    uint8_t back[SEAL_BENCH_MAX + SEAL_OVERHEAD_MAX];
    size_t box_len;
} seal_ctx;

static nt_err op_seal(void *p)
{
    seal_ctx *c = p;
    return seal_encrypt(&c->key, c->ad, sizeof c->ad, c->pt, c->len, c->box, sizeof c->box, &c->box_len);
}

static nt_err op_open(void *p)
{
    seal_ctx *c = p;
    size_t n = 0;
    nt_err rc = seal_open(&c->key, c->ad, sizeof c->ad, c->box, c->box_len, c->back, sizeof c->back, &n);
    if (!rc && n != c->len)
        rc = NT_ERR_CRYPTO;
    return rc;
}

static void bench_seal(void)
{
    static seal_ctx c;
    static const struct {
        size_t len;
        const char *tag;
    } sizes[] = {{64, "64"}, {1024, "1k"}, {16 * 1024, "16k"}};
    char name[40];
    nt_err rc;
    if ((rc = rng_bytes((uint8_t *)&c.key, sizeof c.key)) || (rc = rng_bytes(c.ad, sizeof c.ad)) ||
        (rc = rng_bytes(c.pt, sizeof c.pt)))
        die("rng", rc);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        c.len = sizes[i].len;
        snprintf(name, sizeof name, "seal-%s", sizes[i].tag);
        run(name, op_seal, &c);
        if ((rc = op_seal(&c)))
            die("seal", rc);
        snprintf(name, sizeof name, "open-%s", sizes[i].tag);
        run(name, op_open, &c);
    }
    seal_key_wipe(&c.key);
}

/* ---- estimates from the measured items ------------------------------------ */

/* One estimate: the sum of the listed items' us/op, if all were measured. */
static void estimate(const char *name, const char *const *items, size_t n)
{
    double us = 0;
    for (size_t i = 0; i < n; i++) {
        double u = us_of(items[i]);
        if (u < 0)
            return;
        us += u;
    }
    printf("est %-30s %10.1f ops/s %11.2f us/op\n", name, 1e6 / us, us);
}

#define EST(name, ...)                                                                                      \
    do {                                                                                                    \
        static const char *const items_[] = {__VA_ARGS__};                                                  \
        estimate(name, items_, sizeof items_ / sizeof items_[0]);                                           \
    } while (0)

static void estimates(void)
{
    printf("# estimates: crypto CPU cost per operation on one core (sums of the items' CPU us/op)\n");
    /* Serving node, ecdh mode: check the requestor's signature, own
     * ephemeral key and secret, key schedule, seal the auth key, sign the
     * reply. */
    EST("handshake-serve-x25519-3072", "rsa3072-pss-verify", "x25519-exchange", "hkdf-session", "seal-64",
        "rsa3072-pss-sign");
    EST("handshake-serve-p256-3072", "rsa3072-pss-verify", "p256-exchange", "hkdf-session", "seal-64",
        "rsa3072-pss-sign");
    /* rsa mode: OAEP-encrypt the session secret to the requestor instead. */
    EST("handshake-serve-rsa-3072", "rsa3072-pss-verify", "rsa3072-oaep-encrypt", "hkdf-session", "seal-64",
        "rsa3072-pss-sign");
    /* Requestor: sign, exchange, verify the reply, schedule, open. */
    EST("handshake-request-x25519-3072", "rsa3072-pss-sign", "x25519-exchange", "rsa3072-pss-verify",
        "hkdf-session", "open-64");
    /* Host accepting a 1 KiB sealed message submit: open the request, verify
     * the sender's signature, seal the small reply. */
    EST("submit-host-1k-3072", "open-1k", "rsa3072-pss-verify", "seal-64");
    /* A sealed peer request/response pair with no RSA (e.g. poll). */
    EST("peer-request-1k", "open-1k", "seal-1k");
}

static void usage(void)
{
    fprintf(stderr, "usage: crypto [--seconds S] [--filter SUBSTRING]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            g_seconds = strtod(argv[++i], NULL);
            if (!(g_seconds > 0 && g_seconds <= 60))
                usage();
        } else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
            g_filter = argv[++i];
        } else {
            usage();
        }
    }
    nt_err rc = rng_init();
    if (rc)
        die("rng_init", rc);
    printf("# natter crypto bench: mbedTLS %s, single-threaded, ~%.2f s per item\n", MBEDTLS_VERSION_STRING,
           g_seconds);
    printf("cores %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    bench_rsa(2048, bench_key_2048);
    bench_rsa(3072, bench_key_3072);
    bench_rsa(4096, bench_key_4096);
    bench_ecdh(ECDH_X25519);
    bench_ecdh(ECDH_P256);
    run("hkdf-session", op_hkdf_session, NULL);
    bench_seal();
    estimates();
    rng_free();
    return 0;
}
