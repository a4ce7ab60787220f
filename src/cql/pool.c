#include "cql/pool.h"

#include <stdlib.h>

#include "cql/conn.h"

struct cql_pool {
  cql_client *client;
  cql_host *host;
  size_t n;
  cql_conn **conns; /* NULL: slot empty */
  bool *ready;
  unsigned n_ready;
  uv_timer_t timer; /* reconnection */
  cql_backoff backoff;
  bool first_done;
  bool closing;
};

static void open_slot(cql_pool *p, size_t i);

static void notify(cql_pool *p) { cql_client_on_pool_state(p->client, p->host); }

static size_t slot_of(const cql_pool *p, const cql_conn *c) {
  for (size_t i = 0; i < p->n; i++)
    if (p->conns[i] == c) return i;
  return p->n;
}

static void on_reconnect_timer(uv_timer_t *t) {
  cql_pool *p = t->data;
  for (size_t i = 0; i < p->n && !p->closing; i++)
    if (!p->conns[i]) open_slot(p, i);
}

static void schedule_reconnect(cql_pool *p) {
  if (p->closing || uv_is_active((uv_handle_t *)&p->timer)) return;
  uv_timer_start(&p->timer, on_reconnect_timer, cql_backoff_next(&p->backoff), 0);
}

static bool all_empty(const cql_pool *p) {
  for (size_t i = 0; i < p->n; i++)
    if (p->conns[i]) return false;
  return true;
}

static void on_conn_ready(cql_conn *c, void *ud) {
  cql_pool *p = ud;
  size_t i = slot_of(p, c);
  if (i == p->n) return;
  p->ready[i] = true;
  cql_backoff_reset(&p->backoff);
  bool changed = p->n_ready++ == 0 || !p->first_done;
  p->first_done = true;
  if (changed) notify(p);
}

static void on_conn_down(cql_conn *c, const cql_error *err, void *ud) {
  cql_pool *p = ud;
  size_t i = slot_of(p, c);
  if (i == p->n) return;
  p->conns[i] = NULL;
  bool was_ready = p->ready[i];
  p->ready[i] = false;
  if (was_ready) p->n_ready--;
  if (p->closing) return;
  bool changed = (was_ready && p->n_ready == 0) || (!p->first_done && all_empty(p));
  if (!p->first_done && all_empty(p)) p->first_done = true;
  /* a connection retiring because of orphans is replaced at once; failures wait */
  if (!err)
    open_slot(p, i);
  else
    schedule_reconnect(p);
  if (changed) notify(p);
}

static const cql_conn_handlers pool_handlers = {on_conn_ready, on_conn_down, NULL};

static void open_slot(cql_pool *p, size_t i) {
  cql_conn_settings s;
  cql_client_conn_settings(p->client, &s);
  p->conns[i] =
      cql_conn_open(&p->client->loop, (const struct sockaddr *)&p->host->addr, &s, &pool_handlers, p);
  if (!p->conns[i]) schedule_reconnect(p);
}

void cql_pool_mark_down(cql_pool *p) {
  if (p->closing) return;
  bool changed = p->n_ready > 0 || !p->first_done; /* a first connect counts as an outcome */
  p->first_done = true;
  p->n_ready = 0; /* before the closes: their failed requests may look for another host */
  for (size_t i = 0; i < p->n; i++) {
    cql_conn *c = p->conns[i];
    p->conns[i] = NULL;
    p->ready[i] = false;
    if (c) cql_conn_close(c, CQL_ERR_CONNECTION_CLOSED);
  }
  schedule_reconnect(p);
  if (changed) notify(p);
}

cql_pool *cql_pool_new(cql_client *c, cql_host *h) {
  cql_pool *p = calloc(1, sizeof(*p));
  if (!p) return NULL;
  p->client = c;
  p->host = h;
  p->n = c->cfg.connections_per_host ? c->cfg.connections_per_host : 1;
  p->conns = calloc(p->n, sizeof(*p->conns));
  p->ready = calloc(p->n, sizeof(*p->ready));
  if (!p->conns || !p->ready) {
    free(p->conns);
    free(p->ready);
    free(p);
    return NULL;
  }
  cql_backoff_init(&p->backoff, c->cfg.reconnect_base_ms, c->cfg.reconnect_max_ms, cql_client_random(c));
  uv_timer_init(&c->loop, &p->timer);
  p->timer.data = p;
  for (size_t i = 0; i < p->n; i++) open_slot(p, i);
  if (all_empty(p)) {
    p->first_done = true; /* could not even start: report down now, retry later */
    notify(p);
  }
  return p;
}

static void on_timer_closed(uv_handle_t *h) {
  cql_pool *p = h->data;
  free(p->conns);
  free(p->ready);
  free(p);
}

void cql_pool_close(cql_pool *p, int32_t err_code) {
  p->closing = true;
  for (size_t i = 0; i < p->n; i++) {
    cql_conn *c = p->conns[i];
    p->conns[i] = NULL;
    if (c) cql_conn_close(c, err_code);
  }
  p->n_ready = 0;
  uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}

cql_conn *cql_pool_pick(cql_pool *p) {
  cql_conn *best = NULL;
  for (size_t i = 0; i < p->n; i++) {
    cql_conn *c = p->conns[i];
    if (c && p->ready[i] && cql_conn_is_ready(c) &&
        (!best || cql_conn_in_flight(c) < cql_conn_in_flight(best)))
      best = c;
  }
  return best;
}

bool cql_pool_is_up(const cql_pool *p) { return p && p->n_ready > 0; }

void cql_pool_reconnect_now(cql_pool *p) {
  if (p->closing) return;
  uv_timer_stop(&p->timer);
  cql_backoff_reset(&p->backoff);
  for (size_t i = 0; i < p->n; i++)
    if (!p->conns[i]) open_slot(p, i);
}
