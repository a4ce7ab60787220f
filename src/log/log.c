#include "log/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
static const char *const level_words[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level min) { atomic_store(&min_level, (int)min); }

bool log_level_parse(const char *text, log_level *out) {
  for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
    if (text && strcmp(text, level_words[i]) == 0) {
      *out = (log_level)i;
      return true;
    }
  }
  return false;
}

bool log_enabled(log_level level) { return (int)level >= atomic_load(&min_level); }

/* Returns the bytes written; *consumed = the bytes of src that fitted. */
static size_t sanitize(char *dst, size_t dst_size, const char *src, size_t len, size_t *consumed) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0, i = 0;
  *consumed = 0;
  if (dst_size == 0) return 0;
  for (; i < len; i++) {
    unsigned char c = (unsigned char)src[i];
    bool plain = c >= 0x20 && c < 0x7f && c != '\\';
    size_t need = plain ? 1 : 4;
    if (o + need >= dst_size) break;
    if (plain) {
      dst[o++] = (char)c;
    } else {
      dst[o++] = '\\';
      dst[o++] = 'x';
      dst[o++] = hex[c >> 4];
      dst[o++] = hex[c & 15];
    }
  }
  dst[o] = '\0';
  *consumed = i;
  return o;
}

size_t log_sanitize(char *dst, size_t dst_size, const char *src, size_t len) {
  size_t consumed;
  return sanitize(dst, dst_size, src, len, &consumed);
}

void log_vmsg(log_level level, const char *component, const char *fmt, va_list ap) {
  if (!log_enabled(level)) return;
  char raw[LOG_LINE_MAX];
  int n = vsnprintf(raw, sizeof raw, fmt, ap);
  if (n < 0) return;
  size_t raw_len = (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1;

  struct timespec now;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  char line[LOG_LINE_MAX + 96];
  int head = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000L,
                      level_names[level], component ? component : "messenger");
  if (head < 0 || (size_t)head >= sizeof line) return;
  size_t room = sizeof line - (size_t)head - 5; /* "...\n" and NUL */
  size_t consumed;
  size_t len = (size_t)head + sanitize(line + head, room, raw, raw_len, &consumed);
  if ((size_t)n > raw_len || consumed < raw_len) { /* cut: the text or its escaped form did not fit */
    for (int dots = 0; dots < 3; dots++) line[len++] = '.';
  }
  line[len++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}

void log_msg(log_level level, const char *component, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vmsg(level, component, fmt, ap);
  va_end(ap);
}
