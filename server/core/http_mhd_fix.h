/* http_mhd_fix.h - a workaround for libmicrohttpd 0.9.75's own answer to a
 * bad Content-Length.
 *
 * libmicrohttpd 0.9.75 answers a malformed or overflowing Content-Length
 * itself, and writes that answer's header block twice: its
 * transmit_error_response builds the header, then its state machine goes
 * on and builds it again (fixed upstream in 1.0.0, commit f1bfbe71). A
 * client would read two status lines on one connection. Its log line for
 * that error names no connection; it comes on the connection's event
 * thread while the request head is parsed, after the URI callback and
 * before the access handler, and before anything is sent. http_daemon.c
 * keeps, per event thread, the connections in that stretch and gives this
 * function the one whose Content-Length is bad; the node sends one JSON
 * error itself and shuts the socket; what libmicrohttpd writes after it
 * fails, and it closes the connection.
 *
 * Thread-safe (no state); call http_mhd_fix_answer on the connection's
 * own thread. */
#ifndef NATTER_HTTP_MHD_FIX_H
#define NATTER_HTTP_MHD_FIX_H

#include <stdbool.h>
#include <microhttpd.h>

/* Write a whole JSON error answer ({"error":{code, message}}, with
 * Connection: close and, if asked, Retry-After: 1) on a socket that
 * libmicrohttpd owns and has not answered, then shut it both ways (after
 * reading what already came): libmicrohttpd then closes it. status is
 * the status line's rest, e.g. "408 Request Timeout". */
void http_raw_answer(int fd, const char *status, const char *code, const char *message, bool retry_after);

/* When log_line (one of libmicrohttpd's log lines) is its Content-Length
 * error, answer c with a JSON error (400 bad_request or 413 too_large),
 * shut its socket and return true; false for any other line. */
bool http_mhd_fix_answer(struct MHD_Connection *c, const char *log_line);

#endif
