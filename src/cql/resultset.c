/* cql/resultset: results handed to callbacks (public API of client.h): a decoded RESULT
 * message, row views into it, and the statement needed to fetch the next page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cql/client_internal.h"
#include "cql/types.h"

struct cql_row {
  const cql_resultset *rs;
  const cql_value *cells;
};

struct cql_resultset {
  cql_message msg;   /* owned RESULT */
  cql_statement *st; /* owned; for the next page (NULL if none) */
  cql_row *rows;     /* row views */
  size_t n_rows;
  char host[64];
};

/* Rows without columns hold no data and cost no bytes on the wire, so a broken server could
 * announce 2^31 of them in a tiny frame: they are dropped (found by fuzz_cql_result). With at
 * least one column, every row needs >= 4 body bytes, so the views stay bounded by the frame. */
cql_resultset *cql_resultset_new(cql_message *msg, cql_statement *st, const char *host) {
  cql_resultset *rs = calloc(1, sizeof(*rs));
  if (!rs) return NULL;
  const cql_rows_result *rows = &msg->u.result.rows;
  if (msg->u.result.kind == CQL_RESULT_ROWS && rows->row_count > 0 && rows->meta.column_count > 0) {
    rs->rows = calloc((size_t)rows->row_count, sizeof(cql_row));
    if (!rs->rows) {
      free(rs);
      return NULL;
    }
    rs->n_rows = (size_t)rows->row_count;
    for (size_t i = 0; i < rs->n_rows; i++)
      rs->rows[i] = (cql_row){rs, rows->cells + i * (size_t)rows->meta.column_count};
  }
  rs->msg = *msg;
  memset(msg, 0, sizeof(*msg));
  rs->st = st;
  snprintf(rs->host, sizeof(rs->host), "%s", host ? host : "");
  return rs;
}

void cql_resultset_free(cql_resultset *r) {
  if (!r) return;
  cql_message_free(&r->msg);
  cql_statement_free(r->st);
  free(r->rows);
  free(r);
}

static const cql_rows_result *rows_of(const cql_resultset *r) {
  return r->msg.u.result.kind == CQL_RESULT_ROWS ? &r->msg.u.result.rows : NULL;
}

int cql_resultset_get_kind(const cql_resultset *r) { return r->msg.u.result.kind; }

size_t cql_resultset_row_count(const cql_resultset *r) { return r->n_rows; }

size_t cql_resultset_column_count(const cql_resultset *r) {
  const cql_rows_result *rows = rows_of(r);
  return rows && rows->meta.columns ? (size_t)rows->meta.column_count : 0;
}

const char *cql_resultset_column_name(const cql_resultset *r, size_t col) {
  if (col >= cql_resultset_column_count(r)) return NULL;
  return rows_of(r)->meta.columns[col].name.ptr;
}

uint16_t cql_resultset_column_type(const cql_resultset *r, size_t col) {
  if (col >= cql_resultset_column_count(r)) return CQL_TYPE_CUSTOM;
  return rows_of(r)->meta.columns[col].type.id;
}

int cql_rows_column(const cql_rows_result *rows, const char *name) {
  if (!rows->meta.columns) return -1;
  for (int32_t i = 0; i < rows->meta.column_count; i++)
    if (cql_str_eq(rows->meta.columns[i].name, name)) return i;
  return -1;
}

const cql_value *cql_rows_cell(const cql_rows_result *rows, int32_t row, int col) {
  if (row < 0 || row >= rows->row_count || col < 0 || col >= rows->meta.column_count) return NULL;
  return &rows->cells[(size_t)row * (size_t)rows->meta.column_count + (size_t)col];
}

int cql_resultset_column_index(const cql_resultset *r, const char *name) {
  const cql_rows_result *rows = rows_of(r);
  return rows ? cql_rows_column(rows, name) : -1;
}

bool cql_resultset_has_more_pages(const cql_resultset *r) {
  const cql_rows_result *rows = rows_of(r);
  return rows && (rows->meta.flags & CQL_ROWS_FLAG_HAS_MORE_PAGES) && rows->meta.paging_state.len > 0;
}

const uint8_t *cql_resultset_paging_state(const cql_resultset *r, size_t *len) {
  *len = 0;
  if (!cql_resultset_has_more_pages(r)) return NULL;
  *len = (size_t)rows_of(r)->meta.paging_state.len;
  return rows_of(r)->meta.paging_state.ptr;
}

const char *cql_resultset_host(const cql_resultset *r) { return r->host; }

const cql_statement *cql_resultset_statement(const cql_resultset *r) { return r->st; }

const cql_row *cql_resultset_row(const cql_resultset *r, size_t index) {
  return index < cql_resultset_row_count(r) ? &r->rows[index] : NULL;
}

/* ---- typed getters ---- */

/* The cell at col after checking the column type against `ok` (NULL-terminated list, or NULL
 * for any type). */
static cql_get cell(const cql_row *row, size_t col, const uint16_t *ok, size_t n_ok, cql_value *out) {
  if (!row || col >= cql_resultset_column_count(row->rs)) return CQL_GET_BAD_INDEX;
  uint16_t type = cql_resultset_column_type(row->rs, col);
  bool match = n_ok == 0;
  for (size_t i = 0; i < n_ok; i++) match = match || ok[i] == type;
  if (!match) return CQL_GET_BAD_TYPE;
  *out = row->cells[col];
  return out->len < 0 ? CQL_GET_NULL : CQL_GET_OK;
}

static cql_get from_rc(int rc) {
  return rc == CQL_OK ? CQL_GET_OK : rc == CQL_RC_NULL ? CQL_GET_NULL : CQL_GET_MALFORMED;
}

bool cql_row_is_null(const cql_row *row, size_t col) {
  cql_value v;
  return cell(row, col, NULL, 0, &v) != CQL_GET_OK;
}

cql_get cql_row_get_int32(const cql_row *row, size_t col, int32_t *out) {
  static const uint16_t ok[] = {CQL_TYPE_INT};
  cql_value v;
  cql_get g = cell(row, col, ok, 1, &v);
  return g == CQL_GET_OK ? from_rc(cql_value_get_int(v, out)) : g;
}

cql_get cql_row_get_int64(const cql_row *row, size_t col, int64_t *out) {
  static const uint16_t ok[] = {CQL_TYPE_BIGINT, CQL_TYPE_COUNTER};
  cql_value v;
  cql_get g = cell(row, col, ok, 2, &v);
  return g == CQL_GET_OK ? from_rc(cql_value_get_bigint(v, out)) : g;
}

cql_get cql_row_get_bool(const cql_row *row, size_t col, bool *out) {
  static const uint16_t ok[] = {CQL_TYPE_BOOLEAN};
  cql_value v;
  cql_get g = cell(row, col, ok, 1, &v);
  return g == CQL_GET_OK ? from_rc(cql_value_get_bool(v, out)) : g;
}

cql_get cql_row_get_timestamp(const cql_row *row, size_t col, int64_t *ms) {
  static const uint16_t ok[] = {CQL_TYPE_TIMESTAMP};
  cql_value v;
  cql_get g = cell(row, col, ok, 1, &v);
  return g == CQL_GET_OK ? from_rc(cql_value_get_bigint(v, ms)) : g;
}

cql_get cql_row_get_uuid(const cql_row *row, size_t col, uint8_t out[16]) {
  static const uint16_t ok[] = {CQL_TYPE_UUID, CQL_TYPE_TIMEUUID};
  cql_value v;
  cql_get g = cell(row, col, ok, 2, &v);
  return g == CQL_GET_OK ? from_rc(cql_value_get_uuid(v, out)) : g;
}

cql_get cql_row_get_text(const cql_row *row, size_t col, const char **s, size_t *len) {
  static const uint16_t ok[] = {CQL_TYPE_VARCHAR, CQL_TYPE_ASCII};
  cql_value v;
  cql_get g = cell(row, col, ok, 2, &v);
  if (g != CQL_GET_OK) return g;
  *s = v.len ? (const char *)v.ptr : "";
  *len = (size_t)v.len;
  return CQL_GET_OK;
}

cql_get cql_row_get_bytes(const cql_row *row, size_t col, const uint8_t **p, size_t *len) {
  cql_value v;
  cql_get g = cell(row, col, NULL, 0, &v);
  if (g != CQL_GET_OK) return g;
  *p = v.ptr;
  *len = (size_t)v.len;
  return CQL_GET_OK;
}
