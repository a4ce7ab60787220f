/* cql/message: request and response bodies, byte-for-byte against the python driver's
 * encoders (cql_golden.h), decoded back field by field, and every golden response cut at
 * every length must fail cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cql/message.h"
#include "cql_golden.h"

static const uint8_t QID[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
static const uint8_t RMID[4] = {0xaa, 0xbb, 0xcc, 0xdd};
static const uint8_t UUID1[16] = {0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                  0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
static const uint8_t UUID4[16] = {0xf4, 0x7a, 0xc1, 0x0b, 0x58, 0xcc, 0x43, 0x72,
                                  0xa5, 0x67, 0x0e, 0x02, 0xb2, 0xc3, 0xd4, 0x79};

/* Encodes m as a frame and compares it with the golden bytes. */
static void check_frame(const cql_message *m, int version, int16_t stream, uint8_t flags,
                        const uint8_t *golden, size_t golden_len) {
  cql_writer w;
  cql_writer_init(&w);
  assert_int_equal(cql_message_encode_frame(&w, version, flags, stream, m), CQL_OK);
  assert_int_equal(w.len, golden_len);
  assert_memory_equal(w.data, golden, golden_len);
  cql_writer_free(&w);
}

/* Decodes a golden frame into m (caller frees). */
static void decode_golden(cql_message *m, const uint8_t *golden, size_t len) {
  cql_frame_header h;
  assert_true(len >= CQL_FRAME_HEADER_SIZE);
  assert_int_equal(cql_frame_header_decode(golden, 0, &h), CQL_OK);
  assert_int_equal(h.length, len - CQL_FRAME_HEADER_SIZE);
  assert_int_equal(cql_message_decode(m, &h, golden + CQL_FRAME_HEADER_SIZE, h.length), CQL_OK);
}

/* Decodes, re-encodes (same version, stream and non-prefix flags) and compares. */
static void check_roundtrip(const uint8_t *golden, size_t len) {
  cql_message m;
  decode_golden(&m, golden, len);
  cql_frame_header h;
  assert_int_equal(cql_frame_header_decode(golden, 0, &h), CQL_OK);
  uint8_t extra = h.flags & (uint8_t) ~(CQL_FLAG_WARNING | CQL_FLAG_CUSTOM_PAYLOAD |
                                        (cql_header_is_response(&h) ? CQL_FLAG_TRACING : 0));
  check_frame(&m, cql_header_protocol(&h), h.stream, extra, golden, len);
  cql_message_free(&m);
}

static void test_startup_options_auth_register(void **state) {
  (void)state;
  cql_message m;
  cql_message_init(&m, CQL_OP_STARTUP);
  cql_str_pair opt[2] = {{CQL_STR("COMPRESSION"), CQL_STR("lz4")},
                         {CQL_STR("CQL_VERSION"), CQL_STR("3.0.0")}};
  m.u.startup.options = opt + 1;
  m.u.startup.n_options = 1;
  check_frame(&m, 4, 1, 0, GOLDEN_STARTUP_V4, GOLDEN_STARTUP_V4_LEN);
  m.u.startup.options = opt;
  m.u.startup.n_options = 2;
  check_frame(&m, 4, 2, 0, GOLDEN_STARTUP_LZ4_V4, GOLDEN_STARTUP_LZ4_V4_LEN);

  cql_message_init(&m, CQL_OP_OPTIONS);
  check_frame(&m, 4, 0, 0, GOLDEN_OPTIONS_V4, GOLDEN_OPTIONS_V4_LEN);
  check_frame(&m, 5, 32767, 0, GOLDEN_OPTIONS_V5, GOLDEN_OPTIONS_V5_LEN);

  cql_writer tok;
  cql_writer_init(&tok);
  cql_sasl_plain_token(&tok, "cassandra", "s3cret");
  assert_int_equal(tok.len, 17);
  assert_memory_equal(tok.data, "\0cassandra\0s3cret", 17);
  cql_message_init(&m, CQL_OP_AUTH_RESPONSE);
  m.u.auth_token = cql_value_of(tok.data, (int32_t)tok.len);
  check_frame(&m, 4, 3, 0, GOLDEN_AUTH_RESPONSE_V4, GOLDEN_AUTH_RESPONSE_V4_LEN);
  cql_writer_free(&tok);

  cql_message_init(&m, CQL_OP_REGISTER);
  cql_str events[] = {CQL_STR("TOPOLOGY_CHANGE"), CQL_STR("STATUS_CHANGE"), CQL_STR("SCHEMA_CHANGE")};
  m.u.reg.events = events;
  m.u.reg.n_events = 3;
  check_frame(&m, 4, 4, 0, GOLDEN_REGISTER_V4, GOLDEN_REGISTER_V4_LEN);

  /* Decode side (what the mock server sees). */
  decode_golden(&m, GOLDEN_STARTUP_LZ4_V4, GOLDEN_STARTUP_LZ4_V4_LEN);
  assert_int_equal(m.u.startup.n_options, 2);
  assert_true(cql_str_eq(m.u.startup.options[0].key, "COMPRESSION"));
  assert_string_equal(m.u.startup.options[1].value.ptr, "3.0.0");
  cql_message_free(&m);
  decode_golden(&m, GOLDEN_AUTH_RESPONSE_V4, GOLDEN_AUTH_RESPONSE_V4_LEN);
  assert_int_equal(m.u.auth_token.len, 17);
  cql_message_free(&m);
  check_roundtrip(GOLDEN_REGISTER_V4, GOLDEN_REGISTER_V4_LEN);
}

static void test_query(void **state) {
  (void)state;
  cql_message m;
  cql_message_init(&m, CQL_OP_QUERY);
  m.u.query.query = CQL_STR("SELECT release_version FROM system.local WHERE key='local'");
  m.u.query.params.consistency = CQL_CONSISTENCY_ONE;
  check_frame(&m, 4, 5, 0, GOLDEN_QUERY_SIMPLE_V4, GOLDEN_QUERY_SIMPLE_V4_LEN);

  m.u.query.query = CQL_STR("SELECT x FROM t");
  check_frame(&m, 4, 6, CQL_FLAG_TRACING, GOLDEN_QUERY_TRACING_V4, GOLDEN_QUERY_TRACING_V4_LEN);

  cql_values vals;
  cql_values_init(&vals);
  cql_values_add_int(&vals, 42);
  cql_values_add_text(&vals, "hi", 2);
  cql_values_add_null(&vals);
  cql_values_add_unset(&vals);
  assert_false(vals.err);
  cql_query_params *p = &m.u.query.params;
  m.u.query.query = CQL_STR("INSERT INTO ks.t (a, b, c, d) VALUES (?, ?, ?, ?) IF NOT EXISTS");
  p->consistency = CQL_CONSISTENCY_LOCAL_QUORUM;
  p->values = vals.items;
  p->n_values = (uint16_t)vals.n;
  p->page_size = 5000;
  p->paging_state = cql_value_of("\x01\x02\x03", 3);
  p->has_serial_consistency = true;
  p->serial_consistency = CQL_CONSISTENCY_LOCAL_SERIAL;
  p->has_timestamp = true;
  p->timestamp = 1700000000000000;
  check_frame(&m, 4, 7, 0, GOLDEN_QUERY_ALL_V4, GOLDEN_QUERY_ALL_V4_LEN);
  /* v5-only fields are refused on v4 rather than silently dropped. */
  p->keyspace = CQL_STR("ks");
  cql_writer w;
  cql_writer_init(&w);
  assert_int_equal(cql_message_encode_frame(&w, 4, 0, 1, &m), CQL_RC_MALFORMED);
  assert_int_equal(w.len, 0);
  assert_true(cql_writer_ok(&w));
  cql_writer_free(&w);
  cql_values_free(&vals);

  cql_values_init(&vals);
  cql_values_add_bigint(&vals, -5);
  cql_message_init(&m, CQL_OP_QUERY);
  m.u.query.query = CQL_STR("SELECT a FROM t WHERE k = ?");
  p->consistency = CQL_CONSISTENCY_QUORUM;
  p->values = vals.items;
  p->n_values = 1;
  p->page_size = 100;
  p->keyspace = CQL_STR("ks");
  check_frame(&m, 5, 8, 0, GOLDEN_QUERY_KEYSPACE_V5, GOLDEN_QUERY_KEYSPACE_V5_LEN);
  cql_values_free(&vals);

  /* Decode (mock side): every field comes back. */
  decode_golden(&m, GOLDEN_QUERY_ALL_V4, GOLDEN_QUERY_ALL_V4_LEN);
  assert_string_equal(m.u.query.query.ptr, "INSERT INTO ks.t (a, b, c, d) VALUES (?, ?, ?, ?) IF NOT EXISTS");
  assert_int_equal(p->consistency, CQL_CONSISTENCY_LOCAL_QUORUM);
  assert_int_equal(p->n_values, 4);
  int32_t i32;
  assert_int_equal(cql_value_get_int(p->values[0], &i32), CQL_OK);
  assert_int_equal(i32, 42);
  assert_int_equal(p->values[2].len, CQL_LEN_NULL);
  assert_int_equal(p->values[3].len, CQL_LEN_UNSET);
  assert_int_equal(p->page_size, 5000);
  assert_int_equal(p->paging_state.len, 3);
  assert_true(p->has_serial_consistency && p->serial_consistency == CQL_CONSISTENCY_LOCAL_SERIAL);
  assert_true(p->has_timestamp && p->timestamp == 1700000000000000);
  assert_int_equal(p->flags, 0x01 | 0x04 | 0x08 | 0x10 | 0x20);
  cql_message_free(&m);
  decode_golden(&m, GOLDEN_QUERY_KEYSPACE_V5, GOLDEN_QUERY_KEYSPACE_V5_LEN);
  assert_string_equal(m.u.query.params.keyspace.ptr, "ks");
  cql_message_free(&m);
  check_roundtrip(GOLDEN_QUERY_ALL_V4, GOLDEN_QUERY_ALL_V4_LEN);
  check_roundtrip(GOLDEN_QUERY_TRACING_V4, GOLDEN_QUERY_TRACING_V4_LEN);
}

static void test_prepare_execute(void **state) {
  (void)state;
  cql_message m;
  cql_message_init(&m, CQL_OP_PREPARE);
  m.u.prepare.query = CQL_STR("SELECT a, b FROM ks.t WHERE k = ?");
  check_frame(&m, 4, 9, 0, GOLDEN_PREPARE_V4, GOLDEN_PREPARE_V4_LEN);
  m.u.prepare.query = CQL_STR("SELECT a FROM t WHERE k = ?");
  check_frame(&m, 5, 10, 0, GOLDEN_PREPARE_V5, GOLDEN_PREPARE_V5_LEN);
  m.u.prepare.keyspace = CQL_STR("ks");
  check_frame(&m, 5, 11, 0, GOLDEN_PREPARE_KS_V5, GOLDEN_PREPARE_KS_V5_LEN);

  cql_values vals;
  cql_values_init(&vals);
  cql_values_add_bigint(&vals, 1234567890123);
  cql_values_add_timestamp(&vals, 1700000000123);
  cql_values_add_uuid(&vals, UUID4);
  cql_values_add_uuid(&vals, UUID1);
  cql_values_add_bool(&vals, true);
  cql_values_add_blob(&vals, "\xde\xad", 2);
  cql_message_init(&m, CQL_OP_EXECUTE);
  m.u.execute.id = cql_value_of(QID, 16);
  cql_query_params *p = &m.u.execute.params;
  p->consistency = CQL_CONSISTENCY_QUORUM;
  p->values = vals.items;
  p->n_values = (uint16_t)vals.n;
  p->page_size = 100;
  p->has_timestamp = true;
  p->timestamp = 1700000000000001;
  check_frame(&m, 4, 12, 0, GOLDEN_EXECUTE_V4, GOLDEN_EXECUTE_V4_LEN);
  /* The python driver never sends skip_metadata: the only difference is flag bit 0x02 of the
   * [byte] flags after <id:short bytes><consistency:short>. */
  p->skip_metadata = true;
  cql_writer w;
  cql_writer_init(&w);
  assert_int_equal(cql_message_encode_frame(&w, 4, 0, 12, &m), CQL_OK);
  size_t flags_at = CQL_FRAME_HEADER_SIZE + 2 + 16 + 2;
  assert_int_equal(w.len, GOLDEN_EXECUTE_V4_LEN);
  assert_int_equal(w.data[flags_at], GOLDEN_EXECUTE_V4[flags_at] | 0x02);
  assert_memory_equal(w.data, GOLDEN_EXECUTE_V4, flags_at);
  assert_memory_equal(w.data + flags_at + 1, GOLDEN_EXECUTE_V4 + flags_at + 1, w.len - flags_at - 1);
  cql_message decoded;
  decode_golden(&decoded, w.data, w.len);
  assert_true(decoded.u.execute.params.skip_metadata);
  cql_message_free(&decoded);
  cql_writer_free(&w);
  cql_values_free(&vals);

  cql_values_init(&vals);
  cql_values_add_int(&vals, 1);
  cql_message_init(&m, CQL_OP_EXECUTE);
  m.u.execute.id = cql_value_of(QID, 16);
  m.u.execute.result_metadata_id = cql_value_of(RMID, 4);
  p->consistency = CQL_CONSISTENCY_LOCAL_ONE;
  p->values = vals.items;
  p->n_values = 1;
  check_frame(&m, 5, 13, 0, GOLDEN_EXECUTE_V5, GOLDEN_EXECUTE_V5_LEN);
  cql_values_free(&vals);

  decode_golden(&m, GOLDEN_EXECUTE_V5, GOLDEN_EXECUTE_V5_LEN);
  assert_int_equal(m.u.execute.id.len, 16);
  assert_memory_equal(m.u.execute.id.ptr, QID, 16);
  assert_memory_equal(m.u.execute.result_metadata_id.ptr, RMID, 4);
  cql_message_free(&m);
  decode_golden(&m, GOLDEN_EXECUTE_V4, GOLDEN_EXECUTE_V4_LEN);
  assert_false(m.u.execute.params.skip_metadata);
  uint8_t u[16];
  assert_int_equal(cql_value_get_uuid(m.u.execute.params.values[3], u), CQL_OK);
  assert_memory_equal(u, UUID1, 16);
  cql_message_free(&m);
  decode_golden(&m, GOLDEN_PREPARE_KS_V5, GOLDEN_PREPARE_KS_V5_LEN);
  assert_string_equal(m.u.prepare.keyspace.ptr, "ks");
  cql_message_free(&m);
  check_roundtrip(GOLDEN_PREPARE_V4, GOLDEN_PREPARE_V4_LEN);
  check_roundtrip(GOLDEN_EXECUTE_V4, GOLDEN_EXECUTE_V4_LEN);
}

static void test_batch(void **state) {
  (void)state;
  cql_values v1, v2;
  cql_values_init(&v1);
  cql_values_init(&v2);
  cql_values_add_int(&v1, 1);
  cql_values_add_text(&v1, "x", 1);
  cql_values_add_null(&v2);
  cql_values_add_unset(&v2);
  cql_batch_entry st[2] = {
      {.query = CQL_STR("INSERT INTO ks.t (a, b) VALUES (?, ?)"), .values = v1.items, .n_values = 2},
      {.is_prepared = true, .id = cql_value_of(QID, 16), .values = v2.items, .n_values = 2},
  };
  cql_message m;
  cql_message_init(&m, CQL_OP_BATCH);
  m.u.batch.type = CQL_BATCH_LOGGED;
  m.u.batch.statements = st;
  m.u.batch.n_statements = 2;
  m.u.batch.params.consistency = CQL_CONSISTENCY_QUORUM;
  m.u.batch.params.has_serial_consistency = true;
  m.u.batch.params.serial_consistency = CQL_CONSISTENCY_SERIAL;
  m.u.batch.params.has_timestamp = true;
  m.u.batch.params.timestamp = 1700000000000002;
  check_frame(&m, 4, 14, 0, GOLDEN_BATCH_LOGGED_V4, GOLDEN_BATCH_LOGGED_V4_LEN);

  cql_values_free(&v1);
  cql_values_init(&v1);
  cql_values_add_int(&v1, 2);
  cql_batch_entry one = {.is_prepared = true, .id = cql_value_of(QID, 16), .values = v1.items, .n_values = 1};
  cql_message_init(&m, CQL_OP_BATCH);
  m.u.batch.type = CQL_BATCH_UNLOGGED;
  m.u.batch.statements = &one;
  m.u.batch.n_statements = 1;
  m.u.batch.params.consistency = CQL_CONSISTENCY_ONE;
  check_frame(&m, 4, 15, 0, GOLDEN_BATCH_UNLOGGED_V4, GOLDEN_BATCH_UNLOGGED_V4_LEN);

  cql_batch_entry counter = {.query = CQL_STR("UPDATE ks.c SET n = n + 1 WHERE k = 1")};
  cql_message_init(&m, CQL_OP_BATCH);
  m.u.batch.type = CQL_BATCH_COUNTER;
  m.u.batch.statements = &counter;
  m.u.batch.n_statements = 1;
  m.u.batch.params.consistency = CQL_CONSISTENCY_LOCAL_QUORUM;
  m.u.batch.params.has_timestamp = true;
  m.u.batch.params.timestamp = 5;
  m.u.batch.params.keyspace = CQL_STR("ks");
  check_frame(&m, 5, 16, 0, GOLDEN_BATCH_COUNTER_V5, GOLDEN_BATCH_COUNTER_V5_LEN);
  cql_values_free(&v1);
  cql_values_free(&v2);

  decode_golden(&m, GOLDEN_BATCH_LOGGED_V4, GOLDEN_BATCH_LOGGED_V4_LEN);
  assert_int_equal(m.u.batch.type, CQL_BATCH_LOGGED);
  assert_int_equal(m.u.batch.n_statements, 2);
  assert_false(m.u.batch.statements[0].is_prepared);
  assert_string_equal(m.u.batch.statements[0].query.ptr, "INSERT INTO ks.t (a, b) VALUES (?, ?)");
  assert_true(m.u.batch.statements[1].is_prepared);
  assert_memory_equal(m.u.batch.statements[1].id.ptr, QID, 16);
  assert_int_equal(m.u.batch.statements[1].values[1].len, CQL_LEN_UNSET);
  assert_int_equal(m.u.batch.params.serial_consistency, CQL_CONSISTENCY_SERIAL);
  cql_message_free(&m);
  check_roundtrip(GOLDEN_BATCH_COUNTER_V5, GOLDEN_BATCH_COUNTER_V5_LEN);
}

static void test_simple_responses(void **state) {
  (void)state;
  cql_message m;
  decode_golden(&m, GOLDEN_READY_V4, GOLDEN_READY_V4_LEN);
  assert_int_equal(m.opcode, CQL_OP_READY);
  cql_message_free(&m);
  decode_golden(&m, GOLDEN_AUTHENTICATE_V4, GOLDEN_AUTHENTICATE_V4_LEN);
  assert_string_equal(m.u.authenticator.ptr, "org.apache.cassandra.auth.PasswordAuthenticator");
  cql_message_free(&m);
  decode_golden(&m, GOLDEN_AUTH_SUCCESS_V4, GOLDEN_AUTH_SUCCESS_V4_LEN);
  assert_int_equal(m.u.auth_token.len, 2);
  cql_message_free(&m);
  decode_golden(&m, GOLDEN_SUPPORTED_V4, GOLDEN_SUPPORTED_V4_LEN);
  assert_int_equal(m.u.supported.n_entries, 2);
  assert_string_equal(m.u.supported.entries[0].key.ptr, "COMPRESSION");
  assert_int_equal(m.u.supported.entries[0].n_values, 2);
  assert_string_equal(m.u.supported.entries[0].values[1].ptr, "snappy");
  cql_message_free(&m);
  const struct {
    const uint8_t *g;
    size_t len;
  } all[] = {
      {GOLDEN_READY_V4, GOLDEN_READY_V4_LEN},
      {GOLDEN_AUTHENTICATE_V4, GOLDEN_AUTHENTICATE_V4_LEN},
      {GOLDEN_AUTH_SUCCESS_V4, GOLDEN_AUTH_SUCCESS_V4_LEN},
      {GOLDEN_SUPPORTED_V4, GOLDEN_SUPPORTED_V4_LEN},
  };
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) check_roundtrip(all[i].g, all[i].len);
}

static void test_errors(void **state) {
  (void)state;
  cql_message m;
  char buf[256];
  decode_golden(&m, GOLDEN_ERROR_UNAVAILABLE_V4, GOLDEN_ERROR_UNAVAILABLE_V4_LEN);
  cql_error *e = &m.u.error;
  assert_int_equal(e->code, CQL_ERROR_UNAVAILABLE);
  assert_string_equal(e->name, "Unavailable");
  assert_string_equal(e->message.ptr, "Cannot achieve consistency level QUORUM");
  assert_int_equal(e->consistency, CQL_CONSISTENCY_QUORUM);
  assert_int_equal(e->required, 2);
  assert_int_equal(e->alive, 1);
  assert_string_equal(
      cql_error_format(e, buf, sizeof(buf)),
      "Unavailable (0x1000): Cannot achieve consistency level QUORUM [cl=QUORUM required=2 alive=1]");
  cql_message_free(&m);

  decode_golden(&m, GOLDEN_ERROR_WRITE_TIMEOUT_V4, GOLDEN_ERROR_WRITE_TIMEOUT_V4_LEN);
  assert_int_equal(e->received, 1);
  assert_int_equal(e->block_for, 2);
  assert_string_equal(e->write_type.ptr, "BATCH_LOG");
  cql_message_free(&m);

  decode_golden(&m, GOLDEN_ERROR_READ_TIMEOUT_V4, GOLDEN_ERROR_READ_TIMEOUT_V4_LEN);
  assert_int_equal(e->code, CQL_ERROR_READ_TIMEOUT);
  assert_false(e->data_present);
  assert_int_equal(e->block_for, 1);
  cql_message_free(&m);

  decode_golden(&m, GOLDEN_ERROR_READ_FAILURE_V4, GOLDEN_ERROR_READ_FAILURE_V4_LEN);
  assert_int_equal(e->num_failures, 1);
  assert_true(e->data_present);
  cql_message_free(&m);

  decode_golden(&m, GOLDEN_ERROR_WRITE_FAILURE_V5, GOLDEN_ERROR_WRITE_FAILURE_V5_LEN);
  assert_int_equal(e->n_reasons, 2);
  assert_int_equal(e->reasons[0].endpoint.len, 4);
  assert_memory_equal(e->reasons[0].endpoint.addr, "\x7f\x00\x00\x02", 4);
  assert_int_equal(e->reasons[0].code, 1);
  assert_int_equal(e->reasons[1].endpoint.len, 16);
  assert_int_equal(e->reasons[1].code, 3);
  assert_string_equal(e->write_type.ptr, "SIMPLE");
  cql_message_free(&m);

  decode_golden(&m, GOLDEN_ERROR_FUNCTION_FAILURE_V4, GOLDEN_ERROR_FUNCTION_FAILURE_V4_LEN);
  assert_string_equal(e->function.ptr, "fn");
  assert_int_equal(e->n_arg_types, 2);
  assert_string_equal(e->arg_types[1].ptr, "text");
  cql_message_free(&m);

  decode_golden(&m, GOLDEN_ERROR_ALREADY_EXISTS_V4, GOLDEN_ERROR_ALREADY_EXISTS_V4_LEN);
  assert_string_equal(e->keyspace.ptr, "ks");
  assert_string_equal(e->table.ptr, "t");
  cql_message_free(&m);

  decode_golden(&m, GOLDEN_ERROR_UNPREPARED_V4, GOLDEN_ERROR_UNPREPARED_V4_LEN);
  assert_int_equal(e->code, CQL_ERROR_UNPREPARED);
  assert_int_equal(e->unprepared_id.len, 16);
  assert_memory_equal(e->unprepared_id.ptr, QID, 16);
  cql_message_free(&m);

  decode_golden(&m, GOLDEN_ERROR_PROTOCOL_V4, GOLDEN_ERROR_PROTOCOL_V4_LEN);
  assert_string_equal(e->name, "Protocol error");
  cql_message_free(&m);

  const struct {
    const uint8_t *g;
    size_t len;
  } all[] = {
      {GOLDEN_ERROR_UNAVAILABLE_V4, GOLDEN_ERROR_UNAVAILABLE_V4_LEN},
      {GOLDEN_ERROR_WRITE_TIMEOUT_V4, GOLDEN_ERROR_WRITE_TIMEOUT_V4_LEN},
      {GOLDEN_ERROR_READ_TIMEOUT_V4, GOLDEN_ERROR_READ_TIMEOUT_V4_LEN},
      {GOLDEN_ERROR_READ_FAILURE_V4, GOLDEN_ERROR_READ_FAILURE_V4_LEN},
      {GOLDEN_ERROR_WRITE_FAILURE_V5, GOLDEN_ERROR_WRITE_FAILURE_V5_LEN},
      {GOLDEN_ERROR_FUNCTION_FAILURE_V4, GOLDEN_ERROR_FUNCTION_FAILURE_V4_LEN},
      {GOLDEN_ERROR_ALREADY_EXISTS_V4, GOLDEN_ERROR_ALREADY_EXISTS_V4_LEN},
      {GOLDEN_ERROR_UNPREPARED_V4, GOLDEN_ERROR_UNPREPARED_V4_LEN},
      {GOLDEN_ERROR_PROTOCOL_V4, GOLDEN_ERROR_PROTOCOL_V4_LEN},
  };
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) check_roundtrip(all[i].g, all[i].len);
}

static void test_v5_cas_write_timeout(void **state) {
  (void)state;
  /* v5 adds <contentions> after a CAS write type; v4 does not. */
  cql_message m, d;
  cql_message_init(&m, CQL_OP_ERROR);
  m.u.error = (cql_error){.code = CQL_ERROR_WRITE_TIMEOUT,
                          .message = CQL_STR("t"),
                          .received = 1,
                          .block_for = 2,
                          .write_type = CQL_STR("CAS"),
                          .contentions = 3};
  for (int version = 4; version <= 5; version++) {
    cql_writer w;
    cql_writer_init(&w);
    assert_int_equal(cql_message_encode_frame(&w, version, 0, 0, &m), CQL_OK);
    decode_golden(&d, w.data, w.len);
    assert_int_equal(d.u.error.has_contentions, version == 5);
    assert_int_equal(d.u.error.contentions, version == 5 ? 3 : 0);
    assert_int_equal(w.len, CQL_FRAME_HEADER_SIZE + 4 + 3 + 2 + 8 + 5 + (version == 5 ? 2 : 0));
    cql_message_free(&d);
    cql_writer_free(&w);
  }
}

static void test_results(void **state) {
  (void)state;
  cql_message m;
  decode_golden(&m, GOLDEN_RESULT_VOID_V4, GOLDEN_RESULT_VOID_V4_LEN);
  assert_int_equal(m.u.result.kind, CQL_RESULT_VOID);
  cql_message_free(&m);
  decode_golden(&m, GOLDEN_RESULT_SET_KEYSPACE_V4, GOLDEN_RESULT_SET_KEYSPACE_V4_LEN);
  assert_string_equal(m.u.result.keyspace.ptr, "messenger");
  cql_message_free(&m);

  decode_golden(&m, GOLDEN_RESULT_ROWS_V4, GOLDEN_RESULT_ROWS_V4_LEN);
  const cql_rows_result *rows = &m.u.result.rows;
  assert_int_equal(m.u.result.kind, CQL_RESULT_ROWS);
  assert_int_equal(rows->meta.column_count, 3);
  assert_int_equal(rows->meta.paging_state.len, 2);
  assert_memory_equal(rows->meta.paging_state.ptr, "\xca\xfe", 2);
  assert_string_equal(rows->meta.columns[2].keyspace.ptr, "ks"); /* global spec copied */
  assert_string_equal(rows->meta.columns[2].table.ptr, "t");
  assert_string_equal(rows->meta.columns[1].name.ptr, "name");
  assert_int_equal(rows->meta.columns[2].type.id, CQL_TYPE_LIST);
  assert_int_equal(rows->meta.columns[2].type.params[0].id, CQL_TYPE_VARCHAR);
  assert_int_equal(rows->row_count, 2);
  int32_t id;
  cql_str text;
  assert_int_equal(cql_value_get_int(rows->cells[3], &id), CQL_OK);
  assert_int_equal(id, 2);
  assert_int_equal(cql_value_get_text(rows->cells[1], &text), CQL_OK);
  assert_true(cql_str_eq(text, "alice"));
  assert_int_equal(cql_value_get_text(rows->cells[4], &text), CQL_RC_NULL);
  cql_message_free(&m);

  decode_golden(&m, GOLDEN_RESULT_ROWS_TYPES_V4, GOLDEN_RESULT_ROWS_TYPES_V4_LEN);
  const cql_column_spec *c = m.u.result.rows.meta.columns;
  assert_int_equal(m.u.result.rows.meta.column_count, 8);
  assert_string_equal(c[7].table.ptr, "t7");
  assert_int_equal(c[3].type.id, CQL_TYPE_MAP);
  assert_int_equal(c[3].type.params[1].id, CQL_TYPE_BIGINT);
  assert_int_equal(c[4].type.id, CQL_TYPE_SET);
  assert_int_equal(c[5].type.id, CQL_TYPE_UDT);
  assert_string_equal(c[5].type.udt_name.ptr, "addr");
  assert_string_equal(c[5].type.field_names[1].ptr, "zip");
  assert_int_equal(c[5].type.params[1].id, CQL_TYPE_INT);
  assert_int_equal(c[6].type.id, CQL_TYPE_TUPLE);
  assert_int_equal(c[6].type.n_params, 2);
  assert_string_equal(c[7].type.custom.ptr, "org.apache.cassandra.db.marshal.DurationType");
  cql_message_free(&m);

  decode_golden(&m, GOLDEN_RESULT_ROWS_NO_METADATA_V4, GOLDEN_RESULT_ROWS_NO_METADATA_V4_LEN);
  assert_true(m.u.result.rows.meta.flags & CQL_ROWS_FLAG_NO_METADATA);
  assert_null(m.u.result.rows.meta.columns);
  assert_int_equal(cql_value_get_int(m.u.result.rows.cells[0], &id), CQL_OK);
  assert_int_equal(id, 7);
  cql_message_free(&m);

  decode_golden(&m, GOLDEN_RESULT_PREPARED_V4, GOLDEN_RESULT_PREPARED_V4_LEN);
  const cql_prepared_result *p = &m.u.result.prepared;
  assert_int_equal(p->id.len, 16);
  assert_int_equal(p->meta.column_count, 3);
  assert_int_equal(p->meta.pk_count, 2);
  assert_int_equal(p->meta.pk_indexes[0], 1);
  assert_int_equal(p->meta.pk_indexes[1], 0);
  assert_string_equal(p->meta.columns[0].name.ptr, "bucket");
  assert_int_equal(p->meta.columns[1].type.id, CQL_TYPE_BIGINT);
  assert_int_equal(p->result_meta.column_count, 2);
  assert_int_equal(p->result_meta.columns[0].type.id, CQL_TYPE_TIMEUUID);
  cql_message_free(&m);
  decode_golden(&m, GOLDEN_RESULT_PREPARED_V5, GOLDEN_RESULT_PREPARED_V5_LEN);
  assert_memory_equal(m.u.result.prepared.result_metadata_id.ptr, RMID, 4);
  cql_message_free(&m);

  decode_golden(&m, GOLDEN_RESULT_SCHEMA_CHANGE_V4, GOLDEN_RESULT_SCHEMA_CHANGE_V4_LEN);
  assert_string_equal(m.u.result.schema_change.target.ptr, "TABLE");
  assert_string_equal(m.u.result.schema_change.name.ptr, "t");
  cql_message_free(&m);

  decode_golden(&m, GOLDEN_RESULT_PREFIXED_V4, GOLDEN_RESULT_PREFIXED_V4_LEN);
  assert_true(m.has_tracing_id);
  assert_int_equal(m.n_warnings, 1);
  assert_string_equal(m.warnings[0].ptr, "Batch too large");
  assert_int_equal(m.n_custom_payload, 1);
  assert_string_equal(m.custom_payload[0].key.ptr, "k");
  assert_int_equal(m.u.result.kind, CQL_RESULT_VOID);
  cql_message_free(&m);

  const struct {
    const uint8_t *g;
    size_t len;
  } all[] = {
      {GOLDEN_RESULT_VOID_V4, GOLDEN_RESULT_VOID_V4_LEN},
      {GOLDEN_RESULT_SET_KEYSPACE_V4, GOLDEN_RESULT_SET_KEYSPACE_V4_LEN},
      {GOLDEN_RESULT_ROWS_V4, GOLDEN_RESULT_ROWS_V4_LEN},
      {GOLDEN_RESULT_ROWS_TYPES_V4, GOLDEN_RESULT_ROWS_TYPES_V4_LEN},
      {GOLDEN_RESULT_ROWS_NO_METADATA_V4, GOLDEN_RESULT_ROWS_NO_METADATA_V4_LEN},
      {GOLDEN_RESULT_PREPARED_V4, GOLDEN_RESULT_PREPARED_V4_LEN},
      {GOLDEN_RESULT_PREPARED_V5, GOLDEN_RESULT_PREPARED_V5_LEN},
      {GOLDEN_RESULT_SCHEMA_CHANGE_V4, GOLDEN_RESULT_SCHEMA_CHANGE_V4_LEN},
      {GOLDEN_RESULT_PREFIXED_V4, GOLDEN_RESULT_PREFIXED_V4_LEN},
  };
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) check_roundtrip(all[i].g, all[i].len);
}

static void test_events(void **state) {
  (void)state;
  cql_message m;
  decode_golden(&m, GOLDEN_EVENT_TOPOLOGY_V4, GOLDEN_EVENT_TOPOLOGY_V4_LEN);
  assert_int_equal(m.u.event.type, CQL_EVENT_TOPOLOGY_CHANGE);
  assert_string_equal(m.u.event.change.ptr, "NEW_NODE");
  assert_int_equal(m.u.event.address.len, 4);
  assert_memory_equal(m.u.event.address.addr, "\x7f\x00\x00\x02", 4);
  assert_int_equal(m.u.event.address.port, 9042);
  cql_message_free(&m);
  decode_golden(&m, GOLDEN_EVENT_STATUS_V6ADDR_V4, GOLDEN_EVENT_STATUS_V6ADDR_V4_LEN);
  assert_int_equal(m.u.event.type, CQL_EVENT_STATUS_CHANGE);
  assert_int_equal(m.u.event.address.len, 16);
  assert_int_equal(m.u.event.address.addr[15], 1);
  cql_message_free(&m);
  decode_golden(&m, GOLDEN_EVENT_SCHEMA_FUNCTION_V4, GOLDEN_EVENT_SCHEMA_FUNCTION_V4_LEN);
  assert_int_equal(m.u.event.type, CQL_EVENT_SCHEMA_CHANGE);
  assert_string_equal(m.u.event.schema_change.name.ptr, "fn");
  assert_int_equal(m.u.event.schema_change.n_arg_types, 1);
  cql_message_free(&m);
  check_roundtrip(GOLDEN_EVENT_TOPOLOGY_V4, GOLDEN_EVENT_TOPOLOGY_V4_LEN);
  check_roundtrip(GOLDEN_EVENT_STATUS_V6ADDR_V4, GOLDEN_EVENT_STATUS_V6ADDR_V4_LEN);
  check_roundtrip(GOLDEN_EVENT_SCHEMA_FUNCTION_V4, GOLDEN_EVENT_SCHEMA_FUNCTION_V4_LEN);
}

/* Every strict prefix of a non-empty body must be rejected (never read out of bounds:
 * the prefix is copied into an exact-size heap block so ASan sees any overrun). */
static void test_truncated_bodies_fail(void **state) {
  (void)state;
  const struct {
    const uint8_t *g;
    size_t len;
  } all[] = {
      {GOLDEN_RESULT_ROWS_V4, GOLDEN_RESULT_ROWS_V4_LEN},
      {GOLDEN_RESULT_ROWS_TYPES_V4, GOLDEN_RESULT_ROWS_TYPES_V4_LEN},
      {GOLDEN_RESULT_PREPARED_V5, GOLDEN_RESULT_PREPARED_V5_LEN},
      {GOLDEN_RESULT_PREFIXED_V4, GOLDEN_RESULT_PREFIXED_V4_LEN},
      {GOLDEN_ERROR_WRITE_FAILURE_V5, GOLDEN_ERROR_WRITE_FAILURE_V5_LEN},
      {GOLDEN_ERROR_FUNCTION_FAILURE_V4, GOLDEN_ERROR_FUNCTION_FAILURE_V4_LEN},
      {GOLDEN_EVENT_SCHEMA_FUNCTION_V4, GOLDEN_EVENT_SCHEMA_FUNCTION_V4_LEN},
      {GOLDEN_SUPPORTED_V4, GOLDEN_SUPPORTED_V4_LEN},
      {GOLDEN_BATCH_LOGGED_V4, GOLDEN_BATCH_LOGGED_V4_LEN},
      {GOLDEN_QUERY_ALL_V4, GOLDEN_QUERY_ALL_V4_LEN},
      {GOLDEN_EXECUTE_V5, GOLDEN_EXECUTE_V5_LEN},
  };
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
    cql_frame_header h;
    assert_int_equal(cql_frame_header_decode(all[i].g, 0, &h), CQL_OK);
    for (size_t n = 0; n < h.length; n++) {
      uint8_t *cut = malloc(n ? n : 1);
      memcpy(cut, all[i].g + CQL_FRAME_HEADER_SIZE, n);
      cql_message m;
      assert_int_equal(cql_message_decode(&m, &h, cut, n), CQL_RC_MALFORMED);
      free(cut);
    }
  }
}

static void test_decode_rejects(void **state) {
  (void)state;
  cql_message m;
  /* A request opcode in a response frame, and an unknown result kind. */
  cql_frame_header h = {.version = 0x84, .opcode = CQL_OP_QUERY};
  assert_int_equal(cql_message_decode(&m, &h, NULL, 0), CQL_RC_UNSUPPORTED);
  h.opcode = CQL_OP_RESULT;
  assert_int_equal(cql_message_decode(&m, &h, (const uint8_t *)"\x00\x00\x00\x09", 4), CQL_RC_MALFORMED);
  /* A rows count that cannot fit in the remaining bytes is refused before allocating. */
  static const uint8_t huge[] = {0, 0, 0, 2, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff};
  assert_int_equal(cql_message_decode(&m, &h, huge, sizeof(huge)), CQL_RC_MALFORMED);
  /* Trailing bytes are ignored (forward compatibility). */
  assert_int_equal(cql_message_decode(&m, &h, (const uint8_t *)"\x00\x00\x00\x01\xff\xff", 6), CQL_OK);
  assert_int_equal(m.u.result.kind, CQL_RESULT_VOID);
  cql_message_free(&m);
  /* Negative [value] lengths below -2 are malformed. */
  h = (cql_frame_header){.version = 0x04, .opcode = CQL_OP_AUTH_RESPONSE};
  assert_int_equal(cql_message_decode(&m, &h, (const uint8_t *)"\xff\xff\xff\xfd", 4), CQL_RC_MALFORMED);
}

static void test_consistency_names(void **state) {
  (void)state;
  cql_consistency c;
  assert_true(cql_consistency_parse("local_quorum", &c));
  assert_int_equal(c, CQL_CONSISTENCY_LOCAL_QUORUM);
  assert_true(cql_consistency_parse("LOCAL_ONE", &c));
  assert_int_equal(c, 0x000A);
  assert_false(cql_consistency_parse("QUORUMS", &c));
  assert_string_equal(cql_consistency_name(CQL_CONSISTENCY_EACH_QUORUM), "EACH_QUORUM");
  assert_string_equal(cql_consistency_name(99), "UNKNOWN");
  assert_string_equal(cql_error_code_name(0x2500), "Unprepared");
  assert_string_equal(cql_error_code_name(0x7777), "Unknown error");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_startup_options_auth_register),
      cmocka_unit_test(test_query),
      cmocka_unit_test(test_prepare_execute),
      cmocka_unit_test(test_batch),
      cmocka_unit_test(test_simple_responses),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_v5_cas_write_timeout),
      cmocka_unit_test(test_results),
      cmocka_unit_test(test_events),
      cmocka_unit_test(test_truncated_bodies_fail),
      cmocka_unit_test(test_decode_rejects),
      cmocka_unit_test(test_consistency_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
