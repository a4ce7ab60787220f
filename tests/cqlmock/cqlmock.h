/* cqlmock: a scripted CQL native-protocol (v4) test server for the client's tests.
 *
 * Like Simulacron or the C/C++ driver's mockssandra, it is a tool for testing CLIENT behaviour,
 * not a database: it answers handshakes, serves believable system.local / system.peers(_v2) /
 * system_schema.keyspaces rows, and answers every other statement from "primes" (scripted
 * responses: rows with paging, void, schema change, errors, delays, dropped connections, silence).
 * A cluster of 1..CQLMOCK_MAX_NODES nodes listens on 127.0.0.1, 127.0.0.2, ... and runs on one
 * libuv loop in its own thread; every function here may be called from any other thread (not from
 * inside the loop) while it runs. Each node keeps a request log that tests inspect.
 *
 * Ownership: cqlmock_start() returns a cluster the caller frees with cqlmock_stop(). A prime is
 * built by the caller and handed over by cqlmock_prime_add(), which always takes ownership.
 * Log snapshots are caller-owned copies (cqlmock_log_free). Strings passed in are copied. */
#ifndef MESSENGER_TESTS_CQLMOCK_H
#define MESSENGER_TESTS_CQLMOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CQLMOCK_MAX_NODES 16

typedef struct cqlmock cqlmock;
typedef struct cqlmock_prime cqlmock_prime;

/* Wire opcodes of the requests a node logs (same values as the protocol). */
enum {
  CQLMOCK_OP_STARTUP = 0x01,
  CQLMOCK_OP_OPTIONS = 0x05,
  CQLMOCK_OP_QUERY = 0x07,
  CQLMOCK_OP_PREPARE = 0x09,
  CQLMOCK_OP_EXECUTE = 0x0A,
  CQLMOCK_OP_REGISTER = 0x0B,
  CQLMOCK_OP_BATCH = 0x0D,
  CQLMOCK_OP_AUTH_RESPONSE = 0x0F,
};

/* ------------------------------------------------------------------------------------------ */
/* Cluster                                                                                     */

typedef struct cqlmock_node_config {
  const char *datacenter; /* NULL: "dc1" */
  const char *rack;       /* NULL: "rack1" */
  const char *tokens;     /* comma-separated int64 tokens; NULL: one token, evenly spaced on the ring */
} cqlmock_node_config;

/* A zeroed config is valid: one node, any free port, v4, no auth, no user keyspace. */
typedef struct cqlmock_config {
  int nodes;                /* 1..CQLMOCK_MAX_NODES (0 = 1) */
  uint16_t port;            /* 0: a free port, the same on every node when possible */
  int first_host;           /* last octet of node 0's address 127.0.0.x (0 = 1); node i is x+i */
  int min_protocol_version; /* versions the nodes speak: [min, max], both 3..4 (0 = 4) */
  int max_protocol_version; /* any other version gets ProtocolError "Invalid or unsupported ..." */
  const char *cluster_name; /* NULL: "cqlmock" */
  const char *username;     /* non-NULL: PasswordAuthenticator with these credentials */
  const char *password;
  const char *keyspace;    /* non-NULL: a system_schema.keyspaces row for it */
  const char *replication; /* its replication map, CQL or JSON syntax; NULL: SimpleStrategy RF 1 */
  bool verbose;            /* print connections and requests on stderr */
  bool no_log;             /* keep no request log (benchmarks: the log grows with every request) */
  cqlmock_node_config node[CQLMOCK_MAX_NODES];
} cqlmock_config;

/* Binds every node, starts the loop thread. NULL on failure (reason printed to stderr). */
cqlmock *cqlmock_start(const cqlmock_config *cfg);

/* Closes every socket, joins the thread, frees everything. NULL is a no-op. */
void cqlmock_stop(cqlmock *m);

int cqlmock_node_count(const cqlmock *m);
const char *cqlmock_node_host(const cqlmock *m, int node); /* "127.0.0.2"; owned by m */
uint16_t cqlmock_node_port(const cqlmock *m, int node);
/* "127.0.0.1:PORT,127.0.0.2:PORT,..." of every node; owned by m. */
const char *cqlmock_contact_points(const cqlmock *m);

/* Node control. Nodes are indexed 0..count-1. Each call takes effect before it returns. */
int cqlmock_node_stop(cqlmock *m, int node);  /* close its listener and connections */
int cqlmock_node_start(cqlmock *m, int node); /* reopen on the same address/port; forgets prepared ids */
void cqlmock_node_forget_prepared(cqlmock *m, int node);  /* EXECUTE of older ids -> UNPREPARED */
int cqlmock_node_close_connections(cqlmock *m, int node); /* drop client connections, keep listening */
void cqlmock_node_set_answering(cqlmock *m, int node, bool answering); /* false: read, log, never reply */
void cqlmock_node_set_delay(cqlmock *m, int node, unsigned delay_ms);  /* added to every reply */
int cqlmock_node_connection_count(cqlmock *m, int node);               /* open client connections */

/* EVENT frames (stream -1) to the connections of `to_node` (-1 = every node) that REGISTERed for
 * the type. `about_node` gives the event's inet (its address and port). Returns how many
 * connections got it. change: "NEW_NODE" | "REMOVED_NODE" | "MOVED_NODE", "UP" | "DOWN". */
int cqlmock_push_topology_change(cqlmock *m, int to_node, const char *change, int about_node);
int cqlmock_push_status_change(cqlmock *m, int to_node, const char *change, int about_node);
/* change "CREATED"|"UPDATED"|"DROPPED", target "KEYSPACE"|"TABLE"|"TYPE"; name NULL for KEYSPACE. */
int cqlmock_push_schema_change(cqlmock *m, int to_node, const char *change, const char *target,
                               const char *keyspace, const char *name);

/* ------------------------------------------------------------------------------------------ */
/* Primes: scripted answers                                                                    */

typedef enum cqlmock_match {
  CQLMOCK_MATCH_EXACT,  /* query text equals the prime's */
  CQLMOCK_MATCH_PREFIX, /* query text starts with the prime's */
  CQLMOCK_MATCH_ANY,    /* any query (the prime's text is ignored, may be NULL) */
} cqlmock_match;

/* Which requests a prime answers (bit mask). EXECUTE matches the text the id was prepared from;
 * BATCH matches when any of its statements does. */
enum {
  CQLMOCK_ON_QUERY = 1,
  CQLMOCK_ON_EXECUTE = 2,
  CQLMOCK_ON_PREPARE = 4,
  CQLMOCK_ON_BATCH = 8,
};

/* A new prime answering QUERY and EXECUTE of `query` on every node, any number of times, with a
 * Void result. Primes are tried newest first; the first match with uses left answers. Built-in
 * answers (system tables, USE, unprimed statements) come after every prime.
 * Builder calls record the first error (bad type or value); cqlmock_prime_add then fails. */
cqlmock_prime *cqlmock_prime_new(cqlmock_match match, const char *query);
void cqlmock_prime_free(cqlmock_prime *p); /* only for a prime never added */

void cqlmock_prime_on(cqlmock_prime *p, unsigned request_mask); /* CQLMOCK_ON_* bits */
void cqlmock_prime_node(cqlmock_prime *p, int node);            /* only this node (-1 = all) */
void cqlmock_prime_times(cqlmock_prime *p, int times);          /* uses before it expires (<=0 = all) */
void cqlmock_prime_delay(cqlmock_prime *p, unsigned delay_ms);  /* wait before acting */

/* Result: Rows. Types are CQL type names: ascii, bigint, blob, boolean, counter, date, double,
 * float, inet, int, smallint, text, time, timestamp, timeuuid, tinyint, uuid, varchar, varint,
 * list<T>, set<T>, map<K,V>, frozen<T>. */
void cqlmock_prime_columns(cqlmock_prime *p, const char *keyspace, const char *table, size_t count,
                           const char *const names[], const char *const types[]);
/* One row: `count` cells as text (NULL = null): numbers in decimal, boolean true/false, uuid in
 * canonical form, timestamp as ms since the epoch or "YYYY-MM-DD[THH:MM:SS[.mmm]][Z]", date
 * "YYYY-MM-DD", blob "0x..", inet dotted/colon form, collections as JSON ([..] or {..}). */
void cqlmock_prime_row(cqlmock_prime *p, const char *const cells[]);
/* Bind markers announced by PREPARE (default: one blob per '?' in the text) and the positions
 * of the partition-key markers (pk_indexes). */
void cqlmock_prime_params(cqlmock_prime *p, size_t count, const char *const names[],
                          const char *const types[], size_t pk_count, const uint16_t pk_indexes[]);

/* Only requests whose bound value `index` (0-based) equals `cell` (as in cqlmock_prime_row,
 * encoded as `type`; NULL cell = a null value) match this prime. One condition per prime (the
 * last call wins). PREPARE and BATCH requests never match a prime with a condition. */
void cqlmock_prime_when_value(cqlmock_prime *p, size_t index, const char *type, const char *cell);

/* Other results and actions (the last one called wins). */
void cqlmock_prime_void(cqlmock_prime *p);
void cqlmock_prime_set_keyspace(cqlmock_prime *p, const char *keyspace);
void cqlmock_prime_schema_change(cqlmock_prime *p, const char *change, const char *target,
                                 const char *keyspace, const char *name);
/* Errors without extra fields: server 0x0000, protocol 0x000A, bad credentials 0x0100, overloaded
 * 0x1001, bootstrapping 0x1002, truncate 0x1003, syntax 0x2000, unauthorized 0x2100, invalid
 * 0x2200, config 0x2300. Other codes record an error on the prime. */
void cqlmock_prime_error(cqlmock_prime *p, int32_t code, const char *message);
void cqlmock_prime_unavailable(cqlmock_prime *p, uint16_t consistency, int32_t required, int32_t alive);
void cqlmock_prime_read_timeout(cqlmock_prime *p, uint16_t consistency, int32_t received, int32_t blockfor,
                                bool data_present);
/* write_type: "SIMPLE", "BATCH", "UNLOGGED_BATCH", "COUNTER", "BATCH_LOG", "CAS", "VIEW", "CDC". */
void cqlmock_prime_write_timeout(cqlmock_prime *p, uint16_t consistency, int32_t received, int32_t blockfor,
                                 const char *write_type);
void cqlmock_prime_already_exists(cqlmock_prime *p, const char *keyspace, const char *table);
/* UNPREPARED carrying the request's prepared id (for QUERY/PREPARE: MD5 of the text). */
void cqlmock_prime_unprepared(cqlmock_prime *p);
void cqlmock_prime_close_connection(cqlmock_prime *p); /* drop the connection, no reply */
void cqlmock_prime_no_answer(cqlmock_prime *p);        /* swallow the request */

/* Hands p to m (always, even on failure). 0, or -1 if a builder call failed (printed). */
int cqlmock_prime_add(cqlmock *m, cqlmock_prime *p);
void cqlmock_prime_clear(cqlmock *m); /* drop every prime */

/* ------------------------------------------------------------------------------------------ */
/* Request log                                                                                 */

typedef struct cqlmock_request {
  uint64_t connection; /* id of the client connection on its node (1, 2, ...) */
  int node;            /* node index */
  uint8_t opcode;      /* CQLMOCK_OP_* */
  uint8_t version;     /* protocol version of the frame */
  int16_t stream;
  char *query;             /* QUERY/PREPARE text; EXECUTE: the prepared text (NULL if id unknown);
                            * BATCH: the first statement's text; others NULL */
  uint8_t prepared_id[16]; /* EXECUTE (and BATCH first prepared child) id */
  size_t prepared_id_len;
  uint16_t consistency;
  uint16_t serial_consistency; /* 0 when absent */
  uint8_t flags;               /* query flags byte */
  int32_t values;              /* bound values (BATCH: total over statements) */
  int32_t page_size;           /* -1 when absent */
  bool has_paging_state;
  bool has_timestamp;
  int64_t timestamp;    /* default timestamp (us) when has_timestamp */
  uint8_t batch_type;   /* BATCH: 0 logged, 1 unlogged, 2 counter */
  uint16_t batch_count; /* BATCH: statements */
  uint64_t received_ms; /* monotonic clock (uv_hrtime / 1e6) */
  uint32_t body_length; /* frame body bytes as received (the encoded request) */
  int64_t value_bytes;  /* bytes of the bound values, without length prefixes (BATCH: all statements) */
} cqlmock_request;

/* Copy of node's log (node -1: all nodes, in arrival order). *count gets its length. */
cqlmock_request *cqlmock_log(cqlmock *m, int node, size_t *count);
void cqlmock_log_free(cqlmock_request *reqs, size_t count);
/* Requests on `node` (-1 = all) with `opcode` (0 = any) whose query starts with `query_prefix`
 * (NULL = any). */
size_t cqlmock_log_count(cqlmock *m, int node, uint8_t opcode, const char *query_prefix);
/* Waits until cqlmock_log_count(...) >= count; false after timeout_ms. */
bool cqlmock_log_wait(cqlmock *m, int node, uint8_t opcode, const char *query_prefix, size_t count,
                      unsigned timeout_ms);
void cqlmock_log_clear(cqlmock *m, int node); /* -1 = all */

#endif
