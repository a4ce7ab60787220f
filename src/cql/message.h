/* cql/message: bodies of every v4 request and response (with v5 additions), both directions.
 *
 * cql_message is a tagged union keyed by the opcode. Encoding reads a caller-filled message
 * (pointers borrowed, nothing copied) and appends a body or a whole envelope to a writer.
 * Decoding fills a message whose strings, byte values and arrays all live in the message's
 * own arena (NUL-terminated string copies), so the input body may be freed right after;
 * release a decoded message with cql_message_free. The response prefix (tracing id,
 * warnings, custom payload) is decoded from / encoded into the fields of cql_message.
 * Server errors decode into cql_error with the code's name and all extra fields. */
#ifndef MESSENGER_CQL_MESSAGE_H
#define MESSENGER_CQL_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cql/buf.h"
#include "cql/frame.h"
#include "cql/types.h"

typedef enum cql_consistency {
  CQL_CONSISTENCY_ANY = 0x0000,
  CQL_CONSISTENCY_ONE = 0x0001,
  CQL_CONSISTENCY_TWO = 0x0002,
  CQL_CONSISTENCY_THREE = 0x0003,
  CQL_CONSISTENCY_QUORUM = 0x0004,
  CQL_CONSISTENCY_ALL = 0x0005,
  CQL_CONSISTENCY_LOCAL_QUORUM = 0x0006,
  CQL_CONSISTENCY_EACH_QUORUM = 0x0007,
  CQL_CONSISTENCY_SERIAL = 0x0008,
  CQL_CONSISTENCY_LOCAL_SERIAL = 0x0009,
  CQL_CONSISTENCY_LOCAL_ONE = 0x000A,
} cql_consistency;

const char *cql_consistency_name(int c); /* "LOCAL_QUORUM", ...; "UNKNOWN" otherwise */
/* Parses a name (case-insensitive); returns false if unknown. */
bool cql_consistency_parse(const char *name, cql_consistency *out);

/* ---- requests ---- */

/* QUERY/EXECUTE flags (v4: [byte], v5: [int]); the encoder derives them from the fields. */
enum {
  CQL_QUERY_FLAG_VALUES = 0x01,
  CQL_QUERY_FLAG_SKIP_METADATA = 0x02,
  CQL_QUERY_FLAG_PAGE_SIZE = 0x04,
  CQL_QUERY_FLAG_PAGING_STATE = 0x08,
  CQL_QUERY_FLAG_SERIAL_CONSISTENCY = 0x10,
  CQL_QUERY_FLAG_DEFAULT_TIMESTAMP = 0x20,
  CQL_QUERY_FLAG_NAMES_FOR_VALUES = 0x40,
  CQL_QUERY_FLAG_KEYSPACE = 0x80,        /* v5 */
  CQL_QUERY_FLAG_NOW_IN_SECONDS = 0x100, /* v5 */
};

typedef struct cql_query_params {
  uint16_t consistency;
  const cql_value *values; /* flag VALUES when n_values > 0 */
  uint16_t n_values;
  const cql_str *value_names; /* optional (NAMES_FOR_VALUES): n_values names */
  bool skip_metadata;
  int32_t page_size;      /* sent when > 0 */
  cql_value paging_state; /* sent when .ptr != NULL */
  bool has_serial_consistency;
  uint16_t serial_consistency;
  bool has_timestamp;
  int64_t timestamp;       /* microseconds since the epoch */
  cql_str keyspace;        /* v5 only; sent when .ptr != NULL */
  bool has_now_in_seconds; /* v5 only */
  int32_t now_in_seconds;
  uint32_t flags; /* decode: the flags as received; ignored by the encoder */
} cql_query_params;

typedef struct cql_startup_msg {
  const cql_str_pair *options; /* e.g. {"CQL_VERSION","3.0.0"}, {"COMPRESSION","lz4"} */
  size_t n_options;
} cql_startup_msg;

typedef struct cql_supported_msg { /* SUPPORTED: [string multimap] */
  const cql_multimap_entry *entries;
  size_t n_entries;
} cql_supported_msg;

typedef struct cql_query_msg {
  cql_str query;
  cql_query_params params;
} cql_query_msg;

typedef struct cql_prepare_msg {
  cql_str query;
  cql_str keyspace; /* v5 only; sent (with flag 0x01) when .ptr != NULL */
} cql_prepare_msg;

typedef struct cql_execute_msg {
  cql_value id;                 /* [short bytes] */
  cql_value result_metadata_id; /* v5 only ([short bytes]) */
  cql_query_params params;
} cql_execute_msg;

typedef enum cql_batch_type {
  CQL_BATCH_LOGGED = 0,
  CQL_BATCH_UNLOGGED = 1,
  CQL_BATCH_COUNTER = 2,
} cql_batch_type;

typedef struct cql_batch_entry {
  bool is_prepared; /* kind 1: id; kind 0: query string */
  cql_str query;
  cql_value id;
  const cql_value *values;
  uint16_t n_values;
} cql_batch_entry;

/* Only consistency, serial consistency, timestamp and the v5 keyspace/now_in_seconds of
 * params are used (names_for_values "does not work" in batches, v4 §4.1.7). */
typedef struct cql_batch_msg {
  uint8_t type;
  const cql_batch_entry *statements;
  uint16_t n_statements;
  cql_query_params params;
} cql_batch_msg;

typedef struct cql_register_msg {
  const cql_str *events; /* "TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE" */
  size_t n_events;
} cql_register_msg;

/* ---- responses ---- */

typedef enum cql_error_code {
  CQL_ERROR_SERVER = 0x0000,
  CQL_ERROR_PROTOCOL = 0x000A,
  CQL_ERROR_BAD_CREDENTIALS = 0x0100,
  CQL_ERROR_UNAVAILABLE = 0x1000,
  CQL_ERROR_OVERLOADED = 0x1001,
  CQL_ERROR_IS_BOOTSTRAPPING = 0x1002,
  CQL_ERROR_TRUNCATE = 0x1003,
  CQL_ERROR_WRITE_TIMEOUT = 0x1100,
  CQL_ERROR_READ_TIMEOUT = 0x1200,
  CQL_ERROR_READ_FAILURE = 0x1300,
  CQL_ERROR_FUNCTION_FAILURE = 0x1400,
  CQL_ERROR_WRITE_FAILURE = 0x1500,
  CQL_ERROR_CDC_WRITE_FAILURE = 0x1600, /* v5 */
  CQL_ERROR_CAS_WRITE_UNKNOWN = 0x1700, /* v5 */
  CQL_ERROR_SYNTAX = 0x2000,
  CQL_ERROR_UNAUTHORIZED = 0x2100,
  CQL_ERROR_INVALID = 0x2200,
  CQL_ERROR_CONFIG = 0x2300,
  CQL_ERROR_ALREADY_EXISTS = 0x2400,
  CQL_ERROR_UNPREPARED = 0x2500,
} cql_error_code;

const char *cql_error_code_name(int32_t code); /* "Unavailable", ...; "Unknown error" */

typedef struct cql_failure_reason { /* v5 <reasonmap> entry */
  cql_inet endpoint;                /* [inetaddr], port 0 */
  uint16_t code;
} cql_failure_reason;

/* ERROR body. Fields beyond code/message are filled only for the codes that carry them. */
typedef struct cql_error {
  int32_t code;
  const char *name; /* static string from cql_error_code_name */
  cql_str message;
  uint16_t consistency;              /* Unavailable, *_timeout, *_failure, CAS_write_unknown */
  int32_t required;                  /* Unavailable */
  int32_t alive;                     /* Unavailable */
  int32_t received;                  /* *_timeout, *_failure, CAS_write_unknown */
  int32_t block_for;                 /* *_timeout, *_failure, CAS_write_unknown */
  bool data_present;                 /* Read_timeout, Read_failure */
  cql_str write_type;                /* Write_timeout, Write_failure: "SIMPLE", "BATCH_LOG", ... */
  int32_t num_failures;              /* *_failure (v4; in v5 = n_reasons) */
  const cql_failure_reason *reasons; /* *_failure, v5 */
  size_t n_reasons;
  bool has_contentions; /* Write_timeout with write type CAS, v5 */
  uint16_t contentions;
  cql_str keyspace;         /* Function_failure, Already_exists */
  cql_str table;            /* Already_exists (empty for a keyspace) */
  cql_str function;         /* Function_failure */
  const cql_str *arg_types; /* Function_failure */
  size_t n_arg_types;
  cql_value unprepared_id; /* Unprepared */
} cql_error;

enum {
  CQL_ROWS_FLAG_GLOBAL_TABLES_SPEC = 0x0001,
  CQL_ROWS_FLAG_HAS_MORE_PAGES = 0x0002,
  CQL_ROWS_FLAG_NO_METADATA = 0x0004,
  CQL_ROWS_FLAG_METADATA_CHANGED = 0x0008, /* v5 */
};

typedef struct cql_column_spec {
  cql_str keyspace;
  cql_str table;
  cql_str name;
  cql_datatype type;
} cql_column_spec;

/* Rows metadata. The encoder writes exactly what `flags` says: paging_state when
 * HAS_MORE_PAGES, new_metadata_id when METADATA_CHANGED, no column specs when NO_METADATA,
 * and the keyspace/table of columns[0] as global spec when GLOBAL_TABLES_SPEC. The decoder
 * copies a global spec into every column. */
typedef struct cql_result_metadata {
  int32_t flags;
  int32_t column_count;
  cql_value paging_state;
  cql_value new_metadata_id;      /* v5 */
  const cql_column_spec *columns; /* column_count entries, NULL with NO_METADATA */
} cql_result_metadata;

/* Metadata of a Prepared result's bind markers (flags only use GLOBAL_TABLES_SPEC). */
typedef struct cql_prepared_metadata {
  int32_t flags;
  int32_t column_count;
  const uint16_t *pk_indexes; /* bind-marker positions of the partition-key columns, in order */
  int32_t pk_count;
  const cql_column_spec *columns;
} cql_prepared_metadata;

typedef enum cql_result_kind {
  CQL_RESULT_VOID = 1,
  CQL_RESULT_ROWS = 2,
  CQL_RESULT_SET_KEYSPACE = 3,
  CQL_RESULT_PREPARED = 4,
  CQL_RESULT_SCHEMA_CHANGE = 5,
} cql_result_kind;

typedef struct cql_rows_result {
  cql_result_metadata meta;
  int32_t row_count;
  const cql_value *cells; /* row-major: cells[row * meta.column_count + column] */
} cql_rows_result;

typedef struct cql_prepared_result {
  cql_value id;
  cql_value result_metadata_id; /* v5 */
  cql_prepared_metadata meta;
  cql_result_metadata result_meta;
} cql_prepared_result;

/* Schema change (RESULT kind 5 and SCHEMA_CHANGE events). */
typedef struct cql_schema_change {
  cql_str change_type; /* CREATED, UPDATED, DROPPED */
  cql_str target;      /* KEYSPACE, TABLE, TYPE, FUNCTION, AGGREGATE */
  cql_str keyspace;
  cql_str name;             /* not for KEYSPACE */
  const cql_str *arg_types; /* FUNCTION/AGGREGATE */
  size_t n_arg_types;
} cql_schema_change;

typedef struct cql_result_msg {
  int32_t kind;
  cql_rows_result rows;
  cql_str keyspace; /* SET_KEYSPACE */
  cql_prepared_result prepared;
  cql_schema_change schema_change;
} cql_result_msg;

typedef enum cql_event_type {
  CQL_EVENT_TOPOLOGY_CHANGE = 1,
  CQL_EVENT_STATUS_CHANGE = 2,
  CQL_EVENT_SCHEMA_CHANGE = 3,
} cql_event_type;

typedef struct cql_event_msg {
  int type;       /* cql_event_type */
  cql_str change; /* NEW_NODE/REMOVED_NODE, UP/DOWN */
  cql_inet address;
  cql_schema_change schema_change;
} cql_event_msg;

/* ---- the message ---- */
typedef struct cql_message {
  uint8_t opcode;
  /* Response prefix (encoded only for responses; sets the matching header flags). */
  bool has_tracing_id;
  uint8_t tracing_id[16];
  const cql_str *warnings;
  size_t n_warnings;
  const cql_bytes_pair *custom_payload; /* requests and responses */
  size_t n_custom_payload;
  /* Body, selected by opcode. */
  union {
    cql_startup_msg startup;
    cql_str authenticator; /* AUTHENTICATE */
    cql_value auth_token;  /* AUTH_RESPONSE, AUTH_CHALLENGE, AUTH_SUCCESS ([bytes]) */
    cql_supported_msg supported;
    cql_query_msg query;
    cql_prepare_msg prepare;
    cql_execute_msg execute;
    cql_batch_msg batch;
    cql_register_msg reg;
    cql_result_msg result;
    cql_event_msg event;
    cql_error error;
  } u;
  cql_arena arena; /* owns decoded data */
} cql_message;

/* Zeroes *m and sets the opcode (for building messages to encode). */
void cql_message_init(cql_message *m, uint8_t opcode);
/* Frees everything a decode allocated; *m is zeroed. Safe on an init-only message. */
void cql_message_free(cql_message *m);

/* Appends the body (with the response prefix for response opcodes) to w for protocol
 * `version` (3..5). *prefix_flags receives TRACING/WARNING/CUSTOM_PAYLOAD as written. */
int cql_message_encode_body(cql_writer *w, int version, const cql_message *m, uint8_t *prefix_flags);
/* Appends a whole envelope. `version` is the protocol version (the response bit is added
 * for response opcodes); `flags` are ORed with the prefix flags. */
int cql_message_encode_frame(cql_writer *w, int version, uint8_t flags, int16_t stream, const cql_message *m);

/* Decodes a body described by h (version, direction, flags, opcode); the body must already
 * be decompressed (the COMPRESSION flag is ignored). On failure *out is left freed (no need
 * to call cql_message_free). Trailing bytes are ignored (v4 §1). */
int cql_message_decode(cql_message *out, const cql_frame_header *h, const uint8_t *body, size_t len);

/* SASL PLAIN initial token "\0user\0pass" appended to w (for AUTH_RESPONSE). */
void cql_sasl_plain_token(cql_writer *w, const char *user, const char *password);

/* One-line description of a server error ("Unavailable (0x1000): msg [cl=QUORUM required=2
 * alive=1]") into buf; returns buf. */
char *cql_error_format(const cql_error *e, char *buf, size_t size);

#endif
