/* The CQL client against cqlmock (tests/cqlmock): a 3-node cluster on 127.0.0.1-3 with known
 * tokens. Covers discovery + protocol downgrade, QUERY rows and typed getters, PREPARE dedup,
 * token-aware routing, UNPREPARED re-prepare, paging, BATCH, retries gated on idempotence,
 * client timeouts, reconnection after a node stops, events, and close with requests in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cql/client.h"
#include "cql/murmur3.h"
#include "../cqlmock/cqlmock.h"

#define TOKEN0 "-3074457345618258603"
#define TOKEN1 "3074457345618258602"
#define TOKEN2 "9223372036854775807"

typedef struct fixture {
  cqlmock *mock;
  cql_client *client;
} fixture;

static cql_client *new_client(cqlmock *m, unsigned request_timeout_ms) {
  cql_config cfg;
  cql_config_init(&cfg);
  cfg.contact_points = cqlmock_contact_points(m);
  cfg.port = cqlmock_node_port(m, 0);
  cfg.request_timeout_ms = request_timeout_ms;
  cfg.connect_timeout_ms = 2000;
  cfg.reconnect_base_ms = 50;
  cfg.reconnect_max_ms = 200;
  cfg.event_delay_ms = 50;
  cfg.consistency = CQL_CONSISTENCY_QUORUM;
  const char *err = NULL;
  cql_client *c = cql_client_new(&cfg, &err);
  assert_non_null(c);
  char buf[256];
  int32_t code = cql_client_connect_wait(c, buf, sizeof(buf));
  if (code) fprintf(stderr, "connect: %s\n", buf);
  assert_int_equal(code, 0);
  return c;
}

static int setup(void **state) {
  static fixture f;
  cqlmock_config mc;
  memset(&mc, 0, sizeof(mc));
  mc.nodes = 3;
  mc.keyspace = "ks";
  mc.node[0].tokens = TOKEN0;
  mc.node[1].tokens = TOKEN1;
  mc.node[2].tokens = TOKEN2;
  f.mock = cqlmock_start(&mc);
  assert_non_null(f.mock);
  f.client = new_client(f.mock, 2000);
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  cql_client_close(f->client);
  cqlmock_stop(f->mock);
  return 0;
}

static void prime_prepared(cqlmock *m, const char *q);

/* Every test starts from the same schema: ks.kv's PREPARE metadata stays primed, so the
 * background PREPAREs (prepare on all hosts, re-prepare on up) always see it. */
static int reset(void **state) {
  fixture *f = *state;
  cqlmock_prime_clear(f->mock);
  prime_prepared(f->mock, "INSERT INTO ks.kv (k, v) VALUES (?, ?)");
  cqlmock_log_clear(f->mock, -1);
  for (int i = 0; i < 3; i++) {
    cqlmock_node_set_answering(f->mock, i, true);
    cqlmock_node_set_delay(f->mock, i, 0);
  }
  return 0;
}

static int node_of_host(cqlmock *m, const char *host) {
  for (int i = 0; i < 3; i++) {
    char name[64];
    snprintf(name, sizeof(name), "%s:%u", cqlmock_node_host(m, i), cqlmock_node_port(m, i));
    if (strcmp(name, host) == 0) return i;
  }
  return -1;
}

/* ---- discovery, negotiation, rows ---- */

static void test_discovery_and_rows(void **state) {
  fixture *f = *state;
  /* v5 was tried first, refused with ProtocolError, then v4 was used */
  cqlmock_request *log;
  size_t n;
  log = cqlmock_log(f->mock, -1, &n);
  cqlmock_log_free(log, n);
  /* every node got a pool connection */
  for (int i = 0; i < 3; i++) assert_true(cqlmock_node_connection_count(f->mock, i) >= 1);

  cqlmock_prime *p =
      cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "SELECT id, name, big, flag, ts, u, b FROM ks.users");
  const char *names[] = {"id", "name", "big", "flag", "ts", "u", "b"};
  const char *types[] = {"int", "text", "bigint", "boolean", "timestamp", "timeuuid", "blob"};
  cqlmock_prime_columns(p, "ks", "users", 7, names, types);
  const char *row1[] = {
      "7", "alice", "9000000000", "true", "1700000000123", "a4a70900-24e1-11df-8924-001ff3591711", "0x0102"};
  const char *row2[] = {"8", NULL, NULL, "false", NULL, NULL, NULL};
  cqlmock_prime_row(p, row1);
  cqlmock_prime_row(p, row2);
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);

  cql_statement *st = cql_statement_new("SELECT id, name, big, flag, ts, u, b FROM ks.users", 0, false);
  cql_resultset *rs = NULL;
  char err[256];
  assert_int_equal(cql_client_execute_wait(f->client, st, &rs, err, sizeof(err)), 0);
  cql_statement_free(st);
  assert_int_equal(cql_resultset_get_kind(rs), CQL_RESULT_ROWS);
  assert_int_equal(cql_resultset_row_count(rs), 2);
  assert_int_equal(cql_resultset_column_count(rs), 7);
  assert_string_equal(cql_resultset_column_name(rs, 1), "name");
  assert_int_equal(cql_resultset_column_type(rs, 0), CQL_TYPE_INT);
  assert_int_equal(cql_resultset_column_index(rs, "flag"), 3);
  assert_int_equal(cql_resultset_column_index(rs, "nope"), -1);
  const cql_row *r = cql_resultset_row(rs, 0);
  int32_t id;
  int64_t big, ts;
  bool flag;
  const char *s;
  size_t len;
  uint8_t u[16];
  const uint8_t *b;
  assert_int_equal(cql_row_get_int32(r, 0, &id), CQL_GET_OK);
  assert_int_equal(id, 7);
  assert_int_equal(cql_row_get_text(r, 1, &s, &len), CQL_GET_OK);
  assert_int_equal(len, 5);
  assert_memory_equal(s, "alice", 5);
  assert_int_equal(cql_row_get_int64(r, 2, &big), CQL_GET_OK);
  assert_true(big == 9000000000LL);
  assert_int_equal(cql_row_get_bool(r, 3, &flag), CQL_GET_OK);
  assert_true(flag);
  assert_int_equal(cql_row_get_timestamp(r, 4, &ts), CQL_GET_OK);
  assert_true(ts == 1700000000123LL);
  assert_int_equal(cql_row_get_uuid(r, 5, u), CQL_GET_OK);
  assert_int_equal(u[0], 0xa4);
  assert_int_equal(cql_row_get_bytes(r, 6, &b, &len), CQL_GET_OK);
  assert_int_equal(len, 2);
  assert_int_equal(b[1], 2);
  assert_int_equal(cql_row_get_int64(r, 0, &big), CQL_GET_BAD_TYPE);
  assert_int_equal(cql_row_get_int32(r, 9, &id), CQL_GET_BAD_INDEX);
  r = cql_resultset_row(rs, 1);
  assert_true(cql_row_is_null(r, 1));
  assert_false(cql_row_is_null(r, 0));
  assert_int_equal(cql_row_get_text(r, 1, &s, &len), CQL_GET_NULL);
  assert_null(cql_resultset_row(rs, 2));
  cql_resultset_free(rs);
  /* consistency and a client-side timestamp were sent */
  log = cqlmock_log(f->mock, -1, &n);
  bool seen = false;
  for (size_t i = 0; i < n; i++)
    if (log[i].opcode == CQLMOCK_OP_QUERY && log[i].query && strstr(log[i].query, "ks.users")) {
      seen = true;
      assert_int_equal(log[i].version, 4);
      assert_int_equal(log[i].consistency, CQL_CONSISTENCY_QUORUM);
      assert_true(log[i].has_timestamp);
    }
  assert_true(seen);
  cqlmock_log_free(log, n);
}

/* ---- prepared statements, routing ---- */

static void prime_prepared(cqlmock *m, const char *q) {
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, q);
  cqlmock_prime_on(p, CQLMOCK_ON_PREPARE | CQLMOCK_ON_EXECUTE | CQLMOCK_ON_QUERY | CQLMOCK_ON_BATCH);
  const char *pn[] = {"k", "v"};
  const char *pt[] = {"bigint", "text"};
  uint16_t pk[] = {0};
  cqlmock_prime_params(p, 2, pn, pt, 1, pk);
  cqlmock_prime_void(p);
  assert_int_equal(cqlmock_prime_add(m, p), 0);
}

static int expected_owner(int64_t key) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)key >> (56 - 8 * i));
  int64_t t = cql_murmur3_token(b, 8);
  int64_t tokens[] = {-3074457345618258603LL, 3074457345618258602LL, INT64_MAX};
  for (int i = 0; i < 3; i++)
    if (t <= tokens[i]) return i;
  return 0;
}

typedef struct counter {
  pthread_mutex_t mu;
  int done, failed;
  int by_node[3];
  cqlmock *mock;
  int32_t last_code;
} counter;

static void on_counted(cql_resultset *rs, const cql_error *err, void *ud) {
  counter *c = ud;
  pthread_mutex_lock(&c->mu);
  if (err) {
    c->failed++;
    c->last_code = err->code;
  } else {
    int node = node_of_host(c->mock, cql_resultset_host(rs));
    if (node >= 0) c->by_node[node]++;
  }
  c->done++;
  pthread_mutex_unlock(&c->mu);
  cql_resultset_free(rs);
}

static void wait_done(counter *c, int n) {
  for (int i = 0; i < 1000; i++) {
    pthread_mutex_lock(&c->mu);
    int d = c->done;
    pthread_mutex_unlock(&c->mu);
    if (d >= n) return;
    usleep(5000);
  }
  fail_msg("requests did not complete");
}

/* 30 concurrent executions of the kv insert: each goes to its token's owner. first_time: the
 * text was never prepared, so exactly one PREPARE reaches every node (the first one, then the
 * background PREPAREs on the other hosts, which the requests' re-prepares join rather than
 * repeat). Later: at most one per node (the cache is warm). */
static void check_routing(fixture *f, bool first_time) {
  const char *q = "INSERT INTO ks.kv (k, v) VALUES (?, ?)";
  counter c = {PTHREAD_MUTEX_INITIALIZER, 0, 0, {0}, f->mock, 0};
  int expect[3] = {0};
  for (int64_t k = 1; k <= 30; k++) {
    cql_statement *st = cql_statement_new(q, 2, true);
    cql_statement_bind_int64(st, 0, k);
    cql_statement_bind_text(st, 1, "x", 1);
    assert_true(cql_client_execute(f->client, st, on_counted, &c));
    cql_statement_free(st);
    expect[expected_owner(k)]++;
  }
  wait_done(&c, 30);
  assert_int_equal(c.failed, 0);
  if (first_time)
    for (int i = 0; i < 3; i++) assert_true(cqlmock_log_wait(f->mock, i, CQLMOCK_OP_PREPARE, q, 1, 2000));
  for (int i = 0; i < 3; i++) {
    assert_int_equal(c.by_node[i], expect[i]); /* each request went to the token's owner */
    if (first_time)
      assert_int_equal(cqlmock_log_count(f->mock, i, CQLMOCK_OP_PREPARE, q), 1);
    else
      assert_true(cqlmock_log_count(f->mock, i, CQLMOCK_OP_PREPARE, q) <= 1);
  }
  assert_true(expect[0] > 0 && expect[1] > 0 && expect[2] > 0);
}

static void test_prepared_routing_and_dedup(void **state) { check_routing(*state, true); }

static void test_unprepared_reprepare(void **state) {
  fixture *f = *state;
  const char *q = "INSERT INTO ks.kv (k, v) VALUES (?, ?)";
  prime_prepared(f->mock, q);
  int64_t key = 42;
  int owner = expected_owner(key);
  cqlmock_node_forget_prepared(f->mock, owner);
  size_t prepares = cqlmock_log_count(f->mock, owner, CQLMOCK_OP_PREPARE, q);
  cql_statement *st = cql_statement_new(q, 2, true);
  cql_statement_bind_int64(st, 0, key);
  cql_statement_bind_text(st, 1, "y", 1);
  char err[256];
  assert_int_equal(cql_client_execute_wait(f->client, st, NULL, err, sizeof(err)), 0);
  cql_statement_free(st);
  assert_int_equal(cqlmock_log_count(f->mock, owner, CQLMOCK_OP_PREPARE, q), prepares + 1); /* same host */
  /* the rejected EXECUTE (unknown id: logged without text) and its replay */
  assert_int_equal(cqlmock_log_count(f->mock, owner, CQLMOCK_OP_EXECUTE, NULL), 2);
}

/* ---- paging ---- */

typedef struct pager {
  cql_client *client;
  pthread_mutex_t mu;
  int pages, rows;
  bool done;
  int32_t code;
} pager;

static void on_page(cql_resultset *rs, const cql_error *err, void *ud) {
  pager *p = ud;
  pthread_mutex_lock(&p->mu);
  if (err) {
    p->code = err->code;
    p->done = true;
  } else {
    p->pages++;
    p->rows += (int)cql_resultset_row_count(rs);
    if (cql_resultset_has_more_pages(rs)) {
      pthread_mutex_unlock(&p->mu);
      assert_true(cql_client_next_page(p->client, rs, on_page, p)); /* from the I/O thread */
      cql_resultset_free(rs);
      return;
    }
    p->done = true;
  }
  pthread_mutex_unlock(&p->mu);
  cql_resultset_free(rs);
}

static void test_paging(void **state) {
  fixture *f = *state;
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "SELECT n FROM ks.nums");
  const char *names[] = {"n"};
  const char *types[] = {"int"};
  cqlmock_prime_columns(p, "ks", "nums", 1, names, types);
  for (int i = 0; i < 25; i++) {
    char v[16];
    snprintf(v, sizeof(v), "%d", i);
    const char *cells[] = {v};
    cqlmock_prime_row(p, cells);
  }
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  cql_statement *st = cql_statement_new("SELECT n FROM ks.nums", 0, false);
  cql_statement_set_page_size(st, 10);
  pager pg = {f->client, PTHREAD_MUTEX_INITIALIZER, 0, 0, false, 0};
  assert_true(cql_client_execute(f->client, st, on_page, &pg));
  cql_statement_free(st);
  for (int i = 0; i < 1000 && !pg.done; i++) usleep(5000);
  assert_true(pg.done);
  assert_int_equal(pg.code, 0);
  assert_int_equal(pg.pages, 3);
  assert_int_equal(pg.rows, 25);
  size_t n;
  cqlmock_request *log = cqlmock_log(f->mock, -1, &n);
  int with_state = 0;
  for (size_t i = 0; i < n; i++)
    if (log[i].query && strcmp(log[i].query, "SELECT n FROM ks.nums") == 0) {
      assert_int_equal(log[i].page_size, 10);
      with_state += log[i].has_paging_state;
    }
  cqlmock_log_free(log, n);
  assert_int_equal(with_state, 2);
}

/* ---- batch ---- */

static void test_batch(void **state) {
  fixture *f = *state;
  const char *q = "INSERT INTO ks.kv (k, v) VALUES (?, ?)";
  prime_prepared(f->mock, q);
  cql_batch_stmt *b = cql_batch_stmt_new(CQL_BATCH_LOGGED);
  for (int i = 0; i < 2; i++) {
    cql_statement *st = cql_statement_new(q, 2, true);
    cql_statement_bind_int64(st, 0, 5);
    cql_statement_bind_text(st, 1, "z", 1);
    assert_true(cql_batch_stmt_add(b, st));
    cql_statement_free(st);
  }
  cql_statement *plain = cql_statement_new("UPDATE ks.other SET a = 1 WHERE k = 1", 0, false);
  assert_true(cql_batch_stmt_add(b, plain));
  cql_statement_free(plain);
  cql_batch_stmt_set_consistency(b, CQL_CONSISTENCY_ONE);
  counter c = {PTHREAD_MUTEX_INITIALIZER, 0, 0, {0}, f->mock, 0};
  assert_true(cql_client_batch(f->client, b, on_counted, &c));
  cql_batch_stmt_free(b);
  wait_done(&c, 1);
  assert_int_equal(c.failed, 0);
  size_t n;
  cqlmock_request *log = cqlmock_log(f->mock, -1, &n);
  bool seen = false;
  for (size_t i = 0; i < n; i++)
    if (log[i].opcode == CQLMOCK_OP_BATCH) {
      seen = true;
      assert_int_equal(log[i].batch_count, 3);
      assert_int_equal(log[i].values, 4);
      assert_int_equal(log[i].consistency, CQL_CONSISTENCY_ONE);
      assert_int_equal(c.by_node[log[i].node], 1);
      assert_int_equal(log[i].node, expected_owner(5)); /* routed by its first prepared statement */
    }
  cqlmock_log_free(log, n);
  assert_true(seen);
}

/* ---- retries ---- */

static int32_t run(cql_client *c, const char *q, bool idempotent, cql_resultset **out) {
  cql_statement *st = cql_statement_new(q, 0, false);
  cql_statement_set_idempotent(st, idempotent);
  char err[256];
  int32_t code = cql_client_execute_wait(c, st, out, err, sizeof(err));
  cql_statement_free(st);
  return code;
}

static void test_retry_only_idempotent(void **state) {
  fixture *f = *state;
  const char *q = "UPDATE ks.t SET v = 1 WHERE k = 1";
  for (int node = 0; node < 2; node++) { /* overloaded on nodes 0 and 1 */
    cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, q);
    cqlmock_prime_node(p, node);
    cqlmock_prime_error(p, 0x1001, "overloaded");
    assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  }
  int overloaded = 0;
  for (int i = 0; i < 6; i++) { /* round robin: some land on 0/1 and fail, never retried */
    cql_resultset *rs = NULL;
    int32_t code = run(f->client, q, false, &rs);
    if (code) {
      assert_int_equal(code, 0x1001);
      overloaded++;
    }
    cql_resultset_free(rs);
  }
  assert_true(overloaded >= 2);
  assert_int_equal(cqlmock_log_count(f->mock, -1, CQLMOCK_OP_QUERY, q), 6); /* one attempt each */
  cqlmock_log_clear(f->mock, -1);
  for (int i = 0; i < 6; i++) {
    cql_resultset *rs = NULL;
    assert_int_equal(run(f->client, q, true, &rs), 0);
    assert_int_equal(node_of_host(f->mock, cql_resultset_host(rs)), 2); /* only node 2 succeeds */
    cql_resultset_free(rs);
  }
  assert_true(cqlmock_log_count(f->mock, -1, CQLMOCK_OP_QUERY, q) > 6);
  /* a syntax error is never retried, even when idempotent */
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "SELEC x");
  cqlmock_prime_error(p, 0x2000, "bad syntax");
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  assert_int_equal(run(f->client, "SELEC x", true, NULL), 0x2000);
  assert_int_equal(cqlmock_log_count(f->mock, -1, CQLMOCK_OP_QUERY, "SELEC x"), 1);
  /* read timeout with enough replicas and no data: once more on the same host */
  p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "SELECT rt FROM ks.t");
  cqlmock_prime_read_timeout(p, CQL_CONSISTENCY_QUORUM, 2, 2, false);
  cqlmock_prime_times(p, 1);
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  assert_int_equal(run(f->client, "SELECT rt FROM ks.t", false, NULL), 0);
  size_t n;
  cqlmock_request *log = cqlmock_log(f->mock, -1, &n);
  int nodes[2], k = 0;
  for (size_t i = 0; i < n; i++)
    if (log[i].query && strcmp(log[i].query, "SELECT rt FROM ks.t") == 0 && k < 2) nodes[k++] = log[i].node;
  cqlmock_log_free(log, n);
  assert_int_equal(k, 2);
  assert_int_equal(nodes[0], nodes[1]);
  /* unavailable: once on the next host */
  p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "SELECT un FROM ks.t");
  cqlmock_prime_unavailable(p, CQL_CONSISTENCY_QUORUM, 2, 1);
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  assert_int_equal(run(f->client, "SELECT un FROM ks.t", false, NULL), 0x1000);
  assert_int_equal(cqlmock_log_count(f->mock, -1, CQLMOCK_OP_QUERY, "SELECT un FROM ks.t"), 2);
}

static void test_timeouts(void **state) {
  fixture *f = *state;
  const char *q = "SELECT slow FROM ks.t";
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, q);
  cqlmock_prime_node(p, 0);
  cqlmock_prime_no_answer(p);
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  cql_client *c = new_client(f->mock, 150);
  int timeouts = 0;
  for (int i = 0; i < 4; i++) {
    int32_t code = run(c, q, false, NULL);
    if (code) {
      assert_int_equal(code, CQL_ERR_CLIENT_TIMEOUT);
      timeouts++;
    }
  }
  assert_true(timeouts >= 1);
  for (int i = 0; i < 4; i++) assert_int_equal(run(c, q, true, NULL), 0); /* next host */
  cql_client_close(c);
}

/* ---- reconnection and events ---- */

static void test_reconnect_after_node_stops(void **state) {
  fixture *f = *state;
  assert_int_equal(cqlmock_node_stop(f->mock, 1), 0);
  for (int i = 0; i < 6; i++) assert_int_equal(run(f->client, "SELECT now FROM ks.t", true, NULL), 0);
  assert_int_equal(cqlmock_log_count(f->mock, 1, CQLMOCK_OP_QUERY, "SELECT now"), 0);
  assert_int_equal(cqlmock_node_start(f->mock, 1), 0);
  bool back = false;
  for (int i = 0; i < 300 && !back; i++) {
    back = cqlmock_node_connection_count(f->mock, 1) >= 1;
    if (!back) usleep(10000);
  }
  assert_true(back);
  usleep(50000);
  for (int i = 0; i < 9; i++) assert_int_equal(run(f->client, "SELECT again FROM ks.t", false, NULL), 0);
  assert_true(cqlmock_log_count(f->mock, 1, CQLMOCK_OP_QUERY, "SELECT again") >= 1);
}

static void test_events_refresh_topology(void **state) {
  fixture *f = *state;
  assert_true(cqlmock_push_topology_change(f->mock, -1, "NEW_NODE", 2) >= 1);
  assert_true(cqlmock_log_wait(f->mock, -1, CQLMOCK_OP_QUERY, "SELECT peer", 1, 3000));
  assert_true(cqlmock_log_wait(f->mock, -1, CQLMOCK_OP_QUERY, "SELECT keyspace_name", 1, 3000));
  cqlmock_log_clear(f->mock, -1);
  assert_true(cqlmock_push_schema_change(f->mock, -1, "UPDATED", "KEYSPACE", "ks", NULL) >= 1);
  assert_true(cqlmock_log_wait(f->mock, -1, CQLMOCK_OP_QUERY, "SELECT keyspace_name", 1, 3000));
  /* still routes correctly after the refresh */
  check_routing(f, false);
}

/* ---- close with requests in flight ---- */

static void test_close_cancels(void **state) {
  fixture *f = *state;
  cql_client *c = new_client(f->mock, 10000);
  for (int i = 0; i < 3; i++) cqlmock_node_set_answering(f->mock, i, false);
  counter k = {PTHREAD_MUTEX_INITIALIZER, 0, 0, {0}, f->mock, 0};
  for (int i = 0; i < 5; i++) {
    cql_statement *st = cql_statement_new("SELECT hang FROM ks.t", 0, false);
    assert_true(cql_client_execute(c, st, on_counted, &k));
    cql_statement_free(st);
  }
  assert_true(cqlmock_log_wait(f->mock, -1, CQLMOCK_OP_QUERY, "SELECT hang", 5, 3000));
  cql_client_close(c);
  assert_int_equal(k.done, 5);
  assert_int_equal(k.failed, 5);
  assert_int_equal(k.last_code, CQL_ERR_CLIENT_CLOSED);
}

static void test_connect_failure(void **state) {
  (void)state;
  cql_config cfg;
  cql_config_init(&cfg);
  cfg.contact_points = "127.0.0.1:1"; /* nothing listens on port 1 */
  cfg.connect_timeout_ms = 500;
  cql_client *c = cql_client_new(&cfg, NULL);
  assert_non_null(c);
  char buf[256];
  assert_int_equal(cql_client_connect_wait(c, buf, sizeof(buf)), CQL_ERR_CONNECT_FAILED);
  assert_non_null(strstr(buf, "Connect failed"));
  cql_statement *st = cql_statement_new("SELECT 1", 0, false);
  assert_int_equal(cql_client_execute_wait(c, st, NULL, buf, sizeof(buf)), CQL_ERR_CONNECT_FAILED);
  cql_statement_free(st);
  cql_client_close(c);
  assert_null(cql_client_new(&(cql_config){0}, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_discovery_and_rows, reset),
      cmocka_unit_test_setup(test_prepared_routing_and_dedup, reset),
      cmocka_unit_test_setup(test_unprepared_reprepare, reset),
      cmocka_unit_test_setup(test_paging, reset),
      cmocka_unit_test_setup(test_batch, reset),
      cmocka_unit_test_setup(test_retry_only_idempotent, reset),
      cmocka_unit_test_setup(test_timeouts, reset),
      cmocka_unit_test_setup(test_reconnect_after_node_stops, reset),
      cmocka_unit_test_setup(test_events_refresh_topology, reset),
      cmocka_unit_test_setup(test_close_cancels, reset),
      cmocka_unit_test(test_connect_failure),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
