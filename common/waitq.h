/* waitq.h - a wake-up list for requests that wait without a thread.
 *
 * A producer (the rooms' event log, a room's message log) owns a waitq and
 * calls waitq_wake() whenever what its waiters wait for may have changed.
 * A waiter (a parked HTTP request, see server/core/http.h) is an entry with
 * a callback; a wake takes every entry off the list and calls each
 * callback once.
 *
 * Lost wake-ups: a waiter reads waitq_gen() while it checks its condition
 * (under the producer's own lock, the one the producer holds when it
 * wakes), and passes that generation to waitq_add(): if a wake came in
 * between, waitq_add() refuses (false) and the waiter checks again.
 *
 * Ownership: entries belong to the waiter. An entry is on at most one
 * list. A callback runs with the list's lock held: it must not call back
 * into the same waitq and must not block (mark, resume, return).
 * Thread-safe. */
#ifndef NATTER_WAITQ_H
#define NATTER_WAITQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

typedef struct waitq_entry waitq_entry;
typedef void waitq_fn(waitq_entry *e);

struct waitq_entry {
    waitq_fn *fn;
    void *arg;                     /* the waiter's own */
    struct waitq_entry *prev, *next;
    struct waitq *q;               /* the list it is on; NULL when on none */
};

typedef struct waitq {
    pthread_mutex_t mu;
    uint64_t gen;                  /* wakes so far */
    waitq_entry *head;
    uint64_t waiting;              /* entries on the list now */
} waitq;

void waitq_init(waitq *q);
/* No entry may be left on it. */
void waitq_destroy(waitq *q);

/* The number of wakes so far. */
uint64_t waitq_gen(waitq *q);
/* Put e (fn and arg set) on q, unless q was woken since generation gen:
 * then false and e stays off every list. */
bool waitq_add(waitq *q, waitq_entry *e, uint64_t gen);
/* Take e off its list. true if it was on one (its callback has not run
 * and will not); false if a wake took it first (its callback ran or is
 * running). */
bool waitq_remove(waitq_entry *e);
/* Take every entry off q and call its callback. */
void waitq_wake(waitq *q);
/* Block this thread until q is woken after generation gen, or timeout_ms
 * pass: true if woken. For callers that have a thread to spare (tests,
 * tools); the node's long polls park instead (server/core/http.h). */
bool waitq_wait(waitq *q, uint64_t gen, unsigned timeout_ms);
/* CLOCK_MONOTONIC now plus ms: the deadline pthread_cond_timedwait takes
 * on a condition variable made by waitq_cond_init. A wall clock set back
 * or forward (by hand, by NTP at boot) changes no wait. */
struct timespec waitq_deadline(int64_t ms);
/* CLOCK_MONOTONIC now, in milliseconds: the clock of waitq_deadline. */
int64_t waitq_now_ms(void);
/* Is the deadline (from waitq_deadline) past? */
bool waitq_deadline_passed(const struct timespec *d);
/* pthread_cond_init on CLOCK_MONOTONIC: for every condition variable
 * waited on with a waitq_deadline. */
void waitq_cond_init(pthread_cond_t *cv);
/* Entries waiting now. */
uint64_t waitq_waiting(waitq *q);

#endif
