/* cql/murmur3: Cassandra's Murmur3Partitioner token and partition routing keys.
 *
 * Token = h1 of MurmurHash3_x64_128 (seed 0) with Java-signed tail bytes, with
 * Long.MIN_VALUE mapped to Long.MAX_VALUE. The routing key of a single-column partition key
 * is its serialized value; of a composite key it is, per component in key order,
 * [u16 BE length][bytes][0x00]. Nothing here allocates except through the given writer. */
#ifndef MESSENGER_CQL_MURMUR3_H
#define MESSENGER_CQL_MURMUR3_H

#include <stddef.h>
#include <stdint.h>

#include "cql/buf.h"

int64_t cql_murmur3_token(const void *key, size_t len);

/* Writes the routing key of `n` components (n >= 1) into w (appending).
 * Returns CQL_RC_NULL if a component is NULL/unset, CQL_RC_TOO_LARGE if a composite
 * component exceeds 65535 bytes, CQL_RC_NOMEM on allocation failure. */
int cql_routing_key(cql_writer *w, const cql_value *components, size_t n);

/* Token of a bound statement: pk_indexes (from a Prepared result, in partition-key order)
 * select the components among the bound values. Returns CQL_RC_UNSUPPORTED when
 * n_pk == 0 or an index is out of range, otherwise as cql_routing_key. */
int cql_token_for_values(const uint16_t *pk_indexes, size_t n_pk, const cql_value *values, size_t n_values,
                         int64_t *token);

#endif
