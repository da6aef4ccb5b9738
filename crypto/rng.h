/* rng.h - the process-wide CTR-DRBG every other module draws from.
 *
 * One mbedTLS CTR-DRBG (AES-256) seeded from the system entropy source,
 * guarded by a mutex so any thread may call it. Prediction resistance is
 * off; the DRBG reseeds itself at mbedTLS's default interval, and in a
 * forked child before its first draw (so parent and child never share
 * output). Do not fork while another thread is inside rng_*. */
#ifndef NATTER_RNG_H
#define NATTER_RNG_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"

/* Seed the DRBG. Idempotent; call once at start-up before any thread. */
NT_MUST_USE nt_err rng_init(void);

/* Zero and free the DRBG. rng_init() may be called again afterwards. */
void rng_free(void);

/* Fill out[0..len) with random bytes. NT_ERR_STATE before rng_init(). */
NT_MUST_USE nt_err rng_bytes(uint8_t *out, size_t len);

/* An mbedTLS f_rng callback over the same DRBG; pass NULL as p_rng.
 * Returns 0 or an mbedTLS error code. */
int rng_mbedtls(void *p_rng, unsigned char *out, size_t len);

#endif
