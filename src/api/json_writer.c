#include "api/json_writer.h"

#include <stdlib.h>
#include <string.h>

void json_writer_init(json_writer *w, size_t initial_capacity) {
  w->len = 0;
  w->cap = initial_capacity ? initial_capacity : 256;
  w->buf = malloc(w->cap);
  w->failed = w->buf == NULL;
}

static bool reserve(json_writer *w, size_t extra) {
  if (w->failed) return false;
  if (w->len + extra + 1 <= w->cap) return true;
  size_t cap = w->cap * 2;
  while (cap < w->len + extra + 1) cap *= 2;
  char *grown = realloc(w->buf, cap);
  if (!grown) {
    w->failed = true;
    return false;
  }
  w->buf = grown;
  w->cap = cap;
  return true;
}

void json_writer_raw(json_writer *w, const char *text, size_t len) {
  if (!reserve(w, len)) return;
  memcpy(w->buf + w->len, text, len);
  w->len += len;
}

void json_writer_string(json_writer *w, const char *text, size_t len) {
  static const char hex[] = "0123456789abcdef";
  if (!reserve(w, len + 2)) return;
  w->buf[w->len++] = '"';
  size_t run = 0; /* start of the pending run of bytes that need no escape */
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    json_writer_raw(w, text + run, i - run);
    run = i + 1;
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t n = 2;
    switch (c) {
    case '"':
      esc[1] = '"';
      break;
    case '\\':
      esc[1] = '\\';
      break;
    case '\n':
      esc[1] = 'n';
      break;
    case '\r':
      esc[1] = 'r';
      break;
    case '\t':
      esc[1] = 't';
      break;
    case '\b':
      esc[1] = 'b';
      break;
    case '\f':
      esc[1] = 'f';
      break;
    default:
      esc[1] = 'u';
      esc[2] = '0';
      esc[3] = '0';
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 0xf];
      n = 6;
    }
    json_writer_raw(w, esc, n);
  }
  json_writer_raw(w, text + run, len - run);
  json_writer_raw(w, "\"", 1);
}

void json_writer_int(json_writer *w, int64_t value) {
  char digits[24];
  size_t n = 0;
  uint64_t v = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
  do {
    digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  if (value < 0) digits[sizeof digits - 1 - n++] = '-';
  json_writer_raw(w, digits + sizeof digits - n, n);
}

char *json_writer_finish(json_writer *w, size_t *len) {
  if (w->failed) {
    free(w->buf);
    w->buf = NULL;
    return NULL;
  }
  w->buf[w->len] = '\0';
  *len = w->len;
  char *out = w->buf;
  w->buf = NULL;
  return out;
}
