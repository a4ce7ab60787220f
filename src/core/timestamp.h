/* core/timestamp: parsing and formatting of API timestamps.
 *
 * Responses carry ISO 8601 UTC with microseconds and 'Z' ("2026-11-24T22:28:01.123456Z").
 * Requests (before_timestamp) accept what pydantic accepts for a datetime: an ISO 8601
 * date-time ('Z', +-HH:MM / +-HHMM / +-HH offset, or none = UTC; fraction up to microseconds,
 * longer ones truncated; 'T', 't' or ' ' between date and time), a bare date (midnight UTC),
 * or a Unix time, integer or decimal, possibly negative, in seconds, or in milliseconds when
 * its magnitude exceeds 2e10 (JavaScript's Date.now()). Years 0001..9999: times before 1970
 * are valid and negative. All values are microseconds since the Unix epoch. Nothing allocates. */
#ifndef MESSENGER_CORE_TIMESTAMP_H
#define MESSENGER_CORE_TIMESTAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMESTAMP_MIN_US    (INT64_C(-62135596800) * 1000000)          /* 0001-01-01T00:00:00Z */
#define TIMESTAMP_MAX_US    (INT64_C(253402300799) * 1000000 + 999999) /* 9999-12-31T23:59:59.999999Z */
#define TIMESTAMP_TEXT_SIZE 28 /* "YYYY-MM-DDTHH:MM:SS.ffffffZ" + NUL */

/* Parses text[0..len). Returns false on anything that is not one of the accepted forms or
 * is outside 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z. */
bool timestamp_parse(const char *text, size_t len, int64_t *unix_us);

/* Writes the canonical form into out (TIMESTAMP_TEXT_SIZE bytes) and returns out. */
char *timestamp_format(int64_t unix_us, char out[TIMESTAMP_TEXT_SIZE]);

/* Wall clock, microseconds since the Unix epoch. */
int64_t timestamp_now_us(void);

#endif
