/* libFuzzer target for the body of POST /api/conversations/{id}/read: arbitrary bytes through
 * api_parse_read_body (JSON decoding, field types and ranges). Checks the invariants the store
 * relies on: an accepted body has a user id and a message id in range; a rejected one has
 * errors. */
#include <stdlib.h>

#include "api/params.h"
#include "core/ids.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  validation_errors v;
  validation_init(&v);
  read_mark_request req = {.conversation_id = 1};
  bool ok = api_parse_read_body((const char *)data, size, 0, &v, &req);
  if (ok != !validation_failed(&v)) abort();
  if (ok && (!id_is_valid(req.user_id) || !id_is_valid(req.message_id) || !read_mark_request_is_valid(&req)))
    abort();
  validation_free(&v);
  return 0;
}
