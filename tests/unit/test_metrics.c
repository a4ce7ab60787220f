/* Unit tests for the metrics layer: the registry's counters, gauges and histograms, their text
 * exposition (format 0.0.4: HELP/TYPE lines, label escaping, cumulative buckets, +Inf, sum and
 * count), per-thread shards summed on scrape, slot exhaustion, collectors, /proc parsing, the
 * HTTP request families (api/request_metrics) and the metered store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/request_metrics.h"
#include "metrics/global.h"
#include "metrics/metrics.h"
#include "metrics/process.h"
#include "store/metered.h"

static char *render(metrics_registry *r) {
  size_t len = 0;
  char *text = metrics_render(r, &len);
  assert_non_null(text);
  assert_int_equal(strlen(text), len);
  return text;
}

static void assert_contains(const char *text, const char *part) {
  if (!strstr(text, part)) fail_msg("missing:\n%s\nin:\n%s", part, text);
}

static void counter_and_gauge_exposition(void **state) {
  (void)state;
  metrics_registry *r = metrics_registry_new(64);
  static const char *const labels[] = {"route", "status"};
  metrics_family *f = metrics_family_new(r, "app_requests_total", "Requests.\nSecond line \\ here.",
                                         METRICS_COUNTER, 2, labels);
  assert_non_null(f);
  const char *v1[] = {"/a/{}", "200"};
  const char *v2[] = {"quote\" back\\slash\nnewline", "500"};
  metrics_series *a = metrics_series_get(f, v1);
  metrics_series *b = metrics_series_get(f, v2);
  assert_ptr_equal(metrics_series_get(f, v1), a); /* same labels, same series */
  metrics_counter_add(a, 3);
  metrics_counter_add(a, 4);
  metrics_counter_add(b, 1);
  metrics_series *g =
      metrics_series_get(metrics_family_new(r, "app_depth", "Depth.", METRICS_GAUGE, 0, NULL), NULL);
  metrics_gauge_set(g, 10);
  metrics_gauge_add(g, -3);
  metrics_counter_add(g, 100);     /* wrong kind: ignored */
  metrics_histogram_observe(a, 5); /* wrong kind: ignored */
  metrics_counter_add(NULL, 1);    /* metrics off: no-op */
  assert_int_equal(metrics_series_value(a), 7);
  assert_int_equal(metrics_series_value(g), 7);
  char *text = render(r);
  assert_string_equal(text,
                      "# HELP app_requests_total Requests.\\nSecond line \\\\ here.\n"
                      "# TYPE app_requests_total counter\n"
                      "app_requests_total{route=\"/a/{}\",status=\"200\"} 7\n"
                      "app_requests_total{route=\"quote\\\" back\\\\slash\\nnewline\",status=\"500\"} 1\n"
                      "# HELP app_depth Depth.\n"
                      "# TYPE app_depth gauge\n"
                      "app_depth 7\n");
  free(text);
  metrics_registry_free(r);
}

static void histogram_exposition(void **state) {
  (void)state;
  metrics_registry *r = metrics_registry_new(64);
  static const uint64_t bounds[] = {1000, 10000, 100000}; /* microseconds */
  static const char *const labels[] = {"op"};
  metrics_family *f =
      metrics_histogram_new(r, "app_duration_seconds", "Durations.", 1, labels, bounds, 3, 1e-6);
  const char *v[] = {"read"};
  metrics_series *s = metrics_series_get(f, v);
  metrics_histogram_observe(s, 500);     /* <= 0.001 */
  metrics_histogram_observe(s, 1000);    /* le is inclusive */
  metrics_histogram_observe(s, 50000);   /* <= 0.1 */
  metrics_histogram_observe(s, 2000000); /* +Inf only */
  assert_int_equal(metrics_series_value(s), 4);
  char *text = render(r);
  assert_string_equal(text, "# HELP app_duration_seconds Durations.\n"
                            "# TYPE app_duration_seconds histogram\n"
                            "app_duration_seconds_bucket{op=\"read\",le=\"0.001\"} 2\n"
                            "app_duration_seconds_bucket{op=\"read\",le=\"0.01\"} 2\n"
                            "app_duration_seconds_bucket{op=\"read\",le=\"0.1\"} 3\n"
                            "app_duration_seconds_bucket{op=\"read\",le=\"+Inf\"} 4\n"
                            "app_duration_seconds_sum{op=\"read\"} 2.0515\n"
                            "app_duration_seconds_count{op=\"read\"} 4\n");
  free(text);
  metrics_registry_free(r);
}

static void rejects_bad_definitions_and_runs_out_of_slots(void **state) {
  (void)state;
  metrics_registry *r = metrics_registry_new(4);
  static const char *const bad_label[] = {"le"};
  static const char *const dash_label[] = {"a-b"};
  static const uint64_t unsorted[] = {5, 5};
  assert_null(metrics_family_new(r, "9starts_with_digit", "x", METRICS_COUNTER, 0, NULL));
  assert_null(metrics_family_new(r, "has space", "x", METRICS_COUNTER, 0, NULL));
  assert_null(metrics_family_new(r, "ok_name", "x", METRICS_COUNTER, 1, bad_label));
  assert_null(metrics_family_new(r, "ok_name", "x", METRICS_COUNTER, 1, dash_label));
  assert_null(metrics_family_new(r, "ok_name", "x", METRICS_HISTOGRAM, 0, NULL));
  assert_null(metrics_histogram_new(r, "ok_name", "x", 0, NULL, unsorted, 2, 1));
  assert_null(metrics_family_new(NULL, "ok_name", "x", METRICS_COUNTER, 0, NULL));
  static const char *const labels[] = {"n"};
  metrics_family *f = metrics_family_new(r, "c_total", "x", METRICS_COUNTER, 1, labels);
  const char *values[][1] = {{"1"}, {"2"}, {"3"}, {"4"}, {"5"}};
  for (int i = 0; i < 4; i++) assert_non_null(metrics_series_get(f, values[i]));
  assert_null(metrics_series_get(f, values[4])); /* 4 slots, all used */
  static const uint64_t bounds[] = {1};
  assert_null(metrics_series_get(metrics_histogram_new(r, "h", "x", 0, NULL, bounds, 1, 1), NULL));
  /* gauges take no slot */
  assert_non_null(metrics_series_get(metrics_family_new(r, "g", "x", METRICS_GAUGE, 0, NULL), NULL));
  metrics_registry_free(r);
  metrics_registry_free(NULL);
}

#define THREADS    8
#define INCREMENTS 20000

typedef struct hammer {
  metrics_series *counter, *histogram;
} hammer;

static void *hammer_main(void *p) {
  const hammer *h = p;
  for (int i = 0; i < INCREMENTS; i++) {
    metrics_counter_add(h->counter, 1);
    metrics_histogram_observe(h->histogram, (uint64_t)(i % 3));
  }
  return NULL;
}

/* Concurrent updates from many threads (each on its own shard) all count. */
static void shards_sum_concurrent_updates(void **state) {
  (void)state;
  metrics_registry *r = metrics_registry_new(32);
  static const uint64_t bounds[] = {0, 1};
  hammer h = {
      .counter = metrics_series_get(metrics_family_new(r, "c_total", "x", METRICS_COUNTER, 0, NULL), NULL),
      .histogram = metrics_series_get(metrics_histogram_new(r, "h", "x", 0, NULL, bounds, 2, 1), NULL),
  };
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &h), 0);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  assert_int_equal(metrics_series_value(h.counter), THREADS * INCREMENTS);
  assert_int_equal(metrics_series_value(h.histogram), THREADS * INCREMENTS);
  char *text = render(r);
  char want[128];
  snprintf(want, sizeof want, "c_total %d\n", THREADS * INCREMENTS);
  assert_contains(text, want);
  snprintf(want, sizeof want, "h_bucket{le=\"+Inf\"} %d\n", THREADS * INCREMENTS);
  assert_contains(text, want);
  free(text);
  metrics_registry_free(r);
}

/* More threads than shards: the extra ones share a shard and still count exactly. */
static void more_threads_than_shards(void **state) {
  (void)state;
  metrics_registry *r = metrics_registry_new(8);
  hammer h = {.counter =
                  metrics_series_get(metrics_family_new(r, "c_total", "x", METRICS_COUNTER, 0, NULL), NULL)};
  enum { MANY = METRICS_MAX_SHARDS + 8 };
  pthread_t *t = calloc(MANY, sizeof *t);
  assert_non_null(t);
  for (int i = 0; i < MANY; i++) assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &h), 0);
  for (int i = 0; i < MANY; i++) pthread_join(t[i], NULL);
  assert_int_equal(metrics_series_value(h.counter), (int64_t)MANY * INCREMENTS);
  free(t);
  metrics_registry_free(r);
}

static void write_two_families(void *ctx, metrics_text *out) {
  const int *calls = ctx;
  static const char *const names[] = {"host"};
  static const char *const values[] = {"a\"b"};
  metrics_text_family(out, "coll_value", "From a collector.", "gauge");
  metrics_text_sample(out, "coll_value", 1, names, values, *calls + 0.5);
}

static void collectors_run_at_scrape(void **state) {
  (void)state;
  metrics_registry *r = metrics_registry_new(8);
  int calls = 2;
  assert_true(metrics_collector_add(r, write_two_families, &calls));
  char *text = render(r);
  assert_string_equal(text, "# HELP coll_value From a collector.\n# TYPE coll_value gauge\n"
                            "coll_value{host=\"a\\\"b\"} 2.5\n");
  free(text);
  metrics_collector_remove(r, write_two_families, &calls);
  text = render(r);
  assert_string_equal(text, "");
  free(text);
  metrics_registry_free(r);
}

static void parses_proc_stat(void **state) {
  (void)state;
  /* a command name with spaces and a ')' must not shift the fields */
  const char *line = "4242 (we ird) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 3 0 "
                     "123456 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  process_stat st;
  assert_true(process_stat_parse(line, strlen(line), &st));
  assert_int_equal(st.cpu_ticks, 300);
  assert_int_equal(st.start_ticks, 123456);
  assert_int_equal(st.rss_pages, 2560);
  const char *short_line = "1 (x) S 1 2 3";
  assert_false(process_stat_parse(short_line, strlen(short_line), &st));
  assert_false(process_stat_parse("no paren", 8, &st));
}

static void process_collector_reports_this_process(void **state) {
  (void)state;
  metrics_registry *r = metrics_registry_new(8);
  assert_true(metrics_collector_add(r, process_metrics_collect, NULL));
  char *text = render(r);
  assert_contains(text, "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ");
  assert_contains(text, "# TYPE process_cpu_seconds_total counter\n");
  assert_contains(text, "\nprocess_start_time_seconds 1");
  assert_contains(text, "\nprocess_max_fds ");
  const char *fds = strstr(text, "\nprocess_open_fds ");
  assert_non_null(fds);
  assert_true(atol(fds + strlen("\nprocess_open_fds ")) >= 3); /* stdin, stdout, stderr at least */
  free(text);
  metrics_registry_free(r);
}

static void handler(http_exchange *ex, void *app) { (void)ex, (void)app; }

static void request_families(void **state) {
  (void)state;
  static const http_route routes[] = {{"GET", "/api/x/{}", handler}, {"POST", "/api/y", handler}};
  assert_null(request_metrics_new(NULL, routes, 2)); /* metrics off */
  request_metrics_observe(NULL, &routes[0], "GET", 200, 10);
  metrics_registry *r = metrics_registry_new(1024);
  request_metrics *m = request_metrics_new(r, routes, 2);
  assert_non_null(m);
  request_metrics_observe(m, &routes[0], "GET", 200, 150);
  request_metrics_observe(m, &routes[0], "GET", 200, 90000);
  request_metrics_observe(m, &routes[0], "HEAD", 200, 50);
  request_metrics_observe(m, &routes[1], "POST", 422, 300);
  request_metrics_observe(m, NULL, "BREW", 405, 20); /* unknown method, no route */
  request_metrics_observe(m, NULL, "GET", 0, 20);    /* connection ended before the response */
  request_metrics_observe(m, NULL, "GET", 1234, 20); /* out of range status */
  char *text = render(r);
  assert_contains(text, "# TYPE messenger_http_requests_total counter\n");
  assert_contains(text,
                  "messenger_http_requests_total{route=\"/api/x/{}\",method=\"GET\",status=\"200\"} 2\n");
  assert_contains(text,
                  "messenger_http_requests_total{route=\"/api/x/{}\",method=\"HEAD\",status=\"200\"} 1\n");
  assert_contains(text, "messenger_http_requests_total{route=\"/api/y\",method=\"POST\",status=\"422\"} 1\n");
  assert_contains(text,
                  "messenger_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"405\"} 1\n");
  assert_contains(text, "messenger_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"0\"} 1\n");
  assert_contains(text,
                  "messenger_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"599\"} 1\n");
  assert_contains(text,
                  "messenger_http_request_duration_seconds_bucket{route=\"/api/x/{}\",le=\"0.0001\"} 1\n");
  assert_contains(text,
                  "messenger_http_request_duration_seconds_bucket{route=\"/api/x/{}\",le=\"0.00025\"} 2\n");
  assert_contains(text, "messenger_http_request_duration_seconds_bucket{route=\"/api/x/{}\",le=\"0.1\"} 3\n");
  assert_contains(text, "messenger_http_request_duration_seconds_count{route=\"/api/x/{}\"} 3\n");
  assert_contains(text, "messenger_http_request_duration_seconds_count{route=\"unmatched\"} 3\n");
  free(text);
  request_metrics_free(m);
  metrics_registry_free(r);
}

/* ---- the metered store, over a fake store that answers inline or later ---- */

typedef struct fake_store {
  store base;
  int closed;
  store_ping_cb pending_cb; /* ping answers later, when the test says so */
  void *pending_arg;
} fake_store;

static void fake_send(store *s, const send_request *req, store_send_cb cb, void *arg) {
  (void)s;
  send_result res = {.message = {.id = 7, .sender_id = req->sender_id}};
  cb(arg, STORE_OK, NULL, &res);
}
static void fake_list_messages(store *s, const message_query *q, store_message_page_cb cb, void *arg) {
  (void)s, (void)q;
  cb(arg, STORE_NOT_FOUND, "Conversation not found", NULL);
}
static void fake_list_conversations(store *s, const conversation_query *q, store_conversation_page_cb cb,
                                    void *arg) {
  (void)s;
  conversation_page page = {.total = q->user_id};
  cb(arg, STORE_OK, NULL, &page);
}
static void fake_get_conversation(store *s, int64_t id, store_conversation_cb cb, void *arg) {
  (void)s;
  conversation c = {.id = id};
  cb(arg, STORE_OK, NULL, &c);
}
static void fake_mark_read(store *s, const read_mark_request *req, store_read_mark_cb cb, void *arg) {
  (void)s;
  read_mark m = {.conversation_id = req->conversation_id, .last_read_message_id = req->message_id};
  cb(arg, STORE_OK, NULL, &m);
}
static void fake_ping(store *s, store_ping_cb cb, void *arg) {
  fake_store *f = (fake_store *)s;
  f->pending_cb = cb;
  f->pending_arg = arg;
}
static void fake_close(store *s) { ((fake_store *)s)->closed++; }

static const store_vtable FAKE_VTABLE = {
    .backend = "fake",
    .send_message = fake_send,
    .list_messages = fake_list_messages,
    .list_conversations = fake_list_conversations,
    .get_conversation = fake_get_conversation,
    .mark_read = fake_mark_read,
    .ping = fake_ping,
    .close = fake_close,
};

typedef struct answers {
  int calls;
  store_status status;
  int64_t value;
} answers;

static void got_send(void *arg, store_status st, const char *detail, const send_result *r) {
  answers *a = arg;
  (void)detail;
  a->calls++, a->status = st, a->value = r->message.id;
}
static void got_messages(void *arg, store_status st, const char *detail, const message_page *p) {
  answers *a = arg;
  a->calls++, a->status = st, a->value = p ? 1 : 0;
  assert_string_equal(detail, "Conversation not found");
}
static void got_conversations(void *arg, store_status st, const char *detail, const conversation_page *p) {
  answers *a = arg;
  (void)detail;
  a->calls++, a->status = st, a->value = p->total;
}
static void got_conversation(void *arg, store_status st, const char *detail, const conversation *c) {
  answers *a = arg;
  (void)detail;
  a->calls++, a->status = st, a->value = c->id;
}
static void got_mark(void *arg, store_status st, const char *detail, const read_mark *m) {
  answers *a = arg;
  (void)detail;
  a->calls++, a->status = st, a->value = m->last_read_message_id;
}
static void got_ping(void *arg, store_status st, const char *detail) {
  answers *a = arg;
  (void)detail;
  a->calls++, a->status = st;
}

static void metered_store_forwards_and_times(void **state) {
  (void)state;
  fake_store inner = {.base = {.vt = &FAKE_VTABLE}};
  assert_ptr_equal(store_metered_wrap(&inner.base, NULL), &inner.base); /* metrics off: not wrapped */
  metrics_registry *r = metrics_registry_new(1024);
  store *s = store_metered_wrap(&inner.base, r);
  assert_ptr_not_equal(s, &inner.base);
  assert_string_equal(store_backend(s), "fake");
  /* every operation of the interface is forwarded (a new vtable entry must be added there) */
  const unsigned char *vt = (const unsigned char *)s->vt;
  for (size_t off = 0; off < sizeof(store_vtable); off += sizeof(void *)) {
    uintptr_t slot;
    memcpy(&slot, vt + off, sizeof slot);
    assert_true(slot != 0);
  }
  answers a = {0};
  send_request req = {.sender_id = 1, .receiver_id = 2, .content = "x", .content_len = 1};
  store_send_message(s, &req, got_send, &a);
  assert_int_equal(a.calls, 1);
  assert_int_equal(a.value, 7);
  message_query mq = {.conversation_id = 1};
  store_list_messages(s, &mq, got_messages, &a);
  assert_int_equal(a.status, STORE_NOT_FOUND);
  conversation_query cq = {.user_id = 42};
  store_list_conversations(s, &cq, got_conversations, &a);
  assert_int_equal(a.value, 42);
  store_get_conversation(s, 9, got_conversation, &a);
  assert_int_equal(a.value, 9);
  read_mark_request mr = {.conversation_id = 9, .user_id = 1, .message_id = 33};
  store_mark_read(s, &mr, got_mark, &a);
  assert_int_equal(a.value, 33);
  assert_int_equal(a.calls, 5);
  store_ping(s, got_ping, &a); /* answered later, from "another thread" */
  assert_int_equal(a.calls, 5);
  inner.pending_cb(inner.pending_arg, STORE_UNAVAILABLE, "down");
  assert_int_equal(a.calls, 6);
  assert_int_equal(a.status, STORE_UNAVAILABLE);
  char *text = render(r);
  for (size_t i = 0; i < 6; i++) {
    static const char *const ops[] = {"send_message",     "list_messages", "list_conversations",
                                      "get_conversation", "mark_read",     "ping"};
    char want[160];
    snprintf(want, sizeof want,
             "messenger_store_operation_duration_seconds_count{store=\"fake\",operation=\"%s\"} 1\n", ops[i]);
    assert_contains(text, want);
  }
  free(text);
  store_close(s);
  assert_int_equal(inner.closed, 1);
  metrics_registry_free(r);
}

static void global_families(void **state) {
  (void)state;
  assert_null(metrics_global());
  metrics_event_stream_opened(); /* before init: no-ops */
  metrics_sqlite_batch(3, 100);
  assert_true(metrics_global_init("9.9.9", "sqlite"));
  metrics_event_stream_opened();
  metrics_event_stream_opened();
  metrics_event_stream_dropped();
  metrics_event_stream_closed();
  metrics_sqlite_queue_depth(12);
  metrics_sqlite_batch(3, 1500);
  char *text = render(metrics_global());
  assert_contains(text, "messenger_build_info{version=\"9.9.9\",store=\"sqlite\"} 1\n");
  assert_contains(text, "\nmessenger_event_streams 1\n");
  assert_contains(text, "\nmessenger_event_streams_opened_total 2\n");
  assert_contains(text, "\nmessenger_event_streams_dropped_total 1\n");
  assert_contains(text, "\nmessenger_sqlite_writer_queue_depth 12\n");
  assert_contains(text, "messenger_sqlite_writer_batch_size_bucket{le=\"2\"} 0\n");
  assert_contains(text, "messenger_sqlite_writer_batch_size_bucket{le=\"4\"} 1\n");
  assert_contains(text, "messenger_sqlite_writer_batch_size_sum 3\n");
  assert_contains(text, "messenger_sqlite_writer_commit_duration_seconds_bucket{le=\"0.0025\"} 1\n");
  assert_contains(text, "\nprocess_open_fds ");
  free(text);
  metrics_global_shutdown();
  assert_null(metrics_global());
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(counter_and_gauge_exposition),
      cmocka_unit_test(histogram_exposition),
      cmocka_unit_test(rejects_bad_definitions_and_runs_out_of_slots),
      cmocka_unit_test(shards_sum_concurrent_updates),
      cmocka_unit_test(more_threads_than_shards),
      cmocka_unit_test(collectors_run_at_scrape),
      cmocka_unit_test(parses_proc_stat),
      cmocka_unit_test(process_collector_reports_this_process),
      cmocka_unit_test(request_families),
      cmocka_unit_test(metered_store_forwards_and_times),
      cmocka_unit_test(global_families),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
