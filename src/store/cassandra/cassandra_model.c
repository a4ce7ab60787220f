#include "store/cassandra/cassandra_model.h"

#include <stdlib.h>

#include "cql/client.h"

#define ID_TIME_SHIFT 12 /* id >> 12 = ms since ID_EPOCH_MS (core/ids.h) */

int32_t cass_bucket_of_id(int64_t message_id) {
  if (message_id < 0) message_id = 0;
  return (int32_t)((message_id >> ID_TIME_SHIFT) / CASS_BUCKET_MS);
}

int64_t cass_message_bound(const message_query *q) {
  int64_t bound = ID_MAX + 1;
  if (q->page.has_cursor && q->page.cursor.message_id < bound) bound = q->page.cursor.message_id;
  if (q->has_before) {
    int64_t floor = id_floor_for_time_us(q->before_us);
    if (floor < bound) bound = floor;
  }
  return bound;
}

int64_t cass_page_offset(const page_request *p) {
  if (p->has_cursor || p->page <= 1) return 0;
  return p->page - 1 > INT64_MAX / p->limit ? INT64_MAX : (p->page - 1) * p->limit;
}

/* ---- exact totals ------------------------------------------------------------------------- */

int64_t cass_seal_bound(int64_t now_us) {
  int64_t settled_us = now_us - CASS_SEAL_DELAY_US;
  if (settled_us <= 0) return 0;
  return id_floor_for_time_us(settled_us - settled_us % CASS_SEAL_GRID_US);
}

void cass_tally_init(cass_tally *t, int64_t sealed_until, int64_t sealed_count, int64_t sealed_from_low,
                     int64_t now_us) {
  *t = (cass_tally){.sealed_until = sealed_until > 0 ? sealed_until : 0,
                    .sealed_count = sealed_until > 0 && sealed_count > 0 ? sealed_count : 0,
                    .sealed_from_low = sealed_until > 0 && sealed_from_low > 0 ? sealed_from_low : 0};
  int64_t bound = cass_seal_bound(now_us);
  if (bound > t->sealed_until) t->seal_to = bound;
}

int64_t cass_tally_from(const cass_tally *t) { return t->sealed_until; }

void cass_tally_add(cass_tally *t, int64_t message_id, int64_t sender_id, int64_t receiver_id) {
  if (message_id < t->sealed_until) return;
  if (t->seal_to && message_id < t->seal_to) {
    t->settled_count++;
    if (sender_id < receiver_id) t->settled_from_low++;
  } else {
    t->recent_count++;
  }
}

int64_t cass_tally_total(const cass_tally *t) { return t->sealed_count + t->settled_count + t->recent_count; }

bool cass_tally_seal(const cass_tally *t, int64_t *until, int64_t *count, int64_t *from_low) {
  if (!t->seal_to) return false;
  *until = t->seal_to;
  *count = t->sealed_count + t->settled_count;
  *from_low = t->sealed_from_low + t->settled_from_low;
  return true;
}

/* ---- the bucket walk ---------------------------------------------------------------------- */

void cass_walk_init(cass_walk *w, int64_t bound, int64_t skip, int limit) {
  *w = (cass_walk){.bound = bound, .skip = skip, .want = (int64_t)limit + 1, .may_list = bound > 1};
  if (w->may_list) w->list_from = cass_bucket_of_id(bound - 1);
}

cass_walk_query cass_walk_next(const cass_walk *w) {
  cass_walk_query q = {.step = CASS_WALK_DONE, .bound = w->bound};
  if (w->want <= 0) return q;
  if (w->next_bucket < w->n_buckets) {
    q.bucket = w->buckets[w->next_bucket];
    if (w->skip > 0) {
      q.step = CASS_WALK_SKIP;
      q.limit = (int32_t)(w->skip < CASS_SKIP_CHUNK ? w->skip : CASS_SKIP_CHUNK);
    } else {
      q.step = CASS_WALK_TAKE;
      q.limit = (int32_t)w->want;
    }
  } else if (w->may_list) {
    q.step = CASS_WALK_LIST_BUCKETS;
    q.bucket = w->list_from;
    q.limit = CASS_BUCKET_WINDOW;
  }
  return q;
}

void cass_walk_on_buckets(cass_walk *w, const cass_walk_query *q, const int32_t *buckets, size_t n) {
  if (n > CASS_BUCKET_WINDOW) n = CASS_BUCKET_WINDOW;
  w->n_buckets = n;
  w->next_bucket = 0;
  for (size_t i = 0; i < n; i++) w->buckets[i] = buckets[i];
  /* A full window may have older buckets after it; a short one listed everything. */
  w->may_list = n == (size_t)q->limit && n > 0 && buckets[n - 1] > 0;
  if (w->may_list) w->list_from = buckets[n - 1] - 1;
}

void cass_walk_on_rows(cass_walk *w, const cass_walk_query *q, size_t n, int64_t last_id) {
  if (q->step == CASS_WALK_SKIP)
    w->skip -= (int64_t)n;
  else
    w->want -= (int64_t)n;
  if (n > 0 && last_id < w->bound) w->bound = last_id;
  /* Fewer rows than asked: nothing older is left in this bucket. */
  if (n < (size_t)q->limit) w->next_bucket++;
}

/* ---- a user's conversations --------------------------------------------------------------- */

/* Negative when a comes first: larger last_message_id first, then larger id. */
static int recency_cmp(int64_t a_last, int64_t a_id, int64_t b_last, int64_t b_id) {
  if (a_last != b_last) return a_last > b_last ? -1 : 1;
  if (a_id != b_id) return a_id > b_id ? -1 : 1;
  return 0;
}

static int conversation_cmp(const void *a, const void *b) {
  const conversation *x = a, *y = b;
  return recency_cmp(x->last_message_id, x->id, y->last_message_id, y->id);
}

void cass_sort_conversations(conversation *items, size_t n) {
  if (n > 1) qsort(items, n, sizeof *items, conversation_cmp);
}

cass_slice cass_conversation_slice(const conversation *sorted, size_t n, const page_request *p) {
  size_t start = 0;
  if (p->has_cursor) {
    /* The first item strictly after the cursor in the list's order (binary search). */
    size_t lo = 0, hi = n;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (recency_cmp(sorted[mid].last_message_id, sorted[mid].id, p->cursor.message_id,
                      p->cursor.conversation_id) <= 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    start = lo;
  } else {
    int64_t offset = cass_page_offset(p);
    start = offset >= (int64_t)n ? n : (size_t)offset;
  }
  size_t count = n - start < (size_t)p->limit ? n - start : (size_t)p->limit;
  return (cass_slice){.start = start, .count = count, .has_more = start + count < n};
}

/* ---- ids ---------------------------------------------------------------------------------- */

void cass_id_source_init(cass_id_source *s, int node) {
  pthread_mutex_init(&s->mu, NULL);
  id_generator_init(&s->gen, node);
  s->last = 0;
}

void cass_id_source_destroy(cass_id_source *s) { pthread_mutex_destroy(&s->mu); }

int64_t cass_id_source_next(cass_id_source *s, int64_t unix_ms) {
  pthread_mutex_lock(&s->mu);
  /* The largest id sharing the last id's microsecond: the next id must be above it. */
  int64_t floor = s->last ? id_floor_for_time_us(id_created_at_us(s->last) + 1) - 1 : 0;
  int64_t id = id_generator_next_after(&s->gen, unix_ms, floor);
  s->last = id;
  pthread_mutex_unlock(&s->mu);
  return id;
}

/* ---- the pair -> conversation cache ------------------------------------------------------- */

bool cass_pair_cache_init(cass_pair_cache *c, size_t size_pow2) {
  c->size = size_pow2;
  c->slots = calloc(size_pow2, sizeof *c->slots);
  if (!c->slots) return false;
  pthread_mutex_init(&c->mu, NULL);
  return true;
}

void cass_pair_cache_destroy(cass_pair_cache *c) {
  pthread_mutex_destroy(&c->mu);
  free(c->slots);
  c->slots = NULL;
}

static size_t pair_slot(const cass_pair_cache *c, int64_t low, int64_t high) {
  uint64_t h = (uint64_t)low * UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)high * UINT64_C(0xC2B2AE3D27D4EB4F);
  h ^= h >> 29;
  return (size_t)(h & (c->size - 1));
}

int64_t cass_pair_cache_get(cass_pair_cache *c, int64_t low, int64_t high) {
  pthread_mutex_lock(&c->mu);
  const cass_pair_slot *slot = &c->slots[pair_slot(c, low, high)];
  int64_t id = slot->low == low && slot->high == high ? slot->conversation_id : 0;
  pthread_mutex_unlock(&c->mu);
  return id;
}

void cass_pair_cache_put(cass_pair_cache *c, int64_t low, int64_t high, int64_t conversation_id) {
  pthread_mutex_lock(&c->mu);
  c->slots[pair_slot(c, low, high)] =
      (cass_pair_slot){.low = low, .high = high, .conversation_id = conversation_id};
  pthread_mutex_unlock(&c->mu);
}

/* ---- errors and names --------------------------------------------------------------------- */

const char *cass_error_detail(int32_t code) {
  switch (code) {
  case CQL_ERROR_READ_TIMEOUT:
  case CQL_ERROR_WRITE_TIMEOUT:
  case CQL_ERROR_CAS_WRITE_UNKNOWN:
  case CQL_ERR_CLIENT_TIMEOUT:
    return "Database timed out";
  case CQL_ERROR_UNAVAILABLE:
  case CQL_ERROR_OVERLOADED:
  case CQL_ERROR_IS_BOOTSTRAPPING:
  case CQL_ERR_NO_HOSTS:
  case CQL_ERR_CONNECTION_CLOSED:
  case CQL_ERR_CONNECT_FAILED:
  case CQL_ERR_QUEUE_FULL:
    return "Database unavailable";
  case CQL_ERR_CLIENT_CLOSED:
    return "Store is closing";
  default:
    return "Database error";
  }
}

bool cass_keyspace_normalize(const char *name, char out[CASS_KEYSPACE_SIZE]) {
  if (!name) return false;
  size_t n = 0;
  for (const char *p = name; *p; p++, n++) {
    char c = *p;
    bool upper = c >= 'A' && c <= 'Z';
    bool ok = upper || (c >= 'a' && c <= 'z') || (n > 0 && ((c >= '0' && c <= '9') || c == '_'));
    if (!ok || n + 1 >= CASS_KEYSPACE_SIZE) return false;
    out[n] = upper ? (char)(c - 'A' + 'a') : c;
  }
  out[n] = '\0';
  return n > 0;
}
