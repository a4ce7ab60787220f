/* cql/murmur3: Cassandra Murmur3Partitioner tokens and routing keys, checked against the
 * python driver's murmur3 (cql_golden.h) and the reference-notes vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cql/murmur3.h"
#include "cql_golden.h"

static void test_notes_vectors(void **state) {
  (void)state;
  assert_int_equal(cql_murmur3_token("test", 4), INT64_C(-6017608668500074083));
  static const uint8_t one[4] = {0, 0, 0, 1}; /* int 1 */
  assert_int_equal(cql_murmur3_token(one, 4), INT64_C(-4069959284402364209));
  assert_int_equal(cql_murmur3_token(NULL, 0), cql_murmur3_token("", 0));
}

static void test_golden_tokens(void **state) {
  (void)state;
  size_t n = sizeof(GOLDEN_MURMUR3) / sizeof(GOLDEN_MURMUR3[0]);
  assert_true(n > 60);
  for (size_t i = 0; i < n; i++) {
    int64_t t = cql_murmur3_token(GOLDEN_MURMUR3[i].key, GOLDEN_MURMUR3[i].len);
    if (t != GOLDEN_MURMUR3[i].token)
      fail_msg("key #%zu (len %zu): %lld", i, GOLDEN_MURMUR3[i].len, (long long)t);
  }
}

static void test_routing_key(void **state) {
  (void)state;
  static const uint8_t channel[8] = {0, 0, 0x01, 0x1f, 0x71, 0xfb, 0x04, 0xcb}; /* 1234567890123 */
  static const uint8_t bucket[4] = {0, 0, 0, 42};
  cql_value parts[2] = {cql_value_of(channel, 8), cql_value_of(bucket, 4)};
  cql_writer w;
  cql_writer_init(&w);
  assert_int_equal(cql_routing_key(&w, parts, 2), CQL_OK);
  assert_int_equal(w.len, GOLDEN_ROUTING_KEY_COMPOSITE_LEN);
  assert_memory_equal(w.data, GOLDEN_ROUTING_KEY_COMPOSITE, w.len);
  assert_int_equal(cql_murmur3_token(w.data, w.len), GOLDEN_ROUTING_KEY_COMPOSITE_TOKEN);

  /* A single component is used raw. */
  cql_writer_reset(&w);
  assert_int_equal(cql_routing_key(&w, parts + 1, 1), CQL_OK);
  assert_int_equal(w.len, 4);
  assert_memory_equal(w.data, bucket, 4);

  cql_value bad[2] = {cql_value_of(channel, 8), cql_value_null()};
  assert_int_equal(cql_routing_key(&w, bad, 2), CQL_RC_NULL);
  assert_int_equal(cql_routing_key(&w, bad, 0), CQL_RC_UNSUPPORTED);
  cql_writer_free(&w);
}

static void test_token_for_values(void **state) {
  (void)state;
  static const uint8_t channel[8] = {0, 0, 0x01, 0x1f, 0x71, 0xfb, 0x04, 0xcb};
  static const uint8_t bucket[4] = {0, 0, 0, 42};
  /* Bind order (text, bucket, channel) with pk_indexes [2, 1] = partition key (channel, bucket). */
  cql_value values[3] = {cql_value_of("hello", 5), cql_value_of(bucket, 4), cql_value_of(channel, 8)};
  const uint16_t pk[2] = {2, 1};
  int64_t token = 0;
  assert_int_equal(cql_token_for_values(pk, 2, values, 3, &token), CQL_OK);
  assert_int_equal(token, GOLDEN_ROUTING_KEY_COMPOSITE_TOKEN);
  const uint16_t single[1] = {0};
  assert_int_equal(cql_token_for_values(single, 1, values, 3, &token), CQL_OK);
  assert_int_equal(token, cql_murmur3_token("hello", 5));
  const uint16_t out_of_range[1] = {3};
  assert_int_equal(cql_token_for_values(out_of_range, 1, values, 3, &token), CQL_RC_UNSUPPORTED);
  assert_int_equal(cql_token_for_values(pk, 0, values, 3, &token), CQL_RC_UNSUPPORTED);
  values[1] = cql_value_unset();
  assert_int_equal(cql_token_for_values(pk, 2, values, 3, &token), CQL_RC_NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_notes_vectors),
      cmocka_unit_test(test_golden_tokens),
      cmocka_unit_test(test_routing_key),
      cmocka_unit_test(test_token_for_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
