/* The CQL client's stats snapshot against cqlmock: requests, errors, client timeouts and
 * retries are counted, nothing stays in flight or queued once answered, and every host is
 * listed with its state (a stopped node turns down, a restarted one up again); and the
 * snapshot's rendering as Prometheus families (app/cql_metrics). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cqlmock/cqlmock.h"
#include "app/cql_metrics.h"
#include "cql/client.h"
#include "metrics/metrics.h"

/* A client that notices a restarted node within ~50 ms. */
static cql_client *new_client(cqlmock *m, unsigned request_timeout_ms) {
  cql_config cfg;
  cql_config_init(&cfg);
  cfg.contact_points = cqlmock_contact_points(m);
  cfg.port = cqlmock_node_port(m, 0);
  cfg.request_timeout_ms = request_timeout_ms;
  cfg.reconnect_base_ms = cfg.reconnect_max_ms = 50;
  cql_client *c = cql_client_new(&cfg, NULL);
  assert_non_null(c);
  char err[256];
  assert_int_equal(cql_client_connect_wait(c, err, sizeof err), 0);
  return c;
}

static int32_t run(cql_client *c, const char *q, bool idempotent) {
  cql_statement *st = cql_statement_new(q, 0, false);
  cql_statement_set_idempotent(st, idempotent);
  char err[256];
  cql_resultset *rs = NULL;
  int32_t code = cql_client_execute_wait(c, st, &rs, err, sizeof err);
  cql_resultset_free(rs);
  cql_statement_free(st);
  return code;
}

static size_t hosts_up(const cql_client_stats *s) {
  size_t up = 0;
  for (size_t i = 0; i < s->host_count; i++) up += s->hosts[i].up;
  return up;
}

/* Waits up to 3 s for `want` hosts up. */
static void wait_hosts_up(cql_client *c, size_t want, cql_client_stats *s) {
  for (int i = 0; i < 300; i++) {
    cql_client_stats_get(c, s);
    if (hosts_up(s) == want) return;
    usleep(10000);
  }
  fail_msg("expected %zu hosts up, have %zu", want, hosts_up(s));
}

static void counts_requests_errors_timeouts_retries_and_hosts(void **state) {
  (void)state;
  cqlmock_config mc = {.nodes = 3, .keyspace = "ks"};
  cqlmock *m = cqlmock_start(&mc);
  assert_non_null(m);
  cql_client *c = new_client(m, 150);
  cql_client_stats *s = calloc(1, sizeof *s);
  assert_non_null(s);
  wait_hosts_up(c, 3, s);
  assert_int_equal(s->host_count, 3);
  for (size_t i = 0; i < 3; i++) assert_non_null(strstr(s->hosts[i].name, "127.0.0."));
  uint64_t done0 = s->completed, errors0 = s->errors;

  for (int i = 0; i < 5; i++) assert_int_equal(run(c, "SELECT ok FROM ks.t", true), 0);
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "SELEC bad");
  cqlmock_prime_error(p, 0x2000, "bad syntax");
  assert_int_equal(cqlmock_prime_add(m, p), 0);
  assert_int_equal(run(c, "SELEC bad", true), 0x2000);
  /* no answer on any node: a non-idempotent request times out once, without a retry */
  p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "SELECT slow FROM ks.t");
  cqlmock_prime_no_answer(p);
  assert_int_equal(cqlmock_prime_add(m, p), 0);
  assert_int_equal(run(c, "SELECT slow FROM ks.t", false), CQL_ERR_CLIENT_TIMEOUT);
  cql_client_stats_get(c, s);
  assert_int_equal(s->completed - done0, 7);
  assert_int_equal(s->errors - errors0, 2);
  assert_int_equal(s->timeouts, 1);
  assert_int_equal(s->retries, 0);
  /* idempotent: the timeout is retried on the next hosts, every attempt times out */
  assert_int_equal(run(c, "SELECT slow FROM ks.t", true), CQL_ERR_CLIENT_TIMEOUT);
  cql_client_stats_get(c, s);
  assert_int_equal(s->timeouts, 2);
  assert_true(s->retries >= 1);
  assert_int_equal(s->in_flight, 0);
  assert_int_equal(s->queued, 0);

  /* a stopped node is reported down, and up again once restarted */
  assert_int_equal(cqlmock_node_stop(m, 1), 0);
  wait_hosts_up(c, 2, s);
  assert_int_equal(s->host_count, 3);
  assert_int_equal(cqlmock_node_start(m, 1), 0);
  wait_hosts_up(c, 3, s);

  free(s);
  cql_client_close(c);
  cqlmock_stop(m);
}

static void render_snapshot(void *stats, metrics_text *out) { cql_metrics_render(stats, out); }

static void renders_the_snapshot(void **state) {
  (void)state;
  cql_client_stats *s = calloc(1, sizeof *s);
  assert_non_null(s);
  *s = (cql_client_stats){.in_flight = 3,
                          .queued = 1,
                          .completed = 40,
                          .errors = 2,
                          .timeouts = 1,
                          .retries = 5,
                          .host_count = 2};
  strcpy(s->hosts[0].name, "10.0.0.1:9042");
  strcpy(s->hosts[0].dc, "dc1");
  s->hosts[0].up = true;
  strcpy(s->hosts[1].name, "10.0.0.2:9042");
  metrics_registry *r = metrics_registry_new(16);
  assert_non_null(r);
  assert_true(metrics_collector_add(r, render_snapshot, s));
  size_t len;
  char *text = metrics_render(r, &len);
  assert_non_null(text);
  assert_non_null(
      strstr(text, "# TYPE messenger_cql_requests_in_flight gauge\nmessenger_cql_requests_in_flight 3\n"));
  assert_non_null(strstr(text, "\nmessenger_cql_requests_queued 1\n"));
  assert_non_null(
      strstr(text, "# TYPE messenger_cql_requests_total counter\nmessenger_cql_requests_total 40\n"));
  assert_non_null(strstr(text, "\nmessenger_cql_request_errors_total 2\n"));
  assert_non_null(strstr(text, "\nmessenger_cql_request_timeouts_total 1\n"));
  assert_non_null(strstr(text, "\nmessenger_cql_request_retries_total 5\n"));
  assert_non_null(strstr(text, "\nmessenger_cql_hosts 2\n"));
  assert_non_null(strstr(text, "\nmessenger_cql_host_up{host=\"10.0.0.1:9042\",dc=\"dc1\"} 1\n"));
  assert_non_null(strstr(text, "\nmessenger_cql_host_up{host=\"10.0.0.2:9042\",dc=\"\"} 0\n"));
  free(text);
  metrics_registry_free(r);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(counts_requests_errors_timeouts_retries_and_hosts),
      cmocka_unit_test(renders_the_snapshot),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
