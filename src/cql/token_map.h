/* cql/token_map: the Murmur3 token ring and the replicas of each token per keyspace.
 *
 * Built from the nodes the control connection discovered: node i of the input is host index i
 * for the caller. The ring is the sorted list of (token, node); the replicas of a token start
 * at the first ring entry whose token >= it (wrapping) and walk on: SimpleStrategy takes the
 * next RF distinct nodes, NetworkTopologyStrategy takes RF distinct nodes per listed DC,
 * preferring distinct racks (the Cassandra/Java algorithm). Replica lists are computed per
 * keyspace when it is added, one per ring position, so a lookup is a binary search.
 *
 * Ownership: the map copies everything it is given and is immutable once built; the owner
 * builds a new one when topology or schema changes and frees the old one. */
#ifndef MESSENGER_CQL_TOKEN_MAP_H
#define MESSENGER_CQL_TOKEN_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cql_tm_node {
  const char *dc;   /* required */
  const char *rack; /* may be NULL */
  const int64_t *tokens;
  size_t n_tokens;
} cql_tm_node;

typedef enum cql_replication_class {
  CQL_REPL_OTHER = 0, /* LocalStrategy, EverywhereStrategy, unknown: no replicas computed */
  CQL_REPL_SIMPLE,
  CQL_REPL_NTS,
} cql_replication_class;

typedef struct cql_repl_dc {
  char *dc;
  int rf;
} cql_repl_dc;

/* A keyspace's replication map, parsed. Owns its strings. */
typedef struct cql_replication {
  cql_replication_class cls;
  int rf; /* SimpleStrategy */
  cql_repl_dc *dcs;
  size_t n_dcs;
} cql_replication;

/* Parses system_schema.keyspaces.replication (map<text,text>): 'class' (short or qualified
 * name), 'replication_factor' for SimpleStrategy, '<dc>': '<rf>' for NTS ("3/1" transient
 * notation reads as 3). Returns false on OOM only; unknown classes give CQL_REPL_OTHER. */
bool cql_replication_parse(const char *const *keys, const char *const *values, size_t n,
                           cql_replication *out);
void cql_replication_clear(cql_replication *r);

typedef struct cql_token_map cql_token_map;

/* NULL on OOM. Nodes without tokens are allowed (they own nothing). */
cql_token_map *cql_token_map_new(const cql_tm_node *nodes, size_t n_nodes);
void cql_token_map_free(cql_token_map *tm);

/* Computes and stores the replica lists of `keyspace` (replacing any previous ones). Returns
 * false on OOM. CQL_REPL_OTHER keyspaces are accepted and have no replicas. */
bool cql_token_map_add_keyspace(cql_token_map *tm, const char *keyspace, const cql_replication *repl);

/* Replicas (node indexes, primary first) of `token` in `keyspace`; NULL/0 if unknown. The
 * array is borrowed from the map. */
const int *cql_token_map_replicas(const cql_token_map *tm, const char *keyspace, int64_t token,
                                  size_t *count);

/* Number of ring entries (tokens). */
size_t cql_token_map_ring_size(const cql_token_map *tm);

#endif
