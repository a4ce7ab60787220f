/* cql/request: the life of one user request on the I/O thread.
 *
 * A request owns a copy of its statement or batch. It makes sure the prepared statements it
 * needs are in the cache (waiting on, or sending, the single PREPARE per text), builds a query
 * plan (token-aware from the Prepared pk_indexes and the token map, then DC-aware via cql/lb),
 * and sends attempts host after host: the retry policy (cql/retry) decides between the same
 * host, the next host and giving up; UNPREPARED re-prepares on the same host (deduplicated)
 * and replays once; IS_BOOTSTRAPPING moves on. A first PREPARE that the host could not answer
 * (timeout, closed connection, overloaded, bootstrapping, server error) moves on to the next
 * host of the plan; once it succeeds, the statement is prepared on the other hosts in the
 * background (cql/prepare_hosts). The statement's timeout is a total budget from submission:
 * every attempt and PREPARE gets min(request_timeout_ms, what is left), and the request fails
 * with CQL_ERR_CLIENT_TIMEOUT when it is spent (a request waiting for another request's PREPARE
 * checks its budget when woken). The client-side timestamp is drawn once, so every attempt
 * carries the same one. The user callback runs exactly once, then the request frees itself. The functions are
 * declared in cql/client_internal.h. */
#ifndef MESSENGER_CQL_REQUEST_H
#define MESSENGER_CQL_REQUEST_H

#include "cql/client_internal.h"

#endif
