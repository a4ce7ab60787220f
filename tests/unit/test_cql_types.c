/* cql/types: value encodings against the python driver's cqltypes serializers
 * (cql_golden.h), getters, type-option trees, and v1 timeuuids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cql/types.h"
#include "cql_golden.h"

static void assert_value(cql_value v, const uint8_t *golden, size_t len) {
  assert_int_equal(v.len, (int32_t)len);
  if (len) assert_memory_equal(v.ptr, golden, len);
}

static void test_value_encodings(void **state) {
  (void)state;
  static const uint8_t UUID4[16] = {0xf4, 0x7a, 0xc1, 0x0b, 0x58, 0xcc, 0x43, 0x72,
                                    0xa5, 0x67, 0x0e, 0x02, 0xb2, 0xc3, 0xd4, 0x79};
  static const uint8_t UUID1[16] = {0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                    0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
  const char *utf8 = "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c";
  cql_values v;
  cql_values_init(&v);
  cql_values_add_int(&v, 0);
  cql_values_add_int(&v, -1);
  cql_values_add_int(&v, INT32_MAX);
  cql_values_add_int(&v, INT32_MIN);
  cql_values_add_bigint(&v, INT64_MIN);
  cql_values_add_bigint(&v, 1234567890123);
  cql_values_add_bigint(&v, 7); /* counter */
  cql_values_add_bool(&v, true);
  cql_values_add_bool(&v, false);
  cql_values_add_text(&v, utf8, strlen(utf8));
  cql_values_add_text(&v, "", 0);
  cql_values_add_text(&v, "ascii", 5);
  cql_values_add_timestamp(&v, 1700000000123);
  cql_values_add_uuid(&v, UUID4);
  cql_values_add_uuid(&v, UUID1);
  cql_values_add_blob(&v, "\x00\x01\xfe\xff", 4);
  cql_values_add_null(&v);
  cql_values_add_unset(&v);
  cql_values_add_raw(&v, cql_value_of("\x00\x00\x00\x2a", 4));
  assert_false(v.err);
  assert_int_equal(v.n, 19);
  assert_value(v.items[0], GOLDEN_VAL_INT_0, GOLDEN_VAL_INT_0_LEN);
  assert_value(v.items[1], GOLDEN_VAL_INT_NEG1, GOLDEN_VAL_INT_NEG1_LEN);
  assert_value(v.items[2], GOLDEN_VAL_INT_MAX, GOLDEN_VAL_INT_MAX_LEN);
  assert_value(v.items[3], GOLDEN_VAL_INT_MIN, GOLDEN_VAL_INT_MIN_LEN);
  assert_value(v.items[4], GOLDEN_VAL_BIGINT_MIN, GOLDEN_VAL_BIGINT_MIN_LEN);
  assert_value(v.items[5], GOLDEN_VAL_BIGINT_1234567890123, GOLDEN_VAL_BIGINT_1234567890123_LEN);
  assert_value(v.items[6], GOLDEN_VAL_COUNTER_7, GOLDEN_VAL_COUNTER_7_LEN);
  assert_value(v.items[7], GOLDEN_VAL_BOOL_TRUE, GOLDEN_VAL_BOOL_TRUE_LEN);
  assert_value(v.items[8], GOLDEN_VAL_BOOL_FALSE, GOLDEN_VAL_BOOL_FALSE_LEN);
  assert_value(v.items[9], GOLDEN_VAL_TEXT_UTF8, GOLDEN_VAL_TEXT_UTF8_LEN);
  assert_value(v.items[10], GOLDEN_VAL_TEXT_EMPTY, GOLDEN_VAL_TEXT_EMPTY_LEN);
  assert_value(v.items[11], GOLDEN_VAL_ASCII, GOLDEN_VAL_ASCII_LEN);
  assert_value(v.items[12], GOLDEN_VAL_TIMESTAMP_MS, GOLDEN_VAL_TIMESTAMP_MS_LEN);
  assert_value(v.items[13], GOLDEN_VAL_UUID, GOLDEN_VAL_UUID_LEN);
  assert_value(v.items[14], GOLDEN_VAL_TIMEUUID, GOLDEN_VAL_TIMEUUID_LEN);
  assert_value(v.items[15], GOLDEN_VAL_BLOB, GOLDEN_VAL_BLOB_LEN);
  assert_int_equal(v.items[16].len, CQL_LEN_NULL);
  assert_int_equal(v.items[17].len, CQL_LEN_UNSET);
  /* As [value]s on the wire. */
  cql_writer w;
  cql_writer_init(&w);
  cql_write_value(&w, v.items[16]);
  cql_write_value(&w, v.items[17]);
  cql_write_value(&w, v.items[18]);
  assert_int_equal(w.len, GOLDEN_VALUE_NULL_LEN + GOLDEN_VALUE_UNSET_LEN + GOLDEN_VALUE_INT_42_LEN);
  assert_memory_equal(w.data, GOLDEN_VALUE_NULL, 4);
  assert_memory_equal(w.data + 4, GOLDEN_VALUE_UNSET, 4);
  assert_memory_equal(w.data + 8, GOLDEN_VALUE_INT_42, GOLDEN_VALUE_INT_42_LEN);
  cql_writer_free(&w);

  /* Getters invert the encodings. */
  int32_t i;
  int64_t l;
  bool b;
  cql_str s;
  uint8_t u[16];
  const uint8_t *p;
  size_t n;
  assert_int_equal(cql_value_get_int(v.items[3], &i), CQL_OK);
  assert_int_equal(i, INT32_MIN);
  assert_int_equal(cql_value_get_bigint(v.items[4], &l), CQL_OK);
  assert_true(l == INT64_MIN);
  assert_int_equal(cql_value_get_bool(v.items[7], &b), CQL_OK);
  assert_true(b);
  assert_int_equal(cql_value_get_text(v.items[9], &s), CQL_OK);
  assert_true(cql_str_eq(s, utf8));
  assert_int_equal(cql_value_get_uuid(v.items[14], u), CQL_OK);
  assert_memory_equal(u, UUID1, 16);
  assert_int_equal(cql_value_get_blob(v.items[15], &p, &n), CQL_OK);
  assert_int_equal(n, 4);
  assert_int_equal(cql_value_get_int(v.items[16], &i), CQL_RC_NULL);
  assert_int_equal(cql_value_get_text(v.items[17], &s), CQL_RC_NULL);
  assert_int_equal(cql_value_get_int(v.items[4], &i), CQL_RC_MALFORMED); /* 8 bytes is not an int */
  assert_int_equal(cql_value_get_bigint(v.items[0], &l), CQL_RC_MALFORMED);
  assert_int_equal(cql_value_get_uuid(v.items[15], u), CQL_RC_MALFORMED);
  cql_values_free(&v);
}

static void test_datatype_roundtrip(void **state) {
  (void)state;
  /* map<text, frozen<tuple<int, udt ks.addr{street text, zip list<int>}>>> */
  cql_datatype list_int_p[1] = {cql_datatype_simple(CQL_TYPE_INT)};
  cql_datatype udt_fields[2] = {cql_datatype_simple(CQL_TYPE_VARCHAR),
                                {.id = CQL_TYPE_LIST, .n_params = 1, .params = list_int_p}};
  cql_str names[2] = {CQL_STR("street"), CQL_STR("zip")};
  cql_datatype tuple_p[2] = {cql_datatype_simple(CQL_TYPE_INT),
                             {.id = CQL_TYPE_UDT,
                              .udt_keyspace = CQL_STR("ks"),
                              .udt_name = CQL_STR("addr"),
                              .n_params = 2,
                              .params = udt_fields,
                              .field_names = names}};
  cql_datatype map_p[2] = {cql_datatype_simple(CQL_TYPE_VARCHAR),
                           {.id = CQL_TYPE_TUPLE, .n_params = 2, .params = tuple_p}};
  cql_datatype t = {.id = CQL_TYPE_MAP, .n_params = 2, .params = map_p};
  cql_writer w;
  cql_writer_init(&w);
  cql_datatype_write(&w, &t);
  assert_true(cql_writer_ok(&w));
  cql_arena a;
  cql_arena_init(&a);
  cql_reader r;
  cql_reader_init(&r, w.data, w.len);
  cql_datatype back;
  assert_true(cql_datatype_read(&r, &a, &back));
  assert_int_equal(cql_reader_remaining(&r), 0);
  assert_true(cql_datatype_equal(&t, &back));
  assert_string_equal(back.params[1].params[1].field_names[0].ptr, "street");
  names[1] = CQL_STR("zap");
  assert_false(cql_datatype_equal(&t, &back));
  /* Every strict prefix is malformed. */
  for (size_t n = 0; n < w.len; n++) {
    cql_reader_init(&r, w.data, n);
    assert_false(cql_datatype_read(&r, &a, &back));
  }
  cql_arena_free(&a);
  cql_writer_free(&w);
  assert_string_equal(cql_type_name(CQL_TYPE_TIMEUUID), "timeuuid");
}

static void test_datatype_rejects(void **state) {
  (void)state;
  cql_arena a;
  cql_arena_init(&a);
  cql_reader r;
  cql_datatype t;
  static const uint8_t unknown[] = {0x00, 0x0A}; /* unused id */
  cql_reader_init(&r, unknown, sizeof(unknown));
  assert_false(cql_datatype_read(&r, &a, &t));
  static const uint8_t unknown2[] = {0x00, 0x40};
  cql_reader_init(&r, unknown2, sizeof(unknown2));
  assert_false(cql_datatype_read(&r, &a, &t));
  /* list<list<...>> nested deeper than CQL_TYPE_MAX_DEPTH. */
  uint8_t deep[2 * (CQL_TYPE_MAX_DEPTH + 2)];
  for (size_t i = 0; i + 1 < sizeof(deep); i += 2) {
    deep[i] = 0;
    deep[i + 1] = CQL_TYPE_LIST;
  }
  deep[sizeof(deep) - 1] = CQL_TYPE_INT;
  cql_reader_init(&r, deep, sizeof(deep));
  assert_false(cql_datatype_read(&r, &a, &t));
  /* A tuple claiming 65535 elements in 4 bytes is refused before allocating. */
  static const uint8_t tuple[] = {0x00, 0x31, 0xFF, 0xFF, 0x00, 0x09};
  cql_reader_init(&r, tuple, sizeof(tuple));
  assert_false(cql_datatype_read(&r, &a, &t));
  cql_arena_free(&a);
}

static void test_timeuuid(void **state) {
  (void)state;
  static const uint8_t UUID1[16] = {0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                    0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
  assert_int_equal(cql_timeuuid_unix_ms(UUID1), GOLDEN_TIMEUUID_UNIX_MS);
  /* Rebuild the RFC example from its fields. */
  uint64_t ts = (uint64_t)0x1d1 << 48 | (uint64_t)0x9dad << 32 | 0x6ba7b810;
  uint8_t made[16];
  cql_timeuuid_make(ts, 0x00b4, UUID1 + 10, made);
  assert_memory_equal(made, UUID1, 16);

  cql_timeuuid_gen g;
  cql_timeuuid_gen_init(&g);
  uint8_t prev[16], cur[16];
  cql_timeuuid_gen_next(&g, prev);
  for (int i = 0; i < 10000; i++) {
    cql_timeuuid_gen_next(&g, cur);
    assert_int_equal(cur[6] >> 4, 1);          /* version 1 */
    assert_int_equal(cur[8] & 0xC0, 0x80);     /* RFC 4122 variant */
    assert_memory_equal(cur + 8, prev + 8, 8); /* same clock seq + node */
    uint64_t a = (uint64_t)(prev[6] & 0x0F) << 56 | (uint64_t)prev[7] << 48 | (uint64_t)prev[4] << 40 |
                 (uint64_t)prev[5] << 32 | cql_load_u32(prev);
    uint64_t b = (uint64_t)(cur[6] & 0x0F) << 56 | (uint64_t)cur[7] << 48 | (uint64_t)cur[4] << 40 |
                 (uint64_t)cur[5] << 32 | cql_load_u32(cur);
    assert_true(b > a); /* strictly increasing timestamps */
    memcpy(prev, cur, 16);
  }
  assert_int_equal(cur[10] & 0x01, 0x01); /* random node: multicast bit */

  uint8_t lo[16], hi[16];
  cql_timeuuid_min_for_ms(1700000000123, lo);
  cql_timeuuid_max_for_ms(1700000000123, hi);
  assert_int_equal(cql_timeuuid_unix_ms(lo), 1700000000123);
  assert_int_equal(cql_timeuuid_unix_ms(hi), 1700000000123);
  assert_int_equal(lo[8], 0x80);
  assert_int_equal(hi[8], 0x7f);
  assert_int_equal(cql_timeuuid_unix_ms(made), GOLDEN_TIMEUUID_UNIX_MS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_value_encodings),
      cmocka_unit_test(test_datatype_roundtrip),
      cmocka_unit_test(test_datatype_rejects),
      cmocka_unit_test(test_timeuuid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
