/* log.h - leveled log lines to stderr with a UTC timestamp.
 *
 * One line per call, written with a single write(2) so that lines from
 * several threads never interleave. Never log secrets (keys, tokens,
 * plaintexts, passwords): log ids, sizes and error codes instead.
 * Library modules (common/, crypto/, storage/) return errors and do not log;
 * the server logs. Thread-safe. */
#ifndef NATTER_LOG_H
#define NATTER_LOG_H

#include <stdbool.h>
#include "err.h"

typedef enum { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG } log_level;

#define LOG_LINE_MAX 1024 /* longer lines are truncated */

/* Parse "error", "warn", "info" or "debug". NT_ERR_INVALID otherwise. */
NT_MUST_USE nt_err log_level_parse(const char *s, log_level *out);
const char *log_level_name(log_level lv);

void log_set_level(log_level lv);
log_level log_get_level(void);
bool log_enabled(log_level lv);

void log_msg(log_level lv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
