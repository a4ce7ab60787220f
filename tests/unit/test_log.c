/* log: sanitising keeps every line one line and free of terminal control bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "log/log.h"

static void plain_text_is_kept(void **state) {
  (void)state;
  char out[64];
  assert_int_equal(log_sanitize(out, sizeof out, "GET /health 200", 15), 15);
  assert_string_equal(out, "GET /health 200");
}

static void control_bytes_are_escaped(void **state) {
  (void)state;
  char out[64];
  const char in[] = "a\r\nb\x1b[31mc\\d\x7f\xc3\xa9";
  log_sanitize(out, sizeof out, in, sizeof in - 1);
  assert_string_equal(out, "a\\x0d\\x0ab\\x1b[31mc\\x5cd\\x7f\\xc3\\xa9");
  assert_null(strchr(out, '\n'));
}

static void nul_bytes_are_escaped_not_cut(void **state) {
  (void)state;
  char out[64];
  log_sanitize(out, sizeof out, "ab\0one", 6);
  assert_string_equal(out, "ab\\x00one");
}

static void output_is_cut_on_escape_boundary(void **state) {
  (void)state;
  char out[8];
  size_t n = log_sanitize(out, sizeof out, "abc\n\n\n", 6);
  assert_int_equal(n, 3 + 4); /* "abc\x0a" fits in 7, the next escape does not */
  assert_string_equal(out, "abc\\x0a");
}

static void levels_parse(void **state) {
  (void)state;
  log_level l;
  assert_true(log_level_parse("warn", &l));
  assert_int_equal(l, LOG_WARN);
  assert_false(log_level_parse("loud", &l));
  assert_false(log_level_parse(NULL, &l));
  log_set_level(LOG_ERROR);
  assert_false(log_enabled(LOG_WARN));
  assert_true(log_enabled(LOG_ERROR));
  log_set_level(LOG_INFO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(plain_text_is_kept),
      cmocka_unit_test(control_bytes_are_escaped),
      cmocka_unit_test(nul_bytes_are_escaped_not_cut),
      cmocka_unit_test(output_is_cut_on_escape_boundary),
      cmocka_unit_test(levels_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
