/* vectors_util.h - helpers for unit tests that read files under
 * tests/vectors/: find the directory, load JSON, decode hex.
 *
 * The directory is, in order: $NATTER_VECTORS; tests/vectors relative to
 * the working directory or up to three parents (make runs tests from the
 * repository root); tests/vectors found from the test binary's own path
 * (build[-san]/tests/unit/<bin> sits three levels below the root). */
#ifndef NATTER_TESTS_VECTORS_UTIL_H
#define NATTER_TESTS_VECTORS_UTIL_H

#include <check.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline int vec_is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Returns a static path, or NULL if the directory cannot be found. */
static inline const char *vec_dir(void)
{
    static char found[PATH_MAX];
    static const char *const rel[] = {"tests/vectors", "../tests/vectors", "../../tests/vectors",
                                      "../../../tests/vectors"};
    const char *env = getenv("NATTER_VECTORS");
    char exe[PATH_MAX];
    ssize_t n;

    if (found[0])
        return found;
    if (env && vec_is_dir(env)) {
        snprintf(found, sizeof found, "%s", env);
        return found;
    }
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        if (vec_is_dir(rel[i])) {
            snprintf(found, sizeof found, "%s", rel[i]);
            return found;
        }
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int up = 0; up < 4; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash)
                break;
            *slash = '\0';
            char cand[PATH_MAX];
            if (snprintf(cand, sizeof cand, "%s/tests/vectors", exe) < (int)sizeof cand && vec_is_dir(cand)) {
                snprintf(found, sizeof found, "%s", cand);
                return found;
            }
        }
    }
    return NULL;
}

/* Load tests/vectors/<rel> as JSON; NULL (with a message on stderr) if
 * missing or malformed. Caller json_decref()s. */
static inline json_t *vec_load_json(const char *rel)
{
    const char *dir = vec_dir();
    char path[PATH_MAX];
    json_error_t err;
    json_t *j;

    if (!dir) {
        fprintf(stderr, "vectors: tests/vectors not found (set NATTER_VECTORS)\n");
        return NULL;
    }
    if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
        return NULL;
    j = json_load_file(path, 0, &err);
    if (!j)
        fprintf(stderr, "vectors: %s: %s (line %d)\n", path, err.text, err.line);
    return j;
}

static inline int vec_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode a hex string into a malloc'd buffer (at least 1 byte, so an empty
 * string gives a valid pointer). NULL on bad hex. */
static inline uint8_t *vec_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    uint8_t *out;

    if (n % 2)
        return NULL;
    out = malloc(n / 2 + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = vec_nibble(hex[2 * i]), lo = vec_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

/* The string member `key` of object o, or NULL. */
static inline const char *vec_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}


/* The hex member `key` of o decoded into a malloc'd buffer (at least one
 * byte); fails the running Check test if it is missing or not hex. */
static inline uint8_t *vec_hex_field(const json_t *o, const char *key, size_t *len)
{
    const char *s = vec_str(o, key);
    ck_assert_msg(s != NULL, "missing field %s", key);
    uint8_t *b = vec_hex(s, len);
    ck_assert_msg(b != NULL, "bad hex in %s", key);
    return b;
}

/* The same into out (cap bytes); fails the test if it does not fit.
 * Returns the decoded length. */
static inline size_t vec_hex_into(const json_t *o, const char *key, uint8_t *out, size_t cap)
{
    size_t n = 0;
    uint8_t *b = vec_hex_field(o, key, &n);
    ck_assert_msg(n <= cap, "field %s too long (%zu)", key, n);
    memcpy(out, b, n);
    free(b);
    return n;
}

#endif
