/* cql/tsgen: client-side default timestamps (QUERY/EXECUTE/BATCH flag 0x20).
 *
 * Microseconds since the Unix epoch from the wall clock, made strictly increasing: if the clock
 * has not advanced (or went backwards) the previous value + 1 is returned, as the Java
 * driver's AtomicTimestampGenerator. Single-threaded use (the I/O thread); no allocation. */
#ifndef MESSENGER_CQL_TSGEN_H
#define MESSENGER_CQL_TSGEN_H

#include <stdint.h>

typedef struct cql_tsgen {
  int64_t last_us;
} cql_tsgen;

void cql_tsgen_init(cql_tsgen *g);
/* Next timestamp given the current wall clock (exposed for tests). */
int64_t cql_tsgen_next_at(cql_tsgen *g, int64_t now_us);
/* Next timestamp from CLOCK_REALTIME. */
int64_t cql_tsgen_next(cql_tsgen *g);

#endif
