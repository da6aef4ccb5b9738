/* rooms_util.h - small helpers shared by the rooms integration tests. */
#ifndef NATTER_TESTS_ROOMS_UTIL_H
#define NATTER_TESTS_ROOMS_UTIL_H

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include "harness.h"

/* A client API call on n (path from fmt); with want non-zero, fails the
 * test (after printing n's log) unless the status is want. Returns the
 * reply's JSON (JSON null if none); the caller decrefs it. */
static inline json_t *call(harness_node *n, const char *method, const char *body, long want, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static inline json_t *call(harness_node *n, const char *method, const char *body, long want, const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    harness_resp r = {0};
    ck_assert_int_eq(harness_call(n, HARNESS_CLIENT, method, path, body, &r), 0);
    if (want && r.status != want) {
        harness_dump_log(n);
        ck_abort_msg("%s %s on %s: status %ld, want %ld: %s", method, path, n->name, r.status, want,
                     r.body ? r.body : "");
    }
    json_t *j = r.json ? json_incref(r.json) : json_null();
    harness_resp_free(&r);
    return j;
}

#endif
