/* cql/backoff: exponential reconnection delays with jitter.
 *
 * delay(n) = min(max, base * 2^n) scaled by a uniform factor in [0.85, 1.15] (as the
 * DataStax drivers), then clamped to max. The jitter source is a small xorshift generator
 * seeded by the owner so tests are deterministic. Plain data, no allocation. */
#ifndef MESSENGER_CQL_BACKOFF_H
#define MESSENGER_CQL_BACKOFF_H

#include <stdint.h>

typedef struct cql_backoff {
  uint64_t base_ms;
  uint64_t max_ms;
  unsigned attempt; /* delays handed out since the last reset */
  uint64_t rng;     /* xorshift64 state, never 0 */
} cql_backoff;

void cql_backoff_init(cql_backoff *b, uint64_t base_ms, uint64_t max_ms, uint64_t seed);
/* The delay before the next attempt; advances the attempt counter. */
uint64_t cql_backoff_next(cql_backoff *b);
/* After a success: the next failure starts from base again. */
void cql_backoff_reset(cql_backoff *b);

#endif
