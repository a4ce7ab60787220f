#include "auth/auth.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_FILE_MAX (64 * 1024)
#define CACHE_SETS   (AUTH_CACHE_ENTRIES / AUTH_CACHE_WAYS)
#define DIGEST_LEN   32

typedef struct cache_entry {
  unsigned char digest[DIGEST_LEN]; /* SHA-256 of the token */
  int64_t user_id;
  int64_t valid_until_s; /* exp + leeway; 0 = empty slot */
} cache_entry;

typedef struct cache_set {
  pthread_mutex_t lock;
  cache_entry ways[AUTH_CACHE_WAYS];
} cache_set;

struct auth_verifier {
  jwt_key *key;
  char *issuer;
  char *audience;
  EVP_MD *sha256;
  cache_set *sets; /* CACHE_SETS */
  atomic_uint_fast64_t cache_hits;
  atomic_uint_fast64_t verified;
};

bool auth_config_enabled(const auth_config *cfg) { return cfg->hs256_secret || cfg->public_key_file; }

/* The whole file (at most KEY_FILE_MAX bytes), malloc'ed, or NULL with a reason. */
static char *read_key_file(const char *path, size_t *len, char *err, size_t err_size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  char *buf = malloc(KEY_FILE_MAX + 1);
  size_t n = buf ? fread(buf, 1, KEY_FILE_MAX + 1, f) : 0;
  bool failed = !buf || ferror(f);
  fclose(f);
  if (failed || n > KEY_FILE_MAX) {
    snprintf(err, err_size, "cannot read %s (%s)", path,
             !buf     ? "out of memory"
             : failed ? "read error"
                      : "larger than 64 KiB");
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

static jwt_key *load_key(const auth_config *cfg, char *err, size_t err_size) {
  if (cfg->hs256_secret && cfg->public_key_file) {
    snprintf(err, err_size, "set MESSENGER_JWT_SECRET or MESSENGER_JWT_PUBLIC_KEY_FILE, not both");
    return NULL;
  }
  if (cfg->hs256_secret) return jwt_key_hs256(cfg->hs256_secret, strlen(cfg->hs256_secret), err, err_size);
  if (!cfg->public_key_file) {
    snprintf(err, err_size, "no MESSENGER_JWT_SECRET or MESSENGER_JWT_PUBLIC_KEY_FILE");
    return NULL;
  }
  size_t len = 0;
  char *pem = read_key_file(cfg->public_key_file, &len, err, err_size);
  if (!pem) return NULL;
  char reason[160];
  jwt_key *key = jwt_key_public_pem(pem, len, reason, sizeof reason);
  free(pem);
  if (!key) snprintf(err, err_size, "%s: %s", cfg->public_key_file, reason);
  return key;
}

static bool copy_optional(const char *text, char **out) {
  *out = NULL;
  if (!text) return true;
  *out = strdup(text);
  return *out != NULL;
}

auth_verifier *auth_verifier_new(const auth_config *cfg, char *err, size_t err_size) {
  jwt_key *key = load_key(cfg, err, err_size);
  if (!key) return NULL;
  auth_verifier *v = calloc(1, sizeof *v);
  if (!v) {
    jwt_key_free(key);
    snprintf(err, err_size, "out of memory");
    return NULL;
  }
  v->key = key;
  v->sets = calloc(CACHE_SETS, sizeof *v->sets);
  v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  if (!v->sets || !v->sha256 || !copy_optional(cfg->issuer, &v->issuer) ||
      !copy_optional(cfg->audience, &v->audience)) {
    snprintf(err, err_size, "out of memory");
    free(v->sets);
    v->sets = NULL;
    auth_verifier_free(v);
    return NULL;
  }
  for (size_t i = 0; i < CACHE_SETS; i++) pthread_mutex_init(&v->sets[i].lock, NULL);
  atomic_init(&v->cache_hits, 0);
  atomic_init(&v->verified, 0);
  return v;
}

void auth_verifier_free(auth_verifier *v) {
  if (!v) return;
  if (v->sets) {
    for (size_t i = 0; i < CACHE_SETS; i++) pthread_mutex_destroy(&v->sets[i].lock);
    free(v->sets);
  }
  EVP_MD_free(v->sha256);
  free(v->issuer);
  free(v->audience);
  jwt_key_free(v->key);
  free(v);
}

jwt_alg auth_verifier_alg(const auth_verifier *v) { return jwt_key_alg(v->key); }

auth_stats auth_verifier_stats(const auth_verifier *v) {
  return (auth_stats){.cache_hits = atomic_load(&v->cache_hits), .verified = atomic_load(&v->verified)};
}

static cache_set *set_of(auth_verifier *v, const unsigned char *digest) {
  uint32_t h;
  memcpy(&h, digest, sizeof h);
  return &v->sets[h % CACHE_SETS];
}

/* A cached, unexpired entry for the digest: its user in *user_id. */
static bool cache_lookup(auth_verifier *v, const unsigned char *digest, int64_t now_s, int64_t *user_id) {
  cache_set *set = set_of(v, digest);
  bool hit = false;
  pthread_mutex_lock(&set->lock);
  for (int i = 0; i < AUTH_CACHE_WAYS; i++) {
    cache_entry *e = &set->ways[i];
    if (e->valid_until_s != 0 && memcmp(e->digest, digest, DIGEST_LEN) == 0) {
      if (now_s <= e->valid_until_s) {
        *user_id = e->user_id;
        hit = true;
      } else {
        e->valid_until_s = 0; /* expired: the slot is free again */
      }
      break;
    }
  }
  pthread_mutex_unlock(&set->lock);
  return hit;
}

/* Keeps a verified token; a full set gives up the entry that expires first. */
static void cache_insert(auth_verifier *v, const unsigned char *digest, int64_t user_id,
                         int64_t valid_until_s) {
  cache_set *set = set_of(v, digest);
  pthread_mutex_lock(&set->lock);
  cache_entry *victim = &set->ways[0];
  for (int i = 0; i < AUTH_CACHE_WAYS; i++) {
    cache_entry *e = &set->ways[i];
    if (e->valid_until_s != 0 && memcmp(e->digest, digest, DIGEST_LEN) == 0) {
      victim = e; /* another thread verified it meanwhile */
      break;
    }
    if (e->valid_until_s < victim->valid_until_s) victim = e;
  }
  memcpy(victim->digest, digest, DIGEST_LEN);
  victim->user_id = user_id;
  victim->valid_until_s = valid_until_s;
  pthread_mutex_unlock(&set->lock);
}

jwt_result auth_verify(auth_verifier *v, const char *token, size_t len, int64_t now_s, int64_t *user_id) {
  if (len == 0 || len > JWT_MAX_LEN) return JWT_MALFORMED;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  bool cacheable =
      EVP_Digest(token, len, digest, &digest_len, v->sha256, NULL) == 1 && digest_len == DIGEST_LEN;
  if (cacheable && cache_lookup(v, digest, now_s, user_id)) {
    atomic_fetch_add_explicit(&v->cache_hits, 1, memory_order_relaxed);
    return JWT_OK;
  }
  jwt_expect expect = {
      .issuer = v->issuer, .audience = v->audience, .now_s = now_s, .leeway_s = AUTH_LEEWAY_S};
  jwt_claims claims;
  jwt_result r = jwt_verify(v->key, token, len, &expect, &claims);
  atomic_fetch_add_explicit(&v->verified, 1, memory_order_relaxed);
  if (r != JWT_OK) return r;
  *user_id = claims.user_id;
  /* nbf is behind us (checked), so the token stays valid until exp + leeway */
  int64_t until = claims.exp_s > INT64_MAX - AUTH_LEEWAY_S ? INT64_MAX : claims.exp_s + AUTH_LEEWAY_S;
  if (cacheable && until > 0) cache_insert(v, digest, claims.user_id, until);
  return JWT_OK;
}
