/* discovery_sched.c - see discovery_sched.h. */
#include "server/discovery/discovery_sched.h"

void discovery_sched_defaults(discovery_sched_config *c)
{
    c->interval_ms = DISCOVERY_INTERVAL_MS_DEFAULT;
    c->jitter_pct = DISCOVERY_JITTER_PCT_DEFAULT;
    c->answer_delay_ms = DISCOVERY_ANSWER_DELAY_MS_DEFAULT;
    c->answer_holdoff_ms = DISCOVERY_ANSWER_HOLDOFF_MS_DEFAULT;
    c->expiry_ms = DISCOVERY_EXPIRY_MS_DEFAULT;
}

/* Uniform in [0, span] without modulo bias worth caring about: span is at
 * most minutes in milliseconds, far below 2^32. */
static int64_t uniform(discovery_sched *s, int64_t span)
{
    if (span <= 0)
        return 0;
    uint64_t r = s->rnd(s->rnd_ctx);
    return (int64_t)(r * (uint64_t)(span + 1) >> 32);
}

int64_t discovery_sched_interval(const discovery_sched *s)
{
    int64_t base = s->c.interval_ms > 0 ? s->c.interval_ms : 1;
    unsigned j = s->c.jitter_pct > 50 ? 50 : s->c.jitter_pct;
    int64_t spread = base * (int64_t)j / 100;
    int64_t v = base - spread + uniform((discovery_sched *)s, 2 * spread);
    return v > 0 ? v : 1;
}

void discovery_sched_init(discovery_sched *s, const discovery_sched_config *c, int64_t now_ms,
                          discovery_rand_fn rnd, void *rnd_ctx)
{
    s->c = *c;
    s->rnd = rnd;
    s->rnd_ctx = rnd_ctx;
    s->next_announce_ms = now_ms;
    s->answer_at_ms = -1;
    s->last_announce_ms = INT64_MIN;
    for (unsigned i = 0; i < DISCOVERY_ANSWER_BURST; i++)
        s->answered_ms[i] = INT64_MIN;
    s->answered_next = 0;
    s->next_scan_ms = now_ms;
    s->query_due = true;
}

unsigned discovery_sched_poll(discovery_sched *s, int64_t now_ms)
{
    unsigned todo = 0;
    bool answer = s->answer_at_ms >= 0 && now_ms >= s->answer_at_ms;
    if (now_ms >= s->next_announce_ms || answer) {
        todo |= DISCOVERY_DO_ANNOUNCE;
        if (answer) {
            s->answered_ms[s->answered_next] = now_ms;
            s->answered_next = (s->answered_next + 1) % DISCOVERY_ANSWER_BURST;
        }
        s->last_announce_ms = now_ms;
        s->answer_at_ms = -1;
        s->next_announce_ms = now_ms + discovery_sched_interval(s);
    }
    if (s->query_due) {
        todo |= DISCOVERY_DO_QUERY;
        s->query_due = false;
    }
    return todo;
}

void discovery_sched_on_query(discovery_sched *s, int64_t now_ms)
{
    if (s->answer_at_ms >= 0)
        return; /* one answer covers every query until it goes out */
    int64_t at = now_ms + uniform(s, s->c.answer_delay_ms);
    /* Defer rather than skip: our last announcement may have gone out
     * before the querier listened, but answers stay at most one per
     * hold-off however many queries arrive. */
    if (s->last_announce_ms != INT64_MIN && at < s->last_announce_ms + s->c.answer_holdoff_ms)
        at = s->last_announce_ms + s->c.answer_holdoff_ms;
    int64_t oldest = s->answered_ms[s->answered_next];
    if (oldest != INT64_MIN && at < oldest + s->c.interval_ms)
        at = oldest + s->c.interval_ms;
    if (at >= s->next_announce_ms)
        return; /* the periodic announcement comes first anyway */
    s->answer_at_ms = at;
}

bool discovery_sched_scan_due(discovery_sched *s, int64_t now_ms)
{
    if (now_ms < s->next_scan_ms)
        return false;
    s->next_scan_ms = now_ms + (s->c.interval_ms > 0 ? s->c.interval_ms : 1);
    return true;
}

int64_t discovery_sched_next_ms(const discovery_sched *s)
{
    int64_t t = s->next_announce_ms;
    if (s->answer_at_ms >= 0 && s->answer_at_ms < t)
        t = s->answer_at_ms;
    return t;
}

int64_t discovery_sched_next_scan_ms(const discovery_sched *s)
{
    return s->next_scan_ms;
}

bool discovery_sched_gone(const discovery_sched_config *c, int64_t last_seen_ms, int64_t now_ms)
{
    return now_ms - last_seen_ms > c->expiry_ms;
}
