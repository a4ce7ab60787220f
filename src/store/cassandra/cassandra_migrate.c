/* Blocking cluster work for the CLI and for startup: connecting, checking that the schema
 * exists, and `messenger migrate` (keyspace, tables, schema agreement). Never runs on the cql
 * I/O thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/cassandra/cassandra_internal.h"
#include "log/log.h"

#define SCHEMA_TIMEOUT_MS 60000
#define AGREEMENT_WAIT_MS 60000u

cql_client *cass_connect(const cassandra_store_config *cfg, cql_consistency cl, char *err, size_t err_size) {
  cql_config cc;
  cql_config_init(&cc);
  cc.contact_points = cfg->contact_points;
  if (cfg->port > 0) cc.port = (uint16_t)cfg->port;
  cc.local_dc = cfg->local_dc;
  cc.username = cfg->username;
  cc.password = cfg->password;
  if (cfg->request_timeout_ms) cc.request_timeout_ms = cfg->request_timeout_ms;
  cc.protocol_version = cfg->protocol_version;
  cc.consistency = cl;
  cc.serial_consistency = CQL_CONSISTENCY_LOCAL_SERIAL;
  const char *why = NULL;
  cql_client *c = cql_client_new(&cc, &why);
  if (!c) {
    snprintf(err, err_size, "bad Cassandra settings: %s", why ? why : "out of memory");
    return NULL;
  }
  char text[256];
  if (cql_client_connect_wait(c, text, sizeof text) != 0) {
    snprintf(err, err_size, "cannot connect to Cassandra at %s: %s", cfg->contact_points, text);
    cql_client_close(c);
    return NULL;
  }
  return c;
}

/* Runs one statement (no values) and waits; 0, or -1 with err naming `what`. */
static int run(cql_client *c, const char *query, const char *what, cql_resultset **out, char *err,
               size_t err_size) {
  cql_statement *st = cql_statement_new(query, 0, false);
  if (!st) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  cql_statement_set_timeout(st, SCHEMA_TIMEOUT_MS);
  cql_statement_set_idempotent(st, true); /* reads and IF NOT EXISTS DDL: safe to retry */
  char text[512];
  int32_t rc = cql_client_execute_wait(c, st, out, text, sizeof text);
  cql_statement_free(st);
  if (rc != 0) {
    snprintf(err, err_size, "%s: %s", what, text);
    return -1;
  }
  return 0;
}

static bool text_cell(const cql_resultset *r, const cql_row *row, const char *name, char *out, size_t size) {
  int col = cql_resultset_column_index(r, name);
  const char *s;
  size_t len;
  if (col < 0 || cql_row_get_text(row, (size_t)col, &s, &len) != CQL_GET_OK || len >= size) return false;
  memcpy(out, s, len);
  out[len] = '\0';
  return true;
}

int cass_check_tables(cql_client *c, const cass_cql *cql, const char *keyspace, char *missing,
                      size_t missing_size, char *err, size_t err_size) {
  cql_statement *st = cql_statement_new(cql->text[CASS_TABLES_LIST], 1, true);
  if (!st || !cql_statement_bind_text(st, 0, keyspace, strlen(keyspace))) {
    cql_statement_free(st);
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  cql_resultset *r = NULL;
  char text[512];
  int32_t rc = cql_client_execute_wait(c, st, &r, text, sizeof text);
  cql_statement_free(st);
  if (rc != 0) {
    snprintf(err, err_size, "cannot read the schema of keyspace '%s': %s", keyspace, text);
    return -1;
  }
  *missing = '\0';
  size_t used = 0;
  for (const char *const *t = CASS_TABLES; *t; t++) {
    bool found = false;
    const cql_row *row;
    char name[64];
    for (size_t i = 0; !found && (row = cql_resultset_row(r, i)); i++)
      found = text_cell(r, row, "table_name", name, sizeof name) && strcmp(name, *t) == 0;
    if (!found && used < missing_size) {
      int n = snprintf(missing + used, missing_size - used, "%s%s", used ? ", " : "", *t);
      if (n > 0) used += (size_t)n;
    }
  }
  cql_resultset_free(r);
  return 0;
}

/* The local DC (configured or from system.local) and how many nodes it has (system.peers). */
static int local_dc_size(cql_client *c, const char *configured, char *dc, size_t dc_size, int *nodes,
                         char *err, size_t err_size) {
  cql_resultset *r = NULL;
  if (run(c, "SELECT data_center FROM system.local", "reading system.local", &r, err, err_size) != 0)
    return -1;
  char here[128] = "";
  const cql_row *row = cql_resultset_row(r, 0);
  bool ok = row && text_cell(r, row, "data_center", here, sizeof here);
  cql_resultset_free(r);
  if (!ok) {
    snprintf(err, err_size, "system.local has no data_center");
    return -1;
  }
  snprintf(dc, dc_size, "%s", configured ? configured : here);
  *nodes = strcmp(here, dc) == 0 ? 1 : 0;
  if (run(c, "SELECT peer, data_center FROM system.peers", "reading system.peers", &r, err, err_size) != 0)
    return -1;
  char peer_dc[128];
  for (size_t i = 0; (row = cql_resultset_row(r, i)); i++)
    if (text_cell(r, row, "data_center", peer_dc, sizeof peer_dc) && strcmp(peer_dc, dc) == 0) (*nodes)++;
  cql_resultset_free(r);
  return 0;
}

/* Waits until every node the client sees up reports the same schema_version, as the drivers do
 * after each DDL: the next DDL then finds the previous one on whichever coordinator it reaches
 * (a node that is down is not waited for; it pulls the schema when it comes back). */
static int agree(cql_client *c, const char *after, char *err, size_t err_size) {
  char text[512];
  if (cql_client_wait_schema_agreement(c, AGREEMENT_WAIT_MS, text, sizeof text) == 0) return 0;
  snprintf(err, err_size, "schema agreement after %s: %s", after, text);
  return -1;
}

typedef struct table_ctx {
  cql_client *c;
  char *err;
  size_t err_size;
} table_ctx;

static bool create_table(void *arg, const char *stmt) {
  table_ctx *t = arg;
  return run(t->c, stmt, "creating a table", NULL, t->err, t->err_size) == 0 &&
         agree(t->c, "creating a table", t->err, t->err_size) == 0;
}

int cassandra_migrate(const cassandra_store_config *cfg, const char *replication, char *err,
                      size_t err_size) {
  char keyspace[CASS_KEYSPACE_SIZE];
  *err = '\0';
  if (!cass_keyspace_normalize(cfg->keyspace, keyspace)) {
    snprintf(err, err_size, "CASSANDRA_KEYSPACE must be 1-48 letters, digits or '_', starting with a letter");
    return -1;
  }
  if (replication && (replication[0] != '{' || strchr(replication, ';'))) {
    snprintf(
        err, err_size,
        "CASSANDRA_REPLICATION must be a CQL map such as {'class': 'NetworkTopologyStrategy', 'dc1': 3}");
    return -1;
  }
  cql_client *c = cass_connect(cfg, CQL_CONSISTENCY_LOCAL_QUORUM, err, err_size);
  if (!c) return -1;
  int rc = -1;
  char map[512], dc[128];
  int nodes = 0;
  if (replication) {
    snprintf(map, sizeof map, "%s", replication);
  } else if (local_dc_size(c, cfg->local_dc, dc, sizeof dc, &nodes, err, err_size) != 0 ||
             !cass_default_replication(dc, nodes < 1 ? 1 : (nodes > 3 ? 3 : nodes), map, sizeof map)) {
    if (!*err) snprintf(err, err_size, "data center name too long");
    goto out;
  }
  char ddl[700];
  snprintf(ddl, sizeof ddl,
           "CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s AND durable_writes = true", keyspace, map);
  log_msg(LOG_INFO, "migrate", "keyspace %s, replication %s", keyspace, map);
  if (run(c, ddl, "creating the keyspace", NULL, err, err_size) != 0 ||
      agree(c, "creating the keyspace", err, err_size) != 0)
    goto out;
  table_ctx ctx = {.c = c, .err = err, .err_size = err_size};
  if (!cass_schema_each(cass_schema_text(), keyspace, create_table, &ctx)) {
    if (!*err)
      snprintf(err, err_size, "schema/cassandra.cql has a statement that is not CREATE TABLE IF NOT EXISTS");
    goto out;
  }
  rc = 0;
out:
  cql_client_close(c);
  return rc;
}
