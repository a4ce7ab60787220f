/* Unit tests for core/timestamp: every accepted request form (pydantic's datetime rules),
 * rejections, canonical output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/timestamp.h"

#define BASE          INT64_C(1795559281123456) /* 2026-11-24T22:28:01.123456Z */
#define US_PER_SECOND INT64_C(1000000)

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
  assert_int_equal(parse_ok("2026-11-24T23:28:01.123456+01"), BASE);
  assert_int_equal(parse_ok("2026-11-24T22:28:01.123456789012Z"), BASE); /* any length, truncated */
}

static void accepts_bare_dates_as_midnight_utc(void **state) {
  (void)state;
  assert_int_equal(parse_ok("2026-11-24"), INT64_C(1795478400000000));
  assert_int_equal(parse_ok("1970-01-01"), 0);
  assert_int_equal(parse_ok("2024-02-29"), INT64_C(1709164800000000));
  assert_int_equal(parse_ok("1969-12-31"), -INT64_C(86400000000));
}

static void accepts_times_before_1970(void **state) {
  (void)state;
  assert_int_equal(parse_ok("1969-12-31T23:59:59Z"), -US_PER_SECOND);
  assert_int_equal(parse_ok("1970-01-01T00:30:00+01:00"), -1800 * US_PER_SECOND);
  assert_int_equal(parse_ok("0001-01-01T00:00:00Z"), TIMESTAMP_MIN_US);
  assert_int_equal(parse_ok("0001-01-01"), TIMESTAMP_MIN_US);
  assert_int_equal(parse_ok("-1"), -US_PER_SECOND);
  assert_int_equal(parse_ok("-1.5"), -1500000);
  assert_int_equal(parse_ok("-20000000000"), INT64_C(-20000000000) * US_PER_SECOND); /* seconds */
  assert_int_equal(parse_ok("-20000000001"), INT64_C(-20000000001000));              /* milliseconds */
  assert_int_equal(parse_ok("-62135596800000"), TIMESTAMP_MIN_US);
}

static void milliseconds_above_2e10(void **state) {
  (void)state;
  /* JavaScript's Date.now(): 13 digits of milliseconds */
  assert_int_equal(parse_ok("1795559281123"), BASE - 456);
  assert_int_equal(parse_ok("1795559281123.456"), BASE);
  assert_int_equal(parse_ok("1795559281123.4569"), BASE); /* truncated to µs */
  assert_int_equal(parse_ok("-1795559281123"), -(BASE - 456));
  /* the watershed itself is still seconds (year 2603); just above it is milliseconds */
  assert_int_equal(parse_ok("20000000000"), INT64_C(20000000000) * US_PER_SECOND);
  assert_int_equal(parse_ok("20000000000.5"), INT64_C(20000000000500));
  assert_int_equal(parse_ok("20000000001"), INT64_C(20000000001000));
  assert_int_equal(parse_ok("253402300799999"), TIMESTAMP_MAX_US - 999);
}

static void accepts_unix_seconds(void **state) {
  (void)state;
  assert_int_equal(parse_ok("1795559281"), BASE - 123456);
  assert_int_equal(parse_ok("1795559281.123456"), BASE);
  assert_int_equal(parse_ok("1795559281.5"), BASE - 123456 + 500000);
  assert_int_equal(parse_ok("0"), 0);
  assert_int_equal(parse_ok("20000000000.000000"), INT64_C(20000000000) * US_PER_SECOND);
  assert_int_equal(parse_ok("20261124"), INT64_C(20261124) * US_PER_SECOND); /* digits only: a number */
  assert_int_equal(parse_ok("0.000001"), 1);
}

static void rejects_garbage(void **state) {
  (void)state;
  const char *bad[] = {"",
                       "abc",
                       "2026-13-01T00:00:00Z",
                       "2026-02-29T00:00:00Z",
                       "2026-11-24T",
                       "2026-11-24Z",
                       "2026-11-24T22",
                       "0000-01-01",
                       "2026-1-24",
                       "2026-11-24T25:00:00Z",
                       "2026-11-24T22:28:01.Z",
                       "1795559281.",
                       "-",
                       "--5",
                       "+5",
                       ".5",
                       "5.",
                       "-.5",
                       "1e9",
                       "0x10",
                       "1,5",
                       "-62135596800001",
                       "253402300800000",
                       "9999999999999999",
                       "9999-12-31T23:59:59-00:01",
                       "0001-01-01T00:00:00+00:01",
                       "2026-11-24T22:28:01+99:00",
                       "2026-11-24T22:28:01Zjunk",
                       "999999999999999999",
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
  assert_string_equal(timestamp_format(-1, buf), "1969-12-31T23:59:59.999999Z");
  assert_string_equal(timestamp_format(TIMESTAMP_MIN_US, buf), "0001-01-01T00:00:00.000000Z");
  assert_string_equal(timestamp_format(TIMESTAMP_MAX_US, buf), "9999-12-31T23:59:59.999999Z");
  for (int64_t us = TIMESTAMP_MIN_US; us < TIMESTAMP_MAX_US; us += INT64_C(8639999999999) + 7) {
    timestamp_format(us, buf);
    assert_int_equal(parse_ok(buf), us);
  }
  for (int64_t us = 0; us < INT64_C(4102444800000000); us += INT64_C(86399999999) + 7) {
    timestamp_format(us, buf);
    assert_int_equal(parse_ok(buf), us);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accepts_iso_forms),
      cmocka_unit_test(accepts_bare_dates_as_midnight_utc),
      cmocka_unit_test(accepts_times_before_1970),
      cmocka_unit_test(accepts_unix_seconds),
      cmocka_unit_test(milliseconds_above_2e10),
      cmocka_unit_test(rejects_garbage),
      cmocka_unit_test(formats_canonically_and_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
