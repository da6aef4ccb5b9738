/* rng.c - one process-wide CTR-DRBG (AES-256) behind a mutex.
 *
 * mbedTLS's CTR-DRBG is not thread-safe by itself and fails with a
 * misleading error when unseeded, so every access goes through `lock` and
 * checks `seeded`. Reseeding happens inside mbedtls_ctr_drbg_random at the
 * library's default interval (MBEDTLS_CTR_DRBG_RESEED_INTERVAL). */
#include "rng.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

/* The personalisation string separates natter's DRBG from any other
 * instance seeded from the same entropy at the same moment. */
static const char RNG_PERS[] = "natter/v1/ctr-drbg";
/* mbedtls_ctr_drbg_random refuses larger single requests. */
#define RNG_CHUNK MBEDTLS_CTR_DRBG_MAX_REQUEST
static_assert(RNG_CHUNK >= 32, "DRBG request size too small");

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static bool seeded;
/* A forked child starts with a copy of the parent's DRBG state and would
 * repeat its output: each draw reseeds first if this is a child. The sign
 * is a page the kernel wipes in a child (MADV_WIPEONFORK, Linux 4.14), so
 * a draw costs no system call; where that is refused, the pid is compared
 * on every draw instead. */
static pid_t seeded_pid;
static volatile unsigned char *fork_page; /* [0] == 1 in the process that seeded */

static void fork_page_init(void)
{
    if (fork_page)
        return;
    void *p = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    if (madvise(p, (size_t)sysconf(_SC_PAGESIZE), MADV_WIPEONFORK) != 0) {
        munmap(p, (size_t)sysconf(_SC_PAGESIZE));
        return;
    }
    fork_page = p;
}

/* Caller holds `lock`: whether this process is not the one that seeded. */
static bool forked_locked(void)
{
    return fork_page ? fork_page[0] != 1 : seeded_pid != getpid();
}

static void mark_seeded_locked(void)
{
    seeded_pid = getpid();
    if (fork_page)
        fork_page[0] = 1;
}

nt_err rng_init(void)
{
    nt_err rc = NT_OK;

    pthread_mutex_lock(&lock);
    if (seeded)
        goto out;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, (const unsigned char *)RNG_PERS,
                              sizeof RNG_PERS - 1) != 0) {
        mbedtls_ctr_drbg_free(&drbg);
        mbedtls_entropy_free(&entropy);
        rc = NT_ERR_CRYPTO;
        goto out;
    }
    seeded = true;
    fork_page_init();
    mark_seeded_locked();
out:
    pthread_mutex_unlock(&lock);
    return rc;
}

void rng_free(void)
{
    pthread_mutex_lock(&lock);
    if (seeded) {
        /* Both free functions zeroize their state. */
        mbedtls_ctr_drbg_free(&drbg);
        mbedtls_entropy_free(&entropy);
        seeded = false;
    }
    pthread_mutex_unlock(&lock);
}

/* Caller holds `lock` and has checked `seeded`. */
static int draw_locked(unsigned char *out, size_t len)
{
    if (forked_locked()) {
        int ret = mbedtls_ctr_drbg_reseed(&drbg, NULL, 0);
        if (ret != 0)
            return ret;
        mark_seeded_locked();
    }
    while (len > 0) {
        size_t n = len < RNG_CHUNK ? len : RNG_CHUNK;
        int ret = mbedtls_ctr_drbg_random(&drbg, out, n);
        if (ret != 0)
            return ret;
        out += n;
        len -= n;
    }
    return 0;
}

nt_err rng_bytes(uint8_t *out, size_t len)
{
    nt_err rc = NT_OK;

    if (len > 0 && !out)
        return NT_ERR_INVALID;
    pthread_mutex_lock(&lock);
    if (!seeded)
        rc = NT_ERR_STATE;
    else if (draw_locked(out, len) != 0)
        rc = NT_ERR_CRYPTO;
    pthread_mutex_unlock(&lock);
    if (rc != NT_OK && out)
        memset(out, 0, len);
    return rc;
}

int rng_mbedtls(void *p_rng, unsigned char *out, size_t len)
{
    int ret;

    (void)p_rng;
    pthread_mutex_lock(&lock);
    ret = seeded ? draw_locked(out, len) : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
    pthread_mutex_unlock(&lock);
    return ret;
}
