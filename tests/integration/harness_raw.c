/* harness_raw.c - see harness_raw.h. */
#include "harness_raw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RAW_TRAIL_MS 5 /* how long a keep-alive response is watched for trailing bytes */

void raw_conn_init(raw_conn *c, uint16_t port)
{
    c->fd = -1;
    c->port = port;
    c->stale = 0;
}

void raw_conn_close(raw_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int raw_connect(raw_conn *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(c->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    return 0;
}

/* Read what is waiting without blocking: bytes left from the last exchange
 * count as stale, EOF or an error means the server closed: reconnect. */
static void drain_stale(raw_conn *c)
{
    char buf[4096];
    while (c->fd >= 0) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 0) <= 0)
            return;
        ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            c->stale += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        raw_conn_close(c);
    }
}

/* One recv with a deadline: >0 bytes, 0 EOF, -1 error, -2 timeout. */
static ssize_t recv_within(int fd, char *buf, size_t cap, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int pr;
    do
        pr = poll(&p, 1, timeout_ms);
    while (pr < 0 && errno == EINTR);
    if (pr == 0)
        return -2;
    ssize_t n = recv(fd, buf, cap, 0);
    return n < 0 ? -1 : n;
}

/* Send everything unless the server answers first (then stop: an early
 * error reply is what is being tested, and the rest is unwanted). */
static void send_all(int fd, const char *p, size_t len, int timeout_ms)
{
    while (len > 0) {
        struct pollfd pf = {.fd = fd, .events = POLLOUT | POLLIN};
        if (poll(&pf, 1, timeout_ms) <= 0 || (pf.revents & (POLLIN | POLLERR | POLLHUP)))
            return;
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            return;
        p += n, len -= (size_t)n;
    }
}

static int count_status_lines(const char *p, size_t n)
{
    int k = 0;
    for (size_t i = 0; i + 7 <= n; i++)
        if ((i == 0 || p[i - 1] == '\n') && memcmp(p + i, "HTTP/1.", 7) == 0)
            k++;
    return k;
}

const char *raw_header(const raw_resp *r, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(r->head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;
        if (strncasecmp(h, name, nl) != 0 || h[nl] != ':')
            continue;
        h += nl + 1;
        while (*h == ' ' || *h == '\t')
            h++;
        size_t vl = strcspn(h, "\r\n");
        if (vl >= cap)
            vl = cap - 1;
        memcpy(buf, h, vl);
        buf[vl] = '\0';
        return buf;
    }
    return NULL;
}

/* Read up to the blank line into r->head; leftover body bytes into *rest. */
static int read_head(raw_conn *c, raw_resp *r, int timeout_ms, char *rest, size_t *rest_len)
{
    char buf[RAW_HEAD_MAX];
    size_t have = 0;
    for (;;) {
        ssize_t n = recv_within(c->fd, buf + have, sizeof buf - 1 - have, timeout_ms);
        if (n <= 0) {
            r->timed_out = n == -2;
            r->reset = n == -1;
            r->closed = n != -2;
            buf[have] = '\0';
            snprintf(r->head, sizeof r->head, "%s", buf);
            r->status_lines = count_status_lines(buf, have);
            if (have > 12 && sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1)
                r->status = 0;
            return -1;
        }
        have += (size_t)n;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            size_t hl = (size_t)(end - buf) + 4;
            memcpy(r->head, buf, hl);
            r->head[hl] = '\0';
            *rest_len = have - hl;
            memcpy(rest, buf + hl, *rest_len);
            return 0;
        }
        if (have >= sizeof buf - 1)
            return -1;
    }
}

static void parse_head(raw_resp *r)
{
    char v[64];
    if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
        r->status = 0;
    r->status_lines = count_status_lines(r->head, strlen(r->head));
    r->content_length = raw_header(r, "Content-Length", v, sizeof v) ? strtol(v, NULL, 10) : -1;
    r->conn_close = raw_header(r, "Connection", v, sizeof v) && strcasecmp(v, "close") == 0;
}

/* After the body: count trailing bytes (and status lines in them). */
static void read_trailing(raw_conn *c, raw_resp *r, int timeout_ms)
{
    char buf[4096];
    int wait = r->conn_close ? timeout_ms : RAW_TRAIL_MS;
    while (c->fd >= 0) {
        ssize_t n = recv_within(c->fd, buf, sizeof buf, wait);
        if (n == -2)
            break;
        if (n <= 0) {
            r->closed = true;
            raw_conn_close(c);
            break;
        }
        r->status_lines += count_status_lines(buf, (size_t)n);
        r->extra += (size_t)n;
        if (r->extra > RAW_BODY_MAX)
            break;
    }
    if (r->conn_close || r->extra)
        raw_conn_close(c);
}

static int read_body(raw_conn *c, raw_resp *r, const char *rest, size_t rest_len, int timeout_ms)
{
    size_t want = r->content_length > 0 ? (size_t)r->content_length : 0;
    if (want > RAW_BODY_MAX)
        return -1;
    r->body = malloc(want + rest_len + 1);
    if (!r->body)
        return -1;
    size_t take = rest_len < want ? rest_len : want;
    memcpy(r->body, rest, take);
    r->body_len = take;
    r->extra = rest_len - take;
    r->status_lines += count_status_lines(rest + take, rest_len - take);
    while (r->body_len < want) {
        ssize_t n = recv_within(c->fd, r->body + r->body_len, want - r->body_len, timeout_ms);
        if (n <= 0) {
            r->timed_out = n == -2;
            r->closed = n != -2;
            break;
        }
        r->body_len += (size_t)n;
    }
    r->body[r->body_len] = '\0';
    return 0;
}

int raw_exchange(raw_conn *c, const void *req, size_t len, int timeout_ms, bool head_only, raw_resp *out)
{
    char rest[RAW_HEAD_MAX];
    size_t rest_len = 0;
    memset(out, 0, sizeof *out);
    out->content_length = -1;
    drain_stale(c);
    out->stale = c->stale;
    c->stale = 0;
    if (c->fd < 0 && raw_connect(c) != 0)
        return -1;
    send_all(c->fd, req, len, timeout_ms);
    if (read_head(c, out, timeout_ms, rest, &rest_len) != 0) {
        raw_conn_close(c);
        return out->status ? 0 : -1;
    }
    parse_head(out);
    if (head_only)
        out->content_length = out->content_length >= 0 ? 0 : -1;
    if (read_body(c, out, rest, rest_len, timeout_ms) != 0) {
        raw_conn_close(c);
        return 0;
    }
    if (head_only)
        out->content_length = 0;
    read_trailing(c, out, timeout_ms);
    return 0;
}

void raw_resp_free(raw_resp *r)
{
    free(r->body);
    r->body = NULL;
}
