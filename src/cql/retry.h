/* cql/retry: the default retry policy (the Java/DataStax driver matrix), as a pure function.
 *
 * Given why an attempt failed, whether the statement is idempotent and how many retries the
 * request already made, decide: give the error to the caller, try again on the same host, or
 * try the next host of the query plan. UNPREPARED is not a retry decision (the request layer
 * re-prepares and replays it), and neither is IS_BOOTSTRAPPING (always the next host).
 *
 *   read timeout     : same host, once, if received >= blockfor and no data was present; else
 *                      (a replica did not answer: frozen, not yet marked down) next host, once,
 *                      if idempotent
 *   read failure     : next host, once, if idempotent
 *   write failure    : next host, up to CQL_RETRY_BATCHLOG_MAX times, if idempotent (a batchlog
 *                      write that timed out on a frozen replica is reported as a failure)
 *   write timeout    : same host, up to CQL_RETRY_BATCHLOG_MAX times, only for BATCH_LOG writes of
 *                      idempotent statements (the batch was not applied: the coordinator could
 *                      not store its batchlog on two nodes, e.g. one frozen but not yet marked
 *                      down; a later attempt succeeds once it answers or is marked down; the
 *                      statement's total budget bounds the waiting); next host, once, for
 *                      SIMPLE, BATCH and UNLOGGED_BATCH writes of idempotent statements (never
 *                      CAS or COUNTER)
 *   unavailable      : next host, once
 *   overloaded, server error, truncate error, connection closed, client timeout
 *                    : next host if idempotent (bounded by the query plan)
 *   anything else    : rethrow (syntax, invalid, unauthorized, CAS unknown...)
 * Beyond the Java default, read/write failures, short read timeouts and write timeouts of
 * idempotent statements are retried: a SIGSTOPped replica otherwise fails requests that
 * another coordinator answers.
 */
#ifndef MESSENGER_CQL_RETRY_H
#define MESSENGER_CQL_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#define CQL_RETRY_BATCHLOG_MAX 4

typedef enum cql_retry_decision {
  CQL_RETRY_RETHROW = 0,
  CQL_RETRY_SAME_HOST,
  CQL_RETRY_NEXT_HOST,
} cql_retry_decision;

typedef enum cql_failure_kind {
  CQL_FAIL_SERVER_ERROR_RESPONSE, /* an ERROR frame: see server_code and the details */
  CQL_FAIL_CONNECTION_CLOSED,     /* the connection died with the request in flight */
  CQL_FAIL_CLIENT_TIMEOUT,        /* no response within the attempt timeout */
} cql_failure_kind;

typedef struct cql_failure {
  cql_failure_kind kind;
  int32_t server_code;    /* for CQL_FAIL_SERVER_ERROR_RESPONSE */
  int32_t received;       /* read/write timeout: replicas that answered */
  int32_t blockfor;       /* read/write timeout: replicas required */
  bool data_present;      /* read timeout */
  const char *write_type; /* write timeout: "SIMPLE", "BATCH_LOG", ... (may be NULL) */
} cql_failure;

cql_retry_decision cql_retry_decide(const cql_failure *f, bool idempotent, unsigned retries_so_far);

#endif
