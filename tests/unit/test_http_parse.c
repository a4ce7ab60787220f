/* Unit tests for http/parse: request targets (origin and absolute form, percent-decoding,
 * control bytes), query lookup, header value checks, Transfer-Encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "http/parse.h"

static char out[HTTP_TARGET_DECODED_SIZE(256)];

static const char *decode(const char *target, size_t *n_query) {
  return http_target_decode(target, strlen(target), out, n_query);
}

static void origin_form_with_query(void **state) {
  (void)state;
  size_t n;
  assert_null(decode("/api/x%2Fy?limit=5&q=a+b%21&flag&=v", &n));
  assert_string_equal(out, "/api/x/y");
  const char *pairs = out + strlen(out) + 1;
  assert_int_equal(n, 4);
  assert_string_equal(http_query_find(pairs, n, "limit"), "5");
  assert_string_equal(http_query_find(pairs, n, "q"), "a b!");
  assert_string_equal(http_query_find(pairs, n, "flag"), "");
  assert_string_equal(http_query_find(pairs, n, ""), "v");
  assert_null(http_query_find(pairs, n, "missing"));
}

static void first_of_repeated_parameters(void **state) {
  (void)state;
  size_t n;
  assert_null(decode("/p?a=1&a=2", &n));
  assert_string_equal(http_query_find(out + strlen(out) + 1, n, "a"), "1");
}

static void absolute_form_keeps_path_and_query(void **state) {
  (void)state;
  size_t n;
  assert_null(decode("http://example.test:8000/health?x=1#frag", &n));
  assert_string_equal(out, "/health");
  assert_int_equal(n, 1);
  assert_null(decode("HTTPS://example.test", &n));
  assert_string_equal(out, "/");
  assert_null(decode("http://example.test?x=2", &n));
  assert_string_equal(out, "/");
  assert_string_equal(http_query_find(out + 2, n, "x"), "2");
}

static void rejects_bad_targets(void **state) {
  (void)state;
  size_t n;
  assert_non_null(decode("*", &n));
  assert_non_null(decode("example.test:443", &n));
  assert_non_null(decode("", &n));
  assert_non_null(decode("/a%2", &n));        /* truncated escape */
  assert_non_null(decode("/a%zz", &n));       /* not hex */
  assert_non_null(decode("/a%00b", &n));      /* decodes to NUL */
  assert_non_null(decode("/a?k=%0d%0a", &n)); /* CR LF in a value */
  assert_non_null(decode("/a?k%1b=1", &n));   /* ESC in a name */
  assert_non_null(decode("/a%7f", &n));       /* DEL */
  assert_non_null(http_target_decode("/a\0b", 4, out, &n));
  assert_non_null(decode("/a b", &n));
}

static void header_values(void **state) {
  (void)state;
  assert_true(http_field_value_valid("text/html; q=0.9\t\x80\xff", 19));
  assert_false(http_field_value_valid("a\0b", 3));
  assert_false(http_field_value_valid("a\r\n b", 5));
  assert_false(http_field_value_valid("del\x7f", 4));
  const char *v = " \tchunked \t";
  assert_int_equal(http_trim_ows(&v, strlen(v)), 7);
  assert_memory_equal(v, "chunked", 7);
}

static void transfer_encodings(void **state) {
  (void)state;
  assert_true(http_transfer_encoding_is_chunked("chunked", 7));
  assert_true(http_transfer_encoding_is_chunked(" ChUnKeD ", 9));
  assert_false(http_transfer_encoding_is_chunked("gzip", 4));
  assert_false(http_transfer_encoding_is_chunked("gzip, chunked", 13));
  assert_false(http_transfer_encoding_is_chunked("chunked, chunked", 16));
  assert_false(http_transfer_encoding_is_chunked("", 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(origin_form_with_query),
      cmocka_unit_test(first_of_repeated_parameters),
      cmocka_unit_test(absolute_form_keeps_path_and_query),
      cmocka_unit_test(rejects_bad_targets),
      cmocka_unit_test(header_values),
      cmocka_unit_test(transfer_encodings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
