/* Unit tests for core/cursor and core/validate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/cursor.h"
#include "core/ids.h"
#include "core/validate.h"

static void cursors_round_trip(void **state) {
  (void)state;
  char text[CURSOR_TEXT_SIZE];
  cursor in = {.kind = CURSOR_CONVERSATIONS, .message_id = ID_MAX, .conversation_id = 42}, out;
  size_t n = cursor_encode(&in, text);
  assert_int_equal(n, strlen(text));
  assert_true(cursor_decode(text, n, CURSOR_CONVERSATIONS, &out));
  assert_int_equal(out.message_id, ID_MAX);
  assert_int_equal(out.conversation_id, 42);

  cursor m = {.kind = CURSOR_MESSAGES, .message_id = 123456789}, mo;
  n = cursor_encode(&m, text);
  assert_true(cursor_decode(text, n, CURSOR_MESSAGES, &mo));
  assert_int_equal(mo.message_id, 123456789);
  assert_false(cursor_decode(text, n, CURSOR_CONVERSATIONS, &mo)); /* wrong kind */
}

static void cursors_reject_garbage(void **state) {
  (void)state;
  cursor out;
  const char *bad[] = {"",
                       "zz",
                       "01",
                       "0100000000000000000",
                       "010000000000000000", /* id 0 */
                       "01FFFFFFFFFFFFFFFF",
                       "0120000000000000000"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (cursor_decode(bad[i], strlen(bad[i]), CURSOR_MESSAGES, &out)) fail_msg("accepted '%s'", bad[i]);
  assert_false(cursor_decode("01ffffffffffffffff", 18, CURSOR_MESSAGES, &out)); /* negative id */
}

static void counts_code_points_not_bytes(void **state) {
  (void)state;
  assert_int_equal(utf8_code_points("hello", 5), 5);
  assert_int_equal(utf8_code_points("h\xc3\xa9llo", 6), 5);
  assert_int_equal(utf8_code_points("\xf0\x9f\x98\x80", 4), 1); /* emoji */
  assert_int_equal(utf8_code_points("\xe4\xbd\xa0\xe5\xa5\xbd", 6), 2);
  assert_int_equal(utf8_code_points("\xc0\xaf", 2), -1);         /* overlong */
  assert_int_equal(utf8_code_points("\xed\xa0\x80", 3), -1);     /* surrogate */
  assert_int_equal(utf8_code_points("\xf4\x90\x80\x80", 4), -1); /* > U+10FFFF */
  assert_int_equal(utf8_code_points("\xe4\xbd", 2), -1);         /* truncated */
  assert_int_equal(utf8_code_points("\x80", 1), -1);
}

static void idempotency_keys(void **state) {
  (void)state;
  char key[IDEMPOTENCY_KEY_MAX + 2];
  memset(key, 'k', sizeof key);
  assert_true(idempotency_key_is_valid("abc-123", 7));
  assert_true(idempotency_key_is_valid(key, IDEMPOTENCY_KEY_MAX));
  assert_false(idempotency_key_is_valid(key, IDEMPOTENCY_KEY_MAX + 1));
  assert_false(idempotency_key_is_valid("", 0));
  assert_false(idempotency_key_is_valid("a b", 3));
  assert_false(idempotency_key_is_valid("a\x7f", 2));
}

static void pairs_are_canonical(void **state) {
  (void)state;
  int64_t lo, hi;
  assert_true(conversation_pair(9, 3, &lo, &hi));
  assert_int_equal(lo, 3);
  assert_int_equal(hi, 9);
  assert_true(conversation_pair(3, 9, &lo, &hi));
  assert_int_equal(lo, 3);
  assert_false(conversation_pair(4, 4, &lo, &hi));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(cursors_round_trip),           cmocka_unit_test(cursors_reject_garbage),
      cmocka_unit_test(counts_code_points_not_bytes), cmocka_unit_test(idempotency_keys),
      cmocka_unit_test(pairs_are_canonical),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
