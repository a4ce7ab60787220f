#include "core/validate.h"

long utf8_code_points(const char *text, size_t len) {
  const unsigned char *s = (const unsigned char *)text;
  long count = 0;
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      count++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      extra = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return -1;
    }
    if (len - i <= extra) return -1;
    for (size_t k = 1; k <= extra; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return -1;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    /* overlong forms, surrogates, and values past U+10FFFF */
    if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return -1;
    i += extra + 1;
    count++;
  }
  return count;
}

bool idempotency_key_is_valid(const char *key, size_t len) {
  if (len < 1 || len > IDEMPOTENCY_KEY_MAX) return false;
  for (size_t i = 0; i < len; i++)
    if (key[i] < 0x21 || key[i] > 0x7e) return false;
  return true;
}

bool conversation_pair(int64_t a, int64_t b, int64_t *low, int64_t *high) {
  if (a == b) return false;
  *low = a < b ? a : b;
  *high = a < b ? b : a;
  return true;
}
