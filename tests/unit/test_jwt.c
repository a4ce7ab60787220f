/* auth/jwt: tokens signed here with libcrypto (HS256, RS256, ES256 keys generated per run)
 * against the verifier: good tokens pass; every forgery, wrong algorithm (none, confusion),
 * bad claim and malformed shape is refused with its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth/jwt.h"

#define NOW    1800000000
#define SECRET "an HS256 secret of 32 bytes or more!"

static const jwt_expect plain = {.now_s = NOW, .leeway_s = 30};

/* ---- signing helpers (the test's own issuer) ---- */

static void b64(const char *text, char *out) {
  jwt_base64url_encode((const unsigned char *)text, strlen(text), out);
}

/* header.payload of JSON texts, into out. */
static size_t signing_input(const char *header, const char *payload, char *out) {
  b64(header, out);
  size_t n = strlen(out);
  out[n++] = '.';
  b64(payload, out + n);
  return strlen(out);
}

static void append_sig(char *token, const unsigned char *sig, size_t len) {
  size_t n = strlen(token);
  token[n++] = '.';
  jwt_base64url_encode(sig, len, token + n);
}

static char *hs256_token_with(const char *secret, size_t secret_len, const char *header,
                              const char *payload) {
  char *t = calloc(1, 4 * JWT_MAX_LEN);
  size_t n = signing_input(header, payload, t);
  unsigned char mac[32];
  unsigned int len = 0;
  assert_non_null(HMAC(EVP_sha256(), secret, (int)secret_len, (unsigned char *)t, n, mac, &len));
  append_sig(t, mac, len);
  return t;
}

static char *hs256_token(const char *payload) {
  return hs256_token_with(SECRET, strlen(SECRET), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload);
}

static char *pkey_token(EVP_PKEY *pkey, const char *header, const char *payload) {
  char *t = calloc(1, 4 * JWT_MAX_LEN);
  size_t n = signing_input(header, payload, t);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned char sig[1024];
  size_t sig_len = sizeof sig;
  assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey), 1);
  assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, (unsigned char *)t, n), 1);
  EVP_MD_CTX_free(ctx);
  if (EVP_PKEY_is_a(pkey, "EC")) { /* DER -> R || S */
    const unsigned char *p = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
    unsigned char rs[64];
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32), 32);
    ECDSA_SIG_free(es);
    append_sig(t, rs, 64);
  } else {
    append_sig(t, sig, sig_len);
  }
  return t;
}

static char *public_pem(EVP_PKEY *pkey) {
  BIO *bio = BIO_new(BIO_s_mem());
  assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
  char *data;
  long len = BIO_get_mem_data(bio, &data);
  char *pem = calloc(1, (size_t)len + 1);
  memcpy(pem, data, (size_t)len);
  BIO_free(bio);
  return pem;
}

static jwt_key *key_of(EVP_PKEY *pkey) {
  char *pem = public_pem(pkey);
  char err[160];
  jwt_key *key = jwt_key_public_pem(pem, strlen(pem), err, sizeof err);
  if (!key) fail_msg("key refused: %s", err);
  free(pem);
  return key;
}

static jwt_key *hs256_key(void) {
  char err[160];
  jwt_key *key = jwt_key_hs256(SECRET, strlen(SECRET), err, sizeof err);
  assert_non_null(key);
  return key;
}

static jwt_result verify_as(const jwt_key *key, const char *token, const jwt_expect *e, int64_t *user) {
  jwt_claims c = {0};
  jwt_result r = jwt_verify(key, token, strlen(token), e, &c);
  if (user) *user = c.user_id;
  return r;
}

static jwt_result verify_payload(const char *payload, const jwt_expect *e) {
  jwt_key *key = hs256_key();
  char *t = hs256_token(payload);
  jwt_result r = verify_as(key, t, e, NULL);
  free(t);
  jwt_key_free(key);
  return r;
}

/* ---- HS256 ---- */

static void hs256_good_token_gives_its_subject(void **state) {
  (void)state;
  jwt_key *key = hs256_key();
  char *t = hs256_token("{\"sub\":\"42\",\"exp\":1800000100}");
  int64_t user = 0;
  assert_int_equal(verify_as(key, t, &plain, &user), JWT_OK);
  assert_int_equal(user, 42);
  free(t);
  t = hs256_token("{\"sub\":9007199254740991,\"exp\":1800000100.75,\"nbf\":1799999000}");
  assert_int_equal(verify_as(key, t, &plain, &user), JWT_OK);
  assert_int_equal(user, INT64_C(9007199254740991));
  free(t);
  jwt_key_free(key);
}

static void tampered_payload_or_signature_is_refused(void **state) {
  (void)state;
  jwt_key *key = hs256_key();
  char *good = hs256_token("{\"sub\":\"42\",\"exp\":1800000100}");
  char *other = hs256_token("{\"sub\":\"43\",\"exp\":1800000100}");
  /* other's payload with good's signature */
  char forged[1024];
  const char *good_sig = strrchr(good, '.');
  size_t head = (size_t)(strrchr(other, '.') - other);
  memcpy(forged, other, head);
  strcpy(forged + head, good_sig);
  assert_int_equal(verify_as(key, forged, &plain, NULL), JWT_BAD_SIGNATURE);
  /* one signature character changed */
  size_t last = strlen(good) - 2;
  good[last] = good[last] == 'A' ? 'B' : 'A';
  assert_int_equal(verify_as(key, good, &plain, NULL), JWT_BAD_SIGNATURE);
  /* signed with another secret */
  char *wrong = hs256_token_with("another secret that is long enough!!", 36, "{\"alg\":\"HS256\"}",
                                 "{\"sub\":\"42\",\"exp\":1800000100}");
  assert_int_equal(verify_as(key, wrong, &plain, NULL), JWT_BAD_SIGNATURE);
  free(good);
  free(other);
  free(wrong);
  jwt_key_free(key);
}

static void alg_none_and_other_algs_are_refused(void **state) {
  (void)state;
  jwt_key *key = hs256_key();
  char t[512];
  signing_input("{\"alg\":\"none\"}", "{\"sub\":\"42\",\"exp\":1800000100}", t);
  strcat(t, ".");
  assert_int_equal(verify_as(key, t, &plain, NULL), JWT_WRONG_ALG);
  strcat(t, "AAAA");
  assert_int_equal(verify_as(key, t, &plain, NULL), JWT_WRONG_ALG);
  const char *headers[] = {"{\"alg\":\"HS512\"}", "{\"alg\":\"hs256\"}", "{\"alg\":\"RS256\"}",
                           "{\"alg\":\"None\"}"};
  for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
    char *h = hs256_token_with(SECRET, strlen(SECRET), headers[i], "{\"sub\":\"42\",\"exp\":1800000100}");
    assert_int_equal(verify_as(key, h, &plain, NULL), JWT_WRONG_ALG);
    free(h);
  }
  jwt_key_free(key);
}

static void exp_and_nbf_with_leeway(void **state) {
  (void)state;
  assert_int_equal(verify_payload("{\"sub\":\"1\"}", &plain), JWT_EXPIRED);
  assert_int_equal(verify_payload("{\"sub\":\"1\",\"exp\":\"1800000100\"}", &plain), JWT_EXPIRED);
  assert_int_equal(verify_payload("{\"sub\":\"1\",\"exp\":1799999969}", &plain), JWT_EXPIRED);
  assert_int_equal(verify_payload("{\"sub\":\"1\",\"exp\":1799999970}", &plain), JWT_OK); /* 30 s leeway */
  assert_int_equal(verify_payload("{\"sub\":\"1\",\"exp\":1e300}", &plain), JWT_EXPIRED);
  assert_int_equal(verify_payload("{\"sub\":\"1\",\"exp\":1800000100,\"nbf\":1800000031}", &plain),
                   JWT_NOT_YET_VALID);
  assert_int_equal(verify_payload("{\"sub\":\"1\",\"exp\":1800000100,\"nbf\":1800000030}", &plain), JWT_OK);
  assert_int_equal(verify_payload("{\"sub\":\"1\",\"exp\":1800000100,\"nbf\":null}", &plain),
                   JWT_NOT_YET_VALID);
}

static void issuer_and_audience(void **state) {
  (void)state;
  jwt_expect e = plain;
  e.issuer = "https://login.example";
  e.audience = "messenger";
  assert_int_equal(
      verify_payload(
          "{\"sub\":\"1\",\"exp\":1800000100,\"iss\":\"https://login.example\",\"aud\":\"messenger\"}", &e),
      JWT_OK);
  assert_int_equal(verify_payload("{\"sub\":\"1\",\"exp\":1800000100,\"iss\":\"https://login.example\","
                                  "\"aud\":[\"other\",\"messenger\"]}",
                                  &e),
                   JWT_OK);
  assert_int_equal(
      verify_payload(
          "{\"sub\":\"1\",\"exp\":1800000100,\"iss\":\"https://evil.example\",\"aud\":\"messenger\"}", &e),
      JWT_WRONG_ISSUER);
  assert_int_equal(verify_payload("{\"sub\":\"1\",\"exp\":1800000100,\"aud\":\"messenger\"}", &e),
                   JWT_WRONG_ISSUER);
  assert_int_equal(
      verify_payload("{\"sub\":\"1\",\"exp\":1800000100,\"iss\":\"https://login.example\",\"aud\":\"other\"}",
                     &e),
      JWT_WRONG_AUDIENCE);
  assert_int_equal(verify_payload("{\"sub\":\"1\",\"exp\":1800000100,\"iss\":\"https://login.example\"}", &e),
                   JWT_WRONG_AUDIENCE);
  assert_int_equal(verify_payload("{\"sub\":\"1\",\"exp\":1800000100,\"iss\":\"https://login.example\","
                                  "\"aud\":[\"other\",7]}",
                                  &e),
                   JWT_WRONG_AUDIENCE);
  /* no audience configured: a token meant for some audience is not for us */
  assert_int_equal(verify_payload("{\"sub\":\"1\",\"exp\":1800000100,\"aud\":\"messenger\"}", &plain),
                   JWT_WRONG_AUDIENCE);
  /* no issuer configured: any iss */
  assert_int_equal(verify_payload("{\"sub\":\"1\",\"exp\":1800000100,\"iss\":\"x\"}", &plain), JWT_OK);
}

static void subject_must_be_a_user_id(void **state) {
  (void)state;
  const char *bad[] = {"{\"exp\":1800000100}",
                       "{\"exp\":1800000100,\"sub\":\"0\"}",
                       "{\"exp\":1800000100,\"sub\":\"01\"}",
                       "{\"exp\":1800000100,\"sub\":\"-1\"}",
                       "{\"exp\":1800000100,\"sub\":\"+1\"}",
                       "{\"exp\":1800000100,\"sub\":\"1a\"}",
                       "{\"exp\":1800000100,\"sub\":\"\"}",
                       "{\"exp\":1800000100,\"sub\":\"9007199254740992\"}",
                       "{\"exp\":1800000100,\"sub\":\"99999999999999999999\"}",
                       "{\"exp\":1800000100,\"sub\":0}",
                       "{\"exp\":1800000100,\"sub\":9007199254740992}",
                       "{\"exp\":1800000100,\"sub\":1.0}",
                       "{\"exp\":1800000100,\"sub\":true}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(verify_payload(bad[i], &plain), JWT_BAD_SUBJECT);
}

static void malformed_tokens(void **state) {
  (void)state;
  jwt_key *key = hs256_key();
  char *good = hs256_token("{\"sub\":\"42\",\"exp\":1800000100}");
  char t[1024];
  const char *shapes[] = {
      "", ".", "..", "a.b", "a.b.c.d", "eyJhbGciOiJIUzI1NiJ9", "!!!.e30.AAAA", "e30.e30.AAAA"};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    assert_int_equal(verify_as(key, shapes[i], &plain, NULL), JWT_MALFORMED);
  snprintf(t, sizeof t, "%s.AAAA", good); /* four parts */
  assert_int_equal(verify_as(key, t, &plain, NULL), JWT_MALFORMED);
  snprintf(t, sizeof t, "%s=", good); /* padding */
  assert_int_equal(verify_as(key, t, &plain, NULL), JWT_MALFORMED);
  snprintf(t, sizeof t, " %s", good);
  assert_int_equal(verify_as(key, t, &plain, NULL), JWT_MALFORMED);
  /* a signed payload that is not a JSON object */
  char *arr = hs256_token_with(SECRET, strlen(SECRET), "{\"alg\":\"HS256\"}", "[1,2]");
  assert_int_equal(verify_as(key, arr, &plain, NULL), JWT_MALFORMED);
  char *dup = hs256_token_with(SECRET, strlen(SECRET), "{\"alg\":\"HS256\"}",
                               "{\"sub\":\"1\",\"sub\":\"2\",\"exp\":1800000100}");
  assert_int_equal(verify_as(key, dup, &plain, NULL), JWT_MALFORMED);
  char *crit = hs256_token_with(SECRET, strlen(SECRET), "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
                                "{\"sub\":\"1\",\"exp\":1800000100}");
  assert_int_equal(verify_as(key, crit, &plain, NULL), JWT_MALFORMED);
  char *noalg =
      hs256_token_with(SECRET, strlen(SECRET), "{\"typ\":\"JWT\"}", "{\"sub\":\"1\",\"exp\":1800000100}");
  assert_int_equal(verify_as(key, noalg, &plain, NULL), JWT_MALFORMED);
  /* too long */
  char *big = malloc(JWT_MAX_LEN + 2);
  memset(big, 'A', JWT_MAX_LEN + 1);
  big[JWT_MAX_LEN + 1] = '\0';
  assert_int_equal(verify_as(key, big, &plain, NULL), JWT_MALFORMED);
  free(big);
  free(good);
  free(arr);
  free(dup);
  free(crit);
  free(noalg);
  jwt_key_free(key);
}

/* ---- RS256 / ES256 ---- */

static void rs256_and_algorithm_confusion(void **state) {
  (void)state;
  EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  assert_non_null(pkey);
  jwt_key *key = key_of(pkey);
  assert_int_equal(jwt_key_alg(key), JWT_RS256);
  const char *payload = "{\"sub\":\"5\",\"exp\":1800000100}";
  char *t = pkey_token(pkey, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload);
  int64_t user = 0;
  assert_int_equal(verify_as(key, t, &plain, &user), JWT_OK);
  assert_int_equal(user, 5);
  char *flipped = &t[strlen(t) - 3]; /* another base64url character: a valid encoding */
  *flipped = *flipped == 'A' ? 'B' : 'A';
  assert_int_equal(verify_as(key, t, &plain, NULL), JWT_BAD_SIGNATURE);
  free(t);
  /* the classic confusion: HS256 "signed" with the public key's PEM as the secret */
  char *pem = public_pem(pkey);
  char *confused = hs256_token_with(pem, strlen(pem), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload);
  assert_int_equal(verify_as(key, confused, &plain, NULL), JWT_WRONG_ALG);
  free(confused);
  free(pem);
  /* another RSA key's signature */
  EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  char *foreign = pkey_token(other, "{\"alg\":\"RS256\"}", payload);
  assert_int_equal(verify_as(key, foreign, &plain, NULL), JWT_BAD_SIGNATURE);
  free(foreign);
  EVP_PKEY_free(other);
  jwt_key_free(key);
  EVP_PKEY_free(pkey);
}

static void es256(void **state) {
  (void)state;
  EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  assert_non_null(pkey);
  jwt_key *key = key_of(pkey);
  assert_int_equal(jwt_key_alg(key), JWT_ES256);
  char *t = pkey_token(pkey, "{\"alg\":\"ES256\"}", "{\"sub\":\"77\",\"exp\":1800000100}");
  int64_t user = 0;
  assert_int_equal(verify_as(key, t, &plain, &user), JWT_OK);
  assert_int_equal(user, 77);
  char copy[1024];
  strcpy(copy, t);
  copy[strlen(copy) - 5] = copy[strlen(copy) - 5] == 'A' ? 'B' : 'A';
  assert_int_equal(verify_as(key, copy, &plain, NULL), JWT_BAD_SIGNATURE);
  /* a DER signature instead of R || S has the wrong length */
  strcpy(copy, t);
  strcpy(strrchr(copy, '.') + 1, "MEUCIQDr");
  assert_int_equal(verify_as(key, copy, &plain, NULL), JWT_BAD_SIGNATURE);
  char *rs = pkey_token(pkey, "{\"alg\":\"RS256\"}", "{\"sub\":\"77\",\"exp\":1800000100}");
  assert_int_equal(verify_as(key, rs, &plain, NULL), JWT_WRONG_ALG);
  free(rs);
  free(t);
  jwt_key_free(key);
  EVP_PKEY_free(pkey);
}

static void unsupported_keys_are_refused(void **state) {
  (void)state;
  char err[160];
  assert_null(jwt_key_hs256("short", 5, err, sizeof err));
  assert_non_null(strstr(err, "32 bytes"));
  assert_null(jwt_key_public_pem("not a key", 9, err, sizeof err));
  EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
  char *pem = public_pem(small);
  assert_null(jwt_key_public_pem(pem, strlen(pem), err, sizeof err));
  assert_non_null(strstr(err, "2048"));
  free(pem);
  EVP_PKEY_free(small);
  EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
  pem = public_pem(p384);
  assert_null(jwt_key_public_pem(pem, strlen(pem), err, sizeof err));
  assert_non_null(strstr(err, "P-256"));
  free(pem);
  EVP_PKEY_free(p384);
}

/* ---- base64url and signing ---- */

static void base64url_round_trips_and_rejects(void **state) {
  (void)state;
  unsigned char data[64], out[128];
  char text[128];
  for (size_t len = 0; len < sizeof data; len++) {
    for (size_t i = 0; i < len; i++) data[i] = (unsigned char)(i * 37 + len + 0xf0);
    size_t n = jwt_base64url_encode(data, len, text);
    assert_int_equal(n, strlen(text));
    assert_null(strpbrk(text, "+/="));
    assert_int_equal(jwt_base64url_decode(text, n, out), (long)len);
    assert_memory_equal(out, data, len);
  }
  assert_int_equal(jwt_base64url_decode("A", 1, out), -1);
  assert_int_equal(jwt_base64url_decode("AB+C", 4, out), -1);
  assert_int_equal(jwt_base64url_decode("AB/C", 4, out), -1);
  assert_int_equal(jwt_base64url_decode("AA==", 4, out), -1);
  assert_int_equal(jwt_base64url_decode("A B", 3, out), -1);
  /* bits past the last byte must be zero: "-_9" and "AB" would decode like "-_8" and "AA" */
  assert_int_equal(jwt_base64url_decode("-_9", 3, out), -1);
  assert_int_equal(jwt_base64url_decode("AB", 2, out), -1);
  assert_int_equal(jwt_base64url_decode("AQ", 2, out), 1);
  assert_int_equal(jwt_base64url_decode("-_8", 3, out), 2);
  assert_int_equal(out[0], 0xfb);
  assert_int_equal(out[1], 0xff);
}

static void signed_tokens_verify(void **state) {
  (void)state;
  jwt_key *key = hs256_key();
  char *t = jwt_sign_hs256(key, 123, NOW, 3600, "iss-x", "aud-y");
  assert_non_null(t);
  jwt_expect e = plain;
  e.issuer = "iss-x";
  e.audience = "aud-y";
  jwt_claims c;
  assert_int_equal(jwt_verify(key, t, strlen(t), &e, &c), JWT_OK);
  assert_int_equal(c.user_id, 123);
  assert_int_equal(c.exp_s, NOW + 3600);
  free(t);
  t = jwt_sign_hs256(key, 123, NOW - 7200, 3600, NULL, NULL);
  assert_int_equal(jwt_verify(key, t, strlen(t), &plain, &c), JWT_EXPIRED);
  free(t);
  assert_null(jwt_sign_hs256(key, 0, NOW, 60, NULL, NULL));
  jwt_key_free(key);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hs256_good_token_gives_its_subject),
      cmocka_unit_test(tampered_payload_or_signature_is_refused),
      cmocka_unit_test(alg_none_and_other_algs_are_refused),
      cmocka_unit_test(exp_and_nbf_with_leeway),
      cmocka_unit_test(issuer_and_audience),
      cmocka_unit_test(subject_must_be_a_user_id),
      cmocka_unit_test(malformed_tokens),
      cmocka_unit_test(rs256_and_algorithm_confusion),
      cmocka_unit_test(es256),
      cmocka_unit_test(unsupported_keys_are_refused),
      cmocka_unit_test(base64url_round_trips_and_rejects),
      cmocka_unit_test(signed_tokens_verify),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
