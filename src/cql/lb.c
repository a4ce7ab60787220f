#include "cql/lb.h"

#include <string.h>

void cql_lb_init(cql_lb *lb, const char *local_dc, bool allow_remote) {
  lb->local_dc = local_dc;
  lb->allow_remote = allow_remote;
  lb->rr = 0;
}

bool cql_lb_is_local(const cql_lb *lb, const cql_lb_host *host) {
  return !lb->local_dc || (host->dc && strcmp(host->dc, lb->local_dc) == 0);
}

static bool in_list(const int *a, size_t n, int v) {
  for (size_t i = 0; i < n; i++)
    if (a[i] == v) return true;
  return false;
}

/* Appends the up replicas of the wanted locality, rotated by `rot`. */
static size_t add_replicas(const cql_lb *lb, const cql_lb_host *hosts, size_t n_hosts, const int *replicas,
                           size_t n_replicas, bool local, uint64_t rot, int *plan, size_t len) {
  for (size_t k = 0; k < n_replicas; k++) {
    int h = replicas[(k + rot) % n_replicas];
    if (h < 0 || (size_t)h >= n_hosts || !hosts[h].up || cql_lb_is_local(lb, &hosts[h]) != local) continue;
    if (!in_list(plan, len, h)) plan[len++] = h;
  }
  return len;
}

/* Appends the up non-replica hosts of the wanted locality, rotated by `rot`. */
static size_t add_others(const cql_lb *lb, const cql_lb_host *hosts, size_t n_hosts, const int *replicas,
                         size_t n_replicas, bool local, uint64_t rot, int *plan, size_t len) {
  for (size_t k = 0; k < n_hosts; k++) {
    int h = (int)((k + rot) % n_hosts);
    if (!hosts[h].up || cql_lb_is_local(lb, &hosts[h]) != local || in_list(replicas, n_replicas, h)) continue;
    plan[len++] = h;
  }
  return len;
}

size_t cql_lb_plan(cql_lb *lb, const cql_lb_host *hosts, size_t n_hosts, const int *replicas,
                   size_t n_replicas, int *plan) {
  uint64_t rot = lb->rr++;
  size_t len = 0;
  len = add_replicas(lb, hosts, n_hosts, replicas, n_replicas, true, rot, plan, len);
  len = add_others(lb, hosts, n_hosts, replicas, n_replicas, true, rot, plan, len);
  if (lb->allow_remote && lb->local_dc) {
    len = add_replicas(lb, hosts, n_hosts, replicas, n_replicas, false, rot, plan, len);
    len = add_others(lb, hosts, n_hosts, replicas, n_replicas, false, rot, plan, len);
  }
  return len;
}
