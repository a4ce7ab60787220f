#include "cql/pool.h"

#include <stdlib.h>

#include "cql/conn.h"
#include "cql/errors.h"

/* How often queued requests are checked against their deadlines (ms). */
#define PENDING_SWEEP_MS 20

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
  /* Back-pressure: requests that found every connection at its in-flight cap, oldest first
   * (linked through cql_request_next), at most max_pending_per_host of them. */
  cql_request *pending_head, *pending_tail;
  size_t n_pending;
  bool draining;
  uv_timer_t pending_timer; /* deadline sweep while the queue is not empty */
  int open_handles;         /* timer + pending_timer: freed when both are closed */
};

static void open_slot(cql_pool *p, size_t i);

static void notify(cql_pool *p) { cql_client_on_pool_state(p->client, p->host); }

/* ---- the pending queue ------------------------------------------------------------------------ */

static bool has_capacity(const cql_pool *p) {
  for (size_t i = 0; i < p->n; i++)
    if (p->conns[i] && p->ready[i] && cql_conn_has_capacity(p->conns[i])) return true;
  return false;
}

static cql_request *pending_pop(cql_pool *p) {
  cql_request *r = p->pending_head;
  if (!r) return NULL;
  p->pending_head = cql_request_next(r);
  if (!p->pending_head) p->pending_tail = NULL;
  cql_request_set_next(r, NULL);
  p->n_pending--;
  return r;
}

static void on_pending_sweep(uv_timer_t *t);

static void pending_timer_update(cql_pool *p) {
  if (!p->pending_head)
    uv_timer_stop(&p->pending_timer);
  else if (!uv_is_active((uv_handle_t *)&p->pending_timer))
    uv_timer_start(&p->pending_timer, on_pending_sweep, PENDING_SWEEP_MS, PENDING_SWEEP_MS);
}

bool cql_pool_enqueue(cql_pool *p, cql_request *r) {
  if (p->closing || p->n_pending >= p->client->cfg.max_pending_per_host) return false;
  cql_request_set_next(r, NULL);
  if (p->pending_tail)
    cql_request_set_next(p->pending_tail, r);
  else
    p->pending_head = r;
  p->pending_tail = r;
  p->n_pending++;
  pending_timer_update(p);
  return true;
}

/* Sends queued requests, oldest first, while a connection has room. Each resumes its query
 * plan at this host: it is sent here, or (if it cannot be) moves on like any attempt. */
static void drain(cql_pool *p) {
  if (p->draining) return;
  p->draining = true;
  while (p->pending_head && has_capacity(p)) cql_request_resume(pending_pop(p));
  p->draining = false;
  pending_timer_update(p);
}

/* The host went down or its pool closes: every queued request leaves the queue and resumes
 * its plan at the next hosts, or fails when the client itself is closing. */
static void flush_pending(cql_pool *p, bool client_closing) {
  cql_request *list = p->pending_head;
  p->pending_head = p->pending_tail = NULL;
  p->n_pending = 0;
  while (list) {
    cql_request *r = list;
    list = cql_request_next(r);
    cql_request_set_next(r, NULL);
    if (client_closing)
      cql_request_fail(r, CQL_ERR_CLIENT_CLOSED, "client closed");
    else
      cql_request_resume(r);
  }
  pending_timer_update(p);
}

/* Fails the queued requests whose deadline passed (their own budget, or request_timeout_ms of
 * waiting when they have none). */
static void on_pending_sweep(uv_timer_t *t) {
  cql_pool *p = t->data;
  uint64_t now = uv_hrtime() / 1000000u;
  cql_request *expired = NULL, *prev = NULL;
  for (cql_request *r = p->pending_head; r;) {
    cql_request *next = cql_request_next(r);
    if (cql_request_wait_deadline(r) && cql_request_wait_deadline(r) <= now) {
      if (prev)
        cql_request_set_next(prev, next);
      else
        p->pending_head = next;
      if (p->pending_tail == r) p->pending_tail = prev;
      p->n_pending--;
      cql_request_set_next(r, expired);
      expired = r;
    } else {
      prev = r;
    }
    r = next;
  }
  while (expired) {
    cql_request *r = expired;
    expired = cql_request_next(r);
    cql_request_set_next(r, NULL);
    cql_request_fail_queued(r);
  }
  pending_timer_update(p);
}

static void on_conn_capacity(cql_conn *c, void *ud) {
  (void)c;
  drain(ud);
}

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
  drain(p);
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
  if (p->n_ready == 0) flush_pending(p, false);
}

static const cql_conn_handlers pool_handlers = {on_conn_ready, on_conn_down, NULL, on_conn_capacity};

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
  flush_pending(p, false);
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
  uv_timer_init(&c->loop, &p->pending_timer);
  p->pending_timer.data = p;
  p->open_handles = 2;
  for (size_t i = 0; i < p->n; i++) open_slot(p, i);
  if (all_empty(p)) {
    p->first_done = true; /* could not even start: report down now, retry later */
    notify(p);
  }
  return p;
}

static void on_timer_closed(uv_handle_t *h) {
  cql_pool *p = h->data;
  if (--p->open_handles > 0) return;
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
  flush_pending(p, err_code == CQL_ERR_CLIENT_CLOSED);
  uv_close((uv_handle_t *)&p->timer, on_timer_closed);
  uv_close((uv_handle_t *)&p->pending_timer, on_timer_closed);
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

bool cql_pool_is_saturated(const cql_pool *p) { return cql_pool_is_up(p) && !has_capacity(p); }

void cql_pool_reconnect_now(cql_pool *p) {
  if (p->closing) return;
  uv_timer_stop(&p->timer);
  cql_backoff_reset(&p->backoff);
  for (size_t i = 0; i < p->n; i++)
    if (!p->conns[i]) open_slot(p, i);
}
