/* libFuzzer target for pagination cursors (the `cursor` query parameter): arbitrary bytes
 * through cursor_decode for both kinds. An accepted cursor carries ids in range, and since
 * the text form is canonical, encoding it again must give back the very same bytes. */
#include <stdlib.h>
#include <string.h>

#include "core/cursor.h"
#include "core/ids.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, cursor_kind kind) {
  cursor c;
  if (!cursor_decode((const char *)data, size, kind, &c)) return;
  if (c.kind != kind || !id_is_valid(c.message_id)) abort();
  if (kind == CURSOR_CONVERSATIONS ? !id_is_valid(c.conversation_id) : c.conversation_id != 0) abort();
  char text[CURSOR_TEXT_SIZE];
  size_t n = cursor_encode(&c, text);
  if (n != size || memcmp(text, data, n) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check(data, size, CURSOR_MESSAGES);
  check(data, size, CURSOR_CONVERSATIONS);
  return 0;
}
