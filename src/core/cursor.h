/* core/cursor: the opaque pagination cursors handed to clients as `next_cursor`.
 *
 * A cursor is a position in one ordered list, never an offset: the next page starts strictly
 * after it, so reading it costs the same at any depth. Text form: lowercase hex
 * of a version/kind byte followed by big-endian fields; decoding rejects anything malformed,
 * of the wrong kind, or out of range. Nothing allocates. */
#ifndef MESSENGER_CORE_CURSOR_H
#define MESSENGER_CORE_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CURSOR_TEXT_SIZE 40

typedef enum cursor_kind {
  CURSOR_MESSAGES = 1,      /* messages of a conversation, newest first */
  CURSOR_CONVERSATIONS = 2, /* conversations of a user, most recent activity first */
} cursor_kind;

typedef struct cursor {
  cursor_kind kind;
  /* CURSOR_MESSAGES: the last message id returned; the next page has ids < message_id.
   * CURSOR_CONVERSATIONS: the last conversation returned, identified by its last message id
   * and its id; the next page continues strictly after that pair in the list's order. */
  int64_t message_id;
  int64_t conversation_id; /* CURSOR_CONVERSATIONS only, else 0 */
} cursor;

/* Writes the text form (NUL-terminated) into out and returns its length. */
size_t cursor_encode(const cursor *c, char out[CURSOR_TEXT_SIZE]);

/* Decodes text[0..len) expecting `kind`. Returns false when it is not a valid cursor of that kind. */
bool cursor_decode(const char *text, size_t len, cursor_kind kind, cursor *out);

#endif
