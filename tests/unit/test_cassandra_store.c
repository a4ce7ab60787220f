/* Store flows of the Cassandra store against the cqlmock test server: the statements each
 * operation sends (and does not send), with their consistency, batch type and timestamps, and
 * how answers (LWT applied / not applied, rows, errors) become store results. The mock does
 * not store anything: every answer is primed. Every wait is bounded. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../cqlmock/cqlmock.h"
#include "core/ids.h"
#include "cql/message.h"
#include "store/cassandra/cassandra_cql.h"
#include "store/cassandra/cassandra_model.h"
#include "store/cassandra/cassandra_store.h"

#define WAIT_MS 8000
#define KS      "ks"

typedef struct fixture {
  cqlmock *mock;
  cass_cql *cql; /* statement texts for priming */
  store *st;
} fixture;

/* ---- waiting for a callback ---- */

typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
  store_status status;
  char detail[128];
  /* copies of results */
  message msg;
  bool replayed;
  char content[64];
  int64_t total;
  size_t count;
  bool has_more;
  int64_t ids[8];
  conversation convs[8];
  char contents[8][32]; /* of convs */
} waiter;

static void waiter_init(waiter *w) {
  memset(w, 0, sizeof *w);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
}

static void waiter_done(waiter *w, store_status status, const char *detail) {
  pthread_mutex_lock(&w->mu);
  w->status = status;
  snprintf(w->detail, sizeof w->detail, "%s", detail ? detail : "");
  w->done = true;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static void waiter_wait(waiter *w) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += WAIT_MS / 1000;
  pthread_mutex_lock(&w->mu);
  while (!w->done)
    if (pthread_cond_timedwait(&w->cv, &w->mu, &until) != 0) break;
  bool done = w->done;
  pthread_mutex_unlock(&w->mu);
  assert_true(done);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
}

static void on_send(void *arg, store_status status, const char *detail, const send_result *r) {
  waiter *w = arg;
  if (r) {
    w->msg = r->message;
    w->replayed = r->replayed;
    snprintf(w->content, sizeof w->content, "%.*s", (int)r->message.content_len, r->message.content);
    w->msg.content = NULL;
  }
  waiter_done(w, status, detail);
}

static void on_messages(void *arg, store_status status, const char *detail, const message_page *p) {
  waiter *w = arg;
  if (p) {
    w->total = p->total;
    w->count = p->count;
    w->has_more = p->has_more;
    for (size_t i = 0; i < p->count && i < 8; i++) w->ids[i] = p->items[i].id;
    if (p->count)
      snprintf(w->content, sizeof w->content, "%.*s", (int)p->items[0].content_len, p->items[0].content);
  }
  waiter_done(w, status, detail);
}

static void on_conversations(void *arg, store_status status, const char *detail, const conversation_page *p) {
  waiter *w = arg;
  if (p) {
    w->total = p->total;
    w->count = p->count;
    w->has_more = p->has_more;
    for (size_t i = 0; i < p->count && i < 8; i++) {
      w->convs[i] = p->items[i];
      snprintf(w->contents[i], sizeof w->contents[i], "%.*s", (int)p->items[i].last_message_content_len,
               p->items[i].last_message_content);
      w->convs[i].last_message_content = NULL;
    }
  }
  waiter_done(w, status, detail);
}

static void on_conversation(void *arg, store_status status, const char *detail, const conversation *c) {
  waiter *w = arg;
  if (c) {
    w->convs[0] = *c;
    snprintf(w->content, sizeof w->content, "%.*s", (int)c->last_message_content_len,
             c->last_message_content);
    w->convs[0].last_message_content = NULL;
  }
  waiter_done(w, status, detail);
}

static void on_ping(void *arg, store_status status, const char *detail) { waiter_done(arg, status, detail); }

/* ---- priming ---- */

static const char *text_of(fixture *f, cass_stmt s) { return f->cql->text[s]; }

static cqlmock_prime *rows_prime(fixture *f, cass_stmt s, size_t ncols, const char *const names[],
                                 const char *const types[]) {
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, text_of(f, s));
  cqlmock_prime_columns(p, KS, "t", ncols, names, types);
  return p;
}

static void prime_tables(cqlmock *m, const cass_cql *cql, bool all) {
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, cql->text[CASS_TABLES_LIST]);
  cqlmock_prime_columns(p, "system_schema", "tables", 1, (const char *[]){"table_name"},
                        (const char *[]){"text"});
  for (const char *const *t = CASS_TABLES; *t; t++)
    if (all || strcmp(*t, "node_leases") != 0) cqlmock_prime_row(p, (const char *[]){*t});
  assert_int_equal(cqlmock_prime_add(m, p), 0);
}

/* An LWT answer: applied, or not applied with the existing row. */
static void prime_lwt(fixture *f, cass_stmt s, size_t ncols, const char *const names[],
                      const char *const types[], const char *const cells[]) {
  cqlmock_prime *p = rows_prime(f, s, ncols, names, types);
  cqlmock_prime_row(p, cells);
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
}

static cassandra_store_config store_config(fixture *f, int node_id) {
  return (cassandra_store_config){.contact_points = cqlmock_contact_points(f->mock),
                                  .keyspace = KS,
                                  .request_timeout_ms = 2000,
                                  .node_id = node_id,
                                  .lease_renew_ms = 100};
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->mock = cqlmock_start(&(cqlmock_config){.nodes = 1, .keyspace = KS});
  assert_non_null(f->mock);
  f->cql = cass_cql_build(KS);
  prime_tables(f->mock, f->cql, true);
  cassandra_store_config cfg = store_config(f, 3);
  char err[256] = "";
  assert_int_equal(cassandra_store_open(&cfg, &f->st, err, sizeof err), 0);
  cqlmock_log_clear(f->mock, -1);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  if (f->st) store_close(f->st);
  cqlmock_stop(f->mock);
  cass_cql_free(f->cql);
  free(f);
  return 0;
}

static size_t executed(fixture *f, cass_stmt s) {
  return cqlmock_log_count(f->mock, -1, CQLMOCK_OP_EXECUTE, text_of(f, s));
}

/* The last logged request of `opcode` whose text starts with prefix (copied into *out). */
static bool last_request(fixture *f, uint8_t opcode, const char *prefix, cqlmock_request *out) {
  size_t n = 0;
  cqlmock_request *log = cqlmock_log(f->mock, -1, &n);
  bool found = false;
  for (size_t i = 0; i < n; i++)
    if (log[i].opcode == opcode && log[i].query && strncmp(log[i].query, prefix, strlen(prefix)) == 0) {
      *out = log[i];
      out->query = NULL;
      found = true;
    }
  cqlmock_log_free(log, n);
  return found;
}

static void send(fixture *f, int64_t from, int64_t to, const char *text, const char *key, waiter *w) {
  waiter_init(w);
  send_request req = {.sender_id = from,
                      .receiver_id = to,
                      .content = text,
                      .content_len = strlen(text),
                      .idempotency_key = key};
  store_send_message(f->st, &req, on_send, w);
  waiter_wait(w);
}

#define APPLIED_ONLY                                                                                         \
  1, (const char *[]){"[applied]"}, (const char *[]) { "boolean" }

/* ---- send ---- */

static void send_new_pair_claims_and_writes_one_batch(void **state) {
  fixture *f = *state;
  prime_lwt(f, CASS_PAIR_CLAIM, APPLIED_ONLY, (const char *[]){"true"});
  waiter w;
  send(f, 20, 10, "hello", NULL, &w);
  assert_int_equal(w.status, STORE_OK);
  assert_false(w.replayed);
  assert_true(id_is_valid(w.msg.id));
  assert_true(id_is_valid(w.msg.conversation_id));
  assert_int_equal(w.msg.sender_id, 20);
  assert_int_equal(w.msg.receiver_id, 10);
  assert_int_equal(w.msg.created_at_us, id_created_at_us(w.msg.id));
  assert_string_equal(w.content, "hello");

  assert_int_equal(executed(f, CASS_PAIR_GET), 1);
  assert_int_equal(executed(f, CASS_PAIR_CLAIM), 1);
  cqlmock_request rq;
  assert_true(last_request(f, CQLMOCK_OP_EXECUTE, text_of(f, CASS_PAIR_CLAIM), &rq));
  assert_int_equal(rq.consistency, CQL_CONSISTENCY_LOCAL_QUORUM);
  assert_int_equal(rq.serial_consistency, CQL_CONSISTENCY_LOCAL_SERIAL);
  /* one logged batch of 6 statements stamped with the message's created_at */
  assert_int_equal(cqlmock_log_count(f->mock, -1, CQLMOCK_OP_BATCH, NULL), 1);
  assert_true(last_request(f, CQLMOCK_OP_BATCH, text_of(f, CASS_MSG_INSERT), &rq));
  assert_int_equal(rq.batch_type, 0);
  assert_int_equal(rq.batch_count, 6);
  assert_int_equal(rq.values, 6 + 2 + 5 + 4 + 4 + 3);       /* per-user and unread rows: ids only */
  assert_int_equal(rq.value_bytes, 8 * 20 + 4 * 2 + 2 * 5); /* bigints, buckets, content twice */
  assert_int_equal(rq.consistency, CQL_CONSISTENCY_LOCAL_QUORUM);
  assert_true(rq.has_timestamp);
  assert_int_equal(rq.timestamp, w.msg.created_at_us);
  /* then the counter, once */
  assert_int_equal(executed(f, CASS_COUNTER_INCR), 1);

  /* the pair is cached: the next send goes straight to the batch */
  waiter w2;
  send(f, 10, 20, "back", NULL, &w2);
  assert_int_equal(w2.status, STORE_OK);
  assert_int_equal(w2.msg.conversation_id, w.msg.conversation_id);
  assert_true(w2.msg.id > w.msg.id);
  assert_int_equal(executed(f, CASS_PAIR_GET), 1);
  assert_int_equal(executed(f, CASS_PAIR_CLAIM), 1);
  assert_int_equal(cqlmock_log_count(f->mock, -1, CQLMOCK_OP_BATCH, NULL), 2);
  assert_int_equal(executed(f, CASS_COUNTER_INCR), 2);
}

static void send_pair_claim_lost_uses_the_winner(void **state) {
  fixture *f = *state;
  prime_lwt(f, CASS_PAIR_CLAIM, 4, (const char *[]){"[applied]", "user1_id", "user2_id", "conversation_id"},
            (const char *[]){"boolean", "bigint", "bigint", "bigint"},
            (const char *[]){"false", "1", "2", "4242"});
  waiter w;
  send(f, 1, 2, "hi", NULL, &w);
  assert_int_equal(w.status, STORE_OK);
  assert_int_equal(w.msg.conversation_id, 4242);
  assert_int_equal(executed(f, CASS_PAIR_CLAIM), 1);
}

static void send_existing_pair_needs_no_lwt(void **state) {
  fixture *f = *state;
  cqlmock_prime *p =
      rows_prime(f, CASS_PAIR_GET, 1, (const char *[]){"conversation_id"}, (const char *[]){"bigint"});
  cqlmock_prime_row(p, (const char *[]){"77"});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  waiter w;
  send(f, 5, 6, "x", NULL, &w);
  assert_int_equal(w.status, STORE_OK);
  assert_int_equal(w.msg.conversation_id, 77);
  assert_int_equal(executed(f, CASS_PAIR_CLAIM), 0);
  assert_int_equal(executed(f, CASS_COUNTER_INCR), 1);
}

static void prime_pair(fixture *f, const char *conversation_id) {
  cqlmock_prime *p =
      rows_prime(f, CASS_PAIR_GET, 1, (const char *[]){"conversation_id"}, (const char *[]){"bigint"});
  cqlmock_prime_row(p, (const char *[]){conversation_id});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
}

static void send_with_new_key_claims_it(void **state) {
  fixture *f = *state;
  prime_pair(f, "77");
  prime_lwt(f, CASS_IDEM_CLAIM, APPLIED_ONLY, (const char *[]){"true"});
  waiter w;
  send(f, 5, 6, "x", "key-1", &w);
  assert_int_equal(w.status, STORE_OK);
  assert_false(w.replayed);
  assert_int_equal(executed(f, CASS_IDEM_CLAIM), 1);
  cqlmock_request rq;
  assert_true(last_request(f, CQLMOCK_OP_EXECUTE, text_of(f, CASS_IDEM_CLAIM), &rq));
  assert_int_equal(rq.serial_consistency, CQL_CONSISTENCY_LOCAL_SERIAL);
  assert_int_equal(rq.values, 6);
  assert_int_equal(cqlmock_log_count(f->mock, -1, CQLMOCK_OP_BATCH, NULL), 1);
  assert_int_equal(executed(f, CASS_COUNTER_INCR), 1);
}

#define IDEM_ROW                                                                                             \
  7, (const char *[]){"[applied]",       "sender_id",  "key",        "content",                              \
                      "conversation_id", "message_id", "receiver_id"},                                       \
      (const char *[]) {                                                                                     \
    "boolean", "bigint", "text", "text", "bigint", "bigint", "bigint"                                        \
  }

static void send_replay_of_stored_message_writes_nothing(void **state) {
  fixture *f = *state;
  prime_pair(f, "77");
  int64_t old_id = ((INT64_C(1795000000000) - ID_EPOCH_MS) << 12) | (3 << 7);
  char old[32];
  snprintf(old, sizeof old, "%lld", (long long)old_id);
  prime_lwt(f, CASS_IDEM_CLAIM, IDEM_ROW,
            (const char *[]){"false", "5", "key-1", "original", "77", old, "6"});
  cqlmock_prime *p = rows_prime(f, CASS_MSG_GET, 2, (const char *[]){"message_id", "content"},
                                (const char *[]){"bigint", "text"});
  cqlmock_prime_row(p, (const char *[]){old, "original"});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  waiter w;
  send(f, 5, 6, "retry text", "key-1", &w);
  assert_int_equal(w.status, STORE_OK);
  assert_true(w.replayed);
  assert_int_equal(w.msg.id, old_id);
  assert_int_equal(w.msg.conversation_id, 77);
  assert_int_equal(w.msg.created_at_us, id_created_at_us(old_id));
  assert_string_equal(w.content, "original");
  assert_int_equal(executed(f, CASS_MSG_GET), 1);
  assert_int_equal(cqlmock_log_count(f->mock, -1, CQLMOCK_OP_BATCH, NULL), 0);
  assert_int_equal(executed(f, CASS_COUNTER_INCR), 0); /* replays never count */
}

static void send_replay_finishes_an_unwritten_message(void **state) {
  fixture *f = *state;
  prime_pair(f, "77");
  prime_lwt(f, CASS_IDEM_CLAIM, IDEM_ROW,
            (const char *[]){"false", "5", "key-2", "original", "77", "7340032000000000", "6"});
  waiter w; /* MSG_GET is not primed: no rows, the first attempt stopped after the claim */
  send(f, 5, 6, "retry text", "key-2", &w);
  assert_int_equal(w.status, STORE_OK);
  assert_true(w.replayed);
  assert_int_equal(w.msg.id, INT64_C(7340032000000000));
  cqlmock_request rq;
  assert_true(last_request(f, CQLMOCK_OP_BATCH, text_of(f, CASS_MSG_INSERT), &rq));
  assert_int_equal(rq.timestamp, id_created_at_us(INT64_C(7340032000000000))); /* the same upsert */
  assert_int_equal(executed(f, CASS_COUNTER_INCR), 1);                         /* first time it is stored */
}

static void send_batch_timeout_is_unavailable_and_not_counted(void **state) {
  fixture *f = *state;
  prime_pair(f, "77");
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, text_of(f, CASS_MSG_INSERT));
  cqlmock_prime_on(p, CQLMOCK_ON_BATCH);
  cqlmock_prime_write_timeout(p, CQL_CONSISTENCY_LOCAL_QUORUM, 1, 2, "BATCH");
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  waiter w;
  send(f, 5, 6, "x", NULL, &w);
  assert_int_equal(w.status, STORE_UNAVAILABLE);
  assert_string_equal(w.detail, "Database timed out");
  assert_int_equal(executed(f, CASS_COUNTER_INCR), 0);
}

static void send_counter_failure_still_stores(void **state) {
  fixture *f = *state;
  prime_pair(f, "77");
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, text_of(f, CASS_COUNTER_INCR));
  cqlmock_prime_write_timeout(p, CQL_CONSISTENCY_LOCAL_QUORUM, 1, 2, "COUNTER");
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  waiter w;
  send(f, 5, 6, "x", NULL, &w);
  assert_int_equal(w.status, STORE_OK);
  assert_int_equal(executed(f, CASS_COUNTER_INCR), 1); /* never retried */
}

/* Cassandra 4.0 refuses a multi-partition batch whose size exceeds batch_size_fail_threshold_in_kb
 * (50 KiB) with InvalidRequest "Batch too large". The size is IMutation.dataSize(): per row, the
 * clustering bytes and 8 bytes of liveness timestamp; per cell, 16 bytes (timestamp, TTL, local
 * deletion time) plus the value; partition keys are not counted. An upper bound of it from what
 * went over the wire: every bound value as a cell (16 + its bytes) plus 8 per statement. */
static void send_longest_message_batch_stays_under_the_batch_limit(void **state) {
  fixture *f = *state;
  prime_pair(f, "77");
  enum { CODE_POINTS = 4096, CHAR_BYTES = 4, FAIL_THRESHOLD = 50 * 1024 };
  char *text = malloc(CODE_POINTS * CHAR_BYTES + 1);
  assert_non_null(text);
  for (size_t i = 0; i < CODE_POINTS; i++) memcpy(text + i * CHAR_BYTES, "\xF0\x9F\x98\x80", CHAR_BYTES);
  text[CODE_POINTS * CHAR_BYTES] = '\0'; /* U+1F600 x 4096: the longest content the API accepts */
  waiter w;
  send(f, 5, 6, text, NULL, &w);
  free(text);
  assert_int_equal(w.status, STORE_OK);
  cqlmock_request rq;
  assert_true(last_request(f, CQLMOCK_OP_BATCH, text_of(f, CASS_MSG_INSERT), &rq));
  assert_int_equal(rq.batch_count, 6);
  /* the content is in the batch exactly twice (message row, conversations row) */
  assert_in_range(rq.value_bytes, 2 * CODE_POINTS * CHAR_BYTES, 2 * CODE_POINTS * CHAR_BYTES + 256);
  int64_t mutation_bound = rq.value_bytes + 16 * (int64_t)rq.values + 8 * (int64_t)rq.batch_count;
  assert_true(mutation_bound < FAIL_THRESHOLD - 16 * 1024); /* well under: > 16 KiB to spare */
  assert_true(rq.body_length < FAIL_THRESHOLD - 16 * 1024); /* and so is the whole encoded request */
}

static void send_rejects_bad_requests_without_io(void **state) {
  fixture *f = *state;
  waiter w;
  send(f, 5, 5, "x", NULL, &w);
  assert_int_equal(w.status, STORE_UNAVAILABLE);
  assert_int_equal(cqlmock_log_count(f->mock, -1, 0, NULL), 0);
}

/* ---- list messages ---- */

static void prime_conversation_exists(fixture *f, const char *count) {
  cqlmock_prime *p =
      rows_prime(f, CASS_CONV_EXISTS, 1, (const char *[]){"user1_id"}, (const char *[]){"bigint"});
  cqlmock_prime_row(p, (const char *[]){"1"});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  p = rows_prime(f, CASS_COUNTER_GET, 1, (const char *[]){"message_count"}, (const char *[]){"counter"});
  cqlmock_prime_row(p, (const char *[]){count});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
}

#define MSG_COLS                                                                                             \
  4, (const char *[]){"message_id", "sender_id", "receiver_id", "content"}, (const char *[]) {               \
    "bigint", "bigint", "bigint", "text"                                                                     \
  }

/* Buckets 300 and 298; bucket 300 holds ids 9000, 8000; bucket 298 holds id 1000. */
static void prime_two_buckets(fixture *f) {
  cqlmock_prime *p = rows_prime(f, CASS_BUCKETS_LIST, 1, (const char *[]){"bucket"}, (const char *[]){"int"});
  cqlmock_prime_row(p, (const char *[]){"300"});
  cqlmock_prime_row(p, (const char *[]){"298"});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  /* older bucket: answers every read after the first */
  p = rows_prime(f, CASS_MSG_PAGE, MSG_COLS);
  cqlmock_prime_row(p, (const char *[]){"1000", "1", "2", "oldest"});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  p = rows_prime(f, CASS_MSG_PAGE, MSG_COLS);
  cqlmock_prime_times(p, 1);
  cqlmock_prime_row(p, (const char *[]){"9000", "2", "1", "newest"});
  cqlmock_prime_row(p, (const char *[]){"8000", "1", "2", "middle"});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
}

static void list_messages_walks_buckets(void **state) {
  fixture *f = *state;
  prime_conversation_exists(f, "3");
  prime_two_buckets(f);
  waiter w;
  waiter_init(&w);
  message_query q = {.conversation_id = 77, .page = {.page = 1, .limit = 20}};
  store_list_messages(f->st, &q, on_messages, &w);
  waiter_wait(&w);
  assert_int_equal(w.status, STORE_OK);
  assert_int_equal(w.total, 3);
  assert_int_equal(w.count, 3);
  assert_false(w.has_more);
  assert_int_equal(w.ids[0], 9000);
  assert_int_equal(w.ids[1], 8000);
  assert_int_equal(w.ids[2], 1000);
  assert_string_equal(w.content, "newest");
  assert_int_equal(executed(f, CASS_BUCKETS_LIST), 1); /* a short window: no second listing */
  assert_int_equal(executed(f, CASS_MSG_PAGE), 2);     /* one read per bucket */
  assert_int_equal(executed(f, CASS_MSG_SKIP), 0);
}

static void list_messages_small_page_has_more(void **state) {
  fixture *f = *state;
  prime_conversation_exists(f, "3");
  prime_two_buckets(f);
  waiter w;
  waiter_init(&w);
  message_query q = {.conversation_id = 77, .page = {.page = 1, .limit = 2}};
  store_list_messages(f->st, &q, on_messages, &w);
  waiter_wait(&w);
  assert_int_equal(w.status, STORE_OK);
  assert_int_equal(w.count, 2);
  assert_true(w.has_more); /* the third row was fetched only to know that */
  assert_int_equal(w.ids[1], 8000);
}

static void list_messages_page_past_total_reads_nothing(void **state) {
  fixture *f = *state;
  prime_conversation_exists(f, "3");
  prime_two_buckets(f);
  waiter w;
  waiter_init(&w);
  message_query q = {.conversation_id = 77, .page = {.page = 5, .limit = 20}};
  store_list_messages(f->st, &q, on_messages, &w);
  waiter_wait(&w);
  assert_int_equal(w.status, STORE_OK);
  assert_int_equal(w.total, 3);
  assert_int_equal(w.count, 0);
  assert_false(w.has_more);
  assert_int_equal(executed(f, CASS_MSG_PAGE) + executed(f, CASS_MSG_SKIP), 0);
}

static void list_messages_unknown_conversation(void **state) {
  fixture *f = *state; /* nothing primed: every SELECT answers no rows */
  waiter w;
  waiter_init(&w);
  message_query q = {.conversation_id = 12345, .page = {.page = 1, .limit = 20}};
  store_list_messages(f->st, &q, on_messages, &w);
  waiter_wait(&w);
  assert_int_equal(w.status, STORE_NOT_FOUND);
  assert_string_equal(w.detail, "Conversation not found");
}

static void list_messages_unavailable(void **state) {
  fixture *f = *state;
  prime_conversation_exists(f, "3");
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, text_of(f, CASS_BUCKETS_LIST));
  cqlmock_prime_unavailable(p, CQL_CONSISTENCY_LOCAL_QUORUM, 2, 1);
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  waiter w;
  waiter_init(&w);
  message_query q = {.conversation_id = 77, .page = {.page = 1, .limit = 20}};
  store_list_messages(f->st, &q, on_messages, &w);
  waiter_wait(&w);
  assert_int_equal(w.status, STORE_UNAVAILABLE);
  assert_string_equal(w.detail, "Database unavailable");
  assert_null(strstr(w.detail, "SELECT"));
}

/* ---- conversations ---- */

#define USER_CONV_COLS                                                                                       \
  3, (const char *[]){"conversation_id", "other_user_id", "last_message_id"}, (const char *[]) {             \
    "bigint", "bigint", "bigint"                                                                             \
  }

/* The conversations row of conversation `id`, answering only reads of that id. */
static void prime_conversation_row(fixture *f, const char *id, const char *last_id, const char *content) {
  cqlmock_prime *p = rows_prime(
      f, CASS_CONV_GET, 5,
      (const char *[]){"conversation_id", "user1_id", "user2_id", "last_message_id", "last_message_content"},
      (const char *[]){"bigint", "bigint", "bigint", "bigint", "text"});
  cqlmock_prime_when_value(p, 0, "bigint", id);
  cqlmock_prime_row(p, (const char *[]){id, "1", "2", last_id, content});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
}

/* User 5's partition: conversations 11 (with user 3, last 500), 12 (9, 900), 13 (1, 100). */
static void prime_three_conversations(fixture *f) {
  cqlmock_prime *p = rows_prime(f, CASS_USER_CONVS, USER_CONV_COLS);
  cqlmock_prime_row(p, (const char *[]){"11", "3", "500"});
  cqlmock_prime_row(p, (const char *[]){"12", "9", "900"});
  cqlmock_prime_row(p, (const char *[]){"13", "1", "100"});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  prime_conversation_row(f, "11", "500", "b");
  prime_conversation_row(f, "12", "900", "a");
  prime_conversation_row(f, "13", "100", "c");
}

static void list_conversations_sorts_the_partition(void **state) {
  fixture *f = *state;
  prime_three_conversations(f);
  waiter w;
  waiter_init(&w);
  conversation_query q = {.user_id = 5, .page = {.page = 1, .limit = 2}};
  store_list_conversations(f->st, &q, on_conversations, &w);
  waiter_wait(&w);
  assert_int_equal(w.status, STORE_OK);
  assert_int_equal(w.total, 3);
  assert_int_equal(w.count, 2);
  assert_true(w.has_more);
  assert_int_equal(w.convs[0].id, 12);
  assert_int_equal(w.convs[0].user1_id, 5);
  assert_int_equal(w.convs[0].user2_id, 9);
  assert_string_equal(w.contents[0], "a");
  assert_int_equal(w.convs[1].id, 11);
  assert_int_equal(w.convs[1].user1_id, 3);
  assert_int_equal(w.convs[1].user2_id, 5);
  assert_int_equal(w.convs[1].last_message_at_us, id_created_at_us(500));
  assert_string_equal(w.contents[1], "b");
  /* one read of the partition, then exactly one `conversations` read per item of the page */
  assert_int_equal(executed(f, CASS_USER_CONVS), 1);
  assert_int_equal(executed(f, CASS_CONV_GET), 2);
  assert_int_equal(executed(f, CASS_MSG_GET), 0);
  cqlmock_request rq;
  assert_true(last_request(f, CQLMOCK_OP_EXECUTE, text_of(f, CASS_CONV_GET), &rq));
  assert_int_equal(rq.consistency, CQL_CONSISTENCY_LOCAL_QUORUM);

  waiter_init(&w);
  q.page = (page_request){.limit = 2,
                          .has_cursor = true,
                          .cursor = {.kind = CURSOR_CONVERSATIONS, .message_id = 500, .conversation_id = 11}};
  store_list_conversations(f->st, &q, on_conversations, &w);
  waiter_wait(&w);
  assert_int_equal(w.count, 1);
  assert_int_equal(w.convs[0].id, 13);
  assert_string_equal(w.contents[0], "c");
  assert_false(w.has_more);
  assert_int_equal(executed(f, CASS_CONV_GET), 3);
}

/* While a send's batch is being applied, `conversations` may name another last message than
 * the user's row: the page then reads the exact message its row names. */
static void list_conversations_reads_the_exact_message_when_rows_disagree(void **state) {
  fixture *f = *state;
  int64_t newer = ((INT64_C(1795000000000) - ID_EPOCH_MS) << 12) | (3 << 7);
  int64_t older = newer - (INT64_C(1000) << 12);
  char newer_text[32], older_text[32];
  snprintf(newer_text, sizeof newer_text, "%lld", (long long)newer);
  snprintf(older_text, sizeof older_text, "%lld", (long long)older);
  cqlmock_prime *p = rows_prime(f, CASS_USER_CONVS, USER_CONV_COLS);
  cqlmock_prime_row(p, (const char *[]){"21", "6", older_text});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  prime_conversation_row(f, "21", newer_text, "newer message");
  p = rows_prime(f, CASS_MSG_GET, 2, (const char *[]){"message_id", "content"},
                 (const char *[]){"bigint", "text"});
  cqlmock_prime_when_value(p, 2, "bigint", older_text);
  cqlmock_prime_row(p, (const char *[]){older_text, "older message"});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  waiter w;
  waiter_init(&w);
  conversation_query q = {.user_id = 5, .page = {.page = 1, .limit = 20}};
  store_list_conversations(f->st, &q, on_conversations, &w);
  waiter_wait(&w);
  assert_int_equal(w.status, STORE_OK);
  assert_int_equal(w.count, 1);
  assert_int_equal(w.convs[0].last_message_id, older); /* the sort key (and cursor) of the page */
  assert_string_equal(w.contents[0], "older message");
  assert_int_equal(executed(f, CASS_MSG_GET), 1);
}

/* User 5's conversation list answers 503 "Database timed out". */
static void list_times_out(fixture *f) {
  waiter w;
  waiter_init(&w);
  conversation_query q = {.user_id = 5, .page = {.page = 1, .limit = 20}};
  store_list_conversations(f->st, &q, on_conversations, &w);
  waiter_wait(&w);
  assert_int_equal(w.status, STORE_UNAVAILABLE);
  assert_string_equal(w.detail, "Database timed out");
}

static void list_conversations_item_read_failure_is_unavailable(void **state) {
  fixture *f = *state;
  cqlmock_prime *p = rows_prime(f, CASS_USER_CONVS, USER_CONV_COLS);
  cqlmock_prime_row(p, (const char *[]){"11", "3", "500"});
  cqlmock_prime_row(p, (const char *[]){"12", "9", "900"});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  prime_conversation_row(f, "11", "500", "b");
  p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, text_of(f, CASS_CONV_GET));
  cqlmock_prime_when_value(p, 0, "bigint", "12");
  cqlmock_prime_read_timeout(p, CQL_CONSISTENCY_LOCAL_QUORUM, 1, 2, false);
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  list_times_out(f);
}

static void list_conversations_of_a_new_user(void **state) {
  fixture *f = *state;
  waiter w;
  waiter_init(&w);
  conversation_query q = {.user_id = 5, .page = {.page = 1, .limit = 20}};
  store_list_conversations(f->st, &q, on_conversations, &w);
  waiter_wait(&w);
  assert_int_equal(w.status, STORE_OK);
  assert_int_equal(w.total, 0);
  assert_int_equal(w.count, 0);
}

/* ---- read state ---- */

/* The read_state partition of (user 5, conversation `id`): the mark (or NULL) and unread ids. */
static void prime_read_state(fixture *f, const char *id, const char *mark, size_t unread,
                             const char *const ids[]) {
  cqlmock_prime *p =
      rows_prime(f, CASS_READ_STATE_GET, 2, (const char *[]){"last_read_message_id", "message_id"},
                 (const char *[]){"bigint", "bigint"});
  cqlmock_prime_when_value(p, 1, "bigint", id);
  if (unread == 0) cqlmock_prime_row(p, (const char *[]){mark, NULL}); /* static row only */
  for (size_t i = 0; i < unread; i++) cqlmock_prime_row(p, (const char *[]){mark, ids[i]});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
}

static void list_conversations_counts_unread_rows(void **state) {
  fixture *f = *state;
  prime_three_conversations(f);
  prime_read_state(f, "12", "700", 2, (const char *[]){"900", "800"});
  prime_read_state(f, "11", "500", 0, NULL);
  /* 13: never read, no partition */
  waiter w;
  waiter_init(&w);
  conversation_query q = {.user_id = 5, .page = {.page = 1, .limit = 3}};
  store_list_conversations(f->st, &q, on_conversations, &w);
  waiter_wait(&w);
  assert_int_equal(w.status, STORE_OK);
  assert_int_equal(w.count, 3);
  assert_int_equal(w.convs[0].id, 12);
  assert_int_equal(w.convs[0].last_read_message_id, 700);
  assert_int_equal(w.convs[0].unread_count, 2);
  assert_int_equal(w.convs[1].id, 11);
  assert_int_equal(w.convs[1].last_read_message_id, 500);
  assert_int_equal(w.convs[1].unread_count, 0);
  assert_int_equal(w.convs[2].id, 13);
  assert_int_equal(w.convs[2].last_read_message_id, 0);
  assert_int_equal(w.convs[2].unread_count, 0);
  /* one read_state read per item of the page, next to its `conversations` read; no message reads */
  assert_int_equal(executed(f, CASS_READ_STATE_GET), 3);
  assert_int_equal(executed(f, CASS_CONV_GET), 3);
  assert_int_equal(executed(f, CASS_MSG_PAGE), 0);
}

static void list_conversations_read_state_failure_is_unavailable(void **state) {
  fixture *f = *state;
  cqlmock_prime *p = rows_prime(f, CASS_USER_CONVS, USER_CONV_COLS);
  cqlmock_prime_row(p, (const char *[]){"11", "3", "500"});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  prime_conversation_row(f, "11", "500", "b");
  p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, text_of(f, CASS_READ_STATE_GET));
  cqlmock_prime_read_timeout(p, CQL_CONSISTENCY_LOCAL_QUORUM, 1, 2, false);
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  list_times_out(f);
}

static void on_mark(void *arg, store_status status, const char *detail, const read_mark *m) {
  waiter *w = arg;
  if (m) {
    w->msg.id = m->last_read_message_id;
    w->msg.receiver_id = m->other_user_id;
    w->replayed = !m->advanced; /* reused: true when the mark did not move */
  }
  waiter_done(w, status, detail);
}

static store_status mark(fixture *f, int64_t conversation_id, int64_t user, int64_t message_id, waiter *w) {
  waiter_init(w);
  read_mark_request req = {.conversation_id = conversation_id, .user_id = user, .message_id = message_id};
  store_mark_read(f->st, &req, on_mark, w);
  waiter_wait(w);
  return w->status;
}

/* Conversation 40 between users 1 and 2, holding message `msg`, user 2's mark `current` (or none). */
static void prime_mark_checks(fixture *f, const char *msg, const char *current) {
  prime_conversation_row(f, "40", msg, "x");
  cqlmock_prime *p = rows_prime(f, CASS_MSG_GET, 2, (const char *[]){"message_id", "content"},
                                (const char *[]){"bigint", "text"});
  cqlmock_prime_when_value(p, 2, "bigint", msg);
  cqlmock_prime_row(p, (const char *[]){msg, "x"});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  if (current) {
    p = rows_prime(f, CASS_READ_MARK_GET, 1, (const char *[]){"last_read_message_id"},
                   (const char *[]){"bigint"});
    cqlmock_prime_row(p, (const char *[]){current});
    assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  }
}

static void mark_read_writes_one_partition_batch(void **state) {
  fixture *f = *state;
  int64_t msg = ((INT64_C(1795000000000) - ID_EPOCH_MS) << 12) | (3 << 7);
  char msg_text[32];
  snprintf(msg_text, sizeof msg_text, "%lld", (long long)msg);
  prime_mark_checks(f, msg_text, NULL);
  waiter w;
  assert_int_equal(mark(f, 40, 2, msg, &w), STORE_OK);
  assert_int_equal(w.msg.id, msg);
  assert_int_equal(w.msg.receiver_id, 1); /* the other participant */
  assert_false(w.replayed);
  assert_int_equal(executed(f, CASS_CONV_GET), 1);
  assert_int_equal(executed(f, CASS_MSG_GET), 1);
  assert_int_equal(executed(f, CASS_READ_MARK_GET), 1);
  /* the mark and the range delete of the unread rows: one unlogged single-partition batch,
   * stamped with the marked message's created_at, so retries and reordering converge */
  cqlmock_request rq;
  assert_int_equal(cqlmock_log_count(f->mock, -1, CQLMOCK_OP_BATCH, NULL), 1);
  assert_true(last_request(f, CQLMOCK_OP_BATCH, text_of(f, CASS_READ_MARK_SET), &rq));
  assert_int_equal(rq.batch_type, 1);
  assert_int_equal(rq.batch_count, 2);
  assert_int_equal(rq.values, 6);
  assert_true(rq.has_timestamp);
  assert_int_equal(rq.timestamp, id_created_at_us(msg));
  assert_int_equal(rq.consistency, CQL_CONSISTENCY_LOCAL_QUORUM);
}

static void mark_read_older_message_keeps_the_mark(void **state) {
  fixture *f = *state;
  prime_mark_checks(f, "1000", "5000");
  waiter w;
  assert_int_equal(mark(f, 40, 2, 1000, &w), STORE_OK);
  assert_int_equal(w.msg.id, 5000);
  assert_int_equal(w.msg.receiver_id, 1);
  assert_true(w.replayed);
  assert_int_equal(cqlmock_log_count(f->mock, -1, CQLMOCK_OP_BATCH, NULL), 0);
  assert_int_equal(mark(f, 40, 2, 5000, &w), STORE_INVALID); /* 5000 is not primed as a message */
}

static void mark_read_refusals(void **state) {
  fixture *f = *state;
  waiter w;
  assert_int_equal(mark(f, 40, 2, 1000, &w), STORE_NOT_FOUND); /* no such conversation */
  prime_mark_checks(f, "1000", NULL);
  assert_int_equal(mark(f, 40, 7, 1000, &w), STORE_NOT_FOUND); /* not a participant */
  assert_string_equal(w.detail, "Conversation not found");
  assert_int_equal(mark(f, 40, 2, 999, &w), STORE_INVALID);   /* not a message of it */
  assert_int_equal(mark(f, 40, 2, 0, &w), STORE_UNAVAILABLE); /* caller bug: no I/O */
  assert_int_equal(cqlmock_log_count(f->mock, -1, CQLMOCK_OP_BATCH, NULL), 0);
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, text_of(f, CASS_READ_MARK_GET));
  cqlmock_prime_read_timeout(p, CQL_CONSISTENCY_LOCAL_QUORUM, 1, 2, false);
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  assert_int_equal(mark(f, 40, 2, 1000, &w), STORE_UNAVAILABLE);
  assert_string_equal(w.detail, "Database timed out");
}

static void mark_read_batch_timeout_is_unavailable(void **state) {
  fixture *f = *state;
  prime_mark_checks(f, "1000", NULL);
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, text_of(f, CASS_READ_MARK_SET));
  cqlmock_prime_on(p, CQLMOCK_ON_BATCH);
  cqlmock_prime_write_timeout(p, CQL_CONSISTENCY_LOCAL_QUORUM, 1, 2, "BATCH");
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  waiter w;
  assert_int_equal(mark(f, 40, 2, 1000, &w), STORE_UNAVAILABLE);
  assert_true(cqlmock_log_count(f->mock, -1, CQLMOCK_OP_BATCH, NULL) >= 1); /* idempotent: may be retried */
}

static void get_conversation_found_and_not_found(void **state) {
  fixture *f = *state;
  waiter w;
  waiter_init(&w);
  store_get_conversation(f->st, 999, on_conversation, &w);
  waiter_wait(&w);
  assert_int_equal(w.status, STORE_NOT_FOUND);

  cqlmock_prime *p = rows_prime(
      f, CASS_CONV_GET, 5,
      (const char *[]){"conversation_id", "user1_id", "user2_id", "last_message_id", "last_message_content"},
      (const char *[]){"bigint", "bigint", "bigint", "bigint", "text"});
  cqlmock_prime_row(p, (const char *[]){"999", "4", "8", "123456789", "latest"});
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  waiter_init(&w);
  store_get_conversation(f->st, 999, on_conversation, &w);
  waiter_wait(&w);
  assert_int_equal(w.status, STORE_OK);
  assert_int_equal(w.convs[0].user1_id, 4);
  assert_int_equal(w.convs[0].user2_id, 8);
  assert_int_equal(w.convs[0].last_message_at_us, id_created_at_us(123456789));
  assert_string_equal(w.content, "latest");
}

static void get_conversation_unavailable(void **state) {
  fixture *f = *state;
  cqlmock_prime *p = cqlmock_prime_new(CQLMOCK_MATCH_EXACT, text_of(f, CASS_CONV_GET));
  cqlmock_prime_read_timeout(p, CQL_CONSISTENCY_LOCAL_QUORUM, 1, 2, false);
  assert_int_equal(cqlmock_prime_add(f->mock, p), 0);
  waiter w;
  waiter_init(&w);
  store_get_conversation(f->st, 999, on_conversation, &w);
  waiter_wait(&w);
  assert_int_equal(w.status, STORE_UNAVAILABLE);
  assert_string_equal(w.detail, "Database timed out");
}

static void ping_reads_system_local(void **state) {
  fixture *f = *state;
  waiter w;
  waiter_init(&w);
  store_ping(f->st, on_ping, &w);
  waiter_wait(&w);
  assert_int_equal(w.status, STORE_OK);
  assert_int_equal(cqlmock_log_count(f->mock, -1, 0, "SELECT release_version FROM system.local"),
                   2); /* PREPARE+EXECUTE */
}

/* ---- startup ---- */

static void open_without_tables_says_migrate(void **state) {
  fixture *f = *state;
  cqlmock_prime_clear(f->mock);
  prime_tables(f->mock, f->cql, false);
  cassandra_store_config cfg = store_config(f, 1);
  char err[256] = "";
  store *st = NULL;
  assert_int_equal(cassandra_store_open(&cfg, &st, err, sizeof err), -1);
  assert_non_null(strstr(err, "node_leases"));
  assert_non_null(strstr(err, "messenger migrate"));
  cfg.keyspace = "bad-name";
  assert_int_equal(cassandra_store_open(&cfg, &st, err, sizeof err), -1);
}

static void open_leases_a_node_id_and_releases_it(void **state) {
  fixture *f = *state;
  prime_lwt(f, CASS_LEASE_CLAIM, APPLIED_ONLY, (const char *[]){"true"});
  prime_lwt(f, CASS_LEASE_RENEW, APPLIED_ONLY, (const char *[]){"true"});
  cassandra_store_config cfg = store_config(f, -1);
  char err[256] = "";
  store *st = NULL;
  assert_int_equal(cassandra_store_open(&cfg, &st, err, sizeof err), 0);
  assert_int_equal(executed(f, CASS_LEASE_CLAIM), 1);
  assert_true(cqlmock_log_wait(f->mock, -1, CQLMOCK_OP_EXECUTE, text_of(f, CASS_LEASE_RENEW), 2, WAIT_MS));
  waiter w;
  waiter_init(&w);
  store_ping(st, on_ping, &w);
  waiter_wait(&w);
  assert_int_equal(w.status, STORE_OK);
  store_close(st);
  assert_int_equal(executed(f, CASS_LEASE_RELEASE), 1);
}

static void open_fails_when_every_node_id_is_leased(void **state) {
  fixture *f = *state;
  prime_lwt(f, CASS_LEASE_CLAIM, 3, (const char *[]){"[applied]", "node_id", "owner"},
            (const char *[]){"boolean", "int", "uuid"},
            (const char *[]){"false", "0", "00000000-0000-4000-8000-000000000001"});
  cassandra_store_config cfg = store_config(f, -1);
  char err[256] = "";
  store *st = NULL;
  assert_int_equal(cassandra_store_open(&cfg, &st, err, sizeof err), -1);
  assert_non_null(strstr(err, "MESSENGER_NODE_ID"));
  assert_int_equal(executed(f, CASS_LEASE_CLAIM), ID_NODE_MAX + 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(send_new_pair_claims_and_writes_one_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(send_pair_claim_lost_uses_the_winner, setup, teardown),
      cmocka_unit_test_setup_teardown(send_existing_pair_needs_no_lwt, setup, teardown),
      cmocka_unit_test_setup_teardown(send_with_new_key_claims_it, setup, teardown),
      cmocka_unit_test_setup_teardown(send_replay_of_stored_message_writes_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(send_replay_finishes_an_unwritten_message, setup, teardown),
      cmocka_unit_test_setup_teardown(send_batch_timeout_is_unavailable_and_not_counted, setup, teardown),
      cmocka_unit_test_setup_teardown(send_counter_failure_still_stores, setup, teardown),
      cmocka_unit_test_setup_teardown(send_longest_message_batch_stays_under_the_batch_limit, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(send_rejects_bad_requests_without_io, setup, teardown),
      cmocka_unit_test_setup_teardown(list_messages_walks_buckets, setup, teardown),
      cmocka_unit_test_setup_teardown(list_messages_small_page_has_more, setup, teardown),
      cmocka_unit_test_setup_teardown(list_messages_page_past_total_reads_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(list_messages_unknown_conversation, setup, teardown),
      cmocka_unit_test_setup_teardown(list_messages_unavailable, setup, teardown),
      cmocka_unit_test_setup_teardown(list_conversations_sorts_the_partition, setup, teardown),
      cmocka_unit_test_setup_teardown(list_conversations_reads_the_exact_message_when_rows_disagree, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(list_conversations_item_read_failure_is_unavailable, setup, teardown),
      cmocka_unit_test_setup_teardown(list_conversations_of_a_new_user, setup, teardown),
      cmocka_unit_test_setup_teardown(list_conversations_counts_unread_rows, setup, teardown),
      cmocka_unit_test_setup_teardown(list_conversations_read_state_failure_is_unavailable, setup, teardown),
      cmocka_unit_test_setup_teardown(mark_read_writes_one_partition_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(mark_read_older_message_keeps_the_mark, setup, teardown),
      cmocka_unit_test_setup_teardown(mark_read_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(mark_read_batch_timeout_is_unavailable, setup, teardown),
      cmocka_unit_test_setup_teardown(get_conversation_found_and_not_found, setup, teardown),
      cmocka_unit_test_setup_teardown(get_conversation_unavailable, setup, teardown),
      cmocka_unit_test_setup_teardown(ping_reads_system_local, setup, teardown),
      cmocka_unit_test_setup_teardown(open_without_tables_says_migrate, setup, teardown),
      cmocka_unit_test_setup_teardown(open_leases_a_node_id_and_releases_it, setup, teardown),
      cmocka_unit_test_setup_teardown(open_fails_when_every_node_id_is_leased, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
