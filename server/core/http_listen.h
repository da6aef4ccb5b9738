/* http_listen.h - the listening socket under an http_server: parse the
 * bind address, bind and listen, and say where it ended up (the port the
 * kernel chose for ":0"). No libmicrohttpd here; http.c hands the socket
 * to the daemon. Stateless and thread-safe. */
#ifndef NATTER_HTTP_LISTEN_H
#define NATTER_HTTP_LISTEN_H

#include <stdbool.h>
#include <stdint.h>
#include "server/core/http.h"

/* Split "host:port" / "[v6]:port" (numeric port), bind a non-blocking,
 * close-on-exec listening TCP socket there (SO_REUSEADDR) and listen.
 * *fd_out owned by the caller (close). On failure a one-line reason in
 * err: NT_ERR_INVALID for a bad address, NT_ERR_NET when it cannot bind. */
NT_MUST_USE nt_err http_listen_bind(const char *bind_addr, int *fd_out, char err[static HTTP_ERR_MAX]);

/* Where fd is bound: addr "a.b.c.d:port" or "[v6]:port" ("?:0" when it
 * cannot be read), *port its port, *v6 whether it is an IPv6 socket. */
void http_listen_describe(int fd, char addr[static HTTP_ADDR_MAX], uint16_t *port, bool *v6);

#endif
