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

static void answer_before_mhd(struct MHD_Connection *c, size_t which)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return;
    char body[160], msg[384];
    int bl = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                      mhd_cl_errors[which].code, mhd_cl_errors[which].message);
    int ml = snprintf(msg, sizeof msg,
                      "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                      "Connection: close\r\n\r\n%s",
                      mhd_cl_errors[which].head, bl, body);
    if (ml <= 0 || (size_t)ml >= sizeof msg || send(ci->connect_fd, msg, (size_t)ml, MSG_NOSIGNAL) != ml)
        return;
    (void)shutdown(ci->connect_fd, SHUT_WR);
    /* Read what already came of the body, so that the close that follows
     * does not turn into a reset that could discard the answer. */
    char sink[4096];
    for (int i = 0; i < 16 && recv(ci->connect_fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++) {
    }
    (void)shutdown(ci->connect_fd, SHUT_RD);
}

bool http_mhd_fix_answer(struct MHD_Connection *c, const char *log_line)
{
    for (size_t i = 0; i < sizeof mhd_cl_errors / sizeof mhd_cl_errors[0]; i++) {
        if (strstr(log_line, mhd_cl_errors[i].log)) {
            answer_before_mhd(c, i);
            return true;
        }
    }
    return false;
}
