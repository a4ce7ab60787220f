/* ratelimit: a token bucket per key (the sender of a message), kept in this process.
 *
 * A bucket holds up to `burst` tokens and refills at `rate` tokens per second; each allowed
 * event takes one. It is stored as the GCRA "theoretical arrival time" (one integer per key):
 * tat advances by 1/rate per event and an event is allowed while tat - now stays within
 * burst/rate. A key whose tat is in the past has a full bucket, which is what an absent key
 * means too: such entries may be dropped at any time without changing any answer.
 *
 * Memory is fixed at creation: RATELIMIT_ENTRIES keys in sets of RATELIMIT_WAYS (one mutex
 * per set). A new key takes a full-bucket slot of its set; when every slot of the set holds a
 * partly drained bucket, the one closest to full is forgotten (that key starts full again:
 * errs on the side of allowing, only with more than RATELIMIT_WAYS drained keys in one set).
 *
 * Ownership: the limiter owns its table; ratelimit_take may run on any thread. */
#ifndef MESSENGER_RATELIMIT_RATELIMIT_H
#define MESSENGER_RATELIMIT_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define RATELIMIT_ENTRIES 65536
#define RATELIMIT_WAYS    8

typedef struct ratelimit ratelimit;

/* rate > 0 events per second, burst >= 1. NULL when out of memory or out of range. */
ratelimit *ratelimit_new(double rate, uint32_t burst);
void ratelimit_free(ratelimit *r);

/* Takes one token of `key` at monotonic time now_ns. True when allowed; otherwise false with
 * *retry_after_ns = how long until one token is back. */
bool ratelimit_take(ratelimit *r, int64_t key, int64_t now_ns, int64_t *retry_after_ns);

/* The interval and burst in the GCRA form shared with the Redis limiter: one event per
 * interval_ns, tolerance burst * interval_ns. */
int64_t ratelimit_interval_ns(double rate);

/* Whole seconds for a Retry-After header: at least 1, rounded up. */
int64_t ratelimit_retry_after_s(int64_t retry_after_ns);

#endif
