/* ratelimit.c - see ratelimit.h. */
#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>

#define PROBE 8 /* slots looked at per key: bounds the work per packet */
#define SLOTS_MAX 65536

typedef struct {
    bool used;
    uint8_t key_len;
    uint8_t key[RATELIMIT_KEY_MAX];
    int64_t seen_ms;
    ratelimit_bucket b;
} slot;

struct ratelimit {
    ratelimit_config c;
    size_t mask;
    size_t count;
    slot *slots;
};

void ratelimit_bucket_init(ratelimit_bucket *b, const ratelimit_config *c, int64_t now_ms)
{
    b->milli = (int64_t)c->burst * 1000;
    b->last_ms = now_ms;
}

bool ratelimit_bucket_take(ratelimit_bucket *b, const ratelimit_config *c, int64_t now_ms)
{
    int64_t cap = (int64_t)c->burst * 1000;
    if (now_ms > b->last_ms) {
        int64_t dt = now_ms - b->last_ms;
        /* rate tokens/s = rate milli-tokens/ms. Past the time that fills
         * the bucket more time adds nothing; clamping there keeps the
         * product from overflowing after a long idle time. */
        int64_t fill_ms = cap / (int64_t)c->rate_per_s + 1;
        if (dt > fill_ms)
            dt = fill_ms;
        b->milli += dt * (int64_t)c->rate_per_s;
        if (b->milli > cap)
            b->milli = cap;
        b->last_ms = now_ms;
    }
    if (b->milli < 1000)
        return false;
    b->milli -= 1000;
    return true;
}

nt_err ratelimit_new(ratelimit **out, const ratelimit_config *c, size_t slots)
{
    *out = NULL;
    if (!c->rate_per_s || !c->burst || !slots || slots > SLOTS_MAX)
        return NT_ERR_INVALID;
    size_t n = 1;
    while (n < slots)
        n <<= 1;
    ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NT_ERR_NOMEM;
    rl->slots = calloc(n, sizeof *rl->slots);
    if (!rl->slots) {
        free(rl);
        return NT_ERR_NOMEM;
    }
    rl->c = *c;
    rl->mask = n - 1;
    *out = rl;
    return NT_OK;
}

/* FNV-1a: keys are addresses, the table is small and the probe window
 * bounds the cost of collisions. */
static size_t hash(const uint8_t *k, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 16777619u;
    return h;
}

bool ratelimit_allow(ratelimit *rl, const void *key, size_t key_len, int64_t now_ms)
{
    if (key_len > RATELIMIT_KEY_MAX)
        key_len = RATELIMIT_KEY_MAX;
    size_t h = hash(key, key_len);
    slot *victim = NULL;
    size_t probe = PROBE < rl->mask + 1 ? PROBE : rl->mask + 1;
    for (size_t i = 0; i < probe; i++) {
        slot *s = &rl->slots[(h + i) & rl->mask];
        if (s->used && s->key_len == key_len && memcmp(s->key, key, key_len) == 0) {
            s->seen_ms = now_ms;
            return ratelimit_bucket_take(&s->b, &rl->c, now_ms);
        }
        if (!s->used) {
            if (!victim || victim->used)
                victim = s;
        } else if (!victim || (victim->used && s->seen_ms < victim->seen_ms)) {
            victim = s;
        }
    }
    if (!victim->used)
        rl->count++;
    victim->used = true;
    victim->key_len = (uint8_t)key_len;
    memcpy(victim->key, key, key_len);
    victim->seen_ms = now_ms;
    ratelimit_bucket_init(&victim->b, &rl->c, now_ms);
    return ratelimit_bucket_take(&victim->b, &rl->c, now_ms);
}

size_t ratelimit_count(const ratelimit *rl) { return rl->count; }

void ratelimit_free(ratelimit *rl)
{
    if (!rl)
        return;
    free(rl->slots);
    free(rl);
}
