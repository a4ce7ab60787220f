#include "cql/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cql/errors.h"
#include "cql/murmur3.h"
#include "cql/retry.h"

struct cql_request {
  cql_client *client;
  cql_request *next;     /* queue link */
  cql_statement *st;     /* owned (statement requests) */
  cql_batch_stmt *batch; /* owned (batch requests) */
  cql_result_cb cb;
  void *ud;

  cql_prepared_entry *entry;          /* statement: its cache entry */
  cql_prepared_entry **batch_entries; /* batch: per statement (NULL when not prepared) */
  cql_prep_waiter waiter;
  bool replay_after_prepare; /* the awaited PREPARE is a re-prepare: resend on the same host */
  bool sending_prepare;      /* creq carries a PREPARE for prep_entry on prep_host */
  cql_prepared_entry *prep_entry;
  cql_host *prep_host;    /* NULL: the first PREPARE, tried host after host of the plan */
  size_t prep_pos;        /* first PREPARE: plan index of the host it was sent to */
  cql_host *prep_sent_to; /* host the PREPARE in flight went to */

  cql_host **plan;
  size_t n_plan, pos;
  bool plan_built;
  cql_host *pinned;     /* non-NULL: the only host to try */
  uint64_t deadline_ms; /* total budget end (uv_hrtime ms); 0 = none */
  unsigned retries;
  bool reprepared;
  bool prep_initiator;   /* r sends the first PREPARE it waits for */
  bool prepare_redriven; /* r already started a PREPARE of its own after another's timed out */
  int64_t timestamp;
  bool has_timestamp;
  cql_host *host; /* of the attempt in flight */
  cql_conn_req creq;

  bool queued;       /* counted in the client's queued stat until started or freed */
  int32_t last_code; /* last failure, reported if the plan runs out */
  char last_msg[256];
  char errbuf[320];
};

static void attempt(cql_request *r);
static void ensure_prepared(cql_request *r);

/* ---- completion ------------------------------------------------------------------------- */

/* Leaves the queued stat (once). */
static void unqueue(cql_request *r) {
  if (!r->queued) return;
  r->queued = false;
  atomic_fetch_sub_explicit(&r->client->stats.queued, 1, memory_order_relaxed);
}

/* Counts r finished (before its callback, so a caller woken by it sees the counts). */
static void count_finished(cql_request *r) {
  unqueue(r);
  atomic_fetch_add_explicit(&r->client->stats.completed, 1, memory_order_relaxed);
}

static void request_free(cql_request *r) {
  cql_statement_free(r->st);
  cql_batch_stmt_free(r->batch);
  free(r->batch_entries);
  free(r->plan);
  free(r);
}

static void finish(cql_request *r, cql_resultset *rs, const cql_error *err) {
  count_finished(r);
  if (err) atomic_fetch_add_explicit(&r->client->stats.errors, 1, memory_order_relaxed);
  if (err && err->code == CQL_ERR_CLIENT_TIMEOUT)
    atomic_fetch_add_explicit(&r->client->stats.timeouts, 1, memory_order_relaxed);
  r->cb(rs, err, r->ud);
  request_free(r);
}

void cql_request_fail(cql_request *r, int32_t code, const char *message) {
  snprintf(r->errbuf, sizeof(r->errbuf), "%s", message);
  cql_error e;
  cql_client_error_set(&e, code, r->errbuf);
  finish(r, NULL, &e);
}

static void remember(cql_request *r, const cql_error *e) {
  r->last_code = e->code;
  snprintf(r->last_msg, sizeof(r->last_msg), "%.*s (%s)", (int)e->message.len,
           e->message.ptr ? e->message.ptr : "", r->host ? r->host->name : "?");
}

static void fail_exhausted(cql_request *r) {
  if (r->last_code) {
    cql_request_fail(r, r->last_code, r->last_msg);
  } else {
    cql_request_fail(r, CQL_ERR_NO_HOSTS, "no host available for the request");
  }
}

/* ---- building messages -------------------------------------------------------------------- */

static uint16_t consistency_of(const cql_request *r, bool has, uint16_t value) {
  return has ? value : (uint16_t)r->client->cfg.consistency;
}

static void fill_params(const cql_request *r, const cql_statement *st, cql_query_params *p) {
  const cql_config *cfg = &r->client->cfg;
  p->consistency = consistency_of(r, st->has_consistency, st->consistency);
  p->values = st->values;
  p->n_values = (uint16_t)st->n_values;
  p->page_size = st->has_page_size ? st->page_size : cfg->page_size;
  p->paging_state = st->paging_state;
  p->has_serial_consistency = st->has_serial_consistency;
  p->serial_consistency = st->serial_consistency;
  p->has_timestamp = r->has_timestamp;
  p->timestamp = r->timestamp;
}

static bool send_batch(cql_request *r, cql_conn *conn, unsigned timeout) {
  const cql_batch_stmt *b = r->batch;
  cql_batch_entry *entries = calloc(b->n ? b->n : 1, sizeof(*entries));
  if (!entries) return false;
  for (size_t i = 0; i < b->n; i++) {
    const cql_statement *st = b->stmts[i];
    entries[i].is_prepared = st->prepared;
    entries[i].query = (cql_str){st->query, st->query_len};
    if (st->prepared) entries[i].id = r->batch_entries[i]->prep->id;
    entries[i].values = st->values;
    entries[i].n_values = (uint16_t)st->n_values;
  }
  cql_message m;
  cql_message_init(&m, CQL_OP_BATCH);
  m.u.batch.type = b->type;
  m.u.batch.statements = entries;
  m.u.batch.n_statements = (uint16_t)b->n;
  m.u.batch.params.consistency = consistency_of(r, b->has_consistency, b->consistency);
  m.u.batch.params.has_serial_consistency = b->has_serial_consistency;
  m.u.batch.params.serial_consistency = b->serial_consistency;
  m.u.batch.params.has_timestamp = r->has_timestamp;
  m.u.batch.params.timestamp = r->timestamp;
  bool ok = cql_conn_send(conn, &r->creq, &m, timeout);
  free(entries);
  return ok;
}

/* ---- time budget --------------------------------------------------------------------------- */

static uint64_t now_ms(void) { return uv_hrtime() / 1000000u; }

/* Timeout for the next network step (attempt or PREPARE): request_timeout_ms, capped by what is
 * left of the statement's total budget. false once the budget is spent. *out 0 = none. */
static bool step_timeout(const cql_request *r, unsigned *out) {
  unsigned t = r->client->cfg.request_timeout_ms;
  if (r->deadline_ms) {
    uint64_t now = now_ms();
    if (now >= r->deadline_ms) return false;
    uint64_t left = r->deadline_ms - now;
    if (t == 0 || left < t) t = (unsigned)left;
  }
  *out = t;
  return true;
}

static void fail_budget_spent(cql_request *r) {
  unsigned budget = r->st ? r->st->timeout_ms : r->batch->timeout_ms;
  char msg[sizeof(r->last_msg) + 64];
  snprintf(msg, sizeof(msg), "statement timeout of %u ms exceeded%s%s", budget,
           r->last_code ? "; last: " : "", r->last_code ? r->last_msg : "");
  cql_request_fail(r, CQL_ERR_CLIENT_TIMEOUT, msg);
}

static bool send_attempt(cql_request *r, cql_conn *conn, unsigned timeout) {
  if (r->batch) return send_batch(r, conn, timeout);
  cql_message m;
  if (r->st->prepared) {
    cql_message_init(&m, CQL_OP_EXECUTE);
    m.u.execute.id = r->entry->prep->id;
    m.u.execute.result_metadata_id = r->entry->prep->result_metadata_id;
    fill_params(r, r->st, &m.u.execute.params);
  } else {
    cql_message_init(&m, CQL_OP_QUERY);
    m.u.query.query = (cql_str){r->st->query, r->st->query_len};
    fill_params(r, r->st, &m.u.query.params);
  }
  return cql_conn_send(conn, &r->creq, &m, timeout);
}

/* ---- query plan ----------------------------------------------------------------------------- */

/* Token-aware replicas of the request (host indexes), or NULL. */
static const int *replicas_of(const cql_request *r, size_t *n) {
  *n = 0;
  cql_client *c = r->client;
  if (!c->cfg.token_aware || !c->token_map) return NULL;
  const cql_statement *st = r->st;
  const cql_prepared_entry *e = r->entry;
  for (size_t i = 0; r->batch && i < r->batch->n && !e; i++)
    if (r->batch_entries[i]) {
      st = r->batch->stmts[i];
      e = r->batch_entries[i];
    }
  if (!e || !st || e->state != CQL_PREP_READY || !e->keyspace || e->prep->meta.pk_count <= 0) return NULL;
  int64_t token;
  if (cql_token_for_values(e->prep->meta.pk_indexes, (size_t)e->prep->meta.pk_count, st->values, st->n_values,
                           &token) != CQL_OK)
    return NULL;
  return cql_token_map_replicas(c->token_map, e->keyspace, token, n);
}

static bool build_plan(cql_request *r, bool token_aware) {
  cql_client *c = r->client;
  free(r->plan);
  r->plan = NULL;
  r->n_plan = r->pos = 0;
  if (r->pinned) {
    if (!(r->plan = calloc(1, sizeof(*r->plan)))) return false;
    r->plan[0] = r->pinned;
    r->n_plan = cql_client_host_is_up(r->pinned) ? 1 : 0;
    return true;
  }
  if (c->n_hosts == 0) return true;
  cql_lb_host *lbh = calloc(c->n_hosts, sizeof(*lbh));
  int *idx = calloc(c->n_hosts, sizeof(*idx));
  r->plan = calloc(c->n_hosts, sizeof(*r->plan));
  bool ok = lbh && idx && r->plan;
  if (ok) {
    for (size_t i = 0; i < c->n_hosts; i++)
      lbh[i] = (cql_lb_host){c->hosts[i]->dc, cql_pool_is_up(c->hosts[i]->pool)};
    size_t n_rep = 0;
    const int *rep = token_aware ? replicas_of(r, &n_rep) : NULL;
    r->n_plan = cql_lb_plan(&c->lb, lbh, c->n_hosts, rep, n_rep, idx);
    for (size_t i = 0; i < r->n_plan; i++) r->plan[i] = c->hosts[idx[i]];
  }
  free(lbh);
  free(idx);
  return ok;
}

/* ---- attempts ------------------------------------------------------------------------------- */

static void attempt(cql_request *r) {
  if (!r->plan_built) {
    r->plan_built = true;
    if (!build_plan(r, true)) {
      cql_request_fail(r, CQL_ERR_NO_HOSTS, "out of memory");
      return;
    }
  }
  unsigned timeout;
  if (!step_timeout(r, &timeout)) {
    fail_budget_spent(r);
    return;
  }
  for (; r->pos < r->n_plan; r->pos++) {
    cql_host *h = r->plan[r->pos];
    cql_conn *conn = h->pool ? cql_pool_pick(h->pool) : NULL;
    if (conn && send_attempt(r, conn, timeout)) {
      r->host = h;
      return;
    }
  }
  fail_exhausted(r);
}

static void retry_with(cql_request *r, cql_retry_decision d, const cql_error *e) {
  remember(r, e);
  r->retries++;
  atomic_fetch_add_explicit(&r->client->stats.retries, 1, memory_order_relaxed);
  if (d == CQL_RETRY_NEXT_HOST) r->pos++;
  attempt(r);
}

/* ---- prepare -------------------------------------------------------------------------------- */

static void on_prepared_wake(cql_prep_waiter *w, const cql_error *err) {
  cql_request *r = (cql_request *)((char *)w - offsetof(cql_request, waiter));
  bool initiator = r->prep_initiator;
  r->prep_initiator = false;
  if (err) {
    unsigned left;
    if (r->client->shut_down) {
      cql_request_fail(r, CQL_ERR_CLIENT_CLOSED, "client closed");
    } else if (err->code == CQL_ERR_CLIENT_TIMEOUT && !initiator && !r->replay_after_prepare &&
               !r->prepare_redriven && step_timeout(r, &left)) {
      /* the first PREPARE we waited for timed out, maybe only on its sender's (shorter) total
       * budget: once, send one with ours */
      r->prepare_redriven = true;
      ensure_prepared(r);
    } else {
      finish(r, NULL, err);
    }
    return;
  }
  if (r->replay_after_prepare) {
    r->replay_after_prepare = false;
    attempt(r); /* same host: pos unchanged */
  } else {
    ensure_prepared(r);
  }
}

/* Sends the PREPARE in progress: on prep_host, or (first PREPARE) on the first host of the plan
 * from prep_pos that takes it. When none does, or the budget is spent, the PREPARE completes
 * with `last` (the previous host's failure) or a client error, waking r among the waiters. */
static void prepare_send(cql_request *r, const cql_error *last) {
  cql_prepared_entry *e = r->prep_entry;
  cql_message m;
  cql_message_init(&m, CQL_OP_PREPARE);
  m.u.prepare.query = (cql_str){e->query, e->query_len};
  cql_error err;
  unsigned timeout;
  if (!step_timeout(r, &timeout)) {
    cql_client_error_set(&err, CQL_ERR_CLIENT_TIMEOUT, "statement timeout exceeded while preparing");
    last = &err;
  } else if (r->prep_host) {
    cql_conn *conn = r->prep_host->pool ? cql_pool_pick(r->prep_host->pool) : NULL;
    r->prep_sent_to = r->prep_host;
    r->sending_prepare = true;
    if (conn && cql_conn_send(conn, &r->creq, &m, timeout)) return;
  } else {
    for (; r->prep_pos < r->n_plan; r->prep_pos++) {
      cql_conn *conn = r->plan[r->prep_pos]->pool ? cql_pool_pick(r->plan[r->prep_pos]->pool) : NULL;
      r->prep_sent_to = r->plan[r->prep_pos];
      r->sending_prepare = true;
      if (conn && cql_conn_send(conn, &r->creq, &m, timeout)) return;
    }
  }
  r->sending_prepare = false;
  if (!last) {
    cql_client_error_set(&err, CQL_ERR_NO_HOSTS, "no host available to prepare the statement");
    last = &err;
  }
  cql_prepared_complete(&r->client->prepared, e, r->prep_host, NULL, last);
}

/* Starts the PREPARE of e on host (NULL: the first PREPARE, on the first host that takes it). */
static void send_prepare(cql_request *r, cql_prepared_entry *e, cql_host *host) {
  r->prep_entry = e;
  r->prep_host = host;
  r->prep_pos = 0;
  r->prep_initiator = host == NULL;
  if (!host && !build_plan(r, false)) {
    cql_error err;
    cql_client_error_set(&err, CQL_ERR_NO_HOSTS, "out of memory");
    cql_prepared_complete(&r->client->prepared, e, NULL, NULL, &err);
    return;
  }
  prepare_send(r, NULL);
}

/* A failed first PREPARE worth trying on the next host: the host could not answer, not the
 * statement being wrong (PREPARE has no side effects). */
static bool prepare_retryable(const cql_error *err) {
  switch (err->code) {
  case CQL_ERR_CLIENT_TIMEOUT:
  case CQL_ERR_CONNECTION_CLOSED:
  case CQL_ERROR_SERVER:
  case CQL_ERROR_OVERLOADED:
  case CQL_ERROR_IS_BOOTSTRAPPING:
    return true;
  default:
    return false;
  }
}

static void on_prepare_response(cql_request *r, cql_message *resp, const cql_error *err) {
  cql_prepared_entry *e = r->prep_entry;
  cql_host *host = r->prep_host, *sent_to = r->prep_sent_to;
  cql_client *c = r->client;
  r->sending_prepare = false;
  const cql_error *failure = err ? err : resp->opcode == CQL_OP_ERROR ? &resp->u.error : NULL;
  if (!host && failure && prepare_retryable(failure) && !c->shut_down) {
    r->prep_pos++;
    prepare_send(r, failure);         /* before resp is freed: failure may point into it */
    if (!err) cql_message_free(resp); /* the connection gives exactly one of them */
    return;
  }
  bool first_ok =
      !host && !failure && resp->opcode == CQL_OP_RESULT && resp->u.result.kind == CQL_RESULT_PREPARED;
  /* wakes the waiters, r among them: r may be gone after this (e stays: it is READY or, if the
   * first PREPARE failed, freed, and then first_ok is false) */
  cql_prepared_complete_response(&c->prepared, e, host, resp, err);
  if (first_ok) cql_prepare_hosts_entry_ready(&c->prepare_hosts, e, sent_to);
}

/* Waits for (and maybe sends) the PREPARE of e on host; returns after r may have finished. */
static void await_prepare(cql_request *r, cql_prepared_entry *e, cql_host *host) {
  bool oom;
  r->waiter.wake = on_prepared_wake;
  if (cql_prepared_wait(e, host, &r->waiter, &oom))
    send_prepare(r, e, host);
  else if (oom)
    cql_request_fail(r, CQL_ERR_NO_HOSTS, "out of memory");
}

static cql_prepared_entry *entry_for(cql_request *r, const cql_statement *st) {
  cql_prepared_cache *cache = &r->client->prepared;
  cql_prepared_entry *e = cql_prepared_find(cache, st->query, st->query_len);
  return e ? e : cql_prepared_insert(cache, st->query, st->query_len);
}

static void ensure_prepared(cql_request *r) {
  if (r->st && r->st->prepared) {
    if (!(r->entry = entry_for(r, r->st))) {
      cql_request_fail(r, CQL_ERR_NO_HOSTS, "out of memory");
      return;
    }
    if (r->entry->state != CQL_PREP_READY) {
      await_prepare(r, r->entry, NULL);
      return;
    }
  }
  for (size_t i = 0; r->batch && i < r->batch->n; i++) {
    if (!r->batch->stmts[i]->prepared) continue;
    cql_prepared_entry *e = entry_for(r, r->batch->stmts[i]);
    r->batch_entries[i] = e;
    if (!e) {
      cql_request_fail(r, CQL_ERR_NO_HOSTS, "out of memory");
      return;
    }
    if (e->state != CQL_PREP_READY) {
      await_prepare(r, e, NULL);
      return;
    }
  }
  attempt(r);
}

static void on_unprepared(cql_request *r, const cql_error *e) {
  cql_prepared_entry *entry = r->entry;
  if (r->batch) entry = cql_prepared_find_by_id(&r->client->prepared, e->unprepared_id);
  if (r->reprepared || !entry) {
    finish(r, NULL, e);
    return;
  }
  r->reprepared = true;
  r->replay_after_prepare = true;
  await_prepare(r, entry, r->host);
}

/* ---- responses ------------------------------------------------------------------------------ */

static bool is_idempotent(const cql_request *r) { return r->st ? r->st->idempotent : r->batch->idempotent; }

static void on_server_error(cql_request *r, cql_message *resp) {
  const cql_error *e = &resp->u.error;
  if (e->code == CQL_ERROR_UNPREPARED) {
    on_unprepared(r, e);
  } else if (e->code == CQL_ERROR_IS_BOOTSTRAPPING) {
    retry_with(r, CQL_RETRY_NEXT_HOST, e);
  } else {
    char write_type[32];
    snprintf(write_type, sizeof(write_type), "%.*s", (int)e->write_type.len,
             e->write_type.ptr ? e->write_type.ptr : "");
    cql_failure f = {
        CQL_FAIL_SERVER_ERROR_RESPONSE, e->code, e->received, e->block_for, e->data_present, write_type};
    cql_retry_decision d = cql_retry_decide(&f, is_idempotent(r), r->retries);
    if (d == CQL_RETRY_RETHROW)
      finish(r, NULL, e);
    else
      retry_with(r, d, e);
  }
  cql_message_free(resp);
}

static void on_response(cql_conn_req *creq, cql_message *resp, const cql_error *err) {
  cql_request *r = (cql_request *)((char *)creq - offsetof(cql_request, creq));
  if (r->sending_prepare) {
    on_prepare_response(r, resp, err);
    return;
  }
  if (r->client->shut_down) {
    if (resp) cql_message_free(resp);
    cql_request_fail(r, CQL_ERR_CLIENT_CLOSED, "client closed");
    return;
  }
  if (err) {
    cql_failure f = {err->code == CQL_ERR_CLIENT_TIMEOUT ? CQL_FAIL_CLIENT_TIMEOUT
                                                         : CQL_FAIL_CONNECTION_CLOSED,
                     0,
                     0,
                     0,
                     false,
                     NULL};
    cql_retry_decision d = cql_retry_decide(&f, is_idempotent(r), r->retries);
    if (d == CQL_RETRY_RETHROW) {
      remember(r, err);
      cql_request_fail(r, r->last_code, r->last_msg);
    } else {
      retry_with(r, d, err);
    }
    return;
  }
  if (resp->opcode == CQL_OP_ERROR) {
    on_server_error(r, resp);
    return;
  }
  if (resp->opcode != CQL_OP_RESULT || resp->u.result.kind == CQL_RESULT_PREPARED) {
    cql_message_free(resp);
    cql_request_fail(r, CQL_ERR_PROTOCOL_VIOLATION, "unexpected response");
    return;
  }
  bool more = resp->u.result.kind == CQL_RESULT_ROWS &&
              (resp->u.result.rows.meta.flags & CQL_ROWS_FLAG_HAS_MORE_PAGES) && r->st;
  cql_resultset *rs = cql_resultset_new(resp, more ? r->st : NULL, r->host ? r->host->name : NULL);
  if (!rs) {
    cql_message_free(resp);
    cql_request_fail(r, CQL_ERR_NO_HOSTS, "out of memory");
    return;
  }
  if (more) r->st = NULL; /* moved into the result for the next page */
  finish(r, rs, NULL);
}

/* ---- construction ----------------------------------------------------------------------------- */

static cql_request *request_alloc(cql_client *c, cql_result_cb cb, void *ud) {
  cql_request *r = calloc(1, sizeof(*r));
  if (!r) return NULL;
  r->client = c;
  r->cb = cb;
  r->ud = ud;
  r->creq.on_response = on_response;
  return r;
}

/* The total budget starts at submission (queueing and connecting count). */
static void start_budget(cql_request *r, unsigned timeout_ms) {
  r->deadline_ms = timeout_ms ? now_ms() + timeout_ms : 0;
}

cql_request *cql_request_new_statement(cql_client *c, const cql_statement *st, cql_statement *owned,
                                       cql_result_cb cb, void *ud) {
  cql_request *r = request_alloc(c, cb, ud);
  if (!r) {
    cql_statement_free(owned);
    return NULL;
  }
  r->st = owned ? owned : cql_statement_copy(st);
  if (!r->st) {
    free(r);
    return NULL;
  }
  start_budget(r, r->st->timeout_ms);
  atomic_fetch_add_explicit(&c->stats.created, 1, memory_order_relaxed);
  return r;
}

cql_request *cql_request_new_batch(cql_client *c, const cql_batch_stmt *b, cql_result_cb cb, void *ud) {
  cql_request *r = request_alloc(c, cb, ud);
  if (!r) return NULL;
  r->batch = cql_batch_stmt_copy(b);
  r->batch_entries = calloc(b->n ? b->n : 1, sizeof(*r->batch_entries));
  if (!r->batch || !r->batch_entries) {
    cql_batch_stmt_free(r->batch);
    free(r->batch_entries);
    free(r);
    return NULL;
  }
  start_budget(r, b->timeout_ms);
  atomic_fetch_add_explicit(&c->stats.created, 1, memory_order_relaxed);
  return r;
}

void cql_request_free_unstarted(cql_request *r) {
  count_finished(r);
  request_free(r);
}

void cql_request_mark_queued(cql_request *r) {
  r->queued = true;
  atomic_fetch_add_explicit(&r->client->stats.queued, 1, memory_order_relaxed);
}

void cql_request_start(cql_request *r) {
  cql_client *c = r->client;
  unqueue(r);
  if (c->shut_down) {
    cql_request_fail(r, CQL_ERR_CLIENT_CLOSED, "client closed");
    return;
  }
  bool explicit_ts = r->st ? r->st->has_timestamp : r->batch->has_timestamp;
  if (explicit_ts) {
    r->timestamp = r->st ? r->st->timestamp : r->batch->timestamp;
    r->has_timestamp = true;
  } else if (c->cfg.client_timestamps) {
    r->timestamp = cql_tsgen_next(&c->tsgen);
    r->has_timestamp = true;
  }
  ensure_prepared(r);
}

void cql_request_pin(cql_request *r, cql_host *h) { r->pinned = h; }

cql_request *cql_request_next(cql_request *r) { return r->next; }
void cql_request_set_next(cql_request *r, cql_request *next) { r->next = next; }
