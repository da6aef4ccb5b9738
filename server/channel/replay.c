/* replay.c - see replay.h. The ring bitmap follows WireGuard's
 * counter_validate: the window moves a word at a time, so sliding costs at
 * most REPLAY_WORDS word clears however far ahead the new number is. */
#include "server/channel/replay.h"

#include <string.h>

_Static_assert(REPLAY_WINDOW >= 1024, "the window must be at least 1024 wide");

void replay_init(replay_window *w)
{
    memset(w, 0, sizeof(*w));
}

bool replay_would_accept(const replay_window *w, uint64_t seq)
{
    if (seq >= REPLAY_SEQ_LIMIT)
        return false;
    if (!w->any || seq > w->top)
        return true;
    if (w->top - seq >= REPLAY_WINDOW)
        return false;
    uint64_t word = (seq / REPLAY_WORD_BITS) % REPLAY_WORDS;
    uint64_t bit = UINT64_C(1) << (seq % REPLAY_WORD_BITS);
    return (w->bits[word] & bit) == 0;
}

nt_err replay_accept(replay_window *w, uint64_t seq)
{
    if (!replay_would_accept(w, seq))
        return NT_ERR_REPLAY;
    uint64_t index = seq / REPLAY_WORD_BITS;
    if (!w->any || seq > w->top) {
        /* Clear the words between the old top's word and the new one. */
        uint64_t top_index = w->any ? w->top / REPLAY_WORD_BITS : index;
        uint64_t diff = w->any ? index - top_index : REPLAY_WORDS;
        if (diff > REPLAY_WORDS)
            diff = REPLAY_WORDS;
        if (!w->any) {
            memset(w->bits, 0, sizeof(w->bits));
        } else {
            for (uint64_t i = 1; i <= diff; i++)
                w->bits[(top_index + i) % REPLAY_WORDS] = 0;
        }
        w->top = seq;
        w->any = true;
    }
    w->bits[index % REPLAY_WORDS] |= UINT64_C(1) << (seq % REPLAY_WORD_BITS);
    return NT_OK;
}
