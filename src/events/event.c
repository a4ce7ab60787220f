#include "events/event.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool parse_u64(const char *p, size_t len, uint64_t *out) {
  if (len == 0 || len > 20 || (len > 1 && p[0] == '0')) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (p[i] < '0' || p[i] > '9') return false;
    unsigned d = (unsigned)(p[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool event_pos_parse(const char *text, size_t len, event_pos *out) {
  const char *dash = memchr(text, '-', len);
  if (!dash) return false;
  const char *lo = dash + 1;
  const char *end = text + len;
  const char *tilde = memchr(lo, '~', (size_t)(end - lo));
  uint64_t counter;
  if (tilde && !parse_u64(tilde + 1, (size_t)(end - tilde - 1), &counter)) return false;
  const char *lo_end = tilde ? tilde : end;
  event_pos p;
  if (!parse_u64(text, (size_t)(dash - text), &p.hi) || !parse_u64(lo, (size_t)(lo_end - lo), &p.lo))
    return false;
  *out = p;
  return true;
}

size_t event_pos_format(event_pos p, char out[EVENT_ID_TEXT_SIZE]) {
  return (size_t)snprintf(out, EVENT_ID_TEXT_SIZE, "%" PRIu64 "-%" PRIu64, p.hi, p.lo);
}

size_t event_typing_id_format(event_pos p, uint64_t n, char out[EVENT_ID_TEXT_SIZE]) {
  return (size_t)snprintf(out, EVENT_ID_TEXT_SIZE, "%" PRIu64 "-%" PRIu64 "~%" PRIu64, p.hi, p.lo, n);
}

/* Appends pieces into one exactly sized buffer. */
typedef struct piece {
  const char *text;
  size_t len;
} piece;

static char *join(const piece *pieces, size_t count, size_t *len) {
  size_t total = 0;
  for (size_t i = 0; i < count; i++) total += pieces[i].len;
  char *out = malloc(total + 1);
  if (!out) return NULL;
  size_t at = 0;
  for (size_t i = 0; i < count; i++) {
    memcpy(out + at, pieces[i].text, pieces[i].len);
    at += pieces[i].len;
  }
  out[at] = '\0';
  *len = at;
  return out;
}

#define LIT(s)                                                                                               \
  { (s), sizeof(s) - 1 }
#define STR(s)                                                                                               \
  { (s), strlen(s) }

/* The JSON object's pieces: 7 when fields are present, else 5. Ids and types need no escaping
 * (digits, '-', '~' and the fixed type names). */
static size_t json_pieces(const event *ev, piece out[7]) {
  size_t n = 0;
  out[n++] = (piece)LIT("{\"type\":\"");
  out[n++] = (piece)STR(ev->type);
  out[n++] = (piece)LIT("\",\"id\":\"");
  out[n++] = (piece)STR(ev->id);
  if (ev->fields_len) {
    out[n++] = (piece)LIT("\",");
    out[n++] = (piece){ev->fields, ev->fields_len};
    out[n++] = (piece)LIT("}");
  } else {
    out[n++] = (piece)LIT("\"}");
  }
  return n;
}

char *event_encode_json(const event *ev, size_t *len) {
  piece pieces[7];
  size_t n = json_pieces(ev, pieces);
  return join(pieces, n, len);
}

char *event_encode_sse(const event *ev, size_t *len) {
  /* The JSON is one line: jansson and the json writer never emit raw newlines. */
  piece pieces[14];
  size_t n = 0;
  pieces[n++] = (piece)LIT("id: ");
  pieces[n++] = (piece)STR(ev->id);
  pieces[n++] = (piece)LIT("\nevent: ");
  pieces[n++] = (piece)STR(ev->type);
  pieces[n++] = (piece)LIT("\ndata: ");
  n += json_pieces(ev, pieces + n);
  pieces[n++] = (piece)LIT("\n\n");
  return join(pieces, n, len);
}

char *event_encode_sse_position(const char *id, size_t *len) {
  const piece pieces[] = {LIT("id: "), STR(id), LIT("\n\n")};
  return join(pieces, sizeof pieces / sizeof pieces[0], len);
}
