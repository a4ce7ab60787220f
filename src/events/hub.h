/* events/hub: the per-user event streams of one process: a registry of the streams open here,
 * the per-user event log that resume replays from, and the fan-out of published events.
 *
 * Each user has a log of `message` and `read` events with positions (event.h) in emission
 * order. events_subscribe() registers a stream and replays, under the user's lock, every
 * logged event after the client's last id before any live event can be delivered to it: no gap
 * and no duplicate, whatever order the store committed the writes in, because positions are
 * assigned at emission (after the write is durable), not at id generation. When the last id is
 * older than the retained history, from another process incarnation, or unknown, the stream's
 * first event is `reset` instead. `typing` events are delivered to open streams only.
 *
 * With a shared log (remote.h, the Redis log for several replicas) the hub keeps only the
 * registry: positions, history and fan-out are the remote's, and a stream starts once its replay
 * has come back (asynchronously).
 *
 * The in-process log is bounded: per user by count and age, per process by bytes (the oldest events go
 * first). A position stays resumable while nothing after it was evicted: each user keeps the
 * largest evicted position ("max deleted", as Redis Streams do), and a user record that is
 * dropped leaves its largest position as a floor for its shard.
 *
 * A heartbeat thread calls every sink's heartbeat every `heartbeat_ms` and drops old events.
 *
 * Threads and ownership: every function is thread-safe. Sinks are called with the user's
 * lock held, in event order, from the publishing thread (or the heartbeat thread); they must
 * not block and must not call back into the hub. A sink that returns false is unlinked at once
 * (it receives nothing more) but its subscription stays allocated until events_unsubscribe(),
 * which the owner calls exactly once (typically from the transport's on_closed); after it
 * returns no sink call for that subscription is in progress or will follow. The hub copies
 * everything it keeps; `type` strings must be the EVENT_* literals. */
#ifndef MESSENGER_EVENTS_HUB_H
#define MESSENGER_EVENTS_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events/event.h"

typedef struct event_sink_ops {
  /* One event for the stream; false when it cannot take it (closing, buffer full). */
  bool (*deliver)(void *sink, const event *ev);
  /* A keep-alive (": ping" comment, WebSocket ping); false as above. */
  bool (*heartbeat)(void *sink);
  /* The position of a stream opened without a last id (SSE: an "id:" line); may be NULL. */
  bool (*position)(void *sink, const char *id);
  /* The hub ends the stream (the shared log's fan-out was lost, or its replay failed): close it.
   * The subscription is already unlinked; the owner still calls events_unsubscribe. */
  void (*close)(void *sink);
} event_sink_ops;

/* What a replayed event adds to its fields on the wire (id, type, envelope; SSE lines or a
 * WebSocket frame head), for replay_max_bytes. */
#define EVENT_REPLAY_OVERHEAD 128

typedef struct events_config {
  size_t history_per_user;    /* logged events kept per user (1,000) */
  unsigned history_max_age_s; /* and for at most this long (3,600 s) */
  size_t history_max_bytes;   /* all users together (64 MiB) */
  unsigned heartbeat_ms;      /* 15,000 */
  /* A resume whose missed events come to more than this (their JSON fields plus
   * EVENT_REPLAY_OVERHEAD each) starts with `reset` instead: the stream's buffer could not
   * take the replay, and the client would be dropped again at every attempt. 0 = no bound. */
  size_t replay_max_bytes;
  uint64_t epoch; /* 0 = the current time in ms: distinguishes process incarnations */
} events_config;

void events_config_defaults(events_config *cfg);

typedef struct events_hub events_hub;
typedef struct events_sub events_sub;

/* NULL when out of memory or when the heartbeat thread cannot start. */
events_hub *events_hub_new(const events_config *cfg);
/* No subscription may remain (unsubscribe them first) and no call may be in progress. */
void events_hub_free(events_hub *h);

/* Registers a stream of `user_id`. `last_event_id` (NUL-terminated; NULL or "" = none) selects
 * the replay, delivered through `ops` before this returns. NULL only when out of memory. */
events_sub *events_subscribe(events_hub *h, int64_t user_id, const char *last_event_id,
                             const event_sink_ops *ops, void *sink);
void events_unsubscribe(events_sub *sub);

/* Appends one event to the log of each user in `users` (duplicates are ignored) and delivers
 * it to their streams. `logged` false (typing): delivered to open streams only, never replayed.
 * Returns false when out of memory (the event may then be missing from some logs). */
bool events_publish(events_hub *h, const int64_t *users, size_t user_count, const char *type,
                    const char *fields, size_t fields_len, bool logged);

/* Streams registered now (the messenger_event_streams gauge). */
size_t events_stream_count(events_hub *h);
/* Runs the heartbeat and eviction pass now (tests). */
void events_hub_tick(events_hub *h);

#endif
