#include "events/hub.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/remote.h"
#include "log/log.h"

#define SHARD_COUNT     64
#define INITIAL_BUCKETS 64
/* Live events held for a stream whose replay has not come back yet (shared log only). */
#define REPLAY_BUFFER_MAX 1024

typedef struct user_rec user_rec;

typedef struct log_entry {
  struct log_entry *user_next;               /* the next newer entry of the same user */
  struct log_entry *shard_prev, *shard_next; /* the shard's entries in append order */
  user_rec *user;
  uint64_t seq;
  int64_t at_ms;
  const char *type;
  size_t fields_len;
  char fields[];
} log_entry;

/* A live event that arrived while the stream's replay was pending. */
typedef struct buffered_event {
  struct buffered_event *next;
  event_pos pos;
  char type[16];
  size_t fields_len;
  char fields[];
} buffered_event;

struct events_sub {
  events_sub *prev, *next; /* in the user's list while linked */
  user_rec *user;          /* NULL once unlinked */
  struct shard *shard;
  events_hub *hub;
  const event_sink_ops *ops;
  void *sink;
  event_pos last;          /* the last logged position delivered (or the start position) */
  uint64_t typing_counter; /* suffix of typing ids after `last` */
  /* shared log only */
  bool replaying;       /* live events are buffered until the replay is delivered */
  bool replay_pending;  /* the remote still owes events_hub_replay_done */
  bool orphaned;        /* unsubscribed while the replay was pending: freed by replay_done */
  bool reset_requested; /* the last id could not be parsed: the replay's position gets a reset */
  buffered_event *buffered, **buffered_tail;
  size_t buffered_count;
};

struct user_rec {
  user_rec *hash_next;
  int64_t user_id;
  log_entry *head, *tail; /* oldest .. newest */
  size_t count;
  uint64_t max_deleted; /* largest seq evicted from this user's log (or inherited floor) */
  events_sub *subs;
};

typedef struct shard {
  pthread_mutex_t lock;
  user_rec **buckets;
  size_t bucket_count, user_count;
  log_entry *oldest, *newest;
  size_t bytes;
  uint64_t forget_floor; /* largest seq of any user record dropped from this shard */
} shard;

struct events_hub {
  events_config cfg;
  size_t shard_max_bytes;
  _Atomic uint64_t seq; /* last sequence number handed out, shared by all users */
  atomic_size_t streams;
  shard shards[SHARD_COUNT];
  const events_remote_ops *remote_ops; /* NULL: the in-process log */
  void *remote;
  atomic_bool remote_live;
  pthread_t heartbeat;
  pthread_mutex_t stop_lock;
  pthread_cond_t stop_cond;
  bool stopping;
};

void events_config_defaults(events_config *cfg) {
  *cfg = (events_config){
      .history_per_user = 1000,
      .history_max_age_s = 3600,
      .history_max_bytes = (size_t)64 << 20,
      .heartbeat_ms = 15000,
      .replay_max_bytes = 0,
      .epoch = 0,
  };
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t user_hash(int64_t user_id) {
  uint64_t x = (uint64_t)user_id;
  x ^= x >> 33;
  x *= UINT64_C(0xff51afd7ed558ccd);
  x ^= x >> 33;
  return x;
}

static shard *shard_of(events_hub *h, int64_t user_id) {
  return &h->shards[user_hash(user_id) % SHARD_COUNT];
}

static size_t bucket_of(const shard *sh, int64_t user_id) {
  return (size_t)(user_hash(user_id) / SHARD_COUNT) % sh->bucket_count;
}

static user_rec *user_find(shard *sh, int64_t user_id) {
  for (user_rec *u = sh->buckets[bucket_of(sh, user_id)]; u; u = u->hash_next)
    if (u->user_id == user_id) return u;
  return NULL;
}

static void buckets_grow(shard *sh) {
  size_t count = sh->bucket_count * 2;
  user_rec **buckets = calloc(count, sizeof *buckets);
  if (!buckets) return; /* longer chains, still correct */
  user_rec **old = sh->buckets;
  size_t old_count = sh->bucket_count;
  sh->buckets = buckets;
  sh->bucket_count = count;
  for (size_t i = 0; i < old_count; i++) {
    for (user_rec *u = old[i], *next; u; u = next) {
      next = u->hash_next;
      size_t b = bucket_of(sh, u->user_id);
      u->hash_next = buckets[b];
      buckets[b] = u;
    }
  }
  free(old);
}

static user_rec *user_get(shard *sh, int64_t user_id) {
  user_rec *u = user_find(sh, user_id);
  if (u) return u;
  u = calloc(1, sizeof *u);
  if (!u) return NULL;
  u->user_id = user_id;
  u->max_deleted = sh->forget_floor;
  size_t b = bucket_of(sh, user_id);
  u->hash_next = sh->buckets[b];
  sh->buckets[b] = u;
  if (++sh->user_count > sh->bucket_count * 2) buckets_grow(sh);
  return u;
}

/* Drops a user record that holds nothing; its positions stay unresumable-past via the floor. */
static void user_drop_if_empty(shard *sh, user_rec *u) {
  if (u->head || u->subs) return;
  user_rec **link = &sh->buckets[bucket_of(sh, u->user_id)];
  while (*link != u) link = &(*link)->hash_next;
  *link = u->hash_next;
  sh->user_count--;
  if (u->max_deleted > sh->forget_floor) sh->forget_floor = u->max_deleted;
  free(u);
}

static size_t entry_bytes(const log_entry *e) { return sizeof *e + e->fields_len; }

/* Removes the oldest entry of its user (which must be e). */
static void entry_evict(shard *sh, log_entry *e) {
  user_rec *u = e->user;
  u->head = e->user_next;
  if (!u->head) u->tail = NULL;
  u->count--;
  if (e->seq > u->max_deleted) u->max_deleted = e->seq;
  if (e->shard_prev)
    e->shard_prev->shard_next = e->shard_next;
  else
    sh->oldest = e->shard_next;
  if (e->shard_next)
    e->shard_next->shard_prev = e->shard_prev;
  else
    sh->newest = e->shard_prev;
  sh->bytes -= entry_bytes(e);
  free(e);
  user_drop_if_empty(sh, u);
}

static void shard_evict_old(events_hub *h, shard *sh, int64_t now) {
  int64_t cutoff = now - (int64_t)h->cfg.history_max_age_s * 1000;
  while (sh->oldest && (sh->oldest->at_ms < cutoff || sh->bytes > h->shard_max_bytes)) {
    log_entry *e = sh->oldest;
    e->shard_prev = NULL; /* already true: said for the analyzer, which cannot know it */
    entry_evict(sh, e);
  }
}

static bool entry_append(events_hub *h, shard *sh, user_rec *u, uint64_t seq, const char *type,
                         const char *fields, size_t fields_len, int64_t now) {
  log_entry *e = malloc(sizeof *e + fields_len);
  if (!e) return false;
  *e = (log_entry){.user = u, .seq = seq, .at_ms = now, .type = type, .fields_len = fields_len};
  memcpy(e->fields, fields, fields_len);
  if (u->tail)
    u->tail->user_next = e;
  else
    u->head = e;
  u->tail = e;
  u->count++;
  e->shard_prev = sh->newest;
  if (sh->newest)
    sh->newest->shard_next = e;
  else
    sh->oldest = e;
  sh->newest = e;
  sh->bytes += entry_bytes(e);
  if (u->count > h->cfg.history_per_user) entry_evict(sh, u->head); /* u keeps e: not dropped */
  return true;
}

/* Removes a stream from its user's list (it then receives nothing more). The caller drops the
 * user record if it became empty, once it no longer uses it. */
static void sub_unlink(events_hub *h, events_sub *s) {
  user_rec *u = s->user;
  if (!u) return;
  if (s->prev)
    s->prev->next = s->next;
  else
    u->subs = s->next;
  if (s->next) s->next->prev = s->prev;
  s->prev = s->next = NULL;
  s->user = NULL;
  atomic_fetch_sub(&h->streams, 1);
}

static void sub_link(events_hub *h, user_rec *u, events_sub *s) {
  s->user = u;
  s->prev = NULL;
  s->next = u->subs;
  if (u->subs) u->subs->prev = s;
  u->subs = s;
  atomic_fetch_add(&h->streams, 1);
}

static bool deliver_at(events_sub *s, event_pos pos, const char *type, const char *fields,
                       size_t fields_len) {
  s->last = pos;
  s->typing_counter = 0;
  char id[EVENT_ID_TEXT_SIZE];
  event_pos_format(pos, id);
  event ev = {.type = type, .id = id, .fields = fields, .fields_len = fields_len};
  return s->ops->deliver(s->sink, &ev);
}

static bool deliver_typing(events_sub *s, const char *type, const char *fields, size_t fields_len) {
  char id[EVENT_ID_TEXT_SIZE];
  event_typing_id_format(s->last, ++s->typing_counter, id);
  event ev = {.type = type, .id = id, .fields = fields, .fields_len = fields_len};
  return s->ops->deliver(s->sink, &ev);
}

static bool deliver_logged(events_hub *h, events_sub *s, uint64_t seq, const char *type, const char *fields,
                           size_t fields_len) {
  return deliver_at(s, (event_pos){h->cfg.epoch, seq}, type, fields, fields_len);
}

/* Whether a replay of `bytes` (see replay_max_bytes) may go out. */
static bool replay_fits(const events_hub *h, size_t bytes) {
  return !h->cfg.replay_max_bytes || bytes <= h->cfg.replay_max_bytes;
}

/* Replays what the client missed, or sends reset / the start position. Under the shard lock.
 * False when the sink refused an event. */
static bool sub_start(events_hub *h, user_rec *u, events_sub *s, const char *last_event_id) {
  uint64_t current = atomic_load(&h->seq);
  char id[EVENT_ID_TEXT_SIZE];
  event_pos from;
  bool has_last = last_event_id && last_event_id[0];
  if (!has_last) {
    s->last = (event_pos){h->cfg.epoch, current};
    event_pos_format(s->last, id);
    return !s->ops->position || s->ops->position(s->sink, id);
  }
  bool resumable = event_pos_parse(last_event_id, strlen(last_event_id), &from) && from.hi == h->cfg.epoch &&
                   from.lo <= current && from.lo >= u->max_deleted;
  if (!resumable) {
    s->last = (event_pos){h->cfg.epoch, current};
    event_pos_format(s->last, id);
    event ev = {.type = EVENT_RESET, .id = id, .fields = "", .fields_len = 0};
    return s->ops->deliver(s->sink, &ev);
  }
  size_t replay_bytes = 0;
  for (const log_entry *e = u->head; e; e = e->user_next)
    if (e->seq > from.lo) replay_bytes += e->fields_len + EVENT_REPLAY_OVERHEAD;
  if (!replay_fits(h, replay_bytes)) {
    s->last = (event_pos){h->cfg.epoch, current};
    event_pos_format(s->last, id);
    event ev = {.type = EVENT_RESET, .id = id, .fields = "", .fields_len = 0};
    return s->ops->deliver(s->sink, &ev);
  }
  s->last = from;
  for (const log_entry *e = u->head; e; e = e->user_next)
    if (e->seq > from.lo && !deliver_logged(h, s, e->seq, e->type, e->fields, e->fields_len)) return false;
  return true;
}

static void buffered_free(events_sub *s) {
  for (buffered_event *b = s->buffered, *next; b; b = next) {
    next = b->next;
    free(b);
  }
  s->buffered = NULL;
  s->buffered_tail = &s->buffered;
  s->buffered_count = 0;
}

/* Shared log: registers the stream as replaying and asks the remote for its start. */
static events_sub *subscribe_remote(events_hub *h, events_sub *s, int64_t user_id,
                                    const char *last_event_id) {
  shard *sh = s->shard;
  event_pos since;
  bool has_since = last_event_id && last_event_id[0];
  if (has_since && !event_pos_parse(last_event_id, strlen(last_event_id), &since)) {
    has_since = false;
    s->reset_requested = true;
  }
  pthread_mutex_lock(&sh->lock);
  user_rec *u = user_get(sh, user_id);
  bool live = atomic_load(&h->remote_live);
  if (u && live) {
    sub_link(h, u, s);
    s->replaying = s->replay_pending = true;
  }
  pthread_mutex_unlock(&sh->lock);
  if (!u) {
    free(s);
    return NULL;
  }
  if (!live || !h->remote_ops->replay(h->remote, user_id, has_since ? &since : NULL, s)) {
    pthread_mutex_lock(&sh->lock);
    if (s->user) sub_unlink(h, s);
    s->replay_pending = false;
    user_drop_if_empty(sh, u);
    pthread_mutex_unlock(&sh->lock);
    s->ops->close(s->sink); /* the client retries later */
  }
  return s;
}

events_sub *events_subscribe(events_hub *h, int64_t user_id, const char *last_event_id,
                             const event_sink_ops *ops, void *sink) {
  events_sub *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  shard *sh = shard_of(h, user_id);
  *s = (events_sub){.shard = sh, .hub = h, .ops = ops, .sink = sink};
  s->buffered_tail = &s->buffered;
  if (h->remote_ops) return subscribe_remote(h, s, user_id, last_event_id);
  pthread_mutex_lock(&sh->lock);
  shard_evict_old(h, sh, now_ms());
  user_rec *u = user_get(sh, user_id);
  if (!u) {
    pthread_mutex_unlock(&sh->lock);
    free(s);
    return NULL;
  }
  sub_link(h, u, s);
  if (!sub_start(h, u, s, last_event_id)) {
    sub_unlink(h, s);
    user_drop_if_empty(sh, u);
  }
  pthread_mutex_unlock(&sh->lock);
  return s;
}

void events_unsubscribe(events_sub *sub) {
  if (!sub) return;
  shard *sh = sub->shard;
  pthread_mutex_lock(&sh->lock);
  user_rec *u = sub->user;
  if (u) {
    sub_unlink(sub->hub, sub);
    user_drop_if_empty(sh, u);
  }
  bool pending = sub->replay_pending;
  sub->orphaned = pending;
  pthread_mutex_unlock(&sh->lock);
  if (pending) return; /* events_hub_replay_done frees it */
  buffered_free(sub);
  free(sub);
}

/* Delivers to every stream of u; unlinks the ones that refuse. */
static void deliver_all(events_hub *h, user_rec *u, uint64_t seq, const char *type, const char *fields,
                        size_t fields_len, bool logged) {
  for (events_sub *s = u->subs, *next; s; s = next) {
    next = s->next;
    bool ok = logged ? deliver_logged(h, s, seq, type, fields, fields_len)
                     : deliver_typing(s, type, fields, fields_len);
    if (!ok) sub_unlink(h, s);
  }
}

static bool publish_one(events_hub *h, int64_t user_id, const char *type, const char *fields,
                        size_t fields_len, bool logged, int64_t now) {
  shard *sh = shard_of(h, user_id);
  bool ok = true;
  pthread_mutex_lock(&sh->lock);
  user_rec *u = logged ? user_get(sh, user_id) : user_find(sh, user_id);
  if (!u) {
    pthread_mutex_unlock(&sh->lock);
    return !logged;
  }
  uint64_t seq = 0;
  if (logged) {
    /* Taken under the lock: a stream that starts later on this shard sees a larger current value. */
    seq = atomic_fetch_add(&h->seq, 1) + 1;
    ok = entry_append(h, sh, u, seq, type, fields, fields_len, now);
  }
  deliver_all(h, u, seq, type, fields, fields_len, logged);
  user_drop_if_empty(sh, u); /* u is not used below: eviction may drop it too */
  if (logged) shard_evict_old(h, sh, now);
  pthread_mutex_unlock(&sh->lock);
  return ok;
}

bool events_publish(events_hub *h, const int64_t *users, size_t user_count, const char *type,
                    const char *fields, size_t fields_len, bool logged) {
  int64_t now = now_ms();
  bool ok = true;
  for (size_t i = 0; i < user_count; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = users[j] == users[i];
    if (seen) continue;
    if (h->remote_ops)
      ok &= h->remote_ops->publish(h->remote, users[i], type, fields, fields_len, logged);
    else
      ok &= publish_one(h, users[i], type, fields, fields_len, logged, now);
  }
  return ok;
}

/* ---- the shared log's side (remote.h) ---- */

void events_hub_set_remote(events_hub *h, const events_remote_ops *ops, void *remote) {
  h->remote_ops = ops;
  h->remote = remote;
  atomic_store(&h->remote_live, false);
}

/* Under the shard lock: unlinks a stream and tells its owner to close it. */
static void sub_end(events_hub *h, events_sub *s) {
  sub_unlink(h, s);
  s->ops->close(s->sink);
}

static bool buffer_event(events_sub *s, event_pos pos, const char *type, const char *fields,
                         size_t fields_len) {
  if (s->buffered_count >= REPLAY_BUFFER_MAX) return false;
  buffered_event *b = malloc(sizeof *b + fields_len);
  if (!b) return false;
  b->next = NULL;
  b->pos = pos;
  snprintf(b->type, sizeof b->type, "%s", type);
  b->fields_len = fields_len;
  memcpy(b->fields, fields, fields_len);
  *s->buffered_tail = b;
  s->buffered_tail = &b->next;
  s->buffered_count++;
  return true;
}

void events_hub_remote_event(events_hub *h, int64_t user_id, const event_pos *pos, const char *type,
                             const char *fields, size_t fields_len) {
  shard *sh = shard_of(h, user_id);
  pthread_mutex_lock(&sh->lock);
  user_rec *u = user_find(sh, user_id);
  for (events_sub *s = u ? u->subs : NULL, *next; s; s = next) {
    next = s->next;
    bool ok = true;
    if (s->replaying)
      ok = !pos || buffer_event(s, *pos, type, fields, fields_len); /* typing during the replay: dropped */
    else if (!pos)
      ok = deliver_typing(s, type, fields, fields_len);
    else if (event_pos_cmp(*pos, s->last) > 0)
      ok = deliver_at(s, *pos, type, fields, fields_len);
    if (!ok) sub_end(h, s);
  }
  if (u) user_drop_if_empty(sh, u);
  pthread_mutex_unlock(&sh->lock);
}

/* Delivers the replay, then the buffered live events after it. False when the sink refused. */
static bool replay_deliver(const events_hub *h, events_sub *s, replay_kind kind, event_pos last,
                           const replay_entry *entries, size_t count) {
  char id[EVENT_ID_TEXT_SIZE];
  size_t replay_bytes = 0;
  for (size_t i = 0; kind == REPLAY_ENTRIES && i < count; i++)
    replay_bytes += entries[i].fields_len + EVENT_REPLAY_OVERHEAD;
  if (!replay_fits(h, replay_bytes)) kind = REPLAY_RESET;
  if (kind == REPLAY_POSITION && !s->reset_requested) {
    s->last = last;
    event_pos_format(last, id);
    if (s->ops->position && !s->ops->position(s->sink, id)) return false;
  } else if (kind == REPLAY_POSITION || kind == REPLAY_RESET) {
    s->last = last;
    event_pos_format(last, id);
    event ev = {.type = EVENT_RESET, .id = id, .fields = "", .fields_len = 0};
    if (!s->ops->deliver(s->sink, &ev)) return false;
  } else {
    for (size_t i = 0; i < count; i++)
      if (!deliver_at(s, entries[i].pos, entries[i].type, entries[i].fields, entries[i].fields_len))
        return false;
    if (event_pos_cmp(last, s->last) > 0) s->last = last; /* nothing after the replay was missed */
  }
  for (buffered_event *b = s->buffered; b; b = b->next)
    if (event_pos_cmp(b->pos, s->last) > 0 && !deliver_at(s, b->pos, b->type, b->fields, b->fields_len))
      return false;
  return true;
}

void events_hub_replay_done(events_hub *h, events_sub *sub, replay_kind kind, event_pos last,
                            const replay_entry *entries, size_t count) {
  shard *sh = sub->shard;
  pthread_mutex_lock(&sh->lock);
  sub->replay_pending = false;
  if (sub->orphaned) {
    pthread_mutex_unlock(&sh->lock);
    buffered_free(sub);
    free(sub);
    return;
  }
  user_rec *u = sub->user;
  if (u) { /* else ended meanwhile (fan-out lost): its owner was told to close it */
    if (kind == REPLAY_FAILED || !replay_deliver(h, sub, kind, last, entries, count))
      sub_end(h, sub);
    else
      sub->replaying = false;
    user_drop_if_empty(sh, u);
  }
  buffered_free(sub);
  pthread_mutex_unlock(&sh->lock);
}

void events_hub_remote_live(events_hub *h, bool live) {
  atomic_store(&h->remote_live, live);
  if (live) return;
  for (size_t i = 0; i < SHARD_COUNT; i++) {
    shard *sh = &h->shards[i];
    pthread_mutex_lock(&sh->lock);
    for (size_t b = 0; b < sh->bucket_count; b++) {
      for (user_rec *u = sh->buckets[b], *next_user; u; u = next_user) {
        next_user = u->hash_next;
        for (events_sub *s = u->subs, *next; s; s = next) {
          next = s->next;
          sub_end(h, s);
        }
        user_drop_if_empty(sh, u);
      }
    }
    pthread_mutex_unlock(&sh->lock);
  }
}

size_t events_stream_count(events_hub *h) { return atomic_load(&h->streams); }

void events_hub_tick(events_hub *h) {
  int64_t now = now_ms();
  for (size_t i = 0; i < SHARD_COUNT; i++) {
    shard *sh = &h->shards[i];
    pthread_mutex_lock(&sh->lock);
    shard_evict_old(h, sh, now);
    for (size_t b = 0; b < sh->bucket_count; b++) {
      for (user_rec *u = sh->buckets[b], *next_user; u; u = next_user) {
        next_user = u->hash_next; /* u may be dropped below */
        for (events_sub *s = u->subs, *next; s; s = next) {
          next = s->next;
          if (!s->ops->heartbeat(s->sink)) sub_unlink(h, s);
        }
        user_drop_if_empty(sh, u);
      }
    }
    pthread_mutex_unlock(&sh->lock);
  }
}

static void *heartbeat_main(void *arg) {
  events_hub *h = arg;
  pthread_mutex_lock(&h->stop_lock);
  while (!h->stopping) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += h->cfg.heartbeat_ms / 1000;
    until.tv_nsec += (long)(h->cfg.heartbeat_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    while (!h->stopping && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&h->stop_cond, &h->stop_lock, &until);
    if (h->stopping) break;
    pthread_mutex_unlock(&h->stop_lock);
    events_hub_tick(h);
    pthread_mutex_lock(&h->stop_lock);
  }
  pthread_mutex_unlock(&h->stop_lock);
  return NULL;
}

static void shards_free(events_hub *h, size_t count) {
  for (size_t i = 0; i < count; i++) {
    shard *sh = &h->shards[i];
    for (log_entry *e = sh->oldest, *next; e; e = next) {
      next = e->shard_next;
      free(e);
    }
    for (size_t b = 0; b < sh->bucket_count; b++) {
      for (user_rec *u = sh->buckets[b], *next; u; u = next) {
        next = u->hash_next;
        free(u);
      }
    }
    free(sh->buckets);
    pthread_mutex_destroy(&sh->lock);
  }
}

events_hub *events_hub_new(const events_config *cfg) {
  events_hub *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->cfg = *cfg;
  if (!h->cfg.epoch) h->cfg.epoch = (uint64_t)now_ms();
  if (!h->cfg.heartbeat_ms) h->cfg.heartbeat_ms = 15000;
  if (!h->cfg.history_per_user) h->cfg.history_per_user = 1; /* an append never evicts its own entry */
  h->shard_max_bytes = cfg->history_max_bytes / SHARD_COUNT;
  size_t ready = 0;
  for (; ready < SHARD_COUNT; ready++) {
    shard *sh = &h->shards[ready];
    sh->bucket_count = INITIAL_BUCKETS;
    sh->buckets = calloc(sh->bucket_count, sizeof *sh->buckets);
    if (!sh->buckets) break;
    pthread_mutex_init(&sh->lock, NULL);
  }
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&h->stop_cond, &attr);
  pthread_condattr_destroy(&attr);
  pthread_mutex_init(&h->stop_lock, NULL);
  if (ready < SHARD_COUNT || pthread_create(&h->heartbeat, NULL, heartbeat_main, h) != 0) {
    log_msg(LOG_ERROR, "events", "cannot start the event hub");
    shards_free(h, ready);
    pthread_cond_destroy(&h->stop_cond);
    pthread_mutex_destroy(&h->stop_lock);
    free(h);
    return NULL;
  }
  return h;
}

void events_hub_free(events_hub *h) {
  if (!h) return;
  pthread_mutex_lock(&h->stop_lock);
  h->stopping = true;
  pthread_cond_signal(&h->stop_cond);
  pthread_mutex_unlock(&h->stop_lock);
  pthread_join(h->heartbeat, NULL);
  shards_free(h, SHARD_COUNT);
  pthread_cond_destroy(&h->stop_cond);
  pthread_mutex_destroy(&h->stop_lock);
  free(h);
}
