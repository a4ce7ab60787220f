/* cqlmock internals shared by its files (not for tests; see cqlmock.h).
 *
 * server.c owns the loop thread, nodes, connections, the command queue and the request log;
 * proto.c turns one decoded request into a reply (called on the loop thread with m->lock held);
 * prime.c holds the prime builder, CQL type-name parsing and text-to-value encoding (mock_rows);
 * systables.c answers system.local / system.peers(_v2) / system_schema.keyspaces.
 * A mock_rows borrows its strings, types and cell bytes from an arena owned by whoever owns the
 * rows (a prime, or a temporary arena); its cell array is heap memory freed by mock_rows_free. */
#ifndef MESSENGER_TESTS_CQLMOCK_MOCK_H
#define MESSENGER_TESTS_CQLMOCK_MOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cql/buf.h"
#include "cql/message.h"
#include "cql/types.h"
#include "cqlmock.h"

#define MOCK_ERR_SIZE 256

/* ---- rows (prime.c) ---- */
typedef struct mock_rows {
  size_t n_cols;
  cql_column_spec *cols; /* arena */
  size_t n_rows, cap;
  cql_value *cells; /* heap array, row-major; bytes in the arena */
} mock_rows;

/* Parses a CQL type name ("int", "map<text, bigint>", "frozen<set<uuid>>") into the arena. */
int mock_type_parse(cql_arena *a, const char *text, cql_datatype *out, char *err);
/* Appends the serialized value of `text` for type t (no length prefix). */
int mock_value_encode(cql_writer *w, const cql_datatype *t, const char *text, char *err);
int mock_rows_set_columns(mock_rows *r, cql_arena *a, const char *keyspace, const char *table, size_t n,
                          const char *const names[], const char *const types[], char *err);
int mock_rows_add_row(mock_rows *r, cql_arena *a, const char *const cells[], char *err);
void mock_rows_free(mock_rows *r);

typedef enum mock_action {
  MOCK_ACT_VOID,
  MOCK_ACT_ROWS,
  MOCK_ACT_SET_KEYSPACE,
  MOCK_ACT_SCHEMA_CHANGE,
  MOCK_ACT_ERROR,
  MOCK_ACT_UNPREPARED,
  MOCK_ACT_CLOSE,
  MOCK_ACT_NO_ANSWER,
} mock_action;

struct cqlmock_prime {
  cql_arena arena; /* every string, type and cell of the prime */
  cqlmock_match match;
  const char *query;
  unsigned on;   /* CQLMOCK_ON_* */
  int node;      /* -1 = all */
  int remaining; /* -1 = unlimited */
  unsigned delay_ms;
  mock_action action;
  bool has_rows;
  mock_rows rows;
  bool has_params;
  mock_rows params;     /* columns only */
  uint16_t *pk_indexes; /* arena */
  size_t pk_count;
  bool has_when; /* cqlmock_prime_when_value: bound value when_index must equal when_value */
  uint16_t when_index;
  cql_value when_value;        /* bytes in the arena */
  cql_error error;             /* MOCK_ACT_ERROR; strings in the arena */
  cql_schema_change schema;    /* MOCK_ACT_SCHEMA_CHANGE */
  const char *keyspace;        /* MOCK_ACT_SET_KEYSPACE */
  char failure[MOCK_ERR_SIZE]; /* first builder error, "" if none */
  struct cqlmock_prime *next;
};

/* params: the request's bound values (NULL for PREPARE and BATCH children: value conditions
 * never match those). */
bool mock_prime_matches(const cqlmock_prime *p, unsigned on, int node, const char *query,
                        const cql_query_params *params);

/* ---- server state (server.c) ---- */
typedef struct mock_conn mock_conn;
typedef struct mock_node mock_node;

typedef struct mock_prepared {
  uint8_t id[16];
  char *query;
} mock_prepared;

struct mock_node {
  cqlmock *m;
  int index;
  char host[16];
  uint16_t port;
  char datacenter[64];
  char rack[64];
  char tokens[1024]; /* comma-separated */
  uint8_t host_id[16];
  uv_tcp_t *listener; /* NULL while stopped */
  mock_conn *conns;
  int n_conns;
  uint64_t next_conn_id;
  /* Guarded by m->lock. */
  bool answering;
  unsigned delay_ms;
  mock_prepared *prepared;
  size_t n_prepared, cap_prepared;
};

struct cqlmock {
  cqlmock_config cfg; /* string fields point into the copies below */
  char cluster_name[128];
  char username[128], password[128];
  char keyspace[128], replication[512];
  bool auth;
  int n_nodes;
  mock_node nodes[CQLMOCK_MAX_NODES];
  char contact_points[CQLMOCK_MAX_NODES * 24];
  uint8_t schema_version[16];
  uv_loop_t loop;
  uv_async_t wakeup;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  /* Guarded by lock. */
  struct mock_cmd *cmds;
  cqlmock_prime *primes; /* newest first */
  cqlmock_request *log;
  size_t n_log, cap_log;
};

/* What proto.c decided for one request. */
typedef struct mock_reply {
  mock_action action; /* only CLOSE and NO_ANSWER matter here; anything else sends `frame` */
  unsigned delay_ms;
  cql_writer frame;
} mock_reply;

/* Connection state visible to proto.c. */
typedef struct mock_session {
  int version;     /* protocol version of the first accepted frame, 0 before */
  bool started;    /* STARTUP accepted */
  bool ready;      /* READY or AUTH_SUCCESS sent */
  unsigned events; /* 1 << cql_event_type registered */
} mock_session;

/* proto.c: decodes and answers one request frame of node n (m->lock held), and appends it to
 * the log. Fills reply->frame unless the action is CLOSE or NO_ANSWER. */
void mock_handle(mock_node *n, mock_session *s, uint64_t conn_id, const cql_frame_header *h,
                 const uint8_t *body, mock_reply *reply);
/* ProtocolError for an unsupported protocol version (m->lock held). */
void mock_encode_version_error(cqlmock *m, cql_writer *w, int requested, int16_t stream);
/* server.c: appends r (taking its query string) to the log and wakes waiters (m->lock held). */
void mock_log_append(cqlmock *m, cqlmock_request *r);
/* Encodes an ERROR frame. */
void mock_encode_error(cql_writer *w, int version, int16_t stream, int32_t code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* systables.c: answers an unprimed SELECT: rows of the system tables this mock serves, an
 * empty result for anything else. */
void mock_select_builtin(mock_node *n, const char *query, int version, int16_t stream,
                         const cql_query_params *params, cql_writer *w);
/* Encodes a Rows result page (honouring page_size / paging_state / skip_metadata of params,
 * which may be NULL). -1 if the paging state is not one this mock issued for `query`. */
int mock_encode_rows(cql_writer *w, int version, int16_t stream, const mock_rows *rows,
                     const cql_query_params *params, const char *query);

#endif
