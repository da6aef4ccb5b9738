/* replay.h - sliding anti-replay window over 64-bit sequence numbers.
 *
 * A ring bitmap as in WireGuard's counter_validate (RFC 6479): the highest
 * accepted number `top` and one bit for each of the REPLAY_WINDOW numbers
 * at and below it. Numbers above top are accepted and slide the window;
 * numbers within it are accepted once; older ones are refused. Not
 * thread-safe: the owner (a session) locks around it. */
#ifndef NATTER_REPLAY_H
#define NATTER_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include "common/err.h"

#define REPLAY_WORD_BITS 64
#define REPLAY_WORDS 33 /* one word more than the window, for the ring */
#define REPLAY_WINDOW ((REPLAY_WORDS - 1) * REPLAY_WORD_BITS) /* 2048 */
#define REPLAY_SEQ_LIMIT (UINT64_C(1) << 63) /* seq >= this is refused */

typedef struct {
    uint64_t top;                    /* highest accepted seq (valid if any) */
    bool any;                        /* nothing accepted yet */
    uint64_t bits[REPLAY_WORDS];
} replay_window;

void replay_init(replay_window *w);

/* True if seq would be accepted now. Changes nothing (a cheap check before
 * the MAC is verified). */
bool replay_would_accept(const replay_window *w, uint64_t seq);

/* Accept seq and record it: NT_OK, or NT_ERR_REPLAY (duplicate, too old, or
 * over the limit) and w is unchanged. */
NT_MUST_USE nt_err replay_accept(replay_window *w, uint64_t seq);

#endif
