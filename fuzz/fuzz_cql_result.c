/* libFuzzer target for what the client does with a RESULT body, end to end: decode it (v4 or
 * v5), then, for Rows, build the public cql_resultset and read every cell through every typed
 * getter, the column lookups and the paging state; for Prepared, move it into the prepared cache
 * (keyspace of the bind markers, lookup by id) and compute the routing token from its pk_indexes
 * over a fixed set of bound values, as the query plan does. fuzz_cql_frame covers the framing and
 * every other message; this one covers the runtime code on top of the decoder. Must never
 * crash, read out of bounds or leak. First byte: bit 0 selects v5, the rest is the body. */
#include <stddef.h>
#include <stdint.h>

#include "cql/client_internal.h"
#include "cql/message.h"
#include "cql/murmur3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_cell(const cql_row *row, size_t col) {
  int32_t i32;
  int64_t i64;
  bool b;
  uint8_t uuid[16];
  const char *s;
  const uint8_t *p;
  size_t len;
  (void)cql_row_is_null(row, col);
  (void)cql_row_get_int32(row, col, &i32);
  (void)cql_row_get_int64(row, col, &i64);
  (void)cql_row_get_bool(row, col, &b);
  (void)cql_row_get_timestamp(row, col, &i64);
  (void)cql_row_get_uuid(row, col, uuid);
  if (cql_row_get_text(row, col, &s, &len) == CQL_GET_OK && len) (void)s[len - 1];
  if (cql_row_get_bytes(row, col, &p, &len) == CQL_GET_OK && len) (void)p[len - 1];
}

static void walk_rows(cql_message *msg) {
  cql_resultset *rs = cql_resultset_new(msg, NULL, "fuzz:9042");
  if (!rs) return;
  size_t cols = cql_resultset_column_count(rs);
  for (size_t c = 0; c <= cols; c++) { /* one past the end on purpose */
    const char *name = cql_resultset_column_name(rs, c);
    (void)cql_resultset_column_type(rs, c);
    if (name) (void)cql_resultset_column_index(rs, name);
  }
  const cql_row *row;
  for (size_t r = 0; (row = cql_resultset_row(rs, r)); r++)
    for (size_t c = 0; c <= cols; c++) read_cell(row, c);
  size_t len;
  const uint8_t *state = cql_resultset_paging_state(rs, &len);
  if (state && len) (void)state[len - 1];
  (void)cql_resultset_has_more_pages(rs);
  cql_resultset_free(rs);
}

static void on_wake(cql_prep_waiter *w, const cql_error *err) {
  (void)w;
  (void)err;
}

static void cache_prepared(cql_message *msg) {
  static const uint8_t k8[8] = {0, 0, 0, 0, 0, 0, 0, 42};
  const cql_value values[4] = {cql_value_of(k8, 8), cql_value_of((const uint8_t *)"text", 4),
                               cql_value_null(), cql_value_unset()};
  cql_prepared_cache cache;
  if (!cql_prepared_cache_init(&cache)) return;
  cql_prepared_entry *e = cql_prepared_insert(&cache, "SELECT fuzz", 11);
  cql_prep_waiter w = {NULL, on_wake};
  bool oom;
  if (e && cql_prepared_wait(e, NULL, &w, &oom)) cql_prepared_complete(&cache, e, NULL, msg, NULL);
  if (e && e->state == CQL_PREP_READY) {
    const cql_prepared_metadata *m = &e->prep->meta;
    int64_t token;
    if (m->pk_count > 0) (void)cql_token_for_values(m->pk_indexes, (size_t)m->pk_count, values, 4, &token);
    (void)cql_prepared_find_by_id(&cache, e->prep->id);
  }
  cql_prepared_cache_free(&cache);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  cql_frame_header h = {(uint8_t)((data[0] & 1 ? 5 : 4) | CQL_VERSION_RESPONSE_BIT), 0, 1, CQL_OP_RESULT,
                        (uint32_t)(size - 1)};
  cql_message msg;
  if (cql_message_decode(&msg, &h, data + 1, size - 1) != CQL_OK) return 0;
  if (msg.u.result.kind == CQL_RESULT_ROWS)
    walk_rows(&msg); /* moves msg into the result set */
  else if (msg.u.result.kind == CQL_RESULT_PREPARED)
    cache_prepared(&msg); /* moves msg into the cache entry */
  cql_message_free(&msg);
  return 0;
}
