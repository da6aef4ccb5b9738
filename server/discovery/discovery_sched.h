/* discovery_sched.h - when to announce, query and answer; when a peer is gone.
 *
 * Pure timing logic with an injected clock (the caller passes now_ms, any
 * monotonic origin) and an injected RNG, so tests drive time instead of
 * sleeping. The discovery thread calls discovery_sched_poll() whenever it
 * wakes and sleeps until the earlier of discovery_sched_next_ms() and
 * discovery_sched_next_scan_ms(). */
#ifndef NATTER_DISCOVERY_SCHED_H
#define NATTER_DISCOVERY_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#define DISCOVERY_INTERVAL_MS_DEFAULT (30 * 1000)
#define DISCOVERY_JITTER_PCT_DEFAULT 20 /* each interval in [80%, 120%] */
#define DISCOVERY_ANSWER_DELAY_MS_DEFAULT 500
#define DISCOVERY_ANSWER_HOLDOFF_MS_DEFAULT 1000
#define DISCOVERY_EXPIRY_MS_DEFAULT (90 * 1000)
#define DISCOVERY_ANSWER_BURST 4 /* answers to queries per interval, at most */

/* Uniform random 32-bit value. ctx is the caller's. */
typedef uint32_t (*discovery_rand_fn)(void *ctx);

typedef struct {
    int64_t interval_ms;      /* mean time between announcements, > 0 */
    unsigned jitter_pct;      /* 0..50: interval drawn from [1-j, 1+j] x interval */
    int64_t answer_delay_ms;  /* answer to a query after [0, this] */
    int64_t answer_holdoff_ms; /* at least this between an announcement and an answer */
    int64_t expiry_ms;        /* a peer unseen this long is gone */
} discovery_sched_config;

/* Fills c with the defaults above. */
void discovery_sched_defaults(discovery_sched_config *c);

/* Actions discovery_sched_poll() asks for. */
enum { DISCOVERY_DO_ANNOUNCE = 1, DISCOVERY_DO_QUERY = 2 };

/* State; fields are private to discovery_sched.c. */
typedef struct {
    discovery_sched_config c;
    discovery_rand_fn rnd;
    void *rnd_ctx;
    int64_t next_announce_ms;
    int64_t answer_at_ms; /* -1: no answer pending */
    int64_t last_announce_ms; /* INT64_MIN: never */
    int64_t answered_ms[DISCOVERY_ANSWER_BURST]; /* the last answers (INT64_MIN: none), a ring */
    unsigned answered_next;                      /* the oldest of them, replaced next */
    int64_t next_scan_ms;
    bool query_due;
} discovery_sched;

/* Start at now_ms: the first poll announces and queries at once. */
void discovery_sched_init(discovery_sched *s, const discovery_sched_config *c, int64_t now_ms,
                          discovery_rand_fn rnd, void *rnd_ctx);

/* What is due at now_ms (a mask of DISCOVERY_DO_*). An announcement
 * (periodic or answer) resets the periodic timer with fresh jitter. */
unsigned discovery_sched_poll(discovery_sched *s, int64_t now_ms);

/* A valid query arrived at now_ms: schedule one answer after a random
 * delay in [0, answer_delay_ms], but no earlier than answer_holdoff_ms
 * after our last announcement, and at most DISCOVERY_ANSWER_BURST answers
 * in any interval_ms (queries are unsigned: a flood of them must not make
 * every node announce every second, while a few nodes starting together
 * still hear us at once); nothing if an answer is already pending. */
void discovery_sched_on_query(discovery_sched *s, int64_t now_ms);

/* Is an interface scan due at now_ms? True at start and then every
 * interval_ms on a timer of its own, which neither answers nor queries
 * move. */
bool discovery_sched_scan_due(discovery_sched *s, int64_t now_ms);

/* Earliest time an announcement (periodic or answer) is due. */
int64_t discovery_sched_next_ms(const discovery_sched *s);
/* When the next interface scan is due. */
int64_t discovery_sched_next_scan_ms(const discovery_sched *s);

/* True if a peer last seen at last_seen_ms counts as gone at now_ms. */
bool discovery_sched_gone(const discovery_sched_config *c, int64_t last_seen_ms, int64_t now_ms);

/* The delay before the next periodic announcement, drawn with jitter. */
int64_t discovery_sched_interval(const discovery_sched *s);

#endif
