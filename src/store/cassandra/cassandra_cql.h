/* store/cassandra/cassandra_cql: the text of every CQL statement the Cassandra store sends.
 *
 * Statements are templates naming their tables as `{ks}.table`; cass_cql_build() returns one
 * set with the configured keyspace filled in (owned by the caller, freed with cass_cql_free).
 * The schema (schema/cassandra.cql, embedded in the binary) is split into its CREATE TABLE
 * statements here too, with its keyspace `messenger` replaced. docs/data-model.md lists the
 * same statements; tests check both lists stay bounded (no ALLOW FILTERING, no SELECT *). */
#ifndef MESSENGER_STORE_CASSANDRA_CQL_H
#define MESSENGER_STORE_CASSANDRA_CQL_H

#include <stdbool.h>
#include <stddef.h>

typedef enum cass_stmt {
  /* send */
  CASS_PAIR_GET,
  CASS_PAIR_CLAIM,
  CASS_IDEM_CLAIM,
  CASS_MSG_GET,
  CASS_MSG_INSERT,
  CASS_BUCKET_INSERT,
  CASS_CONV_UPSERT,
  CASS_USER_CONV_UPSERT,
  CASS_UNREAD_INSERT,
  CASS_COUNTER_INCR,
  /* reads */
  CASS_CONV_GET,
  CASS_CONV_EXISTS,
  CASS_COUNTER_GET,
  CASS_BUCKETS_LIST,
  CASS_MSG_PAGE,
  CASS_MSG_SKIP,
  CASS_USER_CONVS,
  CASS_READ_STATE_GET,
  CASS_PING,
  /* read marks */
  CASS_READ_MARK_GET,
  CASS_READ_MARK_SET,
  CASS_UNREAD_DELETE,
  /* startup, node leases */
  CASS_TABLES_LIST,
  CASS_LEASE_CLAIM,
  CASS_LEASE_RENEW,
  CASS_LEASE_RELEASE,
  CASS_STMT_COUNT
} cass_stmt;

/* The template of a statement (with `{ks}`), for tests and docs. */
const char *cass_cql_template(cass_stmt s);

/* Every statement with the keyspace filled in; NULL on OOM. */
typedef struct cass_cql {
  char *text[CASS_STMT_COUNT];
} cass_cql;
cass_cql *cass_cql_build(const char *keyspace);
void cass_cql_free(cass_cql *c);

/* Copy of `template` with every `{ks}` replaced by keyspace; NULL on OOM. */
char *cass_cql_qualify(const char *template_text, const char *keyspace);

/* The tables the schema defines, NULL-terminated (the server checks they exist at startup). */
extern const char *const CASS_TABLES[];

/* The embedded schema/cassandra.cql. */
const char *cass_schema_text(void);

/* Calls fn for each statement of a schema text (comments removed, trimmed, without the ';'),
 * with `messenger.` in `CREATE TABLE IF NOT EXISTS messenger.` replaced by `<keyspace>.`.
 * Returns false (fn not called for the rest) on a statement of another form, on OOM, or
 * when fn returns false. */
bool cass_schema_each(const char *schema, const char *keyspace, bool (*fn)(void *arg, const char *stmt),
                      void *arg);

/* The default replication map: NetworkTopologyStrategy with `rf` replicas in `dc` (quoted). */
bool cass_default_replication(const char *dc, int rf, char *out, size_t out_size);

#endif
