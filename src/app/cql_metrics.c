#include "app/cql_metrics.h"

#include <stdlib.h>

static void single(metrics_text *out, const char *name, const char *help, const char *type, uint64_t v) {
  metrics_text_family(out, name, help, type);
  metrics_text_sample(out, name, 0, NULL, NULL, (double)v);
}

void cql_metrics_render(const cql_client_stats *s, metrics_text *out) {
  single(out, "messenger_cql_requests_in_flight", "CQL requests accepted and not yet answered.", "gauge",
         s->in_flight);
  single(out, "messenger_cql_requests_queued",
         "CQL requests accepted and not yet started (waiting for the I/O thread or the first connection).",
         "gauge", s->queued);
  single(out, "messenger_cql_requests_total", "CQL requests finished.", "counter", s->completed);
  single(out, "messenger_cql_request_errors_total", "CQL requests finished with an error.", "counter",
         s->errors);
  single(out, "messenger_cql_request_timeouts_total", "CQL requests finished with a client-side timeout.",
         "counter", s->timeouts);
  single(out, "messenger_cql_request_retries_total", "CQL attempts sent again by the retry policy.",
         "counter", s->retries);
  single(out, "messenger_cql_hosts", "Cassandra hosts the client knows (live).", "gauge", s->host_count);
  metrics_text_family(out, "messenger_cql_host_up", "1 when the client has a ready connection to the host.",
                      "gauge");
  static const char *const labels[] = {"host", "dc"};
  size_t n = s->host_count < CQL_STATS_MAX_HOSTS ? s->host_count : CQL_STATS_MAX_HOSTS;
  for (size_t i = 0; i < n; i++) {
    const char *values[] = {s->hosts[i].name, s->hosts[i].dc};
    metrics_text_sample(out, "messenger_cql_host_up", 2, labels, values, s->hosts[i].up ? 1 : 0);
  }
}

void cql_metrics_collect(void *client, metrics_text *out) {
  cql_client_stats *stats = malloc(sizeof *stats); /* ~8 KiB: not on a worker's stack */
  if (!stats) return;
  cql_client_stats_get(client, stats);
  cql_metrics_render(stats, out);
  free(stats);
}
