/* Unit tests for events/event and events/hub: id syntax, encodings, replay without gaps or
 * duplicates, reset rules, eviction, typing, refusing sinks, concurrency. Sinks are fakes that
 * record what they receive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/event.h"
#include "events/hub.h"
#include "events/remote.h"

#define EPOCH 777

typedef struct recorded {
  char type[16];
  char id[EVENT_ID_TEXT_SIZE];
  char fields[64];
} recorded;

typedef struct fake_sink {
  recorded got[4096];
  size_t count;
  char position[EVENT_ID_TEXT_SIZE];
  size_t heartbeats;
  size_t accept_until; /* refuse the event after this many (0 = never refuse) */
  bool refuse_heartbeat;
  int closed;
} fake_sink;

static bool fake_deliver(void *sink, const event *ev) {
  fake_sink *f = sink;
  if (f->accept_until && f->count >= f->accept_until) return false;
  recorded *r = &f->got[f->count++];
  snprintf(r->type, sizeof r->type, "%s", ev->type);
  snprintf(r->id, sizeof r->id, "%s", ev->id);
  snprintf(r->fields, sizeof r->fields, "%.*s", (int)ev->fields_len, ev->fields);
  return true;
}

static bool fake_heartbeat(void *sink) {
  fake_sink *f = sink;
  f->heartbeats++;
  return !f->refuse_heartbeat;
}

static bool fake_position(void *sink, const char *id) {
  fake_sink *f = sink;
  snprintf(f->position, sizeof f->position, "%s", id);
  return true;
}

static void fake_close(void *sink) { ((fake_sink *)sink)->closed++; }

static const event_sink_ops fake_ops = {fake_deliver, fake_heartbeat, fake_position, fake_close};

static events_hub *hub_with(size_t per_user, size_t max_bytes) {
  events_config cfg;
  events_config_defaults(&cfg);
  cfg.epoch = EPOCH;
  cfg.heartbeat_ms = 3600 * 1000; /* ticks are driven by the tests */
  if (per_user) cfg.history_per_user = per_user;
  if (max_bytes) cfg.history_max_bytes = max_bytes;
  events_hub *h = events_hub_new(&cfg);
  assert_non_null(h);
  return h;
}

static void publish_message(events_hub *h, int64_t a, int64_t b, int n) {
  char fields[32];
  int len = snprintf(fields, sizeof fields, "\"n\":%d", n);
  const int64_t users[] = {a, b};
  assert_true(events_publish(h, users, 2, EVENT_MESSAGE, fields, (size_t)len, true));
}

static void publish_one_user(events_hub *h, int64_t user, int n) {
  char fields[32];
  int len = snprintf(fields, sizeof fields, "\"n\":%d", n);
  assert_true(events_publish(h, &user, 1, EVENT_MESSAGE, fields, (size_t)len, true));
}

static void ids_parse_and_format(void **state) {
  (void)state;
  event_pos p;
  assert_true(event_pos_parse("12-34", 5, &p));
  assert_true(p.hi == 12 && p.lo == 34);
  assert_true(event_pos_parse("0-0~7", 5, &p));
  assert_true(p.hi == 0 && p.lo == 0);
  assert_true(event_pos_parse("18446744073709551615-1", 22, &p));
  assert_true(p.hi == UINT64_MAX);
  const char *bad[] = {"",      "-",    "1-",     "-1",  "1",    "01-2",
                       "1-02",  "1-2~", "1-2~x",  "a-b", "+1-2", "18446744073709551616-1",
                       "1-2-3", "1 -2", "1-2~3~4"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_false(event_pos_parse(bad[i], strlen(bad[i]), &p));
  char text[EVENT_ID_TEXT_SIZE];
  assert_int_equal(event_pos_format((event_pos){5, 6}, text), 3);
  assert_string_equal(text, "5-6");
  event_typing_id_format((event_pos){UINT64_MAX, UINT64_MAX}, UINT64_MAX, text);
  assert_string_equal(text, "18446744073709551615-18446744073709551615~18446744073709551615");
  assert_true(event_pos_cmp((event_pos){1, 9}, (event_pos){2, 0}) < 0);
  assert_true(event_pos_cmp((event_pos){2, 1}, (event_pos){2, 0}) > 0);
  assert_int_equal(event_pos_cmp((event_pos){2, 1}, (event_pos){2, 1}), 0);
}

static void encodings(void **state) {
  (void)state;
  size_t len;
  event ev = {.type = EVENT_MESSAGE, .id = "1-2", .fields = "\"message\":{\"id\":5}", .fields_len = 18};
  char *json = event_encode_json(&ev, &len);
  assert_string_equal(json, "{\"type\":\"message\",\"id\":\"1-2\",\"message\":{\"id\":5}}");
  assert_int_equal(len, strlen(json));
  free(json);
  char *sse = event_encode_sse(&ev, &len);
  assert_string_equal(
      sse, "id: 1-2\nevent: message\ndata: {\"type\":\"message\",\"id\":\"1-2\",\"message\":{\"id\":5}}\n\n");
  free(sse);
  event reset = {.type = EVENT_RESET, .id = "1-3", .fields = "", .fields_len = 0};
  json = event_encode_json(&reset, &len);
  assert_string_equal(json, "{\"type\":\"reset\",\"id\":\"1-3\"}");
  free(json);
  char *pos = event_encode_sse_position("9-9", &len);
  assert_string_equal(pos, "id: 9-9\n\n");
  free(pos);
}

static void live_events_reach_both_participants_in_order(void **state) {
  (void)state;
  events_hub *h = hub_with(0, 0);
  fake_sink a = {0}, b = {0}, other = {0};
  events_sub *sa = events_subscribe(h, 1, NULL, &fake_ops, &a);
  events_sub *sb = events_subscribe(h, 2, "", &fake_ops, &b);
  events_sub *so = events_subscribe(h, 3, NULL, &fake_ops, &other);
  assert_string_equal(a.position, "777-0");
  assert_int_equal(events_stream_count(h), 3);
  for (int i = 0; i < 5; i++) publish_message(h, 1, 2, i);
  assert_int_equal(a.count, 5);
  assert_int_equal(b.count, 5);
  assert_int_equal(other.count, 0);
  event_pos prev = {0, 0};
  for (size_t i = 0; i < 5; i++) {
    event_pos p;
    assert_true(event_pos_parse(a.got[i].id, strlen(a.got[i].id), &p));
    assert_true(event_pos_cmp(prev, p) < 0);
    prev = p;
    char want[16];
    snprintf(want, sizeof want, "\"n\":%zu", i);
    assert_string_equal(a.got[i].fields, want);
    assert_string_equal(a.got[i].type, "message");
  }
  events_unsubscribe(sa);
  events_unsubscribe(sb);
  events_unsubscribe(so);
  assert_int_equal(events_stream_count(h), 0);
  events_hub_free(h);
}

static void resume_replays_missed_events_exactly_once(void **state) {
  (void)state;
  events_hub *h = hub_with(0, 0);
  fake_sink first = {0};
  events_sub *s = events_subscribe(h, 1, NULL, &fake_ops, &first);
  publish_message(h, 1, 2, 0);
  publish_message(h, 1, 2, 1);
  events_unsubscribe(s);
  char last[EVENT_ID_TEXT_SIZE];
  snprintf(last, sizeof last, "%s", first.got[1].id);
  for (int i = 2; i < 6; i++) publish_message(h, 1, 2, i); /* missed while away */
  fake_sink again = {0};
  s = events_subscribe(h, 1, last, &fake_ops, &again);
  assert_int_equal(again.count, 4);
  assert_string_equal(again.got[0].fields, "\"n\":2");
  assert_string_equal(again.got[3].fields, "\"n\":5");
  assert_string_equal(again.position, ""); /* a resumed stream gets no position line */
  publish_message(h, 1, 2, 6);
  assert_int_equal(again.count, 5);
  assert_string_equal(again.got[4].fields, "\"n\":6");
  events_unsubscribe(s);
  /* Resuming from the position of a stream that saw nothing replays everything since. */
  fake_sink quiet = {0}, later = {0};
  s = events_subscribe(h, 9, NULL, &fake_ops, &quiet);
  events_unsubscribe(s);
  publish_message(h, 9, 2, 7);
  s = events_subscribe(h, 9, quiet.position, &fake_ops, &later);
  assert_int_equal(later.count, 1);
  assert_string_equal(later.got[0].fields, "\"n\":7");
  events_unsubscribe(s);
  events_hub_free(h);
}

static void reset_for_unknown_foreign_or_evicted_ids(void **state) {
  (void)state;
  events_hub *h = hub_with(3, 0);
  for (int i = 0; i < 2; i++) publish_one_user(h, 1, i);
  fake_sink f = {0};
  events_sub *s = events_subscribe(h, 1, "777-1", &fake_ops, &f); /* still retained */
  assert_int_equal(f.count, 1);
  assert_string_equal(f.got[0].type, "message");
  events_unsubscribe(s);
  for (int i = 2; i < 6; i++) publish_one_user(h, 1, i); /* per-user cap 3: 1..3 evicted */
  const char *stale[] = {"777-1", "778-1", "777-999", "garbage", "1-2-3"};
  for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
    memset(&f, 0, sizeof f);
    s = events_subscribe(h, 1, stale[i], &fake_ops, &f);
    assert_int_equal(f.count, 1);
    assert_string_equal(f.got[0].type, "reset");
    assert_string_equal(f.got[0].fields, "");
    assert_string_equal(f.got[0].id, "777-6");
    events_unsubscribe(s);
  }
  /* The largest evicted position itself is still a gapless resume point. */
  memset(&f, 0, sizeof f);
  s = events_subscribe(h, 1, "777-3", &fake_ops, &f);
  assert_int_equal(f.count, 3);
  assert_string_equal(f.got[0].fields, "\"n\":3");
  events_unsubscribe(s);
  events_hub_free(h);
}

static void byte_budget_evicts_oldest_and_forgotten_users_reset(void **state) {
  (void)state;
  /* 64 shards share the budget: about 1 KiB each, so a few events per shard. */
  events_hub *h = hub_with(0, 64 * 1024);
  char big[600];
  memset(big, 'x', sizeof big);
  const int64_t users[] = {5};
  for (int i = 0; i < 10; i++) assert_true(events_publish(h, users, 1, EVENT_MESSAGE, big, sizeof big, true));
  fake_sink f = {0};
  events_sub *s = events_subscribe(h, 5, "777-1", &fake_ops, &f);
  assert_string_equal(f.got[0].type, "reset");
  events_unsubscribe(s);
  memset(&f, 0, sizeof f);
  s = events_subscribe(h, 5, "777-9", &fake_ops, &f);
  assert_int_equal(f.count, 1);
  assert_string_equal(f.got[0].id, "777-10");
  events_unsubscribe(s);
  events_hub_free(h);
}

static void typing_is_live_only_with_ordered_ids(void **state) {
  (void)state;
  events_hub *h = hub_with(0, 0);
  const int64_t to[] = {2};
  assert_true(events_publish(h, to, 1, EVENT_TYPING, "\"user_id\":1", 11, false)); /* nobody listens */
  fake_sink f = {0};
  events_sub *s = events_subscribe(h, 2, NULL, &fake_ops, &f);
  assert_int_equal(f.count, 0);
  publish_message(h, 1, 2, 0);
  assert_true(events_publish(h, to, 1, EVENT_TYPING, "\"user_id\":1", 11, false));
  assert_true(events_publish(h, to, 1, EVENT_TYPING, "\"user_id\":1", 11, false));
  assert_int_equal(f.count, 3);
  assert_string_equal(f.got[1].type, "typing");
  char want[EVENT_ID_TEXT_SIZE + 8];
  snprintf(want, sizeof want, "%s~1", f.got[0].id);
  assert_string_equal(f.got[1].id, want);
  snprintf(want, sizeof want, "%s~2", f.got[0].id);
  assert_string_equal(f.got[2].id, want);
  events_unsubscribe(s);
  /* Resuming from a typing id resumes from the position before it; typing is not replayed. */
  publish_message(h, 1, 2, 1);
  fake_sink r = {0};
  s = events_subscribe(h, 2, f.got[2].id, &fake_ops, &r);
  assert_int_equal(r.count, 1);
  assert_string_equal(r.got[0].fields, "\"n\":1");
  events_unsubscribe(s);
  events_hub_free(h);
}

static void refusing_sink_is_unlinked_others_continue(void **state) {
  (void)state;
  events_hub *h = hub_with(0, 0);
  fake_sink slow = {.accept_until = 2}, fast = {0};
  events_sub *ss = events_subscribe(h, 1, NULL, &fake_ops, &slow);
  events_sub *sf = events_subscribe(h, 1, NULL, &fake_ops, &fast);
  for (int i = 0; i < 5; i++) publish_message(h, 1, 2, i);
  assert_int_equal(slow.count, 2);
  assert_int_equal(fast.count, 5);
  assert_int_equal(events_stream_count(h), 1);
  events_unsubscribe(ss); /* still required, and harmless after the unlink */
  events_unsubscribe(sf);
  /* A sink refusing during replay is unlinked at once too. */
  fake_sink refuse = {.accept_until = 1};
  events_sub *sr = events_subscribe(h, 1, "777-0", &fake_ops, &refuse);
  assert_non_null(sr);
  assert_int_equal(refuse.count, 1);
  assert_int_equal(events_stream_count(h), 0);
  events_unsubscribe(sr);
  events_hub_free(h);
}

static void heartbeats_reach_every_stream(void **state) {
  (void)state;
  events_hub *h = hub_with(0, 0);
  static fake_sink f[3];
  memset(f, 0, sizeof f);
  f[2].refuse_heartbeat = true;
  events_sub *s[3];
  for (int i = 0; i < 3; i++) s[i] = events_subscribe(h, 100 + i, NULL, &fake_ops, &f[i]);
  events_hub_tick(h);
  events_hub_tick(h);
  assert_int_equal(f[0].heartbeats, 2);
  assert_int_equal(f[1].heartbeats, 2);
  assert_int_equal(f[2].heartbeats, 1);
  assert_int_equal(events_stream_count(h), 2);
  for (int i = 0; i < 3; i++) events_unsubscribe(s[i]);
  events_hub_free(h);
}

/* Concurrency: publishers on several threads while a reader reconnects repeatedly; the union
 * of what the reader got is every event once, in per-user order. */
#define PUBLISHERS    4
#define PER_PUBLISHER 2000

static void *publisher_main(void *arg) {
  events_hub *h = arg;
  for (int i = 0; i < PER_PUBLISHER; i++) publish_message(h, 1, 2, i);
  return NULL;
}

static void concurrent_publish_with_reconnects_loses_nothing(void **state) {
  (void)state;
  events_hub *h = hub_with(PUBLISHERS * PER_PUBLISHER, 0);
  static fake_sink f;
  char last[EVENT_ID_TEXT_SIZE];
  events_unsubscribe(events_subscribe(h, 2, NULL, &fake_ops, &f)); /* the start position */
  snprintf(last, sizeof last, "%s", f.position);
  pthread_t threads[PUBLISHERS];
  for (int i = 0; i < PUBLISHERS; i++)
    assert_int_equal(pthread_create(&threads[i], NULL, publisher_main, h), 0);
  size_t total = 0;
  event_pos prev = {0, 0};
  for (int round = 0; round < 1000000 && total < PUBLISHERS * PER_PUBLISHER; round++) {
    memset(&f, 0, sizeof f);
    f.accept_until = sizeof f.got / sizeof f.got[0];
    events_sub *s = events_subscribe(h, 2, last, &fake_ops, &f);
    assert_string_not_equal(f.count ? f.got[0].type : "", "reset");
    events_unsubscribe(s);
    for (size_t i = 0; i < f.count; i++) {
      event_pos p;
      assert_true(event_pos_parse(f.got[i].id, strlen(f.got[i].id), &p));
      assert_true(event_pos_cmp(prev, p) < 0);
      prev = p;
      snprintf(last, sizeof last, "%s", f.got[i].id);
    }
    total += f.count;
  }
  for (int i = 0; i < PUBLISHERS; i++) pthread_join(threads[i], NULL);
  assert_int_equal(total, PUBLISHERS * PER_PUBLISHER);
  events_hub_free(h);
}

/* ---- the shared-log mode, with a fake remote that records what the hub asks ---- */

typedef struct fake_remote {
  int published;
  bool refuse_replay;
  events_sub *pending[8];
  bool had_since[8];
  event_pos since[8];
  size_t pending_count;
} fake_remote;

static bool fake_publish(void *remote, int64_t user_id, const char *type, const char *fields, size_t len,
                         bool logged) {
  (void)user_id, (void)type, (void)fields, (void)len, (void)logged;
  ((fake_remote *)remote)->published++;
  return true;
}

static bool fake_replay(void *remote, int64_t user_id, const event_pos *since, events_sub *sub) {
  (void)user_id;
  fake_remote *r = remote;
  if (r->refuse_replay) return false;
  r->had_since[r->pending_count] = since != NULL;
  if (since) r->since[r->pending_count] = *since;
  r->pending[r->pending_count++] = sub;
  return true;
}

static const events_remote_ops fake_remote_ops = {fake_publish, fake_replay};

static events_hub *remote_hub(fake_remote *r) {
  memset(r, 0, sizeof *r);
  events_hub *h = hub_with(0, 0);
  events_hub_set_remote(h, &fake_remote_ops, r);
  events_hub_remote_live(h, true);
  return h;
}

static void remote_event(events_hub *h, int64_t user, uint64_t ms, uint64_t seq, const char *fields) {
  event_pos p = {ms, seq};
  events_hub_remote_event(h, user, &p, EVENT_MESSAGE, fields, strlen(fields));
}

static void remote_replay_merges_buffered_live_events_once(void **state) {
  (void)state;
  fake_remote r;
  events_hub *h = remote_hub(&r);
  fake_sink f = {0};
  events_sub *s = events_subscribe(h, 7, "100-1", &fake_ops, &f);
  assert_int_equal(r.pending_count, 1);
  assert_true(r.had_since[0] && r.since[0].hi == 100 && r.since[0].lo == 1);
  /* live events arrive before the replay comes back: one also in the replay, one after it */
  remote_event(h, 7, 100, 3, "\"n\":3");
  remote_event(h, 7, 100, 4, "\"n\":4");
  assert_int_equal(f.count, 0);
  replay_entry entries[] = {{{100, 2}, EVENT_MESSAGE, "\"n\":2", 5}, {{100, 3}, EVENT_MESSAGE, "\"n\":3", 5}};
  events_hub_replay_done(h, r.pending[0], REPLAY_ENTRIES, (event_pos){100, 3}, entries, 2);
  assert_int_equal(f.count, 3);
  assert_string_equal(f.got[0].id, "100-2");
  assert_string_equal(f.got[1].id, "100-3");
  assert_string_equal(f.got[2].id, "100-4");
  remote_event(h, 7, 100, 4, "\"n\":4"); /* a duplicate delivery is dropped */
  remote_event(h, 7, 100, 5, "\"n\":5");
  assert_int_equal(f.count, 4);
  assert_string_equal(f.got[3].id, "100-5");
  events_hub_remote_event(h, 7, NULL, EVENT_TYPING, "\"user_id\":1", 11);
  assert_string_equal(f.got[4].id, "100-5~1");
  const int64_t users[] = {7, 8, 7};
  assert_true(events_publish(h, users, 3, EVENT_MESSAGE, "x", 1, true));
  assert_int_equal(r.published, 2);
  events_unsubscribe(s);
  events_hub_free(h);
}

static void remote_position_reset_and_failure(void **state) {
  (void)state;
  fake_remote r;
  events_hub *h = remote_hub(&r);
  fake_sink fresh = {0}, bad = {0}, stale = {0}, failed = {0};
  events_sub *s1 = events_subscribe(h, 1, NULL, &fake_ops, &fresh);
  events_sub *s2 = events_subscribe(h, 1, "not-an-id", &fake_ops, &bad);
  events_sub *s3 = events_subscribe(h, 1, "5-5", &fake_ops, &stale);
  events_sub *s4 = events_subscribe(h, 1, NULL, &fake_ops, &failed);
  assert_false(r.had_since[0]);
  assert_false(r.had_since[1]); /* unparsable: asked for the position, answered with reset */
  events_hub_replay_done(h, r.pending[0], REPLAY_POSITION, (event_pos){200, 0}, NULL, 0);
  events_hub_replay_done(h, r.pending[1], REPLAY_POSITION, (event_pos){200, 0}, NULL, 0);
  events_hub_replay_done(h, r.pending[2], REPLAY_RESET, (event_pos){200, 0}, NULL, 0);
  events_hub_replay_done(h, r.pending[3], REPLAY_FAILED, (event_pos){0, 0}, NULL, 0);
  assert_string_equal(fresh.position, "200-0");
  assert_int_equal(fresh.count, 0);
  assert_string_equal(bad.got[0].type, "reset");
  assert_string_equal(bad.got[0].id, "200-0");
  assert_string_equal(stale.got[0].type, "reset");
  assert_int_equal(failed.closed, 1);
  assert_int_equal(events_stream_count(h), 3);
  events_unsubscribe(s1);
  events_unsubscribe(s2);
  events_unsubscribe(s3);
  events_unsubscribe(s4);
  events_hub_free(h);
}

static void remote_unsubscribe_before_replay_and_lost_fanout(void **state) {
  (void)state;
  fake_remote r;
  events_hub *h = remote_hub(&r);
  fake_sink a = {0}, b = {0}, c = {0};
  events_sub *sa = events_subscribe(h, 1, NULL, &fake_ops, &a);
  events_unsubscribe(sa); /* the replay is still owed: freed when it comes back (ASan checks) */
  events_hub_replay_done(h, r.pending[0], REPLAY_POSITION, (event_pos){1, 0}, NULL, 0);
  assert_int_equal(a.closed, 0);
  events_sub *sb = events_subscribe(h, 2, NULL, &fake_ops, &b);
  events_hub_replay_done(h, r.pending[1], REPLAY_POSITION, (event_pos){1, 0}, NULL, 0);
  events_sub *sc = events_subscribe(h, 3, NULL, &fake_ops, &c); /* replay pending when the fan-out drops */
  events_hub_remote_live(h, false);
  assert_int_equal(b.closed, 1);
  assert_int_equal(c.closed, 1);
  events_hub_replay_done(h, r.pending[2], REPLAY_POSITION, (event_pos){1, 0}, NULL, 0);
  assert_int_equal(c.count, 0);
  fake_sink d = {0};
  events_sub *sd = events_subscribe(h, 4, NULL, &fake_ops, &d); /* not live: closed at once */
  assert_int_equal(d.closed, 1);
  assert_int_equal(r.pending_count, 3);
  r.refuse_replay = true;
  events_hub_remote_live(h, true);
  fake_sink e = {0};
  events_sub *se = events_subscribe(h, 5, NULL, &fake_ops, &e); /* the replay cannot be submitted */
  assert_int_equal(e.closed, 1);
  assert_int_equal(events_stream_count(h), 0);
  events_unsubscribe(sb);
  events_unsubscribe(sc);
  events_unsubscribe(sd);
  events_unsubscribe(se);
  events_hub_free(h);
}

/* A resume whose missed events would not fit the stream's buffer starts with reset, in the
 * local log and in a remote replay alike; one that fits is replayed. */
static void replays_larger_than_the_budget_are_a_reset(void **state) {
  (void)state;
  events_config cfg;
  events_config_defaults(&cfg);
  cfg.epoch = EPOCH;
  cfg.heartbeat_ms = 3600 * 1000;
  cfg.replay_max_bytes = 3 * (EVENT_REPLAY_OVERHEAD + 5); /* three events of "\"n\":N" */
  events_hub *h = events_hub_new(&cfg);
  assert_non_null(h);
  for (int i = 0; i < 6; i++) publish_one_user(h, 1, i); /* 777-1 .. 777-6 */
  fake_sink fits = {0}, too_many = {0};
  events_sub *s = events_subscribe(h, 1, "777-3", &fake_ops, &fits);
  assert_int_equal(fits.count, 3);
  assert_string_equal(fits.got[0].fields, "\"n\":3");
  events_unsubscribe(s);
  s = events_subscribe(h, 1, "777-2", &fake_ops, &too_many);
  assert_int_equal(too_many.count, 1);
  assert_string_equal(too_many.got[0].type, "reset");
  assert_string_equal(too_many.got[0].id, "777-6");
  events_unsubscribe(s);
  events_hub_free(h);

  fake_remote r;
  memset(&r, 0, sizeof r);
  h = events_hub_new(&cfg);
  events_hub_set_remote(h, &fake_remote_ops, &r);
  events_hub_remote_live(h, true);
  fake_sink remote = {0};
  s = events_subscribe(h, 7, "100-1", &fake_ops, &remote);
  replay_entry entries[4];
  for (int i = 0; i < 4; i++)
    entries[i] = (replay_entry){{100, (uint64_t)i + 2}, EVENT_MESSAGE, "\"n\":0", 5};
  events_hub_replay_done(h, r.pending[0], REPLAY_ENTRIES, (event_pos){100, 5}, entries, 4);
  assert_int_equal(remote.count, 1);
  assert_string_equal(remote.got[0].type, "reset");
  assert_string_equal(remote.got[0].id, "100-5");
  remote_event(h, 7, 100, 6, "\"n\":6"); /* live again after the reset */
  assert_int_equal(remote.count, 2);
  assert_string_equal(remote.got[1].id, "100-6");
  events_unsubscribe(s);
  events_hub_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ids_parse_and_format),
      cmocka_unit_test(encodings),
      cmocka_unit_test(live_events_reach_both_participants_in_order),
      cmocka_unit_test(resume_replays_missed_events_exactly_once),
      cmocka_unit_test(reset_for_unknown_foreign_or_evicted_ids),
      cmocka_unit_test(byte_budget_evicts_oldest_and_forgotten_users_reset),
      cmocka_unit_test(typing_is_live_only_with_ordered_ids),
      cmocka_unit_test(refusing_sink_is_unlinked_others_continue),
      cmocka_unit_test(heartbeats_reach_every_stream),
      cmocka_unit_test(concurrent_publish_with_reconnects_loses_nothing),
      cmocka_unit_test(remote_replay_merges_buffered_live_events_once),
      cmocka_unit_test(remote_position_reset_and_failure),
      cmocka_unit_test(remote_unsubscribe_before_replay_and_lost_fanout),
      cmocka_unit_test(replays_larger_than_the_budget_are_a_reset),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
