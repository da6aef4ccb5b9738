/* Unit tests for common/waitq: wake-ups are not lost, and a wait's
 * deadline is on the monotonic clock, so that a wall clock set back (by
 * hand, or by NTP at boot) cannot stretch a timed wait by as much: the
 * node's long polls, backoffs and reaper all wait this way. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "common/waitq.h"
#include "tests/test_main.h"

static int64_t ms_of(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

static int64_t now_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ms_of(&ts);
}

START_TEST(deadline_is_monotonic)
{
    struct timespec d = waitq_deadline(1500);
    int64_t mono = now_ms(CLOCK_MONOTONIC);
    ck_assert_int_ge(ms_of(&d), mono + 1000);
    ck_assert_int_le(ms_of(&d), mono + 1500);
    ck_assert(!waitq_deadline_passed(&d));
    struct timespec past = waitq_deadline(-1);
    ck_assert(waitq_deadline_passed(&past));
    /* sub-second parts carry */
    struct timespec a = waitq_deadline(999), b = waitq_deadline(1001);
    ck_assert_int_lt(a.tv_nsec, 1000000000L);
    ck_assert_int_ge(ms_of(&b) - ms_of(&a), 1);
}
END_TEST

/* A condition variable made by waitq_cond_init times out on the same
 * clock as waitq_deadline: after the wait, not at once, not hours later. */
START_TEST(cond_times_out_on_the_monotonic_clock)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv;
    waitq_cond_init(&cv);
    int64_t t0 = now_ms(CLOCK_MONOTONIC);
    struct timespec d = waitq_deadline(50);
    pthread_mutex_lock(&mu);
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++) /* bounded: spurious wake-ups only */
        rc = pthread_cond_timedwait(&cv, &mu, &d);
    pthread_mutex_unlock(&mu);
    ck_assert_int_eq(rc, ETIMEDOUT);
    int64_t took = now_ms(CLOCK_MONOTONIC) - t0;
    ck_assert_int_ge(took, 49);
    ck_assert_int_lt(took, 60000);
    pthread_cond_destroy(&cv);
}
END_TEST

typedef struct {
    waitq *q;
    uint64_t gen;
    bool woke;
} waiter;

static void *wait_thread(void *arg)
{
    waiter *w = arg;
    w->woke = waitq_wait(w->q, w->gen, 10000);
    return NULL;
}

/* A wake between reading the generation and waiting is not lost; a wait
 * nobody wakes ends at its timeout. */
START_TEST(wake_not_lost_and_timeout)
{
    waitq q;
    waitq_init(&q);
    uint64_t gen = waitq_gen(&q);
    waitq_wake(&q); /* before the wait */
    waiter w = {&q, gen, false};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
    pthread_join(t, NULL);
    ck_assert(w.woke);
    ck_assert(!waitq_wait(&q, waitq_gen(&q), 20));
    ck_assert_uint_eq(waitq_waiting(&q), 0);
    waitq_destroy(&q);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("waitq");
    TCase *t = tcase_create("waitq");
    tcase_add_test(t, deadline_is_monotonic);
    tcase_add_test(t, cond_times_out_on_the_monotonic_clock);
    tcase_add_test(t, wake_not_lost_and_timeout);
    suite_add_tcase(s, t);
    return s;
}
