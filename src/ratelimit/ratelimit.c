#include "ratelimit/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#define SETS      (RATELIMIT_ENTRIES / RATELIMIT_WAYS)
#define RATE_MIN  0.001
#define RATE_MAX  1e6
#define BURST_MAX 1000000

typedef struct slot {
  int64_t key; /* 0 = empty */
  int64_t tat_ns;
} slot;

typedef struct slot_set {
  pthread_mutex_t lock;
  slot slots[RATELIMIT_WAYS];
} slot_set;

struct ratelimit {
  int64_t interval_ns;  /* time one token takes to come back */
  int64_t tolerance_ns; /* burst * interval: how far tat may run ahead of now */
  slot_set *sets;
};

int64_t ratelimit_interval_ns(double rate) {
  int64_t ns = (int64_t)llround(1e9 / rate);
  return ns > 0 ? ns : 1;
}

int64_t ratelimit_retry_after_s(int64_t retry_after_ns) {
  int64_t s = (retry_after_ns + 999999999) / 1000000000;
  return s < 1 ? 1 : s;
}

ratelimit *ratelimit_new(double rate, uint32_t burst) {
  if (!(rate >= RATE_MIN && rate <= RATE_MAX) || burst < 1 || burst > BURST_MAX) return NULL;
  ratelimit *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->sets = calloc(SETS, sizeof *r->sets);
  if (!r->sets) {
    free(r);
    return NULL;
  }
  for (size_t i = 0; i < SETS; i++) pthread_mutex_init(&r->sets[i].lock, NULL);
  r->interval_ns = ratelimit_interval_ns(rate);
  r->tolerance_ns = (int64_t)burst * r->interval_ns;
  return r;
}

void ratelimit_free(ratelimit *r) {
  if (!r) return;
  for (size_t i = 0; i < SETS; i++) pthread_mutex_destroy(&r->sets[i].lock);
  free(r->sets);
  free(r);
}

static slot_set *set_of(ratelimit *r, int64_t key) {
  uint64_t h = (uint64_t)key * UINT64_C(0x9E3779B97F4A7C15); /* Fibonacci hashing: ids are dense */
  return &r->sets[(h >> 32) % SETS];
}

/* The slot of `key` in its set, or a new one: an empty slot, else the one with the oldest tat
 * (a full bucket if there is one, else the one closest to full, whose key is forgotten). */
static slot *find_slot(slot_set *set, int64_t key, int64_t now_ns) {
  slot *victim = NULL;
  for (int i = 0; i < RATELIMIT_WAYS; i++) {
    slot *s = &set->slots[i];
    if (s->key == key) return s;
    if (s->key == 0) {
      if (!victim || victim->key != 0) victim = s;
    } else if (!victim || (victim->key != 0 && s->tat_ns < victim->tat_ns)) {
      victim = s;
    }
  }
  victim->key = key;
  victim->tat_ns = now_ns; /* a full bucket */
  return victim;
}

bool ratelimit_take(ratelimit *r, int64_t key, int64_t now_ns, int64_t *retry_after_ns) {
  slot_set *set = set_of(r, key);
  pthread_mutex_lock(&set->lock);
  slot *s = find_slot(set, key, now_ns);
  int64_t tat = s->tat_ns > now_ns ? s->tat_ns : now_ns;
  int64_t next = tat + r->interval_ns;
  bool allowed = next - now_ns <= r->tolerance_ns;
  if (allowed)
    s->tat_ns = next;
  else
    *retry_after_ns = next - now_ns - r->tolerance_ns;
  pthread_mutex_unlock(&set->lock);
  return allowed;
}
