/* Unit tests for api/json_writer: output parses back (with jansson) to exactly what went in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/json_writer.h"

static char *write_string(const char *text, size_t len, size_t *out_len) {
  json_writer w;
  json_writer_init(&w, 1); /* tiny start: exercises growth */
  json_writer_string(&w, text, len);
  return json_writer_finish(&w, out_len);
}

static void strings_round_trip(void **state) {
  (void)state;
  const char *samples[] = {"",
                           "hello",
                           "quote \" and backslash \\",
                           "tab\tnl\ncr\r\b\f",
                           "\x01\x1f control",
                           "é 🎉 お疲れ様です שלום",
                           "/slash/ stays"};
  for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
    size_t len;
    char *out = write_string(samples[i], strlen(samples[i]), &len);
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    json_error_t err;
    json_t *v = json_loads(out, JSON_DECODE_ANY, &err);
    assert_non_null(v);
    assert_string_equal(json_string_value(v), samples[i]);
    json_decref(v);
    free(out);
  }
}

static void controls_are_escaped(void **state) {
  (void)state;
  size_t len;
  char *out = write_string("a\x01\"\n", 4, &len);
  assert_string_equal(out, "\"a\\u0001\\\"\\n\"");
  free(out);
}

static void integers(void **state) {
  (void)state;
  const int64_t values[] = {0, 1, -1, 9007199254740991, INT64_MAX, INT64_MIN};
  const char *texts[] = {"0", "1", "-1", "9007199254740991", "9223372036854775807", "-9223372036854775808"};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    json_writer w;
    json_writer_init(&w, 0);
    json_writer_int(&w, values[i]);
    size_t len;
    char *out = json_writer_finish(&w, &len);
    assert_string_equal(out, texts[i]);
    free(out);
  }
}

static void documents_compose(void **state) {
  (void)state;
  json_writer w;
  json_writer_init(&w, 8);
  json_writer_lit(&w, "{\"a\":");
  json_writer_int(&w, 42);
  json_writer_lit(&w, ",\"b\":");
  json_writer_string(&w, "x", 1);
  json_writer_lit(&w, "}");
  size_t len;
  char *out = json_writer_finish(&w, &len);
  assert_string_equal(out, "{\"a\":42,\"b\":\"x\"}");
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(strings_round_trip),
      cmocka_unit_test(controls_are_escaped),
      cmocka_unit_test(integers),
      cmocka_unit_test(documents_compose),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
