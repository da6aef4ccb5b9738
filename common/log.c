#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int cur_level = LOG_INFO;

static const char *const level_names[] = {
    [LOG_ERROR] = "error", [LOG_WARN] = "warn", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

nt_err log_level_parse(const char *s, log_level *out)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (s && strcmp(s, level_names[i]) == 0) {
            *out = (log_level)i;
            return NT_OK;
        }
    }
    return NT_ERR_INVALID;
}

const char *log_level_name(log_level lv)
{
    if ((unsigned)lv > LOG_DEBUG)
        return "?";
    return level_names[lv];
}

void log_set_level(log_level lv) { atomic_store(&cur_level, (int)lv); }
log_level log_get_level(void) { return (log_level)atomic_load(&cur_level); }
bool log_enabled(log_level lv) { return (int)lv <= atomic_load(&cur_level); }

void log_msg(log_level lv, const char *fmt, ...)
{
    if (!log_enabled(lv))
        return;
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    int k = snprintf(line + n, sizeof line - n, ".%03ldZ natterd[%ld] %s: ", ts.tv_nsec / 1000000L,
                     (long)getpid(), log_level_name(lv));
    if (k > 0)
        n += (size_t)k < sizeof line - n ? (size_t)k : sizeof line - n - 1;
    va_list ap;
    va_start(ap, fmt);
    k = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (k > 0)
        n += (size_t)k < sizeof line - n ? (size_t)k : sizeof line - n - 1;
    /* Keep one line per entry even if the message had a newline at its end
     * or was truncated. */
    while (n > 0 && line[n - 1] == '\n')
        n--;
    if (n >= sizeof line - 1)
        n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
