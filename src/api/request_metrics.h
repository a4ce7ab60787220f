/* api/request_metrics: the HTTP families, fed by the transport's completion observer.
 *
 *   messenger_http_requests_total{route,method,status}     counter
 *   messenger_http_request_duration_seconds{route}          histogram
 *
 * route is the matched route's pattern ("/api/conversations/{}"), "unmatched" when none
 * matched (404, 405, framing errors); method is GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS
 * or OTHER; status 0 means the connection ended before the response was sent. A raw path
 * never becomes a label, so the number of series is bounded by routes x methods x statuses.
 *
 * Series are created on first use and cached in a table indexed by (route, method, status),
 * read with one atomic load: after warm-up, an observation takes no lock.
 *
 * Ownership: borrows the registry and the route table, which must outlive it. */
#ifndef MESSENGER_API_REQUEST_METRICS_H
#define MESSENGER_API_REQUEST_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "metrics/metrics.h"

typedef struct request_metrics request_metrics;

/* NULL when reg is NULL or out of memory. */
request_metrics *request_metrics_new(metrics_registry *reg, const http_route *routes, size_t route_count);
void request_metrics_free(request_metrics *m); /* NULL: no-op */

/* The http_completion_observer's work; `route` is NULL or an entry of the table. */
void request_metrics_observe(request_metrics *m, const http_route *route, const char *method, unsigned status,
                             uint64_t duration_us);

#endif
