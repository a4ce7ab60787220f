/* Unit tests for api/send_request: the POST /api/messages/ body rules on bare bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/send_request.h"

/* Parses body and returns the number of validation errors (0 when accepted). */
static size_t parse(const char *body, const char *key, send_request *req) {
  validation_errors v;
  validation_init(&v);
  *req = (send_request){0};
  json_t *parsed = api_parse_send_body(body, strlen(body), key, &v, req);
  size_t errors = json_array_size(v.list);
  assert_true((parsed != NULL) == (errors == 0));
  json_decref(parsed);
  validation_free(&v);
  return errors;
}

static void accepts_a_valid_body(void **state) {
  (void)state;
  send_request req;
  validation_errors v;
  validation_init(&v);
  const char *body = "{\"sender_id\":1,\"receiver_id\":9007199254740991,\"content\":\"h\\u00e9\"}";
  json_t *parsed = api_parse_send_body(body, strlen(body), "key-1", &v, &req);
  assert_non_null(parsed);
  assert_int_equal(req.sender_id, 1);
  assert_int_equal(req.receiver_id, 9007199254740991);
  assert_int_equal(req.content_len, 3);
  assert_memory_equal(req.content, "h\xc3\xa9", 3);
  assert_string_equal(req.idempotency_key, "key-1");
  json_decref(parsed);
  validation_free(&v);
}

static void rejects_bad_bodies(void **state) {
  (void)state;
  send_request req;
  assert_int_equal(parse("", NULL, &req), 1);                 /* not JSON */
  assert_int_equal(parse("{\"sender_id\":1", NULL, &req), 1); /* truncated */
  assert_int_equal(parse("[1,2]", NULL, &req), 1);            /* not an object */
  assert_int_equal(parse("{}", NULL, &req), 3);               /* all missing */
  assert_int_equal(parse("{\"sender_id\":\"1\",\"receiver_id\":2.0,\"content\":3}", NULL, &req),
                   3); /* types */
  assert_int_equal(parse("{\"sender_id\":0,\"receiver_id\":9007199254740992,\"content\":\"x\"}", NULL, &req),
                   2);
  assert_int_equal(parse("{\"sender_id\":5,\"receiver_id\":5,\"content\":\"x\"}", NULL, &req),
                   1); /* same user */
  assert_int_equal(parse("{\"sender_id\":1,\"receiver_id\":2,\"content\":\"\"}", NULL, &req), 1); /* empty */
  assert_int_equal(parse("{\"sender_id\":1,\"receiver_id\":2,\"content\":\"x\"}", "", &req),
                   1); /* empty key */
  assert_int_equal(parse("{\"sender_id\":1,\"receiver_id\":2,\"content\":\"x\"}", "a b", &req),
                   1); /* space */
}

static void limits_content_to_4096_code_points(void **state) {
  (void)state;
  send_request req;
  static char body[3 * 4097 + 64];
  for (int points = 4096; points <= 4097; points++) {
    size_t n = (size_t)snprintf(body, sizeof body, "{\"sender_id\":1,\"receiver_id\":2,\"content\":\"");
    for (int i = 0; i < points; i++) { /* U+20AC, 3 bytes each: the limit counts code points */
      memcpy(body + n, "\xe2\x82\xac", 3);
      n += 3;
    }
    memcpy(body + n, "\"}", 3);
    assert_int_equal(parse(body, NULL, &req), points == 4096 ? 0 : 1);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accepts_a_valid_body),
      cmocka_unit_test(rejects_bad_bodies),
      cmocka_unit_test(limits_content_to_4096_code_points),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
