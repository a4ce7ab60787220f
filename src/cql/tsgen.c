#include "cql/tsgen.h"

#include <time.h>

void cql_tsgen_init(cql_tsgen *g) { g->last_us = 0; }

int64_t cql_tsgen_next_at(cql_tsgen *g, int64_t now_us) {
  g->last_us = now_us > g->last_us ? now_us : g->last_us + 1;
  return g->last_us;
}

int64_t cql_tsgen_next(cql_tsgen *g) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return cql_tsgen_next_at(g, (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}
