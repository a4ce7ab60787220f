/* Unit tests for the cqlmock test server, driven over raw loopback sockets with the codec
 * (cql/message.h) as an independent client: handshake, auth, system tables, primes, paging,
 * prepared ids, errors, actions (close/silence/delay), events, batches, node control, the log
 * and the JSON script/command layer. Every socket read is bounded by a poll timeout. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../cqlmock/cqlmock.h"
#include "../cqlmock/script.h"
#include "cql/message.h"

#define IO_TIMEOUT_MS 3000

/* ---- a tiny blocking client ---- */

typedef struct client {
  int fd;
  cql_frame_reader reader;
  int16_t next_stream;
} client;

static int connect_to(const char *host, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, host, &addr.sin_addr);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
  if (fd >= 0) close(fd);
  return -1;
}

static void client_open(client *c, cqlmock *m, int node) {
  c->fd = connect_to(cqlmock_node_host(m, node), cqlmock_node_port(m, node));
  assert_true(c->fd >= 0);
  cql_frame_reader_init(&c->reader, CQL_FRAMING_NONE, 0);
  c->next_stream = 1;
}

static void client_close(client *c) {
  close(c->fd);
  cql_frame_reader_free(&c->reader);
}

static int16_t send_msg_version(client *c, int version, const cql_message *msg) {
  cql_writer w;
  cql_writer_init(&w);
  int16_t stream = c->next_stream++;
  assert_int_equal(cql_message_encode_frame(&w, version, 0, stream, msg), 0);
  assert_true(write(c->fd, w.data, w.len) == (ssize_t)w.len);
  cql_writer_free(&w);
  return stream;
}

static int16_t send_msg(client *c, const cql_message *msg) { return send_msg_version(c, 4, msg); }

/* 1: a message (decoded into *out), 0: timeout, -1: connection closed. */
static int recv_msg_timeout(client *c, cql_message *out, cql_frame_header *h, int timeout_ms) {
  for (;;) {
    const uint8_t *body;
    int rc = cql_frame_reader_next(&c->reader, h, &body);
    if (rc == 1) {
      assert_int_equal(cql_message_decode(out, h, body, h->length), 0);
      return 1;
    }
    assert_int_equal(rc, 0);
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0) return 0;
    uint8_t buf[65536];
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n <= 0) return -1;
    assert_int_equal(cql_frame_reader_feed(&c->reader, buf, (size_t)n), 0);
  }
}

static void recv_msg(client *c, cql_message *out, cql_frame_header *h) {
  assert_int_equal(recv_msg_timeout(c, out, h, IO_TIMEOUT_MS), 1);
}

static void send_simple(client *c, uint8_t opcode) {
  cql_message msg;
  cql_message_init(&msg, opcode);
  send_msg(c, &msg);
}

static void send_startup(client *c, int version) {
  static const cql_str_pair opts[] = {{CQL_STR("CQL_VERSION"), CQL_STR("3.0.0")}};
  cql_message msg;
  cql_message_init(&msg, CQL_OP_STARTUP);
  msg.u.startup.options = opts;
  msg.u.startup.n_options = 1;
  send_msg_version(c, version, &msg);
}

static void expect_opcode(client *c, uint8_t opcode) {
  cql_message r;
  cql_frame_header h;
  recv_msg(c, &r, &h);
  assert_int_equal(r.opcode, opcode);
  cql_message_free(&r);
}

static void handshake(client *c, cqlmock *m, int node) {
  client_open(c, m, node);
  send_startup(c, 4);
  expect_opcode(c, CQL_OP_READY);
}

static void send_query(client *c, const char *text, const cql_query_params *params) {
  cql_message msg;
  cql_message_init(&msg, CQL_OP_QUERY);
  msg.u.query.query = cql_str_of(text);
  if (params)
    msg.u.query.params = *params;
  else
    msg.u.query.params.consistency = CQL_CONSISTENCY_ONE;
  send_msg(c, &msg);
}

/* Sends a QUERY and receives its answer into *r (caller frees). */
static void query(client *c, const char *text, const cql_query_params *params, cql_message *r) {
  cql_frame_header h;
  send_query(c, text, params);
  recv_msg(c, r, &h);
}

static void expect_error(const cql_message *r, int32_t code) {
  assert_int_equal(r->opcode, CQL_OP_ERROR);
  assert_int_equal(r->u.error.code, code);
}

static int32_t cell_int(const cql_message *r, int row, int col) {
  int32_t v = 0;
  assert_int_equal(
      cql_value_get_int(r->u.result.rows.cells[row * r->u.result.rows.meta.column_count + col], &v), 0);
  return v;
}

static const cql_value *cell(const cql_message *r, int row, int col) {
  return &r->u.result.rows.cells[row * r->u.result.rows.meta.column_count + col];
}

static bool text_is(cql_value v, const char *s) {
  return v.len == (int32_t)strlen(s) && memcmp(v.ptr, s, v.len) == 0;
}

static int column_index(const cql_message *r, const char *name) {
  for (int i = 0; i < r->u.result.rows.meta.column_count; i++)
    if (cql_str_eq(r->u.result.rows.meta.columns[i].name, name)) return i;
  return -1;
}

/* ---- tests ---- */

static void handshake_and_version_negotiation(void **state) {
  (void)state;
  cqlmock *m = cqlmock_start(NULL);
  assert_non_null(m);
  client c;
  client_open(&c, m, 0);
  /* v5 is refused with the message drivers parse, in a frame they can read. */
  send_startup(&c, 5);
  cql_message r;
  cql_frame_header h;
  recv_msg(&c, &r, &h);
  expect_error(&r, CQL_ERROR_PROTOCOL);
  assert_true(cql_str_eq(r.u.error.message,
                         "Invalid or unsupported protocol version (5); supported versions are (4/v4)"));
  assert_int_equal(cql_header_protocol(&h), 4);
  cql_message_free(&r);
  /* Statements before STARTUP are refused. */
  send_query(&c, "SELECT * FROM system.local", NULL);
  recv_msg(&c, &r, &h);
  expect_error(&r, CQL_ERROR_PROTOCOL);
  cql_message_free(&r);
  send_simple(&c, CQL_OP_OPTIONS);
  recv_msg(&c, &r, &h);
  assert_int_equal(r.opcode, CQL_OP_SUPPORTED);
  bool versions = false;
  for (size_t i = 0; i < r.u.supported.n_entries; i++)
    if (cql_str_eq(r.u.supported.entries[i].key, "PROTOCOL_VERSIONS"))
      versions =
          r.u.supported.entries[i].n_values == 1 && cql_str_eq(r.u.supported.entries[i].values[0], "4/v4");
  assert_true(versions);
  cql_message_free(&r);
  send_startup(&c, 4);
  expect_opcode(&c, CQL_OP_READY);
  client_close(&c);
  assert_int_equal(cqlmock_log_count(m, 0, CQLMOCK_OP_STARTUP, NULL), 2);
  cqlmock_stop(m);

  /* A v3-capable cluster speaks v3 and lists it. */
  m = cqlmock_start(&(cqlmock_config){.min_protocol_version = 3});
  client_open(&c, m, 0);
  send_startup(&c, 3);
  recv_msg(&c, &r, &h);
  assert_int_equal(r.opcode, CQL_OP_READY);
  assert_int_equal(cql_header_protocol(&h), 3);
  cql_message_free(&r);
  send_startup(&c, 5);
  recv_msg(&c, &r, &h);
  assert_true(cql_str_eq(r.u.error.message,
                         "Invalid or unsupported protocol version (5); supported versions are (3/v3, 4/v4)"));
  cql_message_free(&r);
  client_close(&c);
  cqlmock_stop(m);
}

static void auth(client *c, cqlmock *m, const char *user, const char *pass, uint8_t expect) {
  client_open(c, m, 0);
  send_startup(c, 4);
  cql_message r;
  cql_frame_header h;
  recv_msg(c, &r, &h);
  assert_int_equal(r.opcode, CQL_OP_AUTHENTICATE);
  assert_true(cql_str_eq(r.u.authenticator, "org.apache.cassandra.auth.PasswordAuthenticator"));
  cql_message_free(&r);
  cql_writer token;
  cql_writer_init(&token);
  cql_sasl_plain_token(&token, user, pass);
  cql_message msg;
  cql_message_init(&msg, CQL_OP_AUTH_RESPONSE);
  msg.u.auth_token = cql_value_of(token.data, (int32_t)token.len);
  send_msg(c, &msg);
  cql_writer_free(&token);
  recv_msg(c, &r, &h);
  assert_int_equal(r.opcode, expect);
  if (expect == CQL_OP_ERROR) assert_int_equal(r.u.error.code, CQL_ERROR_BAD_CREDENTIALS);
  cql_message_free(&r);
}

static void password_authentication(void **state) {
  (void)state;
  cqlmock *m = cqlmock_start(&(cqlmock_config){.username = "alice", .password = "s3cret"});
  client c;
  auth(&c, m, "alice", "wrong", CQL_OP_ERROR);
  cql_message r;
  query(&c, "SELECT * FROM system.local", NULL, &r); /* still not authenticated */
  expect_error(&r, CQL_ERROR_PROTOCOL);
  cql_message_free(&r);
  client_close(&c);
  auth(&c, m, "alice", "s3cret", CQL_OP_AUTH_SUCCESS);
  query(&c, "SELECT * FROM system.local", NULL, &r);
  assert_int_equal(r.u.result.kind, CQL_RESULT_ROWS);
  cql_message_free(&r);
  client_close(&c);
  cqlmock_stop(m);
}

static void system_tables_describe_the_cluster(void **state) {
  (void)state;
  cqlmock_config cfg = {
      .nodes = 3, .keyspace = "chat", .replication = "{'class': 'NetworkTopologyStrategy', 'dc1': 3}"};
  cfg.node[2] = (cqlmock_node_config){.datacenter = "dc2", .rack = "r9", .tokens = "100,-200"};
  cqlmock *m = cqlmock_start(&cfg);
  assert_non_null(m);
  assert_string_equal(cqlmock_node_host(m, 2), "127.0.0.3");
  client c;
  handshake(&c, m, 0);
  cql_message r;
  query(&c, "SELECT * FROM system.local WHERE key='local'", NULL, &r);
  assert_int_equal(r.u.result.rows.row_count, 1);
  int hid = column_index(&r, "host_id"), part = column_index(&r, "partitioner"),
      rel = column_index(&r, "release_version");
  assert_true(hid >= 0 && part >= 0 && rel >= 0);
  uint8_t id[16];
  assert_int_equal(cql_value_get_uuid(*cell(&r, 0, hid), id), 0);
  assert_int_equal(id[15], 1);
  assert_true(text_is(*cell(&r, 0, part), "org.apache.cassandra.dht.Murmur3Partitioner"));
  assert_true(text_is(*cell(&r, 0, rel), "4.0.11"));
  cql_message_free(&r);

  /* Projection keeps the requested order; peers lists the other nodes. */
  query(&c, "SELECT rack, rpc_address, data_center, tokens FROM system.peers", NULL, &r);
  assert_int_equal(r.u.result.rows.meta.column_count, 4);
  assert_true(cql_str_eq(r.u.result.rows.meta.columns[0].name, "rack"));
  assert_int_equal(r.u.result.rows.meta.columns[3].type.id, CQL_TYPE_SET);
  assert_int_equal(r.u.result.rows.row_count, 2);
  const cql_value *addr = cell(&r, 1, 1);
  assert_int_equal(addr->len, 4);
  assert_int_equal(addr->ptr[3], 3);
  assert_true(text_is(*cell(&r, 1, 0), "r9"));
  assert_true(text_is(*cell(&r, 1, 2), "dc2"));
  /* set<text> {"-200", "100"}: count 2, then [int len][bytes] each */
  const cql_value *tokens = cell(&r, 1, 3);
  assert_int_equal(cql_load_u32(tokens->ptr), 2);
  assert_int_equal(cql_load_u32(tokens->ptr + 4), 3);
  assert_memory_equal(tokens->ptr + 8, "100", 3);
  cql_message_free(&r);

  query(&c, "SELECT native_address, native_port FROM system.peers_v2", NULL, &r);
  assert_int_equal(r.u.result.rows.row_count, 2);
  assert_int_equal(cell_int(&r, 0, 1), cqlmock_node_port(m, 1));
  cql_message_free(&r);

  query(&c, "SELECT nope FROM system.local", NULL, &r);
  expect_error(&r, CQL_ERROR_INVALID);
  cql_message_free(&r);

  query(&c, "SELECT * FROM system_schema.keyspaces WHERE keyspace_name = 'chat'", NULL, &r);
  assert_int_equal(r.u.result.rows.row_count, 1);
  const cql_value *repl = cell(&r, 0, 2); /* map<text,text> {class: NTS, dc1: "3"} */
  assert_int_equal(cql_load_u32(repl->ptr), 2);
  cql_message_free(&r);
  query(&c, "SELECT * FROM system_schema.tables", NULL, &r); /* unknown: empty, well-formed */
  assert_int_equal(r.u.result.kind, CQL_RESULT_ROWS);
  assert_int_equal(r.u.result.rows.row_count, 0);
  assert_int_equal(r.u.result.rows.meta.column_count, 1);
  cql_message_free(&r);
  query(&c, "USE chat", NULL, &r);
  assert_int_equal(r.u.result.kind, CQL_RESULT_SET_KEYSPACE);
  assert_true(cql_str_eq(r.u.result.keyspace, "chat"));
  cql_message_free(&r);
  client_close(&c);
  cqlmock_stop(m);
}

static cqlmock_prime *users_prime(void) {
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_PREFIX, "SELECT id, name, ok, at, uid FROM ks.users");
  cqlmock_prime_columns(p, "ks", "users", 5, (const char *[]){"id", "name", "ok", "at", "uid"},
                        (const char *[]){"int", "text", "boolean", "timestamp", "uuid"});
  return p;
}

static void primed_rows_and_paging(void **state) {
  (void)state;
  cqlmock *m = cqlmock_start(NULL);
  cqlmock_prime *p = users_prime();
  char id[8];
  for (int i = 1; i <= 5; i++) {
    snprintf(id, sizeof id, "%d", i);
    cqlmock_prime_row(p, (const char *[]){id, i == 2 ? NULL : "bob", "true", "2024-01-02T03:04:05.678Z",
                                          "6ba7b810-9dad-11d1-80b4-00c04fd430c8"});
  }
  assert_int_equal(cqlmock_prime_add(m, p), 0);
  client c;
  handshake(&c, m, 0);
  cql_message r;
  query(&c, "SELECT id, name, ok, at, uid FROM ks.users WHERE x = 1", NULL, &r);
  assert_int_equal(r.u.result.rows.row_count, 5);
  assert_int_equal(cell_int(&r, 4, 0), 5);
  assert_int_equal(cell(&r, 1, 1)->len, CQL_LEN_NULL);
  int64_t at;
  assert_int_equal(cql_value_get_bigint(*cell(&r, 0, 3), &at), 0);
  assert_int_equal(at, INT64_C(1704164645678));
  assert_true(cql_str_eq(r.u.result.rows.meta.columns[0].keyspace, "ks"));
  cql_message_free(&r);

  /* Pages of 2: 2 + 2 + 1, each page's state resumes the next. */
  cql_query_params params = {.consistency = CQL_CONSISTENCY_QUORUM, .page_size = 2};
  uint8_t state_buf[64];
  int total = 0, pages = 0;
  for (;;) {
    query(&c, "SELECT id, name, ok, at, uid FROM ks.users", &params, &r);
    assert_int_equal(r.u.result.kind, CQL_RESULT_ROWS);
    for (int i = 0; i < r.u.result.rows.row_count; i++) assert_int_equal(cell_int(&r, i, 0), ++total);
    pages++;
    bool more = r.u.result.rows.meta.flags & CQL_ROWS_FLAG_HAS_MORE_PAGES;
    if (more) {
      memcpy(state_buf, r.u.result.rows.meta.paging_state.ptr, (size_t)r.u.result.rows.meta.paging_state.len);
      params.paging_state = cql_value_of(state_buf, r.u.result.rows.meta.paging_state.len);
    }
    cql_message_free(&r);
    if (!more) break;
  }
  assert_int_equal(total, 5);
  assert_int_equal(pages, 3);
  /* A paging state replayed on another statement is refused. */
  query(&c, "SELECT id, name, ok, at, uid FROM ks.users WHERE other = 1", &params, &r);
  expect_error(&r, CQL_ERROR_PROTOCOL);
  cql_message_free(&r);
  assert_int_equal(cqlmock_log_count(m, 0, CQLMOCK_OP_QUERY, "SELECT id"), 5);
  size_t n;
  cqlmock_request *log = cqlmock_log(m, 0, &n);
  assert_int_equal(log[n - 2].page_size, 2);
  assert_int_equal(log[n - 2].consistency, CQL_CONSISTENCY_QUORUM);
  assert_true(log[n - 2].has_paging_state);
  cqlmock_log_free(log, n);
  client_close(&c);
  cqlmock_stop(m);
}

static void prepared_statements(void **state) {
  (void)state;
  cqlmock *m = cqlmock_start(&(cqlmock_config){.nodes = 2});
  const char *text = "SELECT id, name, ok, at, uid FROM ks.users WHERE k = ? AND c = ?";
  cqlmock_prime *p = users_prime();
  cqlmock_prime_row(p, (const char *[]){"7", "x", "false", "0", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"});
  cqlmock_prime_params(p, 2, (const char *[]){"k", "c"}, (const char *[]){"bigint", "int"}, 1,
                       (const uint16_t[]){0});
  assert_int_equal(cqlmock_prime_add(m, p), 0);
  client c;
  handshake(&c, m, 0);
  cql_message msg, r;
  cql_frame_header h;
  cql_message_init(&msg, CQL_OP_PREPARE);
  msg.u.prepare.query = cql_str_of(text);
  send_msg(&c, &msg);
  recv_msg(&c, &r, &h);
  assert_int_equal(r.u.result.kind, CQL_RESULT_PREPARED);
  uint8_t md5[16];
  unsigned md5_len;
  EVP_Digest(text, strlen(text), md5, &md5_len, EVP_md5(), NULL);
  assert_int_equal(r.u.result.prepared.id.len, 16);
  assert_memory_equal(r.u.result.prepared.id.ptr, md5, 16);
  assert_int_equal(r.u.result.prepared.meta.column_count, 2);
  assert_int_equal(r.u.result.prepared.meta.columns[0].type.id, CQL_TYPE_BIGINT);
  assert_int_equal(r.u.result.prepared.meta.pk_count, 1);
  assert_int_equal(r.u.result.prepared.meta.pk_indexes[0], 0);
  assert_int_equal(r.u.result.prepared.result_meta.column_count, 5);
  cql_message_free(&r);

  cql_values values;
  cql_values_init(&values);
  cql_values_add_bigint(&values, 1);
  cql_values_add_int(&values, 2);
  cql_message_init(&msg, CQL_OP_EXECUTE);
  msg.u.execute.id = cql_value_of(md5, 16);
  msg.u.execute.params = (cql_query_params){.consistency = CQL_CONSISTENCY_LOCAL_QUORUM,
                                            .values = values.items,
                                            .n_values = 2,
                                            .skip_metadata = true,
                                            .has_timestamp = true,
                                            .timestamp = 1234};
  send_msg(&c, &msg);
  recv_msg(&c, &r, &h);
  assert_int_equal(r.u.result.rows.row_count, 1);
  assert_true(r.u.result.rows.meta.flags & CQL_ROWS_FLAG_NO_METADATA);
  assert_int_equal(cell_int(&r, 0, 0), 7);
  cql_message_free(&r);
  size_t n;
  cqlmock_request *log = cqlmock_log(m, 0, &n);
  const cqlmock_request *ex = &log[n - 1];
  assert_int_equal(ex->opcode, CQLMOCK_OP_EXECUTE);
  assert_string_equal(ex->query, text);
  assert_memory_equal(ex->prepared_id, md5, 16);
  assert_int_equal(ex->values, 2);
  assert_int_equal(ex->consistency, CQL_CONSISTENCY_LOCAL_QUORUM);
  assert_true(ex->has_timestamp);
  assert_int_equal(ex->timestamp, 1234);
  cqlmock_log_free(log, n);

  /* A node that forgot (or never saw) the id answers UNPREPARED with it. */
  cqlmock_node_forget_prepared(m, 0);
  send_msg(&c, &msg);
  recv_msg(&c, &r, &h);
  expect_error(&r, CQL_ERROR_UNPREPARED);
  assert_memory_equal(r.u.error.unprepared_id.ptr, md5, 16);
  cql_message_free(&r);
  client c2;
  handshake(&c2, m, 1);
  send_msg(&c2, &msg);
  recv_msg(&c2, &r, &h);
  expect_error(&r, CQL_ERROR_UNPREPARED);
  cql_message_free(&r);
  client_close(&c2);

  /* Unprimed PREPARE: one blob marker per '?'. */
  cql_message_init(&msg, CQL_OP_PREPARE);
  msg.u.prepare.query = CQL_STR("INSERT INTO ks.t (a, b, c) VALUES (?, ?, '?')");
  send_msg(&c, &msg);
  recv_msg(&c, &r, &h);
  assert_int_equal(r.u.result.prepared.meta.column_count, 2);
  assert_int_equal(r.u.result.prepared.meta.columns[1].type.id, CQL_TYPE_BLOB);
  assert_true(r.u.result.prepared.result_meta.flags & CQL_ROWS_FLAG_NO_METADATA);
  cql_message_free(&r);
  cql_values_free(&values);
  client_close(&c);
  cqlmock_stop(m);
}

static void primed_errors_and_times(void **state) {
  (void)state;
  cqlmock *m = cqlmock_start(NULL);
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "INSERT 1");
  cqlmock_prime_write_timeout(p, CQL_CONSISTENCY_QUORUM, 1, 2, "BATCH_LOG");
  cqlmock_prime_times(p, 1);
  assert_int_equal(cqlmock_prime_add(m, p), 0);
  p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "INSERT 2");
  cqlmock_prime_unavailable(p, CQL_CONSISTENCY_ALL, 3, 1);
  assert_int_equal(cqlmock_prime_add(m, p), 0);
  p = cqlmock_prime_new(CQLMOCK_MATCH_ANY, NULL);
  cqlmock_prime_read_timeout(p, CQL_CONSISTENCY_ONE, 0, 1, false);
  cqlmock_prime_node(p, 1); /* another node: never matches here */
  assert_int_equal(cqlmock_prime_add(m, p), 0);
  p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "BAD");
  cqlmock_prime_error(p, CQL_ERROR_SYNTAX, "line 1:0 no viable alternative");
  assert_int_equal(cqlmock_prime_add(m, p), 0);

  client c;
  handshake(&c, m, 0);
  cql_message r;
  query(&c, "INSERT 1", NULL, &r);
  expect_error(&r, CQL_ERROR_WRITE_TIMEOUT);
  assert_int_equal(r.u.error.consistency, CQL_CONSISTENCY_QUORUM);
  assert_int_equal(r.u.error.received, 1);
  assert_int_equal(r.u.error.block_for, 2);
  assert_true(cql_str_eq(r.u.error.write_type, "BATCH_LOG"));
  cql_message_free(&r);
  query(&c, "INSERT 1", NULL, &r); /* used up: built-in Void */
  assert_int_equal(r.opcode, CQL_OP_RESULT);
  assert_int_equal(r.u.result.kind, CQL_RESULT_VOID);
  cql_message_free(&r);
  query(&c, "INSERT 2", NULL, &r);
  expect_error(&r, CQL_ERROR_UNAVAILABLE);
  assert_int_equal(r.u.error.required, 3);
  assert_int_equal(r.u.error.alive, 1);
  cql_message_free(&r);
  query(&c, "BAD", NULL, &r);
  expect_error(&r, CQL_ERROR_SYNTAX);
  assert_true(cql_str_eq(r.u.error.message, "line 1:0 no viable alternative"));
  cql_message_free(&r);
  client_close(&c);

  /* Builder mistakes are reported, not served. */
  p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "X");
  cqlmock_prime_columns(p, "ks", "t", 1, (const char *[]){"a"}, (const char *[]){"int"});
  cqlmock_prime_row(p, (const char *[]){"not a number"});
  assert_int_equal(cqlmock_prime_add(m, p), -1);
  p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "X");
  cqlmock_prime_columns(p, "ks", "t", 1, (const char *[]){"a"}, (const char *[]){"mystery"});
  assert_int_equal(cqlmock_prime_add(m, p), -1);
  p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "X");
  cqlmock_prime_error(p, CQL_ERROR_WRITE_TIMEOUT, "needs fields");
  assert_int_equal(cqlmock_prime_add(m, p), -1);
  cqlmock_stop(m);
}

static void other_results_and_per_node_primes(void **state) {
  (void)state;
  cqlmock *m = cqlmock_start(&(cqlmock_config){.nodes = 2});
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_PREFIX, "CREATE TABLE");
  cqlmock_prime_schema_change(p, "CREATED", "TABLE", "ks", "t");
  assert_int_equal(cqlmock_prime_add(m, p), 0);
  p = cqlmock_prime_new(CQLMOCK_MATCH_ANY, NULL);
  cqlmock_prime_error(p, CQL_ERROR_OVERLOADED, "too busy");
  cqlmock_prime_node(p, 1);
  assert_int_equal(cqlmock_prime_add(m, p), 0);
  p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "SELECT broken");
  cqlmock_prime_on(p, CQLMOCK_ON_PREPARE);
  cqlmock_prime_error(p, CQL_ERROR_SYNTAX, "no viable alternative");
  assert_int_equal(cqlmock_prime_add(m, p), 0);
  p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "SWITCH");
  cqlmock_prime_set_keyspace(p, "other");
  assert_int_equal(cqlmock_prime_add(m, p), 0);

  client c;
  handshake(&c, m, 0);
  cql_message r;
  query(&c, "CREATE TABLE ks.t (k int PRIMARY KEY)", NULL, &r);
  assert_int_equal(r.u.result.kind, CQL_RESULT_SCHEMA_CHANGE);
  assert_true(cql_str_eq(r.u.result.schema_change.change_type, "CREATED"));
  assert_true(cql_str_eq(r.u.result.schema_change.name, "t"));
  cql_message_free(&r);
  query(&c, "SWITCH", NULL, &r);
  assert_true(cql_str_eq(r.u.result.keyspace, "other"));
  cql_message_free(&r);
  cql_message msg;
  cql_frame_header h;
  cql_message_init(&msg, CQL_OP_PREPARE);
  msg.u.prepare.query = CQL_STR("SELECT broken");
  send_msg(&c, &msg);
  recv_msg(&c, &r, &h);
  expect_error(&r, CQL_ERROR_SYNTAX);
  cql_message_free(&r);
  query(&c, "SELECT x FROM ks.y", NULL, &r); /* node 0: not overloaded */
  assert_int_equal(r.u.result.kind, CQL_RESULT_ROWS);
  cql_message_free(&r);
  client_close(&c);
  handshake(&c, m, 1);
  query(&c, "SELECT x FROM ks.y", NULL, &r);
  expect_error(&r, CQL_ERROR_OVERLOADED);
  cql_message_free(&r);
  client_close(&c);
  cqlmock_stop(m);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void actions_close_silence_delay(void **state) {
  (void)state;
  cqlmock *m = cqlmock_start(NULL);
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "CLOSE");
  cqlmock_prime_close_connection(p);
  assert_int_equal(cqlmock_prime_add(m, p), 0);
  p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "SILENT");
  cqlmock_prime_no_answer(p);
  assert_int_equal(cqlmock_prime_add(m, p), 0);
  p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, "SLOW");
  cqlmock_prime_delay(p, 300);
  assert_int_equal(cqlmock_prime_add(m, p), 0);

  client c;
  handshake(&c, m, 0);
  cql_message r;
  cql_frame_header h;
  send_query(&c, "SILENT", NULL);
  assert_int_equal(recv_msg_timeout(&c, &r, &h, 200), 0);
  /* Delayed replies come later than an immediate one sent after them (out of order). */
  int64_t start = now_ms();
  send_query(&c, "SLOW", NULL);
  send_query(&c, "FAST", NULL);
  recv_msg(&c, &r, &h);
  assert_int_equal(h.stream, 4); /* FAST */
  cql_message_free(&r);
  recv_msg(&c, &r, &h);
  assert_int_equal(h.stream, 3); /* SLOW */
  assert_true(now_ms() - start >= 290);
  cql_message_free(&r);
  send_query(&c, "CLOSE", NULL);
  assert_int_equal(recv_msg_timeout(&c, &r, &h, IO_TIMEOUT_MS), -1);
  client_close(&c);
  assert_true(cqlmock_log_wait(m, 0, CQLMOCK_OP_QUERY, "CLOSE", 1, 1000));

  /* A node that stops answering still reads and logs. */
  handshake(&c, m, 0);
  cqlmock_node_set_answering(m, 0, false);
  send_simple(&c, CQL_OP_OPTIONS);
  assert_int_equal(recv_msg_timeout(&c, &r, &h, 200), 0);
  assert_true(cqlmock_log_wait(m, 0, CQLMOCK_OP_OPTIONS, NULL, 1, 1000));
  cqlmock_node_set_answering(m, 0, true);
  cqlmock_node_set_delay(m, 0, 100);
  start = now_ms();
  send_simple(&c, CQL_OP_OPTIONS);
  expect_opcode(&c, CQL_OP_SUPPORTED);
  assert_true(now_ms() - start >= 90);
  client_close(&c);
  cqlmock_stop(m);
}

static void events_reach_registered_connections(void **state) {
  (void)state;
  cqlmock *m = cqlmock_start(&(cqlmock_config){.nodes = 3});
  client c, quiet;
  handshake(&c, m, 0);
  handshake(&quiet, m, 0);
  static const cql_str kinds[] = {CQL_STR("STATUS_CHANGE"), CQL_STR("SCHEMA_CHANGE")};
  cql_message msg;
  cql_message_init(&msg, CQL_OP_REGISTER);
  msg.u.reg.events = kinds;
  msg.u.reg.n_events = 2;
  send_msg(&c, &msg);
  expect_opcode(&c, CQL_OP_READY);
  assert_int_equal(cqlmock_push_status_change(m, -1, "DOWN", 2), 1);
  assert_int_equal(cqlmock_push_topology_change(m, -1, "NEW_NODE", 1), 0); /* not registered */
  cql_message r;
  cql_frame_header h;
  recv_msg(&c, &r, &h);
  assert_int_equal(r.opcode, CQL_OP_EVENT);
  assert_int_equal(h.stream, -1);
  assert_int_equal(r.u.event.type, CQL_EVENT_STATUS_CHANGE);
  assert_true(cql_str_eq(r.u.event.change, "DOWN"));
  assert_int_equal(r.u.event.address.addr[3], 3);
  assert_int_equal(r.u.event.address.port, cqlmock_node_port(m, 2));
  cql_message_free(&r);
  assert_int_equal(cqlmock_push_schema_change(m, 0, "CREATED", "TABLE", "ks", "t"), 1);
  recv_msg(&c, &r, &h);
  assert_true(cql_str_eq(r.u.event.schema_change.name, "t"));
  cql_message_free(&r);
  assert_int_equal(recv_msg_timeout(&quiet, &r, &h, 100), 0);
  client_close(&c);
  client_close(&quiet);
  cqlmock_stop(m);
}

static void batches(void **state) {
  (void)state;
  cqlmock *m = cqlmock_start(NULL);
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_PREFIX, "INSERT INTO ks.fail");
  cqlmock_prime_on(p, CQLMOCK_ON_BATCH);
  cqlmock_prime_write_timeout(p, CQL_CONSISTENCY_QUORUM, 0, 2, "BATCH");
  assert_int_equal(cqlmock_prime_add(m, p), 0);
  client c;
  handshake(&c, m, 0);
  cql_values v;
  cql_values_init(&v);
  cql_values_add_int(&v, 1);
  cql_batch_entry entries[2] = {
      {.query = CQL_STR("INSERT INTO ks.ok (a) VALUES (?)"), .values = v.items, .n_values = 1},
      {.query = CQL_STR("INSERT INTO ks.ok (a) VALUES (2)")}};
  cql_message msg, r;
  cql_frame_header h;
  cql_message_init(&msg, CQL_OP_BATCH);
  msg.u.batch = (cql_batch_msg){.type = CQL_BATCH_UNLOGGED,
                                .statements = entries,
                                .n_statements = 2,
                                .params = {.consistency = CQL_CONSISTENCY_ONE}};
  send_msg(&c, &msg);
  recv_msg(&c, &r, &h);
  assert_int_equal(r.u.result.kind, CQL_RESULT_VOID);
  cql_message_free(&r);
  entries[1].query = CQL_STR("INSERT INTO ks.fail (a) VALUES (3)");
  send_msg(&c, &msg);
  recv_msg(&c, &r, &h);
  expect_error(&r, CQL_ERROR_WRITE_TIMEOUT);
  cql_message_free(&r);
  static const uint8_t unknown[16] = {1, 2, 3};
  entries[1] = (cql_batch_entry){.is_prepared = true, .id = cql_value_of(unknown, 16)};
  send_msg(&c, &msg);
  recv_msg(&c, &r, &h);
  expect_error(&r, CQL_ERROR_UNPREPARED);
  assert_memory_equal(r.u.error.unprepared_id.ptr, unknown, 16);
  cql_message_free(&r);
  size_t n;
  cqlmock_request *log = cqlmock_log(m, -1, &n);
  assert_int_equal(log[n - 1].opcode, CQLMOCK_OP_BATCH);
  assert_int_equal(log[n - 1].batch_count, 2);
  assert_int_equal(log[n - 1].batch_type, CQL_BATCH_UNLOGGED);
  assert_int_equal(log[n - 1].values, 1);
  assert_int_equal(log[n - 1].value_bytes, 4);
  assert_string_equal(log[n - 1].query, "INSERT INTO ks.ok (a) VALUES (?)");
  cqlmock_log_free(log, n);
  cql_values_free(&v);
  client_close(&c);
  cqlmock_stop(m);
}

/* A prime with a bound-value condition answers only requests carrying that value; the log
 * records the bytes of bound values and of the frame body; no_log keeps no log at all. */
static void value_conditions_and_sizes(void **state) {
  (void)state;
  cqlmock *m = cqlmock_start(NULL);
  const char *text = "SELECT name FROM ks.users WHERE id = ?";
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, text);
  cqlmock_prime_columns(p, "ks", "users", 1, (const char *[]){"name"}, (const char *[]){"text"});
  cqlmock_prime_when_value(p, 0, "bigint", "42");
  cqlmock_prime_row(p, (const char *[]){"answer"});
  assert_int_equal(cqlmock_prime_add(m, p), 0);
  p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, text);
  cqlmock_prime_when_value(p, 0, "bigint", "not a number");
  assert_int_equal(cqlmock_prime_add(m, p), -1); /* a bad condition is refused */
  client c;
  handshake(&c, m, 0);
  cql_values v;
  cql_values_init(&v);
  cql_values_add_bigint(&v, 42);
  cql_query_params params = {.consistency = CQL_CONSISTENCY_ONE, .values = v.items, .n_values = 1};
  cql_message r;
  query(&c, text, &params, &r);
  assert_int_equal(r.u.result.kind, CQL_RESULT_ROWS);
  assert_int_equal(r.u.result.rows.row_count, 1);
  assert_true(text_is(*cell(&r, 0, 0), "answer"));
  cql_message_free(&r);
  size_t n;
  cqlmock_request *log = cqlmock_log(m, -1, &n);
  assert_int_equal(log[n - 1].value_bytes, 8);
  assert_true(log[n - 1].body_length > strlen(text) + 8);
  cqlmock_log_free(log, n);
  cql_values_free(&v);
  cql_values_init(&v);
  cql_values_add_bigint(&v, 43);
  params.values = v.items;
  query(&c, text, &params, &r); /* another value: the built-in answer, no rows */
  assert_int_equal(r.u.result.kind, CQL_RESULT_ROWS);
  assert_int_equal(r.u.result.rows.row_count, 0);
  cql_message_free(&r);
  query(&c, text, NULL, &r); /* no values at all */
  assert_int_equal(r.u.result.rows.row_count, 0);
  cql_message_free(&r);
  cql_values_free(&v);
  client_close(&c);
  cqlmock_stop(m);

  m = cqlmock_start(&(cqlmock_config){.no_log = true});
  handshake(&c, m, 0);
  query(&c, "SELECT name FROM ks.users", NULL, &r);
  cql_message_free(&r);
  assert_int_equal(cqlmock_log_count(m, -1, 0, NULL), 0);
  client_close(&c);
  cqlmock_stop(m);
}

static void node_stop_and_restart(void **state) {
  (void)state;
  cqlmock *m = cqlmock_start(&(cqlmock_config){.nodes = 2});
  assert_int_equal(cqlmock_node_port(m, 0), cqlmock_node_port(m, 1));
  client c;
  handshake(&c, m, 1);
  assert_int_equal(cqlmock_node_connection_count(m, 1), 1);
  assert_int_equal(cqlmock_node_stop(m, 1), 0);
  cql_message r;
  cql_frame_header h;
  assert_int_equal(recv_msg_timeout(&c, &r, &h, IO_TIMEOUT_MS), -1); /* dropped */
  client_close(&c);
  assert_int_equal(connect_to(cqlmock_node_host(m, 1), cqlmock_node_port(m, 1)), -1); /* refused */
  assert_int_equal(cqlmock_node_start(m, 1), 0);
  handshake(&c, m, 1);
  assert_int_equal(cqlmock_node_close_connections(m, 1), 1);
  assert_int_equal(recv_msg_timeout(&c, &r, &h, IO_TIMEOUT_MS), -1);
  client_close(&c);
  cqlmock_log_clear(m, 1);
  assert_int_equal(cqlmock_log_count(m, 1, 0, NULL), 0);
  cqlmock_stop(m);
}

static void json_script_and_commands(void **state) {
  (void)state;
  cqlmock_config cfg = {0};
  char err[256];
  json_t *doc = json_loads(
      "{\"nodes\": 2, \"cluster_name\": \"scripted\", \"node_config\": [{\"datacenter\": \"east\"}]}", 0,
      NULL);
  assert_int_equal(cqlmock_script_config(doc, &cfg, err, sizeof err), 0);
  cqlmock *m = cqlmock_start(&cfg);
  json_decref(doc);
  assert_non_null(m);
  char reply[4096];
  cqlmock_script_command(m,
                         "prime {\"query\": \"SELECT v FROM ks.kv\", \"columns\": [[\"v\", \"list<int>\"], "
                         "[\"m\", \"map<text, bigint>\"]], \"rows\": [[[1, 2], {\"a\": 5}], [null, null]]}",
                         reply, sizeof reply);
  assert_string_equal(reply, "ok");
  cqlmock_script_command(
      m, "prime {\"query\": \"X\", \"result\": \"read_timeout\", \"consistency\": \"QUORUM\"}", reply,
      sizeof reply);
  assert_string_equal(reply, "ok");
  cqlmock_script_command(m, "prime {\"query\": \"Y\", \"result\": \"nonsense\"}", reply, sizeof reply);
  assert_string_equal(reply, "error unknown result 'nonsense'");
  client c;
  handshake(&c, m, 0);
  cql_message r;
  query(&c, "SELECT v FROM ks.kv", NULL, &r);
  assert_int_equal(r.u.result.rows.row_count, 2);
  const cql_value *list = cell(&r, 0, 0);
  assert_int_equal(cql_load_u32(list->ptr), 2);
  assert_int_equal(cql_load_u32(list->ptr + 8), 1); /* [n][len 4][1][len 4][2] */
  assert_int_equal(cell(&r, 1, 1)->len, CQL_LEN_NULL);
  cql_message_free(&r);
  query(&c, "X", NULL, &r);
  expect_error(&r, CQL_ERROR_READ_TIMEOUT);
  assert_int_equal(r.u.error.consistency, CQL_CONSISTENCY_QUORUM);
  cql_message_free(&r);
  query(&c, "SELECT data_center, cluster_name FROM system.local", NULL, &r);
  assert_true(text_is(*cell(&r, 0, 0), "east"));
  assert_true(text_is(*cell(&r, 0, 1), "scripted"));
  cql_message_free(&r);
  cqlmock_script_command(m, "count 0 QUERY SELECT v", reply, sizeof reply);
  assert_string_equal(reply, "ok 1");
  cqlmock_script_command(m, "count -1 ANY", reply, sizeof reply);
  assert_string_equal(reply, "ok 4");
  cqlmock_script_command(m, "log 0", reply, sizeof reply);
  assert_non_null(strstr(reply, "\"query\":\"X\""));
  assert_int_equal(cqlmock_script_command(m, "quit", reply, sizeof reply), 1);
  client_close(&c);
  cqlmock_stop(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(handshake_and_version_negotiation),
      cmocka_unit_test(password_authentication),
      cmocka_unit_test(system_tables_describe_the_cluster),
      cmocka_unit_test(primed_rows_and_paging),
      cmocka_unit_test(prepared_statements),
      cmocka_unit_test(primed_errors_and_times),
      cmocka_unit_test(other_results_and_per_node_primes),
      cmocka_unit_test(actions_close_silence_delay),
      cmocka_unit_test(events_reach_registered_connections),
      cmocka_unit_test(batches),
      cmocka_unit_test(value_conditions_and_sizes),
      cmocka_unit_test(node_stop_and_restart),
      cmocka_unit_test(json_script_and_commands),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
