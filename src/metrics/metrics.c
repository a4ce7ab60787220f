#include "metrics/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef _Atomic uint64_t metrics_slot;

struct metrics_series {
  metrics_series *next;
  metrics_family *family;
  char *labels[METRICS_MAX_LABELS];
  size_t slot;           /* counters: 1 slot; histograms: bound_count + 1 buckets, then the sum */
  _Atomic int64_t gauge; /* gauges only */
};

struct metrics_family {
  metrics_family *next;
  metrics_registry *reg;
  char *name, *help;
  metrics_type type;
  size_t label_count;
  char *label_names[METRICS_MAX_LABELS];
  uint64_t bounds[METRICS_MAX_BOUNDS];
  size_t bound_count;
  double scale;
  metrics_series *series, **series_tail;
};

typedef struct collector_entry {
  struct collector_entry *next;
  metrics_collector fn;
  void *ctx;
} collector_entry;

struct metrics_registry {
  pthread_mutex_t mu; /* registration, shard creation, collectors, rendering */
  pthread_key_t key;  /* the calling thread's shard */
  size_t slots, used;
  metrics_slot *shards[METRICS_MAX_SHARDS]; /* shards[0] exists from the start */
  size_t shard_count;
  metrics_family *families, **families_tail;
  collector_entry *collectors;
};

struct metrics_text {
  char *data;
  size_t len, cap;
  bool failed; /* out of memory: the render returns NULL */
};

/* ---- output ---- */

static void text_append(metrics_text *t, const char *bytes, size_t n) {
  if (t->failed) return;
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + n + 1) cap *= 2;
    char *data = realloc(t->data, cap);
    if (!data) {
      t->failed = true;
      return;
    }
    t->data = data;
    t->cap = cap;
  }
  memcpy(t->data + t->len, bytes, n);
  t->len += n;
  t->data[t->len] = '\0';
}

static void text_str(metrics_text *t, const char *s) { text_append(t, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void text_printf(metrics_text *t, const char *fmt, ...) {
  char buf[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) text_append(t, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* A float the way Prometheus writes them: +Inf, NaN, integers without a fraction. */
static void text_double(metrics_text *t, double v) {
  if (isnan(v))
    text_str(t, "NaN");
  else if (isinf(v))
    text_str(t, v > 0 ? "+Inf" : "-Inf");
  else if (v == floor(v) && fabs(v) < 1e15)
    text_printf(t, "%.0f", v);
  else
    text_printf(t, "%.15g", v);
}

/* Label values escape backslash, double quote and line feed; HELP texts backslash and line
 * feed only (format 0.0.4). */
static void text_escaped(metrics_text *t, const char *v, bool quote) {
  for (const char *p = v; *p; p++) {
    if (*p == '\\')
      text_str(t, "\\\\");
    else if (*p == '\n')
      text_str(t, "\\n");
    else if (quote && *p == '"')
      text_str(t, "\\\"");
    else
      text_append(t, p, 1);
  }
}

/* name{a="x",b="y"[,le="..."]} with an optional extra label (for buckets). */
static void text_series_name(metrics_text *t, const char *name, size_t n, const char *const *names,
                             const char *const *values, const char *extra_name, const char *extra_value) {
  text_str(t, name);
  if (n == 0 && !extra_name) return;
  text_str(t, "{");
  for (size_t i = 0; i < n; i++) {
    if (i) text_str(t, ",");
    text_str(t, names[i]);
    text_str(t, "=\"");
    text_escaped(t, values[i], true);
    text_str(t, "\"");
  }
  if (extra_name) {
    if (n) text_str(t, ",");
    text_str(t, extra_name);
    text_str(t, "=\"");
    text_str(t, extra_value);
    text_str(t, "\"");
  }
  text_str(t, "}");
}

void metrics_text_family(metrics_text *t, const char *name, const char *help, const char *type) {
  text_str(t, "# HELP ");
  text_str(t, name);
  text_str(t, " ");
  text_escaped(t, help, false);
  text_str(t, "\n# TYPE ");
  text_str(t, name);
  text_str(t, " ");
  text_str(t, type);
  text_str(t, "\n");
}

void metrics_text_sample(metrics_text *t, const char *name, size_t label_count,
                         const char *const *label_names, const char *const *label_values, double value) {
  text_series_name(t, name, label_count, label_names, label_values, NULL, NULL);
  text_str(t, " ");
  text_double(t, value);
  text_str(t, "\n");
}

/* ---- registry ---- */

metrics_registry *metrics_registry_new(size_t slots) {
  metrics_registry *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->slots = slots ? slots : 1;
  r->shards[0] = calloc(r->slots, sizeof(metrics_slot));
  if (!r->shards[0] || pthread_key_create(&r->key, NULL) != 0) {
    free(r->shards[0]);
    free(r);
    return NULL;
  }
  r->shard_count = 1;
  r->families_tail = &r->families;
  pthread_mutex_init(&r->mu, NULL);
  return r;
}

static void free_family(metrics_family *f) {
  for (metrics_series *s = f->series, *next; s; s = next) {
    next = s->next;
    for (size_t i = 0; i < f->label_count; i++) free(s->labels[i]);
    free(s);
  }
  for (size_t i = 0; i < f->label_count; i++) free(f->label_names[i]);
  free(f->name);
  free(f->help);
  free(f);
}

void metrics_registry_free(metrics_registry *r) {
  if (!r) return;
  for (metrics_family *f = r->families, *next; f; f = next) {
    next = f->next;
    free_family(f);
  }
  for (collector_entry *c = r->collectors, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  for (size_t i = 0; i < r->shard_count; i++) free(r->shards[i]);
  pthread_key_delete(r->key);
  pthread_mutex_destroy(&r->mu);
  free(r);
}

static bool valid_name(const char *name, bool colon_ok) {
  if (!name || !*name) return false;
  for (const char *p = name; *p; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':') ||
              (p != name && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

static metrics_family *family_new(metrics_registry *r, const char *name, const char *help, metrics_type type,
                                  size_t label_count, const char *const *label_names) {
  if (!r || !valid_name(name, true) || !help || label_count > METRICS_MAX_LABELS) return NULL;
  for (size_t i = 0; i < label_count; i++)
    if (!valid_name(label_names[i], false) || strcmp(label_names[i], "le") == 0) return NULL;
  metrics_family *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->reg = r;
  f->type = type;
  f->label_count = label_count;
  f->scale = 1;
  f->series_tail = &f->series;
  bool ok = (f->name = strdup(name)) && (f->help = strdup(help));
  for (size_t i = 0; ok && i < label_count; i++) ok = (f->label_names[i] = strdup(label_names[i])) != NULL;
  if (!ok) {
    free_family(f);
    return NULL;
  }
  return f;
}

static metrics_family *family_register(metrics_registry *r, metrics_family *f) {
  if (!f) return NULL;
  pthread_mutex_lock(&r->mu);
  *r->families_tail = f;
  r->families_tail = &f->next;
  pthread_mutex_unlock(&r->mu);
  return f;
}

metrics_family *metrics_family_new(metrics_registry *r, const char *name, const char *help, metrics_type type,
                                   size_t label_count, const char *const *label_names) {
  if (type == METRICS_HISTOGRAM) return NULL; /* needs bounds: metrics_histogram_new */
  return family_register(r, family_new(r, name, help, type, label_count, label_names));
}

metrics_family *metrics_histogram_new(metrics_registry *r, const char *name, const char *help,
                                      size_t label_count, const char *const *label_names,
                                      const uint64_t *bounds, size_t bound_count, double scale) {
  if (bound_count == 0 || bound_count > METRICS_MAX_BOUNDS || !(scale > 0)) return NULL;
  for (size_t i = 1; i < bound_count; i++)
    if (bounds[i] <= bounds[i - 1]) return NULL;
  metrics_family *f = family_new(r, name, help, METRICS_HISTOGRAM, label_count, label_names);
  if (!f) return NULL;
  memcpy(f->bounds, bounds, bound_count * sizeof bounds[0]);
  f->bound_count = bound_count;
  f->scale = scale;
  return family_register(r, f);
}

static size_t series_slots(const metrics_family *f) {
  switch (f->type) {
  case METRICS_COUNTER:
    return 1;
  case METRICS_HISTOGRAM:
    return f->bound_count + 2;
  case METRICS_GAUGE:
    break;
  }
  return 0;
}

static bool same_labels(const metrics_series *s, size_t n, const char *const *values) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(s->labels[i], values[i]) != 0) return false;
  return true;
}

metrics_series *metrics_series_get(metrics_family *f, const char *const *label_values) {
  if (!f) return NULL;
  metrics_registry *r = f->reg;
  pthread_mutex_lock(&r->mu);
  metrics_series *s = f->series;
  while (s && !same_labels(s, f->label_count, label_values)) s = s->next;
  size_t need = series_slots(f);
  if (!s && r->used + need <= r->slots && (s = calloc(1, sizeof *s))) {
    bool ok = true;
    for (size_t i = 0; ok && i < f->label_count; i++) ok = (s->labels[i] = strdup(label_values[i])) != NULL;
    if (ok) {
      s->family = f;
      s->slot = r->used;
      r->used += need;
      *f->series_tail = s;
      f->series_tail = &s->next;
    } else {
      for (size_t i = 0; i < f->label_count; i++) free(s->labels[i]);
      free(s);
      s = NULL;
    }
  }
  pthread_mutex_unlock(&r->mu);
  return s;
}

/* The calling thread's shard, created on its first update (the only time a lock is taken). */
static metrics_slot *thread_shard(metrics_registry *r) {
  metrics_slot *shard = pthread_getspecific(r->key);
  if (shard) return shard;
  pthread_mutex_lock(&r->mu);
  if (r->shard_count < METRICS_MAX_SHARDS && (shard = calloc(r->slots, sizeof *shard)))
    r->shards[r->shard_count++] = shard;
  else
    shard = r->shards[0]; /* shared: every add is atomic */
  pthread_mutex_unlock(&r->mu);
  if (pthread_setspecific(r->key, shard) != 0) return r->shards[0];
  return shard;
}

void metrics_counter_add(metrics_series *s, uint64_t n) {
  if (!s || s->family->type != METRICS_COUNTER) return;
  atomic_fetch_add_explicit(&thread_shard(s->family->reg)[s->slot], n, memory_order_relaxed);
}

void metrics_gauge_set(metrics_series *s, int64_t value) {
  if (s && s->family->type == METRICS_GAUGE) atomic_store_explicit(&s->gauge, value, memory_order_relaxed);
}

void metrics_gauge_add(metrics_series *s, int64_t delta) {
  if (s && s->family->type == METRICS_GAUGE)
    atomic_fetch_add_explicit(&s->gauge, delta, memory_order_relaxed);
}

void metrics_histogram_observe(metrics_series *s, uint64_t value) {
  if (!s || s->family->type != METRICS_HISTOGRAM) return;
  const metrics_family *f = s->family;
  size_t bucket = 0;
  while (bucket < f->bound_count && value > f->bounds[bucket]) bucket++; /* le: value <= bound */
  metrics_slot *shard = thread_shard(f->reg);
  atomic_fetch_add_explicit(&shard[s->slot + bucket], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&shard[s->slot + f->bound_count + 1], value, memory_order_relaxed);
}

/* Sum of one slot over every shard. Caller holds r->mu (shard_count is stable). */
static uint64_t slot_sum(const metrics_registry *r, size_t slot) {
  uint64_t sum = 0;
  for (size_t i = 0; i < r->shard_count; i++)
    sum += atomic_load_explicit(&r->shards[i][slot], memory_order_relaxed);
  return sum;
}

int64_t metrics_series_value(const metrics_series *s) {
  if (!s) return 0;
  if (s->family->type == METRICS_GAUGE) return atomic_load_explicit(&s->gauge, memory_order_relaxed);
  metrics_registry *r = s->family->reg;
  pthread_mutex_lock(&r->mu);
  uint64_t v = 0;
  size_t n = s->family->type == METRICS_HISTOGRAM ? s->family->bound_count + 1 : 1; /* histograms: count */
  for (size_t i = 0; i < n; i++) v += slot_sum(r, s->slot + i);
  pthread_mutex_unlock(&r->mu);
  return (int64_t)v;
}

bool metrics_collector_add(metrics_registry *r, metrics_collector fn, void *ctx) {
  if (!r || !fn) return false;
  collector_entry *c = calloc(1, sizeof *c);
  if (!c) return false;
  c->fn = fn;
  c->ctx = ctx;
  pthread_mutex_lock(&r->mu);
  collector_entry **tail = &r->collectors;
  while (*tail) tail = &(*tail)->next;
  *tail = c;
  pthread_mutex_unlock(&r->mu);
  return true;
}

void metrics_collector_remove(metrics_registry *r, metrics_collector fn, void *ctx) {
  if (!r) return;
  pthread_mutex_lock(&r->mu);
  for (collector_entry **p = &r->collectors; *p; p = &(*p)->next) {
    if ((*p)->fn == fn && (*p)->ctx == ctx) {
      collector_entry *c = *p;
      *p = c->next;
      free(c);
      break;
    }
  }
  pthread_mutex_unlock(&r->mu);
}

static const char *type_name(metrics_type t) {
  switch (t) {
  case METRICS_COUNTER:
    return "counter";
  case METRICS_GAUGE:
    return "gauge";
  case METRICS_HISTOGRAM:
    return "histogram";
  }
  return "untyped";
}

static void render_histogram(metrics_text *t, const metrics_registry *r, const metrics_family *f,
                             const metrics_series *s) {
  const char *const *names = (const char *const *)f->label_names;
  const char *const *values = (const char *const *)s->labels;
  size_t name_len = strlen(f->name);
  char sample[256];
  uint64_t cumulative = 0;
  for (size_t b = 0; b <= f->bound_count; b++) {
    cumulative += slot_sum(r, s->slot + b);
    char le[32];
    if (b < f->bound_count)
      snprintf(le, sizeof le, "%.15g", (double)f->bounds[b] * f->scale);
    else
      snprintf(le, sizeof le, "+Inf");
    snprintf(sample, sizeof sample, "%.*s_bucket", (int)name_len, f->name);
    text_series_name(t, sample, f->label_count, names, values, "le", le);
    text_printf(t, " %llu\n", (unsigned long long)cumulative);
  }
  snprintf(sample, sizeof sample, "%s_sum", f->name);
  metrics_text_sample(t, sample, f->label_count, names, values,
                      (double)slot_sum(r, s->slot + f->bound_count + 1) * f->scale);
  snprintf(sample, sizeof sample, "%s_count", f->name);
  text_series_name(t, sample, f->label_count, names, values, NULL, NULL);
  text_printf(t, " %llu\n", (unsigned long long)cumulative);
}

static void render_family(metrics_text *t, const metrics_registry *r, const metrics_family *f) {
  metrics_text_family(t, f->name, f->help, type_name(f->type));
  const char *const *names = (const char *const *)f->label_names;
  for (const metrics_series *s = f->series; s; s = s->next) {
    const char *const *values = (const char *const *)s->labels;
    if (f->type == METRICS_HISTOGRAM) {
      render_histogram(t, r, f, s);
      continue;
    }
    text_series_name(t, f->name, f->label_count, names, values, NULL, NULL);
    if (f->type == METRICS_COUNTER)
      text_printf(t, " %llu\n", (unsigned long long)slot_sum(r, s->slot));
    else
      text_printf(t, " %lld\n", (long long)atomic_load_explicit(&s->gauge, memory_order_relaxed));
  }
}

char *metrics_render(metrics_registry *r, size_t *len) {
  metrics_text t = {0};
  text_append(&t, "", 0); /* an empty registry renders "" rather than NULL */
  if (r) {
    pthread_mutex_lock(&r->mu);
    for (const metrics_family *f = r->families; f; f = f->next) render_family(&t, r, f);
    for (const collector_entry *c = r->collectors; c; c = c->next) c->fn(c->ctx, &t);
    pthread_mutex_unlock(&r->mu);
  }
  if (t.failed) {
    free(t.data);
    return NULL;
  }
  *len = t.len;
  return t.data;
}

uint64_t metrics_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
