/* cqlmock primes: the builder API, CQL type names and text-to-value encoding (see mock.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uuid/uuid.h>

#include "mock.h"

static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, MOCK_ERR_SIZE, fmt, ap);
  va_end(ap);
  return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Type names                                                                                  */

static const struct {
  const char *name;
  uint16_t id;
} simple_types[] = {
    {"ascii", CQL_TYPE_ASCII},         {"bigint", CQL_TYPE_BIGINT},   {"blob", CQL_TYPE_BLOB},
    {"boolean", CQL_TYPE_BOOLEAN},     {"counter", CQL_TYPE_COUNTER}, {"decimal", CQL_TYPE_DECIMAL},
    {"double", CQL_TYPE_DOUBLE},       {"float", CQL_TYPE_FLOAT},     {"int", CQL_TYPE_INT},
    {"timestamp", CQL_TYPE_TIMESTAMP}, {"uuid", CQL_TYPE_UUID},       {"varchar", CQL_TYPE_VARCHAR},
    {"text", CQL_TYPE_VARCHAR},        {"varint", CQL_TYPE_VARINT},   {"timeuuid", CQL_TYPE_TIMEUUID},
    {"inet", CQL_TYPE_INET},           {"date", CQL_TYPE_DATE},       {"time", CQL_TYPE_TIME},
    {"smallint", CQL_TYPE_SMALLINT},   {"tinyint", CQL_TYPE_TINYINT},
};

typedef struct type_parser {
  const char *s;
  cql_arena *a;
  char *err;
} type_parser;

static void skip_spaces(type_parser *p) {
  while (isspace((unsigned char)*p->s)) p->s++;
}

static bool expect(type_parser *p, char c) {
  skip_spaces(p);
  if (*p->s != c) return false;
  p->s++;
  return true;
}

static int parse_type(type_parser *p, cql_datatype *out, int depth) {
  if (depth > CQL_TYPE_MAX_DEPTH) return fail(p->err, "type nested too deeply");
  skip_spaces(p);
  char name[32];
  size_t n = 0;
  while ((isalnum((unsigned char)*p->s) || *p->s == '_') && n < sizeof name - 1)
    name[n++] = (char)tolower((unsigned char)*p->s++);
  name[n] = '\0';
  *out = (cql_datatype){0};
  for (size_t i = 0; i < sizeof simple_types / sizeof simple_types[0]; i++)
    if (strcmp(name, simple_types[i].name) == 0) {
      out->id = simple_types[i].id;
      return 0;
    }
  if (strcmp(name, "frozen") == 0) {
    if (!expect(p, '<') || parse_type(p, out, depth + 1) < 0 || !expect(p, '>'))
      return fail(p->err, "bad frozen<> type");
    return 0;
  }
  uint16_t id;
  size_t want; /* parameters; 0 = one or more (tuple) */
  if (strcmp(name, "list") == 0)
    id = CQL_TYPE_LIST, want = 1;
  else if (strcmp(name, "set") == 0)
    id = CQL_TYPE_SET, want = 1;
  else if (strcmp(name, "map") == 0)
    id = CQL_TYPE_MAP, want = 2;
  else if (strcmp(name, "tuple") == 0)
    id = CQL_TYPE_TUPLE, want = 0;
  else
    return fail(p->err, "unknown or unsupported CQL type '%s'", name);
  cql_datatype params[16];
  size_t count = 0;
  if (!expect(p, '<')) return fail(p->err, "%s needs <...>", name);
  do {
    if (count == sizeof params / sizeof params[0]) return fail(p->err, "too many type parameters");
    if (parse_type(p, &params[count++], depth + 1) < 0) return -1;
  } while (expect(p, ','));
  if (!expect(p, '>') || (want != 0 && count != want)) return fail(p->err, "bad parameters for %s<>", name);
  cql_datatype *copy = cql_arena_calloc(p->a, count, sizeof *copy);
  if (!copy) return fail(p->err, "out of memory");
  memcpy(copy, params, count * sizeof *copy);
  out->id = id;
  out->n_params = (uint16_t)count;
  out->params = copy;
  return 0;
}

int mock_type_parse(cql_arena *a, const char *text, cql_datatype *out, char *err) {
  if (!text) return fail(err, "missing type");
  type_parser p = {text, a, err};
  if (parse_type(&p, out, 0) < 0) return -1;
  skip_spaces(&p);
  if (*p.s) return fail(err, "trailing characters in type '%s'", text);
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Values                                                                                      */

static int parse_int64(const char *text, int64_t lo, int64_t hi, int64_t *out, char *err) {
  errno = 0;
  char *end;
  long long v = strtoll(text, &end, 10);
  if (errno || end == text || *end || v < lo || v > hi) return fail(err, "bad integer '%s'", text);
  *out = v;
  return 0;
}

static int parse_hex(cql_writer *w, const char *text, char *err) {
  if (strncmp(text, "0x", 2) != 0 && strncmp(text, "0X", 2) != 0) return fail(err, "blob must start with 0x");
  const char *h = text + 2;
  size_t n = strlen(h);
  if (n % 2) return fail(err, "odd number of hex digits in '%s'", text);
  for (size_t i = 0; i < n; i += 2) {
    unsigned byte;
    if (!isxdigit((unsigned char)h[i]) || !isxdigit((unsigned char)h[i + 1]) ||
        sscanf(h + i, "%2x", &byte) != 1)
      return fail(err, "bad hex in '%s'", text);
    cql_write_byte(w, (uint8_t)byte);
  }
  return 0;
}

/* "YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|+HH[:]MM|-HH[:]MM]" -> ms since the epoch. */
static int parse_datetime(const char *text, bool date_only, int64_t *ms_out, char *err) {
  struct tm tm = {0};
  int used = 0;
  if (sscanf(text, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &used) != 3)
    return fail(err, "bad date '%s'", text);
  const char *s = text + used;
  long ms = 0;
  if (!date_only && (*s == 'T' || *s == ' ')) {
    used = 0;
    if (sscanf(s + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &used) != 2)
      return fail(err, "bad time in '%s'", text);
    s += 1 + used;
    if (*s == ':') {
      used = 0;
      if (sscanf(s + 1, "%2d%n", &tm.tm_sec, &used) != 1) return fail(err, "bad seconds in '%s'", text);
      s += 1 + used;
    }
    if (*s == '.') {
      long scale = 100;
      for (s++; isdigit((unsigned char)*s); s++, scale /= 10) ms += (*s - '0') * scale;
    }
  }
  long offset_min = 0;
  if (*s == 'Z') {
    s++;
  } else if (!date_only && (*s == '+' || *s == '-')) {
    int hh, mm;
    int sign = *s == '-' ? -1 : 1;
    if (sscanf(s + 1, "%2d%n", &hh, &used) != 1) return fail(err, "bad offset in '%s'", text);
    s += 1 + used;
    if (*s == ':') s++;
    if (sscanf(s, "%2d%n", &mm, &used) != 1) return fail(err, "bad offset in '%s'", text);
    s += used;
    offset_min = sign * (hh * 60L + mm);
  }
  if (*s) return fail(err, "trailing characters in '%s'", text);
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60)
    return fail(err, "date out of range '%s'", text);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t secs = timegm(&tm);
  *ms_out = ((int64_t)secs - offset_min * 60) * 1000 + ms;
  return 0;
}

/* Minimal big-endian two's complement of v (varint). */
static void write_varint(cql_writer *w, int64_t v) {
  uint8_t b[8];
  cql_store_u64(b, (uint64_t)v);
  size_t i = 0;
  while (i < 7 && ((b[i] == 0x00 && !(b[i + 1] & 0x80)) || (b[i] == 0xff && (b[i + 1] & 0x80)))) i++;
  cql_write_raw(w, b + i, 8 - i);
}

/* Text of a JSON scalar element; *owned is set when the result must be freed. */
static const char *json_text(json_t *v, char buf[64], char **owned) {
  *owned = NULL;
  if (json_is_string(v)) return json_string_value(v);
  if (json_is_integer(v)) {
    snprintf(buf, 64, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return buf;
  }
  if (json_is_real(v)) {
    snprintf(buf, 64, "%.17g", json_real_value(v));
    return buf;
  }
  if (json_is_boolean(v)) return json_is_true(v) ? "true" : "false";
  if (json_is_null(v)) return NULL;
  *owned = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  return *owned;
}

/* Writes one element of a collection or tuple as [bytes]. */
static int encode_element(cql_writer *w, const cql_datatype *t, json_t *v, bool null_ok, char *err) {
  char buf[64], *owned;
  const char *text = json_text(v, buf, &owned);
  if (!text) {
    if (!null_ok) return fail(err, "null inside a collection");
    cql_write_int(w, -1);
    return 0;
  }
  size_t pos = w->len;
  cql_write_int(w, 0);
  int rc = mock_value_encode(w, t, text, err);
  free(owned);
  if (rc < 0) return -1;
  cql_writer_patch_int(w, pos, (int32_t)(w->len - pos - 4));
  return 0;
}

static int encode_collection(cql_writer *w, const cql_datatype *t, const char *text, char *err) {
  json_error_t jerr;
  json_t *doc = json_loads(text, JSON_DECODE_ANY, &jerr);
  if (!doc) return fail(err, "collection value is not JSON: %s", jerr.text);
  int rc = 0;
  if (t->id == CQL_TYPE_MAP) {
    if (!json_is_object(doc)) {
      rc = fail(err, "map value must be a JSON object");
    } else {
      cql_write_int(w, (int32_t)json_object_size(doc));
      const char *key;
      json_t *val;
      json_object_foreach(doc, key, val) {
        json_t *k = json_string(key);
        rc = k ? encode_element(w, &t->params[0], k, false, err) : fail(err, "out of memory");
        json_decref(k);
        if (rc == 0) rc = encode_element(w, &t->params[1], val, false, err);
        if (rc < 0) break;
      }
    }
  } else if (!json_is_array(doc)) {
    rc = fail(err, "list/set/tuple value must be a JSON array");
  } else if (t->id == CQL_TYPE_TUPLE) {
    if (json_array_size(doc) != t->n_params) rc = fail(err, "tuple needs %u elements", t->n_params);
    for (size_t i = 0; rc == 0 && i < t->n_params; i++)
      rc = encode_element(w, &t->params[i], json_array_get(doc, i), true, err);
  } else {
    cql_write_int(w, (int32_t)json_array_size(doc));
    size_t i;
    json_t *val;
    json_array_foreach(doc, i, val) {
      if ((rc = encode_element(w, &t->params[0], val, false, err)) < 0) break;
    }
  }
  json_decref(doc);
  return rc;
}

int mock_value_encode(cql_writer *w, const cql_datatype *t, const char *text, char *err) {
  int64_t v;
  switch (t->id) {
  case CQL_TYPE_ASCII:
  case CQL_TYPE_VARCHAR:
    cql_write_raw(w, text, strlen(text));
    return 0;
  case CQL_TYPE_BLOB:
    return parse_hex(w, text, err);
  case CQL_TYPE_BOOLEAN:
    if (strcasecmp(text, "true") == 0)
      cql_write_byte(w, 1);
    else if (strcasecmp(text, "false") == 0)
      cql_write_byte(w, 0);
    else
      return fail(err, "bad boolean '%s'", text);
    return 0;
  case CQL_TYPE_TINYINT:
    if (parse_int64(text, INT8_MIN, INT8_MAX, &v, err) < 0) return -1;
    cql_write_byte(w, (uint8_t)v);
    return 0;
  case CQL_TYPE_SMALLINT:
    if (parse_int64(text, INT16_MIN, INT16_MAX, &v, err) < 0) return -1;
    cql_write_short(w, (uint16_t)v);
    return 0;
  case CQL_TYPE_INT:
    if (parse_int64(text, INT32_MIN, INT32_MAX, &v, err) < 0) return -1;
    cql_write_int(w, (int32_t)v);
    return 0;
  case CQL_TYPE_BIGINT:
  case CQL_TYPE_COUNTER:
  case CQL_TYPE_TIME:
    if (parse_int64(text, INT64_MIN, INT64_MAX, &v, err) < 0) return -1;
    cql_write_long(w, v);
    return 0;
  case CQL_TYPE_VARINT:
    if (parse_int64(text, INT64_MIN, INT64_MAX, &v, err) < 0) return -1;
    write_varint(w, v);
    return 0;
  case CQL_TYPE_DECIMAL: {
    /* "123.45" -> scale 2, unscaled 12345 */
    char digits[40];
    size_t n = 0;
    int32_t scale = -1;
    for (const char *s = text; *s && n < sizeof digits - 1; s++) {
      if (*s == '.' && scale < 0)
        scale = 0;
      else {
        digits[n++] = *s;
        if (scale >= 0) scale++;
      }
    }
    digits[n] = '\0';
    if (parse_int64(digits, INT64_MIN, INT64_MAX, &v, err) < 0) return fail(err, "bad decimal '%s'", text);
    cql_write_int(w, scale < 0 ? 0 : scale);
    write_varint(w, v);
    return 0;
  }
  case CQL_TYPE_DOUBLE:
  case CQL_TYPE_FLOAT: {
    char *end;
    errno = 0;
    double d = strtod(text, &end);
    if (errno || end == text || *end) return fail(err, "bad number '%s'", text);
    if (t->id == CQL_TYPE_DOUBLE) {
      uint64_t bits;
      memcpy(&bits, &d, sizeof bits);
      cql_write_long(w, (int64_t)bits);
    } else {
      float f = (float)d;
      uint32_t bits;
      memcpy(&bits, &f, sizeof bits);
      cql_write_int(w, (int32_t)bits);
    }
    return 0;
  }
  case CQL_TYPE_TIMESTAMP: {
    char not_a_number[MOCK_ERR_SIZE]; /* only the date parser's error is reported */
    if (parse_int64(text, INT64_MIN, INT64_MAX, &v, not_a_number) < 0 &&
        parse_datetime(text, false, &v, err) < 0)
      return -1;
    cql_write_long(w, v);
    return 0;
  }
  case CQL_TYPE_DATE:
    if (parse_datetime(text, true, &v, err) < 0) return -1;
    cql_write_int(w, (int32_t)(uint32_t)((v / 86400000) + (INT64_C(1) << 31)));
    return 0;
  case CQL_TYPE_UUID:
  case CQL_TYPE_TIMEUUID: {
    uuid_t u;
    if (uuid_parse(text, u) != 0) return fail(err, "bad uuid '%s'", text);
    if (t->id == CQL_TYPE_TIMEUUID && (u[6] >> 4) != 1)
      return fail(err, "'%s' is not a version 1 uuid", text);
    cql_write_raw(w, u, 16);
    return 0;
  }
  case CQL_TYPE_INET: {
    uint8_t a[16];
    if (inet_pton(AF_INET, text, a) == 1)
      cql_write_raw(w, a, 4);
    else if (inet_pton(AF_INET6, text, a) == 1)
      cql_write_raw(w, a, 16);
    else
      return fail(err, "bad inet '%s'", text);
    return 0;
  }
  case CQL_TYPE_LIST:
  case CQL_TYPE_SET:
  case CQL_TYPE_MAP:
  case CQL_TYPE_TUPLE:
    return encode_collection(w, t, text, err);
  default:
    return fail(err, "values of type %s are not supported", cql_type_name(t->id));
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Rows                                                                                        */

int mock_rows_set_columns(mock_rows *r, cql_arena *a, const char *keyspace, const char *table, size_t n,
                          const char *const names[], const char *const types[], char *err) {
  mock_rows_free(r);
  cql_column_spec *cols = n ? cql_arena_calloc(a, n, sizeof *cols) : NULL;
  if (n && !cols) return fail(err, "out of memory");
  const char *ks = cql_arena_strndup(a, keyspace ? keyspace : "ks", strlen(keyspace ? keyspace : "ks"));
  const char *tb = cql_arena_strndup(a, table ? table : "t", strlen(table ? table : "t"));
  if (!ks || !tb) return fail(err, "out of memory");
  for (size_t i = 0; i < n; i++) {
    if (!names[i]) return fail(err, "column %zu has no name", i);
    const char *name = cql_arena_strndup(a, names[i], strlen(names[i]));
    if (!name) return fail(err, "out of memory");
    cols[i].keyspace = cql_str_of(ks);
    cols[i].table = cql_str_of(tb);
    cols[i].name = cql_str_of(name);
    if (mock_type_parse(a, types[i], &cols[i].type, err) < 0) return -1;
  }
  r->cols = cols;
  r->n_cols = n;
  return 0;
}

int mock_rows_add_row(mock_rows *r, cql_arena *a, const char *const cells[], char *err) {
  if (r->n_rows == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 16;
    cql_value *grown = realloc(r->cells, cap * (r->n_cols ? r->n_cols : 1) * sizeof *grown);
    if (!grown) return fail(err, "out of memory");
    r->cells = grown;
    r->cap = cap;
  }
  cql_value *row = r->cells + r->n_rows * r->n_cols;
  cql_writer w;
  cql_writer_init(&w);
  int rc = 0;
  for (size_t c = 0; c < r->n_cols && rc == 0; c++) {
    if (!cells[c]) {
      row[c] = cql_value_null();
      continue;
    }
    cql_writer_reset(&w);
    if (mock_value_encode(&w, &r->cols[c].type, cells[c], err) < 0) {
      rc = -1;
    } else if (!cql_writer_ok(&w) || w.len > INT32_MAX) {
      rc = fail(err, "value too large");
    } else {
      const uint8_t *copy = w.len ? cql_arena_memdup(a, w.data, w.len) : (const uint8_t *)"";
      if (!copy) rc = fail(err, "out of memory");
      row[c] = cql_value_of(copy, (int32_t)w.len);
    }
  }
  cql_writer_free(&w);
  if (rc == 0) r->n_rows++;
  return rc;
}

void mock_rows_free(mock_rows *r) {
  free(r->cells);
  *r = (mock_rows){0};
}

/* ------------------------------------------------------------------------------------------ */
/* Prime builder                                                                               */

static bool failed(const cqlmock_prime *p) { return p->failure[0] != '\0'; }

static const char *prime_strdup(cqlmock_prime *p, const char *s) {
  if (!s) return NULL;
  const char *copy = cql_arena_strndup(&p->arena, s, strlen(s));
  if (!copy && !failed(p)) fail(p->failure, "out of memory");
  return copy;
}

cqlmock_prime *cqlmock_prime_new(cqlmock_match match, const char *query) {
  cqlmock_prime *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  cql_arena_init(&p->arena);
  p->match = match;
  p->on = CQLMOCK_ON_QUERY | CQLMOCK_ON_EXECUTE;
  p->node = -1;
  p->remaining = -1;
  p->action = MOCK_ACT_VOID;
  if (match != CQLMOCK_MATCH_ANY && !query) fail(p->failure, "a prime needs a query text");
  p->query = prime_strdup(p, query);
  return p;
}

void cqlmock_prime_free(cqlmock_prime *p) {
  if (!p) return;
  mock_rows_free(&p->rows);
  mock_rows_free(&p->params);
  cql_arena_free(&p->arena);
  free(p);
}

void cqlmock_prime_on(cqlmock_prime *p, unsigned request_mask) { p->on = request_mask; }
void cqlmock_prime_node(cqlmock_prime *p, int node) { p->node = node < 0 ? -1 : node; }
void cqlmock_prime_times(cqlmock_prime *p, int times) { p->remaining = times <= 0 ? -1 : times; }
void cqlmock_prime_delay(cqlmock_prime *p, unsigned delay_ms) { p->delay_ms = delay_ms; }

void cqlmock_prime_columns(cqlmock_prime *p, const char *keyspace, const char *table, size_t count,
                           const char *const names[], const char *const types[]) {
  p->action = MOCK_ACT_ROWS;
  p->has_rows = true;
  if (failed(p)) return;
  mock_rows_set_columns(&p->rows, &p->arena, keyspace, table, count, names, types, p->failure);
}

void cqlmock_prime_row(cqlmock_prime *p, const char *const cells[]) {
  if (failed(p)) return;
  if (!p->has_rows) {
    fail(p->failure, "cqlmock_prime_row before cqlmock_prime_columns");
    return;
  }
  mock_rows_add_row(&p->rows, &p->arena, cells, p->failure);
}

void cqlmock_prime_params(cqlmock_prime *p, size_t count, const char *const names[],
                          const char *const types[], size_t pk_count, const uint16_t pk_indexes[]) {
  if (failed(p)) return;
  p->has_params = true;
  if (mock_rows_set_columns(&p->params, &p->arena, NULL, NULL, count, names, types, p->failure) < 0) return;
  for (size_t i = 0; i < pk_count; i++)
    if (pk_indexes[i] >= count) {
      fail(p->failure, "pk index %u out of range", pk_indexes[i]);
      return;
    }
  p->pk_indexes = pk_count ? cql_arena_calloc(&p->arena, pk_count, sizeof *p->pk_indexes) : NULL;
  if (pk_count && !p->pk_indexes) {
    fail(p->failure, "out of memory");
    return;
  }
  if (pk_count) memcpy(p->pk_indexes, pk_indexes, pk_count * sizeof *pk_indexes);
  p->pk_count = pk_count;
}

void cqlmock_prime_when_value(cqlmock_prime *p, size_t index, const char *type, const char *cell) {
  if (failed(p)) return;
  cql_datatype t;
  cql_writer w;
  cql_writer_init(&w);
  if (index > UINT16_MAX) {
    fail(p->failure, "bound value index %zu out of range", index);
  } else if (!cell) {
    p->has_when = true;
    p->when_index = (uint16_t)index;
    p->when_value = cql_value_null();
  } else if (mock_type_parse(&p->arena, type, &t, p->failure) == 0 &&
             mock_value_encode(&w, &t, cell, p->failure) == 0) {
    const uint8_t *copy = w.len ? cql_arena_memdup(&p->arena, w.data, w.len) : (const uint8_t *)"";
    if (!cql_writer_ok(&w) || w.len > INT32_MAX || !copy) {
      fail(p->failure, "out of memory");
    } else {
      p->has_when = true;
      p->when_index = (uint16_t)index;
      p->when_value = cql_value_of(copy, (int32_t)w.len);
    }
  }
  cql_writer_free(&w);
}

void cqlmock_prime_void(cqlmock_prime *p) { p->action = MOCK_ACT_VOID; }

void cqlmock_prime_set_keyspace(cqlmock_prime *p, const char *keyspace) {
  p->action = MOCK_ACT_SET_KEYSPACE;
  p->keyspace = prime_strdup(p, keyspace ? keyspace : "");
}

void cqlmock_prime_schema_change(cqlmock_prime *p, const char *change, const char *target,
                                 const char *keyspace, const char *name) {
  p->action = MOCK_ACT_SCHEMA_CHANGE;
  p->schema = (cql_schema_change){
      .change_type = cql_str_of(prime_strdup(p, change)),
      .target = cql_str_of(prime_strdup(p, target)),
      .keyspace = cql_str_of(prime_strdup(p, keyspace ? keyspace : "")),
      .name = cql_str_of(prime_strdup(p, name ? name : "")),
  };
  if (!change || !target) fail(p->failure, "schema change needs change and target");
}

static void set_error(cqlmock_prime *p, int32_t code, const char *message) {
  p->action = MOCK_ACT_ERROR;
  p->error = (cql_error){
      .code = code, .message = cql_str_of(prime_strdup(p, message ? message : cql_error_code_name(code)))};
}

void cqlmock_prime_error(cqlmock_prime *p, int32_t code, const char *message) {
  static const int32_t plain[] = {CQL_ERROR_SERVER,     CQL_ERROR_PROTOCOL,         CQL_ERROR_BAD_CREDENTIALS,
                                  CQL_ERROR_OVERLOADED, CQL_ERROR_IS_BOOTSTRAPPING, CQL_ERROR_TRUNCATE,
                                  CQL_ERROR_SYNTAX,     CQL_ERROR_UNAUTHORIZED,     CQL_ERROR_INVALID,
                                  CQL_ERROR_CONFIG};
  for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
    if (plain[i] == code) {
      set_error(p, code, message);
      return;
    }
  fail(p->failure, "error code 0x%04x carries fields: use its own cqlmock_prime_* call", (unsigned)code);
}

void cqlmock_prime_unavailable(cqlmock_prime *p, uint16_t consistency, int32_t required, int32_t alive) {
  set_error(p, CQL_ERROR_UNAVAILABLE, "Cannot achieve consistency level");
  p->error.consistency = consistency;
  p->error.required = required;
  p->error.alive = alive;
}

void cqlmock_prime_read_timeout(cqlmock_prime *p, uint16_t consistency, int32_t received, int32_t blockfor,
                                bool data_present) {
  set_error(p, CQL_ERROR_READ_TIMEOUT, "Operation timed out - received only some responses.");
  p->error.consistency = consistency;
  p->error.received = received;
  p->error.block_for = blockfor;
  p->error.data_present = data_present;
}

void cqlmock_prime_write_timeout(cqlmock_prime *p, uint16_t consistency, int32_t received, int32_t blockfor,
                                 const char *write_type) {
  set_error(p, CQL_ERROR_WRITE_TIMEOUT, "Operation timed out - received only some responses.");
  p->error.consistency = consistency;
  p->error.received = received;
  p->error.block_for = blockfor;
  p->error.write_type = cql_str_of(prime_strdup(p, write_type ? write_type : "SIMPLE"));
}

void cqlmock_prime_already_exists(cqlmock_prime *p, const char *keyspace, const char *table) {
  set_error(p, CQL_ERROR_ALREADY_EXISTS, "Cannot add already existing table or keyspace");
  p->error.keyspace = cql_str_of(prime_strdup(p, keyspace ? keyspace : ""));
  p->error.table = cql_str_of(prime_strdup(p, table ? table : ""));
}

void cqlmock_prime_unprepared(cqlmock_prime *p) { p->action = MOCK_ACT_UNPREPARED; }
void cqlmock_prime_close_connection(cqlmock_prime *p) { p->action = MOCK_ACT_CLOSE; }
void cqlmock_prime_no_answer(cqlmock_prime *p) { p->action = MOCK_ACT_NO_ANSWER; }

/* The prime's bound-value condition holds for params (NULL: a request without values). */
static bool when_holds(const cqlmock_prime *p, const cql_query_params *params) {
  if (!p->has_when) return true;
  if (!params || p->when_index >= params->n_values) return false;
  cql_value v = params->values[p->when_index];
  if (v.len < 0 || p->when_value.len < 0) return v.len == p->when_value.len;
  return v.len == p->when_value.len && memcmp(v.ptr, p->when_value.ptr, (size_t)v.len) == 0;
}

bool mock_prime_matches(const cqlmock_prime *p, unsigned on, int node, const char *query,
                        const cql_query_params *params) {
  if (!(p->on & on) || p->remaining == 0 || (p->node >= 0 && p->node != node) || !when_holds(p, params))
    return false;
  switch (p->match) {
  case CQLMOCK_MATCH_ANY:
    return true;
  case CQLMOCK_MATCH_PREFIX:
    return query && strncmp(query, p->query, strlen(p->query)) == 0;
  case CQLMOCK_MATCH_EXACT:
    return query && strcmp(query, p->query) == 0;
  }
  return false;
}
