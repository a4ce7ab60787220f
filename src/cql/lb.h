/* cql/lb: DC-aware, token-aware query plans.
 *
 * A query plan is the ordered list of hosts a request tries. With replicas known (token-aware
 * routing) the plan is: local-DC replicas, then the other local-DC hosts, then (only when
 * remote DCs are allowed) remote replicas and the other remote hosts. Within each group the
 * start rotates round-robin from plan to plan so load spreads over equivalent hosts; replica
 * order beyond the rotation keeps ring order. Hosts that are not up are left out. With no local
 * DC configured every host counts as local. Plain data; the host table is borrowed per call. */
#ifndef MESSENGER_CQL_LB_H
#define MESSENGER_CQL_LB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cql_lb_host {
  const char *dc; /* may be NULL (unknown: treated as remote when a local DC is set) */
  bool up;
} cql_lb_host;

typedef struct cql_lb {
  const char *local_dc; /* borrowed; NULL = every host is local */
  bool allow_remote;
  uint64_t rr; /* round-robin counter */
} cql_lb;

void cql_lb_init(cql_lb *lb, const char *local_dc, bool allow_remote);

/* Writes the plan (host indexes) into plan[0..n_hosts) and returns its length. `replicas`
 * (n_replicas, may be 0) are host indexes for the statement's token, primary first. */
size_t cql_lb_plan(cql_lb *lb, const cql_lb_host *hosts, size_t n_hosts, const int *replicas,
                   size_t n_replicas, int *plan);

/* true when `host` is in the local DC (or no local DC is set). */
bool cql_lb_is_local(const cql_lb *lb, const cql_lb_host *host);

#endif
