/* metrics/process: the process_* families the Prometheus client libraries export, read from
 * /proc at scrape time (a collector): resident memory, open and maximum file descriptors,
 * start time and CPU time. Owns nothing. */
#ifndef MESSENGER_METRICS_PROCESS_H
#define MESSENGER_METRICS_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics/metrics.h"

typedef struct process_stat {
  uint64_t cpu_ticks;   /* utime + stime, in clock ticks */
  uint64_t start_ticks; /* start time after boot, in clock ticks */
  uint64_t rss_pages;
} process_stat;

/* Parses the contents of /proc/<pid>/stat (the command name may hold spaces and ')').
 * False when malformed. Exposed for tests. */
bool process_stat_parse(const char *text, size_t len, process_stat *out);

/* The collector (ctx unused). */
void process_metrics_collect(void *ctx, metrics_text *out);

#endif
