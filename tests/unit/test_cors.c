/* Unit tests for api/cors (the policy: parsing the origin list, the Allow-Origin decision)
 * and the CORS default of app/config (any origin with auth off, none with auth on). The HTTP
 * side (headers on responses, preflights) is covered by tests/http/test_cors.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/cors.h"
#include "app/config.h"

static cors_policy parse_ok(const char *list) {
  cors_policy p;
  char err[200];
  if (!cors_policy_parse(&p, list, err, sizeof err)) fail_msg("'%s' rejected: %s", list, err);
  return p;
}

static void any_origin(void **state) {
  (void)state;
  cors_policy p = parse_ok("*");
  assert_true(p.any_origin);
  assert_string_equal(cors_allow_origin(&p, "http://a.example"), "*");
  assert_string_equal(cors_allow_origin(&p, "null"), "*");
  assert_string_equal(cors_allow_origin(&p, NULL), "*");
  assert_false(cors_varies_by_origin(&p));
  cors_policy_free(&p);
  p = parse_ok(" https://a.example , * ");
  assert_true(p.any_origin);
  assert_false(cors_varies_by_origin(&p));
  cors_policy_free(&p);
}

static void listed_origins_are_echoed(void **state) {
  (void)state;
  cors_policy p = parse_ok(" https://a.example,http://localhost:5173 ,,null");
  assert_int_equal(p.count, 3);
  assert_true(cors_varies_by_origin(&p));
  assert_string_equal(cors_allow_origin(&p, "https://a.example"), "https://a.example");
  assert_string_equal(cors_allow_origin(&p, "HTTPS://A.EXAMPLE"), "HTTPS://A.EXAMPLE");
  assert_string_equal(cors_allow_origin(&p, "http://localhost:5173"), "http://localhost:5173");
  assert_string_equal(cors_allow_origin(&p, "null"), "null");
  assert_null(cors_allow_origin(&p, "http://a.example"));       /* other scheme */
  assert_null(cors_allow_origin(&p, "https://a.example:8443")); /* other port */
  assert_null(cors_allow_origin(&p, "https://a.example.evil")); /* no prefix match */
  assert_null(cors_allow_origin(&p, "https://b.example"));
  assert_null(cors_allow_origin(&p, NULL));
  cors_policy_free(&p);
}

static void empty_list_allows_nothing(void **state) {
  (void)state;
  const char *lists[] = {"", " ", ",", " , ,"};
  for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
    cors_policy p = parse_ok(lists[i]);
    assert_false(p.any_origin);
    assert_int_equal(p.count, 0);
    assert_false(cors_varies_by_origin(&p));
    assert_null(cors_allow_origin(&p, "http://a.example"));
    assert_null(cors_allow_origin(&p, NULL));
    cors_policy_free(&p);
  }
}

static void malformed_origins_are_refused(void **state) {
  (void)state;
  const char *bad[] = {"https://a.example/",  "https://a.example/app", "a.example",     "https://",
                       "://a.example",        "1http://a.example",     "https://a b",   "**",
                       "https://a.example?x", "http://a.example#f",    "ftp:/a.example"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cors_policy p;
    char err[200] = "";
    if (cors_policy_parse(&p, bad[i], err, sizeof err)) fail_msg("accepted '%s'", bad[i]);
    assert_non_null(strstr(err, "is not an origin"));
    assert_null(p.text);
    assert_null(p.origins);
    cors_policy_free(&p); /* harmless on the empty policy */
  }
}

static void default_depends_on_auth(void **state) {
  (void)state;
  serve_settings s = {0};
  assert_string_equal(serve_cors_origins(&s), "*");
  s.auth_enabled = true;
  assert_string_equal(serve_cors_origins(&s), "");
  s.cors_origins = "https://a.example";
  assert_string_equal(serve_cors_origins(&s), "https://a.example");
  s.auth_enabled = false;
  s.cors_origins = "";
  assert_string_equal(serve_cors_origins(&s), "");
}

static void env_sets_the_list(void **state) {
  (void)state;
  serve_settings s;
  unsetenv("MESSENGER_CORS_ORIGINS");
  unsetenv("MESSENGER_JWT_SECRET");
  unsetenv("MESSENGER_JWT_PUBLIC_KEY_FILE");
  serve_settings_from_env(&s);
  assert_null(s.cors_origins);
  assert_string_equal(serve_cors_origins(&s), "*");
  setenv("MESSENGER_CORS_ORIGINS", "", 1); /* set but empty: no origin, not the default */
  serve_settings_from_env(&s);
  assert_string_equal(serve_cors_origins(&s), "");
  setenv("MESSENGER_CORS_ORIGINS", "https://a.example", 1);
  serve_settings_from_env(&s);
  assert_string_equal(serve_cors_origins(&s), "https://a.example");
  setenv("MESSENGER_JWT_SECRET", "a-secret", 1); /* auth on: no origin unless listed */
  serve_settings_from_env(&s);
  assert_true(s.auth_enabled);
  assert_string_equal(serve_cors_origins(&s), "https://a.example");
  unsetenv("MESSENGER_CORS_ORIGINS");
  serve_settings_from_env(&s);
  assert_string_equal(serve_cors_origins(&s), "");
  unsetenv("MESSENGER_JWT_SECRET");
  setenv("MESSENGER_JWT_PUBLIC_KEY_FILE", "/etc/key.pem", 1);
  serve_settings_from_env(&s);
  assert_true(s.auth_enabled);
  unsetenv("MESSENGER_JWT_PUBLIC_KEY_FILE");
  serve_settings_from_env(&s);
  assert_false(s.auth_enabled);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(any_origin),
      cmocka_unit_test(listed_origins_are_echoed),
      cmocka_unit_test(empty_list_allows_nothing),
      cmocka_unit_test(malformed_origins_are_refused),
      cmocka_unit_test(default_depends_on_auth),
      cmocka_unit_test(env_sets_the_list),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
