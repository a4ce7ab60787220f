/* auth/jwt: verification of one JSON Web Token (RFC 7519, compact JWS of RFC 7515) against one
 * configured key, with OpenSSL's libcrypto for every cryptographic step (HMAC, RSA and ECDSA
 * signatures, base64) and jansson for the JSON. It knows nothing about HTTP or messages.
 *
 * The algorithm is the key's, never the token's: a token whose header names any other `alg`
 * (`none`, HS256 against an RSA key, ...) is rejected before any signature check, which is
 * what defeats algorithm confusion. Claims are read only after the signature verified:
 * `exp` (required), `nbf`, `iss`, `aud` (string or array) and `sub` (the user id: a decimal
 * string or a JSON integer, 1 .. 2^53-1).
 *
 * Ownership: a jwt_key owns its secret copy or its EVP_PKEY (jwt_key_free releases them) and
 * is read-only after it is made, so any number of threads may verify with it at once.
 * jwt_verify keeps nothing of the token. */
#ifndef MESSENGER_AUTH_JWT_H
#define MESSENGER_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest token accepted (bytes); longer ones are JWT_MALFORMED without being decoded. */
#define JWT_MAX_LEN 8192
/* Shortest HS256 secret accepted (RFC 7518 3.2: a key of at least the hash's 256 bits). */
#define JWT_HS256_MIN_SECRET 32

typedef enum jwt_alg { JWT_HS256, JWT_RS256, JWT_ES256 } jwt_alg;

typedef struct jwt_key jwt_key;

/* An HS256 key of `len` bytes (copied); NULL with a reason in err when shorter than
 * JWT_HS256_MIN_SECRET or out of memory. */
jwt_key *jwt_key_hs256(const void *secret, size_t len, char *err, size_t err_size);
/* A public key in PEM (SubjectPublicKeyInfo "PUBLIC KEY", or "RSA PUBLIC KEY"): RSA of at
 * least 2048 bits gives RS256, EC on P-256 gives ES256; anything else is NULL with a reason. */
jwt_key *jwt_key_public_pem(const char *pem, size_t len, char *err, size_t err_size);
jwt_alg jwt_key_alg(const jwt_key *key);
void jwt_key_free(jwt_key *key);

const char *jwt_alg_name(jwt_alg alg); /* "HS256", "RS256", "ES256" */

typedef enum jwt_result {
  JWT_OK = 0,
  JWT_MALFORMED,      /* not three base64url parts, bad JSON, too long, a `crit` header */
  JWT_WRONG_ALG,      /* header alg is not the key's (includes "none") */
  JWT_BAD_SIGNATURE,  /* signature does not verify */
  JWT_EXPIRED,        /* exp missing or not a number, or exp + leeway is past */
  JWT_NOT_YET_VALID,  /* nbf - leeway is in the future (or nbf not a number) */
  JWT_WRONG_ISSUER,   /* iss differs from the expected one (or is missing) */
  JWT_WRONG_AUDIENCE, /* aud present and not ours, or missing while one is expected */
  JWT_BAD_SUBJECT,    /* sub missing or not a user id */
  JWT_INTERNAL,       /* out of memory or a libcrypto failure */
} jwt_result;

const char *jwt_result_name(jwt_result r); /* short English reason, for logs */

/* What the claims must satisfy. issuer / audience NULL = not checked (a token that carries
 * an `aud` is then rejected, as RFC 7519 4.1.3 requires of a recipient without one). */
typedef struct jwt_expect {
  const char *issuer;
  const char *audience;
  int64_t now_s;    /* seconds since the Unix epoch */
  int64_t leeway_s; /* allowed clock skew for exp and nbf */
} jwt_expect;

typedef struct jwt_claims {
  int64_t user_id; /* sub */
  int64_t exp_s;   /* exp, whole seconds (a fraction is dropped) */
} jwt_claims;

/* Verifies token[0..len) (any bytes). On JWT_OK *claims is filled in. */
jwt_result jwt_verify(const jwt_key *key, const char *token, size_t len, const jwt_expect *expect,
                      jwt_claims *claims);

/* The parts of verification that need no key, exposed for the fuzzer and unit tests:
 * base64url without padding (RFC 7515 2) into out (at least len * 3 / 4 + 3 bytes). Returns
 * the decoded length, or -1 for characters outside the alphabet, '=', a length of 4n+1 or
 * non-zero bits after the last byte (a non-canonical text). */
long jwt_base64url_decode(const char *text, size_t len, unsigned char *out);
/* The reverse, NUL-terminated, into out (at least (len + 2) / 3 * 4 + 1 bytes); returns the length. */
size_t jwt_base64url_encode(const unsigned char *data, size_t len, char *out);

/* A signed HS256 token {"sub": "<user_id>", "iat": now_s, "exp": now_s + ttl_s} plus iss and
 * aud when given, for `messenger token`. Returns a malloc'ed string (the caller frees it) or
 * NULL on failure (out of memory, or a key that is not HS256). */
char *jwt_sign_hs256(const jwt_key *key, int64_t user_id, int64_t now_s, int64_t ttl_s, const char *issuer,
                     const char *audience);

#endif
