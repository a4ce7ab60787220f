#include "core/timestamp.h"

#include <time.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int64_t y, int64_t m) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Reads exactly n digits at *p (bounded by end). */
static bool digits(const char **p, const char *end, int n, int64_t *out) {
  int64_t v = 0;
  for (int i = 0; i < n; i++) {
    if (*p >= end || **p < '0' || **p > '9') return false;
    v = v * 10 + (**p - '0');
    (*p)++;
  }
  *out = v;
  return true;
}

static bool expect(const char **p, const char *end, char c) {
  if (*p >= end || **p != c) return false;
  (*p)++;
  return true;
}

/* Fraction after '.': at least one digit, kept to microseconds (extra digits truncated). */
static bool fraction_us(const char **p, const char *end, int64_t *us) {
  int64_t v = 0;
  int n = 0;
  while (*p < end && **p >= '0' && **p <= '9') {
    if (n < 6) v = v * 10 + (**p - '0');
    n++;
    (*p)++;
  }
  if (n == 0) return false;
  for (int i = n; i < 6; i++) v *= 10;
  *us = v;
  return true;
}

#define US_PER_S       INT64_C(1000000)
#define MS_WATERSHED_S INT64_C(20000000000) /* pydantic: |Unix time| above 2e10 is milliseconds */

static bool in_range(int64_t us) { return us >= TIMESTAMP_MIN_US && us <= TIMESTAMP_MAX_US; }

/* YYYY-MM-DD, then nothing (midnight UTC) or [Tt ]HH:MM[:SS[.f]] and an optional zone. */
static bool parse_iso(const char *p, const char *end, int64_t *unix_us) {
  int64_t y, mo, d, h = 0, mi = 0, s = 0, frac = 0;
  if (!digits(&p, end, 4, &y) || !expect(&p, end, '-') || !digits(&p, end, 2, &mo) || !expect(&p, end, '-') ||
      !digits(&p, end, 2, &d))
    return false;
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return false;
  int64_t offset_s = 0;
  if (p < end) {
    if (*p != 'T' && *p != 't' && *p != ' ') return false;
    p++;
    if (!digits(&p, end, 2, &h) || !expect(&p, end, ':') || !digits(&p, end, 2, &mi)) return false;
    if (p < end && *p == ':') {
      p++;
      if (!digits(&p, end, 2, &s)) return false;
      if (p < end && (*p == '.' || *p == ',')) {
        p++;
        if (!fraction_us(&p, end, &frac)) return false;
      }
    }
    if (h > 23 || mi > 59 || s > 59) return false;
    if (p < end && (*p == 'Z' || *p == 'z')) {
      p++;
    } else if (p < end && (*p == '+' || *p == '-')) {
      int sign = *p == '-' ? -1 : 1;
      int64_t oh, om = 0;
      p++;
      if (!digits(&p, end, 2, &oh)) return false;
      if (p < end && *p == ':') p++;
      if (p < end && !digits(&p, end, 2, &om)) return false;
      if (oh > 23 || om > 59) return false;
      offset_s = sign * (oh * 3600 + om * 60);
    }
    if (p != end) return false;
  }
  int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset_s;
  int64_t us = secs * US_PER_S + frac;
  if (!in_range(us)) return false;
  *unix_us = us;
  return true;
}

/* Unix time: [-]digits[.digits], in seconds, or in milliseconds when its magnitude exceeds
 * 2e10 (pydantic's rule, which makes JavaScript's Date.now() work). Kept to microseconds. */
static bool parse_unix(const char *p, const char *end, int64_t *unix_us) {
  bool negative = p < end && *p == '-';
  if (negative) p++;
  int64_t whole = 0;
  int n = 0;
  while (p < end && *p >= '0' && *p <= '9') {
    if (++n > 15) return false; /* 15 digits of ms already pass 9999; keeps whole * 1000 in range */
    whole = whole * 10 + (*p - '0');
    p++;
  }
  if (n == 0) return false;
  const char *frac_start = NULL, *frac_end = NULL;
  if (p < end && *p == '.') {
    frac_start = ++p;
    while (p < end && *p >= '0' && *p <= '9') p++;
    frac_end = p;
    if (frac_end == frac_start) return false;
  }
  if (p != end) return false;
  bool frac_nonzero = false;
  for (const char *f = frac_start; f && f < frac_end; f++) frac_nonzero |= *f != '0';
  bool millis = whole > MS_WATERSHED_S || (whole == MS_WATERSHED_S && frac_nonzero);
  int frac_digits = millis ? 3 : 6; /* what is left to reach microseconds */
  int64_t frac = 0;
  const char *f = frac_start;
  for (int i = 0; i < frac_digits; i++) frac = frac * 10 + (f && f < frac_end ? *f++ - '0' : 0);
  int64_t us = whole * (millis ? 1000 : US_PER_S) + frac;
  if (negative) us = -us;
  if (!in_range(us)) return false;
  *unix_us = us;
  return true;
}

/* An ISO form starts with four digits and a '-' (a year); anything else must be a number. */
static bool looks_like_date(const char *text, size_t len) {
  if (len < 5 || text[4] != '-') return false;
  for (int i = 0; i < 4; i++)
    if (text[i] < '0' || text[i] > '9') return false;
  return true;
}

bool timestamp_parse(const char *text, size_t len, int64_t *unix_us) {
  if (len == 0 || len > 64) return false;
  const char *end = text + len;
  return looks_like_date(text, len) ? parse_iso(text, end, unix_us) : parse_unix(text, end, unix_us);
}

/* Writes v (>= 0) as exactly n decimal digits, zero-padded. */
static void put_digits(char *out, int64_t v, int n) {
  for (int i = n - 1; i >= 0; i--) {
    out[i] = (char)('0' + v % 10);
    v /= 10;
  }
}

char *timestamp_format(int64_t unix_us, char out[TIMESTAMP_TEXT_SIZE]) {
  int64_t secs = unix_us / US_PER_S;
  int64_t us = unix_us % US_PER_S;
  if (us < 0) {
    us += US_PER_S;
    secs--;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  int y, m, d;
  civil_from_days(days, &y, &m, &d);
  put_digits(out, y % 10000, 4);
  out[4] = '-';
  put_digits(out + 5, m, 2);
  out[7] = '-';
  put_digits(out + 8, d, 2);
  out[10] = 'T';
  put_digits(out + 11, rem / 3600, 2);
  out[13] = ':';
  put_digits(out + 14, rem / 60 % 60, 2);
  out[16] = ':';
  put_digits(out + 17, rem % 60, 2);
  out[19] = '.';
  put_digits(out + 20, us, 6);
  out[26] = 'Z';
  out[27] = '\0';
  return out;
}

int64_t timestamp_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * US_PER_S + ts.tv_nsec / 1000;
}
