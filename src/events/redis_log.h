/* events/redis_log: the event log shared by several replicas, on Redis (MESSENGER_REDIS_URL),
 * the way Centrifugo keeps channel history: each user has a Redis Stream of their logged events
 * (`message`, `read`), bounded by count (XADD MAXLEN) and age (XTRIM MINID, PEXPIRE), and
 * every event is also PUBLISHed on one channel that every replica subscribes to. Both happen in
 * one Lua script per user, so the channel carries each user's events in stream order, with the
 * stream entry id as the event id. Typing is PUBLISHed only (never stored).
 *
 * A stream's replay is one script: from XINFO STREAM (Redis >= 7.0) it knows the last id, the
 * first retained entry and whether entries were trimmed or deleted; a last id after which
 * nothing can have been removed gets XRANGE (id, +], any other gets `reset` (the rules are
 * next to the script). See remote.h for how the hub merges replay and live events.
 *
 * Ownership: the log owns its Redis client (redis/redis.h) and borrows the hub, which must
 * outlive it; close the log before freeing the hub, after the HTTP server and the store. */
#ifndef MESSENGER_EVENTS_REDIS_LOG_H
#define MESSENGER_EVENTS_REDIS_LOG_H

#include <stddef.h>

#include "events/hub.h"

typedef struct redis_log_config {
  const char *url;        /* redis://[[user]:password@]host[:port][/db] */
  const char *prefix;     /* key and channel prefix, "messenger:" */
  size_t max_per_user;    /* stream length bound (exact: one trim per append) */
  unsigned max_age_s;     /* entries older than this are trimmed; idle streams expire */
  unsigned wait_ready_ms; /* how long open waits for the fan-out subscription (0 = none) */
} redis_log_config;

typedef struct redis_log redis_log;

/* Connects, subscribes and switches `hub` to the shared log. NULL with *err (static string)
 * on a bad URL or out of memory. A Redis that is down is not an error: streams are refused
 * (closed at once) until the subscription is up. */
redis_log *redis_log_open(events_hub *hub, const redis_log_config *cfg, const char **err);
void redis_log_close(redis_log *log);

#endif
