#include "api/request_metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/global.h"

static const char *const METHODS[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER"};
#define METHOD_COUNT (sizeof METHODS / sizeof METHODS[0])
#define STATUS_COUNT 600 /* 0 and 100..599; anything else is counted as 599 */
#define UNMATCHED    "unmatched"

struct request_metrics {
  const http_route *routes;
  size_t route_count; /* the table's; index route_count is "unmatched" */
  metrics_family *requests;
  metrics_series **durations;           /* [route_count + 1] */
  _Atomic(metrics_series *) *by_status; /* [(route_count + 1) * METHOD_COUNT * STATUS_COUNT] */
};

request_metrics *request_metrics_new(metrics_registry *reg, const http_route *routes, size_t route_count) {
  if (!reg) return NULL;
  static const char *const request_labels[] = {"route", "method", "status"};
  static const char *const route_label[] = {"route"};
  request_metrics *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->routes = routes;
  m->route_count = route_count;
  m->requests = metrics_family_new(reg, "messenger_http_requests_total",
                                   "HTTP requests answered, by route pattern, method and status.",
                                   METRICS_COUNTER, 3, request_labels);
  metrics_family *durations =
      metrics_histogram_new(reg, "messenger_http_request_duration_seconds",
                            "Time from a request's first byte to its response, by route pattern.", 1,
                            route_label, METRICS_LATENCY_BOUNDS_US, METRICS_LATENCY_BOUND_COUNT, 1e-6);
  m->durations = calloc(route_count + 1, sizeof *m->durations);
  m->by_status = calloc((route_count + 1) * METHOD_COUNT * STATUS_COUNT, sizeof *m->by_status);
  bool ok = m->requests && durations && m->durations && m->by_status;
  for (size_t i = 0; ok && i <= route_count; i++) {
    const char *values[] = {i < route_count ? routes[i].pattern : UNMATCHED};
    ok = (m->durations[i] = metrics_series_get(durations, values)) != NULL;
  }
  if (!ok) {
    request_metrics_free(m);
    return NULL;
  }
  return m;
}

void request_metrics_free(request_metrics *m) {
  if (!m) return;
  free(m->durations);
  free(m->by_status);
  free(m);
}

static size_t method_index(const char *method) {
  for (size_t i = 0; i + 1 < METHOD_COUNT; i++)
    if (strcmp(method, METHODS[i]) == 0) return i;
  return METHOD_COUNT - 1;
}

void request_metrics_observe(request_metrics *m, const http_route *route, const char *method, unsigned status,
                             uint64_t duration_us) {
  if (!m) return;
  size_t r = route ? (size_t)(route - m->routes) : m->route_count;
  if (r > m->route_count) r = m->route_count; /* not of this table: counted as unmatched */
  size_t mi = method_index(method ? method : "");
  unsigned st = status == 0 || (status >= 100 && status < STATUS_COUNT) ? status : STATUS_COUNT - 1;
  _Atomic(metrics_series *) *cell = &m->by_status[(r * METHOD_COUNT + mi) * STATUS_COUNT + st];
  metrics_series *s = atomic_load_explicit(cell, memory_order_acquire);
  if (!s) {
    char code[8];
    snprintf(code, sizeof code, "%u", st);
    const char *values[] = {r < m->route_count ? m->routes[r].pattern : UNMATCHED, METHODS[mi], code};
    s = metrics_series_get(m->requests, values); /* the same series if another thread raced */
    atomic_store_explicit(cell, s, memory_order_release);
  }
  metrics_counter_add(s, 1);
  metrics_histogram_observe(m->durations[r], duration_us);
}
