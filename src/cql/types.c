#include "cql/types.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

const char *cql_type_name(int id) {
  switch (id) {
  case CQL_TYPE_CUSTOM:
    return "custom";
  case CQL_TYPE_ASCII:
    return "ascii";
  case CQL_TYPE_BIGINT:
    return "bigint";
  case CQL_TYPE_BLOB:
    return "blob";
  case CQL_TYPE_BOOLEAN:
    return "boolean";
  case CQL_TYPE_COUNTER:
    return "counter";
  case CQL_TYPE_DECIMAL:
    return "decimal";
  case CQL_TYPE_DOUBLE:
    return "double";
  case CQL_TYPE_FLOAT:
    return "float";
  case CQL_TYPE_INT:
    return "int";
  case CQL_TYPE_TIMESTAMP:
    return "timestamp";
  case CQL_TYPE_UUID:
    return "uuid";
  case CQL_TYPE_VARCHAR:
    return "varchar";
  case CQL_TYPE_VARINT:
    return "varint";
  case CQL_TYPE_TIMEUUID:
    return "timeuuid";
  case CQL_TYPE_INET:
    return "inet";
  case CQL_TYPE_DATE:
    return "date";
  case CQL_TYPE_TIME:
    return "time";
  case CQL_TYPE_SMALLINT:
    return "smallint";
  case CQL_TYPE_TINYINT:
    return "tinyint";
  case CQL_TYPE_DURATION:
    return "duration";
  case CQL_TYPE_LIST:
    return "list";
  case CQL_TYPE_MAP:
    return "map";
  case CQL_TYPE_SET:
    return "set";
  case CQL_TYPE_UDT:
    return "udt";
  case CQL_TYPE_TUPLE:
    return "tuple";
  default:
    return "unknown";
  }
}

/* ---- type options ---- */

static bool read_type(cql_reader *r, cql_arena *a, cql_datatype *out, int depth);

static bool read_params(cql_reader *r, cql_arena *a, cql_datatype *out, size_t n, bool named, int depth) {
  /* Each parameter needs at least 2 bytes (its id), so n is bounded by the input. */
  if (n > cql_reader_remaining(r) / 2) {
    cql_reader_fail(r);
    return false;
  }
  cql_datatype *params = cql_arena_calloc(a, n ? n : 1, sizeof(*params));
  cql_str *names = named ? cql_arena_calloc(a, n ? n : 1, sizeof(*names)) : NULL;
  if (!params || (named && !names)) {
    cql_reader_fail(r);
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    if (named) names[i] = cql_arena_str(a, r, cql_read_string(r));
    if (!read_type(r, a, &params[i], depth + 1)) return false;
  }
  out->n_params = (uint16_t)n;
  out->params = params;
  out->field_names = names;
  return cql_reader_ok(r);
}

static bool read_type(cql_reader *r, cql_arena *a, cql_datatype *out, int depth) {
  memset(out, 0, sizeof(*out));
  if (depth >= CQL_TYPE_MAX_DEPTH) {
    cql_reader_fail(r);
    return false;
  }
  out->id = cql_read_short(r);
  if (!cql_reader_ok(r)) return false;
  switch (out->id) {
  case CQL_TYPE_CUSTOM:
    out->custom = cql_arena_str(a, r, cql_read_string(r));
    return cql_reader_ok(r);
  case CQL_TYPE_LIST:
  case CQL_TYPE_SET:
    return read_params(r, a, out, 1, false, depth);
  case CQL_TYPE_MAP:
    return read_params(r, a, out, 2, false, depth);
  case CQL_TYPE_UDT:
    out->udt_keyspace = cql_arena_str(a, r, cql_read_string(r));
    out->udt_name = cql_arena_str(a, r, cql_read_string(r));
    return read_params(r, a, out, cql_read_short(r), true, depth);
  case CQL_TYPE_TUPLE:
    return read_params(r, a, out, cql_read_short(r), false, depth);
  default:
    if (out->id >= CQL_TYPE_ASCII && out->id <= CQL_TYPE_DURATION && out->id != 0x000A) return true;
    cql_reader_fail(r); /* unknown id: its option length is unknown, so nothing after it can be read */
    return false;
  }
}

bool cql_datatype_read(cql_reader *r, cql_arena *a, cql_datatype *out) { return read_type(r, a, out, 0); }

void cql_datatype_write(cql_writer *w, const cql_datatype *t) {
  cql_write_short(w, t->id);
  switch (t->id) {
  case CQL_TYPE_CUSTOM:
    cql_write_string(w, t->custom);
    return;
  case CQL_TYPE_LIST:
  case CQL_TYPE_SET:
  case CQL_TYPE_MAP:
    if (t->n_params != (t->id == CQL_TYPE_MAP ? 2 : 1)) {
      w->err = true;
      return;
    }
    break;
  case CQL_TYPE_UDT:
    cql_write_string(w, t->udt_keyspace);
    cql_write_string(w, t->udt_name);
    cql_write_short(w, t->n_params);
    break;
  case CQL_TYPE_TUPLE:
    cql_write_short(w, t->n_params);
    break;
  default:
    return;
  }
  for (size_t i = 0; i < t->n_params; i++) {
    if (t->id == CQL_TYPE_UDT) cql_write_string(w, t->field_names[i]);
    cql_datatype_write(w, &t->params[i]);
  }
}

static bool str_equal(cql_str a, cql_str b) {
  return a.len == b.len && (a.len == 0 || !memcmp(a.ptr, b.ptr, a.len));
}

bool cql_datatype_equal(const cql_datatype *a, const cql_datatype *b) {
  if (a->id != b->id || a->n_params != b->n_params) return false;
  if (a->id == CQL_TYPE_CUSTOM && !str_equal(a->custom, b->custom)) return false;
  if (a->id == CQL_TYPE_UDT &&
      (!str_equal(a->udt_keyspace, b->udt_keyspace) || !str_equal(a->udt_name, b->udt_name)))
    return false;
  for (size_t i = 0; i < a->n_params; i++) {
    if (a->id == CQL_TYPE_UDT && !str_equal(a->field_names[i], b->field_names[i])) return false;
    if (!cql_datatype_equal(&a->params[i], &b->params[i])) return false;
  }
  return true;
}

/* ---- value getters ---- */

static int check_len(cql_value v, int32_t want) {
  if (v.len < 0) return CQL_RC_NULL;
  return v.len == want ? CQL_OK : CQL_RC_MALFORMED;
}

int cql_value_get_int(cql_value v, int32_t *out) {
  int rc = check_len(v, 4);
  if (rc == CQL_OK) *out = (int32_t)cql_load_u32(v.ptr);
  return rc;
}

int cql_value_get_bigint(cql_value v, int64_t *out) {
  int rc = check_len(v, 8);
  if (rc == CQL_OK) *out = (int64_t)cql_load_u64(v.ptr);
  return rc;
}

int cql_value_get_bool(cql_value v, bool *out) {
  int rc = check_len(v, 1);
  if (rc == CQL_OK) *out = v.ptr[0] != 0;
  return rc;
}

int cql_value_get_text(cql_value v, cql_str *out) {
  if (v.len < 0) return CQL_RC_NULL;
  *out = (cql_str){v.len ? (const char *)v.ptr : "", (size_t)v.len};
  return CQL_OK;
}

int cql_value_get_uuid(cql_value v, uint8_t out[16]) {
  int rc = check_len(v, 16);
  if (rc == CQL_OK) memcpy(out, v.ptr, 16);
  return rc;
}

int cql_value_get_blob(cql_value v, const uint8_t **p, size_t *len) {
  if (v.len < 0) return CQL_RC_NULL;
  *p = v.ptr;
  *len = (size_t)v.len;
  return CQL_OK;
}

/* ---- value encoders ---- */

void cql_encode_int(cql_writer *w, int32_t x) { cql_write_int(w, x); }
void cql_encode_bigint(cql_writer *w, int64_t x) { cql_write_long(w, x); }
void cql_encode_bool(cql_writer *w, bool x) { cql_write_byte(w, x ? 1 : 0); }

/* ---- bound-value list ---- */

void cql_values_init(cql_values *v) {
  memset(v, 0, sizeof(*v));
  cql_arena_init(&v->arena);
}

void cql_values_free(cql_values *v) {
  free(v->items);
  cql_arena_free(&v->arena);
  memset(v, 0, sizeof(*v));
}

static void values_push(cql_values *v, cql_value value) {
  if (v->err) return;
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 8;
    cql_value *items = cap <= SIZE_MAX / sizeof(*items) ? realloc(v->items, cap * sizeof(*items)) : NULL;
    if (!items) {
      v->err = true;
      return;
    }
    v->items = items;
    v->cap = cap;
  }
  v->items[v->n++] = value;
}

/* Copies len bytes into the arena and pushes them as a value. */
static void values_push_copy(cql_values *v, const void *p, size_t len) {
  if (v->err) return;
  const uint8_t *copy = len > INT32_MAX ? NULL : cql_arena_memdup(&v->arena, p, len);
  if (!copy) {
    v->err = true;
    return;
  }
  values_push(v, cql_value_of(copy, (int32_t)len));
}

void cql_values_add_null(cql_values *v) { values_push(v, cql_value_null()); }
void cql_values_add_unset(cql_values *v) { values_push(v, cql_value_unset()); }

void cql_values_add_int(cql_values *v, int32_t x) {
  uint8_t b[4];
  cql_store_u32(b, (uint32_t)x);
  values_push_copy(v, b, sizeof(b));
}

void cql_values_add_bigint(cql_values *v, int64_t x) {
  uint8_t b[8];
  cql_store_u64(b, (uint64_t)x);
  values_push_copy(v, b, sizeof(b));
}

void cql_values_add_timestamp(cql_values *v, int64_t unix_ms) { cql_values_add_bigint(v, unix_ms); }

void cql_values_add_bool(cql_values *v, bool x) {
  uint8_t b = x ? 1 : 0;
  values_push_copy(v, &b, 1);
}

void cql_values_add_text(cql_values *v, const char *s, size_t len) { values_push_copy(v, s, len); }
void cql_values_add_uuid(cql_values *v, const uint8_t uuid[16]) { values_push_copy(v, uuid, 16); }
void cql_values_add_blob(cql_values *v, const void *p, size_t len) { values_push_copy(v, p, len); }

void cql_values_add_raw(cql_values *v, cql_value value) {
  if (value.len < 0)
    values_push(v, value.len == CQL_LEN_UNSET ? cql_value_unset() : cql_value_null());
  else
    values_push_copy(v, value.ptr, (size_t)value.len);
}

/* ---- timeuuid ---- */

/* RFC 4122 layout: time_low, time_mid, time_hi|version 1, then 8 bytes clock seq + node. */
static void timeuuid_raw(uint64_t ts, const uint8_t lsb[8], uint8_t out[16]) {
  cql_store_u32(out, (uint32_t)ts);
  cql_store_u16(out + 4, (uint16_t)(ts >> 32));
  cql_store_u16(out + 6, (uint16_t)(((ts >> 48) & 0x0FFF) | 0x1000));
  memcpy(out + 8, lsb, 8);
}

void cql_timeuuid_make(uint64_t ts_100ns, uint16_t clock_seq, const uint8_t node[6], uint8_t out[16]) {
  uint8_t lsb[8];
  lsb[0] = (uint8_t)(((clock_seq >> 8) & 0x3F) | 0x80);
  lsb[1] = (uint8_t)clock_seq;
  memcpy(lsb + 2, node, 6);
  timeuuid_raw(ts_100ns, lsb, out);
}

int64_t cql_timeuuid_unix_ms(const uint8_t uuid[16]) {
  uint64_t ts = (uint64_t)(cql_load_u16(uuid + 6) & 0x0FFF) << 48 | (uint64_t)cql_load_u16(uuid + 4) << 32 |
                cql_load_u32(uuid);
  int64_t ticks = (int64_t)ts - (int64_t)CQL_UUID_EPOCH_OFFSET;
  return ticks >= 0 ? ticks / 10000 : -((-ticks + 9999) / 10000);
}

/* Wraps (defined, unsigned) for absurd inputs instead of overflowing. */
static uint64_t ms_to_ticks(int64_t unix_ms) { return (uint64_t)unix_ms * 10000u + CQL_UUID_EPOCH_OFFSET; }

/* Cassandra's UUIDGen.minTimeUUID/maxTimeUUID use these clock-seq-and-node bytes: the
 * extremes of its (signed byte-wise) ordering of the low 8 bytes. */
void cql_timeuuid_min_for_ms(int64_t unix_ms, uint8_t out[16]) {
  static const uint8_t lsb[8] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
  timeuuid_raw(ms_to_ticks(unix_ms), lsb, out);
}

void cql_timeuuid_max_for_ms(int64_t unix_ms, uint8_t out[16]) {
  static const uint8_t lsb[8] = {0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f};
  timeuuid_raw(ms_to_ticks(unix_ms + 1) - 1, lsb, out);
}

void cql_timeuuid_gen_init(cql_timeuuid_gen *g) {
  uuid_t rnd;
  uuid_generate_random(rnd); /* libuuid: getrandom()-backed */
  atomic_init(&g->last_ts, 0);
  g->clock_seq = (uint16_t)(cql_load_u16(rnd) & 0x3FFF);
  memcpy(g->node, rnd + 8, 6);
  g->node[0] |= 0x01; /* multicast bit: marks a random (non-MAC) node id */
}

void cql_timeuuid_gen_next(cql_timeuuid_gen *g, uint8_t out[16]) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  uint64_t ts = (uint64_t)now.tv_sec * 10000000u + (uint64_t)now.tv_nsec / 100u + CQL_UUID_EPOCH_OFFSET;
  uint64_t last = atomic_load(&g->last_ts);
  uint64_t next;
  do {
    next = ts > last ? ts : last + 1; /* strictly increasing, even within one tick */
  } while (!atomic_compare_exchange_weak(&g->last_ts, &last, next));
  cql_timeuuid_make(next, g->clock_seq, g->node, out);
}
