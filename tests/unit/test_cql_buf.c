/* cql/buf: bounded big-endian reader (sticky error, never past the end), growing writer
 * (explicit ownership), arena, and the [notation] encodings of the v4 spec §3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cql/buf.h"

static void test_primitives_roundtrip(void **state) {
  (void)state;
  cql_writer w;
  cql_writer_init(&w);
  cql_write_byte(&w, 0xAB);
  cql_write_short(&w, 0xFFFE);
  cql_write_int(&w, -2);
  cql_write_long(&w, INT64_MIN);
  cql_write_string(&w, CQL_STR("héllo"));
  cql_write_long_string(&w, CQL_STR("long"));
  cql_write_bytes(&w, cql_value_of("\x00\x01", 2));
  cql_write_bytes(&w, cql_value_unset()); /* [bytes] has no unset: written as NULL */
  cql_write_value(&w, cql_value_unset());
  cql_write_value(&w, cql_value_of(NULL, 0));
  cql_write_short_bytes(&w, cql_value_of("id", 2));
  cql_inet in6 = {.len = 16, .port = 9042};
  in6.addr[15] = 1;
  cql_write_inet(&w, &in6);
  cql_write_consistency(&w, 6);
  assert_true(cql_writer_ok(&w));
  static const uint8_t expect[] = {
      0xAB, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0xFE, 0x80, 0,   0,   0,   0,   0, 0,   0,   0,    6,    'h', 0xC3,
      0xA9, 'l',  'l',  'o',  0,    0,    0,    4,    'l', 'o', 'n', 'g', 0, 0,   0,   2,    0,    1,   0xFF,
      0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0,    0,   0,   0,   0,   2, 'i', 'd', 16,   0,    0,   0,
      0,    0,    0,    0,    0,    0,    0,    0,    0,   0,   0,   0,   1, 0,   0,   0x23, 0x52, 0,   6};
  assert_int_equal(w.len, sizeof(expect));
  assert_memory_equal(w.data, expect, sizeof(expect));

  cql_reader r;
  cql_reader_init(&r, w.data, w.len);
  assert_int_equal(cql_read_byte(&r), 0xAB);
  assert_int_equal(cql_read_short(&r), 0xFFFE);
  assert_int_equal(cql_read_int(&r), -2);
  assert_true(cql_read_long(&r) == INT64_MIN);
  cql_str s = cql_read_string(&r);
  assert_true(cql_str_eq(s, "héllo"));
  assert_true(cql_str_eq(cql_read_long_string(&r), "long"));
  cql_value v = cql_read_bytes(&r);
  assert_int_equal(v.len, 2);
  assert_int_equal(cql_read_bytes(&r).len, CQL_LEN_NULL);
  assert_int_equal(cql_read_value(&r).len, CQL_LEN_UNSET);
  assert_int_equal(cql_read_value(&r).len, 0);
  assert_int_equal(cql_read_short_bytes(&r).len, 2);
  cql_inet got;
  assert_true(cql_read_inet(&r, &got));
  assert_int_equal(got.len, 16);
  assert_int_equal(got.port, 9042);
  assert_int_equal(got.addr[15], 1);
  assert_int_equal(cql_read_consistency(&r), 6);
  assert_true(cql_reader_ok(&r));
  assert_int_equal(cql_reader_remaining(&r), 0);
  /* Sticky error: a read past the end fails and so does everything after it. */
  assert_int_equal(cql_read_byte(&r), 0);
  assert_false(cql_reader_ok(&r));
  cql_reader_init(&r, w.data, w.len);
  cql_read_skip(&r, 1);
  r.err = true;
  assert_int_equal(cql_read_short(&r), 0);
  cql_writer_free(&w);
}

static void test_reader_bounds(void **state) {
  (void)state;
  cql_reader r;
  /* [string] claiming 5 bytes with only 3 present; every read reports failure. */
  uint8_t *buf = malloc(5);
  memcpy(buf, "\x00\x05\x61\x62\x63", 5);
  cql_reader_init(&r, buf, 5);
  cql_str s = cql_read_string(&r);
  assert_false(cql_reader_ok(&r));
  assert_int_equal(s.len, 0);
  /* [bytes] of -3 and a negative [long string] are malformed; [value] accepts -2 only. */
  static const uint8_t neg3[4] = {0xFF, 0xFF, 0xFF, 0xFD}, neg2[4] = {0xFF, 0xFF, 0xFF, 0xFE};
  cql_reader_init(&r, neg3, 4);
  cql_read_value(&r);
  assert_false(cql_reader_ok(&r));
  cql_reader_init(&r, neg2, 4);
  cql_read_bytes(&r);
  assert_false(cql_reader_ok(&r));
  cql_reader_init(&r, neg2, 4);
  cql_read_long_string(&r);
  assert_false(cql_reader_ok(&r));
  /* [inet] with a size other than 4/16. */
  static const uint8_t bad_inet[] = {5, 1, 2, 3, 4, 5, 0, 0, 0, 1};
  cql_inet in;
  cql_reader_init(&r, bad_inet, sizeof(bad_inet));
  assert_false(cql_read_inet(&r, &in));
  /* Every prefix of a valid [int] fails; an empty reader works with NULL data. */
  for (size_t n = 0; n < 4; n++) {
    memcpy(buf, "\x01\x02\x03\x04", 4);
    cql_reader_init(&r, buf, n);
    cql_read_int(&r);
    assert_false(cql_reader_ok(&r));
  }
  cql_reader_init(&r, NULL, 0);
  assert_null(cql_read_raw(&r, 1));
  free(buf);
}

static void test_collections(void **state) {
  (void)state;
  cql_writer w;
  cql_writer_init(&w);
  cql_str list[] = {CQL_STR("a"), CQL_STR(""), CQL_STR("ccc")};
  cql_str_pair map[] = {{CQL_STR("CQL_VERSION"), CQL_STR("3.0.0")}};
  cql_multimap_entry mm[] = {{CQL_STR("COMPRESSION"), list, 3}};
  cql_bytes_pair bm[] = {{CQL_STR("k"), cql_value_null()}};
  cql_write_string_list(&w, list, 3);
  cql_write_string_map(&w, map, 1);
  cql_write_string_multimap(&w, mm, 1);
  cql_write_bytes_map(&w, bm, 1);
  assert_true(cql_writer_ok(&w));

  cql_arena a;
  cql_arena_init(&a);
  cql_reader r;
  cql_reader_init(&r, w.data, w.len);
  const cql_str *l;
  const cql_str_pair *m;
  const cql_multimap_entry *e;
  const cql_bytes_pair *b;
  size_t n;
  assert_true(cql_read_string_list(&r, &a, &l, &n));
  assert_int_equal(n, 3);
  assert_string_equal(l[2].ptr, "ccc"); /* NUL-terminated copies */
  assert_string_equal(l[1].ptr, "");
  assert_true(cql_read_string_map(&r, &a, &m, &n));
  assert_string_equal(m[0].value.ptr, "3.0.0");
  assert_true(cql_read_string_multimap(&r, &a, &e, &n));
  assert_int_equal(e[0].n_values, 3);
  assert_true(cql_read_bytes_map(&r, &a, &b, &n));
  assert_int_equal(b[0].value.len, CQL_LEN_NULL);
  assert_int_equal(cql_reader_remaining(&r), 0);

  /* A count that cannot fit in the remaining input is refused without allocating. */
  static const uint8_t huge[] = {0xFF, 0xFF, 0, 1, 'x'};
  cql_reader_init(&r, huge, sizeof(huge));
  assert_false(cql_read_string_list(&r, &a, &l, &n));
  assert_int_equal(n, 0);
  cql_arena_free(&a);
  cql_writer_free(&w);
}

static void test_writer_limits_and_ownership(void **state) {
  (void)state;
  cql_writer w;
  cql_writer_init(&w);
  char *big = calloc(70000, 1);
  cql_write_string(&w, (cql_str){big, 70000}); /* [string] is at most 65535 bytes */
  assert_false(cql_writer_ok(&w));
  assert_false(w.nomem);
  size_t len;
  assert_null(cql_writer_steal(&w, &len)); /* a failed writer hands nothing out */
  cql_writer_init(&w);
  cql_write_string(&w, (cql_str){big, 65535});
  assert_true(cql_writer_ok(&w));
  cql_write_short_bytes(&w, cql_value_of(big, 65536));
  assert_false(cql_writer_ok(&w));
  cql_writer_reset(&w);
  assert_true(cql_writer_ok(&w));
  cql_write_int(&w, 0);
  cql_write_int(&w, 7);
  cql_writer_patch_int(&w, 4, 0x01020304);
  cql_writer_patch_int(&w, 6, 1); /* out of range: error, no write */
  assert_false(cql_writer_ok(&w));
  cql_writer_reset(&w);
  cql_write_raw(&w, "abc", 3);
  uint8_t *owned = cql_writer_steal(&w, &len);
  assert_int_equal(len, 3);
  assert_memory_equal(owned, "abc", 3);
  assert_null(w.data);
  free(owned);
  free(big);
  cql_writer_free(&w);
}

static void test_arena(void **state) {
  (void)state;
  cql_arena a;
  cql_arena_init(&a);
  char *small = cql_arena_alloc(&a, 10);
  uint8_t *large = cql_arena_alloc(&a, 100000); /* bigger than a block */
  char *after = cql_arena_alloc(&a, 10);
  assert_non_null(small);
  assert_non_null(large);
  assert_non_null(after);
  assert_int_equal((uintptr_t)after % 16, 0);
  memset(large, 0xAB, 100000);
  assert_int_equal(small[0], 0); /* zeroed */
  assert_null(cql_arena_calloc(&a, SIZE_MAX / 2, 4));
  assert_string_equal(cql_arena_strndup(&a, "hello!", 5), "hello");
  cql_arena_free(&a);
  cql_arena_free(&a); /* idempotent */
  assert_string_equal(cql_rc_str(CQL_RC_CHECKSUM), "checksum mismatch");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_primitives_roundtrip),
      cmocka_unit_test(test_reader_bounds),
      cmocka_unit_test(test_collections),
      cmocka_unit_test(test_writer_limits_and_ownership),
      cmocka_unit_test(test_arena),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
