/* cql/streams: stream-id allocation for one connection.
 *
 * Ids are handed out from 0 .. range-1 (range <= 32768). An id is FREE, IN USE (a request
 * waits for its response) or ORPHANED (its request gave up waiting, but the server may still
 * answer on it, so the id must not be reused until that late response arrives). in_flight
 * counts ids in use (orphans excluded) and is capped at max_in_flight; orphans are counted so
 * the owner can replace the connection past a threshold. Plain data, no allocation after init,
 * single-threaded (the connection's I/O thread). */
#ifndef MESSENGER_CQL_STREAMS_H
#define MESSENGER_CQL_STREAMS_H

#include <stdbool.h>
#include <stdint.h>

#define CQL_STREAMS_MAX 32768

typedef struct cql_streams {
  uint64_t used[CQL_STREAMS_MAX / 64];   /* bit set: in use or orphaned */
  uint64_t orphan[CQL_STREAMS_MAX / 64]; /* bit set: orphaned (subset of used) */
  unsigned range;                        /* ids are < range */
  unsigned max_in_flight;
  unsigned in_flight; /* used and not orphaned */
  unsigned orphans;
  unsigned next_word; /* where the next search starts (spreads reuse) */
} cql_streams;

/* range is clamped to 1..CQL_STREAMS_MAX, max_in_flight to 1..range. */
void cql_streams_init(cql_streams *s, unsigned range, unsigned max_in_flight);

/* A free id, or -1 when the in-flight cap is reached or every id is used/orphaned. */
int cql_streams_acquire(cql_streams *s);

typedef enum cql_stream_state { CQL_STREAM_FREE, CQL_STREAM_IN_USE, CQL_STREAM_ORPHANED } cql_stream_state;
cql_stream_state cql_streams_state(const cql_streams *s, int id);

/* The request on `id` stopped waiting: keep the id reserved until its response arrives. */
void cql_streams_orphan(cql_streams *s, int id);

/* A response arrived on `id` (or the request is done): the id becomes free. Returns the state
 * it was in (CQL_STREAM_FREE means an unexpected id: the caller should treat it as a protocol
 * violation). */
cql_stream_state cql_streams_release(cql_streams *s, int id);

#endif
