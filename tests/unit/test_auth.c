/* auth: the verifier built from its config (secret or PEM file), and its cache of verified
 * tokens: a hit saves the signature check but never outlives the token's exp + leeway, and
 * only tokens that verified are kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/auth.h"

#define NOW    1800000000
#define SECRET "an HS256 secret of 32 bytes or more!"

static auth_verifier *hs256_verifier(const char *issuer, const char *audience) {
  auth_config cfg = {.hs256_secret = SECRET, .issuer = issuer, .audience = audience};
  char err[256];
  auth_verifier *v = auth_verifier_new(&cfg, err, sizeof err);
  if (!v) fail_msg("verifier: %s", err);
  return v;
}

static char *token_for(int64_t user, int64_t now, int64_t ttl, const char *issuer, const char *audience) {
  char err[160];
  jwt_key *key = jwt_key_hs256(SECRET, strlen(SECRET), err, sizeof err);
  char *t = jwt_sign_hs256(key, user, now, ttl, issuer, audience);
  jwt_key_free(key);
  assert_non_null(t);
  return t;
}

static void repeated_token_is_verified_once(void **state) {
  (void)state;
  auth_verifier *v = hs256_verifier(NULL, NULL);
  assert_int_equal(auth_verifier_alg(v), JWT_HS256);
  char *t = token_for(11, NOW, 600, NULL, NULL);
  for (int i = 0; i < 100; i++) {
    int64_t user = 0;
    assert_int_equal(auth_verify(v, t, strlen(t), NOW + i, &user), JWT_OK);
    assert_int_equal(user, 11);
  }
  auth_stats st = auth_verifier_stats(v);
  assert_int_equal(st.verified, 1);
  assert_int_equal(st.cache_hits, 99);
  free(t);
  auth_verifier_free(v);
}

static void cached_token_still_expires(void **state) {
  (void)state;
  auth_verifier *v = hs256_verifier(NULL, NULL);
  char *t = token_for(12, NOW, 60, NULL, NULL);
  int64_t user;
  assert_int_equal(auth_verify(v, t, strlen(t), NOW, &user), JWT_OK);
  assert_int_equal(auth_verify(v, t, strlen(t), NOW + 60 + AUTH_LEEWAY_S, &user), JWT_OK);
  assert_int_equal(auth_verify(v, t, strlen(t), NOW + 61 + AUTH_LEEWAY_S, &user), JWT_EXPIRED);
  assert_int_equal(auth_verify(v, t, strlen(t), NOW + 62 + AUTH_LEEWAY_S, &user), JWT_EXPIRED);
  free(t);
  auth_verifier_free(v);
}

static void refused_tokens_are_not_cached(void **state) {
  (void)state;
  auth_verifier *v = hs256_verifier("iss-a", NULL);
  char *t = token_for(13, NOW, 600, "iss-b", NULL);
  int64_t user;
  for (int i = 0; i < 3; i++) assert_int_equal(auth_verify(v, t, strlen(t), NOW, &user), JWT_WRONG_ISSUER);
  auth_stats st = auth_verifier_stats(v);
  assert_int_equal(st.verified, 3);
  assert_int_equal(st.cache_hits, 0);
  /* a token differing in one byte is another token: verified on its own */
  char *good = token_for(13, NOW, 600, "iss-a", NULL);
  assert_int_equal(auth_verify(v, good, strlen(good), NOW, &user), JWT_OK);
  good[strlen(good) - 1] ^= 1;
  assert_int_not_equal(auth_verify(v, good, strlen(good), NOW, &user), JWT_OK);
  free(good);
  free(t);
  auth_verifier_free(v);
}

static void many_tokens_stay_bounded_and_correct(void **state) {
  (void)state;
  auth_verifier *v = hs256_verifier(NULL, "aud");
  enum { N = AUTH_CACHE_ENTRIES * 2 };
  for (int64_t u = 1; u <= N; u++) {
    char *t = token_for(u, NOW, 600, NULL, "aud");
    int64_t user = 0;
    assert_int_equal(auth_verify(v, t, strlen(t), NOW, &user), JWT_OK);
    assert_int_equal(user, u);
    free(t);
  }
  /* the most recent tokens are still answered right, whether cached or evicted */
  for (int64_t u = N - 100; u <= N; u++) {
    char *t = token_for(u, NOW, 600, NULL, "aud");
    int64_t user = 0;
    assert_int_equal(auth_verify(v, t, strlen(t), NOW + 1, &user), JWT_OK);
    assert_int_equal(user, u);
    free(t);
  }
  auth_stats st = auth_verifier_stats(v);
  assert_true(st.verified >= N);
  auth_verifier_free(v);
}

static void config_errors(void **state) {
  (void)state;
  char err[256];
  auth_config none = {0};
  assert_false(auth_config_enabled(&none));
  assert_null(auth_verifier_new(&none, err, sizeof err));
  auth_config both = {.hs256_secret = SECRET, .public_key_file = "/nonexistent"};
  assert_null(auth_verifier_new(&both, err, sizeof err));
  assert_non_null(strstr(err, "not both"));
  auth_config missing = {.public_key_file = "/nonexistent/key.pem"};
  assert_null(auth_verifier_new(&missing, err, sizeof err));
  assert_non_null(strstr(err, "/nonexistent/key.pem"));
  auth_config short_secret = {.hs256_secret = "short"};
  assert_null(auth_verifier_new(&short_secret, err, sizeof err));
}

static void public_key_file(void **state) {
  (void)state;
  char path[] = "/tmp/messenger-test-key-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  assert_int_equal(PEM_write_PUBKEY(f, pkey), 1);
  fclose(f);
  auth_config cfg = {.public_key_file = path};
  char err[256];
  auth_verifier *v = auth_verifier_new(&cfg, err, sizeof err);
  if (!v) fail_msg("%s", err);
  assert_int_equal(auth_verifier_alg(v), JWT_ES256);
  /* an HS256 token is refused by an ES256 verifier */
  char *t = token_for(5, NOW, 600, NULL, NULL);
  int64_t user;
  assert_int_equal(auth_verify(v, t, strlen(t), NOW, &user), JWT_WRONG_ALG);
  free(t);
  auth_verifier_free(v);
  EVP_PKEY_free(pkey);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(repeated_token_is_verified_once),
      cmocka_unit_test(cached_token_still_expires),
      cmocka_unit_test(refused_tokens_are_not_cached),
      cmocka_unit_test(many_tokens_stay_bounded_and_correct),
      cmocka_unit_test(config_errors),
      cmocka_unit_test(public_key_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
