/* cql/client_internal: the client's private state, shared by its own modules only
 * (client.c, statement.c, resultset.c, request.c, pool.c, control.c, prepare_hosts.c,
 * schema_agreement.c). Not part of the API.
 *
 * Everything below except the submission queue (guarded by `lock`) and the `closing` flag is
 * touched only on the I/O thread. Hosts are owned by the client and live until it is freed
 * (a host that leaves the cluster is marked removed, never freed early, so query plans and
 * pools may keep pointers to it). */
#ifndef MESSENGER_CQL_CLIENT_INTERNAL_H
#define MESSENGER_CQL_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <uv.h>

#include "cql/backoff.h"
#include "cql/client.h"
#include "cql/conn.h"
#include "cql/lb.h"
#include "cql/prepare_hosts.h"
#include "cql/prepared.h"
#include "cql/token_map.h"
#include "cql/tsgen.h"

typedef struct cql_pool cql_pool;
typedef struct cql_control cql_control;
typedef struct cql_request cql_request;

typedef struct cql_host {
  struct sockaddr_storage addr;
  char name[64]; /* "ip:port" */
  uint8_t host_id[16];
  char *dc;   /* owned, may be NULL */
  char *rack; /* owned, may be NULL */
  int64_t *tokens;
  size_t n_tokens;
  bool removed;
  bool first_attempt_done; /* the pool reported its first connect outcome */
  bool up_reported;        /* pool up at its last report (to see down -> up transitions) */
  cql_pool *pool;          /* NULL when removed */
  struct cql_host *next_all;
} cql_host;

/* A bound statement (public cql_statement). Values and strings live in the arena. */
struct cql_statement {
  const char *query;
  size_t query_len;
  bool prepared;
  cql_value *values;
  size_t n_values;
  cql_arena arena;
  uint16_t consistency;
  bool has_consistency;
  uint16_t serial_consistency;
  bool has_serial_consistency;
  bool idempotent;
  int32_t page_size;
  bool has_page_size;
  int64_t timestamp;
  bool has_timestamp;
  unsigned timeout_ms;
  cql_value paging_state; /* ptr NULL: none */
};

struct cql_batch_stmt {
  uint8_t type;
  cql_statement **stmts; /* owned copies */
  size_t n;
  uint16_t consistency;
  bool has_consistency;
  uint16_t serial_consistency;
  bool has_serial_consistency;
  bool idempotent;
  int64_t timestamp;
  bool has_timestamp;
  unsigned timeout_ms;
};

/* Counters of cql_client_stats: updated on any thread with relaxed atomics; the host list is
 * republished by the I/O thread whenever topology or a host's state changes. */
typedef struct cql_stats_state {
  _Atomic uint64_t created, completed, queued, errors, timeouts, retries;
  pthread_mutex_t hosts_lock;
  size_t n_hosts;
  cql_host_stats hosts[CQL_STATS_MAX_HOSTS];
} cql_stats_state;

typedef enum connect_state { CONNECT_IDLE, CONNECT_RUNNING, CONNECT_DONE, CONNECT_FAILED } connect_state;

struct cql_client {
  /* configuration (strings owned) */
  cql_config cfg;
  struct sockaddr_storage *contacts;
  size_t n_contacts;
  int protocol_version; /* negotiated (4 or 5); 0 before the first connection */

  /* thread + submission */
  uv_loop_t loop;
  uv_async_t wake;
  pthread_t thread;
  pthread_mutex_t lock;
  cql_request *queue_head, *queue_tail; /* submitted, not yet seen by the I/O thread */
  bool connect_requested;               /* under lock */
  cql_connect_cb connect_cb;            /* under lock */
  void *connect_ud;
  atomic_bool closing;
  bool shut_down; /* I/O thread: shutdown started */

  /* I/O thread state */
  connect_state connect_state;
  cql_error connect_error; /* CONNECT_FAILED */
  char connect_errmsg[256];
  cql_request *waiting_head, *waiting_tail; /* submitted before connect completed */
  cql_host *all_hosts;                      /* every host ever known (owned) */
  cql_host **hosts;                         /* live hosts: token-map node i == hosts[i] */
  size_t n_hosts;
  cql_token_map *token_map;
  char *local_dc; /* owned: config or discovered */
  cql_lb lb;
  cql_prepared_cache prepared;
  cql_prepare_hosts prepare_hosts; /* background PREPAREs on the other hosts */
  cql_tsgen tsgen;
  cql_control *control;
  uint64_t rng; /* backoff seeds */
  cql_stats_state stats;
};

/* ---- statement.c ---- */
cql_statement *cql_statement_copy(const cql_statement *src); /* NULL: NULL */
cql_batch_stmt *cql_batch_stmt_copy(const cql_batch_stmt *src);

/* ---- resultset.c ---- */
/* Takes the RESULT message (moved) and, for paging, the statement copy (owned, may be NULL). */
cql_resultset *cql_resultset_new(cql_message *msg, cql_statement *st, const char *host);
/* Helpers on decoded rows, also used by the control connection. */
/* The statement to fetch the next page with (NULL if none). */
const cql_statement *cql_resultset_statement(const cql_resultset *r);
int cql_rows_column(const cql_rows_result *rows, const char *name);
const cql_value *cql_rows_cell(const cql_rows_result *rows, int32_t row, int col);

/* ---- request.c ---- */
cql_request *cql_request_new_statement(cql_client *c, const cql_statement *st, cql_statement *owned,
                                       cql_result_cb cb, void *ud);
cql_request *cql_request_new_batch(cql_client *c, const cql_batch_stmt *b, cql_result_cb cb, void *ud);
void cql_request_start(cql_request *r);
void cql_request_fail(cql_request *r, int32_t code, const char *message);
void cql_request_free_unstarted(cql_request *r);
/* Restricts the request to host h (its only plan entry): for per-host system table reads. */
void cql_request_pin(cql_request *r, cql_host *h);
cql_request *cql_request_next(cql_request *r);
void cql_request_set_next(cql_request *r, cql_request *next);

/* ---- pool.c ---- */
cql_pool *cql_pool_new(cql_client *c, cql_host *h);
/* Closes the connections (in-flight requests fail with err_code) and frees the pool later. */
void cql_pool_close(cql_pool *p, int32_t err_code);
struct cql_conn *cql_pool_pick(cql_pool *p); /* least-loaded ready connection, or NULL */
bool cql_pool_is_up(const cql_pool *p);      /* at least one ready connection */
void cql_pool_reconnect_now(cql_pool *p);    /* UP event: retry now, backoff reset */
/* DOWN event: closes the connections (in-flight requests fail with CQL_ERR_CONNECTION_CLOSED),
 * reports the host down, and reconnects after the backoff delay (an UP event cuts it short). */
void cql_pool_mark_down(cql_pool *p);

/* ---- control.c ---- */
cql_control *cql_control_new(cql_client *c);
void cql_control_start(cql_control *ctl); /* first connection + discovery */
void cql_control_close(cql_control *ctl); /* frees later, from the loop */

/* ---- client.c (callbacks from the modules above) ---- */
/* The connection settings every connection of this client uses (protocol version included). */
void cql_client_conn_settings(const cql_client *c, struct cql_conn_settings *out);
/* control: discovery finished; hosts/token map updated (first time: pools being opened). */
void cql_client_on_discovery(cql_client *c);
/* control: the first connection failed on every contact point. */
void cql_client_on_control_failed(cql_client *c, const cql_error *err);
/* pool: first connect outcome of its host, or a change of up/down state. */
void cql_client_on_pool_state(cql_client *c, cql_host *h);
/* Replaces the live host table and token map (control). Takes ownership of both arrays. */
void cql_client_set_topology(cql_client *c, cql_host **hosts, size_t n_hosts, cql_token_map *tm);
cql_host *cql_client_find_host(cql_client *c, const struct sockaddr *addr);
/* The live host named "ip:port" (cql_host.name), or NULL. */
cql_host *cql_client_find_live_host(cql_client *c, const char *name);
/* Live (not removed) with at least one ready connection: the hosts query plans may use. */
bool cql_client_host_is_up(const cql_host *h);
uint64_t cql_client_random(cql_client *c);

/* ---- stats.c ---- */
void cql_stats_init(cql_stats_state *s);
void cql_stats_destroy(cql_stats_state *s);
/* I/O thread: copies the live hosts' names, DCs and states for cql_client_stats_get. */
void cql_stats_publish_hosts(cql_client *c);
/* request.c: a submitted request enters the queue (client.c calls it once accepted). */
void cql_request_mark_queued(cql_request *r);

#endif
