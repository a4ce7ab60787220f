#include "http/parse.h"

#include <string.h>
#include <strings.h>

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes src[0..len) to dst, NUL-terminated; returns the bytes written (without the
 * NUL), or -1 on a malformed escape or an escape that decodes to a control character. */
static long decode_component(const char *src, size_t len, char *dst, bool plus_is_space) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)src[i];
    if (c == '%') {
      if (len - i < 3) return -1;
      int hi = hex_value(src[i + 1]), lo = hex_value(src[i + 2]);
      if (hi < 0 || lo < 0) return -1;
      c = (unsigned char)(hi << 4 | lo);
      if (c < 0x20 || c == 0x7f) return -1;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    dst[n++] = (char)c;
  }
  dst[n] = '\0';
  return (long)n;
}

/* "http://authority" or "https://authority" (any case) at the start: the length of that
 * prefix, else 0. */
static size_t absolute_prefix(const char *t, size_t len) {
  size_t scheme = len >= 7 && strncasecmp(t, "http://", 7) == 0    ? 7
                  : len >= 8 && strncasecmp(t, "https://", 8) == 0 ? 8
                                                                   : 0;
  if (!scheme) return 0;
  size_t i = scheme;
  while (i < len && t[i] != '/' && t[i] != '?') i++;
  return i;
}

const char *http_target_decode(const char *target, size_t len, char *out, size_t *query_count) {
  *query_count = 0;
  const char *hash = memchr(target, '#', len);
  if (hash) len = (size_t)(hash - target);
  size_t skip = absolute_prefix(target, len);
  const char *t = target + skip;
  len -= skip;
  static const char root[] = "/";
  if (skip && (len == 0 || t[0] == '?')) { /* "http://host" and "http://host?q": the root */
    memcpy(out, root, sizeof root);
    out += sizeof root;
  } else if (len == 0 || t[0] != '/') {
    return "Invalid request target";
  }
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)t[i] <= 0x20 || t[i] == 0x7f) return "Invalid character in the request target";
  const char *q = memchr(t, '?', len);
  size_t path_len = q ? (size_t)(q - t) : len;
  if (path_len > 0) {
    long n = decode_component(t, path_len, out, false);
    if (n < 0) return "Invalid percent-encoding in the request path";
    out += n + 1;
  }
  if (!q) return NULL;
  const char *p = q + 1, *end = t + len;
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *pair_end = amp ? amp : end;
    if (pair_end > p) {
      const char *eq = memchr(p, '=', (size_t)(pair_end - p));
      const char *name_end = eq ? eq : pair_end;
      long n = decode_component(p, (size_t)(name_end - p), out, true);
      if (n < 0) return "Invalid percent-encoding in the query string";
      out += n + 1;
      const char *value = eq ? eq + 1 : pair_end;
      n = decode_component(value, (size_t)(pair_end - value), out, true);
      if (n < 0) return "Invalid percent-encoding in the query string";
      out += n + 1;
      (*query_count)++;
    }
    p = pair_end + 1;
  }
  return NULL;
}

const char *http_query_find(const char *pairs, size_t count, const char *name) {
  for (size_t i = 0; i < count; i++) {
    const char *value = pairs + strlen(pairs) + 1;
    if (strcmp(pairs, name) == 0) return value;
    pairs = value + strlen(value) + 1;
  }
  return NULL;
}

bool http_field_value_valid(const char *value, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)value[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

size_t http_trim_ows(const char **start, size_t len) {
  const char *s = *start;
  while (len && (s[0] == ' ' || s[0] == '\t')) s++, len--;
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
  *start = s;
  return len;
}

bool http_transfer_encoding_is_chunked(const char *value, size_t len) {
  len = http_trim_ows(&value, len);
  return len == 7 && strncasecmp(value, "chunked", 7) == 0;
}
