/* Token ring and replica placement: SimpleStrategy, NetworkTopologyStrategy (per-DC counts and
 * rack diversity), wrap-around, replication-map parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "cql/token_map.h"

static void replication(const char *const *kv, size_t n, cql_replication *out) {
  const char *keys[8], *vals[8];
  for (size_t i = 0; i < n; i++) {
    keys[i] = kv[2 * i];
    vals[i] = kv[2 * i + 1];
  }
  assert_true(cql_replication_parse(keys, vals, n, out));
}

static void test_parse_replication(void **state) {
  (void)state;
  cql_replication r;
  const char *simple[] = {"class", "org.apache.cassandra.locator.SimpleStrategy", "replication_factor", "3"};
  replication(simple, 2, &r);
  assert_int_equal(r.cls, CQL_REPL_SIMPLE);
  assert_int_equal(r.rf, 3);
  cql_replication_clear(&r);
  const char *nts[] = {"class", "NetworkTopologyStrategy", "dc1", "3", "dc2", "2/1"};
  replication(nts, 3, &r);
  assert_int_equal(r.cls, CQL_REPL_NTS);
  assert_int_equal(r.n_dcs, 2);
  assert_string_equal(r.dcs[0].dc, "dc1");
  assert_int_equal(r.dcs[0].rf, 3);
  assert_int_equal(r.dcs[1].rf, 2); /* transient notation "2/1" */
  cql_replication_clear(&r);
  const char *local[] = {"class", "org.apache.cassandra.locator.LocalStrategy"};
  replication(local, 1, &r);
  assert_int_equal(r.cls, CQL_REPL_OTHER);
  cql_replication_clear(&r);
}

/* 4 nodes, one token each: 0 -> -100, 1 -> 0, 2 -> 100, 3 -> 200. */
static void test_simple_strategy(void **state) {
  (void)state;
  int64_t t[4][1] = {{-100}, {0}, {100}, {200}};
  cql_tm_node nodes[4];
  for (int i = 0; i < 4; i++) nodes[i] = (cql_tm_node){"dc1", "r1", t[i], 1};
  cql_token_map *tm = cql_token_map_new(nodes, 4);
  assert_non_null(tm);
  const char *kv[] = {"class", "SimpleStrategy", "replication_factor", "2"};
  cql_replication r;
  replication(kv, 2, &r);
  assert_true(cql_token_map_add_keyspace(tm, "ks", &r));
  cql_replication_clear(&r);
  size_t n;
  const int *rep = cql_token_map_replicas(tm, "ks", 50, &n); /* owner: first token >= 50 -> node 2 */
  assert_int_equal(n, 2);
  assert_int_equal(rep[0], 2);
  assert_int_equal(rep[1], 3);
  rep = cql_token_map_replicas(tm, "ks", 100, &n); /* exact token belongs to that node */
  assert_int_equal(rep[0], 2);
  rep = cql_token_map_replicas(tm, "ks", 201, &n); /* past the last token: wraps to node 0 */
  assert_int_equal(rep[0], 0);
  assert_int_equal(rep[1], 1);
  rep = cql_token_map_replicas(tm, "ks", INT64_MIN, &n);
  assert_int_equal(rep[0], 0);
  assert_null(cql_token_map_replicas(tm, "unknown", 0, &n));
  assert_int_equal(n, 0);
  cql_token_map_free(tm);
}

/* RF above the node count is capped; vnodes of one node count once. */
static void test_simple_vnodes_and_cap(void **state) {
  (void)state;
  int64_t a[] = {0, 20}, b[] = {10, 30};
  cql_tm_node nodes[] = {{"dc1", NULL, a, 2}, {"dc1", NULL, b, 2}};
  cql_token_map *tm = cql_token_map_new(nodes, 2);
  const char *kv[] = {"class", "SimpleStrategy", "replication_factor", "3"};
  cql_replication r;
  replication(kv, 2, &r);
  assert_true(cql_token_map_add_keyspace(tm, "ks", &r));
  cql_replication_clear(&r);
  assert_int_equal(cql_token_map_ring_size(tm), 4);
  size_t n;
  const int *rep = cql_token_map_replicas(tm, "ks", 15, &n);
  assert_int_equal(n, 2);
  assert_int_equal(rep[0], 0); /* token 20 */
  assert_int_equal(rep[1], 1);
  cql_token_map_free(tm);
}

/* Two DCs interleaved on the ring; NTS takes RF per DC walking clockwise. */
static void test_nts_per_dc(void **state) {
  (void)state;
  /* ring: 0:dc1(n0) 10:dc2(n1) 20:dc1(n2) 30:dc2(n3) 40:dc1(n4) 50:dc2(n5) */
  int64_t t[6][1] = {{0}, {10}, {20}, {30}, {40}, {50}};
  cql_tm_node nodes[6];
  for (int i = 0; i < 6; i++) nodes[i] = (cql_tm_node){i % 2 ? "dc2" : "dc1", NULL, t[i], 1};
  cql_token_map *tm = cql_token_map_new(nodes, 6);
  const char *kv[] = {"class", "NetworkTopologyStrategy", "dc1", "2", "dc2", "1"};
  cql_replication r;
  replication(kv, 3, &r);
  assert_true(cql_token_map_add_keyspace(tm, "ks", &r));
  cql_replication_clear(&r);
  size_t n;
  const int *rep = cql_token_map_replicas(tm, "ks", 15, &n); /* starts at 20 (n2) */
  assert_int_equal(n, 3);
  assert_int_equal(rep[0], 2);                    /* dc1 */
  assert_int_equal(rep[1], 3);                    /* dc2, full after one */
  assert_int_equal(rep[2], 4);                    /* dc1 second */
  rep = cql_token_map_replicas(tm, "ks", 45, &n); /* 50 (n5) then wrap */
  assert_int_equal(rep[0], 5);
  assert_int_equal(rep[1], 0);
  assert_int_equal(rep[2], 2);
  cql_token_map_free(tm);
}

/* NTS prefers distinct racks: a node on an already-used rack is skipped until every rack of
 * the DC has a replica. */
static void test_nts_racks(void **state) {
  (void)state;
  /* ring: 0:n0 r1, 10:n1 r1, 20:n2 r2, 30:n3 r2 */
  int64_t t[4][1] = {{0}, {10}, {20}, {30}};
  const char *racks[] = {"r1", "r1", "r2", "r2"};
  cql_tm_node nodes[4];
  for (int i = 0; i < 4; i++) nodes[i] = (cql_tm_node){"dc1", racks[i], t[i], 1};
  cql_token_map *tm = cql_token_map_new(nodes, 4);
  const char *kv2[] = {"class", "NetworkTopologyStrategy", "dc1", "2"};
  cql_replication r;
  replication(kv2, 2, &r);
  assert_true(cql_token_map_add_keyspace(tm, "ks", &r));
  cql_replication_clear(&r);
  size_t n;
  const int *rep = cql_token_map_replicas(tm, "ks", -5, &n); /* from n0 (r1): n1 is r1 -> skip, n2 r2 */
  assert_int_equal(n, 2);
  assert_int_equal(rep[0], 0);
  assert_int_equal(rep[1], 2);
  const char *kv3[] = {"class", "NetworkTopologyStrategy", "dc1", "3"};
  replication(kv3, 2, &r);
  assert_true(cql_token_map_add_keyspace(tm, "ks", &r)); /* replaces */
  cql_replication_clear(&r);
  rep = cql_token_map_replicas(tm, "ks", -5, &n); /* racks all used after n2: skipped n1 comes next */
  assert_int_equal(n, 3);
  assert_int_equal(rep[0], 0);
  assert_int_equal(rep[1], 2);
  assert_int_equal(rep[2], 1);
  /* a DC not in the ring contributes nothing; unknown class: no replicas */
  const char *kvx[] = {"class", "NetworkTopologyStrategy", "dc9", "3"};
  replication(kvx, 2, &r);
  assert_true(cql_token_map_add_keyspace(tm, "ks9", &r));
  cql_replication_clear(&r);
  assert_null(cql_token_map_replicas(tm, "ks9", 0, &n));
  cql_token_map_free(tm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_replication),
      cmocka_unit_test(test_simple_strategy),
      cmocka_unit_test(test_simple_vnodes_and_cap),
      cmocka_unit_test(test_nts_per_dc),
      cmocka_unit_test(test_nts_racks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
