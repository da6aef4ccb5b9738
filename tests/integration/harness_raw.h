/* harness_raw.h - HTTP/1.1 over a raw TCP socket, for tests that must see
 * the bytes: exactly one status line per request, a Content-Length that
 * matches the body, nothing after it, and whether the server closed.
 *
 *     raw_conn c;
 *     raw_conn_init(&c, n.client_port);
 *     raw_resp r;
 *     raw_exchange(&c, req, req_len, 3000, &r);   // reconnects as needed
 *     ... r.status, r.body, r.extra ...
 *     raw_resp_free(&r);
 *     raw_conn_close(&c);
 *
 * Requests are sent as given (the caller writes the request line, headers
 * and body), so they can be as malformed as a test wants. */
#ifndef NATTER_HARNESS_RAW_H
#define NATTER_HARNESS_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAW_HEAD_MAX 16384
#define RAW_BODY_MAX (1024 * 1024)

typedef struct raw_conn {
    int fd;           /* -1 when not connected */
    uint16_t port;    /* on 127.0.0.1 */
    size_t stale;     /* bytes found waiting before a request was sent */
} raw_conn;

typedef struct raw_resp {
    int status;              /* 0: no status line came back */
    int status_lines;        /* status lines seen in this exchange (1 is right) */
    char head[RAW_HEAD_MAX]; /* status line and headers, NUL-terminated */
    char *body;              /* owned, NUL-terminated, body_len bytes */
    size_t body_len;
    long content_length;     /* -1 when absent */
    bool conn_close;         /* the response said Connection: close */
    bool closed;             /* the server closed the connection afterwards */
    size_t extra;            /* bytes after the framed response */
    size_t stale;            /* bytes left over from the previous exchange */
    bool timed_out;          /* a read ran out of time */
    bool reset;              /* the connection was reset */
} raw_resp;

void raw_conn_init(raw_conn *c, uint16_t port);
void raw_conn_close(raw_conn *c);

/* Send req[0..len) (connecting first if needed) and read one response,
 * each read bounded by timeout_ms. Then look for anything after it: until
 * EOF when the connection is closing, for a short moment otherwise.
 * With head_only the response has no body (HEAD). Returns 0 when a status
 * line came back, -1 otherwise; *out is filled either way. */
int raw_exchange(raw_conn *c, const void *req, size_t len, int timeout_ms, bool head_only, raw_resp *out);

/* Value of a response header (case-insensitive) into buf; NULL if absent. */
const char *raw_header(const raw_resp *r, const char *name, char *buf, size_t cap);
void raw_resp_free(raw_resp *r);

#endif
