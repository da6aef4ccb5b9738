/* ratelimit.h - token buckets, one alone or one per source in a fixed table.
 *
 * Pure: the caller passes the time (milliseconds, any monotonic origin), so
 * tests drive it without sleeping. Integer arithmetic in milli-tokens.
 * The table never grows: when it is full, a new source takes the slot of
 * the least recently seen source among its probe window, so memory stays
 * bounded whatever the number of sources (a flood from spoofed addresses is
 * the job of a global bucket, not of this table). */
#ifndef NATTER_RATELIMIT_H
#define NATTER_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define RATELIMIT_KEY_MAX 16 /* bytes: an IPv6 address fits */

typedef struct {
    uint32_t rate_per_s; /* tokens added per second */
    uint32_t burst;      /* bucket size in tokens */
} ratelimit_config;

/* One bucket. Fields private; ratelimit_bucket_init() before use. */
typedef struct {
    int64_t milli;   /* tokens x 1000 */
    int64_t last_ms; /* time of the last refill */
} ratelimit_bucket;

/* Start full at now_ms. */
void ratelimit_bucket_init(ratelimit_bucket *b, const ratelimit_config *c, int64_t now_ms);
/* Take one token if there is one. Time going backwards adds nothing. */
bool ratelimit_bucket_take(ratelimit_bucket *b, const ratelimit_config *c, int64_t now_ms);

typedef struct ratelimit ratelimit;

/* A table of `slots` buckets (rounded up to a power of two, 1..65536).
 * NT_ERR_INVALID for rate 0, burst 0 or slots 0. *out owned by the caller. */
NT_MUST_USE nt_err ratelimit_new(ratelimit **out, const ratelimit_config *c, size_t slots);
/* Take one token from key's bucket (created full if unknown). key_len
 * 1..RATELIMIT_KEY_MAX; longer keys are cut. */
bool ratelimit_allow(ratelimit *rl, const void *key, size_t key_len, int64_t now_ms);
/* Sources currently tracked (for tests and status). */
size_t ratelimit_count(const ratelimit *rl);
/* ratelimit_free(NULL) is a no-op. */
void ratelimit_free(ratelimit *rl);

#endif
