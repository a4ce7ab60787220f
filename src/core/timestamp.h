/* core/timestamp: parsing and formatting of API timestamps.
 *
 * Responses carry ISO 8601 UTC with microseconds and 'Z' ("2026-11-24T22:28:01.123456Z").
 * Requests (before_timestamp) accept any ISO 8601 date-time ('Z', +-HH:MM offset, or none =
 * UTC; fraction up to microseconds; 'T' or ' ' between date and time), or Unix seconds as an
 * integer or decimal. All values are microseconds since the Unix epoch. Nothing allocates. */
#ifndef MESSENGER_CORE_TIMESTAMP_H
#define MESSENGER_CORE_TIMESTAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMESTAMP_TEXT_SIZE 28 /* "YYYY-MM-DDTHH:MM:SS.ffffffZ" + NUL */

/* Parses text[0..len). Returns false on anything that is not one of the accepted forms or
 * is outside years 1970..9999. */
bool timestamp_parse(const char *text, size_t len, int64_t *unix_us);

/* Writes the canonical form into out (TIMESTAMP_TEXT_SIZE bytes) and returns out. */
char *timestamp_format(int64_t unix_us, char out[TIMESTAMP_TEXT_SIZE]);

/* Wall clock, microseconds since the Unix epoch. */
int64_t timestamp_now_us(void);

#endif
