/* libFuzzer target for the body of POST /api/messages/: arbitrary bytes through
 * api_parse_send_body (JSON decoding, field types and ranges, UTF-8 and code-point limits).
 * The first input byte selects an Idempotency-Key header (none, valid, or taken from the
 * input). Checks the invariants the store relies on: an accepted body has two distinct ids
 * in range and valid UTF-8 content of 1..4096 code points; a rejected one has errors. */
#include <stdlib.h>
#include <string.h>

#include "api/send_request.h"
#include "core/ids.h"
#include "core/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  uint8_t mode = data[0] % 3;
  data++;
  size--;
  char key[IDEMPOTENCY_KEY_MAX + 2] = "retry-1";
  const char *header = NULL;
  if (mode == 1) {
    header = key;
  } else if (mode == 2 && size > 0) { /* the key is the input's first line, up to 129 bytes */
    size_t n = 0;
    while (n < size && n < sizeof key - 1 && data[n] != '\n') n++;
    memcpy(key, data, n);
    key[n] = '\0';
    header = key;
  }
  validation_errors v;
  validation_init(&v);
  send_request req = {0};
  json_t *body = api_parse_send_body((const char *)data, size, header, &v, &req);
  if (body) {
    if (validation_failed(&v) || !id_is_valid(req.sender_id) || !id_is_valid(req.receiver_id) ||
        req.sender_id == req.receiver_id || !req.content)
      abort();
    long points = utf8_code_points(req.content, req.content_len);
    if (points < 1 || points > CONTENT_MAX_CODE_POINTS) abort();
    if (req.idempotency_key && !idempotency_key_is_valid(req.idempotency_key, strlen(req.idempotency_key)))
      abort();
    json_decref(body);
  } else if (!validation_failed(&v)) {
    abort();
  }
  validation_free(&v);
  return 0;
}
