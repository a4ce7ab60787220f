/* metrics: a registry of counters, gauges and histograms, rendered in the Prometheus text
 * exposition format 0.0.4. A library: it knows no endpoint, store or protocol.
 *
 * Counters and histograms are sharded per thread: each thread that updates a registry gets its
 * own block of value slots (found through a pthread key), so an update is one relaxed atomic
 * add on a cache line no other thread writes, and no lock is taken on the update path. A
 * scrape sums the shards. Past METRICS_MAX_SHARDS threads, the extra threads share one shard
 * (still correct: every add is atomic). Gauges are one atomic value each (set or add); they are
 * for quantities that change rarely or are read at scrape time.
 *
 * Series are created at any time (a lock is taken: do it once and keep the handle, or cache it
 * as api/request_metrics does); a registry has a fixed number of value slots given at creation,
 * and a series that would not fit is not created (NULL). Every update function accepts a NULL
 * series and does nothing, so code can be instrumented unconditionally and metrics switched off
 * by not creating the registry.
 *
 * Collectors are callbacks run at scrape time that write whole families themselves (values read
 * from elsewhere: a library's stats snapshot, /proc).
 *
 * Ownership: the registry owns families, series, shards and label strings (copied); handles
 * stay valid until metrics_registry_free, which must not race with updates or scrapes. */
#ifndef MESSENGER_METRICS_METRICS_H
#define MESSENGER_METRICS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_SHARDS   64
#define METRICS_MAX_LABELS   4
#define METRICS_MAX_BOUNDS   24
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct metrics_registry metrics_registry;
typedef struct metrics_family metrics_family;
typedef struct metrics_series metrics_series;
typedef struct metrics_text metrics_text;

typedef enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM } metrics_type;

/* A registry with room for `slots` counter/histogram values per thread (8 bytes each). NULL
 * when out of memory. */
metrics_registry *metrics_registry_new(size_t slots);
void metrics_registry_free(metrics_registry *r); /* NULL: no-op */

/* A counter or gauge family with label_count (<= METRICS_MAX_LABELS) label names. Names must
 * match [a-zA-Z_:][a-zA-Z0-9_:]* (labels: no ':'); NULL when invalid or out of memory. */
metrics_family *metrics_family_new(metrics_registry *r, const char *name, const char *help, metrics_type type,
                                   size_t label_count, const char *const *label_names);
/* A histogram family: observations are unsigned integers in some unit (microseconds, items);
 * bounds[0..bound_count) ascending in that unit; `scale` converts the unit to the exposed one
 * (1e-6 for microseconds exposed as seconds, 1 for counts). */
metrics_family *metrics_histogram_new(metrics_registry *r, const char *name, const char *help,
                                      size_t label_count, const char *const *label_names,
                                      const uint64_t *bounds, size_t bound_count, double scale);

/* The series of `f` with these label values (copied; as many as the family has labels); the
 * same handle for the same values. NULL when `f` is NULL, out of slots or memory. */
metrics_series *metrics_series_get(metrics_family *f, const char *const *label_values);

void metrics_counter_add(metrics_series *s, uint64_t n);
void metrics_gauge_set(metrics_series *s, int64_t value);
void metrics_gauge_add(metrics_series *s, int64_t delta);
void metrics_histogram_observe(metrics_series *s, uint64_t value);

/* Current value of a counter or gauge series (sums the shards); for tests and collectors. */
int64_t metrics_series_value(const metrics_series *s);

/* Collectors: fn(ctx, out) runs on the scraping thread, after the registry's own families, in
 * the order added. remove waits for nothing: call it when no scrape can run, or accept that a
 * running scrape finishes with the old ctx (callers remove before freeing ctx, at shutdown). */
typedef void (*metrics_collector)(void *ctx, metrics_text *out);
bool metrics_collector_add(metrics_registry *r, metrics_collector fn, void *ctx);
void metrics_collector_remove(metrics_registry *r, metrics_collector fn, void *ctx);

/* Writing samples from a collector: the # HELP / # TYPE lines once per family, then samples
 * of that family. type is "counter", "gauge", ... Label values are escaped. */
void metrics_text_family(metrics_text *t, const char *name, const char *help, const char *type);
void metrics_text_sample(metrics_text *t, const char *name, size_t label_count,
                         const char *const *label_names, const char *const *label_values, double value);

/* A monotonic clock in microseconds, for timing what histograms observe. */
uint64_t metrics_now_us(void);

/* The whole exposition, malloc'ed (the caller frees it), *len bytes; NULL when out of memory. */
char *metrics_render(metrics_registry *r, size_t *len);

#endif
