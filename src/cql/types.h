/* cql/types: CQL data types (v4 spec §4.2.5.2 "option" notation) and value encodings (§6).
 *
 * cql_datatype is a tree describing a column type; decoded trees live in the cql_arena given to
 * cql_datatype_read. Value helpers convert between C values and the serialized bytes carried in
 * [bytes]/[value] fields. cql_values is a growable list of bound values that owns the bytes
 * of the values added to it (free with cql_values_free); pass .items/.n to query parameters.
 * The timeuuid generator produces RFC 4122 version 1 UUIDs from the wall clock with a random
 * per-generator node and clock sequence; it is thread-safe. */
#ifndef MESSENGER_CQL_TYPES_H
#define MESSENGER_CQL_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cql/buf.h"

typedef enum cql_type_id {
  CQL_TYPE_CUSTOM = 0x0000,
  CQL_TYPE_ASCII = 0x0001,
  CQL_TYPE_BIGINT = 0x0002,
  CQL_TYPE_BLOB = 0x0003,
  CQL_TYPE_BOOLEAN = 0x0004,
  CQL_TYPE_COUNTER = 0x0005,
  CQL_TYPE_DECIMAL = 0x0006,
  CQL_TYPE_DOUBLE = 0x0007,
  CQL_TYPE_FLOAT = 0x0008,
  CQL_TYPE_INT = 0x0009,
  CQL_TYPE_TIMESTAMP = 0x000B,
  CQL_TYPE_UUID = 0x000C,
  CQL_TYPE_VARCHAR = 0x000D,
  CQL_TYPE_TEXT = 0x000D, /* alias of varchar */
  CQL_TYPE_VARINT = 0x000E,
  CQL_TYPE_TIMEUUID = 0x000F,
  CQL_TYPE_INET = 0x0010,
  CQL_TYPE_DATE = 0x0011,
  CQL_TYPE_TIME = 0x0012,
  CQL_TYPE_SMALLINT = 0x0013,
  CQL_TYPE_TINYINT = 0x0014,
  CQL_TYPE_DURATION = 0x0015, /* v5 */
  CQL_TYPE_LIST = 0x0020,
  CQL_TYPE_MAP = 0x0021,
  CQL_TYPE_SET = 0x0022,
  CQL_TYPE_UDT = 0x0030,
  CQL_TYPE_TUPLE = 0x0031,
} cql_type_id;

const char *cql_type_name(int id); /* "int", "varchar", "list", ...; "unknown" otherwise */

typedef struct cql_datatype {
  uint16_t id;
  cql_str custom;       /* CUSTOM: Java class name */
  cql_str udt_keyspace; /* UDT */
  cql_str udt_name;     /* UDT */
  uint16_t n_params;    /* LIST/SET: 1, MAP: 2 (key, value), UDT: fields, TUPLE: elements */
  const struct cql_datatype *params;
  const cql_str *field_names; /* UDT: n_params names */
} cql_datatype;

#define CQL_TYPE_MAX_DEPTH 16 /* deeper nesting is rejected as malformed */

/* Simple (parameterless) type. */
static inline cql_datatype cql_datatype_simple(uint16_t id) { return (cql_datatype){.id = id}; }

/* Reads an [option] type tree; strings and arrays are copied into the arena. Sets the reader
 * error and returns false on malformed input, unknown ids or nesting deeper than the max. */
bool cql_datatype_read(cql_reader *r, cql_arena *a, cql_datatype *out);
void cql_datatype_write(cql_writer *w, const cql_datatype *t);
bool cql_datatype_equal(const cql_datatype *a, const cql_datatype *b);

/* ---- value encodings ---- */
/* Getters check the length exactly and return CQL_RC_NULL for NULL/unset, CQL_RC_MALFORMED
 * for a wrong length. text returns a view (not NUL-terminated). */
int cql_value_get_int(cql_value v, int32_t *out);
int cql_value_get_bigint(cql_value v, int64_t *out); /* bigint, counter, timestamp (ms) */
int cql_value_get_bool(cql_value v, bool *out);
int cql_value_get_text(cql_value v, cql_str *out);
int cql_value_get_uuid(cql_value v, uint8_t out[16]); /* uuid and timeuuid */
int cql_value_get_blob(cql_value v, const uint8_t **p, size_t *len);

/* Bound-value list. Every add copies the data; pointers in items[] stay valid until free. */
typedef struct cql_values {
  cql_value *items;
  size_t n, cap;
  cql_arena arena;
  bool err; /* sticky: an add failed (OOM or value too long) */
} cql_values;

void cql_values_init(cql_values *v);
void cql_values_free(cql_values *v);
void cql_values_add_null(cql_values *v);
void cql_values_add_unset(cql_values *v);
void cql_values_add_int(cql_values *v, int32_t x);
void cql_values_add_bigint(cql_values *v, int64_t x); /* also counter */
void cql_values_add_timestamp(cql_values *v, int64_t unix_ms);
void cql_values_add_bool(cql_values *v, bool x);
void cql_values_add_text(cql_values *v, const char *s, size_t len); /* text/varchar/ascii */
void cql_values_add_uuid(cql_values *v, const uint8_t uuid[16]);    /* uuid/timeuuid */
void cql_values_add_blob(cql_values *v, const void *p, size_t len);
void cql_values_add_raw(cql_values *v, cql_value value); /* pre-serialized (copied) */

/* Appends the serialized form of a value (no length prefix) to w. */
void cql_encode_int(cql_writer *w, int32_t x);
void cql_encode_bigint(cql_writer *w, int64_t x);
void cql_encode_bool(cql_writer *w, bool x);

/* ---- timeuuid (version 1) ---- */
/* Gregorian-epoch offset: 100 ns intervals between 1582-10-15 and 1970-01-01. */
#define CQL_UUID_EPOCH_OFFSET ((uint64_t)0x01B21DD213814000)

/* Builds a v1 UUID from a 60-bit timestamp (100 ns since 1582-10-15), a 14-bit clock
 * sequence and a 6-byte node, with the RFC 4122 variant bits. */
void cql_timeuuid_make(uint64_t ts_100ns, uint16_t clock_seq, const uint8_t node[6], uint8_t out[16]);
/* Unix time in ms encoded in a v1 UUID (floor). */
int64_t cql_timeuuid_unix_ms(const uint8_t uuid[16]);
/* Smallest / largest timeuuid (in Cassandra's order) of the given millisecond, for range
 * queries, like CQL's minTimeuuid()/maxTimeuuid(). */
void cql_timeuuid_min_for_ms(int64_t unix_ms, uint8_t out[16]);
void cql_timeuuid_max_for_ms(int64_t unix_ms, uint8_t out[16]);

typedef struct cql_timeuuid_gen {
  _Atomic uint64_t last_ts; /* last 100 ns tick handed out; ticks are strictly increasing */
  uint16_t clock_seq;
  uint8_t node[6]; /* random, multicast bit set (RFC 4122 §4.5) */
} cql_timeuuid_gen;

void cql_timeuuid_gen_init(cql_timeuuid_gen *g); /* random node and clock sequence */
void cql_timeuuid_gen_next(cql_timeuuid_gen *g, uint8_t out[16]);

#endif
