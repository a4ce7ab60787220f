/* Unit tests for core/timestamp: every accepted request form, rejections, canonical output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/timestamp.h"

#define BASE INT64_C(1795559281123456) /* 2026-11-24T22:28:01.123456Z */

static int64_t parse_ok(const char *s) {
  int64_t us = -1;
  assert_true(timestamp_parse(s, strlen(s), &us));
  return us;
}

static void accepts_iso_forms(void **state) {
  (void)state;
  assert_int_equal(parse_ok("2026-11-24T22:28:01.123456Z"), BASE);
  assert_int_equal(parse_ok("2026-11-24T22:28:01.123456"), BASE);
  assert_int_equal(parse_ok("2026-11-24T23:28:01.123456+01:00"), BASE);
  assert_int_equal(parse_ok("2026-11-24T20:28:01.123456-0200"), BASE);
  assert_int_equal(parse_ok("2026-11-24 22:28:01.123456z"), BASE);
  assert_int_equal(parse_ok("2026-11-24T22:28:01.1234569Z"), BASE); /* truncated to µs */
  assert_int_equal(parse_ok("2026-11-24T22:28:01Z"), BASE - 123456);
  assert_int_equal(parse_ok("2026-11-24T22:28Z"), BASE - 1123456);
  assert_int_equal(parse_ok("2024-02-29T00:00:00Z"), INT64_C(1709164800000000));
}

static void accepts_unix_seconds(void **state) {
  (void)state;
  assert_int_equal(parse_ok("1795559281"), BASE - 123456);
  assert_int_equal(parse_ok("1795559281.123456"), BASE);
  assert_int_equal(parse_ok("1795559281.5"), BASE - 123456 + 500000);
  assert_int_equal(parse_ok("0"), 0);
}

static void rejects_garbage(void **state) {
  (void)state;
  const char *bad[] = {"",
                       "abc",
                       "2026-13-01T00:00:00Z",
                       "2026-02-29T00:00:00Z",
                       "2026-11-24",
                       "2026-11-24T25:00:00Z",
                       "2026-11-24T22:28:01.Z",
                       "1795559281.",
                       "-5",
                       "1e9",
                       "2026-11-24T22:28:01+99:00",
                       "2026-11-24T22:28:01Zjunk",
                       "1969-12-31T23:59:59Z",
                       "99999999999999",
                       " 1795559281"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t us;
    if (timestamp_parse(bad[i], strlen(bad[i]), &us)) fail_msg("accepted '%s'", bad[i]);
  }
}

static void formats_canonically_and_round_trips(void **state) {
  (void)state;
  char buf[TIMESTAMP_TEXT_SIZE];
  assert_string_equal(timestamp_format(BASE, buf), "2026-11-24T22:28:01.123456Z");
  assert_string_equal(timestamp_format(0, buf), "1970-01-01T00:00:00.000000Z");
  for (int64_t us = 0; us < INT64_C(4102444800000000); us += INT64_C(86399999999) + 7) {
    timestamp_format(us, buf);
    assert_int_equal(parse_ok(buf), us);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accepts_iso_forms),
      cmocka_unit_test(accepts_unix_seconds),
      cmocka_unit_test(rejects_garbage),
      cmocka_unit_test(formats_canonically_and_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
