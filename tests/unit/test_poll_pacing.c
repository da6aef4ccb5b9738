/* Unit tests for a poll-mode room's pacing (delivery_poll_pause): news
 * (a new member list or new keys) brings the next poll at once, without
 * undoing earlier failures, so a host that answers every poll at once
 * with news alone backs the member off as far as one that answers with
 * nothing; messages, or a poll the host held, reset the pacing. */
#include <check.h>

#include "server/rooms/rooms_int.h"
#include "tests/test_main.h"

static const poll_outcome NEWS = {.ok = true, .news = true};
static const poll_outcome EMPTY = {.ok = true};
static const poll_outcome FAILED = {.ok = false};
static const poll_outcome MESSAGES = {.ok = true, .messages = true};
static const poll_outcome HELD = {.ok = true, .waited = true};

START_TEST(news_polls_again_at_once)
{
    poll_pacing pp = {0, 0};
    ck_assert_int_eq(delivery_poll_pause(&pp, &NEWS), 0);
    ck_assert_int_eq(delivery_poll_pause(&pp, &HELD), 0);
    ck_assert_int_eq(delivery_poll_pause(&pp, &NEWS), 0);
    ck_assert_int_eq(delivery_poll_pause(&pp, &MESSAGES), 0);
}
END_TEST

START_TEST(empty_and_failed_back_off_doubling)
{
    poll_pacing pp = {0, 0};
    ck_assert_int_eq(delivery_poll_pause(&pp, &EMPTY), 250);
    ck_assert_int_eq(delivery_poll_pause(&pp, &FAILED), 500);
    ck_assert_int_eq(delivery_poll_pause(&pp, &EMPTY), 1000);
    ck_assert_int_eq(delivery_poll_pause(&pp, &MESSAGES), 0);
    ck_assert_int_eq(delivery_poll_pause(&pp, &EMPTY), 250);
    for (int i = 0; i < 20; i++)
        (void)delivery_poll_pause(&pp, &FAILED);
    ck_assert_int_eq(delivery_poll_pause(&pp, &FAILED), 60000);
}
END_TEST

/* A host that answers every poll at once with news and nothing else:
 * bursts of POLL_CHANGES_IN_A_ROW polls, then waits that double to the
 * 60 s cap, as if it answered with nothing. */
START_TEST(news_forever_backs_off_like_nothing)
{
    poll_pacing pp = {0, 0};
    int64_t last = 0;
    int polls = 0, waits = 0;
    for (int i = 0; i < 400 && last < 60000; i++) {
        int64_t w = delivery_poll_pause(&pp, &NEWS);
        polls++;
        if (!w)
            continue;
        ck_assert_int_gt(w, last);
        last = w;
        waits++;
    }
    ck_assert_int_eq(last, 60000);
    ck_assert_int_le(polls, (POLL_CHANGES_IN_A_ROW + 1) * waits);
    /* a failure in between does not reset it either */
    ck_assert_int_eq(delivery_poll_pause(&pp, &FAILED), 60000);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("poll_pacing");
    TCase *t = tcase_create("pacing");
    tcase_add_test(t, news_polls_again_at_once);
    tcase_add_test(t, empty_and_failed_back_off_doubling);
    tcase_add_test(t, news_forever_backs_off_like_nothing);
    suite_add_tcase(s, t);
    return s;
}
