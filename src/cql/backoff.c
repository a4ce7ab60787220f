#include "cql/backoff.h"

void cql_backoff_init(cql_backoff *b, uint64_t base_ms, uint64_t max_ms, uint64_t seed) {
  b->base_ms = base_ms ? base_ms : 1;
  b->max_ms = max_ms < b->base_ms ? b->base_ms : max_ms;
  b->attempt = 0;
  b->rng = seed ? seed : UINT64_C(0x9E3779B97F4A7C15);
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *s = x;
  return x;
}

uint64_t cql_backoff_next(cql_backoff *b) {
  uint64_t d = b->base_ms;
  for (unsigned i = 0; i < b->attempt && d < b->max_ms; i++) d *= 2;
  if (d > b->max_ms) d = b->max_ms;
  if (b->attempt < 64) b->attempt++;
  /* factor in [850, 1150] per mille */
  uint64_t permille = 850 + xorshift(&b->rng) % 301;
  uint64_t j = d / 1000 * permille + d % 1000 * permille / 1000;
  if (j > b->max_ms) j = b->max_ms;
  return j ? j : 1;
}

void cql_backoff_reset(cql_backoff *b) { b->attempt = 0; }
