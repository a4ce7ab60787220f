/* cql/pool: the connections of one host.
 *
 * Keeps connections_per_host connections open to its host, hands out the least-loaded ready
 * one, and re-opens lost connections after an exponential backoff with jitter (cql/backoff);
 * an UP event can cut the wait short, and a DOWN event closes the connections at once (the
 * reconnection then waits for the backoff delay or an UP event). It reports its first connect outcome and
 * every up/down change to the client (cql_client_on_pool_state). Owned by the client, one per live host;
 * cql_pool_close closes its connections and frees it once its timer handle is closed.
 * The functions are declared in cql/client_internal.h. */
#ifndef MESSENGER_CQL_POOL_H
#define MESSENGER_CQL_POOL_H

#include "cql/client_internal.h"

#endif
