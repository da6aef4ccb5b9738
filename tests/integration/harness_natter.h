/* harness_natter.h - run the terminal client `natter` ($NATTER) against a
 * harness node, for the client's integration tests.
 *
 * natter_run runs it to completion (bounded) and captures stdout, stderr
 * and the exit status; natter_spawn starts it in the background (tail -f)
 * and natter_wait_output waits (bounded) for text in its stdout. The child
 * gets a clean environment for the NATTER_* variables so only the given
 * arguments decide where it connects. */
#ifndef NATTER_HARNESS_NATTER_H
#define NATTER_HARNESS_NATTER_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "harness.h"

#define NATTER_RUN_TIMEOUT_MS 20000
#define NATTER_ARGS_MAX 24

typedef struct natter_out {
    int status;       /* exit status; -1 on timeout, 128+sig if killed */
    char *out, *err;  /* captured stdout/stderr, NUL-terminated (owned) */
    json_t *json;     /* stdout parsed as JSON when it is, else NULL (owned) */
} natter_out;

typedef struct natter_proc {
    pid_t pid;
    char out_path[256], err_path[256];
} natter_proc;

/* Run natter with args (NULL-terminated) and --data-dir of n first (n may
 * be NULL: no --data-dir). stdin_text (may be NULL) is fed on stdin. */
int natter_run(const harness_node *n, const char *stdin_text, natter_out *out, ...);
void natter_out_free(natter_out *o);

/* Fails the running check test unless natter exited with status, its
 * stdout holds in_out and its stderr in_err (NULL: not checked). */
void natter_expect(const natter_out *o, int status, const char *in_out, const char *in_err);

/* GET path on n's client API; fails the running check test unless the
 * status is 200. Returns the body's JSON (the caller decrefs it). */
json_t *natter_api_get(const harness_node *n, const char *path);

/* Start natter in the background, stdout/stderr to temp files. */
int natter_spawn(const harness_node *n, natter_proc *p, ...);
/* Wait until its stdout contains text (timeout_ms): true if it did. */
bool natter_wait_output(const natter_proc *p, const char *text, int timeout_ms);
/* The same for its stderr. */
bool natter_wait_stderr(const natter_proc *p, const char *text, int timeout_ms);
/* SIGTERM/SIGKILL it, reap, remove the files. */
void natter_stop(natter_proc *p);

/* A listener that is not natterd: on 127.0.0.1 (free port), it answers
 * every request with 200 and body (JSON) and closes, and records whether
 * any request carried an Authorization header. For "the token goes only to
 * our node". */
typedef struct fake_http {
    int fd;
    uint16_t port;
    pthread_t thread;
    atomic_int stop, requests, saw_auth;
    char body[2048];
} fake_http;

int fake_http_start(fake_http *f, const char *body);
void fake_http_stop(fake_http *f);

#endif
