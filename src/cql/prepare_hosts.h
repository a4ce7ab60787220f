/* cql/prepare_hosts: preparing cached statements on hosts before requests need them.
 *
 * Like the Java and C/C++ drivers' prepare-on-all-hosts and re-prepare-on-up: when the first
 * PREPARE of a statement succeeds on one host, the same PREPARE is sent to every other up host;
 * when a host comes up (its first connection, or back from down: a restarted node has forgotten
 * its prepared ids), every READY statement of the cache is prepared there. Requests then rarely
 * pay an UNPREPARED round trip. Work is queued as (entry, host) jobs with at most
 * CQL_PREPARE_HOSTS_PARALLELISM PREPAREs in flight; a job is dropped when its host is no longer
 * up or a PREPARE of the same (entry, host) is already in flight (a request's re-prepare).
 * Outcomes go through the prepared cache (cql_prepared_complete), so requests waiting on the
 * same (entry, host) wake too; failures are otherwise ignored (UNPREPARED still re-prepares).
 * Off when cql_config.prepare_on_all_hosts is false.
 *
 * Ownership: embedded in the client. A job is owned by the queue until sent, then by its
 * PREPARE, and frees itself when the cache wakes it. I/O thread only. */
#ifndef MESSENGER_CQL_PREPARE_HOSTS_H
#define MESSENGER_CQL_PREPARE_HOSTS_H

#include "cql/prepared.h"

#define CQL_PREPARE_HOSTS_PARALLELISM 8

struct cql_client;
struct cql_host;
typedef struct cql_prepare_job cql_prepare_job;

typedef struct cql_prepare_hosts {
  struct cql_client *client;
  cql_prepare_job *head, *tail; /* queued, not sent */
  unsigned in_flight;
  bool pumping; /* guards against re-entrant pumping from completions */
} cql_prepare_hosts;

void cql_prepare_hosts_init(cql_prepare_hosts *ph, struct cql_client *c);
/* e just became READY through a PREPARE on `done`: prepare it on every other up host. */
void cql_prepare_hosts_entry_ready(cql_prepare_hosts *ph, cql_prepared_entry *e, const struct cql_host *done);
/* h came up: prepare every READY entry of the cache on it. */
void cql_prepare_hosts_host_up(cql_prepare_hosts *ph, struct cql_host *h);
/* Frees the queued jobs (client shutdown); jobs in flight end with their connections. */
void cql_prepare_hosts_clear(cql_prepare_hosts *ph);

#endif
