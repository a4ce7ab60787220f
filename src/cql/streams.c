#include "cql/streams.h"

#include <string.h>

void cql_streams_init(cql_streams *s, unsigned range, unsigned max_in_flight) {
  memset(s, 0, sizeof(*s));
  if (range < 1) range = 1;
  if (range > CQL_STREAMS_MAX) range = CQL_STREAMS_MAX;
  if (max_in_flight < 1) max_in_flight = 1;
  if (max_in_flight > range) max_in_flight = range;
  s->range = range;
  s->max_in_flight = max_in_flight;
}

static bool valid_id(const cql_streams *s, int id) { return id >= 0 && (unsigned)id < s->range; }

int cql_streams_acquire(cql_streams *s) {
  if (s->in_flight >= s->max_in_flight) return -1;
  unsigned words = (s->range + 63) / 64;
  for (unsigned n = 0; n < words; n++) {
    unsigned w = (s->next_word + n) % words;
    uint64_t freebits = ~s->used[w];
    if (w == words - 1 && s->range % 64 != 0) freebits &= (UINT64_C(1) << (s->range % 64)) - 1;
    if (freebits == 0) continue;
    int bit = __builtin_ctzll(freebits);
    s->used[w] |= UINT64_C(1) << bit;
    s->in_flight++;
    s->next_word = w;
    return (int)(w * 64 + (unsigned)bit);
  }
  return -1;
}

cql_stream_state cql_streams_state(const cql_streams *s, int id) {
  if (!valid_id(s, id)) return CQL_STREAM_FREE;
  uint64_t m = UINT64_C(1) << (id % 64);
  if (!(s->used[id / 64] & m)) return CQL_STREAM_FREE;
  return (s->orphan[id / 64] & m) ? CQL_STREAM_ORPHANED : CQL_STREAM_IN_USE;
}

void cql_streams_orphan(cql_streams *s, int id) {
  if (cql_streams_state(s, id) != CQL_STREAM_IN_USE) return;
  s->orphan[id / 64] |= UINT64_C(1) << (id % 64);
  s->in_flight--;
  s->orphans++;
}

cql_stream_state cql_streams_release(cql_streams *s, int id) {
  cql_stream_state st = cql_streams_state(s, id);
  if (st == CQL_STREAM_FREE) return st;
  uint64_t m = UINT64_C(1) << (id % 64);
  s->used[id / 64] &= ~m;
  if (st == CQL_STREAM_ORPHANED) {
    s->orphan[id / 64] &= ~m;
    s->orphans--;
  } else {
    s->in_flight--;
  }
  return st;
}
