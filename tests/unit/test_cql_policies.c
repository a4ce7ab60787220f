/* Pure runtime policies: load-balancing query plans, the retry decision matrix, the stream-id
 * allocator with orphans, reconnection backoff, client timestamps, the prepared cache (and how
 * a PREPARE's raw outcome completes it), and result sets that announce rows without columns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cql/backoff.h"
#include "cql/client_internal.h"
#include "cql/lb.h"
#include "cql/prepared.h"
#include "cql/retry.h"
#include "cql/streams.h"
#include "cql/tsgen.h"

/* ---- lb ---- */

static void test_lb_local_replicas_first(void **state) {
  (void)state;
  cql_lb_host hosts[] = {{"dc1", true}, {"dc1", true}, {"dc2", true}, {"dc1", true}, {"dc2", true}};
  int replicas[] = {3, 2}; /* 2 is remote */
  cql_lb lb;
  cql_lb_init(&lb, "dc1", false);
  int plan[5];
  size_t n = cql_lb_plan(&lb, hosts, 5, replicas, 2, plan);
  assert_int_equal(n, 3); /* local only */
  assert_int_equal(plan[0], 3);
  assert_true((plan[1] == 0 && plan[2] == 1) || (plan[1] == 1 && plan[2] == 0));
  cql_lb_init(&lb, "dc1", true);
  n = cql_lb_plan(&lb, hosts, 5, replicas, 2, plan);
  assert_int_equal(n, 5);
  assert_int_equal(plan[0], 3);
  assert_int_equal(plan[3], 2); /* remote replica before other remote hosts */
  assert_int_equal(plan[4], 4);
}

static void test_lb_skips_down_and_rotates(void **state) {
  (void)state;
  cql_lb_host hosts[] = {{"dc1", true}, {"dc1", false}, {"dc1", true}};
  cql_lb lb;
  cql_lb_init(&lb, NULL, false); /* no local dc: all local */
  int plan[3];
  int firsts[3] = {0};
  for (int i = 0; i < 6; i++) {
    size_t n = cql_lb_plan(&lb, hosts, 3, NULL, 0, plan);
    assert_int_equal(n, 2);
    for (size_t k = 0; k < n; k++) assert_int_not_equal(plan[k], 1);
    firsts[plan[0]]++;
  }
  assert_true(firsts[0] > 0 && firsts[2] > 0); /* round robin spreads the first choice */
  int replicas[] = {1};                        /* the replica is down: not in the plan */
  size_t n = cql_lb_plan(&lb, hosts, 3, replicas, 1, plan);
  assert_int_equal(n, 2);
}

/* ---- retry ---- */

static cql_failure server(int32_t code) {
  return (cql_failure){CQL_FAIL_SERVER_ERROR_RESPONSE, code, 0, 0, false, NULL};
}

static void test_retry_matrix(void **state) {
  (void)state;
  cql_failure rt = server(0x1200);
  rt.received = 2;
  rt.blockfor = 2;
  rt.data_present = false;
  assert_int_equal(cql_retry_decide(&rt, false, 0), CQL_RETRY_SAME_HOST);
  assert_int_equal(cql_retry_decide(&rt, false, 1), CQL_RETRY_RETHROW); /* once */
  rt.data_present = true;
  assert_int_equal(cql_retry_decide(&rt, true, 0), CQL_RETRY_RETHROW);
  rt.data_present = false;
  rt.received = 1; /* not enough replicas answered: another coordinator, idempotent only, once */
  assert_int_equal(cql_retry_decide(&rt, true, 0), CQL_RETRY_NEXT_HOST);
  assert_int_equal(cql_retry_decide(&rt, false, 0), CQL_RETRY_RETHROW);
  assert_int_equal(cql_retry_decide(&rt, true, 1), CQL_RETRY_RETHROW);

  cql_failure rf = server(0x1300);
  assert_int_equal(cql_retry_decide(&rf, true, 0), CQL_RETRY_NEXT_HOST);
  assert_int_equal(cql_retry_decide(&rf, true, 1), CQL_RETRY_RETHROW);
  assert_int_equal(cql_retry_decide(&rf, false, 0), CQL_RETRY_RETHROW);
  cql_failure wf = server(0x1500);
  assert_int_equal(cql_retry_decide(&wf, true, CQL_RETRY_BATCHLOG_MAX - 1), CQL_RETRY_NEXT_HOST);
  assert_int_equal(cql_retry_decide(&wf, true, CQL_RETRY_BATCHLOG_MAX), CQL_RETRY_RETHROW);
  assert_int_equal(cql_retry_decide(&wf, false, 0), CQL_RETRY_RETHROW);

  cql_failure wt = server(0x1100);
  wt.write_type = "BATCH_LOG";
  assert_int_equal(cql_retry_decide(&wt, true, 0), CQL_RETRY_SAME_HOST);
  assert_int_equal(cql_retry_decide(&wt, false, 0), CQL_RETRY_RETHROW);
  assert_int_equal(cql_retry_decide(&wt, true, CQL_RETRY_BATCHLOG_MAX - 1), CQL_RETRY_SAME_HOST);
  assert_int_equal(cql_retry_decide(&wt, true, CQL_RETRY_BATCHLOG_MAX), CQL_RETRY_RETHROW);
  const char *rewritable[] = {"SIMPLE", "BATCH", "UNLOGGED_BATCH"};
  for (size_t i = 0; i < 3; i++) { /* idempotent: another coordinator, once */
    wt.write_type = rewritable[i];
    assert_int_equal(cql_retry_decide(&wt, true, 0), CQL_RETRY_NEXT_HOST);
    assert_int_equal(cql_retry_decide(&wt, true, 1), CQL_RETRY_RETHROW);
    assert_int_equal(cql_retry_decide(&wt, false, 0), CQL_RETRY_RETHROW);
  }
  const char *never_again[] = {"CAS", "COUNTER", "VIEW", "CDC"};
  for (size_t i = 0; i < 4; i++) {
    wt.write_type = never_again[i];
    assert_int_equal(cql_retry_decide(&wt, true, 0), CQL_RETRY_RETHROW);
  }

  cql_failure un = server(0x1000);
  assert_int_equal(cql_retry_decide(&un, false, 0), CQL_RETRY_NEXT_HOST);
  assert_int_equal(cql_retry_decide(&un, false, 1), CQL_RETRY_RETHROW);

  int32_t next_if_idem[] = {0x1001, 0x0000, 0x1003};
  for (size_t i = 0; i < 3; i++) {
    cql_failure f = server(next_if_idem[i]);
    assert_int_equal(cql_retry_decide(&f, true, 3), CQL_RETRY_NEXT_HOST);
    assert_int_equal(cql_retry_decide(&f, false, 0), CQL_RETRY_RETHROW);
  }
  int32_t never[] = {0x2000, 0x2200, 0x2100, 0x1700, 0x2400, 0x000A};
  for (size_t i = 0; i < 6; i++) {
    cql_failure f = server(never[i]);
    assert_int_equal(cql_retry_decide(&f, true, 0), CQL_RETRY_RETHROW);
  }
  cql_failure closed = {CQL_FAIL_CONNECTION_CLOSED, 0, 0, 0, false, NULL};
  cql_failure timeout = {CQL_FAIL_CLIENT_TIMEOUT, 0, 0, 0, false, NULL};
  assert_int_equal(cql_retry_decide(&closed, true, 0), CQL_RETRY_NEXT_HOST);
  assert_int_equal(cql_retry_decide(&closed, false, 0), CQL_RETRY_RETHROW);
  assert_int_equal(cql_retry_decide(&timeout, true, 2), CQL_RETRY_NEXT_HOST);
  assert_int_equal(cql_retry_decide(&timeout, false, 0), CQL_RETRY_RETHROW);
}

/* ---- streams ---- */

static void test_streams_cap_and_orphans(void **state) {
  (void)state;
  static cql_streams s;
  cql_streams_init(&s, 8, 4);
  int ids[4];
  for (int i = 0; i < 4; i++) {
    ids[i] = cql_streams_acquire(&s);
    assert_true(ids[i] >= 0 && ids[i] < 8);
    for (int k = 0; k < i; k++) assert_int_not_equal(ids[i], ids[k]);
  }
  assert_int_equal(cql_streams_acquire(&s), -1); /* in-flight cap */
  cql_streams_orphan(&s, ids[0]);
  assert_int_equal(s.in_flight, 3);
  assert_int_equal(s.orphans, 1);
  assert_int_equal(cql_streams_state(&s, ids[0]), CQL_STREAM_ORPHANED);
  /* the orphaned id is never handed out again while orphaned */
  int a = cql_streams_acquire(&s);
  assert_true(a >= 0 && a != ids[0]);
  cql_streams_release(&s, a);
  for (int round = 0; round < 20; round++) {
    int x = cql_streams_acquire(&s);
    assert_true(x >= 0);
    assert_int_not_equal(x, ids[0]);
    assert_int_equal(cql_streams_release(&s, x), CQL_STREAM_IN_USE);
  }
  /* its late response frees it */
  assert_int_equal(cql_streams_release(&s, ids[0]), CQL_STREAM_ORPHANED);
  assert_int_equal(s.orphans, 0);
  assert_int_equal(cql_streams_release(&s, ids[0]), CQL_STREAM_FREE); /* unexpected now */
  assert_int_equal(cql_streams_release(&s, 99), CQL_STREAM_FREE);     /* out of range */
}

static void test_streams_exhaustion_by_orphans(void **state) {
  (void)state;
  static cql_streams s;
  cql_streams_init(&s, 4, 4);
  for (int i = 0; i < 4; i++) cql_streams_orphan(&s, cql_streams_acquire(&s));
  assert_int_equal(s.in_flight, 0);
  assert_int_equal(s.orphans, 4);
  assert_int_equal(cql_streams_acquire(&s), -1); /* every id orphaned */
  static cql_streams big;
  cql_streams_init(&big, 40000, 40000);
  assert_int_equal(big.range, CQL_STREAMS_MAX);
  int last = -1;
  for (int i = 0; i < CQL_STREAMS_MAX; i++) last = cql_streams_acquire(&big);
  assert_true(last >= 0);
  assert_int_equal(cql_streams_acquire(&big), -1);
}

/* ---- backoff ---- */

static void test_backoff(void **state) {
  (void)state;
  cql_backoff b;
  cql_backoff_init(&b, 100, 1000, 42);
  uint64_t expect[] = {100, 200, 400, 800, 1000, 1000};
  for (int i = 0; i < 6; i++) {
    uint64_t d = cql_backoff_next(&b);
    assert_true(d >= expect[i] * 85 / 100);
    assert_true(d <= expect[i] * 115 / 100 && d <= 1000);
  }
  cql_backoff_reset(&b);
  uint64_t d = cql_backoff_next(&b);
  assert_true(d >= 85 && d <= 115);
  /* jitter actually varies */
  uint64_t first = 0;
  bool varied = false;
  for (int i = 0; i < 20; i++) {
    cql_backoff_reset(&b);
    d = cql_backoff_next(&b);
    if (i == 0)
      first = d;
    else
      varied = varied || d != first;
  }
  assert_true(varied);
}

/* ---- tsgen ---- */

static void test_tsgen_monotonic(void **state) {
  (void)state;
  cql_tsgen g;
  cql_tsgen_init(&g);
  assert_int_equal(cql_tsgen_next_at(&g, 1000), 1000);
  assert_int_equal(cql_tsgen_next_at(&g, 1000), 1001); /* same clock */
  assert_int_equal(cql_tsgen_next_at(&g, 500), 1002);  /* clock went back */
  assert_int_equal(cql_tsgen_next_at(&g, 5000), 5000);
  int64_t a = cql_tsgen_next(&g), b2 = cql_tsgen_next(&g);
  assert_true(b2 > a && a > 1600000000000000LL);
}

/* ---- prepared cache ---- */

typedef struct woke {
  cql_prep_waiter w;
  int calls;
  int32_t code;
} woke;

static void on_wake(cql_prep_waiter *w, const cql_error *err) {
  woke *k = (woke *)w;
  k->calls++;
  k->code = err ? err->code : -1;
}

static void test_prepared_dedup(void **state) {
  (void)state;
  cql_prepared_cache c;
  assert_true(cql_prepared_cache_init(&c));
  const char *q = "SELECT a FROM ks.t WHERE k = ?";
  assert_null(cql_prepared_find(&c, q, strlen(q)));
  cql_prepared_entry *e = cql_prepared_insert(&c, q, strlen(q));
  assert_non_null(e);
  assert_ptr_equal(cql_prepared_find(&c, q, strlen(q)), e);
  woke a = {{NULL, on_wake}, 0, 0}, b = {{NULL, on_wake}, 0, 0}, h = {{NULL, on_wake}, 0, 0};
  bool oom;
  assert_true(cql_prepared_wait(e, NULL, &a.w, &oom));  /* first: send PREPARE */
  assert_false(cql_prepared_wait(e, NULL, &b.w, &oom)); /* joins */
  assert_false(oom);
  int host1;
  assert_true(cql_prepared_wait(e, &host1, &h.w, &oom)); /* other host: separate PREPARE */
  /* success on the first prepare */
  static const uint8_t id[] = {1, 2, 3, 4};
  cql_message m;
  cql_message_init(&m, 0x08);
  m.u.result.kind = 4;
  m.u.result.prepared.id = cql_value_of(id, 4);
  cql_prepared_complete(&c, e, NULL, &m, NULL);
  assert_int_equal(a.calls, 1);
  assert_int_equal(b.calls, 1);
  assert_int_equal(a.code, -1);
  assert_int_equal(h.calls, 0); /* the host's re-prepare is still pending */
  assert_int_equal(e->state, CQL_PREP_READY);
  assert_ptr_equal(cql_prepared_find_by_id(&c, cql_value_of(id, 4)), e);
  cql_error err;
  memset(&err, 0, sizeof(err));
  err.code = 0x2200;
  cql_prepared_complete(&c, e, &host1, NULL, &err); /* failed re-prepare keeps the entry */
  assert_int_equal(h.code, 0x2200);
  assert_ptr_equal(cql_prepared_find(&c, q, strlen(q)), e);

  /* a failed first PREPARE removes the entry */
  const char *q2 = "SELEC broken";
  cql_prepared_entry *e2 = cql_prepared_insert(&c, q2, strlen(q2));
  woke x = {{NULL, on_wake}, 0, 0};
  assert_true(cql_prepared_wait(e2, NULL, &x.w, &oom));
  err.code = 0x2000;
  cql_prepared_complete(&c, e2, NULL, NULL, &err);
  assert_int_equal(x.code, 0x2000);
  assert_null(cql_prepared_find(&c, q2, strlen(q2)));
  cql_prepared_cache_free(&c);
}

/* What the connection delivers for a PREPARE (an ERROR, an unexpected response, a client-side
 * error) completes the cache like an error; in-flight tracking and the READY walk. */
static void count_ready(cql_prepared_entry *e, void *ud) {
  (void)e;
  (*(int *)ud)++;
}

static void test_prepared_complete_response(void **state) {
  (void)state;
  cql_prepared_cache c;
  assert_true(cql_prepared_cache_init(&c));
  bool oom;
  /* a server ERROR fails the first PREPARE: waiters get its code, the entry goes */
  cql_prepared_entry *e = cql_prepared_insert(&c, "Q1", 2);
  woke a = {{NULL, on_wake}, 0, 0};
  assert_true(cql_prepared_wait(e, NULL, &a.w, &oom));
  assert_true(cql_prepared_in_flight(e, NULL));
  cql_message resp;
  cql_message_init(&resp, CQL_OP_ERROR);
  resp.u.error.code = 0x2200;
  cql_prepared_complete_response(&c, e, NULL, &resp, NULL);
  assert_int_equal(a.code, 0x2200);
  assert_null(cql_prepared_find(&c, "Q1", 2));
  /* a RESULT that is not Prepared is a protocol violation */
  e = cql_prepared_insert(&c, "Q2", 2);
  woke b = {{NULL, on_wake}, 0, 0};
  assert_true(cql_prepared_wait(e, NULL, &b.w, &oom));
  cql_message other;
  cql_message_init(&other, CQL_OP_RESULT);
  other.u.result.kind = CQL_RESULT_VOID;
  cql_prepared_complete_response(&c, e, NULL, &other, NULL);
  assert_int_equal(b.code, CQL_ERR_PROTOCOL_VIOLATION);
  /* success, then a client-side error on another host leaves it READY */
  e = cql_prepared_insert(&c, "Q3", 2);
  woke d = {{NULL, on_wake}, 0, 0}, h = {{NULL, on_wake}, 0, 0};
  assert_true(cql_prepared_wait(e, NULL, &d.w, &oom));
  static const uint8_t id[] = {9, 9};
  cql_message ok;
  cql_message_init(&ok, CQL_OP_RESULT);
  ok.u.result.kind = CQL_RESULT_PREPARED;
  ok.u.result.prepared.id = cql_value_of(id, 2);
  cql_prepared_complete_response(&c, e, NULL, &ok, NULL);
  assert_int_equal(d.code, -1);
  assert_false(cql_prepared_in_flight(e, NULL));
  int host;
  assert_true(cql_prepared_wait(e, &host, &h.w, &oom));
  assert_true(cql_prepared_in_flight(e, &host));
  assert_false(cql_prepared_in_flight(e, NULL));
  cql_error timeout;
  memset(&timeout, 0, sizeof(timeout));
  timeout.code = CQL_ERR_CLIENT_TIMEOUT;
  cql_prepared_complete_response(&c, e, &host, NULL, &timeout);
  assert_int_equal(h.code, CQL_ERR_CLIENT_TIMEOUT);
  assert_int_equal(e->state, CQL_PREP_READY);
  int ready = 0;
  cql_prepared_each_ready(&c, count_ready, &ready);
  assert_int_equal(ready, 1);
  cql_prepared_cache_free(&c);
}

/* ---- result sets ---- */

/* Rows without columns cost no bytes: 2^31-1 of them in 16 bytes must not allocate 32 GB. */
static void test_resultset_rows_without_columns(void **state) {
  (void)state;
  static const uint8_t body[] = {0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff};
  cql_frame_header h = {4 | CQL_VERSION_RESPONSE_BIT, 0, 1, CQL_OP_RESULT, sizeof(body)};
  cql_message m;
  assert_int_equal(cql_message_decode(&m, &h, body, sizeof(body)), CQL_OK);
  assert_int_equal(m.u.result.rows.row_count, INT32_MAX);
  cql_resultset *rs = cql_resultset_new(&m, NULL, "h:1");
  assert_non_null(rs);
  assert_int_equal(cql_resultset_row_count(rs), 0);
  assert_null(cql_resultset_row(rs, 0));
  cql_resultset_free(rs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lb_local_replicas_first),
      cmocka_unit_test(test_lb_skips_down_and_rotates),
      cmocka_unit_test(test_retry_matrix),
      cmocka_unit_test(test_streams_cap_and_orphans),
      cmocka_unit_test(test_streams_exhaustion_by_orphans),
      cmocka_unit_test(test_backoff),
      cmocka_unit_test(test_tsgen_monotonic),
      cmocka_unit_test(test_prepared_dedup),
      cmocka_unit_test(test_prepared_complete_response),
      cmocka_unit_test(test_resultset_rows_without_columns),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
