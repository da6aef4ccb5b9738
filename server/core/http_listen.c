/* http_listen.c - see http_listen.h. */
#include "server/core/http_listen.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

nt_err http_listen_bind(const char *bind_addr, int *fd_out, char err[static HTTP_ERR_MAX])
{
    char host[HTTP_ADDR_MAX];
    const char *colon = strrchr(bind_addr, ':');
    nt_err rc = NT_ERR_INVALID;
    int fd = -1;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *ai = NULL;
    size_t hl = colon ? (size_t)(colon - bind_addr) : 0;
    if (!colon || hl == 0 || hl >= sizeof host || !colon[1]) {
        snprintf(err, HTTP_ERR_MAX, "%s: want HOST:PORT", bind_addr);
        goto out;
    }
    memcpy(host, bind_addr, hl);
    host[hl] = '\0';
    if (host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    int gai = getaddrinfo(host, colon + 1, &hints, &ai);
    if (gai) {
        snprintf(err, HTTP_ERR_MAX, "%s: %s", bind_addr, gai_strerror(gai));
        goto out;
    }
    rc = NT_ERR_NET;
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        snprintf(err, HTTP_ERR_MAX, "%s: %s", bind_addr, strerror(errno));
        goto out;
    }
    *fd_out = fd;
    fd = -1;
    rc = NT_OK;
out:
    if (fd >= 0)
        close(fd);
    if (ai)
        freeaddrinfo(ai);
    return rc;
}

void http_listen_describe(int fd, char addr[static HTTP_ADDR_MAX], uint16_t *port, bool *v6)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?", serv[8] = "0";
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
    *port = (uint16_t)atoi(serv);
    *v6 = ss.ss_family == AF_INET6;
    snprintf(addr, HTTP_ADDR_MAX, *v6 ? "[%s]:%s" : "%s:%s", host, serv);
}
