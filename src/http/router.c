#include <string.h>

#include "http/http.h"

/* Matches one pattern against a path. Captured segments are copied NUL-terminated into
 * buf; returns false on mismatch or when buf is too small. */
static bool pattern_matches(const char *pattern, const char *path, size_t path_len,
                            const char *params[HTTP_MAX_PATH_PARAMS], char *buf, size_t buf_size) {
  const char *p = pattern, *s = path, *end = path + path_len;
  size_t used = 0, nparams = 0;
  while (*p && s < end) {
    if (p[0] == '{' && p[1] == '}') {
      const char *seg_end = memchr(s, '/', (size_t)(end - s));
      if (!seg_end) seg_end = end;
      size_t n = (size_t)(seg_end - s);
      if (n == 0 || nparams == HTTP_MAX_PATH_PARAMS || used + n + 1 > buf_size) return false;
      memcpy(buf + used, s, n);
      buf[used + n] = '\0';
      params[nparams++] = buf + used;
      used += n + 1;
      s = seg_end;
      p += 2;
    } else if (*p == *s) {
      p++;
      s++;
    } else {
      return false;
    }
  }
  return *p == '\0' && s == end;
}

static bool method_is(const char *route_method, const char *method) {
  return strcmp(route_method, method) == 0 ||
         (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

const http_route *http_route_match(const http_routes *table, const char *method, const char *path,
                                   const char *params[HTTP_MAX_PATH_PARAMS], char *param_buf,
                                   size_t param_buf_size, unsigned *status, char *allow, size_t allow_size) {
  size_t len = strlen(path);
  if (len > 1 && path[len - 1] == '/') len--; /* "/api/messages/" and "/api/messages" are one route */
  size_t allow_len = 0;
  allow[0] = '\0';
  for (size_t i = 0; i < table->count; i++) {
    const http_route *r = &table->routes[i];
    size_t rlen = strlen(r->pattern);
    const char *pattern = r->pattern;
    char trimmed[256];
    if (rlen > 1 && rlen < sizeof trimmed && pattern[rlen - 1] == '/') {
      memcpy(trimmed, pattern, rlen - 1);
      trimmed[rlen - 1] = '\0';
      pattern = trimmed;
    }
    if (!pattern_matches(pattern, path, len, params, param_buf, param_buf_size)) continue;
    if (method_is(r->method, method)) return r;
    size_t mlen = strlen(r->method);
    if (!strstr(allow, r->method) && allow_len + mlen + 3 < allow_size) {
      if (allow_len) {
        memcpy(allow + allow_len, ", ", 2);
        allow_len += 2;
      }
      memcpy(allow + allow_len, r->method, mlen + 1);
      allow_len += mlen;
    }
  }
  *status = allow_len ? 405 : 404;
  return NULL;
}
