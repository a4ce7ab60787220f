#include "core/cursor.h"

#include "core/ids.h"

/* Layout before hex encoding: kind (1 byte), message_id (8, big-endian), and for
 * CURSOR_CONVERSATIONS conversation_id (8, big-endian). */
#define CURSOR_MAX_BYTES 17

static const char hex_digits[] = "0123456789abcdef";

static size_t put_be64(unsigned char *p, int64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
  return 8;
}

static int64_t get_be64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return (int64_t)v;
}

static size_t cursor_bytes(cursor_kind kind) { return kind == CURSOR_CONVERSATIONS ? 17 : 9; }

size_t cursor_encode(const cursor *c, char out[CURSOR_TEXT_SIZE]) {
  unsigned char raw[CURSOR_MAX_BYTES];
  size_t n = 0;
  raw[n++] = (unsigned char)c->kind;
  n += put_be64(raw + n, c->message_id);
  if (c->kind == CURSOR_CONVERSATIONS) n += put_be64(raw + n, c->conversation_id);
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex_digits[raw[i] >> 4];
    out[2 * i + 1] = hex_digits[raw[i] & 0xf];
  }
  out[2 * n] = '\0';
  return 2 * n;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool cursor_decode(const char *text, size_t len, cursor_kind kind, cursor *out) {
  size_t n = cursor_bytes(kind);
  if (len != 2 * n) return false;
  unsigned char raw[CURSOR_MAX_BYTES] = {0};
  for (size_t i = 0; i < n; i++) {
    int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    raw[i] = (unsigned char)(hi << 4 | lo);
  }
  if (raw[0] != (unsigned char)kind) return false;
  out->kind = kind;
  out->message_id = get_be64(raw + 1);
  out->conversation_id = kind == CURSOR_CONVERSATIONS ? get_be64(raw + 9) : 0;
  if (!id_is_valid(out->message_id)) return false;
  if (kind == CURSOR_CONVERSATIONS && !id_is_valid(out->conversation_id)) return false;
  return true;
}
