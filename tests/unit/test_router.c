/* Unit tests for the http router: captures, trailing slashes, 404 and 405 with Allow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"

static void handler_a(http_exchange *ex, void *app) { (void)ex, (void)app; }
static void handler_b(http_exchange *ex, void *app) { (void)ex, (void)app; }
static void handler_c(http_exchange *ex, void *app) { (void)ex, (void)app; }

static const http_route routes[] = {
    {"POST", "/api/messages/", handler_a},
    {"GET", "/api/messages/conversation/{}", handler_b},
    {"GET", "/api/messages/conversation/{}/before", handler_c},
    {"DELETE", "/api/messages/conversation/{}", handler_a},
};
static const http_routes table = {.routes = routes, .count = 4};

static const http_route *match(const char *method, const char *path, const char **params, unsigned *status,
                               char *allow) {
  static char buf[256];
  return http_route_match(&table, method, path, params, buf, sizeof buf, status, allow, 64);
}

static void captures_segments(void **state) {
  (void)state;
  const char *params[HTTP_MAX_PATH_PARAMS];
  unsigned status = 0;
  char allow[64];
  const http_route *r = match("GET", "/api/messages/conversation/42/before", params, &status, allow);
  assert_non_null(r);
  assert_ptr_equal(r->handler, handler_c);
  assert_string_equal(params[0], "42");
  r = match("HEAD", "/api/messages/conversation/abc", params, &status, allow);
  assert_non_null(r);
  assert_ptr_equal(r->handler, handler_b);
  assert_string_equal(params[0], "abc");
}

static void trailing_slash_is_optional(void **state) {
  (void)state;
  const char *params[HTTP_MAX_PATH_PARAMS];
  unsigned status = 0;
  char allow[64];
  assert_non_null(match("POST", "/api/messages", params, &status, allow));
  assert_non_null(match("POST", "/api/messages/", params, &status, allow));
  assert_non_null(match("GET", "/api/messages/conversation/7/", params, &status, allow));
}

static void not_found_and_method_not_allowed(void **state) {
  (void)state;
  const char *params[HTTP_MAX_PATH_PARAMS];
  unsigned status = 0;
  char allow[64];
  assert_null(match("GET", "/api/messages/conversation/", params, &status, allow)); /* empty capture */
  assert_int_equal(status, 404);
  assert_null(match("GET", "/nope", params, &status, allow));
  assert_int_equal(status, 404);
  assert_null(match("GET", "/api/messages", params, &status, allow));
  assert_int_equal(status, 405);
  assert_string_equal(allow, "POST");
  assert_null(match("PUT", "/api/messages/conversation/9", params, &status, allow));
  assert_int_equal(status, 405);
  assert_string_equal(allow, "GET, DELETE");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(captures_segments),
      cmocka_unit_test(trailing_slash_is_optional),
      cmocka_unit_test(not_found_and_method_not_allowed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
