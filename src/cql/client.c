/* cql/client: client lifecycle, the I/O thread, submission, topology bookkeeping and the
 * blocking helpers (public API of client.h). */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cql/client_internal.h"
#include "cql/conn.h"
#include "cql/errors.h"

void cql_config_init(cql_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->port = 9042;
  cfg->token_aware = true;
  cfg->connections_per_host = 1;
  cfg->max_requests_per_connection = 1024;
  cfg->max_orphans_per_connection = 256;
  cfg->connect_timeout_ms = 5000;
  cfg->request_timeout_ms = 12000;
  cfg->heartbeat_interval_ms = 30000;
  cfg->reconnect_base_ms = 1000;
  cfg->reconnect_max_ms = 60000;
  cfg->event_delay_ms = 1000;
  cfg->consistency = CQL_CONSISTENCY_LOCAL_ONE;
  cfg->serial_consistency = CQL_CONSISTENCY_SERIAL;
  cfg->protocol_version = 0;
  cfg->client_timestamps = true;
  cfg->page_size = 5000;
  cfg->heartbeat_timeout_ms = 5000;
  cfg->prepare_on_all_hosts = true;
}

/* ---- contact points ------------------------------------------------------------------------ */

static bool resolve(const char *host, uint16_t port, struct sockaddr_storage *out) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  char portstr[8];
  snprintf(portstr, sizeof(portstr), "%u", port);
  if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res) return false;
  memset(out, 0, sizeof(*out));
  memcpy(out, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return true;
}

/* "h1[:p],[v6]:p,h2" -> addresses. */
static bool parse_contacts(cql_client *c, const char *list) {
  char *copy = strdup(list);
  if (!copy) return false;
  size_t cap = 1;
  for (const char *p = list; *p; p++) cap += *p == ',';
  c->contacts = calloc(cap, sizeof(*c->contacts));
  bool ok = c->contacts != NULL;
  char *save = NULL;
  for (char *item = strtok_r(copy, ", ", &save); ok && item; item = strtok_r(NULL, ", ", &save)) {
    uint16_t port = c->cfg.port;
    char *host = item;
    char *colon = NULL;
    if (*item == '[') {
      host = item + 1;
      char *close = strchr(host, ']');
      if (!close) {
        ok = false;
        break;
      }
      *close = '\0';
      if (close[1] == ':') colon = close + 1;
    } else if (strchr(item, ':') == strrchr(item, ':')) {
      colon = strchr(item, ':');
    }
    if (colon) {
      *colon = '\0';
      char *end;
      long p = strtol(colon + 1, &end, 10);
      if (*end || p <= 0 || p > 65535) {
        ok = false;
        break;
      }
      port = (uint16_t)p;
    }
    ok = resolve(host, port, &c->contacts[c->n_contacts]);
    if (ok) c->n_contacts++;
  }
  free(copy);
  return ok && c->n_contacts > 0;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* ---- the I/O thread ------------------------------------------------------------------------- */

static void on_wake(uv_async_t *a);

static void *io_thread(void *arg) {
  cql_client *c = arg;
  uv_run(&c->loop, UV_RUN_DEFAULT);
  return NULL;
}

uint64_t cql_client_random(cql_client *c) {
  c->rng = c->rng * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
  return c->rng ^ (c->rng >> 29);
}

static void free_client(cql_client *c) {
  cql_host *h = c->all_hosts;
  while (h) {
    cql_host *next = h->next_all;
    free(h->dc);
    free(h->rack);
    free(h->tokens);
    free(h);
    h = next;
  }
  free(c->hosts);
  cql_token_map_free(c->token_map);
  cql_prepared_cache_free(&c->prepared);
  free(c->contacts);
  free(c->local_dc);
  free((char *)c->cfg.contact_points);
  free((char *)c->cfg.local_dc);
  free((char *)c->cfg.username);
  free((char *)c->cfg.password);
  pthread_mutex_destroy(&c->lock);
  cql_stats_destroy(&c->stats);
  free(c);
}

cql_client *cql_client_new(const cql_config *cfg, const char **err_out) {
  const char *dummy;
  if (!err_out) err_out = &dummy;
  *err_out = NULL;
  if (!cfg || !cfg->contact_points || !*cfg->contact_points) {
    *err_out = "contact_points is required";
    return NULL;
  }
  if (cfg->protocol_version != 0 && cfg->protocol_version != 4 && cfg->protocol_version != 5) {
    *err_out = "protocol_version must be 0, 4 or 5";
    return NULL;
  }
  cql_client *c = calloc(1, sizeof(*c));
  if (!c) {
    *err_out = "out of memory";
    return NULL;
  }
  c->cfg = *cfg;
  c->cfg.contact_points = strdup(cfg->contact_points);
  c->cfg.local_dc = dup_or_null(cfg->local_dc);
  c->cfg.username = dup_or_null(cfg->username);
  c->cfg.password = dup_or_null(cfg->password);
  if (c->cfg.max_requests_per_connection == 0 || c->cfg.max_requests_per_connection > 32768)
    c->cfg.max_requests_per_connection = 1024;
  pthread_mutex_init(&c->lock, NULL);
  cql_stats_init(&c->stats);
  c->local_dc = dup_or_null(cfg->local_dc);
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  c->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)c;
  cql_tsgen_init(&c->tsgen);
  cql_lb_init(&c->lb, c->local_dc, cfg->allow_remote_dcs);
  cql_prepare_hosts_init(&c->prepare_hosts, c);
  if (!c->cfg.contact_points || !cql_prepared_cache_init(&c->prepared)) {
    *err_out = "out of memory";
    free_client(c);
    return NULL;
  }
  if (!parse_contacts(c, cfg->contact_points)) {
    *err_out = "cannot parse or resolve contact_points";
    free_client(c);
    return NULL;
  }
  if (uv_loop_init(&c->loop) != 0) {
    *err_out = "cannot create the event loop";
    free_client(c);
    return NULL;
  }
  uv_async_init(&c->loop, &c->wake, on_wake);
  c->wake.data = c;
  if (!(c->control = cql_control_new(c)) || pthread_create(&c->thread, NULL, io_thread, c) != 0) {
    *err_out = "cannot start the I/O thread";
    if (c->control) cql_control_close(c->control);
    uv_close((uv_handle_t *)&c->wake, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    uv_loop_close(&c->loop);
    free_client(c);
    return NULL;
  }
  return c;
}

void cql_client_conn_settings(const cql_client *c, cql_conn_settings *out) {
  *out = (cql_conn_settings){
      .protocol_version = c->protocol_version ? c->protocol_version : 4,
      .username = c->cfg.username,
      .password = c->cfg.password,
      .connect_timeout_ms = c->cfg.connect_timeout_ms,
      .heartbeat_interval_ms = c->cfg.heartbeat_interval_ms,
      .heartbeat_timeout_ms = c->cfg.heartbeat_timeout_ms,
      .max_requests = c->cfg.max_requests_per_connection,
      .max_orphans = c->cfg.max_orphans_per_connection,
  };
}

/* ---- connect completion ---------------------------------------------------------------------- */

static void drain_waiting(cql_client *c) {
  cql_request *r = c->waiting_head;
  c->waiting_head = c->waiting_tail = NULL;
  while (r) {
    cql_request *next = cql_request_next(r);
    cql_request_set_next(r, NULL);
    if (c->connect_state == CONNECT_FAILED) {
      cql_request_fail(r, c->connect_error.code, c->connect_errmsg);
    } else {
      cql_request_start(r);
    }
    r = next;
  }
}

static void connect_finished(cql_client *c, const cql_error *err) {
  if (c->connect_state != CONNECT_RUNNING) return;
  if (err) {
    c->connect_state = CONNECT_FAILED;
    snprintf(c->connect_errmsg, sizeof(c->connect_errmsg), "%.*s", (int)err->message.len, err->message.ptr);
    cql_client_error_set(&c->connect_error, err->code, c->connect_errmsg);
  } else {
    c->connect_state = CONNECT_DONE;
  }
  pthread_mutex_lock(&c->lock);
  cql_connect_cb cb = c->connect_cb;
  void *ud = c->connect_ud;
  c->connect_cb = NULL;
  pthread_mutex_unlock(&c->lock);
  if (cb) cb(err ? &c->connect_error : NULL, ud);
  drain_waiting(c);
}

/* Connect is complete once every live host's pool reported its first outcome. */
static void check_connect(cql_client *c) {
  if (c->connect_state != CONNECT_RUNNING && c->connect_state != CONNECT_FAILED) return;
  if (c->n_hosts == 0) return;
  bool any_up = false;
  for (size_t i = 0; i < c->n_hosts; i++) {
    if (!c->hosts[i]->first_attempt_done) return;
    any_up = any_up || cql_pool_is_up(c->hosts[i]->pool);
  }
  if (c->connect_state == CONNECT_FAILED) {
    if (any_up) c->connect_state = CONNECT_DONE; /* recovered in the background */
    return;
  }
  if (any_up) {
    connect_finished(c, NULL);
  } else {
    cql_error err;
    cql_client_error_set(&err, CQL_ERR_CONNECT_FAILED, "no host of the cluster accepted a connection");
    connect_finished(c, &err);
  }
}

void cql_client_on_discovery(cql_client *c) { check_connect(c); }

void cql_client_on_control_failed(cql_client *c, const cql_error *err) { connect_finished(c, err); }

void cql_client_on_pool_state(cql_client *c, cql_host *h) {
  h->first_attempt_done = true;
  bool up = cql_pool_is_up(h->pool);
  bool came_up = up && !h->up_reported;
  h->up_reported = up;
  check_connect(c);
  cql_stats_publish_hosts(c);
  if (came_up) cql_prepare_hosts_host_up(&c->prepare_hosts, h); /* it may not know our ids */
}

bool cql_client_host_is_up(const cql_host *h) { return !h->removed && cql_pool_is_up(h->pool); }

cql_host *cql_client_find_live_host(cql_client *c, const char *name) {
  for (size_t i = 0; i < c->n_hosts; i++)
    if (strcmp(c->hosts[i]->name, name) == 0) return c->hosts[i];
  return NULL;
}

cql_host *cql_client_find_host(cql_client *c, const struct sockaddr *addr) {
  for (cql_host *h = c->all_hosts; h; h = h->next_all) {
    if (h->addr.ss_family != addr->sa_family) continue;
    if (addr->sa_family == AF_INET) {
      const struct sockaddr_in *a = (const struct sockaddr_in *)addr,
                               *b = (const struct sockaddr_in *)&h->addr;
      if (a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr) return h;
    } else {
      const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr,
                                *b = (const struct sockaddr_in6 *)&h->addr;
      if (a->sin6_port == b->sin6_port && memcmp(&a->sin6_addr, &b->sin6_addr, 16) == 0) return h;
    }
  }
  return NULL;
}

void cql_client_set_topology(cql_client *c, cql_host **hosts, size_t n_hosts, cql_token_map *tm) {
  cql_host **old = c->hosts;
  size_t n_old = c->n_hosts;
  for (size_t i = 0; i < n_old; i++) old[i]->removed = true;
  for (size_t i = 0; i < n_hosts; i++) hosts[i]->removed = false;
  c->hosts = hosts;
  c->n_hosts = n_hosts;
  cql_token_map_free(c->token_map);
  c->token_map = tm;
  for (size_t i = 0; i < n_old; i++)
    if (old[i]->removed && old[i]->pool) {
      cql_pool_close(old[i]->pool, CQL_ERR_CONNECTION_CLOSED);
      old[i]->pool = NULL;
      old[i]->up_reported = false;
    }
  free(old);
  for (size_t i = 0; i < n_hosts; i++)
    if (!hosts[i]->pool && !c->shut_down) {
      hosts[i]->first_attempt_done = false;
      hosts[i]->pool = cql_pool_new(c, hosts[i]);
      if (!hosts[i]->pool) hosts[i]->first_attempt_done = true;
    }
  cql_stats_publish_hosts(c);
}

/* ---- submission ------------------------------------------------------------------------------ */

static void shutdown_loop(cql_client *c) {
  c->shut_down = true;
  pthread_mutex_lock(&c->lock);
  cql_request *q = c->queue_head;
  c->queue_head = c->queue_tail = NULL;
  pthread_mutex_unlock(&c->lock);
  while (q) {
    cql_request *next = cql_request_next(q);
    cql_request_fail(q, CQL_ERR_CLIENT_CLOSED, "client closed");
    q = next;
  }
  if (c->connect_state == CONNECT_RUNNING) {
    cql_error err;
    cql_client_error_set(&err, CQL_ERR_CLIENT_CLOSED, "client closed");
    connect_finished(c, &err); /* also fails the waiting requests */
  }
  cql_request *w = c->waiting_head;
  c->waiting_head = c->waiting_tail = NULL;
  while (w) {
    cql_request *next = cql_request_next(w);
    cql_request_fail(w, CQL_ERR_CLIENT_CLOSED, "client closed");
    w = next;
  }
  cql_prepare_hosts_clear(&c->prepare_hosts);
  cql_control_close(c->control);
  c->control = NULL;
  for (size_t i = 0; i < c->n_hosts; i++)
    if (c->hosts[i]->pool) {
      cql_pool_close(c->hosts[i]->pool, CQL_ERR_CLIENT_CLOSED);
      c->hosts[i]->pool = NULL;
    }
  uv_close((uv_handle_t *)&c->wake, NULL);
}

static void on_wake(uv_async_t *a) {
  cql_client *c = a->data;
  if (c->shut_down) return;
  if (atomic_load(&c->closing)) {
    shutdown_loop(c);
    return;
  }
  pthread_mutex_lock(&c->lock);
  cql_request *q = c->queue_head;
  c->queue_head = c->queue_tail = NULL;
  bool start_connect = c->connect_requested && c->connect_state == CONNECT_IDLE;
  pthread_mutex_unlock(&c->lock);
  if (start_connect) {
    c->connect_state = CONNECT_RUNNING;
    cql_control_start(c->control);
  }
  while (q) {
    cql_request *next = cql_request_next(q);
    cql_request_set_next(q, NULL);
    if (c->connect_state == CONNECT_DONE || c->connect_state == CONNECT_FAILED) {
      if (c->connect_state == CONNECT_FAILED)
        cql_request_fail(q, c->connect_error.code, c->connect_errmsg);
      else
        cql_request_start(q);
    } else {
      if (c->waiting_tail)
        cql_request_set_next(c->waiting_tail, q);
      else
        c->waiting_head = q;
      c->waiting_tail = q;
    }
    q = next;
  }
}

static bool submit(cql_client *c, cql_request *r) {
  if (!r) return false;
  pthread_mutex_lock(&c->lock);
  bool closing = atomic_load(&c->closing);
  if (!closing) {
    if (c->queue_tail)
      cql_request_set_next(c->queue_tail, r);
    else
      c->queue_head = r;
    c->queue_tail = r;
    cql_request_mark_queued(r);
  }
  pthread_mutex_unlock(&c->lock);
  if (closing) {
    cql_request_free_unstarted(r);
    return false;
  }
  uv_async_send(&c->wake);
  return true;
}

void cql_client_connect(cql_client *c, cql_connect_cb cb, void *ud) {
  pthread_mutex_lock(&c->lock);
  c->connect_requested = true;
  c->connect_cb = cb;
  c->connect_ud = ud;
  pthread_mutex_unlock(&c->lock);
  uv_async_send(&c->wake);
}

bool cql_client_execute(cql_client *c, const cql_statement *st, cql_result_cb cb, void *ud) {
  if (!c || !st || !cb) return false;
  return submit(c, cql_request_new_statement(c, st, NULL, cb, ud));
}

bool cql_client_batch(cql_client *c, const cql_batch_stmt *b, cql_result_cb cb, void *ud) {
  if (!c || !b || !cb || b->n == 0) return false;
  return submit(c, cql_request_new_batch(c, b, cb, ud));
}

bool cql_client_next_page(cql_client *c, const cql_resultset *prev, cql_result_cb cb, void *ud) {
  if (!c || !prev || !cb || !cql_resultset_has_more_pages(prev) || !cql_resultset_statement(prev))
    return false;
  cql_statement *st = cql_statement_copy(cql_resultset_statement(prev));
  size_t len;
  const uint8_t *state = cql_resultset_paging_state(prev, &len);
  if (!st || !cql_statement_set_paging_state(st, state, len)) {
    cql_statement_free(st);
    return false;
  }
  return submit(c, cql_request_new_statement(c, NULL, st, cb, ud));
}

void cql_client_close(cql_client *c) {
  if (!c) return;
  pthread_mutex_lock(&c->lock);
  atomic_store(&c->closing, true);
  pthread_mutex_unlock(&c->lock);
  uv_async_send(&c->wake);
  pthread_join(c->thread, NULL);
  uv_loop_close(&c->loop);
  free_client(c);
}

/* ---- blocking helpers -------------------------------------------------------------------------- */

typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
  int32_t code;
  char *errbuf;
  size_t errbuf_size;
  cql_resultset *rs;
} waiter;

static void waiter_init(waiter *w, char *errbuf, size_t size) {
  memset(w, 0, sizeof(*w));
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  w->errbuf = errbuf;
  w->errbuf_size = size;
  if (errbuf && size) errbuf[0] = '\0';
}

static void waiter_signal(waiter *w, const cql_error *err, cql_resultset *rs) {
  pthread_mutex_lock(&w->mu);
  w->rs = rs;
  if (err) {
    w->code = err->code ? err->code : CQL_ERR_PROTOCOL_VIOLATION;
    if (w->errbuf) cql_client_error_text(err, w->errbuf, w->errbuf_size);
  }
  w->done = true;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static int32_t waiter_wait(waiter *w) {
  pthread_mutex_lock(&w->mu);
  while (!w->done) pthread_cond_wait(&w->cv, &w->mu);
  pthread_mutex_unlock(&w->mu);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  return w->code;
}

/* Also the schema agreement callback (same signature). */
static void on_connect_done(const cql_error *err, void *ud) { waiter_signal(ud, err, NULL); }
static void on_execute_done(cql_resultset *rs, const cql_error *err, void *ud) { waiter_signal(ud, err, rs); }

static bool on_io_thread(const cql_client *c) { return pthread_equal(pthread_self(), c->thread); }

static int32_t usage_error(char *errbuf, size_t size, const char *msg) {
  if (errbuf && size) snprintf(errbuf, size, "%s: %s", cql_client_error_name(CQL_ERR_BAD_USAGE), msg);
  return CQL_ERR_BAD_USAGE;
}

int32_t cql_client_connect_wait(cql_client *c, char *errbuf, size_t errbuf_size) {
  if (on_io_thread(c)) return usage_error(errbuf, errbuf_size, "blocking call on the I/O thread");
  waiter w;
  waiter_init(&w, errbuf, errbuf_size);
  cql_client_connect(c, on_connect_done, &w);
  return waiter_wait(&w);
}

int32_t cql_client_execute_wait(cql_client *c, const cql_statement *st, cql_resultset **out, char *errbuf,
                                size_t errbuf_size) {
  if (out) *out = NULL;
  if (on_io_thread(c)) return usage_error(errbuf, errbuf_size, "blocking call on the I/O thread");
  waiter w;
  waiter_init(&w, errbuf, errbuf_size);
  if (!cql_client_execute(c, st, on_execute_done, &w)) {
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return usage_error(errbuf, errbuf_size, "client closing or invalid statement");
  }
  int32_t code = waiter_wait(&w);
  if (out)
    *out = w.rs;
  else
    cql_resultset_free(w.rs);
  return code;
}

int32_t cql_client_wait_schema_agreement(cql_client *c, unsigned timeout_ms, char *errbuf,
                                         size_t errbuf_size) {
  if (on_io_thread(c)) return usage_error(errbuf, errbuf_size, "blocking call on the I/O thread");
  waiter w;
  waiter_init(&w, errbuf, errbuf_size);
  if (!cql_client_schema_agreement(c, timeout_ms, on_connect_done, &w)) {
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return usage_error(errbuf, errbuf_size, "client closing");
  }
  return waiter_wait(&w);
}
