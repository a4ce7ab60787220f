/* cql/schema_agreement: waiting until every up host reports the same schema_version (public API
 * of client.h), as the drivers do after DDL.
 *
 * A check reads system.local's schema_version on any host, then system.peers_v2 (falling back to
 * system.peers when the server rejects it) on that SAME host (pinned request): the versions of
 * the peers the client does not know to be down (matched by host_id; a host whose pool is still
 * making its first connection counts) must all equal the local one. Until
 * they do, the check is repeated every CHECK_INTERVAL_MS within the caller's budget; then the
 * callback gets CQL_ERR_CLIENT_TIMEOUT. The job owns itself: it is freed after its callback
 * (its retry timer, created on the I/O thread, is closed first). A job waiting on its timer
 * when the client closes ends within CHECK_INTERVAL_MS with CQL_ERR_CLIENT_CLOSED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cql/client_internal.h"
#include "cql/errors.h"

#define CHECK_INTERVAL_MS  200u
#define DEFAULT_TIMEOUT_MS 10000u

static const char LOCAL_QUERY[] = "SELECT schema_version FROM system.local WHERE key='local'";
static const char PEERS_V2_QUERY[] = "SELECT host_id, schema_version FROM system.peers_v2";
static const char PEERS_QUERY[] = "SELECT host_id, schema_version FROM system.peers";

typedef struct agreement {
  cql_client *client;
  cql_schema_agreement_cb cb;
  void *ud;
  unsigned timeout_ms;
  uint64_t deadline_ms; /* uv_hrtime ms */
  uv_timer_t timer;
  bool timer_ready;
  bool peers_v1;  /* system.peers_v2 was rejected */
  bool disagreed; /* a round saw differing versions */
  cql_host *host;
  uint8_t version[16]; /* the host's own schema_version this round */
  char errmsg[320];
} agreement;

static void check_round(agreement *a);

static uint64_t now_ms(void) { return uv_hrtime() / 1000000u; }

static void free_job(uv_handle_t *h) { free(h->data); }

static void finish(agreement *a, const cql_error *err) {
  a->cb(err, a->ud);
  if (a->timer_ready)
    uv_close((uv_handle_t *)&a->timer, free_job);
  else
    free(a);
}

static void fail(agreement *a, int32_t code, const char *msg) {
  snprintf(a->errmsg, sizeof(a->errmsg), "%s", msg);
  cql_error e;
  cql_client_error_set(&e, code, a->errmsg);
  finish(a, &e);
}

static void on_timer(uv_timer_t *t) { check_round(t->data); }

/* Not agreed (yet): check again after the interval, or give up when the budget is spent. */
static void again_or_fail(agreement *a, const cql_error *last) {
  uint64_t now = now_ms();
  if (a->client->shut_down) {
    fail(a, CQL_ERR_CLIENT_CLOSED, "client closed");
    return;
  }
  if (now >= a->deadline_ms) {
    char msg[320];
    if (a->disagreed)
      snprintf(msg, sizeof(msg), "schema versions still differ after %u ms", a->timeout_ms);
    else if (last)
      snprintf(msg, sizeof(msg), "no schema agreement within %u ms (last error: %.*s)", a->timeout_ms,
               (int)last->message.len, last->message.ptr ? last->message.ptr : "");
    else
      snprintf(msg, sizeof(msg), "no schema agreement within %u ms", a->timeout_ms);
    fail(a, CQL_ERR_CLIENT_TIMEOUT, msg);
    return;
  }
  if (!a->timer_ready) {
    uv_timer_init(&a->client->loop, &a->timer);
    a->timer.data = a;
    a->timer_ready = true;
  }
  uint64_t left = a->deadline_ms - now;
  uv_timer_start(&a->timer, on_timer, left < CHECK_INTERVAL_MS ? left : CHECK_INTERVAL_MS, 0);
}

/* A system-table read for this job with the rest of the budget; NULL on OOM. */
static cql_statement *table_query(const agreement *a, const char *cql) {
  cql_statement *st = cql_statement_new(cql, 0, false);
  if (!st) return NULL;
  uint64_t now = now_ms();
  cql_statement_set_consistency(st, CQL_CONSISTENCY_ONE);
  cql_statement_set_page_size(st, 0);
  cql_statement_set_idempotent(st, true);
  cql_statement_set_timeout(st, a->deadline_ms > now ? (unsigned)(a->deadline_ms - now) : 1);
  return st;
}

/* Starts a read on the I/O thread, pinned to `host` when non-NULL. */
static void start_query(agreement *a, const char *cql, cql_host *host, cql_result_cb cb) {
  cql_statement *st = table_query(a, cql);
  cql_request *r = st ? cql_request_new_statement(a->client, NULL, st, cb, a) : NULL;
  if (!r) {
    fail(a, CQL_ERR_NO_HOSTS, "out of memory");
    return;
  }
  if (host) cql_request_pin(r, host);
  cql_request_start(r);
}

static bool same_version(const cql_row *row, int col, const uint8_t version[16]) {
  uint8_t v[16];
  return col >= 0 && cql_row_get_uuid(row, (size_t)col, v) == CQL_GET_OK && memcmp(v, version, 16) == 0;
}

/* The live host with this id unless it is known to be down: a host whose pool has not reported
 * its first connection yet (right after connecting, only the first pool is open) must agree too,
 * or a migration could go on while the schema is still on one node only. */
static cql_host *not_down_host_by_id(cql_client *c, const uint8_t id[16]) {
  for (size_t i = 0; i < c->n_hosts; i++) {
    cql_host *h = c->hosts[i];
    if (memcmp(h->host_id, id, 16) == 0)
      return !h->removed && (!h->first_attempt_done || cql_client_host_is_up(h)) ? h : NULL;
  }
  return NULL;
}

/* Every peer row of a host that is not down carries the coordinator's version. */
static bool peers_agree(agreement *a, const cql_resultset *rs) {
  int id_col = cql_resultset_column_index(rs, "host_id");
  int v_col = cql_resultset_column_index(rs, "schema_version");
  const cql_row *row;
  for (size_t i = 0; (row = cql_resultset_row(rs, i)); i++) {
    uint8_t id[16];
    if (id_col < 0 || cql_row_get_uuid(row, (size_t)id_col, id) != CQL_GET_OK) continue;
    cql_host *h = not_down_host_by_id(a->client, id);
    if (h && h != a->host && !same_version(row, v_col, a->version)) return false;
  }
  return true;
}

static void on_peers(cql_resultset *rs, const cql_error *err, void *ud) {
  agreement *a = ud;
  if (err && !a->peers_v1 && err->code < CQL_ERR_CLIENT_TIMEOUT && !a->client->shut_down) {
    a->peers_v1 = true; /* a server error: no system.peers_v2 (Cassandra < 4.0) */
    start_query(a, PEERS_QUERY, a->host, on_peers);
    return;
  }
  if (err) {
    again_or_fail(a, err);
    return;
  }
  bool agreed = peers_agree(a, rs);
  cql_resultset_free(rs);
  if (agreed) {
    finish(a, NULL);
  } else {
    a->disagreed = true;
    again_or_fail(a, NULL);
  }
}

static void on_local(cql_resultset *rs, const cql_error *err, void *ud) {
  agreement *a = ud;
  if (err) {
    again_or_fail(a, err);
    return;
  }
  const cql_row *row = cql_resultset_row(rs, 0);
  int col = cql_resultset_column_index(rs, "schema_version");
  a->host = cql_client_find_live_host(a->client, cql_resultset_host(rs));
  bool ok = row && col >= 0 && cql_row_get_uuid(row, (size_t)col, a->version) == CQL_GET_OK && a->host;
  cql_resultset_free(rs);
  if (!ok) {
    again_or_fail(a, NULL);
    return;
  }
  start_query(a, a->peers_v1 ? PEERS_QUERY : PEERS_V2_QUERY, a->host, on_peers);
}

static void check_round(agreement *a) { start_query(a, LOCAL_QUERY, NULL, on_local); }

bool cql_client_schema_agreement(cql_client *c, unsigned timeout_ms, cql_schema_agreement_cb cb, void *ud) {
  if (!c || !cb) return false;
  agreement *a = calloc(1, sizeof(*a));
  if (!a) return false;
  a->client = c;
  a->cb = cb;
  a->ud = ud;
  a->timeout_ms = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
  a->deadline_ms = now_ms() + a->timeout_ms;
  /* the first read goes through the submission queue (any thread; waits for connect) */
  cql_statement *st = table_query(a, LOCAL_QUERY);
  bool ok = st && cql_client_execute(c, st, on_local, a);
  cql_statement_free(st);
  if (!ok) free(a);
  return ok;
}
