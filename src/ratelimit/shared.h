/* ratelimit/shared: the same token bucket (GCRA) kept in Redis, so that every replica of the
 * server draws from one bucket per key. One atomic Lua script per event reads the key's
 * theoretical arrival time, decides with the Redis server's own clock (replicas' clocks do not
 * matter), and stores the new time with an expiry at the moment the bucket is full again, so
 * Redis holds only keys of drained buckets.
 *
 * When Redis does not answer in time or answers an error, the process's own bucket decides
 * (ratelimit.h): the limit degrades to per-replica instead of blocking or refusing sends; such
 * failures are logged at most once every 10 seconds.
 *
 * Threads: ratelimit_shared_take may be called from any thread; its callback runs exactly once,
 * on the Redis client's thread, or inline (before take returns) when the request could not be
 * submitted and the local bucket decided.
 *
 * Ownership: borrows the Redis client (which must outlive it) and owns its script and local
 * bucket. Close the Redis client's pending requests (redis_client_close) before freeing. */
#ifndef MESSENGER_RATELIMIT_SHARED_H
#define MESSENGER_RATELIMIT_SHARED_H

#include <stdbool.h>
#include <stdint.h>

#include "ratelimit/ratelimit.h"
#include "redis/redis.h"

/* A bucket's key: `prefix` (the deployment's, e.g. "messenger:", at most
 * RATELIMIT_SHARED_PREFIX_MAX bytes) + "send-limit:" + the decimal key. */
#define RATELIMIT_SHARED_PREFIX_MAX 128

typedef struct ratelimit_shared ratelimit_shared;

/* NULL when out of memory, rate/burst out of range (as ratelimit_new) or prefix too long. */
ratelimit_shared *ratelimit_shared_new(redis_client *redis, const char *prefix, double rate, uint32_t burst);
void ratelimit_shared_free(ratelimit_shared *r);

/* allowed, or refused with retry_after_ns until one token is back. */
typedef void (*ratelimit_cb)(void *arg, bool allowed, int64_t retry_after_ns);

void ratelimit_shared_take(ratelimit_shared *r, int64_t key, ratelimit_cb cb, void *arg);

/* Decisions made by the local bucket because Redis failed (for tests and logs). */
uint64_t ratelimit_shared_fallbacks(const ratelimit_shared *r);

#endif
