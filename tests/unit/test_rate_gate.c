/* Unit tests for events/rate_gate: one pass per key per interval, keys independent, a clock
 * going back never blocks, a tiny table only ever lets extra events through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "events/rate_gate.h"

static void one_pass_per_interval(void **state) {
  (void)state;
  rate_gate *g = rate_gate_new(2000, 1024);
  assert_non_null(g);
  assert_true(rate_gate_pass(g, 1, 10, 100000));
  assert_false(rate_gate_pass(g, 1, 10, 100001));
  assert_false(rate_gate_pass(g, 1, 10, 101999));
  assert_true(rate_gate_pass(g, 1, 10, 102000));
  assert_false(rate_gate_pass(g, 1, 10, 103000));
  assert_true(rate_gate_pass(g, 2, 10, 103000)); /* another user */
  assert_true(rate_gate_pass(g, 1, 11, 103000)); /* another conversation */
  assert_true(rate_gate_pass(g, 1, 10, 50000));  /* the clock went back: pass, never stuck */
  rate_gate_free(g);
}

static void collisions_only_let_more_through(void **state) {
  (void)state;
  rate_gate *g = rate_gate_new(2000, 1); /* rounded up to the stripe count: 64 slots */
  int passed = 0;
  for (int64_t user = 1; user <= 1000; user++) passed += rate_gate_pass(g, user, 1, 5000);
  assert_int_equal(passed, 1000); /* every first event of a key passes */
  rate_gate_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(one_pass_per_interval),
      cmocka_unit_test(collisions_only_let_more_through),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
