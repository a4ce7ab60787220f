#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cql/errors.h"
#include "store/cassandra/cassandra_internal.h"

#define PAIR_CACHE_SLOTS ((size_t)1 << 16)

static cass_store *from_base(store *s) { return (cass_store *)s; }

void cass_op_begin(cass_store *s) {
  pthread_mutex_lock(&s->mu);
  s->inflight++;
  pthread_mutex_unlock(&s->mu);
}

void cass_op_end(cass_store *s) {
  pthread_mutex_lock(&s->mu);
  if (--s->inflight == 0) pthread_cond_broadcast(&s->idle);
  pthread_mutex_unlock(&s->mu);
}

cql_statement *cass_statement(cass_store *s, cass_stmt which, size_t n_values) {
  cql_statement *st = cql_statement_new(s->cql->text[which], n_values, true);
  if (!st) return NULL;
  cql_statement_set_consistency(st, s->consistency);
  cql_statement_set_idempotent(st, strncmp(s->cql->text[which], "SELECT ", 7) == 0);
  return st;
}

void cass_statement_lwt(cql_statement *st) {
  cql_statement_set_serial_consistency(st, CQL_CONSISTENCY_LOCAL_SERIAL);
  cql_statement_set_idempotent(st, false);
}

/* Calls cb with a client-side error, as the client would. */
static void fail_now(cql_result_cb cb, void *ud, int32_t code, const char *why) {
  cql_error err;
  cql_client_error_set(&err, code, why);
  cb(NULL, &err, ud);
}

void cass_execute(cass_store *s, cql_statement *st, cql_result_cb cb, void *ud) {
  if (!st) {
    fail_now(cb, ud, CQL_ERR_BAD_USAGE, "out of memory");
    return;
  }
  bool submitted = cql_client_execute(s->client, st, cb, ud);
  cql_statement_free(st);
  if (!submitted) fail_now(cb, ud, CQL_ERR_CLIENT_CLOSED, "client is closing");
}

void cass_execute_batch(cass_store *s, cql_batch_stmt *b, cql_result_cb cb, void *ud) {
  if (!b) {
    fail_now(cb, ud, CQL_ERR_BAD_USAGE, "out of memory");
    return;
  }
  bool submitted = cql_client_batch(s->client, b, cb, ud);
  cql_batch_stmt_free(b);
  if (!submitted) fail_now(cb, ud, CQL_ERR_CLIENT_CLOSED, "client is closing");
}

void cass_log_error(const char *what, const cql_error *err) {
  char text[512];
  cql_client_error_text(err, text, sizeof text);
  fprintf(stderr, "messenger: cassandra: %s failed: %s\n", what, text);
}

static bool column_of(const cql_resultset *r, const char *name, size_t *col) {
  int i = cql_resultset_column_index(r, name);
  if (i < 0) return false;
  *col = (size_t)i;
  return true;
}

bool cass_row_int64(const cql_resultset *r, const cql_row *row, const char *name, int64_t *out) {
  size_t col;
  return row && column_of(r, name, &col) && cql_row_get_int64(row, col, out) == CQL_GET_OK;
}

bool cass_row_int32(const cql_resultset *r, const cql_row *row, const char *name, int32_t *out) {
  size_t col;
  return row && column_of(r, name, &col) && cql_row_get_int32(row, col, out) == CQL_GET_OK;
}

bool cass_lwt_applied(const cql_resultset *r) {
  size_t col;
  bool applied = false;
  const cql_row *row = cql_resultset_row(r, 0);
  return row && column_of(r, "[applied]", &col) && cql_row_get_bool(row, col, &applied) == CQL_GET_OK &&
         applied;
}

static void close_store(store *base) {
  cass_store *s = from_base(base);
  pthread_mutex_lock(&s->mu);
  while (s->inflight > 0) pthread_cond_wait(&s->idle, &s->mu);
  pthread_mutex_unlock(&s->mu);
  if (s->lease) cass_lease_release(s->lease);
  cql_client_close(s->client);
  cass_cql_free(s->cql);
  cass_pair_cache_destroy(&s->pairs);
  cass_id_source_destroy(&s->ids);
  pthread_cond_destroy(&s->idle);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static const store_vtable CASSANDRA_VTABLE = {
    .backend = "cassandra",
    .send_message = cass_send_message,
    .list_messages = cass_list_messages,
    .list_conversations = cass_list_conversations,
    .get_conversation = cass_get_conversation,
    .mark_read = cass_mark_read,
    .ping = cass_ping,
    .close = close_store,
};

/* Connects, checks the tables and takes the node id; fills s. */
static int open_parts(cass_store *s, const cassandra_store_config *cfg, const char *keyspace, char *err,
                      size_t err_size) {
  if (!(s->cql = cass_cql_build(keyspace))) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  if (!(s->client = cass_connect(cfg, s->consistency, err, err_size))) return -1;
  char missing[512];
  if (cass_check_tables(s->client, s->cql, keyspace, missing, sizeof missing, err, err_size) != 0) return -1;
  if (*missing) {
    snprintf(err, err_size, "keyspace '%s' lacks table(s) %s: run `messenger migrate` first", keyspace,
             missing);
    return -1;
  }
  int node = cfg->node_id;
  if (node < 0 && cass_lease_acquire(s->client, s->cql, cfg->lease_renew_ms ? cfg->lease_renew_ms : 20000,
                                     &s->lease, &node, err, err_size) != 0)
    return -1;
  cass_id_source_init(&s->ids, node);
  return 0;
}

cql_client *cassandra_store_client(store *s) { return from_base(s)->client; }

int cassandra_store_open(const cassandra_store_config *cfg, store **out, char *err, size_t err_size) {
  char keyspace[CASS_KEYSPACE_SIZE];
  if (!cass_keyspace_normalize(cfg->keyspace, keyspace)) {
    snprintf(err, err_size, "CASSANDRA_KEYSPACE must be 1-48 letters, digits or '_', starting with a letter");
    return -1;
  }
  cql_consistency cl = CQL_CONSISTENCY_LOCAL_QUORUM;
  if (cfg->consistency && !cql_consistency_parse(cfg->consistency, &cl)) {
    snprintf(err, err_size, "unknown CASSANDRA_CONSISTENCY '%s'", cfg->consistency);
    return -1;
  }
  if (cfg->node_id > ID_NODE_MAX) {
    snprintf(err, err_size, "node id must be 0..%d", ID_NODE_MAX);
    return -1;
  }
  cass_store *s = calloc(1, sizeof *s);
  if (!s || !cass_pair_cache_init(&s->pairs, PAIR_CACHE_SLOTS)) {
    free(s);
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  s->base.vt = &CASSANDRA_VTABLE;
  s->consistency = cl;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->idle, NULL);
  if (open_parts(s, cfg, keyspace, err, err_size) != 0) {
    cql_client_close(s->client);
    cass_cql_free(s->cql);
    cass_pair_cache_destroy(&s->pairs);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return -1;
  }
  *out = &s->base;
  return 0;
}
