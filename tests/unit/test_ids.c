/* Unit tests for core/ids: id layout, monotonicity, created_at and time floors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/ids.h"

#define T_2026 INT64_C(1795000000000) /* ms, late 2026 */

static void ids_grow_and_stay_in_range(void **state) {
  (void)state;
  id_generator gen;
  id_generator_init(&gen, 3);
  int64_t prev = 0;
  for (int i = 0; i < 1000; i++) { /* more than 128 per millisecond: spills into the next ms */
    int64_t id = id_generator_next(&gen, T_2026);
    assert_true(id > prev);
    assert_true(id_is_valid(id));
    assert_int_equal((id >> 7) & 31, 3);
    prev = id;
  }
}

static void clock_going_back_keeps_ids_growing(void **state) {
  (void)state;
  id_generator gen;
  id_generator_init(&gen, 0);
  int64_t a = id_generator_next(&gen, T_2026);
  int64_t b = id_generator_next(&gen, T_2026 - 5000);
  assert_true(b > a);
}

static void next_after_respects_other_nodes_floor(void **state) {
  (void)state;
  id_generator gen;
  id_generator_init(&gen, 1);
  /* an id of node 5 in a later millisecond than our clock */
  int64_t foreign = ((T_2026 - ID_EPOCH_MS + 10) << 12) | (5 << 7) | 9;
  int64_t id = id_generator_next_after(&gen, T_2026, foreign);
  assert_true(id > foreign);
  assert_int_equal((id >> 7) & 31, 1);
  assert_true(id_created_at_us(id) >= id_created_at_us(foreign));
}

static void created_at_is_monotone_and_matches_clock(void **state) {
  (void)state;
  id_generator gen;
  id_generator_init(&gen, 0);
  int64_t id = id_generator_next(&gen, T_2026);
  assert_int_equal(id_created_at_us(id) / 1000, T_2026);
  int64_t prev = 0;
  for (int64_t x = id; x < id + 5000; x++) {
    assert_true(id_created_at_us(x) >= prev);
    prev = id_created_at_us(x);
  }
}

static void floor_splits_exactly_at_time(void **state) {
  (void)state;
  int64_t base = ((T_2026 - ID_EPOCH_MS) << 12);
  for (int64_t x = base; x < base + 4096 * 3; x += 7) {
    int64_t t = id_created_at_us(x);
    int64_t floor = id_floor_for_time_us(t);
    assert_true(floor <= x);                      /* x is not strictly before its own time */
    assert_true(id_created_at_us(floor - 1) < t); /* everything below the floor is before */
    assert_true(id_created_at_us(floor) >= t);
  }
  assert_int_equal(id_floor_for_time_us(0), 1);
  assert_int_equal(id_floor_for_time_us(INT64_C(253402300799000000)), ID_MAX + 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ids_grow_and_stay_in_range),
      cmocka_unit_test(clock_going_back_keeps_ids_growing),
      cmocka_unit_test(next_after_respects_other_nodes_floor),
      cmocka_unit_test(created_at_is_monotone_and_matches_clock),
      cmocka_unit_test(floor_splits_exactly_at_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
