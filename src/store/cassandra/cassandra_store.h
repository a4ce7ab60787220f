/* store/cassandra: the Cassandra store, behind the same store interface as SQLite.
 *
 * Every operation is a small state machine of asynchronous CQL requests on the cql client's I/O
 * thread: the submitting (HTTP) thread never waits, and the completion callback runs on the I/O
 * thread. The data model, partition sizes and every statement are in docs/data-model.md.
 * The server never creates schema: cassandra_store_open fails, telling to run
 * `messenger migrate`, when a table is missing; cassandra_migrate creates the keyspace and
 * tables (idempotent, blocking: for the CLI only). The store returned is owned by the caller
 * and freed by store_close(), which first waits for every accepted operation. */
#ifndef MESSENGER_STORE_CASSANDRA_STORE_H
#define MESSENGER_STORE_CASSANDRA_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "cql/client.h"
#include "store/store.h"

typedef struct cassandra_store_config {
  const char *contact_points; /* "host[:port],..." (required) */
  int port;                   /* default port (9042) */
  const char *keyspace;       /* [A-Za-z][A-Za-z0-9_]{0,47}; used lowercased */
  const char *local_dc;       /* NULL: the DC of the first node reached */
  const char *username;       /* NULL: no authentication */
  const char *password;
  const char *consistency;     /* NULL: LOCAL_QUORUM; LWTs always use LOCAL_SERIAL */
  unsigned request_timeout_ms; /* 0: 12000 */
  int protocol_version;        /* 4 or 5; 0: negotiate (try 5, fall back to 4) */
  int node_id;                 /* 0..31 for message ids; -1: lease one from node_leases */
  unsigned lease_renew_ms;     /* 0: 20000 (the lease's TTL is 60 s) */
} cassandra_store_config;

/* Connects, checks the schema, leases a node id if needed. 0 and *out, or -1 with err. */
int cassandra_store_open(const cassandra_store_config *cfg, store **out, char *err, size_t err_size);

/* The CQL client of a store opened by cassandra_store_open (borrowed: valid until store_close),
 * for its stats snapshot (cql_client_stats_get). */
cql_client *cassandra_store_client(store *s);

/* `messenger migrate`: CREATE KEYSPACE IF NOT EXISTS with `replication` (a CQL map; NULL:
 * NetworkTopologyStrategy with min(3, nodes in the local DC) replicas), then every table of
 * schema/cassandra.cql, then waits for schema agreement. Progress lines go to stderr.
 * 0, or -1 with err. */
int cassandra_migrate(const cassandra_store_config *cfg, const char *replication, char *err, size_t err_size);

#endif
