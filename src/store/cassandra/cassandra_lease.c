/* Node-id leases (docs/data-model.md, "Message ids"): a process without a configured node id
 * claims a free row of node_leases with an LWT (TTL 60 s), renews it every renew_ms with a
 * conditional UPDATE, and deletes it at close. Sends and /ready fail while the lease is not
 * known to be held (a renewal not applied, or none confirmed for LEASE_SAFE_US). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "core/timestamp.h"
#include "store/cassandra/cassandra_internal.h"
#include "log/log.h"

#define LEASE_SAFE_US (INT64_C(50) * 1000 * 1000) /* TTL 60 s minus a margin for clock and latency */

struct cass_lease {
  cql_client *client;
  const cass_cql *cql;
  int node_id;
  uuid_t owner;
  unsigned renew_ms;
  _Atomic int64_t valid_until_us; /* the lease is ours until then (0: lost) */
  pthread_t thread;
  pthread_mutex_t mu; /* guards stopping and renewing */
  pthread_cond_t cv;
  bool stopping;
  bool renewing; /* a renewal is in flight */
};

bool cass_lease_valid(cass_lease *l) { return timestamp_now_us() < atomic_load(&l->valid_until_us); }

static cql_statement *lease_statement(const cass_lease *l, cass_stmt which, size_t n) {
  cql_statement *st = cql_statement_new(l->cql->text[which], n, true);
  if (!st) return NULL;
  cql_statement_set_consistency(st, CQL_CONSISTENCY_LOCAL_QUORUM);
  cass_statement_lwt(st);
  return st;
}

typedef struct renewal {
  cass_lease *l;
  int64_t sent_us;
} renewal;

/* Applied, or not applied because the row already names us as owner. */
static bool lease_held(const cass_lease *l, const cql_resultset *r) {
  if (cass_lwt_applied(r)) return true;
  int col = cql_resultset_column_index(r, "owner");
  const cql_row *row = cql_resultset_row(r, 0);
  uint8_t owner[16];
  return row && col >= 0 && cql_row_get_uuid(row, (size_t)col, owner) == CQL_GET_OK &&
         memcmp(owner, l->owner, sizeof owner) == 0;
}

static void on_renewed(cql_resultset *r, const cql_error *err, void *ud) {
  renewal *rn = ud;
  cass_lease *l = rn->l;
  if (err) {
    cass_log_error("node lease renewal", err); /* still ours until valid_until_us */
  } else if (lease_held(l, r)) {
    atomic_store(&l->valid_until_us, rn->sent_us + LEASE_SAFE_US);
  } else {
    atomic_store(&l->valid_until_us, 0);
    log_msg(LOG_WARN, "cassandra", "node id %d lease was lost; sends fail until it is renewed", l->node_id);
  }
  cql_resultset_free(r);
  free(rn);
  pthread_mutex_lock(&l->mu);
  l->renewing = false;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
}

/* Submits one renewal (an expired lease is claimed again: the row is gone after its TTL). */
static void renew(cass_lease *l) {
  bool lost = atomic_load(&l->valid_until_us) == 0 || !cass_lease_valid(l);
  cql_statement *st =
      lost ? lease_statement(l, CASS_LEASE_CLAIM, 2) : lease_statement(l, CASS_LEASE_RENEW, 3);
  renewal *rn = malloc(sizeof *rn);
  if (!st || !rn) {
    cql_statement_free(st);
    free(rn);
    log_msg(LOG_ERROR, "cassandra", "out of memory renewing the node lease");
    return;
  }
  if (lost) {
    cql_statement_bind_int32(st, 0, l->node_id);
    cql_statement_bind_uuid(st, 1, l->owner);
  } else {
    cql_statement_bind_uuid(st, 0, l->owner);
    cql_statement_bind_int32(st, 1, l->node_id);
    cql_statement_bind_uuid(st, 2, l->owner);
  }
  *rn = (renewal){.l = l, .sent_us = timestamp_now_us()};
  pthread_mutex_lock(&l->mu);
  l->renewing = true;
  pthread_mutex_unlock(&l->mu);
  if (!cql_client_execute(l->client, st, on_renewed, rn)) {
    free(rn);
    pthread_mutex_lock(&l->mu);
    l->renewing = false;
    pthread_mutex_unlock(&l->mu);
  }
  cql_statement_free(st);
}

static void *renew_main(void *arg) {
  cass_lease *l = arg;
  pthread_mutex_lock(&l->mu);
  while (!l->stopping) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += l->renew_ms / 1000;
    until.tv_nsec += (long)(l->renew_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    while (!l->stopping && pthread_cond_timedwait(&l->cv, &l->mu, &until) == 0) {
    }
    if (l->stopping || l->renewing) continue;
    pthread_mutex_unlock(&l->mu);
    renew(l);
    pthread_mutex_lock(&l->mu);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

/* True when the LWT answer names us as the owner (a claim of ours that timed out had applied). */
static bool owned_by_us(const cass_lease *l, const cql_resultset *r) {
  int col = cql_resultset_column_index(r, "owner");
  const cql_row *row = cql_resultset_row(r, 0);
  uint8_t owner[16];
  return col >= 0 && row && cql_row_get_uuid(row, (size_t)col, owner) == CQL_GET_OK &&
         memcmp(owner, l->owner, 16) == 0;
}

#define CLAIM_ATTEMPTS 4

/* One blocking claim of node_id; 1 applied, 0 taken, -1 error (in err). A Paxos timeout (busy
 * or freshly started cluster) is tried again: the claim is `IF NOT EXISTS` with our owner id. */
static int claim(cass_lease *l, int node_id, char *err, size_t err_size) {
  int32_t rc = 0;
  char why[256] = "";
  for (int attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
    cql_statement *st = lease_statement(l, CASS_LEASE_CLAIM, 2);
    if (!st) {
      snprintf(err, err_size, "out of memory");
      return -1;
    }
    cql_statement_bind_int32(st, 0, node_id);
    cql_statement_bind_uuid(st, 1, l->owner);
    cql_resultset *r = NULL;
    rc = cql_client_execute_wait(l->client, st, &r, why, sizeof why);
    cql_statement_free(st);
    if (rc == 0) {
      int applied = cass_lwt_applied(r) || owned_by_us(l, r) ? 1 : 0;
      cql_resultset_free(r);
      return applied;
    }
    if (rc != CQL_ERROR_WRITE_TIMEOUT && rc != CQL_ERROR_CAS_WRITE_UNKNOWN && rc != CQL_ERROR_UNAVAILABLE)
      break;
  }
  snprintf(err, err_size, "cannot lease a node id: %s", why);
  return -1;
}

int cass_lease_acquire(cql_client *c, const cass_cql *cql, unsigned renew_ms, cass_lease **out, int *node_id,
                       char *err, size_t err_size) {
  cass_lease *l = calloc(1, sizeof *l);
  if (!l) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  l->client = c;
  l->cql = cql;
  l->renew_ms = renew_ms;
  uuid_generate_random(l->owner);
  int first = (int)(l->owner[0] % (ID_NODE_MAX + 1)); /* spread concurrent starts */
  int got = 0;
  for (int i = 0; i <= ID_NODE_MAX && got == 0; i++) {
    l->node_id = (first + i) % (ID_NODE_MAX + 1);
    got = claim(l, l->node_id, err, err_size);
  }
  if (got <= 0) {
    if (got == 0)
      snprintf(
          err, err_size,
          "all %d message-id node leases are held by other processes; stop one, or set MESSENGER_NODE_ID "
          "(unique per process)",
          ID_NODE_MAX + 1);
    free(l);
    return -1;
  }
  atomic_init(&l->valid_until_us, timestamp_now_us() + LEASE_SAFE_US);
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  if (pthread_create(&l->thread, NULL, renew_main, l) != 0) {
    snprintf(err, err_size, "cannot start the node lease thread");
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
    return -1;
  }
  *node_id = l->node_id;
  *out = l;
  return 0;
}

void cass_lease_release(cass_lease *l) {
  pthread_mutex_lock(&l->mu);
  l->stopping = true;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
  pthread_join(l->thread, NULL);
  pthread_mutex_lock(&l->mu);
  while (l->renewing) pthread_cond_wait(&l->cv, &l->mu);
  pthread_mutex_unlock(&l->mu);
  cql_statement *st = lease_statement(l, CASS_LEASE_RELEASE, 2);
  if (st) {
    cql_statement_bind_int32(st, 0, l->node_id);
    cql_statement_bind_uuid(st, 1, l->owner);
    char why[256];
    if (cql_client_execute_wait(l->client, st, NULL, why, sizeof why) != 0)
      log_msg(LOG_ERROR, "cassandra", "node lease release failed (it expires in 60 s): %s", why);
    cql_statement_free(st);
  }
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
  free(l);
}
