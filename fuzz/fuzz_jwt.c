/* libFuzzer target for bearer tokens (auth/jwt): the first byte picks a mode.
 *   0: the rest is a token, verified as the server would (HS256 key, issuer and audience
 *      expected); also through base64url decoding, whose output must encode back to the
 *      canonical form of the input.
 *   1: the rest is "<header JSON>\n<claims JSON>", which the target encodes and signs with
 *      the key itself, so that the header and claim checks are reached by any input.
 * Checks: an accepted token has a user id in range and an exp not past (with leeway), and
 * verifying the same bytes again gives the same answer. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/jwt.h"
#include "core/ids.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzzing secret of at least 32 bytes!"
#define NOW    1800000000

static jwt_key *key(void) {
  static jwt_key *k;
  if (!k) {
    char err[160];
    k = jwt_key_hs256(SECRET, strlen(SECRET), err, sizeof err);
    if (!k) abort();
  }
  return k;
}

static const jwt_expect expect = {.issuer = "iss", .audience = "aud", .now_s = NOW, .leeway_s = 30};

static void check_token(const char *token, size_t len) {
  jwt_claims c = {0};
  jwt_result r = jwt_verify(key(), token, len, &expect, &c);
  if (r == JWT_OK && (!id_is_valid(c.user_id) || c.exp_s < NOW - 30)) abort();
  jwt_claims again = {0};
  if (jwt_verify(key(), token, len, &expect, &again) != r || again.user_id != c.user_id) abort();
}

static void check_base64url(const char *text, size_t len) {
  if (len > 1024) return;
  unsigned char bytes[1024];
  long n = jwt_base64url_decode(text, len, bytes);
  if (n < 0) return;
  char encoded[1400];
  size_t m = jwt_base64url_encode(bytes, (size_t)n, encoded);
  if (m != len) abort(); /* same length; only the unused low bits of the last character may differ */
  unsigned char back[1024];
  if (jwt_base64url_decode(encoded, m, back) != n || memcmp(back, bytes, (size_t)n) != 0) abort();
}

/* header JSON \n claims JSON -> a token signed with the key. */
static void check_signed(const char *text, size_t len) {
  const char *nl = memchr(text, '\n', len);
  if (!nl || len > 3000) return;
  char token[JWT_MAX_LEN + 64];
  size_t header_len = (size_t)(nl - text);
  size_t at = jwt_base64url_encode((const unsigned char *)text, header_len, token);
  token[at++] = '.';
  at += jwt_base64url_encode((const unsigned char *)nl + 1, len - header_len - 1, token + at);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (!HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (unsigned char *)token, at, mac, &mac_len)) abort();
  token[at++] = '.';
  at += jwt_base64url_encode(mac, mac_len, token + at);
  check_token(token, at);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  if (data[0] % 2 == 0) {
    check_token(text, len);
    check_base64url(text, len);
  } else {
    check_signed(text, len);
  }
  return 0;
}
