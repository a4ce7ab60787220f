/* cql/client: the public API of the asynchronous CQL native-protocol driver.
 *
 * A cql_client owns one I/O thread running a libuv loop. Every connection, the cluster
 * metadata, the prepared-statement cache and all in-flight requests live on that thread.
 * Requests may be submitted from ANY thread (a locked queue + uv_async wake-up); no submitting
 * call ever blocks on the network. Completion callbacks run on the I/O thread: they must not
 * block (no waiting for other requests), but they may submit new requests.
 *
 * Ownership rules:
 *  - cql_statement / cql_batch_stmt are built and owned by the caller. Submitting COPIES them, so the
 *    caller may free or reuse them as soon as the submitting call returns.
 *  - A result passed to a callback belongs to the callback: free it with cql_resultset_free(),
 *    now or later, from any thread. The error pointer is owned by the library and valid only
 *    during the callback (copy code/message if you keep them). Exactly one of (result, err) is
 *    non-NULL, and every accepted request gets exactly one callback, including at close.
 *  - cql_client_close() cancels everything still queued or in flight (callbacks get
 *    CQL_ERR_CLIENT_CLOSED), joins the I/O thread and frees the client. Do not call it from a
 *    callback.
 *
 * Blocking helpers (cql_*_wait) exist only for CLI tools such as `migrate`; they are built on
 * the async API and must never be called on the I/O thread (they return CQL_ERR_BAD_USAGE). */
#ifndef MESSENGER_CQL_CLIENT_H
#define MESSENGER_CQL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cql/message.h" /* cql_error, cql_consistency, cql_batch_type, cql_result_kind */
#include "cql/types.h"   /* cql_type_id */

typedef struct cql_client cql_client;
typedef struct cql_statement cql_statement;
typedef struct cql_batch_stmt cql_batch_stmt;
typedef struct cql_resultset cql_resultset;

/* Client-side error codes, carried in cql_error.code next to the server's codes (0x0000..0x2500). */
enum {
  CQL_ERR_CLIENT_TIMEOUT = 0x10001,     /* no response within request_timeout_ms (on every host tried) */
  CQL_ERR_NO_HOSTS = 0x10002,           /* query plan empty or exhausted: no host could take it */
  CQL_ERR_CONNECTION_CLOSED = 0x10003,  /* the connection died with the request in flight */
  CQL_ERR_CONNECT_FAILED = 0x10004,     /* cql_client_connect: no contact point reachable */
  CQL_ERR_CLIENT_CLOSED = 0x10005,      /* the client is closing; the request was cancelled */
  CQL_ERR_BAD_USAGE = 0x10006,          /* invalid argument / state (message says which) */
  CQL_ERR_PROTOCOL_VIOLATION = 0x10007, /* the server sent something we cannot decode */
  CQL_ERR_AUTH = 0x10008,               /* authentication required but no credentials / failed */
};

/* Name of any code (server or client), e.g. "READ_TIMEOUT", "CLIENT_TIMEOUT"; never NULL. */
const char *cql_client_error_name(int32_t code);

/* Consistency levels: cql_consistency (CQL_CONSISTENCY_LOCAL_QUORUM, ...) and
 * cql_consistency_parse("local_quorum", &cl) come from cql/message.h. */

/* ------------------------------------------------------------------------------------------ */
/* Configuration                                                                               */

typedef struct cql_config {
  const char *contact_points; /* "host[:port],host[:port]" (IPv4/IPv6 literals or names); required */
  uint16_t port;              /* default port for contact points and discovered peers (9042) */
  const char *local_dc;       /* NULL: the DC of the first node the control connection reaches */
  bool allow_remote_dcs;      /* remote DCs appear in query plans after the local DC (false) */
  bool token_aware;           /* route prepared statements to replicas first (true) */
  const char *username;       /* PasswordAuthenticator (SASL PLAIN); NULL = no credentials */
  const char *password;
  unsigned connections_per_host;        /* 1 */
  unsigned max_requests_per_connection; /* in-flight cap per connection (1024, max 32768) */
  unsigned max_orphans_per_connection;  /* timed-out streams before the connection is replaced (256) */
  unsigned connect_timeout_ms;          /* TCP connect + handshake (5000) */
  unsigned request_timeout_ms;          /* per attempt on one host (12000); 0 = none */
  unsigned heartbeat_interval_ms;       /* OPTIONS on a connection that received nothing this long
                                         * (30000); 0 = off */
  unsigned reconnect_base_ms;           /* exponential backoff with +-15% jitter: base (1000) */
  unsigned reconnect_max_ms;            /*   ... capped at (60000) */
  unsigned event_delay_ms;              /* wait after UP/NEW_NODE before acting (1000) */
  cql_consistency consistency;          /* default per statement (LOCAL_ONE) */
  cql_consistency serial_consistency;   /* default for conditional statements (SERIAL) */
  int protocol_version;                 /* 0 = negotiate (try 5, downgrade to 4), or 4 / 5 */
  bool client_timestamps;               /* monotonic microsecond default timestamps (true) */
  int32_t page_size;                    /* default page size for statements (5000); <=0 = no paging */
  /* Added after the first release (cql_config_init sets them; keep calling it). */
  unsigned heartbeat_timeout_ms; /* an unanswered heartbeat closes (and replaces) the connection (5000) */
  bool prepare_on_all_hosts;     /* after a PREPARE succeeds, prepare it on the other up hosts too,
                                  * and re-prepare the cache on a host that comes (back) up (true) */
} cql_config;

/* Fills every field with the defaults above (contact_points = NULL). */
void cql_config_init(cql_config *cfg);

/* ------------------------------------------------------------------------------------------ */
/* Client lifecycle                                                                            */

typedef void (*cql_connect_cb)(const cql_error *err, void *ud); /* err NULL on success */

/* Validates and copies the config, starts the I/O thread. NULL on bad config / out of memory;
 * *err_out (optional, static string) says why. No network activity yet. */
cql_client *cql_client_new(const cql_config *cfg, const char **err_out);

/* Starts the control connection (first reachable contact point; protocol negotiation; auth),
 * discovers the cluster (system.local, system.peers_v2|peers, system_schema.keyspaces), opens
 * the pools. cb runs on the I/O thread once the first host pool is usable, or with an error.
 * Requests submitted before that are queued until then (or fail with the connect error). */
void cql_client_connect(cql_client *c, cql_connect_cb cb, void *ud);

/* Cancels everything, closes connections, joins the thread, frees c. NULL is a no-op. */
void cql_client_close(cql_client *c);

/* ------------------------------------------------------------------------------------------ */
/* Statements                                                                                  */

/* A statement sent as QUERY (prepared = false) or through the prepared cache: PREPARE once per
 * query text (deduplicated), then EXECUTE, token-aware, re-prepared transparently on UNPREPARED.
 * Always keyspace-qualify table names (never rely on USE) and list SELECT columns explicitly.
 * value_count = number of bind markers (all must be bound, or left unset). NULL on OOM. */
cql_statement *cql_statement_new(const char *query, size_t value_count, bool prepared);
void cql_statement_free(cql_statement *st);

/* Binding: index 0-based. Returns false on bad index or OOM. Unbound values are sent "unset". */
bool cql_statement_bind_null(cql_statement *st, size_t i);
bool cql_statement_bind_unset(cql_statement *st, size_t i);
bool cql_statement_bind_int32(cql_statement *st, size_t i, int32_t v);
bool cql_statement_bind_int64(cql_statement *st, size_t i, int64_t v); /* bigint, counter */
bool cql_statement_bind_bool(cql_statement *st, size_t i, bool v);
bool cql_statement_bind_timestamp(cql_statement *st, size_t i, int64_t ms_since_epoch);
bool cql_statement_bind_text(cql_statement *st, size_t i, const char *s, size_t len); /* text/varchar */
bool cql_statement_bind_blob(cql_statement *st, size_t i, const void *p, size_t len);
bool cql_statement_bind_uuid(cql_statement *st, size_t i, const uint8_t uuid[16]); /* uuid/timeuuid */

void cql_statement_set_consistency(cql_statement *st, cql_consistency cl);
void cql_statement_set_serial_consistency(cql_statement *st, cql_consistency serial_cl);
/* Only idempotent statements are ever retried on another host after a possible execution. */
void cql_statement_set_idempotent(cql_statement *st, bool idempotent);
void cql_statement_set_page_size(cql_statement *st, int32_t page_size); /* <=0: no paging */
/* Explicit write timestamp in microseconds (overrides the client-side generator). */
void cql_statement_set_timestamp(cql_statement *st, int64_t usec);
/* Total time budget of the statement, from submission to callback, across every attempt, host,
 * PREPARE and retry: no attempt outlives it and the callback gets CQL_ERR_CLIENT_TIMEOUT once it
 * is spent. Each attempt is still limited by request_timeout_ms. 0 (default) = no total budget. */
void cql_statement_set_timeout(cql_statement *st, unsigned timeout_ms);
/* Opaque paging state from cql_resultset_paging_state(): resume a previous page sequence. */
bool cql_statement_set_paging_state(cql_statement *st, const void *state, size_t len);

/* ------------------------------------------------------------------------------------------ */
/* Batches                                                                                     */

/* Batch types: cql_batch_type (CQL_BATCH_LOGGED / _UNLOGGED / _COUNTER) from cql/message.h. */

cql_batch_stmt *cql_batch_stmt_new(cql_batch_type type);
void cql_batch_stmt_free(cql_batch_stmt *b);
/* Copies the statement (query text, prepared flag, bound values) into the batch. */
bool cql_batch_stmt_add(cql_batch_stmt *b, const cql_statement *st);
void cql_batch_stmt_set_consistency(cql_batch_stmt *b, cql_consistency cl);
void cql_batch_stmt_set_serial_consistency(cql_batch_stmt *b, cql_consistency serial_cl);
void cql_batch_stmt_set_idempotent(cql_batch_stmt *b, bool idempotent);
void cql_batch_stmt_set_timestamp(cql_batch_stmt *b, int64_t usec);
void cql_batch_stmt_set_timeout(cql_batch_stmt *b, unsigned timeout_ms); /* total, as statements */

/* ------------------------------------------------------------------------------------------ */
/* Execution (asynchronous; callbacks on the I/O thread)                                      */

typedef void (*cql_result_cb)(cql_resultset *result, const cql_error *err, void *ud);

/* Submits; returns false only if the client is closing (then cb is NOT called). Thread-safe. */
bool cql_client_execute(cql_client *c, const cql_statement *st, cql_result_cb cb, void *ud);
bool cql_client_batch(cql_client *c, const cql_batch_stmt *b, cql_result_cb cb, void *ud);
/* Fetches the page after `prev` (which must have cql_resultset_has_more_pages); prev stays owned
 * by the caller and may be freed right after this call. */
bool cql_client_next_page(cql_client *c, const cql_resultset *prev, cql_result_cb cb, void *ud);

/* Blocking conveniences for CLI tools (never on the I/O thread). On failure they return the
 * error code (!= 0) and, if errbuf != NULL, a "NAME: message" text. */
int32_t cql_client_connect_wait(cql_client *c, char *errbuf, size_t errbuf_size);
int32_t cql_client_execute_wait(cql_client *c, const cql_statement *st, cql_resultset **out, char *errbuf,
                                size_t errbuf_size); /* out may be NULL: the result is freed */

/* ------------------------------------------------------------------------------------------ */
/* Schema agreement (after DDL)                                                                */

typedef void (*cql_schema_agreement_cb)(const cql_error *err, void *ud); /* err NULL: agreed */

/* Polls one host's system.local and system.peers_v2 (or system.peers) until the schema_version
 * of every host the client considers up is the same, then calls cb with NULL; after timeout_ms
 * (0 = 10000) cb gets CQL_ERR_CLIENT_TIMEOUT ("schema versions still differ"). Returns false
 * only if the client is closing (cb not called). Thread-safe; cb runs on the I/O thread. */
bool cql_client_schema_agreement(cql_client *c, unsigned timeout_ms, cql_schema_agreement_cb cb, void *ud);
/* Blocking variant for CLI tools (never on the I/O thread): 0 once agreed, else the error code. */
int32_t cql_client_wait_schema_agreement(cql_client *c, unsigned timeout_ms, char *errbuf,
                                         size_t errbuf_size);

/* ------------------------------------------------------------------------------------------ */
/* Results                                                                                     */

/* Result kinds: cql_result_kind (CQL_RESULT_VOID, _ROWS, _SET_KEYSPACE, _SCHEMA_CHANGE) from
 * cql/message.h. Column types: cql_type_id (CQL_TYPE_INT, _BIGINT, _VARCHAR, ...) from cql/types.h;
 * every type can be read as raw bytes. */

/* Getter outcome. */
typedef enum cql_get {
  CQL_GET_OK = 0,
  CQL_GET_NULL,      /* the cell is NULL: *out untouched */
  CQL_GET_BAD_INDEX, /* no such row/column */
  CQL_GET_BAD_TYPE,  /* the column type does not match the getter */
  CQL_GET_MALFORMED, /* wrong size for the type */
} cql_get;

void cql_resultset_free(cql_resultset *r); /* NULL is a no-op; any thread */
int cql_resultset_get_kind(const cql_resultset *r);
size_t cql_resultset_row_count(const cql_resultset *r);
size_t cql_resultset_column_count(const cql_resultset *r);
const char *cql_resultset_column_name(const cql_resultset *r, size_t col); /* NULL if out of range */
uint16_t cql_resultset_column_type(const cql_resultset *r, size_t col);
/* Index of the column with this name, or -1. */
int cql_resultset_column_index(const cql_resultset *r, const char *name);
/* Paging: more rows exist after this page; the opaque state resumes after it. */
bool cql_resultset_has_more_pages(const cql_resultset *r);
const uint8_t *cql_resultset_paging_state(const cql_resultset *r, size_t *len);
/* Host ("addr:port") that answered: for diagnostics and tests. */
const char *cql_resultset_host(const cql_resultset *r);

/* ------------------------------------------------------------------------------------------ */
/* Stats                                                                                       */

#define CQL_STATS_MAX_HOSTS 64

typedef struct cql_host_stats {
  char name[64]; /* "ip:port" */
  char dc[48];   /* "" when unknown */
  bool up;       /* at least one ready connection */
} cql_host_stats;

/* A snapshot of the client's counters and hosts, for monitoring. Counters are totals since
 * cql_client_new. */
typedef struct cql_client_stats {
  uint64_t in_flight; /* accepted requests without a callback yet (queued ones included) */
  uint64_t queued;    /* accepted, not yet started: waiting for the I/O thread or the first connect */
  uint64_t completed; /* requests whose callback ran */
  uint64_t errors;    /* ... with an error */
  uint64_t timeouts;  /* ... with CQL_ERR_CLIENT_TIMEOUT */
  uint64_t retries;   /* attempts sent again (same or next host) by the retry policy */
  size_t host_count;  /* live hosts; the first CQL_STATS_MAX_HOSTS are in hosts[] */
  cql_host_stats hosts[CQL_STATS_MAX_HOSTS];
} cql_client_stats;

/* Fills *out; any thread, never blocks on the network (a short lock for the host list). */
void cql_client_stats_get(cql_client *c, cql_client_stats *out);

/* Row iteration: `const cql_row *row; for (size_t i = 0; (row = cql_resultset_row(r, i)); i++)`. */
typedef struct cql_row cql_row;
const cql_row *cql_resultset_row(const cql_resultset *r, size_t index); /* NULL past the end */

bool cql_row_is_null(const cql_row *row, size_t col); /* true also for a bad column */
cql_get cql_row_get_int32(const cql_row *row, size_t col, int32_t *out);
cql_get cql_row_get_int64(const cql_row *row, size_t col, int64_t *out); /* bigint, counter */
cql_get cql_row_get_bool(const cql_row *row, size_t col, bool *out);
cql_get cql_row_get_timestamp(const cql_row *row, size_t col, int64_t *ms_since_epoch);
cql_get cql_row_get_uuid(const cql_row *row, size_t col, uint8_t out[16]); /* uuid, timeuuid */
/* text/ascii/varchar and blob (any type as raw bytes): borrowed from the result, NOT
 * NUL-terminated, valid until cql_resultset_free. */
cql_get cql_row_get_text(const cql_row *row, size_t col, const char **s, size_t *len);
cql_get cql_row_get_bytes(const cql_row *row, size_t col, const uint8_t **p, size_t *len);

#endif
