/* The CQL client under faults, against cqlmock clusters built per test: SASL PLAIN auth (right,
 * missing and wrong credentials, no reconnect storm), heartbeats and the replacement of a
 * connection whose heartbeat goes unanswered, orphaned streams (a late response is dropped, the
 * id is freed, the connection is replaced past the threshold), a node that stops answering,
 * a connection closed mid-request, STATUS_CHANGE / TOPOLOGY_CHANGE events, a first PREPARE
 * moving to the next host, schema agreement, prepare on all hosts / re-prepare on up, and the
 * statement's total timeout budget, back-pressure (requests past the in-flight cap wait in the
 * host's bounded queue; only a full queue or their own deadline fails them). Every wait is bounded; the suite
 * runs in ~15 s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cql/client.h"
#include "cql/murmur3.h"
#include "../cqlmock/cqlmock.h"

static const char *const TOKENS[3] = {"-3074457345618258603", "3074457345618258602", "9223372036854775807"};
static const int64_t TOKEN_VALUES[3] = {-3074457345618258603LL, 3074457345618258602LL, INT64_MAX};

#define KV_INSERT "INSERT INTO ks.kv (k, v) VALUES (?, ?)"

/* ---- helpers ---------------------------------------------------------------------------- */

static uint64_t now_ms(void) { return uv_hrtime() / 1000000u; }

static void sleep_ms(unsigned ms) { usleep(ms * 1000u); }

/* n nodes on 127.0.0.1.. with the fixed tokens above (n <= 3), keyspace ks (SimpleStrategy RF 1). */
static cqlmock *start_mock(int n, const char *user, const char *password) {
  cqlmock_config mc;
  memset(&mc, 0, sizeof(mc));
  mc.nodes = n;
  mc.keyspace = "ks";
  mc.username = user;
  mc.password = password;
  for (int i = 0; i < n; i++) mc.node[i].tokens = TOKENS[i];
  cqlmock *m = cqlmock_start(&mc);
  assert_non_null(m);
  return m;
}

/* Short timeouts so faults show up fast. */
static cql_config test_config(cqlmock *m) {
  cql_config cfg;
  cql_config_init(&cfg);
  cfg.contact_points = cqlmock_contact_points(m);
  cfg.port = cqlmock_node_port(m, 0);
  cfg.protocol_version = 4;
  cfg.connect_timeout_ms = 1000;
  cfg.request_timeout_ms = 2000;
  cfg.reconnect_base_ms = 50;
  cfg.reconnect_max_ms = 200;
  cfg.event_delay_ms = 50;
  cfg.consistency = CQL_CONSISTENCY_ONE;
  return cfg;
}

static cql_client *connect_client(const cql_config *cfg) {
  cql_client *c = cql_client_new(cfg, NULL);
  assert_non_null(c);
  char buf[256];
  int32_t code = cql_client_connect_wait(c, buf, sizeof(buf));
  if (code) fprintf(stderr, "connect: %s\n", buf);
  assert_int_equal(code, 0);
  return c;
}

static int node_of_host(cqlmock *m, const char *host) {
  for (int i = 0; i < cqlmock_node_count(m); i++) {
    char name[64];
    snprintf(name, sizeof(name), "%s:%u", cqlmock_node_host(m, i), cqlmock_node_port(m, i));
    if (strcmp(name, host) == 0) return i;
  }
  return -1;
}

/* Result of one blocking execution: code, answering node (-1 on error), first text cell. */
typedef struct outcome {
  int32_t code;
  int node;
  char text[64];
  char err[256];
  uint64_t elapsed_ms;
} outcome;

static outcome run_statement(cqlmock *m, cql_client *c, const cql_statement *st) {
  outcome o = {0, -1, "", "", 0};
  cql_resultset *rs = NULL;
  uint64_t t0 = now_ms();
  o.code = cql_client_execute_wait(c, st, &rs, o.err, sizeof(o.err));
  o.elapsed_ms = now_ms() - t0;
  if (rs) {
    o.node = node_of_host(m, cql_resultset_host(rs));
    const cql_row *row = cql_resultset_row(rs, 0);
    const char *s;
    size_t len;
    if (row && cql_row_get_text(row, 0, &s, &len) == CQL_GET_OK && len < sizeof(o.text)) {
      memcpy(o.text, s, len);
      o.text[len] = '\0';
    }
  }
  cql_resultset_free(rs);
  return o;
}

/* A plain QUERY; budget_ms > 0 sets the statement's total timeout. */
static outcome run_query(cqlmock *m, cql_client *c, const char *q, bool idempotent, unsigned budget_ms) {
  cql_statement *st = cql_statement_new(q, 0, false);
  cql_statement_set_idempotent(st, idempotent);
  if (budget_ms) cql_statement_set_timeout(st, budget_ms);
  outcome o = run_statement(m, c, st);
  cql_statement_free(st);
  return o;
}

/* The prepared ks.kv insert for partition key k. */
static outcome run_kv(cqlmock *m, cql_client *c, int64_t k, bool idempotent) {
  cql_statement *st = cql_statement_new(KV_INSERT, 2, true);
  cql_statement_bind_int64(st, 0, k);
  cql_statement_bind_text(st, 1, "v", 1);
  cql_statement_set_idempotent(st, idempotent);
  outcome o = run_statement(m, c, st);
  cql_statement_free(st);
  return o;
}

/* PREPARE metadata of a statement whose first marker (bigint) is the partition key. */
static void prime_pk_statement(cqlmock *m, const char *q, size_t n_markers) {
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, q);
  cqlmock_prime_on(p, CQLMOCK_ON_PREPARE);
  const char *names[] = {"k", "v"};
  const char *types[] = {"bigint", "text"};
  uint16_t pk[] = {0};
  cqlmock_prime_params(p, n_markers, names, types, 1, pk);
  cqlmock_prime_void(p);
  assert_int_equal(cqlmock_prime_add(m, p), 0);
}

/* Node owning bigint key k among the first n nodes (RF 1). */
static int owner_of(int64_t key, int n) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)key >> (56 - 8 * i));
  int64_t t = cql_murmur3_token(b, 8);
  for (int i = 0; i < n; i++)
    if (t <= TOKEN_VALUES[i]) return i;
  return 0;
}

static int64_t key_owned_by(int node, int n, int64_t from) {
  for (int64_t k = from; k < from + 10000; k++)
    if (owner_of(k, n) == node) return k;
  fail_msg("no key for node %d", node);
  return -1;
}

static bool wait_until_connected(cqlmock *m, int node, unsigned timeout_ms) {
  for (unsigned waited = 0; waited < timeout_ms; waited += 10) {
    if (cqlmock_node_connection_count(m, node) > 0) return true;
    sleep_ms(10);
  }
  return false;
}

/* Last logged request on node with this opcode and query prefix; false if none. */
static bool last_request(cqlmock *m, int node, uint8_t op, const char *prefix, cqlmock_request *out) {
  size_t n;
  cqlmock_request *log = cqlmock_log(m, node, &n);
  bool found = false;
  for (size_t i = 0; i < n; i++)
    if (log[i].opcode == op &&
        (!prefix || (log[i].query && strncmp(log[i].query, prefix, strlen(prefix)) == 0))) {
      *out = log[i];
      out->query = NULL; /* not kept */
      found = true;
    }
  cqlmock_log_free(log, n);
  return found;
}

/* ---- 1. PasswordAuthenticator -------------------------------------------------------------- */

static void test_auth(void **state) {
  (void)state;
  cqlmock *m = start_mock(2, "cassandra", "s3cret");
  cql_config cfg = test_config(m);
  cfg.username = "cassandra";
  cfg.password = "s3cret";
  cql_client *c = connect_client(&cfg);
  assert_int_equal(run_query(m, c, "SELECT a FROM ks.t", false, 0).code, 0);
  cql_client_close(c);
  /* control + one pool connection per node, each authenticated */
  assert_true(cqlmock_log_count(m, -1, CQLMOCK_OP_AUTH_RESPONSE, NULL) >= 3);

  /* no credentials: a clear error at once */
  cfg.username = cfg.password = NULL;
  c = cql_client_new(&cfg, NULL);
  char buf[256];
  assert_int_equal(cql_client_connect_wait(c, buf, sizeof(buf)), CQL_ERR_AUTH);
  assert_non_null(strstr(buf, "no credentials"));
  cql_client_close(c);

  /* wrong password: CQL_ERR_AUTH with the server's reason; later rounds keep to the backoff */
  cqlmock_log_clear(m, -1);
  cfg.username = "cassandra";
  cfg.password = "wrong";
  cfg.reconnect_base_ms = 300;
  cfg.reconnect_max_ms = 2000;
  c = cql_client_new(&cfg, NULL);
  assert_int_equal(cql_client_connect_wait(c, buf, sizeof(buf)), CQL_ERR_AUTH);
  assert_non_null(strstr(buf, "Authentication failed"));
  assert_non_null(strstr(buf, "incorrect"));
  outcome o = run_query(m, c, "SELECT a FROM ks.t", true, 0);
  assert_int_equal(o.code, CQL_ERR_AUTH); /* requests fail with the connect error */
  sleep_ms(700);
  size_t attempts = cqlmock_log_count(m, -1, CQLMOCK_OP_AUTH_RESPONSE, NULL);
  cql_client_close(c);
  /* rounds at ~0, ~300 and ~900 ms, two contact points each: a handful, not a storm */
  assert_true(attempts >= 2);
  assert_true(attempts <= 6);
  assert_int_equal(cqlmock_log_count(m, -1, CQLMOCK_OP_QUERY, NULL), 0);
  cqlmock_stop(m);
}

/* ---- 2. heartbeats --------------------------------------------------------------------------- */

static void test_heartbeat(void **state) {
  (void)state;
  cqlmock *m = start_mock(2, NULL, NULL);
  cql_config cfg = test_config(m);
  cfg.heartbeat_interval_ms = 200;
  cfg.heartbeat_timeout_ms = 300;
  cfg.connect_timeout_ms = 400;
  cfg.reconnect_base_ms = 100;
  cql_client *c = connect_client(&cfg);
  cqlmock_log_clear(m, -1);
  /* idle connections send OPTIONS after the interval */
  uint64_t t0 = now_ms();
  assert_true(cqlmock_log_wait(m, 1, CQLMOCK_OP_OPTIONS, NULL, 1, 1500));
  assert_true(cqlmock_log_wait(m, 0, CQLMOCK_OP_OPTIONS, NULL, 1, 1500));
  assert_true(now_ms() - t0 >= 150);
  cqlmock_request hb;
  assert_true(last_request(m, 1, CQLMOCK_OP_OPTIONS, NULL, &hb));
  /* node 1 goes silent: its unanswered heartbeat closes the connection, which is replaced */
  cqlmock_node_set_answering(m, 1, false);
  cqlmock_log_clear(m, 1);
  assert_true(cqlmock_log_wait(m, 1, CQLMOCK_OP_OPTIONS, NULL, 1, 1500));
  assert_true(cqlmock_log_wait(m, 1, CQLMOCK_OP_STARTUP, NULL, 1, 2500));
  cqlmock_request startup;
  assert_true(last_request(m, 1, CQLMOCK_OP_STARTUP, NULL, &startup));
  assert_true(startup.connection != hb.connection);
  /* meanwhile nothing is sent to node 1: non-idempotent requests all succeed on node 0 */
  for (int i = 0; i < 4; i++) {
    outcome o = run_query(m, c, "SELECT hb FROM ks.t", false, 0);
    assert_int_equal(o.code, 0);
    assert_int_equal(o.node, 0);
  }
  cqlmock_node_set_answering(m, 1, true);
  int on_node1 = 0;
  for (int i = 0; i < 100 && !on_node1; i++) {
    on_node1 = run_query(m, c, "SELECT back FROM ks.t", false, 0).node == 1;
    if (!on_node1) sleep_ms(30);
  }
  assert_true(on_node1);
  cql_client_close(c);
  cqlmock_stop(m);
}

/* ---- 3. orphaned streams --------------------------------------------------------------------- */

static void prime_text_row(cqlmock *m, const char *q, const char *value, unsigned delay_ms) {
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, q);
  const char *names[] = {"v"};
  const char *types[] = {"text"};
  cqlmock_prime_columns(p, "ks", "t", 1, names, types);
  const char *cells[] = {value};
  cqlmock_prime_row(p, cells);
  cqlmock_prime_delay(p, delay_ms);
  assert_int_equal(cqlmock_prime_add(m, p), 0);
}

typedef struct async_result {
  pthread_mutex_t mu;
  bool done;
  int32_t code;
  char text[64];
  char host[64];
} async_result;

static void on_async(cql_resultset *rs, const cql_error *err, void *ud) {
  async_result *a = ud;
  pthread_mutex_lock(&a->mu);
  a->code = err ? err->code : 0;
  if (rs) snprintf(a->host, sizeof(a->host), "%s", cql_resultset_host(rs));
  const cql_row *row = rs ? cql_resultset_row(rs, 0) : NULL;
  const char *s;
  size_t len;
  if (row && cql_row_get_text(row, 0, &s, &len) == CQL_GET_OK && len < sizeof(a->text)) {
    memcpy(a->text, s, len);
    a->text[len] = '\0';
  }
  a->done = true;
  pthread_mutex_unlock(&a->mu);
  cql_resultset_free(rs);
}

static void wait_async(async_result *a) {
  for (int i = 0; i < 600; i++) {
    pthread_mutex_lock(&a->mu);
    bool done = a->done;
    pthread_mutex_unlock(&a->mu);
    if (done) return;
    sleep_ms(5);
  }
  fail_msg("request did not complete");
}

static void test_orphaned_streams(void **state) {
  (void)state;
  cqlmock *m = start_mock(1, NULL, NULL);
  cql_config cfg = test_config(m);
  cfg.request_timeout_ms = 1000;
  cfg.max_orphans_per_connection = 2;
  cfg.heartbeat_interval_ms = 0;
  cql_client *c = connect_client(&cfg);
  prime_text_row(m, "SELECT late FROM ks.t", "late", 300);
  prime_text_row(m, "SELECT fresh FROM ks.t", "fresh", 250);
  cqlmock_prime *never = cqlmock_prime_new(CQLMOCK_MATCH_PREFIX, "SELECT never");
  cqlmock_prime_no_answer(never);
  assert_int_equal(cqlmock_prime_add(m, never), 0);

  /* A gives up after 100 ms; its answer comes at 300 ms, while B (sent at ~110 ms, answered at
   * ~360 ms) is in flight on the same connection: B must get its own rows */
  outcome a = run_query(m, c, "SELECT late FROM ks.t", false, 100);
  assert_int_equal(a.code, CQL_ERR_CLIENT_TIMEOUT);
  async_result b = {PTHREAD_MUTEX_INITIALIZER, false, 0, "", ""};
  cql_statement *st = cql_statement_new("SELECT fresh FROM ks.t", 0, false);
  assert_true(cql_client_execute(c, st, on_async, &b));
  cql_statement_free(st);
  wait_async(&b);
  assert_int_equal(b.code, 0);
  assert_string_equal(b.text, "fresh");
  cqlmock_request ra, rb;
  assert_true(last_request(m, 0, CQLMOCK_OP_QUERY, "SELECT late", &ra));
  assert_true(last_request(m, 0, CQLMOCK_OP_QUERY, "SELECT fresh", &rb));
  assert_true(ra.connection == rb.connection);
  assert_true(ra.stream != rb.stream); /* the orphaned id was not reused while A was pending */

  /* A's late answer freed its orphan: two more timeouts stay within the threshold (2) ... */
  size_t startups = cqlmock_log_count(m, 0, CQLMOCK_OP_STARTUP, NULL);
  for (int i = 0; i < 2; i++)
    assert_int_equal(run_query(m, c, "SELECT never1", false, 100).code, CQL_ERR_CLIENT_TIMEOUT);
  outcome same = run_query(m, c, "SELECT same FROM ks.t", false, 0);
  assert_int_equal(same.code, 0);
  cqlmock_request rs;
  assert_true(last_request(m, 0, CQLMOCK_OP_QUERY, "SELECT same", &rs));
  assert_true(rs.connection == ra.connection);
  assert_int_equal(cqlmock_log_count(m, 0, CQLMOCK_OP_STARTUP, NULL), startups);
  /* ... a third one passes it: the connection is replaced */
  assert_int_equal(run_query(m, c, "SELECT never2", false, 100).code, CQL_ERR_CLIENT_TIMEOUT);
  assert_true(cqlmock_log_wait(m, 0, CQLMOCK_OP_STARTUP, NULL, startups + 1, 2000));
  int32_t code = -1;
  for (int i = 0; i < 50 && code != 0; i++) { /* until the replacement is ready */
    code = run_query(m, c, "SELECT replaced FROM ks.t", false, 0).code;
    if (code) sleep_ms(20);
  }
  assert_int_equal(code, 0);
  cqlmock_request rr;
  assert_true(last_request(m, 0, CQLMOCK_OP_QUERY, "SELECT replaced", &rr));
  assert_true(rr.connection != ra.connection);
  cql_client_close(c);
  cqlmock_stop(m);
}

/* ---- 4. a node that stops answering ------------------------------------------------------------ */

static void test_unresponsive_node(void **state) {
  (void)state;
  cqlmock *m = start_mock(2, NULL, NULL);
  cql_config cfg = test_config(m);
  cfg.request_timeout_ms = 150;
  cfg.heartbeat_interval_ms = 200;
  cfg.heartbeat_timeout_ms = 200;
  cfg.connect_timeout_ms = 300;
  cfg.reconnect_base_ms = 100;
  cql_client *c = connect_client(&cfg);
  cqlmock_node_set_answering(m, 1, false);
  /* round robin: the requests sent to node 1 time out; idempotent ones move on to node 0 */
  int timeouts = 0;
  for (int i = 0; i < 4; i++) {
    outcome o = run_query(m, c, "SELECT x FROM ks.t", false, 0);
    if (o.code) {
      assert_int_equal(o.code, CQL_ERR_CLIENT_TIMEOUT);
      timeouts++;
    }
  }
  assert_true(timeouts >= 1);
  for (int i = 0; i < 4; i++) {
    outcome o = run_query(m, c, "SELECT y FROM ks.t", true, 0);
    assert_int_equal(o.code, 0);
    assert_int_equal(o.node, 0);
  }
  /* the host is then considered down (heartbeat timeout, handshake never answered): plans
   * skip it, so no request even waits for it */
  sleep_ms(800);
  cqlmock_log_clear(m, -1);
  for (int i = 0; i < 6; i++) {
    outcome o = run_query(m, c, "SELECT z FROM ks.t", false, 0);
    assert_int_equal(o.code, 0);
    assert_int_equal(o.node, 0);
    assert_true(o.elapsed_ms < 150);
  }
  assert_int_equal(cqlmock_log_count(m, 1, CQLMOCK_OP_QUERY, "SELECT z"), 0);
  /* recovery: it comes back */
  cqlmock_node_set_answering(m, 1, true);
  int on_node1 = 0;
  for (int i = 0; i < 100 && !on_node1; i++) {
    on_node1 = run_query(m, c, "SELECT back FROM ks.t", false, 0).node == 1;
    if (!on_node1) sleep_ms(30);
  }
  assert_true(on_node1);
  cql_client_close(c);
  cqlmock_stop(m);
}

/* ---- 5. connection closed mid-request --------------------------------------------------------- */

static void test_connection_closed_mid_request(void **state) {
  (void)state;
  cqlmock *m = start_mock(2, NULL, NULL);
  cql_config cfg = test_config(m);
  cfg.reconnect_base_ms = 300;
  cfg.reconnect_max_ms = 600;
  cfg.heartbeat_interval_ms = 0;
  cql_client *c = connect_client(&cfg);
  const char *hang_q = "SELECT v FROM ks.hang WHERE k = ?";
  prime_pk_statement(m, KV_INSERT, 2);
  prime_pk_statement(m, hang_q, 1);
  int64_t key = key_owned_by(0, 2, 1);
  assert_int_equal(run_kv(m, c, key, false).node, 0); /* prepared; routed to node 0 */
  cqlmock_prime *hang = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, hang_q);
  cqlmock_prime_on(hang, CQLMOCK_ON_EXECUTE);
  cqlmock_prime_node(hang, 0);
  cqlmock_prime_delay(hang, 1500);
  assert_int_equal(cqlmock_prime_add(m, hang), 0);
  cqlmock_prime *boom = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, KV_INSERT);
  cqlmock_prime_on(boom, CQLMOCK_ON_EXECUTE);
  cqlmock_prime_node(boom, 0);
  cqlmock_prime_times(boom, 1);
  cqlmock_prime_close_connection(boom);
  assert_int_equal(cqlmock_prime_add(m, boom), 0);

  /* an idempotent request in flight on node 0, then a non-idempotent one that makes node 0
   * drop the connection: the first is retried on node 1, the second fails */
  async_result h = {PTHREAD_MUTEX_INITIALIZER, false, 0, "", ""};
  cql_statement *st = cql_statement_new(hang_q, 1, true);
  cql_statement_bind_int64(st, 0, key);
  cql_statement_set_idempotent(st, true);
  assert_true(cql_client_execute(c, st, on_async, &h));
  cql_statement_free(st);
  assert_true(cqlmock_log_wait(m, 0, CQLMOCK_OP_EXECUTE, hang_q, 1, 2000));
  outcome o = run_kv(m, c, key, false);
  assert_int_equal(o.code, CQL_ERR_CONNECTION_CLOSED);
  wait_async(&h);
  assert_int_equal(h.code, 0);
  assert_int_equal(node_of_host(m, h.host), 1);
  cqlmock_request closing;
  assert_true(last_request(m, 0, CQLMOCK_OP_EXECUTE, KV_INSERT, &closing));
  size_t startups = cqlmock_log_count(m, 0, CQLMOCK_OP_STARTUP, NULL);
  /* the pool reconnects, after the backoff delay (300 ms -15%) */
  assert_true(cqlmock_log_wait(m, 0, CQLMOCK_OP_STARTUP, NULL, startups + 1, 3000));
  cqlmock_request reconnect;
  assert_true(last_request(m, 0, CQLMOCK_OP_STARTUP, NULL, &reconnect));
  assert_true(reconnect.received_ms >= closing.received_ms + 250);
  int on_node0 = 0;
  for (int i = 0; i < 50 && !on_node0; i++) {
    on_node0 = run_kv(m, c, key, false).node == 0;
    if (!on_node0) sleep_ms(20);
  }
  assert_true(on_node0);
  cql_client_close(c);
  cqlmock_stop(m);
}

/* ---- 6. STATUS_CHANGE and TOPOLOGY_CHANGE events ------------------------------------------- */

/* system.peers_v2 as the control connection reads it, listing only nodes 0 and 1. */
static void prime_peers_without_node2(cqlmock *m) {
  cqlmock_prime *p =
      cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "SELECT peer, peer_port, native_address, native_port, host_id, "
                                             "data_center, rack, tokens FROM system.peers_v2");
  const char *names[] = {"peer",    "peer_port",   "native_address", "native_port",
                         "host_id", "data_center", "rack",           "tokens"};
  const char *types[] = {"inet", "int", "inet", "int", "uuid", "text", "text", "set<text>"};
  cqlmock_prime_columns(p, "system", "peers_v2", 8, names, types);
  for (int i = 0; i < 2; i++) {
    char port[16], id[64], tokens[64];
    snprintf(port, sizeof(port), "%u", cqlmock_node_port(m, i));
    snprintf(id, sizeof(id), "00000000-0000-4000-8000-0000000000%02d", i + 1);
    snprintf(tokens, sizeof(tokens), "[\"%s\"]", TOKENS[i]);
    const char *row[] = {
        cqlmock_node_host(m, i), port, cqlmock_node_host(m, i), port, id, "dc1", "rack1", tokens};
    cqlmock_prime_row(p, row);
  }
  assert_int_equal(cqlmock_prime_add(m, p), 0);
}

static void test_events(void **state) {
  (void)state;
  cqlmock *m = start_mock(3, NULL, NULL);
  cql_config cfg = test_config(m);
  cfg.event_delay_ms = 300;
  cfg.reconnect_base_ms = 5000; /* a DOWN host stays down until UP (no self-healing here) */
  cfg.reconnect_max_ms = 5000;
  cfg.heartbeat_interval_ms = 0;
  cql_client *c = connect_client(&cfg);
  prime_pk_statement(m, KV_INSERT, 2);
  int64_t key2 = key_owned_by(2, 3, 1);
  assert_int_equal(run_kv(m, c, key2, false).node, 2);

  /* DOWN: out of the plans at once, connections closed */
  assert_true(cqlmock_push_status_change(m, -1, "DOWN", 2) >= 1);
  for (int i = 0; i < 50 && cqlmock_node_connection_count(m, 2) > 0; i++) sleep_ms(10);
  assert_int_equal(cqlmock_node_connection_count(m, 2), 0);
  for (int i = 0; i < 6; i++) {
    outcome o = run_query(m, c, "SELECT d FROM ks.t", false, 0);
    assert_int_equal(o.code, 0);
    assert_int_not_equal(o.node, 2);
  }
  assert_int_not_equal(run_kv(m, c, key2, false).node, 2); /* its replica is down: next host */
  /* UP: re-added after event_delay_ms */
  uint64_t up_at = now_ms();
  assert_true(cqlmock_push_status_change(m, -1, "UP", 2) >= 1);
  assert_true(wait_until_connected(m, 2, 3000));
  assert_true(now_ms() - up_at >= 250);
  int on_node2 = 0;
  for (int i = 0; i < 50 && !on_node2; i++) {
    on_node2 = run_kv(m, c, key2, false).node == 2;
    if (!on_node2) sleep_ms(20);
  }
  assert_true(on_node2);

  /* REMOVED_NODE: out of the ring and the pools at once (before the refresh), and the refresh
   * (system.peers no longer lists it) keeps it out */
  prime_peers_without_node2(m);
  cqlmock_log_clear(m, -1);
  assert_true(cqlmock_push_topology_change(m, -1, "REMOVED_NODE", 2) >= 1);
  for (int i = 0; i < 50 && cqlmock_node_connection_count(m, 2) > 0; i++) sleep_ms(10);
  assert_int_equal(cqlmock_node_connection_count(m, 2), 0);
  assert_int_equal(cqlmock_log_count(m, -1, CQLMOCK_OP_QUERY, "SELECT keyspace_name"),
                   0);                                 /* no refresh yet */
  assert_int_equal(run_kv(m, c, key2, false).node, 0); /* node 2's range wrapped to node 0 */
  assert_true(cqlmock_log_wait(m, -1, CQLMOCK_OP_QUERY, "SELECT keyspace_name", 1, 3000));
  sleep_ms(100);
  for (int i = 0; i < 6; i++) assert_int_not_equal(run_query(m, c, "SELECT r FROM ks.t", false, 0).node, 2);
  assert_int_equal(cqlmock_node_connection_count(m, 2), 0);
  /* NEW_NODE with the node listed again: back in the ring */
  cqlmock_prime_clear(m);
  prime_pk_statement(m, KV_INSERT, 2);
  assert_true(cqlmock_push_topology_change(m, -1, "NEW_NODE", 2) >= 1);
  assert_true(wait_until_connected(m, 2, 3000));
  on_node2 = 0;
  for (int i = 0; i < 50 && !on_node2; i++) {
    on_node2 = run_kv(m, c, key2, false).node == 2;
    if (!on_node2) sleep_ms(20);
  }
  assert_true(on_node2);
  cql_client_close(c);
  cqlmock_stop(m);
}

/* ---- 7. the first PREPARE moves on to the next host ----------------------------------------- */

static void first_prepare_fails_once(cqlmock *m, bool close_connection) {
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_ANY, NULL);
  cqlmock_prime_on(p, CQLMOCK_ON_PREPARE);
  cqlmock_prime_times(p, 1);
  if (close_connection)
    cqlmock_prime_close_connection(p);
  else
    cqlmock_prime_no_answer(p);
  assert_int_equal(cqlmock_prime_add(m, p), 0);
}

/* The first two PREPAREs of q went to two different nodes. */
static void assert_prepare_moved(cqlmock *m, const char *q) {
  size_t n;
  cqlmock_request *log = cqlmock_log(m, -1, &n);
  int nodes[2], k = 0;
  for (size_t i = 0; i < n && k < 2; i++)
    if (log[i].opcode == CQLMOCK_OP_PREPARE && log[i].query && strcmp(log[i].query, q) == 0)
      nodes[k++] = log[i].node;
  cqlmock_log_free(log, n);
  assert_int_equal(k, 2);
  assert_int_not_equal(nodes[0], nodes[1]);
}

static void test_prepare_next_host(void **state) {
  (void)state;
  cqlmock *m = start_mock(2, NULL, NULL);
  cql_config cfg = test_config(m);
  cfg.request_timeout_ms = 200;
  cfg.heartbeat_interval_ms = 0;
  cql_client *c = connect_client(&cfg);
  /* the first PREPARE is never answered: after its timeout, the next host prepares it */
  first_prepare_fails_once(m, false);
  const char *q1 = "SELECT v FROM ks.t WHERE k = ?";
  cql_statement *st = cql_statement_new(q1, 1, true);
  cql_statement_bind_int64(st, 0, 1);
  outcome o = run_statement(m, c, st);
  cql_statement_free(st);
  assert_int_equal(o.code, 0);
  assert_true(o.elapsed_ms >= 190);
  assert_prepare_moved(m, q1);
  /* wait for its background PREPARE on the first host, which must not meet the next prime */
  assert_true(cqlmock_log_wait(m, -1, CQLMOCK_OP_PREPARE, q1, 3, 2000));
  /* the first PREPARE's connection is dropped: same */
  first_prepare_fails_once(m, true);
  const char *q2 = "SELECT w FROM ks.t WHERE k = ?";
  st = cql_statement_new(q2, 1, true);
  cql_statement_bind_int64(st, 0, 2);
  o = run_statement(m, c, st);
  cql_statement_free(st);
  assert_int_equal(o.code, 0);
  assert_prepare_moved(m, q2);
  /* a PREPARE the server rejects is not retried elsewhere */
  cqlmock_prime *bad = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "SELEC bad ?");
  cqlmock_prime_on(bad, CQLMOCK_ON_PREPARE);
  cqlmock_prime_error(bad, 0x2000, "syntax");
  assert_int_equal(cqlmock_prime_add(m, bad), 0);
  st = cql_statement_new("SELEC bad ?", 1, true);
  o = run_statement(m, c, st);
  cql_statement_free(st);
  assert_int_equal(o.code, 0x2000);
  assert_int_equal(cqlmock_log_count(m, -1, CQLMOCK_OP_PREPARE, "SELEC bad"), 1);
  cql_client_close(c);
  cqlmock_stop(m);
}

/* ---- 8. schema agreement ----------------------------------------------------------------------- */

static void prime_disagreeing_peers(cqlmock *m) {
  cqlmock_prime *p =
      cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "SELECT host_id, schema_version FROM system.peers_v2");
  const char *names[] = {"host_id", "schema_version"};
  const char *types[] = {"uuid", "uuid"};
  cqlmock_prime_columns(p, "system", "peers_v2", 2, names, types);
  static const char *const versions[] = {"00000000-0000-1000-8000-000000000000",
                                         "11111111-1111-1111-8111-111111111111",
                                         "22222222-2222-1222-8222-222222222222"};
  for (int i = 0; i < 3; i++) {
    char id[64];
    snprintf(id, sizeof(id), "00000000-0000-4000-8000-0000000000%02d", i + 1);
    const char *row[] = {id, versions[i]};
    cqlmock_prime_row(p, row);
  }
  assert_int_equal(cqlmock_prime_add(m, p), 0);
}

typedef struct agreement_wait {
  pthread_mutex_t mu;
  bool done;
  int32_t code;
} agreement_wait;

static void on_agreement(const cql_error *err, void *ud) {
  agreement_wait *w = ud;
  pthread_mutex_lock(&w->mu);
  w->code = err ? err->code : 0;
  w->done = true;
  pthread_mutex_unlock(&w->mu);
}

/* Every peers read went to the node that answered the system.local read just before it. */
static void assert_peers_read_on_same_host(cqlmock *m) {
  size_t n;
  cqlmock_request *log = cqlmock_log(m, -1, &n);
  int local_node = -1, checked = 0;
  for (size_t i = 0; i < n; i++) {
    if (!log[i].query) continue;
    if (strncmp(log[i].query, "SELECT schema_version FROM system.local", 39) == 0) local_node = log[i].node;
    if (strncmp(log[i].query, "SELECT host_id, schema_version FROM system.peers", 48) == 0) {
      assert_int_equal(log[i].node, local_node);
      checked++;
    }
  }
  cqlmock_log_free(log, n);
  assert_true(checked >= 1);
}

static void test_schema_agreement(void **state) {
  (void)state;
  cqlmock *m = start_mock(3, NULL, NULL);
  cql_config cfg = test_config(m);
  cql_client *c = connect_client(&cfg);
  char buf[256];
  /* same version everywhere (the mock's default): agreed at once */
  uint64_t t0 = now_ms();
  assert_int_equal(cql_client_wait_schema_agreement(c, 2000, buf, sizeof(buf)), 0);
  assert_true(now_ms() - t0 < 500);
  /* differing versions: a timeout error after the budget */
  prime_disagreeing_peers(m);
  cqlmock_log_clear(m, -1);
  t0 = now_ms();
  assert_int_equal(cql_client_wait_schema_agreement(c, 500, buf, sizeof(buf)), CQL_ERR_CLIENT_TIMEOUT);
  uint64_t took = now_ms() - t0;
  assert_true(took >= 490 && took < 1500);
  assert_non_null(strstr(buf, "still differ"));
  assert_true(
      cqlmock_log_count(m, -1, CQLMOCK_OP_QUERY, "SELECT host_id, schema_version FROM system.peers") >= 2);
  assert_peers_read_on_same_host(m);
  /* asynchronously: agreement once the versions converge */
  agreement_wait w = {PTHREAD_MUTEX_INITIALIZER, false, -1};
  t0 = now_ms();
  assert_true(cql_client_schema_agreement(c, 5000, on_agreement, &w));
  sleep_ms(400);
  pthread_mutex_lock(&w.mu);
  assert_false(w.done);
  pthread_mutex_unlock(&w.mu);
  cqlmock_prime_clear(m);
  bool done = false;
  for (int i = 0; i < 300 && !done; i++) {
    pthread_mutex_lock(&w.mu);
    done = w.done;
    pthread_mutex_unlock(&w.mu);
    if (!done) sleep_ms(10);
  }
  assert_true(done);
  assert_int_equal(w.code, 0);
  assert_true(now_ms() - t0 < 2000);
  cql_client_close(c);
  cqlmock_stop(m);
}

/* ---- 9. prepare on all hosts, re-prepare on up ---------------------------------------------- */

static void test_prepare_on_all_hosts(void **state) {
  (void)state;
  cqlmock *m = start_mock(3, NULL, NULL);
  prime_pk_statement(m, KV_INSERT, 2);
  cql_config cfg = test_config(m);
  cfg.heartbeat_interval_ms = 0;
  cql_client *c = connect_client(&cfg);
  assert_int_equal(run_kv(m, c, 1, false).code, 0);
  for (int i = 0; i < 3; i++) assert_true(cqlmock_log_wait(m, i, CQLMOCK_OP_PREPARE, KV_INSERT, 1, 2000));
  /* a restarted node forgot its ids: the cache is prepared there as soon as it is back */
  assert_int_equal(cqlmock_node_stop(m, 1), 0);
  cqlmock_log_clear(m, -1);
  assert_int_equal(cqlmock_node_start(m, 1), 0);
  assert_true(cqlmock_log_wait(m, 1, CQLMOCK_OP_PREPARE, KV_INSERT, 1, 3000));
  int64_t key = 0;
  for (int i = 0; i < 5; i++) {
    key = key_owned_by(1, 3, key + 1);
    outcome o = run_kv(m, c, key, false);
    assert_int_equal(o.code, 0);
    assert_int_equal(o.node, 1);
  }
  /* no UNPREPARED round trip: five EXECUTEs, no replay, no second PREPARE */
  assert_int_equal(cqlmock_log_count(m, 1, CQLMOCK_OP_EXECUTE, NULL), 5);
  assert_int_equal(cqlmock_log_count(m, 1, CQLMOCK_OP_PREPARE, KV_INSERT), 1);
  cql_client_close(c);

  /* switched off: a single PREPARE */
  cqlmock_log_clear(m, -1);
  cfg.prepare_on_all_hosts = false;
  c = connect_client(&cfg);
  assert_int_equal(run_kv(m, c, 1, false).code, 0);
  sleep_ms(200);
  assert_int_equal(cqlmock_log_count(m, -1, CQLMOCK_OP_PREPARE, KV_INSERT), 1);
  cql_client_close(c);
  cqlmock_stop(m);
}

/* ---- 10. total timeout budget -------------------------------------------------------------- */

static void test_total_timeout_budget(void **state) {
  (void)state;
  cqlmock *m = start_mock(3, NULL, NULL);
  cql_config cfg = test_config(m);
  cfg.request_timeout_ms = 200; /* per attempt */
  cfg.heartbeat_interval_ms = 0;
  cql_client *c = connect_client(&cfg);
  /* A (100 ms budget) sends a PREPARE that takes 150 ms on every node and gives up; B, waiting
   * for that PREPARE without a budget, is not failed by A's budget: it prepares again */
  const char *slow = "SELECT s FROM ks.t WHERE k = ?";
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, slow);
  cqlmock_prime_on(p, CQLMOCK_ON_PREPARE);
  cqlmock_prime_delay(p, 150);
  assert_int_equal(cqlmock_prime_add(m, p), 0);
  async_result a = {PTHREAD_MUTEX_INITIALIZER, false, 0, "", ""}, b = a;
  cql_statement *st = cql_statement_new(slow, 1, true);
  cql_statement_bind_int64(st, 0, 7);
  cql_statement_set_timeout(st, 100);
  assert_true(cql_client_execute(c, st, on_async, &a));
  cql_statement_set_timeout(st, 0);
  assert_true(cql_client_execute(c, st, on_async, &b));
  cql_statement_free(st);
  wait_async(&a);
  wait_async(&b);
  assert_int_equal(a.code, CQL_ERR_CLIENT_TIMEOUT);
  assert_int_equal(b.code, 0);
  for (int i = 0; i < 3; i++) cqlmock_node_set_answering(m, i, false);
  /* idempotent, 350 ms budget: 200 ms on a first host, the remaining 150 ms on a second */
  outcome o = run_query(m, c, "SELECT budget FROM ks.t", true, 350);
  assert_int_equal(o.code, CQL_ERR_CLIENT_TIMEOUT);
  assert_true(o.elapsed_ms >= 340 && o.elapsed_ms < 550);
  assert_non_null(strstr(o.err, "statement timeout of 350 ms"));
  assert_true(cqlmock_log_wait(m, -1, CQLMOCK_OP_QUERY, "SELECT budget", 2, 1000));
  assert_int_equal(cqlmock_log_count(m, -1, CQLMOCK_OP_QUERY, "SELECT budget"), 2);
  /* a budget below the attempt timeout bounds the single attempt */
  o = run_query(m, c, "SELECT short FROM ks.t", true, 120);
  assert_int_equal(o.code, CQL_ERR_CLIENT_TIMEOUT);
  assert_true(o.elapsed_ms >= 110 && o.elapsed_ms < 300);
  /* without a budget, every host of the plan gets its full attempt */
  o = run_query(m, c, "SELECT nobudget FROM ks.t", true, 0);
  assert_int_equal(o.code, CQL_ERR_CLIENT_TIMEOUT);
  assert_true(o.elapsed_ms >= 590);
  assert_int_equal(cqlmock_log_count(m, -1, CQLMOCK_OP_QUERY, "SELECT nobudget"), 3);
  cql_client_close(c);
  cqlmock_stop(m);
}

/* ---- 11. back-pressure: the pending queue ------------------------------------------------------- */

/* Submits n QUERYs of q at once (each with budget_ms, 0 = none) into res[0..n). */
static void submit_many(cql_client *c, const char *q, unsigned budget_ms, async_result *res, int n) {
  cql_statement *st = cql_statement_new(q, 0, false);
  cql_statement_set_idempotent(st, true);
  if (budget_ms) cql_statement_set_timeout(st, budget_ms);
  for (int i = 0; i < n; i++) {
    res[i] = (async_result){PTHREAD_MUTEX_INITIALIZER, false, 0, "", ""};
    assert_true(cql_client_execute(c, st, on_async, &res[i]));
  }
  cql_statement_free(st);
}

static void test_backpressure_queue(void **state) {
  (void)state;
  cqlmock *m = start_mock(1, NULL, NULL);
  cql_config cfg = test_config(m);
  cfg.heartbeat_interval_ms = 0;
  cfg.max_requests_per_connection = 4;
  cfg.max_pending_per_host = 8;
  cql_client *c = connect_client(&cfg);
  prime_text_row(m, "SELECT slow FROM ks.t", "slow", 150);
  /* 4 in flight + 8 queued: all 12 are answered, none fails, 4 at a time */
  async_result res[13];
  uint64_t t0 = now_ms();
  submit_many(c, "SELECT slow FROM ks.t", 0, res, 12);
  assert_true(cqlmock_log_wait(m, 0, CQLMOCK_OP_QUERY, "SELECT slow", 4, 1000));
  sleep_ms(60);
  assert_int_equal(cqlmock_log_count(m, 0, CQLMOCK_OP_QUERY, "SELECT slow"), 4); /* the cap holds */
  for (int i = 0; i < 12; i++) {
    wait_async(&res[i]);
    assert_int_equal(res[i].code, 0);
    assert_string_equal(res[i].text, "slow");
  }
  uint64_t elapsed = now_ms() - t0;
  assert_true(elapsed >= 3 * 150); /* three waves of four */
  assert_int_equal(cqlmock_log_count(m, 0, CQLMOCK_OP_QUERY, "SELECT slow"), 12);
  /* 4 in flight + 8 queued + 1: only the one past the queue bound fails, at once */
  cqlmock_log_clear(m, -1);
  submit_many(c, "SELECT slow FROM ks.t", 0, res, 13);
  int full = 0;
  for (int i = 0; i < 13; i++) {
    wait_async(&res[i]);
    if (res[i].code == CQL_ERR_QUEUE_FULL) {
      full++;
    } else {
      assert_int_equal(res[i].code, 0);
    }
  }
  assert_int_equal(full, 1);
  assert_int_equal(cqlmock_log_count(m, 0, CQLMOCK_OP_QUERY, "SELECT slow"), 12);
  cql_client_close(c);
  cqlmock_stop(m);
}

static void test_backpressure_deadline(void **state) {
  (void)state;
  cqlmock *m = start_mock(1, NULL, NULL);
  cql_config cfg = test_config(m);
  cfg.heartbeat_interval_ms = 0;
  cfg.max_requests_per_connection = 1;
  cfg.request_timeout_ms = 400;
  cql_client *c = connect_client(&cfg);
  prime_text_row(m, "SELECT slow FROM ks.t", "slow", 300);
  /* the first holds the only stream for 300 ms; the second's own 100 ms budget ends while it
   * waits in the queue: it fails with a client timeout at ~100 ms, never reaching the server */
  async_result first[1], queued[1];
  submit_many(c, "SELECT slow FROM ks.t", 0, first, 1);
  assert_true(cqlmock_log_wait(m, 0, CQLMOCK_OP_QUERY, "SELECT slow", 1, 1000));
  uint64_t t0 = now_ms();
  submit_many(c, "SELECT slow FROM ks.t", 100, queued, 1);
  wait_async(&queued[0]);
  uint64_t waited = now_ms() - t0;
  assert_int_equal(queued[0].code, CQL_ERR_CLIENT_TIMEOUT);
  assert_true(waited >= 90 && waited < 250);
  wait_async(&first[0]);
  assert_int_equal(first[0].code, 0);
  assert_int_equal(cqlmock_log_count(m, 0, CQLMOCK_OP_QUERY, "SELECT slow"), 1);
  /* an in-flight request that times out frees its stream's place under the cap (the id stays
   * orphaned): the queued one is sent then (~400 ms), and answered 300 ms later */
  prime_text_row(m, "SELECT slower FROM ks.t", "slower", 1000);
  submit_many(c, "SELECT slower FROM ks.t", 0, first, 1);
  assert_true(cqlmock_log_wait(m, 0, CQLMOCK_OP_QUERY, "SELECT slower", 1, 1000));
  t0 = now_ms();
  submit_many(c, "SELECT slow FROM ks.t", 0, queued, 1);
  wait_async(&first[0]);
  assert_int_equal(first[0].code, CQL_ERR_CLIENT_TIMEOUT); /* 1000 ms answer, 400 ms attempt */
  wait_async(&queued[0]);
  waited = now_ms() - t0;
  assert_int_equal(queued[0].code, 0);
  assert_true(waited >= 650);
  /* a queued request is cancelled with the client */
  submit_many(c, "SELECT slower FROM ks.t", 0, first, 1);
  submit_many(c, "SELECT slow FROM ks.t", 0, queued, 1);
  cql_client_close(c);
  assert_true(first[0].done && queued[0].done);
  assert_int_equal(queued[0].code, CQL_ERR_CLIENT_CLOSED);
  cqlmock_stop(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_auth),
      cmocka_unit_test(test_heartbeat),
      cmocka_unit_test(test_orphaned_streams),
      cmocka_unit_test(test_unresponsive_node),
      cmocka_unit_test(test_connection_closed_mid_request),
      cmocka_unit_test(test_events),
      cmocka_unit_test(test_prepare_next_host),
      cmocka_unit_test(test_schema_agreement),
      cmocka_unit_test(test_prepare_on_all_hosts),
      cmocka_unit_test(test_total_timeout_budget),
      cmocka_unit_test(test_backpressure_queue),
      cmocka_unit_test(test_backpressure_deadline),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
