/* log: the one log function of the program. Every line goes to stderr as
 *
 *   2026-12-04T01:23:45.678Z INFO  http: GET /health 200 41us 5f3a...
 *
 * (UTC time with milliseconds, level, component, message), written with one write(2) so lines
 * from several threads never interleave. The formatted message is sanitised as a whole: control
 * characters, DEL, backslash and bytes >= 0x80 are written as \xHH, so no byte that came from a
 * client (a path, a header, a request id) can end a line, forge another one or colour a
 * terminal. Lines longer than LOG_LINE_MAX are cut and end in "...".
 *
 * Ownership: nothing is retained; the functions are thread-safe and async-signal-unsafe. */
#ifndef MESSENGER_LOG_LOG_H
#define MESSENGER_LOG_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define LOG_LINE_MAX 2048

typedef enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Lines below `min` are dropped (default LOG_INFO). */
void log_set_level(log_level min);
/* Parses "debug", "info", "warn" or "error"; false for anything else. */
bool log_level_parse(const char *text, log_level *out);
bool log_enabled(log_level level);

__attribute__((format(printf, 3, 4))) void log_msg(log_level level, const char *component, const char *fmt,
                                                   ...);
__attribute__((format(printf, 3, 0))) void log_vmsg(log_level level, const char *component, const char *fmt,
                                                    va_list ap);

/* The sanitising step on its own: writes `src` (len bytes) into dst as log_msg would print it,
 * NUL-terminated, cut to dst_size - 1 bytes. Returns the length written. Exposed for tests. */
size_t log_sanitize(char *dst, size_t dst_size, const char *src, size_t len);

#endif
