/* unit_util.h - small helpers shared by the Check unit tests. */
#ifndef NATTER_TESTS_UNIT_UTIL_H
#define NATTER_TESTS_UNIT_UTIL_H

#include <check.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

/* True if all n bytes are zero (every byte read: no early exit). */
static inline bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* Run n threads of worker (its argument is the thread index as a
 * pointer-sized integer) and fail the test unless every one starts, joins
 * and returns 0 (its failure count). */
#define RUN_WORKERS_MAX 64

static inline void run_workers(void *(*worker)(void *), int n)
{
    pthread_t th[RUN_WORKERS_MAX];
    ck_assert_int_le(n, RUN_WORKERS_MAX);
    for (intptr_t i = 0; i < n; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker, (void *)i), 0);
    for (int i = 0; i < n; i++) {
        void *res;
        ck_assert_int_eq(pthread_join(th[i], &res), 0);
        ck_assert_int_eq((intptr_t)res, 0);
    }
}

/* Remove an SQLite file in WAL mode (with its -wal and -shm) and the
 * directory it was made in. */
static inline void remove_db_dir(const char *dir, const char *file)
{
    char f[PATH_MAX + 8];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(f, sizeof f, "%s%s", file, sfx[i]);
        unlink(f);
    }
    rmdir(dir);
}

/* Statements of db that are active now (stepped and not reset: each holds
 * a read snapshot). After any storage call returns, this must be 0. */
static inline int active_statements(sqlite3 *db)
{
    int n = 0;
    for (sqlite3_stmt *s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s))
        n += sqlite3_stmt_busy(s) != 0;
    return n;
}

#define ck_assert_no_active_statements(db) ck_assert_int_eq(active_statements(db), 0)

#endif