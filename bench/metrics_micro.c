/* bench/metrics_micro: the CPU time metrics add to one request, measured in isolation (make
 * bench-metrics prints it next to the server's CPU time per request): counting a request
 * (api/request_metrics: series lookup, counter, duration histogram) and timing a store call
 * (store/metered around a store that answers inline, as SQLite reads do). CPU time of the
 * process, so that other load on the machine does not inflate it. */
#include <stdio.h>
#include <time.h>

#include "api/request_metrics.h"
#include "metrics/global.h"
#include "store/metered.h"

#define CALLS 5000000

static void no_handler(http_exchange *ex, void *app) { (void)ex, (void)app; }

static void inline_get(store *s, int64_t id, store_conversation_cb cb, void *arg) {
  (void)s;
  conversation c = {.id = id};
  cb(arg, STORE_OK, NULL, &c);
}

static void add_id(void *arg, store_status st, const char *detail, const conversation *c) {
  (void)st, (void)detail;
  *(int64_t *)arg += c->id;
}

static void close_nothing(store *s) { (void)s; }

static double cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(void) {
  static const http_route routes[] = {
      {"GET", "/a/{}", no_handler}, {"POST", "/b", no_handler}, {"GET", "/c", no_handler}};
  static const store_vtable vt = {
      .backend = "inline", .get_conversation = inline_get, .close = close_nothing};
  store inner = {.vt = &vt};
  if (!metrics_global_init("bench", "inline")) return 1;
  request_metrics *m = request_metrics_new(metrics_global(), routes, 3);
  store *metered = store_metered_wrap(&inner, metrics_global());
  if (!m || metered == &inner) return 1;
  int64_t sum = 0;
  double t0 = cpu_ns();
  for (int i = 0; i < CALLS; i++)
    request_metrics_observe(m, &routes[i % 3], "GET", 200, (uint64_t)(i % 5000));
  double t1 = cpu_ns();
  for (int i = 0; i < CALLS; i++) store_get_conversation(metered, i, add_id, &sum);
  double t2 = cpu_ns();
  for (int i = 0; i < CALLS; i++) store_get_conversation(&inner, i, add_id, &sum);
  double t3 = cpu_ns();
  double count = (t1 - t0) / CALLS, timed = (t2 - t1) / CALLS, bare = (t3 - t2) / CALLS;
  printf(
      "| CPU per call | ns |\n|---|---:|\n| counting a request (route, method, status; duration) | %.0f |\n"
      "| a store call through store/metered | %.0f |\n| the same call, unwrapped | %.0f |\n"
      "| **metrics per read request** | **%.0f** |\n",
      count, timed, bare, count + timed - bare);
  store_close(metered);
  request_metrics_free(m);
  metrics_global_shutdown();
  return sum == 0; /* keeps the loops */
}
