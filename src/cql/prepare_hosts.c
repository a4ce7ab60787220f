/* cql/prepare_hosts: background PREPAREs on the other hosts (see prepare_hosts.h). */
#include <stdlib.h>

#include "cql/client_internal.h"
#include "cql/errors.h"

struct cql_prepare_job {
  cql_prepare_hosts *ph;
  cql_prepared_entry *entry;
  cql_host *host;
  cql_conn_req creq;
  cql_prep_waiter waiter;
  cql_prepare_job *next;
};

static void pump(cql_prepare_hosts *ph);

void cql_prepare_hosts_init(cql_prepare_hosts *ph, cql_client *c) {
  ph->client = c;
  ph->head = ph->tail = NULL;
  ph->in_flight = 0;
  ph->pumping = false;
}

static bool enabled(const cql_prepare_hosts *ph) {
  return ph->client->cfg.prepare_on_all_hosts && !ph->client->shut_down;
}

/* Queues (e, h); on OOM the job is skipped (it is only an optimisation). */
static void enqueue(cql_prepare_hosts *ph, cql_prepared_entry *e, cql_host *h) {
  cql_prepare_job *j = calloc(1, sizeof(*j));
  if (!j) return;
  *j = (cql_prepare_job){.ph = ph, .entry = e, .host = h};
  if (ph->tail)
    ph->tail->next = j;
  else
    ph->head = j;
  ph->tail = j;
}

static cql_prepare_job *dequeue(cql_prepare_hosts *ph) {
  cql_prepare_job *j = ph->head;
  if (!j) return NULL;
  ph->head = j->next;
  if (!ph->head) ph->tail = NULL;
  j->next = NULL;
  return j;
}

/* The cache finished the PREPARE of (entry, host), ours or not: the job is done. */
static void on_job_woken(cql_prep_waiter *w, const cql_error *err) {
  (void)err; /* a failure only means the request path will re-prepare on UNPREPARED */
  cql_prepare_job *j = (cql_prepare_job *)((char *)w - offsetof(cql_prepare_job, waiter));
  cql_prepare_hosts *ph = j->ph;
  free(j);
  ph->in_flight--;
  pump(ph);
}

static void on_job_response(cql_conn_req *creq, cql_message *resp, const cql_error *err) {
  cql_prepare_job *j = (cql_prepare_job *)((char *)creq - offsetof(cql_prepare_job, creq));
  /* wakes j->waiter (and requests waiting on the same host), which frees j */
  cql_prepared_complete_response(&j->ph->client->prepared, j->entry, j->host, resp, err);
}

/* Registers j as the owner of the (entry, host) PREPARE and sends it. false: j was not started
 * (host down, or a PREPARE already in flight there) and the caller frees it. */
static bool start_job(cql_prepare_hosts *ph, cql_prepare_job *j) {
  cql_client *c = ph->client;
  cql_conn *conn = cql_client_host_is_up(j->host) ? cql_pool_pick(j->host->pool) : NULL;
  if (!conn || cql_prepared_in_flight(j->entry, j->host)) return false;
  bool oom;
  j->waiter.wake = on_job_woken;
  if (!cql_prepared_wait(j->entry, j->host, &j->waiter, &oom)) return false; /* OOM only */
  ph->in_flight++;
  j->creq.on_response = on_job_response;
  cql_message m;
  cql_message_init(&m, CQL_OP_PREPARE);
  m.u.prepare.query = (cql_str){j->entry->query, j->entry->query_len};
  if (!cql_conn_send(conn, &j->creq, &m, c->cfg.request_timeout_ms)) {
    cql_error err;
    cql_client_error_set(&err, CQL_ERR_NO_HOSTS, "cannot send PREPARE");
    cql_prepared_complete(&c->prepared, j->entry, j->host, NULL, &err); /* frees j */
  }
  return true;
}

static void pump(cql_prepare_hosts *ph) {
  if (ph->pumping) return; /* a completion inside start_job: the running loop goes on */
  ph->pumping = true;
  while (ph->in_flight < CQL_PREPARE_HOSTS_PARALLELISM && ph->head) {
    cql_prepare_job *j = dequeue(ph);
    if (!enabled(ph) || !start_job(ph, j)) free(j);
  }
  ph->pumping = false;
}

void cql_prepare_hosts_entry_ready(cql_prepare_hosts *ph, cql_prepared_entry *e, const cql_host *done) {
  if (!enabled(ph)) return;
  cql_client *c = ph->client;
  for (size_t i = 0; i < c->n_hosts; i++)
    if (c->hosts[i] != done && cql_client_host_is_up(c->hosts[i])) enqueue(ph, e, c->hosts[i]);
  pump(ph);
}

typedef struct host_up_ctx {
  cql_prepare_hosts *ph;
  cql_host *host;
} host_up_ctx;

static void enqueue_for_host(cql_prepared_entry *e, void *ud) {
  host_up_ctx *ctx = ud;
  enqueue(ctx->ph, e, ctx->host);
}

void cql_prepare_hosts_host_up(cql_prepare_hosts *ph, cql_host *h) {
  if (!enabled(ph)) return;
  host_up_ctx ctx = {ph, h};
  cql_prepared_each_ready(&ph->client->prepared, enqueue_for_host, &ctx);
  pump(ph);
}

void cql_prepare_hosts_clear(cql_prepare_hosts *ph) {
  cql_prepare_job *j;
  while ((j = dequeue(ph))) free(j);
}
