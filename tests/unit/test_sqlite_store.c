/* Unit tests for store/sqlite: the store contract of store.h on a real SQLite file.
 *
 * Each test works on a fresh database in its own directory under /tmp, removed afterwards.
 * Sends are asynchronous: tests wait for callbacks with a condition variable (bounded by a
 * deadline so a lost callback fails the test instead of hanging it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/validate.h"
#include "store/sqlite/sqlite_store.h"

#define T_2026_MS    INT64_C(1795000000000)
#define WAIT_SECONDS 60
#define TEXT_KEEP    64

/* ---- fixture: a temporary database ---- */

typedef struct fixture {
  char dir[64];
  char path[96];
  store *s;
  bool fsize_lowered; /* a test lowered RLIMIT_FSIZE: teardown restores it even if the test failed */
  struct rlimit fsize;
} fixture;

static store *open_store_with(const char *path, unsigned max_batch, unsigned max_queue) {
  sqlite_store_config cfg = {.path = path, .max_batch = max_batch, .max_queue = max_queue};
  char err[256] = "";
  store *s = NULL;
  int rc = sqlite_store_open(&cfg, &s, err, sizeof err);
  if (rc != 0) fprintf(stderr, "open failed: %s\n", err);
  assert_int_equal(rc, 0);
  assert_non_null(s);
  assert_string_equal(store_backend(s), "sqlite");
  return s;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/messenger-sqlite-test-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/test.db", f->dir);
  f->s = open_store_with(f->path, 0, 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  if (f->fsize_lowered) {
    setrlimit(RLIMIT_FSIZE, &f->fsize);
    signal(SIGXFSZ, SIG_DFL);
  }
  if (f->s) store_close(f->s);
  static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
    char p[128];
    snprintf(p, sizeof p, "%s%s", f->path, suffixes[i]);
    unlink(p);
  }
  rmdir(f->dir);
  free(f);
  return 0;
}

static void reopen(fixture *f, unsigned max_batch, unsigned max_queue) {
  store_close(f->s);
  f->s = open_store_with(f->path, max_batch, max_queue);
}

/* ---- copies of results, kept after the callback ---- */

typedef struct got_msg {
  int64_t id, conversation_id, sender_id, receiver_id, created_at_us;
  size_t content_len;
  char content[TEXT_KEEP]; /* first bytes, NUL-terminated */
  bool replayed;
} got_msg;

typedef struct got_conv {
  int64_t id, user1_id, user2_id, last_message_id, last_message_at_us;
  int64_t last_read_message_id, unread_count;
  char content[TEXT_KEEP];
} got_conv;

typedef struct got_page {
  int calls;
  bool bad; /* the callback broke the contract (result with an error, or none with OK) */
  store_status status;
  char detail[64];
  int64_t total;
  size_t count;
  bool has_more;
  got_msg msgs[PAGE_LIMIT_MAX];
  got_conv convs[PAGE_LIMIT_MAX];
} got_page;

static void keep_text(char out[TEXT_KEEP], const char *text, size_t len) {
  size_t n = len < TEXT_KEEP - 1 ? len : TEXT_KEEP - 1;
  memcpy(out, text, n);
  out[n] = '\0';
}

static void keep_message(got_msg *g, const message *m) {
  *g = (got_msg){.id = m->id,
                 .conversation_id = m->conversation_id,
                 .sender_id = m->sender_id,
                 .receiver_id = m->receiver_id,
                 .created_at_us = m->created_at_us,
                 .content_len = m->content_len};
  keep_text(g->content, m->content, m->content_len);
}

static void keep_conversation(got_conv *g, const conversation *c) {
  *g = (got_conv){.id = c->id,
                  .user1_id = c->user1_id,
                  .user2_id = c->user2_id,
                  .last_message_id = c->last_message_id,
                  .last_message_at_us = c->last_message_at_us,
                  .last_read_message_id = c->last_read_message_id,
                  .unread_count = c->unread_count};
  keep_text(g->content, c->last_message_content, c->last_message_content_len);
}

static void keep_status(got_page *g, store_status status, const char *detail) {
  g->calls++;
  g->status = status;
  g->detail[0] = '\0';
  if (detail) snprintf(g->detail, sizeof g->detail, "%s", detail);
}

/* ---- sends ---- */

typedef struct send_wait {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls;
  bool bad; /* result with an error, or none with OK */
  store_status status;
  char detail[64];
  got_msg msg;
} send_wait;

static void send_wait_init(send_wait *w) {
  memset(w, 0, sizeof *w);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
}

static void send_wait_destroy(send_wait *w) {
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
}

static void on_send(void *arg, store_status status, const char *detail, const send_result *r) {
  send_wait *w = arg;
  pthread_mutex_lock(&w->mu);
  w->calls++;
  w->status = status;
  if (detail) snprintf(w->detail, sizeof w->detail, "%s", detail);
  if ((status == STORE_OK) != (r != NULL)) w->bad = true; /* checked by the waiting thread */
  if (status == STORE_OK && r) {
    keep_message(&w->msg, &r->message);
    w->msg.replayed = r->replayed;
  }
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static void wait_send(send_wait *w) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += WAIT_SECONDS;
  pthread_mutex_lock(&w->mu);
  int rc = 0;
  while (w->calls == 0 && rc == 0) rc = pthread_cond_timedwait(&w->cv, &w->mu, &deadline);
  pthread_mutex_unlock(&w->mu);
  assert_int_equal(w->calls, 1);
  assert_false(w->bad);
}

static send_request make_request(int64_t from, int64_t to, const char *text, const char *key, int64_t at_ms) {
  return (send_request){.sender_id = from,
                        .receiver_id = to,
                        .content = text,
                        .content_len = strlen(text),
                        .idempotency_key = key,
                        .sent_at_ms = at_ms};
}

/* Sends and waits; returns the status, the message in *out when OK. */
static store_status send_full(store *s, const send_request *req, got_msg *out, char detail[64]) {
  send_wait w;
  send_wait_init(&w);
  store_send_message(s, req, on_send, &w);
  wait_send(&w);
  if (out) *out = w.msg;
  if (detail) memcpy(detail, w.detail, sizeof w.detail);
  send_wait_destroy(&w);
  return w.status;
}

static got_msg send_ok(store *s, int64_t from, int64_t to, const char *text, const char *key, int64_t at_ms) {
  send_request req = make_request(from, to, text, key, at_ms);
  got_msg m;
  assert_int_equal(send_full(s, &req, &m, NULL), STORE_OK);
  return m;
}

/* ---- reads (inline: the callback has run when the call returns) ---- */

static void on_messages(void *arg, store_status status, const char *detail, const message_page *p) {
  got_page *g = arg;
  keep_status(g, status, detail);
  g->count = 0;
  if ((status == STORE_OK) != (p != NULL) || (p && p->count > PAGE_LIMIT_MAX)) g->bad = true;
  if (status != STORE_OK || g->bad) return;
  g->total = p->total;
  g->count = p->count;
  g->has_more = p->has_more;
  for (size_t i = 0; i < p->count; i++) keep_message(&g->msgs[i], &p->items[i]);
}

static void on_conversations(void *arg, store_status status, const char *detail, const conversation_page *p) {
  got_page *g = arg;
  keep_status(g, status, detail);
  g->count = 0;
  if ((status == STORE_OK) != (p != NULL) || (p && p->count > PAGE_LIMIT_MAX)) g->bad = true;
  if (status != STORE_OK || g->bad) return;
  g->total = p->total;
  g->count = p->count;
  g->has_more = p->has_more;
  for (size_t i = 0; i < p->count; i++) keep_conversation(&g->convs[i], &p->items[i]);
}

static void on_conversation(void *arg, store_status status, const char *detail, const conversation *c) {
  got_page *g = arg;
  keep_status(g, status, detail);
  g->count = 0;
  if ((status == STORE_OK) != (c != NULL)) g->bad = true;
  if (status == STORE_OK && c) {
    keep_conversation(&g->convs[0], c);
    g->count = 1;
  }
}

static page_request page_of(int64_t page, int limit, const cursor *c) {
  page_request p = {.page = page, .limit = limit};
  if (c) {
    p.has_cursor = true;
    p.cursor = *c;
  }
  return p;
}

static store_status read_messages(store *s, int64_t conv, const int64_t *before_us, int64_t page, int limit,
                                  const cursor *c, got_page *out) {
  message_query q = {.conversation_id = conv, .page = page_of(page, limit, c)};
  if (before_us) {
    q.has_before = true;
    q.before_us = *before_us;
  }
  out->calls = 0;
  store_list_messages(s, &q, on_messages, out);
  assert_int_equal(out->calls, 1);
  assert_false(out->bad);
  return out->status;
}

static store_status read_conversations(store *s, int64_t user, int64_t page, int limit, const cursor *c,
                                       got_page *out) {
  conversation_query q = {.user_id = user, .page = page_of(page, limit, c)};
  out->calls = 0;
  store_list_conversations(s, &q, on_conversations, out);
  assert_int_equal(out->calls, 1);
  assert_false(out->bad);
  return out->status;
}

static store_status read_conversation(store *s, int64_t id, got_page *out) {
  out->calls = 0;
  store_get_conversation(s, id, on_conversation, out);
  assert_int_equal(out->calls, 1);
  assert_false(out->bad);
  return out->status;
}

/* ---- tests: sending ---- */

static void first_send_creates_the_pair_conversation_both_directions_share_it(void **state) {
  fixture *f = *state;
  got_msg a = send_ok(f->s, 1, 2, "hello", NULL, 0);
  got_msg b = send_ok(f->s, 2, 1, "hi back", NULL, 0);
  got_msg c = send_ok(f->s, 3, 1, "other pair", NULL, 0);
  assert_int_equal(a.conversation_id, 1);
  assert_int_equal(b.conversation_id, 1);
  assert_int_equal(c.conversation_id, 2);
  assert_true(id_is_valid(a.id));
  assert_true(b.id > a.id);
  assert_true(c.id > b.id);
  assert_int_equal(a.sender_id, 1);
  assert_int_equal(a.receiver_id, 2);
  assert_int_equal(b.sender_id, 2);
  assert_int_equal(b.receiver_id, 1);
  assert_string_equal(a.content, "hello");
  assert_false(a.replayed);
  assert_int_equal(a.created_at_us, id_created_at_us(a.id));
  int64_t now_us = (int64_t)time(NULL) * 1000000;
  assert_true(llabs(a.created_at_us - now_us) < 5 * 1000000);

  got_page *g = calloc(1, sizeof *g);
  assert_int_equal(read_conversation(f->s, 1, g), STORE_OK);
  assert_int_equal(g->convs[0].id, 1);
  assert_int_equal(g->convs[0].user1_id, 1);
  assert_int_equal(g->convs[0].user2_id, 2);
  assert_int_equal(g->convs[0].last_message_id, b.id);
  assert_int_equal(g->convs[0].last_message_at_us, b.created_at_us);
  assert_string_equal(g->convs[0].content, "hi back");
  assert_int_equal(read_conversation(f->s, 2, g), STORE_OK);
  assert_int_equal(g->convs[0].user1_id, 1); /* canonical order whoever wrote first */
  assert_int_equal(g->convs[0].user2_id, 3);

  assert_int_equal(read_messages(f->s, 1, NULL, 1, 20, NULL, g), STORE_OK);
  assert_int_equal(g->total, 2);
  assert_int_equal(g->count, 2);
  assert_false(g->has_more);
  assert_int_equal(g->msgs[0].id, b.id); /* newest first */
  assert_int_equal(g->msgs[1].id, a.id);
  assert_int_equal(g->msgs[1].created_at_us, a.created_at_us);
  assert_int_equal(g->msgs[1].conversation_id, 1);
  assert_string_equal(g->msgs[1].content, "hello");
  free(g);
}

static void content_bytes_round_trip_exactly(void **state) {
  fixture *f = *state;
  const char text[] = "caf\xc3\xa9 \xf0\x9f\x98\x80 a\0b"; /* UTF-8 with an embedded NUL */
  send_request req = {.sender_id = 5, .receiver_id = 6, .content = text, .content_len = sizeof text - 1};
  got_msg m;
  assert_int_equal(send_full(f->s, &req, &m, NULL), STORE_OK);
  assert_int_equal(m.content_len, sizeof text - 1);
  got_page *g = calloc(1, sizeof *g);
  assert_int_equal(read_messages(f->s, m.conversation_id, NULL, 1, 1, NULL, g), STORE_OK);
  assert_int_equal(g->msgs[0].content_len, sizeof text - 1);
  assert_memory_equal(g->msgs[0].content, text, sizeof text - 1);
  free(g);
}

static void invalid_sends_are_refused_without_writing(void **state) {
  fixture *f = *state;
  send_request same = make_request(4, 4, "self", NULL, 0);
  send_request zero = make_request(0, 4, "zero", NULL, 0);
  send_request empty = make_request(1, 2, "", NULL, 0);
  assert_int_equal(send_full(f->s, &same, NULL, NULL), STORE_UNAVAILABLE);
  assert_int_equal(send_full(f->s, &zero, NULL, NULL), STORE_UNAVAILABLE);
  assert_int_equal(send_full(f->s, &empty, NULL, NULL), STORE_UNAVAILABLE);
  got_page *g = calloc(1, sizeof *g);
  assert_int_equal(read_conversation(f->s, 1, g), STORE_NOT_FOUND);
  free(g);
}

static void idempotent_retry_returns_the_original(void **state) {
  fixture *f = *state;
  got_msg first = send_ok(f->s, 1, 2, "original", "key-1", 0);
  got_msg again = send_ok(f->s, 1, 2, "changed on retry", "key-1", 0);
  assert_false(first.replayed);
  assert_true(again.replayed);
  assert_int_equal(again.id, first.id);
  assert_int_equal(again.conversation_id, first.conversation_id);
  assert_int_equal(again.created_at_us, first.created_at_us);
  assert_string_equal(again.content, "original");

  got_msg other_sender = send_ok(f->s, 2, 1, "same key, other sender", "key-1", 0);
  assert_false(other_sender.replayed);
  assert_true(other_sender.id > first.id);
  got_msg no_key = send_ok(f->s, 1, 2, "no key", NULL, 0);
  assert_false(no_key.replayed);

  got_page *g = calloc(1, sizeof *g);
  assert_int_equal(read_messages(f->s, first.conversation_id, NULL, 1, 20, NULL, g), STORE_OK);
  assert_int_equal(g->total, 3);
  assert_int_equal(read_conversation(f->s, first.conversation_id, g), STORE_OK);
  assert_int_equal(g->convs[0].last_message_id, no_key.id);
  free(g);
}

/* Holds SQLite's write lock from another connection, so the writer waits (busy timeout). */
static sqlite3 *hold_write_lock(const char *path) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  return db;
}

static void release_write_lock(sqlite3 *db) {
  assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void duplicate_keys_in_one_batch_store_one_message(void **state) {
  fixture *f = *state;
  sqlite3 *lock = hold_write_lock(f->path);
  send_wait w[3];
  send_request req[3] = {make_request(7, 8, "occupies the writer", NULL, 0),
                         make_request(7, 8, "twice", "dup", 0), make_request(7, 8, "twice", "dup", 0)};
  for (int i = 0; i < 3; i++) send_wait_init(&w[i]);
  store_send_message(f->s, &req[0], on_send, &w[0]);
  usleep(100 * 1000); /* the writer takes req[0] and waits for the lock; the next two queue together */
  store_send_message(f->s, &req[1], on_send, &w[1]);
  store_send_message(f->s, &req[2], on_send, &w[2]);
  release_write_lock(lock);
  for (int i = 0; i < 3; i++) {
    wait_send(&w[i]);
    assert_int_equal(w[i].status, STORE_OK);
  }
  assert_int_equal(w[1].msg.id, w[2].msg.id);
  assert_false(w[1].msg.replayed);
  assert_true(w[2].msg.replayed);
  got_page *g = calloc(1, sizeof *g);
  assert_int_equal(read_messages(f->s, w[0].msg.conversation_id, NULL, 1, 20, NULL, g), STORE_OK);
  assert_int_equal(g->total, 2);
  for (int i = 0; i < 3; i++) send_wait_destroy(&w[i]);
  free(g);
}

/* ---- tests: paging ---- */

/* Walks pages 1, 2, ... until an empty one; checks totals and has_more; returns the ids. */
static size_t walk_by_page(store *s, int64_t conv, const int64_t *before, int limit, int64_t total,
                           int64_t *ids, size_t cap) {
  got_page *g = calloc(1, sizeof *g);
  size_t n = 0;
  for (int64_t page = 1;; page++) {
    assert_int_equal(read_messages(s, conv, before, page, limit, NULL, g), STORE_OK);
    assert_int_equal(g->total, total);
    assert_true(g->count <= (size_t)limit);
    if (g->count == 0) {
      assert_false(g->has_more);
      break;
    }
    for (size_t i = 0; i < g->count; i++) {
      assert_true(n < cap);
      assert_int_equal(g->msgs[i].created_at_us, id_created_at_us(g->msgs[i].id));
      ids[n++] = g->msgs[i].id;
    }
    if (!g->has_more) {
      /* the page after the last one is empty */
      assert_int_equal(read_messages(s, conv, before, page + 1, limit, NULL, g), STORE_OK);
      assert_int_equal(g->count, 0);
      break;
    }
    assert_int_equal(g->count, (size_t)limit); /* only the last page is short */
  }
  free(g);
  return n;
}

static size_t walk_by_cursor(store *s, int64_t conv, const int64_t *before, int limit, int64_t total,
                             int64_t *ids, size_t cap) {
  got_page *g = calloc(1, sizeof *g);
  size_t n = 0;
  cursor c = {.kind = CURSOR_MESSAGES};
  bool first = true;
  for (;;) {
    assert_int_equal(read_messages(s, conv, before, 1, limit, first ? NULL : &c, g), STORE_OK);
    assert_int_equal(g->total, total);
    for (size_t i = 0; i < g->count; i++) {
      assert_true(n < cap);
      ids[n++] = g->msgs[i].id;
    }
    if (!g->has_more) break;
    assert_int_equal(g->count, (size_t)limit);
    c.message_id = g->msgs[g->count - 1].id;
    first = false;
  }
  free(g);
  return n;
}

static void pages_and_cursors_tile_the_conversation(void **state) {
  fixture *f = *state;
  enum { N = 47 };
  int64_t sent[N];
  for (int i = 0; i < N; i++) {
    char text[32];
    snprintf(text, sizeof text, "message %d", i);
    sent[i] = send_ok(f->s, i % 2 ? 10 : 11, i % 2 ? 11 : 10, text, NULL, 0).id;
    if (i) assert_true(sent[i] > sent[i - 1]);
  }
  send_ok(f->s, 10, 12, "another conversation", NULL, 0);
  int64_t expect[N];
  for (int i = 0; i < N; i++) expect[i] = sent[N - 1 - i];
  static const int limits[] = {1, 2, 5, 20, 46, 47, 48, 100};
  for (size_t k = 0; k < sizeof limits / sizeof *limits; k++) {
    int64_t by_page[N + 1], by_cursor[N + 1];
    assert_int_equal(walk_by_page(f->s, 1, NULL, limits[k], N, by_page, N + 1), N);
    assert_int_equal(walk_by_cursor(f->s, 1, NULL, limits[k], N, by_cursor, N + 1), N);
    assert_memory_equal(by_page, expect, sizeof expect);
    assert_memory_equal(by_cursor, expect, sizeof expect);
  }
  got_page *g = calloc(1, sizeof *g);
  assert_int_equal(read_messages(f->s, 1, NULL, INT64_MAX, 100, NULL, g), STORE_OK); /* no overflow */
  assert_int_equal(g->count, 0);
  assert_int_equal(g->total, N);
  cursor oldest = {.kind = CURSOR_MESSAGES, .message_id = sent[0]};
  assert_int_equal(read_messages(f->s, 1, NULL, 1, 20, &oldest, g), STORE_OK);
  assert_int_equal(g->count, 0);
  assert_false(g->has_more);
  free(g);
}

static void before_queries_are_strict_and_page_like_the_rest(void **state) {
  fixture *f = *state;
  enum { N = 30, K = 17 };
  got_msg sent[N];
  for (int i = 0; i < N; i++) sent[i] = send_ok(f->s, 1, 2, "timed", NULL, T_2026_MS + 10 * i);
  for (int i = 0; i < N; i++) assert_int_equal(sent[i].created_at_us, (T_2026_MS + 10 * i) * 1000);

  int64_t expect[N], got[N + 1];
  for (int i = 0; i < K; i++) expect[i] = sent[K - 1 - i].id;
  int64_t before = sent[K].created_at_us; /* strictly before message K: K-1 .. 0 */
  static const int limits[] = {1, 3, 16, 17, 18, 100};
  for (size_t k = 0; k < sizeof limits / sizeof *limits; k++) {
    assert_int_equal(walk_by_page(f->s, 1, &before, limits[k], N, got, N + 1), K);
    assert_memory_equal(got, expect, K * sizeof *expect);
    assert_int_equal(walk_by_cursor(f->s, 1, &before, limits[k], N, got, N + 1), K);
    assert_memory_equal(got, expect, K * sizeof *expect);
  }
  got_page *g = calloc(1, sizeof *g);
  int64_t just_after = before + 1;
  assert_int_equal(read_messages(f->s, 1, &just_after, 1, 1, NULL, g), STORE_OK);
  assert_int_equal(g->msgs[0].id, sent[K].id);
  int64_t earliest = sent[0].created_at_us;
  assert_int_equal(read_messages(f->s, 1, &earliest, 1, 20, NULL, g), STORE_OK);
  assert_int_equal(g->count, 0);
  assert_int_equal(g->total, N);
  assert_false(g->has_more);
  int64_t future = INT64_C(253402300799000000); /* 9999-12-31 */
  assert_int_equal(read_messages(f->s, 1, &future, 1, 100, NULL, g), STORE_OK);
  assert_int_equal(g->count, N);
  /* a cursor above the bound still yields only messages before the bound */
  cursor newest = {.kind = CURSOR_MESSAGES, .message_id = sent[N - 1].id};
  assert_int_equal(read_messages(f->s, 1, &before, 1, 2, &newest, g), STORE_OK);
  assert_int_equal(g->count, 2);
  assert_int_equal(g->msgs[0].id, sent[K - 1].id);
  free(g);
}

static void conversations_of_a_user_by_recency(void **state) {
  fixture *f = *state;
  enum { N = 7 };
  int64_t last[N + 2] = {0}; /* by partner 2..8 */
  for (int p = 2; p < 2 + N; p++) last[p] = send_ok(f->s, 1, p, "first", NULL, T_2026_MS).id;
  /* partner 4 gets newer activity; all in the same millisecond: ids break the ties */
  last[4] = send_ok(f->s, 4, 1, "newest", NULL, T_2026_MS).id;
  int64_t expect_partner[N] = {4, 8, 7, 6, 5, 3, 2};

  got_page *g = calloc(1, sizeof *g);
  assert_int_equal(read_conversations(f->s, 1, 1, 100, NULL, g), STORE_OK);
  assert_int_equal(g->total, N);
  assert_int_equal(g->count, N);
  assert_false(g->has_more);
  for (int i = 0; i < N; i++) {
    assert_int_equal(g->convs[i].user1_id, 1);
    assert_int_equal(g->convs[i].user2_id, expect_partner[i]);
    assert_int_equal(g->convs[i].last_message_id, last[expect_partner[i]]);
    assert_int_equal(g->convs[i].last_message_at_us, id_created_at_us(last[expect_partner[i]]));
  }
  assert_string_equal(g->convs[0].content, "newest");

  /* page numbers and the cursor walk give the same order, for several limits */
  for (int limit = 1; limit <= 4; limit++) {
    int seen_pages = 0, seen_cursor = 0;
    for (int64_t page = 1;; page++) {
      assert_int_equal(read_conversations(f->s, 1, page, limit, NULL, g), STORE_OK);
      assert_int_equal(g->total, N);
      for (size_t i = 0; i < g->count; i++)
        assert_int_equal(g->convs[i].user2_id, expect_partner[seen_pages++]);
      if (!g->has_more) break;
    }
    cursor c = {.kind = CURSOR_CONVERSATIONS};
    for (bool first = true;; first = false) {
      assert_int_equal(read_conversations(f->s, 1, 1, limit, first ? NULL : &c, g), STORE_OK);
      for (size_t i = 0; i < g->count; i++)
        assert_int_equal(g->convs[i].user2_id, expect_partner[seen_cursor++]);
      if (!g->has_more) break;
      c.message_id = g->convs[g->count - 1].last_message_id;
      c.conversation_id = g->convs[g->count - 1].id;
    }
    assert_int_equal(seen_pages, N);
    assert_int_equal(seen_cursor, N);
  }

  assert_int_equal(read_conversations(f->s, 3, 1, 20, NULL, g), STORE_OK);
  assert_int_equal(g->total, 1);
  assert_int_equal(g->count, 1);
  assert_int_equal(g->convs[0].user2_id, 3);
  assert_int_equal(read_conversations(f->s, 99, 1, 20, NULL, g), STORE_OK);
  assert_int_equal(g->total, 0);
  assert_int_equal(g->count, 0);
  assert_false(g->has_more);
  assert_int_equal(read_conversations(f->s, 1, 3, 5, NULL, g), STORE_OK); /* past the end */
  assert_int_equal(g->count, 0);
  assert_int_equal(g->total, N);
  free(g);
}

static void unknown_conversations_are_not_found(void **state) {
  fixture *f = *state;
  send_ok(f->s, 1, 2, "exists", NULL, 0);
  got_page *g = calloc(1, sizeof *g);
  int64_t before = INT64_C(1700000000000000);
  assert_int_equal(read_messages(f->s, 999, NULL, 1, 20, NULL, g), STORE_NOT_FOUND);
  assert_string_equal(g->detail, "Conversation not found");
  assert_int_equal(read_messages(f->s, 999, &before, 1, 20, NULL, g), STORE_NOT_FOUND);
  assert_int_equal(read_conversation(f->s, 999, g), STORE_NOT_FOUND);
  assert_int_equal(read_conversation(f->s, 1, g), STORE_OK);
  free(g);
}

/* ---- read marks ---- */

typedef struct mark_wait {
  send_wait w; /* reuses the waiting machinery; msg.id = the resulting mark */
  bool advanced;
} mark_wait;

static void on_mark(void *arg, store_status status, const char *detail, const read_mark *m) {
  mark_wait *mw = arg;
  send_wait *w = &mw->w;
  pthread_mutex_lock(&w->mu);
  w->calls++;
  w->status = status;
  if (detail) snprintf(w->detail, sizeof w->detail, "%s", detail);
  if ((status == STORE_OK) != (m != NULL)) w->bad = true;
  if (m) {
    w->msg.id = m->last_read_message_id;
    w->msg.conversation_id = m->conversation_id;
    w->msg.receiver_id = m->user_id;
    w->msg.sender_id = m->other_user_id;
    mw->advanced = m->advanced;
  }
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

/* Marks and waits; returns the status, the resulting mark in *mark when OK. */
static store_status mark_read(store *s, int64_t conv, int64_t user, int64_t message_id, int64_t *mark,
                              bool *advanced) {
  mark_wait mw;
  send_wait_init(&mw.w);
  mw.advanced = false;
  read_mark_request req = {.conversation_id = conv, .user_id = user, .message_id = message_id};
  store_mark_read(s, &req, on_mark, &mw);
  wait_send(&mw.w);
  if (mw.w.status == STORE_OK) {
    assert_int_equal(mw.w.msg.conversation_id, conv);
    assert_int_equal(mw.w.msg.receiver_id, user);
    assert_int_equal(mw.w.msg.sender_id, user == 1 ? 2 : 1); /* every marking test uses users 1 and 2 */
  }
  if (mark) *mark = mw.w.msg.id;
  if (advanced) *advanced = mw.advanced;
  send_wait_destroy(&mw.w);
  return mw.w.status;
}

/* The read state of conversation `conv` in user's list. */
static got_conv user_item(store *s, int64_t user, int64_t conv) {
  static got_page g;
  memset(&g, 0, sizeof g);
  conversation_query q = {.user_id = user, .page = {.page = 1, .limit = PAGE_LIMIT_MAX}};
  store_list_conversations(s, &q, on_conversations, &g);
  assert_int_equal(g.status, STORE_OK);
  for (size_t i = 0; i < g.count; i++)
    if (g.convs[i].id == conv) return g.convs[i];
  fail_msg("conversation %lld not in the list", (long long)conv);
  return g.convs[0];
}

static void read_marks_move_forward_and_unread_counts_are_exact(void **state) {
  fixture *f = *state;
  got_msg a = send_ok(f->s, 2, 1, "a", NULL, 0);
  got_msg b = send_ok(f->s, 2, 1, "b", NULL, 0);
  got_msg mine = send_ok(f->s, 1, 2, "mine", NULL, 0);
  got_msg c = send_ok(f->s, 2, 1, "c", NULL, 0);
  int64_t conv = a.conversation_id;
  got_conv u = user_item(f->s, 1, conv);
  assert_int_equal(u.last_read_message_id, 0);
  assert_int_equal(u.unread_count, 3);
  assert_int_equal(user_item(f->s, 2, conv).unread_count, 1);

  int64_t mark = 0;
  bool advanced = false;
  assert_int_equal(mark_read(f->s, conv, 1, b.id, &mark, &advanced), STORE_OK);
  assert_int_equal(mark, b.id);
  assert_true(advanced);
  u = user_item(f->s, 1, conv);
  assert_int_equal(u.last_read_message_id, b.id);
  assert_int_equal(u.unread_count, 1); /* c; "mine" was sent by user 1 */
  /* an older message leaves the mark and answers the current one */
  assert_int_equal(mark_read(f->s, conv, 1, a.id, &mark, &advanced), STORE_OK);
  assert_int_equal(mark, b.id);
  assert_false(advanced);
  assert_int_equal(mark_read(f->s, conv, 1, b.id, &mark, &advanced), STORE_OK);
  assert_false(advanced);
  /* a new message to the user counts; one from the user does not */
  send_ok(f->s, 2, 1, "d", NULL, 0);
  send_ok(f->s, 1, 2, "e", NULL, 0);
  assert_int_equal(user_item(f->s, 1, conv).unread_count, 2);
  /* marking one's own message moves the mark too */
  assert_int_equal(mark_read(f->s, conv, 1, mine.id, &mark, &advanced), STORE_OK);
  assert_int_equal(mark, mine.id);
  assert_int_equal(user_item(f->s, 1, conv).unread_count, 2); /* c, d */
  assert_int_equal(mark_read(f->s, conv, 1, c.id, &mark, NULL), STORE_OK);
  assert_int_equal(user_item(f->s, 1, conv).unread_count, 1); /* d */
  /* durable: the same after a restart */
  reopen(f, 0, 0);
  u = user_item(f->s, 1, conv);
  assert_int_equal(u.last_read_message_id, c.id);
  assert_int_equal(u.unread_count, 1);
  u = user_item(f->s, 2, conv);
  assert_int_equal(u.last_read_message_id, 0);
  assert_int_equal(u.unread_count, 2); /* mine, e */
}

static void read_marks_refuse_strangers_and_foreign_messages(void **state) {
  fixture *f = *state;
  got_msg m = send_ok(f->s, 1, 2, "x", NULL, 0);
  got_msg other = send_ok(f->s, 1, 3, "y", NULL, 0);
  assert_int_equal(mark_read(f->s, m.conversation_id, 3, m.id, NULL, NULL), STORE_NOT_FOUND);
  assert_int_equal(mark_read(f->s, 999, 1, m.id, NULL, NULL), STORE_NOT_FOUND);
  assert_int_equal(mark_read(f->s, m.conversation_id, 2, other.id, NULL, NULL), STORE_INVALID);
  assert_int_equal(mark_read(f->s, m.conversation_id, 2, m.id + 1, NULL, NULL), STORE_INVALID);
  assert_int_equal(mark_read(f->s, m.conversation_id, 2, 0, NULL, NULL), STORE_UNAVAILABLE);
  got_conv v = user_item(f->s, 2, m.conversation_id);
  assert_int_equal(v.last_read_message_id, 0);
  assert_int_equal(v.unread_count, 1);
}

/* A database written by schema version 1 (no read state) is migrated on open: nothing has
 * been read, so every received message is unread. */
static void version_1_databases_gain_read_state(void **state) {
  fixture *f = *state;
  got_msg m = send_ok(f->s, 1, 2, "one", NULL, 0);
  send_ok(f->s, 1, 2, "two", NULL, 0);
  send_ok(f->s, 2, 1, "three", NULL, 0);
  store_close(f->s);
  f->s = NULL;
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
                                "ALTER TABLE user_conversations DROP COLUMN last_read_message_id;"
                                "ALTER TABLE user_conversations DROP COLUMN unread_count;"
                                "PRAGMA user_version=1;",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  f->s = open_store_with(f->path, 0, 0);
  got_conv u = user_item(f->s, 2, m.conversation_id);
  assert_int_equal(u.last_read_message_id, 0);
  assert_int_equal(u.unread_count, 2);
  assert_int_equal(user_item(f->s, 1, m.conversation_id).unread_count, 1);
  int64_t mark = 0;
  assert_int_equal(mark_read(f->s, m.conversation_id, 2, m.id, &mark, NULL), STORE_OK);
  assert_int_equal(user_item(f->s, 2, m.conversation_id).unread_count, 1);
}

static void on_ping(void *arg, store_status status, const char *detail) {
  (void)detail;
  *(int *)arg = status == STORE_OK ? 1 : 2;
}

static void ping_answers_ok(void **state) {
  fixture *f = *state;
  int result = 0;
  store_ping(f->s, on_ping, &result);
  assert_int_equal(result, 1);
}

/* A callback that reads again before it is done with its own page. */
typedef struct nested_ctx {
  store *s;
  got_page *inner;
  got_page outer;
} nested_ctx;

/* Another connection's write, as another process would make it: the message total of a
 * conversation grows by 100 (only the total is read below). */
static void bump_total_elsewhere(const char *path, int64_t conv) {
  sqlite3 *db = NULL;
  char sql[128];
  snprintf(sql, sizeof sql, "UPDATE conversations SET message_count = message_count + 100 WHERE id = %lld",
           (long long)conv);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static int64_t total_of(store *s, int64_t conv, got_page *g) {
  assert_int_equal(read_messages(s, conv, NULL, 1, 20, NULL, g), STORE_OK);
  return g->total;
}

/* A thread that ends its read snapshots itself (an event loop, before each wait) has its reads
 * share one: they still see every write the store acknowledged, at once, and other writers'
 * once the snapshot ends. A thread that never ends one reads in a transaction per call. */
static void shared_read_snapshots_see_every_acknowledged_write(void **state) {
  fixture *f = *state;
  got_page *g = calloc(1, sizeof *g);
  int64_t conv = send_ok(f->s, 1, 2, "one", NULL, 0).conversation_id;
  assert_int_equal(total_of(f->s, conv, g), 1);
  bump_total_elsewhere(f->path, conv);
  assert_int_equal(total_of(f->s, conv, g), 101); /* not sharing yet: a transaction per call */

  store_end_read_snapshot(f->s); /* from now on this thread's reads share a snapshot */
  assert_int_equal(total_of(f->s, conv, g), 101);
  bump_total_elsewhere(f->path, conv);
  assert_int_equal(total_of(f->s, conv, g), 101); /* the same snapshot */
  assert_int_equal(send_ok(f->s, 2, 1, "two", NULL, 0).conversation_id, conv);
  assert_int_equal(total_of(f->s, conv, g), 202); /* a commit of the store's writer: a new snapshot */
  assert_int_equal(read_messages(f->s, conv, NULL, 1, 1, NULL, g), STORE_OK);
  assert_string_equal(g->msgs[0].content, "two");
  bump_total_elsewhere(f->path, conv);
  assert_int_equal(total_of(f->s, conv, g), 202);
  store_end_read_snapshot(f->s);
  assert_int_equal(total_of(f->s, conv, g), 302);
  store_end_read_snapshot(f->s);
  store_end_read_snapshot(f->s); /* nothing open: a no-op */
  assert_int_equal(total_of(f->s, conv, g), 302);
  free(g);
}

static void on_messages_then_read(void *arg, store_status status, const char *detail, const message_page *p) {
  nested_ctx *n = arg;
  assert_int_equal(status, STORE_OK);
  char before[TEXT_KEEP];
  keep_text(before, p->items[0].content, p->items[0].content_len);
  assert_int_equal(read_messages(n->s, p->items[0].conversation_id, NULL, 2, 1, NULL, n->inner), STORE_OK);
  assert_int_equal(read_conversation(n->s, p->items[0].conversation_id, n->inner), STORE_OK);
  assert_memory_equal(p->items[0].content, before, strlen(before)); /* still intact */
  on_messages(&n->outer, status, detail, p);
}

static void callbacks_may_read_again(void **state) {
  fixture *f = *state;
  send_ok(f->s, 1, 2, "older", NULL, 0);
  send_ok(f->s, 1, 2, "newer", NULL, 0);
  nested_ctx *n = calloc(1, sizeof *n);
  n->s = f->s;
  n->inner = calloc(1, sizeof *n->inner);
  message_query q = {.conversation_id = 1, .page = {.page = 1, .limit = 20}};
  store_list_messages(f->s, &q, on_messages_then_read, n);
  assert_int_equal(n->outer.calls, 1);
  assert_string_equal(n->outer.msgs[0].content, "newer");
  assert_string_equal(n->inner->convs[0].content, "newer");
  free(n->inner);
  free(n);
}

/* ---- tests: lifecycle ---- */

static void reopening_keeps_everything_and_ids_keep_growing(void **state) {
  fixture *f = *state;
  got_msg a = send_ok(f->s, 1, 2, "before restart", "k", T_2026_MS);
  got_msg b = send_ok(f->s, 3, 4, "other pair", NULL, T_2026_MS + 5);
  reopen(f, 0, 0);
  got_page *g = calloc(1, sizeof *g);
  assert_int_equal(read_messages(f->s, a.conversation_id, NULL, 1, 20, NULL, g), STORE_OK);
  assert_int_equal(g->total, 1);
  assert_int_equal(g->msgs[0].id, a.id);
  assert_string_equal(g->msgs[0].content, "before restart");
  assert_int_equal(read_conversation(f->s, b.conversation_id, g), STORE_OK);
  assert_int_equal(g->convs[0].last_message_id, b.id);
  assert_true(send_ok(f->s, 1, 2, "retry after restart", "k", 0).replayed);
  /* the clock went back a day: ids still grow, in this conversation and any other */
  got_msg c = send_ok(f->s, 1, 2, "clock back", NULL, T_2026_MS - 86400000);
  got_msg d = send_ok(f->s, 5, 6, "new pair, clock back", NULL, T_2026_MS - 86400000);
  assert_true(c.id > b.id);
  assert_true(d.id > c.id);
  assert_int_equal(d.conversation_id, 3);
  free(g);
}

typedef struct counting {
  _Atomic int ok, refused, other;
  _Atomic int calls;
} counting;

static void on_count(void *arg, store_status status, const char *detail, const send_result *r) {
  counting *c = arg;
  (void)r;
  if (status == STORE_OK)
    atomic_fetch_add(&c->ok, 1);
  else if (status == STORE_UNAVAILABLE && detail && strcmp(detail, "Too many pending writes") == 0)
    atomic_fetch_add(&c->refused, 1);
  else
    atomic_fetch_add(&c->other, 1);
  atomic_fetch_add(&c->calls, 1);
}

static void a_full_queue_refuses_at_once_and_close_drains(void **state) {
  fixture *f = *state;
  reopen(f, 1, 4); /* one send per batch, four waiting */
  sqlite3 *lock = hold_write_lock(f->path);
  enum { N = 12 };
  counting c = {0};
  send_request req = make_request(1, 2, "queued", NULL, 0);
  int refused_at_once = 0;
  for (int i = 0; i < N; i++) {
    int before = atomic_load(&c.refused);
    store_send_message(f->s, &req, on_count, &c);
    refused_at_once += atomic_load(&c.refused) - before;
  }
  /* at most one send is with the writer and four wait: the rest are refused during the call */
  assert_true(refused_at_once >= N - 5);
  assert_true(refused_at_once <= N - 4);
  assert_int_equal(atomic_load(&c.ok), 0);
  release_write_lock(lock);
  store_close(f->s); /* completes the accepted sends */
  f->s = NULL;
  assert_int_equal(atomic_load(&c.calls), N);
  assert_int_equal(atomic_load(&c.ok), N - refused_at_once);
  assert_int_equal(atomic_load(&c.other), 0);
  f->s = open_store_with(f->path, 0, 0);
  got_page *g = calloc(1, sizeof *g);
  assert_int_equal(read_messages(f->s, 1, NULL, 1, 20, NULL, g), STORE_OK);
  assert_int_equal(g->total, N - refused_at_once);
  free(g);
}

static void close_completes_every_accepted_send(void **state) {
  fixture *f = *state;
  enum { N = 300 };
  counting c = {0};
  send_request req = make_request(1, 2, "in flight at close", NULL, 0);
  for (int i = 0; i < N; i++) store_send_message(f->s, &req, on_count, &c);
  store_close(f->s);
  f->s = NULL;
  assert_int_equal(atomic_load(&c.calls), N);
  assert_int_equal(atomic_load(&c.ok), N);
  f->s = open_store_with(f->path, 0, 0);
  got_page *g = calloc(1, sizeof *g);
  assert_int_equal(read_messages(f->s, 1, NULL, 1, 1, NULL, g), STORE_OK);
  assert_int_equal(g->total, N);
  free(g);
}

static void open_refuses_foreign_files(void **state) {
  fixture *f = *state;
  char path[128];
  snprintf(path, sizeof path, "%s/foreign.db", f->dir);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  sqlite_store_config cfg = {.path = path};
  store *s = NULL;
  char err[256] = "";
  assert_int_equal(sqlite_store_open(&cfg, &s, err, sizeof err), -1);
  assert_non_null(strstr(err, "not a messenger database"));
  unlink(path);
  FILE *junk = fopen(path, "w");
  assert_non_null(junk);
  fputs("this is not a database, just text long enough to be read as a header......", junk);
  fclose(junk);
  assert_int_equal(sqlite_store_open(&cfg, &s, err, sizeof err), -1);
  unlink(path);
  char missing_dir[160];
  snprintf(missing_dir, sizeof missing_dir, "%s/no/such/dir.db", f->dir);
  cfg.path = missing_dir;
  assert_int_equal(sqlite_store_open(&cfg, &s, err, sizeof err), -1);
}

/* The file size limit makes writes fail the way a full disk does (EFBIG instead of ENOSPC). */
static void storage_failures_refuse_sends_and_writes_recover(void **state) {
  fixture *f = *state;
  static char big[4001];
  memset(big, 'x', sizeof big - 1);
  int ok_before = 0;
  for (; ok_before < 5; ok_before++) send_ok(f->s, 1, 2, big, NULL, 0);

  assert_int_equal(getrlimit(RLIMIT_FSIZE, &f->fsize), 0);
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = f->fsize;
  small.rlim_cur = 512 * 1024;
  f->fsize_lowered = true;
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
  int ok = ok_before;
  store_status st = STORE_OK;
  char detail[64] = "";
  for (int i = 0; i < 400 && st == STORE_OK; i++) {
    send_request req = make_request(1, 2, big, NULL, 0);
    st = send_full(f->s, &req, NULL, detail);
    if (st == STORE_OK) ok++;
  }
  assert_int_equal(st, STORE_UNAVAILABLE);
  assert_true(strcmp(detail, "Storage is full") == 0 || strcmp(detail, "Storage error") == 0);

  got_page *g = calloc(1, sizeof *g);
  assert_int_equal(read_messages(f->s, 1, NULL, 1, 1, NULL, g), STORE_OK);
  assert_int_equal(g->total, ok); /* nothing of the failed send is visible */

  assert_int_equal(setrlimit(RLIMIT_FSIZE, &f->fsize), 0);
  signal(SIGXFSZ, SIG_DFL);
  f->fsize_lowered = false;
  got_msg after = send_ok(f->s, 1, 2, "space is back", NULL, 0);
  assert_int_equal(read_messages(f->s, 1, NULL, 1, 1, NULL, g), STORE_OK);
  assert_int_equal(g->total, ok + 1);
  assert_int_equal(g->msgs[0].id, after.id);
  reopen(f, 0, 0);
  assert_int_equal(read_messages(f->s, 1, NULL, 1, 1, NULL, g), STORE_OK);
  assert_int_equal(g->total, ok + 1);
  free(g);
}

/* ---- tests: concurrency ---- */

enum { USERS = 20, SENDERS = 8, SENDS_EACH = 500, WINDOW = 32, READERS = 2 };

typedef struct shared_run {
  store *s;
  _Atomic int ok, failed;
  _Atomic int pair_sends[USERS + 1][USERS + 1];
  _Atomic bool senders_done;
  _Atomic int reads;
} shared_run;

typedef struct sender_slot {
  shared_run *run;
  sem_t *window;
  send_request req;
  char text[32];
} sender_slot;

static void on_concurrent_send(void *arg, store_status status, const char *detail, const send_result *r) {
  sender_slot *slot = arg;
  (void)detail;
  if (status == STORE_OK && r->message.content_len == slot->req.content_len) {
    int64_t lo =
        r->message.sender_id < r->message.receiver_id ? r->message.sender_id : r->message.receiver_id;
    int64_t hi = r->message.sender_id ^ r->message.receiver_id ^ lo;
    atomic_fetch_add(&slot->run->pair_sends[lo][hi], 1);
    atomic_fetch_add(&slot->run->ok, 1);
  } else {
    atomic_fetch_add(&slot->run->failed, 1);
  }
  sem_post(slot->window);
}

static void *sender_main(void *p) {
  shared_run *run = ((void **)p)[0];
  unsigned seed = (unsigned)(uintptr_t)((void **)p)[1];
  sender_slot *slots = calloc(SENDS_EACH, sizeof *slots);
  sem_t window;
  sem_init(&window, 0, WINDOW);
  for (int i = 0; i < SENDS_EACH; i++) {
    int64_t from = 1 + rand_r(&seed) % USERS, to = 1 + rand_r(&seed) % (USERS - 1);
    if (to >= from) to++;
    sender_slot *slot = &slots[i];
    slot->run = run;
    slot->window = &window;
    snprintf(slot->text, sizeof slot->text, "m %u %d", seed, i);
    slot->req = make_request(from, to, slot->text, NULL, 0);
    sem_wait(&window);
    store_send_message(run->s, &slot->req, on_concurrent_send, slot);
  }
  for (int i = 0; i < WINDOW; i++) sem_wait(&window); /* every callback has run */
  sem_destroy(&window);
  free(slots);
  return NULL;
}

/* Reads while the senders write: each page must be one consistent snapshot. */
static void *reader_main(void *p) {
  shared_run *run = ((void **)p)[0];
  unsigned seed = (unsigned)(uintptr_t)((void **)p)[1];
  got_page *g = calloc(1, sizeof *g);
  while (!atomic_load(&run->senders_done)) {
    int64_t user = 1 + rand_r(&seed) % USERS;
    conversation_query cq = {.user_id = user, .page = {.page = 1, .limit = 10}};
    g->calls = 0;
    store_list_conversations(run->s, &cq, on_conversations, g);
    if (g->calls != 1 || g->bad || g->status != STORE_OK ||
        g->count != (size_t)(g->total < 10 ? g->total : 10))
      atomic_fetch_add(&run->failed, 1);
    for (size_t i = 1; i < g->count; i++)
      if (g->convs[i].last_message_id >= g->convs[i - 1].last_message_id) atomic_fetch_add(&run->failed, 1);
    message_query mq = {.conversation_id = 1 + rand_r(&seed) % 40, .page = {.page = 1, .limit = 20}};
    g->calls = 0;
    store_list_messages(run->s, &mq, on_messages, g);
    if (g->calls != 1 || g->bad ||
        (g->status == STORE_OK && g->count != (size_t)(g->total < 20 ? g->total : 20)) ||
        g->status == STORE_UNAVAILABLE)
      atomic_fetch_add(&run->failed, 1);
    for (size_t i = 1; g->status == STORE_OK && i < g->count; i++)
      if (g->msgs[i].id >= g->msgs[i - 1].id) atomic_fetch_add(&run->failed, 1);
    atomic_fetch_add(&run->reads, 1);
  }
  free(g);
  return NULL;
}

static void concurrent_sends_and_reads_stay_consistent(void **state) {
  fixture *f = *state;
  shared_run *run = calloc(1, sizeof *run);
  run->s = f->s;
  pthread_t senders[SENDERS], readers[READERS];
  void *args[SENDERS + READERS][2];
  for (int i = 0; i < READERS; i++) {
    args[SENDERS + i][0] = run;
    args[SENDERS + i][1] = (void *)(uintptr_t)(1000 + i);
    assert_int_equal(pthread_create(&readers[i], NULL, reader_main, args[SENDERS + i]), 0);
  }
  for (int i = 0; i < SENDERS; i++) {
    args[i][0] = run;
    args[i][1] = (void *)(uintptr_t)(i + 1);
    assert_int_equal(pthread_create(&senders[i], NULL, sender_main, args[i]), 0);
  }
  for (int i = 0; i < SENDERS; i++) pthread_join(senders[i], NULL);
  atomic_store(&run->senders_done, true);
  for (int i = 0; i < READERS; i++) pthread_join(readers[i], NULL); /* their connections close on exit */
  assert_int_equal(atomic_load(&run->failed), 0);
  assert_int_equal(atomic_load(&run->ok), SENDERS * SENDS_EACH);
  assert_true(atomic_load(&run->reads) > 0);

  /* one conversation per pair, message totals exact */
  got_page *g = calloc(1, sizeof *g);
  bool seen[USERS + 1][USERS + 1] = {{false}};
  int pairs_used = 0, user_conversations[USERS + 1] = {0};
  for (int lo = 1; lo <= USERS; lo++)
    for (int hi = lo + 1; hi <= USERS; hi++)
      if (atomic_load(&run->pair_sends[lo][hi])) {
        pairs_used++;
        user_conversations[lo]++;
        user_conversations[hi]++;
      }
  int64_t sum = 0, id = 1;
  for (; read_conversation(f->s, id, g) == STORE_OK; id++) {
    int64_t lo = g->convs[0].user1_id, hi = g->convs[0].user2_id;
    assert_true(lo >= 1 && lo < hi && hi <= USERS);
    assert_false(seen[lo][hi]);
    seen[lo][hi] = true;
    assert_int_equal(read_messages(f->s, id, NULL, 1, 1, NULL, g), STORE_OK);
    assert_int_equal(g->total, atomic_load(&run->pair_sends[lo][hi]));
    sum += g->total;
  }
  assert_int_equal(id - 1, pairs_used);
  assert_int_equal(sum, SENDERS * SENDS_EACH);
  for (int u = 1; u <= USERS; u++) {
    assert_int_equal(read_conversations(f->s, u, 1, 100, NULL, g), STORE_OK);
    assert_int_equal(g->total, user_conversations[u]);
    assert_int_equal(g->count, (size_t)user_conversations[u]);
  }
  free(g);
  free(run);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(first_send_creates_the_pair_conversation_both_directions_share_it,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(content_bytes_round_trip_exactly, setup, teardown),
      cmocka_unit_test_setup_teardown(invalid_sends_are_refused_without_writing, setup, teardown),
      cmocka_unit_test_setup_teardown(idempotent_retry_returns_the_original, setup, teardown),
      cmocka_unit_test_setup_teardown(duplicate_keys_in_one_batch_store_one_message, setup, teardown),
      cmocka_unit_test_setup_teardown(pages_and_cursors_tile_the_conversation, setup, teardown),
      cmocka_unit_test_setup_teardown(before_queries_are_strict_and_page_like_the_rest, setup, teardown),
      cmocka_unit_test_setup_teardown(conversations_of_a_user_by_recency, setup, teardown),
      cmocka_unit_test_setup_teardown(unknown_conversations_are_not_found, setup, teardown),
      cmocka_unit_test_setup_teardown(read_marks_move_forward_and_unread_counts_are_exact, setup, teardown),
      cmocka_unit_test_setup_teardown(read_marks_refuse_strangers_and_foreign_messages, setup, teardown),
      cmocka_unit_test_setup_teardown(version_1_databases_gain_read_state, setup, teardown),
      cmocka_unit_test_setup_teardown(ping_answers_ok, setup, teardown),
      cmocka_unit_test_setup_teardown(callbacks_may_read_again, setup, teardown),
      cmocka_unit_test_setup_teardown(shared_read_snapshots_see_every_acknowledged_write, setup, teardown),
      cmocka_unit_test_setup_teardown(reopening_keeps_everything_and_ids_keep_growing, setup, teardown),
      cmocka_unit_test_setup_teardown(a_full_queue_refuses_at_once_and_close_drains, setup, teardown),
      cmocka_unit_test_setup_teardown(close_completes_every_accepted_send, setup, teardown),
      cmocka_unit_test_setup_teardown(open_refuses_foreign_files, setup, teardown),
      cmocka_unit_test_setup_teardown(storage_failures_refuse_sends_and_writes_recover, setup, teardown),
      cmocka_unit_test_setup_teardown(concurrent_sends_and_reads_stay_consistent, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
