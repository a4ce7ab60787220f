/* store/cassandra/cassandra_internal: state shared by the Cassandra store's source files.
 *
 * cass_store is created by cassandra_store.c and owns the cql client, the statement texts, the
 * id source, the pair cache and the node lease. Every operation is counted in `inflight` from
 * its submission until its store callback has returned, so close() can wait for all of them
 * before closing the client. Operation structs are owned by their state machine and freed
 * right after the store callback. */
#ifndef MESSENGER_STORE_CASSANDRA_INTERNAL_H
#define MESSENGER_STORE_CASSANDRA_INTERNAL_H

#include <pthread.h>

#include "cql/client.h"
#include "store/cassandra/cassandra_cql.h"
#include "store/cassandra/cassandra_model.h"
#include "store/cassandra/cassandra_store.h"

typedef struct cass_lease cass_lease;

typedef struct cass_store {
  store base; /* first: a store * is a cass_store * */
  cql_client *client;
  cass_cql *cql;
  cql_consistency consistency;
  cass_id_source ids;
  cass_pair_cache pairs;
  cass_lease *lease;  /* NULL when the node id was configured */
  pthread_mutex_t mu; /* guards inflight */
  pthread_cond_t idle;
  unsigned inflight;
} cass_store;

/* Counts an operation in / out (out wakes close()). */
void cass_op_begin(cass_store *s);
void cass_op_end(cass_store *s);

/* A prepared statement of the store's set with the store's consistency; NULL on OOM.
 * Reads are marked idempotent; writes decide themselves. */
cql_statement *cass_statement(cass_store *s, cass_stmt which, size_t n_values);
/* Makes st a lightweight transaction: LOCAL_SERIAL, never retried. */
void cass_statement_lwt(cql_statement *st);

/* Submits st (or b) and frees it; on a refused submission (client closing) or a NULL
 * statement calls cb at once with an error, so cb always runs exactly once. */
void cass_execute(cass_store *s, cql_statement *st, cql_result_cb cb, void *ud);
void cass_execute_batch(cass_store *s, cql_batch_stmt *b, cql_result_cb cb, void *ud);

/* A statement of read_state bound to (user_id, conversation_id); NULL on OOM. */
cql_statement *cass_by_user_conversation(cass_store *s, cass_stmt which, int64_t user_id,
                                         int64_t conversation_id);

/* Logs a failed request on stderr (server log; never sent to clients). */
void cass_log_error(const char *what, const cql_error *err);

/* Row helpers: int64 (bigint/counter) or int32 of column `name`; false when absent/NULL. */
bool cass_row_int64(const cql_resultset *r, const cql_row *row, const char *name, int64_t *out);
bool cass_row_int32(const cql_resultset *r, const cql_row *row, const char *name, int32_t *out);
/* The [applied] column of an LWT result (false when missing). */
bool cass_lwt_applied(const cql_resultset *r);

/* Operations (cassandra_send.c, cassandra_reads.c, cassandra_read_state.c). */
void cass_send_message(store *base, const send_request *req, store_send_cb cb, void *arg);
void cass_list_messages(store *base, const message_query *q, store_message_page_cb cb, void *arg);
void cass_list_conversations(store *base, const conversation_query *q, store_conversation_page_cb cb,
                             void *arg);
void cass_get_conversation(store *base, int64_t conversation_id, store_conversation_cb cb, void *arg);
void cass_ping(store *base, store_ping_cb cb, void *arg);
void cass_mark_read(store *base, const read_mark_request *req, store_read_mark_cb cb,
                    void *arg); /* read_state */

/* Node lease (cassandra_lease.c). Acquire blocks (startup only); the lease renews itself on a
 * thread of its own until released; release blocks until the lease row is deleted or fails. */
int cass_lease_acquire(cql_client *c, const cass_cql *cql, unsigned renew_ms, cass_lease **out, int *node_id,
                       char *err, size_t err_size);
bool cass_lease_valid(cass_lease *l);
void cass_lease_release(cass_lease *l);

/* Blocking client for CLI use and startup (cassandra_migrate.c). */
cql_client *cass_connect(const cassandra_store_config *cfg, cql_consistency cl, char *err, size_t err_size);
/* The tables of CASS_TABLES missing from the keyspace, comma-separated into missing ("" = none). */
int cass_check_tables(cql_client *c, const cass_cql *cql, const char *keyspace, char *missing,
                      size_t missing_size, char *err, size_t err_size);

#endif
