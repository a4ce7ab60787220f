#include "metrics/global.h"

#include "log/log.h"
#include "metrics/process.h"

/* Value slots per thread: HTTP requests by (route, method, status) are the bulk; 16,384
 * slots are 128 KiB per updating thread and fit ~40 routes x 4 methods x 10 statuses plus
 * every histogram. */
#define GLOBAL_SLOTS 16384

const uint64_t METRICS_LATENCY_BOUNDS_US[] = {100,     250,     500,     1000,    2500,   5000,
                                              10000,   25000,   50000,   100000,  250000, 500000,
                                              1000000, 2500000, 5000000, 10000000};
const size_t METRICS_LATENCY_BOUND_COUNT =
    sizeof METRICS_LATENCY_BOUNDS_US / sizeof METRICS_LATENCY_BOUNDS_US[0];

static const uint64_t BATCH_BOUNDS[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

/* Written once by init before any updating thread starts, cleared by shutdown after they stop. */
typedef struct global_metrics {
  metrics_registry *reg;
  metrics_series *streams, *streams_opened, *streams_dropped;
  metrics_series *queue_depth, *batch_size, *commit_duration;
} global_metrics;
static global_metrics g;

static metrics_series *single(metrics_family *f) { return metrics_series_get(f, NULL); }

bool metrics_global_init(const char *version, const char *store_backend) {
  metrics_registry *r = metrics_registry_new(GLOBAL_SLOTS);
  if (!r) {
    log_msg(LOG_ERROR, "metrics", "out of memory: metrics are off");
    return false;
  }
  static const char *const build_labels[] = {"version", "store"};
  const char *build_values[] = {version, store_backend};
  metrics_series *build = metrics_series_get(
      metrics_family_new(r, "messenger_build_info", "The running build: version and store backend.",
                         METRICS_GAUGE, 2, build_labels),
      build_values);
  metrics_gauge_set(build, 1);
  g.streams = single(metrics_family_new(r, "messenger_event_streams",
                                        "Open event streams (SSE and WebSocket).", METRICS_GAUGE, 0, NULL));
  g.streams_opened = single(metrics_family_new(r, "messenger_event_streams_opened_total",
                                               "Event streams opened.", METRICS_COUNTER, 0, NULL));
  g.streams_dropped = single(metrics_family_new(
      r, "messenger_event_streams_dropped_total",
      "Event streams closed by the server because the client fell behind.", METRICS_COUNTER, 0, NULL));
  g.queue_depth = single(metrics_family_new(r, "messenger_sqlite_writer_queue_depth",
                                            "Sends waiting for the SQLite writer.", METRICS_GAUGE, 0, NULL));
  g.batch_size = single(metrics_histogram_new(r, "messenger_sqlite_writer_batch_size",
                                              "Sends committed per SQLite write transaction.", 0, NULL,
                                              BATCH_BOUNDS, sizeof BATCH_BOUNDS / sizeof BATCH_BOUNDS[0], 1));
  g.commit_duration =
      single(metrics_histogram_new(r, "messenger_sqlite_writer_commit_duration_seconds",
                                   "Time of one SQLite write transaction, BEGIN to COMMIT (fsync included).",
                                   0, NULL, METRICS_LATENCY_BOUNDS_US, METRICS_LATENCY_BOUND_COUNT, 1e-6));
  if (!build || !g.streams || !g.streams_opened || !g.streams_dropped || !g.queue_depth || !g.batch_size ||
      !g.commit_duration || !metrics_collector_add(r, process_metrics_collect, NULL)) {
    log_msg(LOG_ERROR, "metrics", "out of memory: metrics are off");
    g = (global_metrics){0};
    metrics_registry_free(r);
    return false;
  }
  g.reg = r;
  return true;
}

void metrics_global_shutdown(void) {
  metrics_registry *r = g.reg;
  g = (global_metrics){0};
  metrics_registry_free(r);
}

metrics_registry *metrics_global(void) { return g.reg; }

void metrics_event_stream_opened(void) {
  metrics_gauge_add(g.streams, 1);
  metrics_counter_add(g.streams_opened, 1);
}

void metrics_event_stream_closed(void) { metrics_gauge_add(g.streams, -1); }

void metrics_event_stream_dropped(void) { metrics_counter_add(g.streams_dropped, 1); }

void metrics_sqlite_queue_depth(unsigned depth) { metrics_gauge_set(g.queue_depth, depth); }

void metrics_sqlite_batch(unsigned sends, uint64_t commit_us) {
  metrics_histogram_observe(g.batch_size, sends);
  metrics_histogram_observe(g.commit_duration, commit_us);
}
