/* api/json_writer: appends JSON text to a growing buffer, for the hot responses (pages of
 * messages and conversations). Building a jansson tree for those cost more CPU than the
 * store and the transport together (profiled), so they are written directly; jansson still
 * parses every request and renders the rare responses.
 *
 * The writer owns its buffer until json_writer_finish() hands it to the caller. After an
 * allocation failure every call is a no-op and finish returns NULL. */
#ifndef MESSENGER_API_JSON_WRITER_H
#define MESSENGER_API_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct json_writer {
  char *buf;
  size_t len, cap;
  bool failed;
} json_writer;

void json_writer_init(json_writer *w, size_t initial_capacity);
/* Appends bytes that are already JSON (punctuation, keys written as literals). */
void json_writer_raw(json_writer *w, const char *text, size_t len);
#define json_writer_lit(w, literal) json_writer_raw((w), (literal), sizeof(literal) - 1)
/* Appends a quoted JSON string of valid UTF-8 text, escaping quotes, backslashes and control characters. */
void json_writer_string(json_writer *w, const char *text, size_t len);
void json_writer_int(json_writer *w, int64_t value);
/* Returns the NUL-terminated text (malloc'ed, now the caller's) and its length, or NULL. */
char *json_writer_finish(json_writer *w, size_t *len);

#endif
