#include "cql/retry.h"

#include <string.h>

/* Server error codes (native protocol v4 section 9). */
enum {
  CODE_SERVER_ERROR = 0x0000,
  CODE_UNAVAILABLE = 0x1000,
  CODE_OVERLOADED = 0x1001,
  CODE_TRUNCATE_ERROR = 0x1003,
  CODE_WRITE_TIMEOUT = 0x1100,
  CODE_READ_TIMEOUT = 0x1200,
  CODE_READ_FAILURE = 0x1300,
  CODE_WRITE_FAILURE = 0x1500,
};

static cql_retry_decision next_if_idempotent(bool idempotent) {
  return idempotent ? CQL_RETRY_NEXT_HOST : CQL_RETRY_RETHROW;
}

cql_retry_decision cql_retry_decide(const cql_failure *f, bool idempotent, unsigned retries_so_far) {
  if (f->kind != CQL_FAIL_SERVER_ERROR_RESPONSE) return next_if_idempotent(idempotent);
  switch (f->server_code) {
  case CODE_READ_TIMEOUT:
    if (retries_so_far == 0 && f->received >= f->blockfor && !f->data_present) return CQL_RETRY_SAME_HOST;
    /* a replica did not answer in time (frozen, not yet marked down): another coordinator */
    return retries_so_far == 0 && f->received < f->blockfor ? next_if_idempotent(idempotent)
                                                            : CQL_RETRY_RETHROW;
  case CODE_READ_FAILURE:
    return retries_so_far == 0 ? next_if_idempotent(idempotent) : CQL_RETRY_RETHROW;
  case CODE_WRITE_FAILURE: /* e.g. the batchlog write timed out on a frozen replica */
    return retries_so_far < CQL_RETRY_BATCHLOG_MAX ? next_if_idempotent(idempotent) : CQL_RETRY_RETHROW;
  case CODE_WRITE_TIMEOUT:
    if (!idempotent || !f->write_type) return CQL_RETRY_RETHROW;
    if (strcmp(f->write_type, "BATCH_LOG") == 0)
      return retries_so_far < CQL_RETRY_BATCHLOG_MAX ? CQL_RETRY_SAME_HOST : CQL_RETRY_RETHROW;
    /* a replica did not acknowledge in time (frozen, not yet marked down); writing the same
     * cells again is harmless: another coordinator, once (never a CAS or counter write) */
    return retries_so_far == 0 &&
                   (strcmp(f->write_type, "SIMPLE") == 0 || strcmp(f->write_type, "BATCH") == 0 ||
                    strcmp(f->write_type, "UNLOGGED_BATCH") == 0)
               ? CQL_RETRY_NEXT_HOST
               : CQL_RETRY_RETHROW;
  case CODE_UNAVAILABLE:
    return retries_so_far == 0 ? CQL_RETRY_NEXT_HOST : CQL_RETRY_RETHROW;
  case CODE_OVERLOADED:
  case CODE_SERVER_ERROR:
  case CODE_TRUNCATE_ERROR:
    return next_if_idempotent(idempotent);
  default:
    return CQL_RETRY_RETHROW;
  }
}
