#include "events/rate_gate.h"

#include <pthread.h>
#include <stdlib.h>

#define LOCK_STRIPES 64

typedef struct slot {
  int64_t a, b;
  int64_t passed_ms;
  bool used;
} slot;

struct rate_gate {
  unsigned interval_ms;
  size_t mask;
  slot *slots;
  pthread_mutex_t locks[LOCK_STRIPES];
};

rate_gate *rate_gate_new(unsigned interval_ms, unsigned slots) {
  size_t count = LOCK_STRIPES;
  while (count < slots) count *= 2;
  rate_gate *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->slots = calloc(count, sizeof *g->slots);
  if (!g->slots) {
    free(g);
    return NULL;
  }
  g->interval_ms = interval_ms;
  g->mask = count - 1;
  for (size_t i = 0; i < LOCK_STRIPES; i++) pthread_mutex_init(&g->locks[i], NULL);
  return g;
}

void rate_gate_free(rate_gate *g) {
  if (!g) return;
  for (size_t i = 0; i < LOCK_STRIPES; i++) pthread_mutex_destroy(&g->locks[i]);
  free(g->slots);
  free(g);
}

static uint64_t mix(int64_t a, int64_t b) {
  uint64_t x = (uint64_t)a * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)b * UINT64_C(0xc2b2ae3d27d4eb4f);
  x ^= x >> 31;
  x *= UINT64_C(0xbf58476d1ce4e5b9);
  return x ^ (x >> 29);
}

bool rate_gate_pass(rate_gate *g, int64_t a, int64_t b, int64_t now_ms) {
  size_t i = (size_t)mix(a, b) & g->mask;
  pthread_mutex_t *lock = &g->locks[i % LOCK_STRIPES]; /* slot counts are multiples of the stripes */
  pthread_mutex_lock(lock);
  slot *s = &g->slots[i];
  bool same = s->used && s->a == a && s->b == b;
  bool pass = !same || now_ms - s->passed_ms >= (int64_t)g->interval_ms || now_ms < s->passed_ms;
  if (pass) *s = (slot){.a = a, .b = b, .passed_ms = now_ms, .used = true};
  pthread_mutex_unlock(lock);
  return pass;
}
