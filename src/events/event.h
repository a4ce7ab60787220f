/* events/event: the value of one event and its two wire encodings.
 *
 * An event id is a position "<hi>-<lo>" (two unsigned decimals, like a Redis Stream id) in the
 * log of the user who receives it; positions are totally ordered by (hi, lo). The in-process
 * log uses hi = the process's epoch and lo = a sequence number, the Redis log uses the stream
 * entry id. A `typing` event, which is never logged, gets the id "<position>~<n>": the position
 * of the last logged event the stream delivered plus a counter, so a client that resumes from it
 * resumes from that position. Clients treat ids as opaque strings.
 *
 * An event is rendered as {"type":"<type>","id":"<id>",<fields>} where `fields` is a JSON
 * member list without the braces (possibly empty). Nothing here retains its arguments; the
 * encoders return malloc'ed text that the caller frees. */
#ifndef MESSENGER_EVENTS_EVENT_H
#define MESSENGER_EVENTS_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct event_pos {
  uint64_t hi, lo;
} event_pos;

/* Longest id text: two 20-digit numbers, '-', '~' and a 20-digit counter, plus NUL. */
#define EVENT_ID_TEXT_SIZE 64

/* Event types (the strings of API.md). */
#define EVENT_MESSAGE "message"
#define EVENT_READ    "read"
#define EVENT_TYPING  "typing"
#define EVENT_RESET   "reset"

typedef struct event {
  const char *type; /* one of the EVENT_* strings */
  const char *id;   /* NUL-terminated id text */
  const char *fields;
  size_t fields_len;
} event;

static inline int event_pos_cmp(event_pos a, event_pos b) {
  if (a.hi != b.hi) return a.hi < b.hi ? -1 : 1;
  if (a.lo != b.lo) return a.lo < b.lo ? -1 : 1;
  return 0;
}

/* Parses "<hi>-<lo>" with an optional "~<n>" suffix (ignored: it only orders typing events).
 * Decimal digits only, no sign, no leading zeros beyond a lone "0", each number < 2^64. */
bool event_pos_parse(const char *text, size_t len, event_pos *out);
/* Writes "<hi>-<lo>" and returns its length. */
size_t event_pos_format(event_pos p, char out[EVENT_ID_TEXT_SIZE]);
/* Writes "<hi>-<lo>~<n>" (the id of a typing event) and returns its length. */
size_t event_typing_id_format(event_pos p, uint64_t n, char out[EVENT_ID_TEXT_SIZE]);

/* {"type":..,"id":..,<fields>}: the WebSocket text frame and the SSE data line. */
char *event_encode_json(const event *ev, size_t *len);
/* "id: <id>\nevent: <type>\ndata: <json>\n\n": one Server-Sent Events message. */
char *event_encode_sse(const event *ev, size_t *len);
/* "id: <id>\n\n": sets the EventSource's last event id without dispatching an event (the
 * position of a new stream, so that its first reconnect resumes from there). */
char *event_encode_sse_position(const char *id, size_t *len);

#endif
