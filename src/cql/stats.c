/* cql/stats: the client's monitoring snapshot (cql_client_stats_get in client.h). */
#include <stdio.h>
#include <string.h>

#include "cql/client_internal.h"

void cql_stats_init(cql_stats_state *s) {
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->hosts_lock, NULL);
}

void cql_stats_destroy(cql_stats_state *s) { pthread_mutex_destroy(&s->hosts_lock); }

void cql_stats_publish_hosts(cql_client *c) {
  cql_stats_state *s = &c->stats;
  pthread_mutex_lock(&s->hosts_lock);
  s->n_hosts = c->n_hosts;
  for (size_t i = 0; i < c->n_hosts && i < CQL_STATS_MAX_HOSTS; i++) {
    const cql_host *h = c->hosts[i];
    cql_host_stats *out = &s->hosts[i];
    snprintf(out->name, sizeof out->name, "%s", h->name);
    snprintf(out->dc, sizeof out->dc, "%s", h->dc ? h->dc : "");
    out->up = cql_client_host_is_up(h);
  }
  pthread_mutex_unlock(&s->hosts_lock);
}

static uint64_t load(_Atomic uint64_t *v) { return atomic_load_explicit(v, memory_order_relaxed); }

void cql_client_stats_get(cql_client *c, cql_client_stats *out) {
  cql_stats_state *s = &c->stats;
  memset(out, 0, sizeof *out);
  uint64_t completed = load(&s->completed);
  uint64_t created = load(&s->created);
  out->in_flight = created > completed ? created - completed : 0;
  out->queued = load(&s->queued);
  out->completed = completed;
  out->errors = load(&s->errors);
  out->timeouts = load(&s->timeouts);
  out->retries = load(&s->retries);
  pthread_mutex_lock(&s->hosts_lock);
  out->host_count = s->n_hosts;
  size_t n = s->n_hosts < CQL_STATS_MAX_HOSTS ? s->n_hosts : CQL_STATS_MAX_HOSTS;
  memcpy(out->hosts, s->hosts, n * sizeof s->hosts[0]);
  pthread_mutex_unlock(&s->hosts_lock);
}
