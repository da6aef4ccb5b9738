/* test_rng.c - the process-wide DRBG: state checks, sizes, threads. */
#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/rng.h"
#include "unit_util.h"
#include "tests/test_main.h"

START_TEST(test_uninitialised_is_state_error)
{
    uint8_t buf[16];
    memset(buf, 0xAA, sizeof buf);
    rng_free();
    ck_assert_int_eq(rng_bytes(buf, sizeof buf), NT_ERR_STATE);
    ck_assert(all_zero(buf, sizeof buf)); /* never leaves stale bytes behind */
    ck_assert_int_ne(rng_mbedtls(NULL, buf, sizeof buf), 0);
}
END_TEST

START_TEST(test_init_idempotent_and_reinit)
{
    uint8_t a[32], b[32];
    ck_assert_int_eq(rng_init(), NT_OK);
    ck_assert_int_eq(rng_init(), NT_OK);
    ck_assert_int_eq(rng_bytes(a, sizeof a), NT_OK);
    rng_free();
    rng_free(); /* second free is a no-op */
    ck_assert_int_eq(rng_bytes(b, sizeof b), NT_ERR_STATE);
    ck_assert_int_eq(rng_init(), NT_OK);
    ck_assert_int_eq(rng_bytes(b, sizeof b), NT_OK);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    rng_free();
}
END_TEST

/* Sizes around the DRBG's single-request limit (1024) must all work. */
static const size_t sizes[] = {0, 1, 31, 32, 33, 1023, 1024, 1025, 4096, 70000};

START_TEST(test_sizes)
{
    size_t n = sizes[_i];
    uint8_t *a = calloc(1, n + 1), *b = calloc(1, n + 1);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(rng_init(), NT_OK);
    ck_assert_int_eq(rng_bytes(a, n), NT_OK);
    ck_assert_int_eq(rng_mbedtls(NULL, b, n), 0);
    if (n >= 16) {
        ck_assert(!all_zero(a, n));
        ck_assert(memcmp(a, b, n) != 0);
        /* the tail past a 1024-byte chunk is filled too */
        ck_assert(!all_zero(a + n - 16, 16));
    }
    ck_assert_int_eq(a[n], 0); /* no write past the end */
    free(a);
    free(b);
    rng_free();
}
END_TEST

START_TEST(test_null_out)
{
    ck_assert_int_eq(rng_init(), NT_OK);
    ck_assert_int_eq(rng_bytes(NULL, 4), NT_ERR_INVALID);
    ck_assert_int_eq(rng_bytes(NULL, 0), NT_OK);
    rng_free();
}
END_TEST

/* Rough statistics: every byte value appears in 64 KiB (P(miss) ~ 2^-350). */
START_TEST(test_byte_coverage)
{
    enum { N = 65536 };
    uint8_t *buf = malloc(N);
    unsigned count[256] = {0};
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(rng_init(), NT_OK);
    ck_assert_int_eq(rng_bytes(buf, N), NT_OK);
    for (size_t i = 0; i < N; i++)
        count[buf[i]]++;
    for (int v = 0; v < 256; v++) {
        ck_assert_uint_gt(count[v], 128); /* expected 256 */
        ck_assert_uint_lt(count[v], 400);
    }
    free(buf);
    rng_free();
}
END_TEST

enum { THREADS = 8, ROUNDS = 500, CHUNK = 32 };
struct worker {
    uint8_t out[ROUNDS][CHUNK];
    int failures;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int r = 0; r < ROUNDS; r++) {
        if (r % 2 ? rng_bytes(w->out[r], CHUNK) != NT_OK : rng_mbedtls(NULL, w->out[r], CHUNK) != 0)
            w->failures++;
    }
    return NULL;
}

static int cmp_chunk(const void *a, const void *b)
{
    return memcmp(a, b, CHUNK);
}

/* Concurrent callers all succeed and never receive the same block. */
START_TEST(test_threads)
{
    pthread_t th[THREADS];
    struct worker *w = calloc(THREADS, sizeof *w);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(rng_init(), NT_OK);
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    uint8_t(*all)[CHUNK] = malloc((size_t)THREADS * ROUNDS * CHUNK);
    ck_assert_ptr_nonnull(all);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(w[i].failures, 0);
        memcpy(all[i * ROUNDS], w[i].out, sizeof w[i].out);
    }
    qsort(all, (size_t)THREADS * ROUNDS, CHUNK, cmp_chunk);
    for (size_t i = 1; i < (size_t)THREADS * ROUNDS; i++)
        ck_assert(memcmp(all[i - 1], all[i], CHUNK) != 0);
    free(all);
    free(w);
    rng_free();
}
END_TEST

/* A forked child reseeds: its bytes differ from the parent's next bytes. */
START_TEST(test_fork_reseeds)
{
    uint8_t parent[32], child[32];
    int fds[2];
    pid_t pid;

    ck_assert_int_eq(rng_init(), NT_OK);
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        uint8_t b[32];
        close(fds[0]);
        _exit(rng_bytes(b, sizeof b) == NT_OK && write(fds[1], b, sizeof b) == (ssize_t)sizeof b ? 0 : 1);
    }
    close(fds[1]);
    ck_assert_int_eq(rng_bytes(parent, sizeof parent), NT_OK);
    ck_assert_int_eq(read(fds[0], child, sizeof child), (ssize_t)sizeof child);
    close(fds[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert(memcmp(parent, child, sizeof parent) != 0);
    rng_free();
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_uninitialised_is_state_error);
    tcase_add_test(tc, test_init_idempotent_and_reinit);
    tcase_add_loop_test(tc, test_sizes, 0, (int)(sizeof sizes / sizeof sizes[0]));
    tcase_add_test(tc, test_null_out);
    tcase_add_test(tc, test_byte_coverage);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_fork_reseeds);
    suite_add_tcase(s, tc);
    return s;
}
