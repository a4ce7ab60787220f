/* cql/statement: building, binding and copying statements and batches (public API of
 * client.h). A statement owns everything through its arena; a copy is a fresh arena. */
#include <stdlib.h>
#include <string.h>

#include "cql/client_internal.h"

cql_statement *cql_statement_new(const char *query, size_t value_count, bool prepared) {
  if (!query || value_count > UINT16_MAX) return NULL;
  cql_statement *st = calloc(1, sizeof(*st));
  if (!st) return NULL;
  cql_arena_init(&st->arena);
  st->query_len = strlen(query);
  st->query = cql_arena_strndup(&st->arena, query, st->query_len);
  st->values = value_count ? cql_arena_calloc(&st->arena, value_count, sizeof(cql_value)) : NULL;
  if (!st->query || (value_count && !st->values)) {
    cql_statement_free(st);
    return NULL;
  }
  st->n_values = value_count;
  for (size_t i = 0; i < value_count; i++) st->values[i] = cql_value_unset();
  st->prepared = prepared;
  return st;
}

void cql_statement_free(cql_statement *st) {
  if (!st) return;
  cql_arena_free(&st->arena);
  free(st);
}

static bool bind_bytes(cql_statement *st, size_t i, const void *p, size_t len) {
  if (!st || i >= st->n_values || len > INT32_MAX) return false;
  const uint8_t *copy = cql_arena_memdup(&st->arena, p, len);
  if (!copy && len) return false;
  st->values[i] = cql_value_of(copy, (int32_t)len);
  return true;
}

bool cql_statement_bind_null(cql_statement *st, size_t i) {
  if (!st || i >= st->n_values) return false;
  st->values[i] = cql_value_null();
  return true;
}

bool cql_statement_bind_unset(cql_statement *st, size_t i) {
  if (!st || i >= st->n_values) return false;
  st->values[i] = cql_value_unset();
  return true;
}

bool cql_statement_bind_int32(cql_statement *st, size_t i, int32_t v) {
  uint8_t b[4];
  cql_store_u32(b, (uint32_t)v);
  return bind_bytes(st, i, b, sizeof(b));
}

bool cql_statement_bind_int64(cql_statement *st, size_t i, int64_t v) {
  uint8_t b[8];
  cql_store_u64(b, (uint64_t)v);
  return bind_bytes(st, i, b, sizeof(b));
}

bool cql_statement_bind_bool(cql_statement *st, size_t i, bool v) {
  uint8_t b = v ? 1 : 0;
  return bind_bytes(st, i, &b, 1);
}

bool cql_statement_bind_timestamp(cql_statement *st, size_t i, int64_t ms) {
  return cql_statement_bind_int64(st, i, ms);
}

bool cql_statement_bind_text(cql_statement *st, size_t i, const char *s, size_t len) {
  return bind_bytes(st, i, s, len);
}

bool cql_statement_bind_blob(cql_statement *st, size_t i, const void *p, size_t len) {
  return bind_bytes(st, i, p, len);
}

bool cql_statement_bind_uuid(cql_statement *st, size_t i, const uint8_t uuid[16]) {
  return bind_bytes(st, i, uuid, 16);
}

void cql_statement_set_consistency(cql_statement *st, cql_consistency cl) {
  st->consistency = (uint16_t)cl;
  st->has_consistency = true;
}

void cql_statement_set_serial_consistency(cql_statement *st, cql_consistency serial_cl) {
  st->serial_consistency = (uint16_t)serial_cl;
  st->has_serial_consistency = true;
}

void cql_statement_set_idempotent(cql_statement *st, bool idempotent) { st->idempotent = idempotent; }

void cql_statement_set_page_size(cql_statement *st, int32_t page_size) {
  st->page_size = page_size;
  st->has_page_size = true;
}

void cql_statement_set_timestamp(cql_statement *st, int64_t usec) {
  st->timestamp = usec;
  st->has_timestamp = true;
}

void cql_statement_set_timeout(cql_statement *st, unsigned timeout_ms) { st->timeout_ms = timeout_ms; }

bool cql_statement_set_paging_state(cql_statement *st, const void *state, size_t len) {
  if (!state || len == 0 || len > INT32_MAX) {
    st->paging_state = (cql_value){NULL, 0};
    return state == NULL;
  }
  const uint8_t *copy = cql_arena_memdup(&st->arena, state, len);
  if (!copy) return false;
  st->paging_state = cql_value_of(copy, (int32_t)len);
  return true;
}

cql_statement *cql_statement_copy(const cql_statement *src) {
  if (!src) return NULL;
  cql_statement *st = cql_statement_new(src->query, src->n_values, src->prepared);
  if (!st) return NULL;
  const char *q = st->query;
  cql_value *values = st->values;
  cql_arena arena = st->arena;
  *st = *src;
  st->query = q;
  st->values = values;
  st->arena = arena;
  st->paging_state = (cql_value){NULL, 0};
  for (size_t i = 0; i < src->n_values; i++) {
    cql_value v = src->values[i];
    if (v.len < 0) {
      st->values[i] = v;
    } else if (!bind_bytes(st, i, v.ptr, (size_t)v.len)) {
      cql_statement_free(st);
      return NULL;
    }
  }
  if (src->paging_state.ptr &&
      !cql_statement_set_paging_state(st, src->paging_state.ptr, (size_t)src->paging_state.len)) {
    cql_statement_free(st);
    return NULL;
  }
  return st;
}

/* ---- batches ---- */

cql_batch_stmt *cql_batch_stmt_new(cql_batch_type type) {
  cql_batch_stmt *b = calloc(1, sizeof(*b));
  if (b) b->type = (uint8_t)type;
  return b;
}

void cql_batch_stmt_free(cql_batch_stmt *b) {
  if (!b) return;
  for (size_t i = 0; i < b->n; i++) cql_statement_free(b->stmts[i]);
  free(b->stmts);
  free(b);
}

bool cql_batch_stmt_add(cql_batch_stmt *b, const cql_statement *st) {
  if (!b || !st || b->n >= UINT16_MAX) return false;
  cql_statement **grown = realloc(b->stmts, (b->n + 1) * sizeof(*grown));
  if (!grown) return false;
  b->stmts = grown;
  if (!(b->stmts[b->n] = cql_statement_copy(st))) return false;
  b->n++;
  return true;
}

void cql_batch_stmt_set_consistency(cql_batch_stmt *b, cql_consistency cl) {
  b->consistency = (uint16_t)cl;
  b->has_consistency = true;
}

void cql_batch_stmt_set_serial_consistency(cql_batch_stmt *b, cql_consistency serial_cl) {
  b->serial_consistency = (uint16_t)serial_cl;
  b->has_serial_consistency = true;
}

void cql_batch_stmt_set_idempotent(cql_batch_stmt *b, bool idempotent) { b->idempotent = idempotent; }

void cql_batch_stmt_set_timestamp(cql_batch_stmt *b, int64_t usec) {
  b->timestamp = usec;
  b->has_timestamp = true;
}

void cql_batch_stmt_set_timeout(cql_batch_stmt *b, unsigned timeout_ms) { b->timeout_ms = timeout_ms; }

cql_batch_stmt *cql_batch_stmt_copy(const cql_batch_stmt *src) {
  cql_batch_stmt *b = cql_batch_stmt_new((cql_batch_type)src->type);
  if (!b) return NULL;
  for (size_t i = 0; i < src->n; i++)
    if (!cql_batch_stmt_add(b, src->stmts[i])) {
      cql_batch_stmt_free(b);
      return NULL;
    }
  cql_statement **stmts = b->stmts;
  size_t n = b->n;
  *b = *src;
  b->stmts = stmts;
  b->n = n;
  return b;
}
