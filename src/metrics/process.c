#include "metrics/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Reads a small /proc file into buf (NUL-terminated). Returns the length, or -1. */
static ssize_t read_proc(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  ssize_t n;
  while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0) len += (size_t)n;
  close(fd);
  buf[len] = '\0';
  return (ssize_t)len;
}

bool process_stat_parse(const char *text, size_t len, process_stat *out) {
  /* "pid (comm) state ppid ...": fields after the last ')' start at field 3 (state). */
  const char *end = text + len;
  const char *p = NULL;
  for (const char *q = text; q < end; q++)
    if (*q == ')') p = q;
  if (!p) return false;
  p++;
  uint64_t fields[25] = {0}; /* fields[i] = field number i + 3 of proc(5) */
  size_t n = 0;
  while (p < end && n < 25) {
    while (p < end && *p == ' ') p++;
    if (p >= end) break;
    uint64_t v = 0;
    bool digits = false;
    while (p < end && *p >= '0' && *p <= '9') {
      v = v * 10 + (uint64_t)(*p - '0');
      digits = true;
      p++;
    }
    while (p < end && *p != ' ') p++; /* the state letter, or a negative number */
    fields[n++] = digits ? v : 0;
  }
  if (n < 22) return false;
  out->cpu_ticks = fields[14 - 3] + fields[15 - 3];
  out->start_ticks = fields[22 - 3];
  out->rss_pages = fields[24 - 3];
  return true;
}

static long count_open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  long n = 0;
  const struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1; /* the descriptor of the directory itself */
}

static bool boot_time(uint64_t *out) {
  char buf[8192];
  if (read_proc("/proc/stat", buf, sizeof buf) < 0) return false;
  const char *p = strstr(buf, "\nbtime ");
  if (!p) return false;
  *out = strtoull(p + 7, NULL, 10);
  return true;
}

static void gauge(metrics_text *out, const char *name, const char *help, const char *type, double v) {
  metrics_text_family(out, name, help, type);
  metrics_text_sample(out, name, 0, NULL, NULL, v);
}

void process_metrics_collect(void *ctx, metrics_text *out) {
  (void)ctx;
  char buf[1024];
  process_stat st;
  ssize_t len = read_proc("/proc/self/stat", buf, sizeof buf);
  long ticks = sysconf(_SC_CLK_TCK);
  long page = sysconf(_SC_PAGESIZE);
  if (len > 0 && ticks > 0 && page > 0 && process_stat_parse(buf, (size_t)len, &st)) {
    gauge(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter",
          (double)st.cpu_ticks / (double)ticks);
    gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
          (double)st.rss_pages * (double)page);
    uint64_t btime;
    if (boot_time(&btime))
      gauge(out, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
            "gauge", (double)btime + (double)st.start_ticks / (double)ticks);
  }
  long fds = count_open_fds();
  if (fds >= 0) gauge(out, "process_open_fds", "Number of open file descriptors.", "gauge", (double)fds);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    gauge(out, "process_max_fds", "Maximum number of open file descriptors.", "gauge", (double)rl.rlim_cur);
}
