/* Unit tests for the Cassandra store's pure logic: buckets, the bucket walk, the page of a
 * user's conversations, message ids with distinct timestamps, statements and the schema text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ids.h"
#include "core/timestamp.h"
#include "cql/client.h"
#include "store/cassandra/cassandra_cql.h"
#include "store/cassandra/cassandra_model.h"

#define DAY_MS    (INT64_C(86400000))
#define T_2026    INT64_C(1795000000000) /* ms, late 2026 */
#define ID_AT(ms) (((int64_t)(ms)-ID_EPOCH_MS) << 12)

/* ---- buckets ---- */

static void bucket_is_ten_days_of_ids(void **state) {
  (void)state;
  assert_int_equal(CASS_BUCKET_MS, 10 * DAY_MS);
  assert_int_equal(cass_bucket_of_id(1), 0);
  assert_int_equal(cass_bucket_of_id(ID_AT(ID_EPOCH_MS + 10 * DAY_MS) - 1), 0);
  assert_int_equal(cass_bucket_of_id(ID_AT(ID_EPOCH_MS + 10 * DAY_MS)), 1);
  /* every id of one millisecond (any node, any sequence) falls in the same bucket */
  int64_t ms = T_2026;
  int32_t b = cass_bucket_of_id(ID_AT(ms));
  assert_int_equal(cass_bucket_of_id(ID_AT(ms) | 0xfff), b);
  /* ids until 2089 (the last valid id) stay far inside int */
  assert_true(cass_bucket_of_id(ID_MAX) < 3000);
  assert_true(cass_bucket_of_id(ID_MAX) > 0);
  /* monotone */
  int32_t prev = 0;
  for (int64_t t = ID_EPOCH_MS; t < ID_EPOCH_MS + 400 * DAY_MS; t += 7 * 3600 * 1000) {
    int32_t cur = cass_bucket_of_id(ID_AT(t));
    assert_true(cur >= prev && cur <= prev + 1);
    prev = cur;
  }
  assert_int_equal(prev, 39);
}

static void bound_takes_cursor_and_before(void **state) {
  (void)state;
  message_query q = {.conversation_id = 5, .page = {.page = 1, .limit = 20}};
  assert_int_equal(cass_message_bound(&q), ID_MAX + 1);
  q.page.has_cursor = true;
  q.page.cursor = (cursor){.kind = CURSOR_MESSAGES, .message_id = 777};
  assert_int_equal(cass_message_bound(&q), 777);
  q.has_before = true;
  q.before_us = T_2026 * 1000;
  assert_int_equal(cass_message_bound(&q), 777); /* the cursor is lower */
  q.page.has_cursor = false;
  assert_int_equal(cass_message_bound(&q), id_floor_for_time_us(T_2026 * 1000));
  assert_true(id_created_at_us(cass_message_bound(&q) - 1) < T_2026 * 1000);
}

static void page_offset_saturates(void **state) {
  (void)state;
  page_request p = {.page = 3, .limit = 20};
  assert_int_equal(cass_page_offset(&p), 40);
  p.page = INT64_MAX;
  assert_int_equal(cass_page_offset(&p), INT64_MAX);
  p.has_cursor = true;
  assert_int_equal(cass_page_offset(&p), 0);
}

/* ---- the bucket walk, against an in-memory conversation ---- */

typedef struct fake_conv {
  int64_t ids[64]; /* descending */
  size_t n;
  size_t reads; /* queries issued by the last run_walk */
} fake_conv;

/* Executes a walk to completion like the store does; returns the ids taken (desc). */
static size_t run_walk(fake_conv *c, int64_t bound, int64_t skip, int limit, int64_t *out) {
  cass_walk w;
  cass_walk_init(&w, bound, skip, limit);
  size_t taken = 0;
  c->reads = 0;
  for (;;) {
    cass_walk_query q = cass_walk_next(&w);
    if (q.step == CASS_WALK_DONE) break;
    c->reads++;
    assert_true(c->reads < 200);
    if (q.step == CASS_WALK_LIST_BUCKETS) {
      int32_t buckets[CASS_BUCKET_WINDOW];
      size_t n = 0;
      int32_t last = INT32_MAX;
      for (size_t i = 0; i < c->n && n < (size_t)q.limit; i++) {
        int32_t b = cass_bucket_of_id(c->ids[i]);
        if (b <= q.bucket && b != last) buckets[n++] = last = b;
      }
      cass_walk_on_buckets(&w, &q, buckets, n);
      continue;
    }
    assert_true(q.limit > 0);
    size_t n = 0;
    int64_t last = 0;
    for (size_t i = 0; i < c->n && n < (size_t)q.limit; i++) {
      if (cass_bucket_of_id(c->ids[i]) != q.bucket || c->ids[i] >= q.bound) continue;
      last = c->ids[i];
      n++;
      if (q.step == CASS_WALK_TAKE) out[taken++] = last;
    }
    cass_walk_on_rows(&w, &q, n, last);
  }
  return taken;
}

/* 30 messages spread over 12 buckets, some buckets empty. */
static void fill_conv(fake_conv *c) {
  memset(c, 0, sizeof *c);
  int64_t t = T_2026;
  for (int i = 0; i < 30; i++) {
    c->ids[i] = ID_AT(t) + 7;
    t -= (i % 3 == 0) ? 25 * DAY_MS : 3600 * 1000; /* jumps over empty buckets */
  }
  c->n = 30;
}

static void walk_pages_match_the_list(void **state) {
  (void)state;
  fake_conv c;
  fill_conv(&c);
  int64_t out[128];
  for (int limit = 1; limit <= 31; limit += 3) {
    /* page numbers */
    for (int64_t page = 1; page <= 32 / limit + 2; page++) {
      size_t n = run_walk(&c, ID_MAX + 1, (page - 1) * limit, limit, out);
      size_t from = (size_t)((page - 1) * limit);
      size_t expect = from >= c.n ? 0 : (c.n - from < (size_t)limit + 1 ? c.n - from : (size_t)limit + 1);
      assert_int_equal(n, expect);
      for (size_t i = 0; i < n; i++) assert_int_equal(out[i], c.ids[from + i]);
    }
    /* cursors: each page starts strictly below the previous page's last id */
    int64_t bound = ID_MAX + 1;
    size_t seen = 0;
    for (;;) {
      size_t n = run_walk(&c, bound, 0, limit, out);
      size_t shown = n > (size_t)limit ? (size_t)limit : n;
      for (size_t i = 0; i < shown; i++) assert_int_equal(out[i], c.ids[seen + i]);
      seen += shown;
      if (n <= (size_t)limit) break; /* has_more is false */
      bound = out[shown - 1];
    }
    assert_int_equal(seen, c.n);
  }
}

static void walk_lists_buckets_in_windows(void **state) {
  (void)state;
  fake_conv c;
  fill_conv(&c); /* 11 distinct buckets: more than one window of CASS_BUCKET_WINDOW */
  int64_t out[128];
  c.reads = 0;
  size_t n = run_walk(&c, ID_MAX + 1, 0, 100, out);
  assert_int_equal(n, 30);
  /* 2 bucket listings + one read per bucket (each returns fewer rows than its LIMIT) */
  assert_int_equal(c.reads, 2 + 11);
  /* a small page reads one listing and only the buckets it needs */
  c.reads = 0;
  n = run_walk(&c, ID_MAX + 1, 0, 2, out);
  assert_int_equal(n, 3);
  assert_int_equal(c.reads, 1 + 2);
}

static void walk_before_and_empty(void **state) {
  (void)state;
  fake_conv c;
  fill_conv(&c);
  int64_t out[128];
  /* before the oldest message: nothing */
  size_t n = run_walk(&c, c.ids[29], 0, 20, out);
  assert_int_equal(n, 0);
  /* a bound of 1 needs no read at all */
  c.reads = 0;
  assert_int_equal(run_walk(&c, 1, 0, 20, out), 0);
  assert_int_equal(c.reads, 0);
  /* before a middle message */
  n = run_walk(&c, c.ids[10], 0, 5, out);
  assert_int_equal(n, 6);
  assert_int_equal(out[0], c.ids[11]);
  /* skipping more rows than exist */
  assert_int_equal(run_walk(&c, ID_MAX + 1, 1000, 5, out), 0);
}

static void walk_skips_in_chunks(void **state) {
  (void)state;
  cass_walk w;
  cass_walk_init(&w, ID_MAX + 1, 12000, 10);
  cass_walk_query q = cass_walk_next(&w);
  assert_int_equal(q.step, CASS_WALK_LIST_BUCKETS);
  int32_t one = 100;
  cass_walk_on_buckets(&w, &q, &one, 1);
  q = cass_walk_next(&w);
  assert_int_equal(q.step, CASS_WALK_SKIP);
  assert_int_equal(q.limit, CASS_SKIP_CHUNK);
  cass_walk_on_rows(&w, &q, CASS_SKIP_CHUNK, 5000000);
  q = cass_walk_next(&w);
  assert_int_equal(q.step, CASS_WALK_SKIP); /* same bucket, below the last skipped id */
  assert_int_equal(q.bucket, 100);
  assert_int_equal(q.bound, 5000000);
  cass_walk_on_rows(&w, &q, CASS_SKIP_CHUNK, 4000000);
  q = cass_walk_next(&w);
  assert_int_equal(q.limit, 2000);
  cass_walk_on_rows(&w, &q, 2000, 3000000);
  q = cass_walk_next(&w);
  assert_int_equal(q.step, CASS_WALK_TAKE);
  assert_int_equal(q.limit, 11);
  assert_int_equal(q.bound, 3000000);
  cass_walk_on_rows(&w, &q, 3, 2000000); /* the bucket ends; a short window: nothing older */
  q = cass_walk_next(&w);
  assert_int_equal(q.step, CASS_WALK_DONE);
}

/* ---- conversations of a user ---- */

static void conversations_sort_and_slice(void **state) {
  (void)state;
  conversation items[6] = {
      {.id = 1, .last_message_id = 50}, {.id = 2, .last_message_id = 70}, {.id = 3, .last_message_id = 50},
      {.id = 4, .last_message_id = 10}, {.id = 5, .last_message_id = 90}, {.id = 6, .last_message_id = 70},
  };
  cass_sort_conversations(items, 6);
  int64_t order[6] = {5, 6, 2, 3, 1, 4};
  for (int i = 0; i < 6; i++) assert_int_equal(items[i].id, order[i]);

  page_request p = {.page = 1, .limit = 4};
  cass_slice s = cass_conversation_slice(items, 6, &p);
  assert_int_equal(s.start, 0);
  assert_int_equal(s.count, 4);
  assert_true(s.has_more);
  p.page = 2;
  s = cass_conversation_slice(items, 6, &p);
  assert_int_equal(s.start, 4);
  assert_int_equal(s.count, 2);
  assert_false(s.has_more);
  p.page = 9;
  s = cass_conversation_slice(items, 6, &p);
  assert_int_equal(s.count, 0);
  assert_false(s.has_more);

  /* cursor after (70, 2): continues at (50, 3) */
  p = (page_request){.limit = 2,
                     .has_cursor = true,
                     .cursor = {.kind = CURSOR_CONVERSATIONS, .message_id = 70, .conversation_id = 2}};
  s = cass_conversation_slice(items, 6, &p);
  assert_int_equal(items[s.start].id, 3);
  assert_int_equal(s.count, 2);
  assert_true(s.has_more);
  /* a cursor whose conversation moved since (not in the list any more) still cuts by position */
  p.cursor = (cursor){.kind = CURSOR_CONVERSATIONS, .message_id = 60, .conversation_id = 9};
  s = cass_conversation_slice(items, 6, &p);
  assert_int_equal(items[s.start].id, 3);
  /* past the end */
  p.cursor = (cursor){.kind = CURSOR_CONVERSATIONS, .message_id = 10, .conversation_id = 4};
  s = cass_conversation_slice(items, 6, &p);
  assert_int_equal(s.count, 0);
  assert_false(s.has_more);
  /* empty list */
  s = cass_conversation_slice(NULL, 0, &p);
  assert_int_equal(s.count, 0);
}

/* ---- ids ---- */

static void ids_have_distinct_timestamps(void **state) {
  (void)state;
  cass_id_source src;
  cass_id_source_init(&src, 9);
  int64_t prev = 0;
  for (int i = 0; i < 500; i++) { /* far more than fit one millisecond */
    int64_t id = cass_id_source_next(&src, T_2026);
    assert_true(id > prev);
    assert_true(id_is_valid(id));
    assert_int_equal((id >> 7) & 31, 9);
    if (prev) assert_true(id_created_at_us(id) > id_created_at_us(prev));
    prev = id;
  }
  cass_id_source_destroy(&src);
}

/* ---- names, errors, statements, schema ---- */

static void keyspace_names(void **state) {
  (void)state;
  char ks[CASS_KEYSPACE_SIZE];
  assert_true(cass_keyspace_normalize("msgtest_0a1B", ks));
  assert_string_equal(ks, "msgtest_0a1b");
  assert_false(cass_keyspace_normalize("", ks));
  assert_false(cass_keyspace_normalize("1abc", ks));
  assert_false(cass_keyspace_normalize("_abc", ks));
  assert_false(cass_keyspace_normalize("a-b", ks));
  assert_false(cass_keyspace_normalize("a\"; DROP", ks));
  assert_false(cass_keyspace_normalize(NULL, ks));
  char long_name[60];
  memset(long_name, 'a', 48);
  long_name[48] = '\0';
  assert_true(cass_keyspace_normalize(long_name, ks));
  long_name[48] = 'a';
  long_name[49] = '\0';
  assert_false(cass_keyspace_normalize(long_name, ks));
}

static void error_details_are_generic(void **state) {
  (void)state;
  assert_string_equal(cass_error_detail(0x1000), "Database unavailable");
  assert_string_equal(cass_error_detail(0x1100), "Database timed out");
  assert_string_equal(cass_error_detail(0x1200), "Database timed out");
  assert_string_equal(cass_error_detail(CQL_ERR_CLIENT_TIMEOUT), "Database timed out");
  assert_string_equal(cass_error_detail(CQL_ERR_NO_HOSTS), "Database unavailable");
  assert_string_equal(cass_error_detail(0x2200), "Database error");
  assert_string_equal(cass_error_detail(0x0000), "Database error");
}

static void statements_are_qualified_and_bounded(void **state) {
  (void)state;
  cass_cql *c = cass_cql_build("ks1");
  assert_non_null(c);
  for (int i = 0; i < CASS_STMT_COUNT; i++) {
    const char *t = c->text[i];
    assert_non_null(t);
    assert_null(strstr(t, "{ks}"));
    assert_null(strstr(t, "ALLOW FILTERING"));
    assert_null(strstr(t, "SELECT *"));
    assert_null(strstr(t, " IN "));
    assert_null(strstr(t, " IN("));
    bool system = strstr(t, "FROM system") != NULL;
    assert_true(system || strstr(t, " ks1.") != NULL);
    /* every read of a user table names its partition key */
    if (!system && strncmp(t, "SELECT ", 7) == 0) assert_non_null(strstr(t, " WHERE "));
    /* conditional statements are exactly the LWTs the model documents */
    bool lwt = strstr(t, " IF ") != NULL;
    assert_int_equal(lwt, i == CASS_PAIR_CLAIM || i == CASS_IDEM_CLAIM || i == CASS_LEASE_CLAIM ||
                              i == CASS_LEASE_RENEW || i == CASS_LEASE_RELEASE);
  }
  assert_string_equal(
      c->text[CASS_BUCKETS_LIST],
      "SELECT bucket FROM ks1.buckets_by_conversation WHERE conversation_id = ? AND bucket <= ? LIMIT ?");
  cass_cql_free(c);
  char *q = cass_cql_qualify("{ks}.a {ks}.b", "x");
  assert_string_equal(q, "x.a x.b");
  free(q);
}

typedef struct schema_seen {
  int n;
  char names[16][64];
} schema_seen;

static bool collect(void *arg, const char *stmt) {
  schema_seen *s = arg;
  const char *prefix = "CREATE TABLE IF NOT EXISTS msgtest_1.";
  assert_int_equal(strncmp(stmt, prefix, strlen(prefix)), 0);
  assert_null(strstr(stmt, "--"));
  assert_null(strchr(stmt, ';'));
  const char *name = stmt + strlen(prefix);
  size_t len = strcspn(name, " (");
  assert_true(s->n < 16 && len < 64);
  memcpy(s->names[s->n], name, len);
  s->names[s->n][len] = '\0';
  s->n++;
  return true;
}

static bool refuse(void *arg, const char *stmt) {
  (void)stmt;
  (*(int *)arg)++;
  return false;
}

static void schema_has_every_table(void **state) {
  (void)state;
  schema_seen seen = {0};
  assert_true(cass_schema_each(cass_schema_text(), "msgtest_1", collect, &seen));
  int tables = 0;
  for (const char *const *t = CASS_TABLES; *t; t++, tables++) {
    bool found = false;
    for (int i = 0; i < seen.n; i++) found = found || strcmp(seen.names[i], *t) == 0;
    assert_true(found);
  }
  assert_int_equal(seen.n, tables);
  /* a statement of another form is refused, and a callback can stop the walk */
  int calls = 0;
  assert_false(cass_schema_each("DROP TABLE messenger.x;", "k", refuse, &calls));
  assert_int_equal(calls, 0);
  assert_false(cass_schema_each("CREATE TABLE IF NOT EXISTS messenger.a (k int PRIMARY KEY);"
                                "CREATE TABLE IF NOT EXISTS messenger.b (k int PRIMARY KEY);",
                                "k", refuse, &calls));
  assert_int_equal(calls, 1);
  assert_true(cass_schema_each("-- only a comment; with a semicolon\n", "k", refuse, &calls));
}

static void replication_map(void **state) {
  (void)state;
  char out[128];
  assert_true(cass_default_replication("dc1", 3, out, sizeof out));
  assert_string_equal(out, "{'class': 'NetworkTopologyStrategy', 'dc1': 3}");
  assert_true(cass_default_replication("it's", 1, out, sizeof out));
  assert_string_equal(out, "{'class': 'NetworkTopologyStrategy', 'it''s': 1}");
  assert_false(cass_default_replication("dc1", 3, out, 10));
}

/* ---- exact totals ---- */

static void seal_bound_is_an_hour_boundary_25_hours_back(void **state) {
  (void)state;
  int64_t hour = CASS_SEAL_GRID_US;
  int64_t now = id_created_at_us(INT64_C(7340032000000000)) + 123456789; /* some time in 2026 */
  int64_t bound = cass_seal_bound(now);
  int64_t settled = now - CASS_SEAL_DELAY_US;
  assert_int_equal(bound, id_floor_for_time_us(settled - settled % hour));
  assert_true(id_created_at_us(bound) <= settled);              /* never newer than 25 h ago */
  assert_true(id_created_at_us(bound) > settled - hour - 1000); /* at most an hour older */
  /* every reader within the same hour seals at the same bound */
  assert_int_equal(cass_seal_bound(now - settled % hour), bound);
  assert_int_equal(cass_seal_bound(now - settled % hour + hour - 1), bound);
  assert_true(cass_seal_bound(now - settled % hour + hour) > bound);
  assert_int_equal(cass_seal_bound(CASS_SEAL_DELAY_US / 2), 0); /* before there is anything to seal */
}

static void tally_counts_live_rows_and_seals_the_settled_ones(void **state) {
  (void)state;
  int64_t now = id_created_at_us(INT64_C(7340032000000000));
  int64_t bound = cass_seal_bound(now);
  cass_tally t;
  /* no seal yet: everything is live */
  cass_tally_init(&t, 0, 0, 0, now);
  assert_int_equal(cass_tally_from(&t), 0);
  cass_tally_add(&t, bound - 100, 1, 2); /* settled, from the lower id */
  cass_tally_add(&t, bound - 50, 2, 1);  /* settled */
  cass_tally_add(&t, bound, 1, 2);       /* recent: at the bound is above it */
  cass_tally_add(&t, bound + 9, 2, 1);
  assert_int_equal(cass_tally_total(&t), 4);
  int64_t until, count, low;
  assert_true(cass_tally_seal(&t, &until, &count, &low));
  assert_int_equal(until, bound);
  assert_int_equal(count, 2);
  assert_int_equal(low, 1);

  /* from that seal, a later read counts only ids >= bound, and adds nothing below */
  cass_tally_init(&t, until, count, low, now);
  assert_int_equal(cass_tally_from(&t), bound);
  cass_tally_add(&t, bound - 1, 1, 2); /* below the seal: already counted */
  cass_tally_add(&t, bound, 1, 2);
  cass_tally_add(&t, bound + 9, 2, 1);
  assert_int_equal(cass_tally_total(&t), 4);
  assert_false(cass_tally_seal(&t, &until, &count, &low)); /* the newest possible seal is stored */

  /* a day later the seal moves on: old count + the rows that settled since */
  int64_t later = now + INT64_C(24) * 3600 * 1000000;
  cass_tally_init(&t, bound, 2, 1, later);
  cass_tally_add(&t, bound, 1, 2);
  cass_tally_add(&t, bound + 9, 2, 1);
  cass_tally_add(&t, cass_seal_bound(later) + 1, 1, 2);
  assert_int_equal(cass_tally_total(&t), 5);
  assert_true(cass_tally_seal(&t, &until, &count, &low));
  assert_int_equal(until, cass_seal_bound(later));
  assert_int_equal(count, 4);
  assert_int_equal(low, 2);

  /* nonsense stored values never make a negative total */
  cass_tally_init(&t, -5, -3, -1, now);
  assert_int_equal(cass_tally_total(&t), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(seal_bound_is_an_hour_boundary_25_hours_back),
      cmocka_unit_test(tally_counts_live_rows_and_seals_the_settled_ones),
      cmocka_unit_test(bucket_is_ten_days_of_ids),
      cmocka_unit_test(bound_takes_cursor_and_before),
      cmocka_unit_test(page_offset_saturates),
      cmocka_unit_test(walk_pages_match_the_list),
      cmocka_unit_test(walk_lists_buckets_in_windows),
      cmocka_unit_test(walk_before_and_empty),
      cmocka_unit_test(walk_skips_in_chunks),
      cmocka_unit_test(conversations_sort_and_slice),
      cmocka_unit_test(ids_have_distinct_timestamps),
      cmocka_unit_test(keyspace_names),
      cmocka_unit_test(error_details_are_generic),
      cmocka_unit_test(statements_are_qualified_and_bounded),
      cmocka_unit_test(schema_has_every_table),
      cmocka_unit_test(replication_map),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
