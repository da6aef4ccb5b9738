/* notify: counter, timed wait, wake-up, close. log: levels. */
#include <check.h>
#include <pthread.h>
#include <time.h>

#include "common/log.h"
#include "server/rooms/notify.h"
#include "tests/test_main.h"

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

START_TEST(wait_times_out)
{
    notify *n;
    ck_assert_int_eq(notify_new(&n), NT_OK);
    long t0 = now_ms();
    ck_assert_uint_eq(notify_wait(n, 0, 100), 0);
    long dt = now_ms() - t0;
    ck_assert_int_ge(dt, 90);
    ck_assert_int_lt(dt, 5000);
    notify_free(n);
    notify_free(NULL);
}
END_TEST

START_TEST(wait_returns_at_once_when_behind)
{
    notify *n;
    ck_assert_int_eq(notify_new(&n), NT_OK);
    ck_assert_uint_eq(notify_bump(n), 1);
    ck_assert_uint_eq(notify_bump(n), 2);
    ck_assert_uint_eq(notify_current(n), 2);
    long t0 = now_ms();
    ck_assert_uint_eq(notify_wait(n, 1, 10000), 2);
    ck_assert_int_lt(now_ms() - t0, 1000);
    notify_free(n);
}
END_TEST

static void *bumper(void *arg)
{
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
    notify_bump(arg);
    return NULL;
}

static void *closer(void *arg)
{
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
    notify_close(arg);
    return NULL;
}

START_TEST(wake_and_close)
{
    notify *n;
    pthread_t t;
    ck_assert_int_eq(notify_new(&n), NT_OK);
    long t0 = now_ms();
    ck_assert_int_eq(pthread_create(&t, NULL, bumper, n), 0);
    ck_assert_uint_eq(notify_wait(n, 0, 10000), 1);
    pthread_join(t, NULL);
    ck_assert_int_eq(pthread_create(&t, NULL, closer, n), 0);
    ck_assert_uint_eq(notify_wait(n, 1, 10000), 1);
    pthread_join(t, NULL);
    ck_assert(notify_closed(n));
    ck_assert_int_lt(now_ms() - t0, 5000);
    /* closed: later waits return at once */
    t0 = now_ms();
    notify_wait(n, 1, 10000);
    ck_assert_int_lt(now_ms() - t0, 1000);
    notify_free(n);
}
END_TEST

START_TEST(log_levels)
{
    log_level lv;
    ck_assert_int_eq(log_level_parse("debug", &lv), NT_OK);
    ck_assert_int_eq(lv, LOG_DEBUG);
    ck_assert_int_eq(log_level_parse("warn", &lv), NT_OK);
    ck_assert_int_eq(lv, LOG_WARN);
    ck_assert_int_eq(log_level_parse("verbose", &lv), NT_ERR_INVALID);
    ck_assert_int_eq(log_level_parse(NULL, &lv), NT_ERR_INVALID);
    log_set_level(LOG_WARN);
    ck_assert(log_enabled(LOG_ERROR));
    ck_assert(log_enabled(LOG_WARN));
    ck_assert(!log_enabled(LOG_INFO));
    ck_assert_str_eq(log_level_name(LOG_INFO), "info");
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("notify");
    tcase_add_test(tc, wait_times_out);
    tcase_add_test(tc, wait_returns_at_once_when_behind);
    tcase_add_test(tc, wake_and_close);
    tcase_add_test(tc, log_levels);
    suite_add_tcase(s, tc);
    return s;
}
