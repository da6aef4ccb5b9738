/* notify.h - a wake-up counter for long polls.
 *
 * A notify is a monotonically increasing event counter with a condition
 * variable. Producers call notify_bump() after committing something new;
 * a long-poll handler remembers the counter, checks for data, and if there
 * is none calls notify_wait(n, seen, timeout) which returns as soon as the
 * counter moved past `seen`, the timeout passed, or notify_close() was
 * called (shutdown). Then it checks its data again. Spurious returns are
 * fine: always re-check the data. Thread-safe. */
#ifndef NATTER_NOTIFY_H
#define NATTER_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include "common/err.h"

typedef struct notify notify;

NT_MUST_USE nt_err notify_new(notify **out);
/* Free; no thread may be waiting. NULL-safe. */
void notify_free(notify *n);

/* Increment the counter and wake every waiter; returns the new value. */
uint64_t notify_bump(notify *n);
uint64_t notify_current(notify *n);

/* Wait while the counter == seen, up to timeout_ms, unless closed.
 * Returns the counter on return. */
uint64_t notify_wait(notify *n, uint64_t seen, unsigned timeout_ms);

/* Wake every waiter now and make later waits return at once. */
void notify_close(notify *n);
bool notify_closed(notify *n);

#endif
