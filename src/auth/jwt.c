#include "auth/jwt.h"

#include <jansson.h>
#include <math.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"

#define HS256_LEN       32
#define ES256_COORD_LEN 32
#define RSA_MIN_BITS    2048
#define MAX_SIG_LEN     1024 /* RSA-8192 */
#define MAX_CLAIM_TEXT  1024 /* issuer + audience of a token we sign */

struct jwt_key {
  jwt_alg alg;
  unsigned char *secret; /* HS256 */
  size_t secret_len;
  EVP_PKEY *pkey; /* RS256, ES256 */
  EVP_MD *sha256; /* fetched once: no provider lookup per token */
};

const char *jwt_alg_name(jwt_alg alg) {
  switch (alg) {
  case JWT_HS256:
    return "HS256";
  case JWT_RS256:
    return "RS256";
  case JWT_ES256:
    return "ES256";
  }
  return "?";
}

const char *jwt_result_name(jwt_result r) {
  switch (r) {
  case JWT_OK:
    return "ok";
  case JWT_MALFORMED:
    return "malformed token";
  case JWT_WRONG_ALG:
    return "algorithm not accepted";
  case JWT_BAD_SIGNATURE:
    return "bad signature";
  case JWT_EXPIRED:
    return "expired or no exp";
  case JWT_NOT_YET_VALID:
    return "not yet valid (nbf)";
  case JWT_WRONG_ISSUER:
    return "wrong issuer";
  case JWT_WRONG_AUDIENCE:
    return "wrong audience";
  case JWT_BAD_SUBJECT:
    return "sub is not a user id";
  case JWT_INTERNAL:
    return "internal error";
  }
  return "?";
}

static jwt_key *key_new(jwt_alg alg, char *err, size_t err_size) {
  jwt_key *key = calloc(1, sizeof *key);
  if (key) key->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  if (!key || !key->sha256) {
    snprintf(err, err_size, "out of memory (or no SHA-256 in libcrypto)");
    free(key);
    return NULL;
  }
  key->alg = alg;
  return key;
}

jwt_key *jwt_key_hs256(const void *secret, size_t len, char *err, size_t err_size) {
  if (len < JWT_HS256_MIN_SECRET) {
    snprintf(err, err_size, "the HS256 secret must be at least %d bytes (it has %zu)", JWT_HS256_MIN_SECRET,
             len);
    return NULL;
  }
  jwt_key *key = key_new(JWT_HS256, err, err_size);
  if (!key) return NULL;
  key->secret = malloc(len);
  if (!key->secret) {
    snprintf(err, err_size, "out of memory");
    jwt_key_free(key);
    return NULL;
  }
  memcpy(key->secret, secret, len);
  key->secret_len = len;
  return key;
}

/* The algorithm a public key verifies, or false with a reason. */
static bool public_key_alg(EVP_PKEY *pkey, jwt_alg *alg, char *err, size_t err_size) {
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    int bits = EVP_PKEY_get_bits(pkey);
    if (bits < RSA_MIN_BITS) {
      snprintf(err, err_size, "the RSA key has %d bits; RS256 needs at least %d", bits, RSA_MIN_BITS);
      return false;
    }
    *alg = JWT_RS256;
    return true;
  }
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64];
    size_t n = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &n) == 1 &&
        (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)) {
      *alg = JWT_ES256;
      return true;
    }
    snprintf(err, err_size, "the EC key is not on P-256 (ES256)");
    return false;
  }
  snprintf(err, err_size, "the public key is neither RSA (RS256) nor EC P-256 (ES256)");
  return false;
}

jwt_key *jwt_key_public_pem(const char *pem, size_t len, char *err, size_t err_size) {
  if (len > INT_MAX) {
    snprintf(err, err_size, "the public key file is too large");
    return NULL;
  }
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  if (!pkey) {
    snprintf(err, err_size, "no PEM public key (-----BEGIN PUBLIC KEY-----) could be read");
    return NULL;
  }
  jwt_alg alg;
  jwt_key *key = public_key_alg(pkey, &alg, err, err_size) ? key_new(alg, err, err_size) : NULL;
  if (!key) {
    EVP_PKEY_free(pkey);
    return NULL;
  }
  key->pkey = pkey;
  return key;
}

jwt_alg jwt_key_alg(const jwt_key *key) { return key->alg; }

void jwt_key_free(jwt_key *key) {
  if (!key) return;
  if (key->secret) OPENSSL_cleanse(key->secret, key->secret_len);
  free(key->secret);
  EVP_PKEY_free(key->pkey);
  EVP_MD_free(key->sha256);
  free(key);
}

/* ---- base64url ------------------------------------------------------------------------------ */

/* The 6-bit value of a base64url character; -1 for any other byte. */
static int base64url_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  return c == '-' ? 62 : c == '_' ? 63 : -1;
}

long jwt_base64url_decode(const char *text, size_t len, unsigned char *out) {
  if (len % 4 == 1 || len > JWT_MAX_LEN) return -1;
  char padded[JWT_MAX_LEN + 4];
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    if (base64url_value(c) < 0) return -1;
    padded[i] = c == '-' ? '+' : c == '_' ? '/' : (char)c;
  }
  size_t pad = (4 - len % 4) % 4;
  /* canonical only (RFC 4648 3.5): the bits past the last whole byte are zero, so no two
   * texts of one signature both verify */
  if (pad && (base64url_value((unsigned char)text[len - 1]) & (pad == 2 ? 0x0f : 0x03))) return -1;
  memset(padded + len, '=', pad);
  if (len == 0) return 0;
  int n = EVP_DecodeBlock(out, (const unsigned char *)padded, (int)(len + pad));
  if (n < 0) return -1;
  return (long)n - (long)pad; /* EVP_DecodeBlock counts the padding as zero bytes */
}

size_t jwt_base64url_encode(const unsigned char *data, size_t len, char *out) {
  int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
  size_t m = 0;
  for (int i = 0; i < n; i++) {
    char c = out[i];
    if (c == '=') break;
    out[m++] = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  out[m] = '\0';
  return m;
}

/* ---- verification --------------------------------------------------------------------------- */

/* Decodes one part as a JSON object (duplicate keys rejected); NULL when it is not one. */
static json_t *decode_json_part(const char *text, size_t len) {
  unsigned char buf[JWT_MAX_LEN];
  long n = jwt_base64url_decode(text, len, buf);
  if (n <= 0) return NULL;
  json_t *value = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
  if (value && !json_is_object(value)) {
    json_decref(value);
    return NULL;
  }
  return value;
}

static jwt_result check_header(const jwt_key *key, const char *text, size_t len) {
  json_t *header = decode_json_part(text, len);
  if (!header) return JWT_MALFORMED;
  jwt_result r = JWT_OK;
  const char *alg = json_string_value(json_object_get(header, "alg"));
  /* crit: RFC 7515 4.1.11, we understand no extension */
  if (!alg || json_object_get(header, "crit"))
    r = JWT_MALFORMED;
  else if (strcmp(alg, jwt_alg_name(key->alg)) != 0)
    r = JWT_WRONG_ALG;
  json_decref(header);
  return r;
}

static jwt_result verify_hs256(const jwt_key *key, const unsigned char *signed_part, size_t signed_len,
                               const unsigned char *sig, size_t sig_len) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (!HMAC(key->sha256, key->secret, (int)key->secret_len, signed_part, signed_len, mac, &mac_len))
    return JWT_INTERNAL;
  if (sig_len != HS256_LEN || mac_len != HS256_LEN) return JWT_BAD_SIGNATURE;
  return CRYPTO_memcmp(mac, sig, HS256_LEN) == 0 ? JWT_OK : JWT_BAD_SIGNATURE;
}

/* JWS carries an ES256 signature as R || S (32 bytes each); libcrypto wants DER. */
static int es256_to_der(const unsigned char *sig, unsigned char **der) {
  ECDSA_SIG *es = ECDSA_SIG_new();
  BIGNUM *r = BN_bin2bn(sig, ES256_COORD_LEN, NULL);
  BIGNUM *s = BN_bin2bn(sig + ES256_COORD_LEN, ES256_COORD_LEN, NULL);
  int n = -1;
  if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
    r = s = NULL; /* owned by es now */
    n = i2d_ECDSA_SIG(es, der);
  }
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(es);
  return n;
}

static jwt_result verify_public(const jwt_key *key, const unsigned char *signed_part, size_t signed_len,
                                const unsigned char *sig, size_t sig_len) {
  unsigned char *der = NULL;
  if (key->alg == JWT_ES256) {
    if (sig_len != 2 * ES256_COORD_LEN) return JWT_BAD_SIGNATURE;
    int n = es256_to_der(sig, &der);
    if (n <= 0) return JWT_INTERNAL;
    sig = der;
    sig_len = (size_t)n;
  }
  jwt_result r = JWT_INTERNAL;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (ctx && EVP_DigestVerifyInit(ctx, NULL, key->sha256, NULL, key->pkey) == 1)
    r = EVP_DigestVerify(ctx, sig, sig_len, signed_part, signed_len) == 1 ? JWT_OK : JWT_BAD_SIGNATURE;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return r;
}

/* A NumericDate claim as whole seconds; false when it is not a number in a sane range. */
static bool numeric_date(const json_t *value, int64_t *out) {
  if (json_is_integer(value)) {
    *out = json_integer_value(value);
    return true;
  }
  if (!json_is_real(value)) return false;
  double d = json_real_value(value);
  if (!(d >= -9e15 && d <= 9e15)) return false;
  *out = (int64_t)floor(d);
  return true;
}

/* sub: a JSON integer or a canonical decimal string (no sign, no leading zero), 1 .. 2^53-1. */
static bool subject_user(const json_t *sub, int64_t *out) {
  if (json_is_integer(sub)) {
    *out = json_integer_value(sub);
    return id_is_valid(*out);
  }
  const char *text = json_string_value(sub);
  if (!text) return false;
  size_t len = json_string_length(sub);
  if (len == 0 || len > 16 || text[0] == '0') return false;
  int64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (text[i] < '0' || text[i] > '9') return false;
    v = v * 10 + (text[i] - '0');
  }
  *out = v;
  return id_is_valid(v);
}

static bool audience_matches(const json_t *aud, const char *want) {
  if (json_is_string(aud)) return strcmp(json_string_value(aud), want) == 0;
  size_t i;
  const json_t *item;
  json_array_foreach(aud, i, item) {
    if (json_is_string(item) && strcmp(json_string_value(item), want) == 0) return true;
  }
  return false;
}

static jwt_result check_claims(const json_t *claims, const jwt_expect *expect, jwt_claims *out) {
  int64_t exp, nbf;
  if (!numeric_date(json_object_get(claims, "exp"), &exp) || expect->now_s - expect->leeway_s > exp)
    return JWT_EXPIRED;
  const json_t *nbf_value = json_object_get(claims, "nbf");
  if (nbf_value && (!numeric_date(nbf_value, &nbf) || nbf > expect->now_s + expect->leeway_s))
    return JWT_NOT_YET_VALID;
  if (expect->issuer) {
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    if (!iss || strcmp(iss, expect->issuer) != 0) return JWT_WRONG_ISSUER;
  }
  const json_t *aud = json_object_get(claims, "aud");
  if (expect->audience ? !aud || !audience_matches(aud, expect->audience) : aud != NULL)
    return JWT_WRONG_AUDIENCE;
  if (!subject_user(json_object_get(claims, "sub"), &out->user_id)) return JWT_BAD_SUBJECT;
  out->exp_s = exp;
  return JWT_OK;
}

jwt_result jwt_verify(const jwt_key *key, const char *token, size_t len, const jwt_expect *expect,
                      jwt_claims *claims) {
  if (len == 0 || len > JWT_MAX_LEN) return JWT_MALFORMED;
  const char *dot1 = memchr(token, '.', len);
  const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
  if (!dot2) return JWT_MALFORMED;
  size_t header_len = (size_t)(dot1 - token);
  const char *payload = dot1 + 1;
  size_t payload_len = (size_t)(dot2 - payload);
  const char *sig_text = dot2 + 1;
  size_t sig_len_text = len - (size_t)(sig_text - token);

  jwt_result r = check_header(key, token, header_len);
  if (r != JWT_OK) return r;
  if (sig_len_text > (MAX_SIG_LEN + 2) / 3 * 4) return JWT_BAD_SIGNATURE;
  unsigned char sig[MAX_SIG_LEN + 3];
  long sig_len = jwt_base64url_decode(sig_text, sig_len_text, sig); /* a third '.' fails here */
  if (sig_len <= 0) return JWT_MALFORMED;
  const unsigned char *signed_part = (const unsigned char *)token;
  size_t signed_len = (size_t)(dot2 - token);
  r = key->alg == JWT_HS256 ? verify_hs256(key, signed_part, signed_len, sig, (size_t)sig_len)
                            : verify_public(key, signed_part, signed_len, sig, (size_t)sig_len);
  if (r != JWT_OK) return r;

  json_t *body = decode_json_part(payload, payload_len);
  if (!body) return JWT_MALFORMED;
  r = check_claims(body, expect, claims);
  json_decref(body);
  return r;
}

/* ---- signing (HS256, for `messenger token`) ------------------------------------------------- */

/* base64url of a JSON value (stolen), appended to out at *at; false when out of memory. */
static bool append_json_part(json_t *value, char *out, size_t *at) {
  char *text = value ? json_dumps(value, JSON_COMPACT) : NULL;
  json_decref(value);
  if (!text) return false;
  *at += jwt_base64url_encode((const unsigned char *)text, strlen(text), out + *at);
  free(text);
  return true;
}

char *jwt_sign_hs256(const jwt_key *key, int64_t user_id, int64_t now_s, int64_t ttl_s, const char *issuer,
                     const char *audience) {
  if (key->alg != JWT_HS256 || !id_is_valid(user_id)) return NULL;
  if ((issuer ? strlen(issuer) : 0) + (audience ? strlen(audience) : 0) > MAX_CLAIM_TEXT) return NULL;
  char sub[24];
  snprintf(sub, sizeof sub, "%lld", (long long)user_id);
  json_t *claims =
      json_pack("{s:s,s:I,s:I}", "sub", sub, "iat", (json_int_t)now_s, "exp", (json_int_t)now_s + ttl_s);
  if (claims && issuer) json_object_set_new(claims, "iss", json_string(issuer));
  if (claims && audience) json_object_set_new(claims, "aud", json_string(audience));
  char *out = claims ? malloc(JWT_MAX_LEN) : NULL;
  if (!out) {
    json_decref(claims);
    return NULL;
  }
  size_t at = 0;
  bool ok = append_json_part(json_pack("{s:s,s:s}", "alg", "HS256", "typ", "JWT"), out, &at);
  if (ok) {
    out[at++] = '.';
    ok = append_json_part(claims, out, &at);
  } else {
    json_decref(claims);
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  ok = ok &&
       HMAC(key->sha256, key->secret, (int)key->secret_len, (const unsigned char *)out, at, mac, &mac_len);
  if (!ok) {
    free(out);
    return NULL;
  }
  out[at++] = '.';
  jwt_base64url_encode(mac, mac_len, out + at);
  return out;
}
