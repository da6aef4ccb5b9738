/* Token buckets: burst, refill, clock going backwards, table bounds. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/ratelimit.h"
#include "tests/test_main.h"

static const ratelimit_config c31 = {.rate_per_s = 1, .burst = 3};

START_TEST(bucket_burst_then_refill)
{
    ratelimit_bucket b;
    ratelimit_bucket_init(&b, &c31, 1000);
    for (int i = 0; i < 3; i++)
        ck_assert(ratelimit_bucket_take(&b, &c31, 1000));
    ck_assert(!ratelimit_bucket_take(&b, &c31, 1000));
    ck_assert(!ratelimit_bucket_take(&b, &c31, 1999)); /* 0.999 tokens */
    ck_assert(ratelimit_bucket_take(&b, &c31, 2000));
    ck_assert(!ratelimit_bucket_take(&b, &c31, 2000));
    /* a long idle time refills to the burst, not beyond */
    int n = 0;
    for (int i = 0; i < 10; i++)
        n += ratelimit_bucket_take(&b, &c31, 1000000);
    ck_assert_int_eq(n, 3);
}
END_TEST

START_TEST(bucket_clock_backwards_adds_nothing)
{
    ratelimit_bucket b;
    ratelimit_bucket_init(&b, &c31, 50000);
    for (int i = 0; i < 3; i++)
        ck_assert(ratelimit_bucket_take(&b, &c31, 50000));
    ck_assert(!ratelimit_bucket_take(&b, &c31, 10000));
    ck_assert(!ratelimit_bucket_take(&b, &c31, 50999));
    ck_assert(ratelimit_bucket_take(&b, &c31, 51000));
}
END_TEST

START_TEST(bucket_huge_gap_no_overflow)
{
    const ratelimit_config c = {.rate_per_s = 4000000000u, .burst = 4000000000u};
    ratelimit_bucket b;
    ratelimit_bucket_init(&b, &c, INT64_MIN / 2);
    ck_assert(ratelimit_bucket_take(&b, &c, INT64_MAX / 2));
    ck_assert(ratelimit_bucket_take(&b, &c, INT64_MAX));
}
END_TEST

START_TEST(table_sources_are_independent)
{
    ratelimit *rl = NULL;
    ck_assert_int_eq(ratelimit_new(&rl, &c31, 64), NT_OK);
    uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    for (int i = 0; i < 3; i++)
        ck_assert(ratelimit_allow(rl, a, sizeof a, 0));
    ck_assert(!ratelimit_allow(rl, a, sizeof a, 0)); /* a floods */
    ck_assert(ratelimit_allow(rl, b, sizeof b, 0)); /* b is untouched */
    ck_assert_uint_eq(ratelimit_count(rl), 2);
    ck_assert(ratelimit_allow(rl, a, sizeof a, 1000));
    ratelimit_free(rl);
}
END_TEST

START_TEST(table_stays_bounded)
{
    ratelimit *rl = NULL;
    ck_assert_int_eq(ratelimit_new(&rl, &c31, 5), NT_OK); /* rounds to 8 */
    for (uint32_t i = 0; i < 10000; i++)
        ck_assert(ratelimit_allow(rl, &i, sizeof i, i)); /* every new source starts full */
    ck_assert_uint_le(ratelimit_count(rl), 8);
    ratelimit_free(rl);
}
END_TEST

START_TEST(table_rejects_bad_config)
{
    ratelimit *rl = (ratelimit *)1;
    const ratelimit_config zero_rate = {.rate_per_s = 0, .burst = 1}, zero_burst = {.rate_per_s = 1, .burst = 0};
    ck_assert_int_eq(ratelimit_new(&rl, &zero_rate, 8), NT_ERR_INVALID);
    ck_assert_ptr_null(rl);
    ck_assert_int_eq(ratelimit_new(&rl, &zero_burst, 8), NT_ERR_INVALID);
    ck_assert_int_eq(ratelimit_new(&rl, &c31, 0), NT_ERR_INVALID);
    ck_assert_int_eq(ratelimit_new(&rl, &c31, 1u << 20), NT_ERR_INVALID);
    ratelimit_free(NULL);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("ratelimit");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, bucket_burst_then_refill);
    tcase_add_test(tc, bucket_clock_backwards_adds_nothing);
    tcase_add_test(tc, bucket_huge_gap_no_overflow);
    tcase_add_test(tc, table_sources_are_independent);
    tcase_add_test(tc, table_stays_bounded);
    tcase_add_test(tc, table_rejects_bad_config);
    suite_add_tcase(s, tc);
    return s;
}
