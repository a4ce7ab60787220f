/* libFuzzer target for request timestamps (before_timestamp): arbitrary bytes through
 * timestamp_parse. An accepted value must lie in 1970..9999, and its canonical form
 * (timestamp_format) must parse back to the same microsecond. */
#include <stdlib.h>
#include <string.h>

#include "core/timestamp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_UNIX_US INT64_C(253402300799999999) /* 9999-12-31T23:59:59.999999Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int64_t us;
  if (!timestamp_parse((const char *)data, size, &us)) return 0;
  if (us < 0 || us > MAX_UNIX_US) abort();
  char text[TIMESTAMP_TEXT_SIZE];
  timestamp_format(us, text);
  int64_t again;
  if (strlen(text) != TIMESTAMP_TEXT_SIZE - 1 || !timestamp_parse(text, strlen(text), &again) || again != us)
    abort();
  return 0;
}
