/* ratelimit: the per-sender token bucket (GCRA form): bursts, refill, Retry-After, keys
 * independent of each other, fixed memory under many keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ratelimit/ratelimit.h"

#define S  INT64_C(1000000000)
#define T0 (1000 * S)

static void burst_then_refused_with_retry_after(void **state) {
  (void)state;
  ratelimit *r = ratelimit_new(2, 10); /* 2/s, bucket of 10 */
  int64_t wait = 0;
  for (int i = 0; i < 10; i++) assert_true(ratelimit_take(r, 7, T0, &wait));
  assert_false(ratelimit_take(r, 7, T0, &wait));
  assert_int_equal(wait, S / 2); /* one token back in 0.5 s */
  assert_int_equal(ratelimit_retry_after_s(wait), 1);
  assert_false(ratelimit_take(r, 7, T0 + S / 2 - 1, &wait));
  assert_true(ratelimit_take(r, 7, T0 + S / 2, &wait));
  assert_false(ratelimit_take(r, 7, T0 + S / 2, &wait));
  /* a refusal takes nothing: after 5 s the bucket is full again */
  assert_true(ratelimit_take(r, 7, T0 + S / 2 + 5 * S, &wait));
  for (int i = 0; i < 9; i++) assert_true(ratelimit_take(r, 7, T0 + S / 2 + 5 * S, &wait));
  assert_false(ratelimit_take(r, 7, T0 + S / 2 + 5 * S, &wait));
  ratelimit_free(r);
}

static void steady_rate_is_allowed(void **state) {
  (void)state;
  ratelimit *r = ratelimit_new(10, 1);
  int64_t wait;
  for (int i = 0; i < 1000; i++) assert_true(ratelimit_take(r, 1, T0 + i * (S / 10), &wait));
  assert_false(ratelimit_take(r, 1, T0 + 999 * (S / 10), &wait));
  ratelimit_free(r);
}

static void slow_rates_give_long_retry_after(void **state) {
  (void)state;
  ratelimit *r = ratelimit_new(0.1, 1); /* one message per 10 s */
  int64_t wait = 0;
  assert_true(ratelimit_take(r, 3, T0, &wait));
  assert_false(ratelimit_take(r, 3, T0 + S, &wait));
  assert_int_equal(wait, 9 * S);
  assert_int_equal(ratelimit_retry_after_s(wait), 9);
  assert_int_equal(ratelimit_retry_after_s(9 * S + 1), 10);
  assert_int_equal(ratelimit_retry_after_s(1), 1);
  ratelimit_free(r);
}

static void senders_are_independent(void **state) {
  (void)state;
  ratelimit *r = ratelimit_new(1, 2);
  int64_t wait;
  assert_true(ratelimit_take(r, 1, T0, &wait));
  assert_true(ratelimit_take(r, 1, T0, &wait));
  assert_false(ratelimit_take(r, 1, T0, &wait));
  assert_true(ratelimit_take(r, 2, T0, &wait));
  assert_true(ratelimit_take(r, 2, T0, &wait));
  assert_false(ratelimit_take(r, 2, T0, &wait));
  ratelimit_free(r);
}

static void many_senders_fixed_memory(void **state) {
  (void)state;
  ratelimit *r = ratelimit_new(1, 1);
  int64_t wait;
  enum { N = RATELIMIT_ENTRIES * 4 };
  /* every sender sends once: all allowed (a new sender has a full bucket) */
  for (int64_t k = 1; k <= N; k++) assert_true(ratelimit_take(r, k, T0, &wait));
  /* a second send at once: refused for those still remembered, which with far more drained
   * senders than slots is at least the table's worth */
  int refused = 0;
  for (int64_t k = 1; k <= N; k++) refused += !ratelimit_take(r, k, T0, &wait);
  assert_true(refused >= RATELIMIT_ENTRIES / 2);
  /* the last sender of a burst is always remembered while it is drained */
  assert_false(ratelimit_take(r, N, T0, &wait));
  /* a second later every bucket is full again, so nothing is lost by forgetting */
  for (int64_t k = 1; k <= 1000; k++) assert_true(ratelimit_take(r, k, T0 + 2 * S, &wait));
  ratelimit_free(r);
}

static void bounds(void **state) {
  (void)state;
  assert_null(ratelimit_new(0, 5));
  assert_null(ratelimit_new(-1, 5));
  assert_null(ratelimit_new(1, 0));
  assert_null(ratelimit_new(1e7, 5));
  ratelimit *r = ratelimit_new(1e6, 1000000);
  assert_non_null(r);
  ratelimit_free(r);
  assert_int_equal(ratelimit_interval_ns(4), S / 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(burst_then_refused_with_retry_after), cmocka_unit_test(steady_rate_is_allowed),
      cmocka_unit_test(slow_rates_give_long_retry_after),    cmocka_unit_test(senders_are_independent),
      cmocka_unit_test(many_senders_fixed_memory),           cmocka_unit_test(bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
