/* metrics/global: the process's one registry and the families the program's layers share.
 *
 * `messenger serve` calls metrics_global_init once, before any thread that updates metrics
 * starts, and metrics_global_shutdown after they are all stopped. Until then (unit tests, the
 * seed and migrate commands) and when metrics are switched off (MESSENGER_METRICS=0) every
 * function below is a no-op and metrics_global() is NULL: callers never check.
 *
 * Families created here (the others are made by their owners: api/request_metrics for HTTP,
 * store/metered for store operations):
 *   messenger_build_info{version,store}                 gauge, 1
 *   messenger_event_streams                             gauge, open event streams (SSE + WebSocket)
 *   messenger_event_streams_opened_total                counter
 *   messenger_event_streams_dropped_total               counter, slow streams closed by the server
 *   messenger_sqlite_writer_queue_depth                 gauge, sends waiting for the writer
 *   messenger_sqlite_writer_batch_size                  histogram, sends per transaction
 *   messenger_sqlite_writer_commit_duration_seconds     histogram, BEGIN .. COMMIT of one batch
 *   process_resident_memory_bytes, process_open_fds, process_max_fds,
 *   process_start_time_seconds, process_cpu_seconds_total   (as the Prometheus client libraries)
 *
 * Ownership: the registry belongs to this module; series handles returned stay valid until
 * metrics_global_shutdown. */
#ifndef MESSENGER_METRICS_GLOBAL_H
#define MESSENGER_METRICS_GLOBAL_H

#include <stdbool.h>
#include <stdint.h>

#include "metrics/metrics.h"

/* Histogram bounds shared by every latency family, in microseconds (100 us .. 10 s). */
extern const uint64_t METRICS_LATENCY_BOUNDS_US[];
extern const size_t METRICS_LATENCY_BOUND_COUNT;

/* Creates the registry and the families above. `store_backend` labels build_info. Returns
 * false (and logs why) when out of memory; metrics are then off. */
bool metrics_global_init(const char *version, const char *store_backend);
void metrics_global_shutdown(void);
metrics_registry *metrics_global(void); /* NULL when off */

/* Event streams: call opened when a stream starts delivering, closed when it ends for any
 * reason, and dropped (before closed) when the server closes it because it fell behind. */
void metrics_event_stream_opened(void);
void metrics_event_stream_closed(void);
void metrics_event_stream_dropped(void);

/* The SQLite writer: queue depth after each change, and each committed batch. */
void metrics_sqlite_queue_depth(unsigned depth);
void metrics_sqlite_batch(unsigned sends, uint64_t commit_us);

#endif
