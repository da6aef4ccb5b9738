/* Unit tests for server/replay: the sliding anti-replay window. */
#include <check.h>
#include <stdlib.h>
#include "server/channel/replay.h"
#include "tests/test_main.h"

START_TEST(in_order)
{
    replay_window w;
    replay_init(&w);
    for (uint64_t i = 0; i < 5000; i++)
        ck_assert_int_eq(replay_accept(&w, i), NT_OK);
    for (uint64_t i = 5000 - REPLAY_WINDOW; i < 5000; i++)
        ck_assert_int_eq(replay_accept(&w, i), NT_ERR_REPLAY);
}
END_TEST

START_TEST(duplicates)
{
    replay_window w;
    replay_init(&w);
    ck_assert(replay_would_accept(&w, 0));
    ck_assert_int_eq(replay_accept(&w, 0), NT_OK);
    ck_assert(!replay_would_accept(&w, 0));
    ck_assert_int_eq(replay_accept(&w, 0), NT_ERR_REPLAY);
    ck_assert_int_eq(replay_accept(&w, 7), NT_OK);
    ck_assert_int_eq(replay_accept(&w, 7), NT_ERR_REPLAY);
    ck_assert_int_eq(replay_accept(&w, 3), NT_OK);
    ck_assert_int_eq(replay_accept(&w, 3), NT_ERR_REPLAY);
    ck_assert_int_eq(replay_accept(&w, 0), NT_ERR_REPLAY);
}
END_TEST

/* Any permutation of a block of window-size numbers is accepted once. */
START_TEST(out_of_order_within_window)
{
    replay_window w;
    replay_init(&w);
    enum { N = REPLAY_WINDOW };
    uint64_t *seq = malloc(N * sizeof(*seq));
    ck_assert_ptr_nonnull(seq);
    for (uint64_t i = 0; i < N; i++)
        seq[i] = 100 + i;
    srand(42);
    for (size_t i = N - 1; i > 0; i--) {
        size_t j = (size_t)rand() % (i + 1);
        uint64_t t = seq[i];
        seq[i] = seq[j];
        seq[j] = t;
    }
    /* Move the highest to the front so the whole block stays in the window. */
    for (size_t i = 0; i < N; i++)
        if (seq[i] == 100 + N - 1) {
            seq[i] = seq[0];
            seq[0] = 100 + N - 1;
        }
    for (size_t i = 0; i < N; i++)
        ck_assert_msg(replay_accept(&w, seq[i]) == NT_OK, "seq %llu", (unsigned long long)seq[i]);
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq(replay_accept(&w, seq[i]), NT_ERR_REPLAY);
    free(seq);
}
END_TEST

START_TEST(window_edges)
{
    replay_window w;
    replay_init(&w);
    uint64_t top = 10000;
    ck_assert_int_eq(replay_accept(&w, top), NT_OK);
    /* The oldest number still inside: top - (WINDOW - 1). */
    ck_assert(replay_would_accept(&w, top - (REPLAY_WINDOW - 1)));
    ck_assert_int_eq(replay_accept(&w, top - (REPLAY_WINDOW - 1)), NT_OK);
    /* Just outside. */
    ck_assert(!replay_would_accept(&w, top - REPLAY_WINDOW));
    ck_assert_int_eq(replay_accept(&w, top - REPLAY_WINDOW), NT_ERR_REPLAY);
}
END_TEST

START_TEST(far_behind)
{
    replay_window w;
    replay_init(&w);
    ck_assert_int_eq(replay_accept(&w, 1000000), NT_OK);
    static const uint64_t old[] = {0, 1, 999999 - REPLAY_WINDOW, 1000000 - REPLAY_WINDOW};
    for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
        ck_assert(!replay_would_accept(&w, old[i]));
        ck_assert_int_eq(replay_accept(&w, old[i]), NT_ERR_REPLAY);
    }
    ck_assert_int_eq(replay_accept(&w, 999999), NT_OK);
}
END_TEST

START_TEST(far_ahead)
{
    replay_window w;
    replay_init(&w);
    for (uint64_t i = 0; i < 100; i++)
        ck_assert_int_eq(replay_accept(&w, i), NT_OK);
    /* A jump far ahead is accepted and slides the window past everything;
     * bits of the old numbers must not alias new ones in the ring. */
    uint64_t far = UINT64_C(1) << 40;
    ck_assert_int_eq(replay_accept(&w, far), NT_OK);
    ck_assert_int_eq(replay_accept(&w, far), NT_ERR_REPLAY);
    ck_assert_int_eq(replay_accept(&w, 50), NT_ERR_REPLAY);
    for (uint64_t i = far - REPLAY_WINDOW + 1; i < far; i++)
        ck_assert_msg(replay_accept(&w, i) == NT_OK, "seq far-%llu", (unsigned long long)(far - i));
    /* Slide by exactly one word and by a bit less than the window. */
    ck_assert_int_eq(replay_accept(&w, far + 64), NT_OK);
    ck_assert_int_eq(replay_accept(&w, far + 1), NT_OK);
    ck_assert_int_eq(replay_accept(&w, far + REPLAY_WINDOW - 5), NT_OK);
    ck_assert_int_eq(replay_accept(&w, far + 64), NT_ERR_REPLAY);
    ck_assert_int_eq(replay_accept(&w, far + 2), NT_OK);
}
END_TEST

START_TEST(limit)
{
    replay_window w;
    replay_init(&w);
    ck_assert_int_eq(replay_accept(&w, REPLAY_SEQ_LIMIT), NT_ERR_REPLAY);
    ck_assert_int_eq(replay_accept(&w, UINT64_MAX), NT_ERR_REPLAY);
    ck_assert_int_eq(replay_accept(&w, REPLAY_SEQ_LIMIT - 1), NT_OK);
    ck_assert_int_eq(replay_accept(&w, REPLAY_SEQ_LIMIT - 2), NT_OK);
    ck_assert_int_eq(replay_accept(&w, REPLAY_SEQ_LIMIT - 1), NT_ERR_REPLAY);
}
END_TEST

/* A model check: a plain set over a bounded range agrees with the ring. */
START_TEST(matches_model)
{
    enum { RANGE = 20000 };
    replay_window w;
    replay_init(&w);
    unsigned char *seen = calloc(RANGE, 1);
    ck_assert_ptr_nonnull(seen);
    uint64_t top = 0;
    int any = 0;
    srand(7);
    for (int i = 0; i < 200000; i++) {
        uint64_t base = any ? top : 0;
        int64_t off = (rand() % 3000) - 2400;
        int64_t s = (int64_t)base + off;
        if (s < 0 || s >= RANGE)
            continue;
        uint64_t seq = (uint64_t)s;
        int expect = !seen[seq] && (!any || seq > top || top - seq < REPLAY_WINDOW);
        nt_err rc = replay_accept(&w, seq);
        ck_assert_int_eq(rc == NT_OK, expect);
        if (expect) {
            seen[seq] = 1;
            if (!any || seq > top)
                top = seq;
            any = 1;
        }
    }
    free(seen);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("window");
    tcase_add_test(tc, in_order);
    tcase_add_test(tc, duplicates);
    tcase_add_test(tc, out_of_order_within_window);
    tcase_add_test(tc, window_edges);
    tcase_add_test(tc, far_behind);
    tcase_add_test(tc, far_ahead);
    tcase_add_test(tc, limit);
    tcase_add_test(tc, matches_model);
    suite_add_tcase(s, tc);
    return s;
}
