/* http_mhd_fix.c - see http_mhd_fix.h. */
#include "server/core/http_mhd_fix.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const struct {
    const char *log; /* libmicrohttpd's log line for the error */
    const char *head, *code, *message;
} mhd_cl_errors[] = {
    {"Failed to parse `Content-Length' header", "400 Bad Request", "bad_request",
     "Content-Length is not a decimal number"},
    {"Too large value of 'Content-Length' header", "413 Content Too Large", "too_large",
     "Content-Length is too large"},
};

void http_raw_answer(int fd, const char *status, const char *code, const char *message, bool retry_after)
{
    char body[320], msg[640];
    int bl = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, message);
    int ml = bl > 0 && (size_t)bl < sizeof body
                 ? snprintf(msg, sizeof msg,
                            "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s"
                            "Connection: close\r\n\r\n%s",
                            status, bl, retry_after ? "Retry-After: 1\r\n" : "", body)
                 : -1;
    if (ml > 0 && (size_t)ml < sizeof msg)
        (void)send(fd, msg, (size_t)ml, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)shutdown(fd, SHUT_WR);
    /* Read what already came, so that the close that follows does not
     * turn into a reset that could discard the answer. */
    char sink[4096];
    for (int i = 0; i < 16 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++) {
    }
    (void)shutdown(fd, SHUT_RD);
}

bool http_mhd_fix_answer(struct MHD_Connection *c, const char *log_line)
{
    for (size_t i = 0; i < sizeof mhd_cl_errors / sizeof mhd_cl_errors[0]; i++) {
        if (strstr(log_line, mhd_cl_errors[i].log)) {
            const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
            if (ci)
                http_raw_answer(ci->connect_fd, mhd_cl_errors[i].head, mhd_cl_errors[i].code,
                                mhd_cl_errors[i].message, false);
            return true;
        }
    }
    return false;
}
