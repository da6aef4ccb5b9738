/* Discovery timing driven by an injected clock and RNG: no sleeps. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "server/discovery/discovery_sched.h"
#include "tests/test_main.h"

static uint32_t rng_const(void *ctx) { return *(uint32_t *)ctx; }

static uint32_t rng_xorshift(void *ctx)
{
    uint32_t *x = ctx;
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static discovery_sched_config defaults(void)
{
    discovery_sched_config c;
    discovery_sched_defaults(&c);
    return c;
}

START_TEST(defaults_are_the_documented_figures)
{
    discovery_sched_config c = defaults();
    ck_assert_int_eq(c.interval_ms, 30000);
    ck_assert_uint_eq(c.jitter_pct, 20);
    ck_assert_int_eq(c.expiry_ms, 90000);
    ck_assert_int_eq(c.answer_delay_ms, 500);
}
END_TEST

START_TEST(announce_and_query_at_start_only_once)
{
    discovery_sched_config c = defaults();
    uint32_t r = 0;
    discovery_sched s;
    discovery_sched_init(&s, &c, 5000, rng_const, &r);
    ck_assert_int_eq(discovery_sched_next_ms(&s), 5000);
    ck_assert_uint_eq(discovery_sched_poll(&s, 5000), DISCOVERY_DO_ANNOUNCE | DISCOVERY_DO_QUERY);
    ck_assert_uint_eq(discovery_sched_poll(&s, 5000), 0);
    ck_assert_uint_eq(discovery_sched_poll(&s, 5001), 0);
}
END_TEST

/* The extreme RNG outputs give the ends of [0.8, 1.2] x interval. */
static const struct {
    uint32_t r;
    int64_t next;
} jitter_ends[] = {
    {0, 24000},
    {UINT32_MAX, 36000},
    {UINT32_MAX / 2 + 1, 30000},
};

START_TEST(interval_jitter_ends)
{
    discovery_sched_config c = defaults();
    uint32_t r = jitter_ends[_i].r;
    discovery_sched s;
    discovery_sched_init(&s, &c, 0, rng_const, &r);
    (void)discovery_sched_poll(&s, 0);
    ck_assert_int_eq(discovery_sched_next_ms(&s), jitter_ends[_i].next);
    ck_assert_uint_eq(discovery_sched_poll(&s, jitter_ends[_i].next - 1), 0);
    ck_assert_uint_eq(discovery_sched_poll(&s, jitter_ends[_i].next), DISCOVERY_DO_ANNOUNCE);
}
END_TEST

START_TEST(interval_jitter_bounds_over_many_draws)
{
    discovery_sched_config c = defaults();
    uint32_t r = 0x12345678;
    discovery_sched s;
    discovery_sched_init(&s, &c, 0, rng_xorshift, &r);
    int64_t now = 0, lo = INT64_MAX, hi = 0;
    (void)discovery_sched_poll(&s, now);
    for (int i = 0; i < 2000; i++) {
        int64_t next = discovery_sched_next_ms(&s);
        int64_t gap = next - now;
        lo = gap < lo ? gap : lo;
        hi = gap > hi ? gap : hi;
        ck_assert_uint_eq(discovery_sched_poll(&s, next - 1), 0);
        ck_assert_uint_eq(discovery_sched_poll(&s, next), DISCOVERY_DO_ANNOUNCE);
        now = next;
    }
    ck_assert_int_ge(lo, 24000);
    ck_assert_int_le(hi, 36000);
    /* the spread is really used, not a constant interval */
    ck_assert_int_lt(lo, 24500);
    ck_assert_int_gt(hi, 35500);
}
END_TEST

START_TEST(query_answer_after_small_random_delay)
{
    discovery_sched_config c = defaults();
    uint32_t r = UINT32_MAX; /* longest delay */
    discovery_sched s;
    discovery_sched_init(&s, &c, 0, rng_const, &r);
    (void)discovery_sched_poll(&s, 0);
    discovery_sched_on_query(&s, 10000);
    ck_assert_int_eq(discovery_sched_next_ms(&s), 10500);
    ck_assert_uint_eq(discovery_sched_poll(&s, 10499), 0);
    ck_assert_uint_eq(discovery_sched_poll(&s, 10500), DISCOVERY_DO_ANNOUNCE);
    /* the answer counts as an announcement: the periodic timer restarts */
    ck_assert_int_eq(discovery_sched_next_ms(&s), 10500 + 36000);
}
END_TEST

START_TEST(query_right_after_announce_is_deferred_not_dropped)
{
    discovery_sched_config c = defaults();
    uint32_t r = 0; /* zero delay */
    discovery_sched s;
    discovery_sched_init(&s, &c, 0, rng_const, &r);
    (void)discovery_sched_poll(&s, 0);
    discovery_sched_on_query(&s, 300); /* a node that started 300 ms after us */
    ck_assert_int_eq(discovery_sched_next_ms(&s), 1000);
    ck_assert_uint_eq(discovery_sched_poll(&s, 1000), DISCOVERY_DO_ANNOUNCE);
}
END_TEST

/* Queries are unsigned: anyone may send them. A flood gets at most
 * DISCOVERY_ANSWER_BURST answers per interval, so it cannot make every
 * node on the LAN announce every second. */
START_TEST(query_flood_answers_at_most_burst_per_interval)
{
    discovery_sched_config c = defaults();
    uint32_t r = 99;
    discovery_sched s;
    discovery_sched_init(&s, &c, 0, rng_xorshift, &r);
    int announces = 0;
    for (int64_t t = 0; t <= 20000; t += 5) {
        discovery_sched_on_query(&s, t);
        if (discovery_sched_poll(&s, t) & DISCOVERY_DO_ANNOUNCE)
            announces++;
    }
    ck_assert_int_ge(announces, 2);
    ck_assert_int_le(announces, 1 + DISCOVERY_ANSWER_BURST); /* one at start + the answers */
}
END_TEST

/* Three nodes starting a second apart each get an answer at once. */
START_TEST(queries_of_nodes_starting_together_are_answered)
{
    discovery_sched_config c = defaults();
    uint32_t r = 0;
    discovery_sched s;
    discovery_sched_init(&s, &c, 0, rng_const, &r);
    (void)discovery_sched_poll(&s, 0);
    for (int64_t q = 1000; q <= 3000; q += 1000) {
        discovery_sched_on_query(&s, q);
        ck_assert_int_eq(discovery_sched_next_ms(&s), q);
        ck_assert_uint_eq(discovery_sched_poll(&s, q), DISCOVERY_DO_ANNOUNCE);
    }
}
END_TEST

/* One query a second for five minutes. */
START_TEST(query_each_second_for_five_minutes)
{
    discovery_sched_config c = defaults();
    uint32_t r = 0x80000000u;
    discovery_sched s;
    discovery_sched_init(&s, &c, 0, rng_const, &r);
    int announces = 0;
    for (int64_t t = 0; t <= 300000; t += 100) {
        if (t % 1000 == 500)
            discovery_sched_on_query(&s, t);
        announces += (discovery_sched_poll(&s, t) & DISCOVERY_DO_ANNOUNCE) != 0;
    }
    /* at most a burst per interval, and never fewer than the periodic ones */
    ck_assert_int_le(announces, 1 + DISCOVERY_ANSWER_BURST * (300000 / c.interval_ms + 1));
    ck_assert_int_ge(announces, 300000 / 36000);
}
END_TEST

/* Interface scans have their own timer: answers to queries do not put
 * them off (an interface that comes up is joined within an interval). */
START_TEST(scans_keep_their_interval_under_queries)
{
    discovery_sched_config c = defaults();
    uint32_t r = 0x80000000u;
    discovery_sched s;
    discovery_sched_init(&s, &c, 0, rng_const, &r);
    int scans = 0;
    int64_t last = 0, worst = 0;
    for (int64_t t = 0; t <= 300000; t += 100) {
        if (t % 1000 == 500)
            discovery_sched_on_query(&s, t);
        (void)discovery_sched_poll(&s, t);
        if (discovery_sched_scan_due(&s, t)) {
            ck_assert_int_eq(discovery_sched_next_scan_ms(&s), t + c.interval_ms);
            worst = t - last > worst ? t - last : worst;
            last = t;
            scans++;
        }
    }
    ck_assert_int_ge(scans, 300000 / c.interval_ms);
    ck_assert_int_le(worst, c.interval_ms);
}
END_TEST

START_TEST(query_pending_answer_is_not_rescheduled)
{
    discovery_sched_config c = defaults();
    uint32_t r = UINT32_MAX;
    discovery_sched s;
    discovery_sched_init(&s, &c, 0, rng_const, &r);
    (void)discovery_sched_poll(&s, 0);
    discovery_sched_on_query(&s, 5000);
    int64_t at = discovery_sched_next_ms(&s);
    r = 0;
    discovery_sched_on_query(&s, 5100);
    ck_assert_int_eq(discovery_sched_next_ms(&s), at);
}
END_TEST

START_TEST(gone_after_expiry)
{
    discovery_sched_config c = defaults();
    ck_assert(!discovery_sched_gone(&c, 1000, 1000));
    ck_assert(!discovery_sched_gone(&c, 1000, 91000));
    ck_assert(discovery_sched_gone(&c, 1000, 91001));
    c.expiry_ms = 2000; /* short expiry for tests */
    ck_assert(!discovery_sched_gone(&c, 0, 2000));
    ck_assert(discovery_sched_gone(&c, 0, 2001));
}
END_TEST

START_TEST(short_interval_for_tests)
{
    discovery_sched_config c = defaults();
    c.interval_ms = 1000;
    c.jitter_pct = 0;
    uint32_t r = 7;
    discovery_sched s;
    discovery_sched_init(&s, &c, 0, rng_xorshift, &r);
    int n = 0;
    for (int64_t t = 0; t <= 10000; t++)
        n += (discovery_sched_poll(&s, t) & DISCOVERY_DO_ANNOUNCE) != 0;
    ck_assert_int_eq(n, 11);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("discovery_sched");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, defaults_are_the_documented_figures);
    tcase_add_test(tc, announce_and_query_at_start_only_once);
    tcase_add_loop_test(tc, interval_jitter_ends, 0, sizeof jitter_ends / sizeof jitter_ends[0]);
    tcase_add_test(tc, interval_jitter_bounds_over_many_draws);
    tcase_add_test(tc, query_answer_after_small_random_delay);
    tcase_add_test(tc, query_right_after_announce_is_deferred_not_dropped);
    tcase_add_test(tc, query_flood_answers_at_most_burst_per_interval);
    tcase_add_test(tc, queries_of_nodes_starting_together_are_answered);
    tcase_add_test(tc, query_each_second_for_five_minutes);
    tcase_add_test(tc, scans_keep_their_interval_under_queries);
    tcase_add_test(tc, query_pending_answer_is_not_rescheduled);
    tcase_add_test(tc, gone_after_expiry);
    tcase_add_test(tc, short_interval_for_tests);
    suite_add_tcase(s, tc);
    return s;
}
