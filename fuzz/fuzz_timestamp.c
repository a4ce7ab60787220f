/* libFuzzer target for request timestamps (before_timestamp): arbitrary bytes through
 * timestamp_parse. An accepted value must lie in 0001..9999 (TIMESTAMP_MIN_US..MAX_US), and its
 * canonical form (timestamp_format) must parse back to the same microsecond. */
#include <stdlib.h>
#include <string.h>

#include "core/timestamp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int64_t us;
  if (!timestamp_parse((const char *)data, size, &us)) return 0;
  if (us < TIMESTAMP_MIN_US || us > TIMESTAMP_MAX_US) abort();
  char text[TIMESTAMP_TEXT_SIZE];
  timestamp_format(us, text);
  int64_t again;
  if (strlen(text) != TIMESTAMP_TEXT_SIZE - 1 || !timestamp_parse(text, strlen(text), &again) || again != us)
    abort();
  return 0;
}
