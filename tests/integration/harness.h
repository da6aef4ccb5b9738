/* harness.h - run real natterd processes for integration tests.
 *
 * Each harness_node is one natterd in its own temp dir (data dir
 * <dir>/data, log <dir>/natterd.log), listening on 127.0.0.1 with port 0;
 * the harness waits (bounded) for <data-dir>/natterd.json with the child's
 * pid and then knows the ports, the api token and the node id. Start as many
 * as a test needs; they are independent. The binary is $NATTERD.
 *
 *     harness_node a;
 *     ck_assert_int_eq(harness_start(&a, NULL), 0);
 *     harness_resp r;
 *     ck_assert_int_eq(harness_get(&a, HARNESS_CLIENT, "/v1/client/status", &r), 0);
 *     ck_assert_int_eq(r.status, 200);
 *     ck_assert_str_eq(json_string_value(json_object_get(r.json, "node_id")), a.node_id);
 *     harness_resp_free(&r);
 *     ck_assert_int_eq(harness_stop(&a), 0);   // SIGTERM, exit status
 *     harness_cleanup(&a);                      // kills if running, removes the dir
 *
 * Default arguments: --data-dir <dir>/data --listen 127.0.0.1:0
 * --client-listen 127.0.0.1:0 --key-bits 2048 --name <given or "test">
 * --no-discovery (so no test multicasts by accident; a discovery test
 * passes --no-discovery=off with its own group, port and interface);
 * extra args (NULL-terminated) come after and so override them.
 * Children get PR_SET_PDEATHSIG(SIGKILL): a crashed test leaves no node. */
#ifndef NATTER_HARNESS_H
#define NATTER_HARNESS_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HARNESS_START_TIMEOUT_MS 60000  /* key generation under sanitizers is slow */
#define HARNESS_STOP_TIMEOUT_MS 15000
#define HARNESS_HTTP_TIMEOUT_MS 30000
#define HARNESS_ARGS_MAX 32

typedef enum { HARNESS_PEER = 1, HARNESS_CLIENT = 2 } harness_api;

typedef struct harness_node {
    pid_t pid;                   /* 0 when not running */
    char dir[PATH_MAX / 2];      /* temp dir, removed by harness_cleanup */
    char data_dir[PATH_MAX];
    char log_path[PATH_MAX];     /* natterd's stderr/stdout (appended) */
    char name[64];
    char peer[64], client[64];   /* "127.0.0.1:port" */
    char peer_url[96], client_url[96]; /* "http://127.0.0.1:port" */
    uint16_t peer_port, client_port;
    char token[80];              /* client API bearer token */
    char node_id[80];            /* 64 hex */
} harness_node;

typedef struct harness_resp {
    long status;                 /* HTTP status; 0 on transport failure */
    char *body;                  /* NUL-terminated raw body (owned) */
    size_t len;
    json_t *json;                /* parsed body or NULL (owned) */
    char *headers;               /* raw response headers (owned) */
} harness_resp;

/* Start a node in a fresh temp dir. name may be NULL ("test"). 0 on
 * success; -1 on failure (the reason and the node's log tail on stderr). */
int harness_start(harness_node *n, const char *name, const char *const *extra_args);
/* Start again in the same dir (after harness_stop), e.g. restart tests. */
int harness_restart(harness_node *n, const char *const *extra_args);
/* Start again in the same dir with exactly args (no defaults; pass
 * --data-dir n->data_dir and port-0 listeners yourself). */
int harness_restart_args(harness_node *n, const char *const *args);

/* SIGTERM and wait (bounded): the exit status (0..255), 128+signal if it
 * died of a signal, -1 if it did not stop in time (then it is SIGKILLed). */
int harness_stop(harness_node *n);
/* SIGKILL and reap. */
void harness_kill(harness_node *n);
/* SIGSTOP, and wait (bounded by HARNESS_STOP_TIMEOUT_MS) until the kernel
 * reports n stopped: kill() returns before that, and n's threads go on
 * for a while (they may take and answer a request) until the thread the
 * signal woke has stopped them all. 0 once stopped, -1 if not in time. */
int harness_pause(harness_node *n);
/* SIGCONT a paused node. 0 on success. */
int harness_resume(harness_node *n);
/* Kill if running, remove the temp dir. Safe to call twice. */
void harness_cleanup(harness_node *n);

/* Run natterd with exactly args (NULL-terminated, without argv[0]) and
 * wait for it to exit on its own within timeout_ms: for refusals. Returns
 * the exit status (or -1 on timeout, after killing it); its stderr goes to
 * err (cap bytes, NUL-terminated) if err is not NULL. */
int harness_run(const char *const *args, int timeout_ms, char *err, size_t cap);

/* HTTP over libcurl. url is absolute; token adds "Authorization: Bearer";
 * body may be NULL (no body) and is sent with Content-Type
 * application/json. Returns 0 if an HTTP response came back. */
int harness_request(const char *method, const char *url, const char *token, const char *body, size_t body_len,
                    harness_resp *out);
/* The same on a caller's CURL handle (curl_easy_init), which keeps its
 * connection open between calls (keep-alive). */
int harness_request_on(void *curl, const char *method, const char *url, const char *token, const char *body,
                       size_t body_len, harness_resp *out);
/* harness_request (without a token) from the local address src, e.g.
 * "127.0.0.2": for a request that must come from another source address. */
int harness_request_from(const char *src, const char *method, const char *url, const char *body, size_t body_len,
                         harness_resp *out);
/* Same against a node: api picks the listener; the client API gets the token. */
int harness_call(const harness_node *n, harness_api api, const char *method, const char *path, const char *body,
                 harness_resp *out);
int harness_get(const harness_node *n, harness_api api, const char *path, harness_resp *out);
int harness_post(const harness_node *n, harness_api api, const char *path, const char *body, harness_resp *out);
int harness_put(const harness_node *n, harness_api api, const char *path, const char *body, harness_resp *out);
int harness_delete(const harness_node *n, harness_api api, const char *path, harness_resp *out);
/* Value of a response header (case-insensitive), copied into buf; NULL if absent. */
const char *harness_resp_header(const harness_resp *r, const char *name, char *buf, size_t cap);
/* The error code of an error body ({"error":{"code":...}}), or NULL. */
const char *harness_error_code(const harness_resp *r);
void harness_resp_free(harness_resp *r);

/* The first object of obj's array member `array` whose string member key
 * equals value, or NULL (a borrowed reference). */
json_t *harness_json_find(json_t *obj, const char *array, const char *key, const char *value);

/* Poll cond(arg) every 20 ms until true or timeout_ms: true if it held. */
bool harness_wait(bool (*cond)(void *arg), void *arg, int timeout_ms);

/* Print the last lines of the node's log to stderr (for failing tests). */
void harness_dump_log(const harness_node *n);

#endif
