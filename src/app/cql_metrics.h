/* app/cql_metrics: the CQL client's stats snapshot as Prometheus families, read at scrape
 * time (a metrics collector whose ctx is the cql_client, borrowed):
 *
 *   messenger_cql_requests_in_flight            gauge    accepted, no callback yet
 *   messenger_cql_requests_queued               gauge    accepted, not started yet
 *   messenger_cql_requests_total                counter  finished
 *   messenger_cql_request_errors_total          counter  finished with an error
 *   messenger_cql_request_timeouts_total        counter  finished with a client timeout
 *   messenger_cql_request_retries_total         counter  attempts the retry policy sent again
 *   messenger_cql_hosts                         gauge    live hosts known
 *   messenger_cql_host_up{host,dc}              gauge    1 with a ready connection, else 0
 *
 * The cql library stays free of metrics: this module is the only reader of its snapshot. */
#ifndef MESSENGER_APP_CQL_METRICS_H
#define MESSENGER_APP_CQL_METRICS_H

#include "cql/client.h"
#include "metrics/metrics.h"

/* Renders `stats` (a snapshot) into out. */
void cql_metrics_render(const cql_client_stats *stats, metrics_text *out);

/* The collector: ctx is the cql_client. */
void cql_metrics_collect(void *client, metrics_text *out);

#endif
