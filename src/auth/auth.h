/* auth: who is calling. An auth_verifier holds the configured key (auth/jwt), the expected
 * issuer and audience, and a bounded cache of tokens that verified, so that a client sending
 * the same token on every request pays for one signature check per token lifetime, not per
 * request. It knows nothing about HTTP: the api layer hands it the bearer token's bytes.
 *
 * Cache: AUTH_CACHE_ENTRIES tokens at most (set-associative, AUTH_CACHE_WAYS per set, one
 * mutex per set), keyed by the SHA-256 of the whole token, each kept until its exp + leeway.
 * A full set forgets the entry that expires first. Only tokens that verified are cached;
 * the cache never changes an answer, it only saves work (a hit re-checks the expiry).
 *
 * Ownership: the verifier copies the strings of its config and owns its key and cache;
 * auth_verify may run on any number of threads at once. */
#ifndef MESSENGER_AUTH_AUTH_H
#define MESSENGER_AUTH_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "auth/jwt.h"

#define AUTH_LEEWAY_S      30
#define AUTH_CACHE_ENTRIES 16384
#define AUTH_CACHE_WAYS    4

typedef struct auth_config {
  const char *hs256_secret;    /* MESSENGER_JWT_SECRET, or NULL */
  const char *public_key_file; /* MESSENGER_JWT_PUBLIC_KEY_FILE (PEM), or NULL; not both */
  const char *issuer;          /* MESSENGER_JWT_ISSUER, or NULL = not checked */
  const char *audience;        /* MESSENGER_JWT_AUDIENCE, or NULL = tokens must carry no aud */
} auth_config;

typedef struct auth_verifier auth_verifier;

/* True when the config turns authentication on (a secret or a key file is set). */
bool auth_config_enabled(const auth_config *cfg);

/* Loads the key. NULL with a reason in err when the config is unusable (both or neither
 * key source, unreadable or unsupported key, short secret, out of memory). */
auth_verifier *auth_verifier_new(const auth_config *cfg, char *err, size_t err_size);
void auth_verifier_free(auth_verifier *v);

jwt_alg auth_verifier_alg(const auth_verifier *v);

/* Verifies token[0..len) at time now_s (seconds since the epoch; the caller passes the
 * wall clock). On JWT_OK *user_id is the token's sub. */
jwt_result auth_verify(auth_verifier *v, const char *token, size_t len, int64_t now_s, int64_t *user_id);

/* Counters for tests: verifications answered from the cache, and signature checks made. */
typedef struct auth_stats {
  uint64_t cache_hits;
  uint64_t verified;
} auth_stats;
auth_stats auth_verifier_stats(const auth_verifier *v);

#endif
