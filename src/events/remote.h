/* events/remote: how the hub (hub.h) works with a log shared by several replicas (the Redis
 * log, redis_log.h). The hub keeps only the registry of its own streams; the remote assigns
 * positions, keeps each user's history and brings every event back to every replica, where
 * the hub delivers it to the local streams of its user.
 *
 * Gapless start: a new stream is registered first (live events for it are buffered), then the
 * remote is asked for the replay after its last id; the replay's entries are delivered, then the
 * buffered live events whose position is above the last one delivered (events that were both
 * replayed and buffered are delivered once). This needs the remote's fan-out channel to be up
 * while the stream is open: when it is interrupted (events_hub_remote_live(false)) every stream
 * is closed, and clients resume from their last id once it is back.
 *
 * Threads: the remote calls the events_hub_* functions below from its own thread; the hub
 * calls the ops from any thread, never with a lock held. */
#ifndef MESSENGER_EVENTS_REMOTE_H
#define MESSENGER_EVENTS_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events/event.h"
#include "events/hub.h"

typedef struct events_remote_ops {
  /* Appends the event to the user's shared log (`logged`) and fans it out to every replica.
   * False when it cannot be submitted (the event is then lost for live streams). */
  bool (*publish)(void *remote, int64_t user_id, const char *type, const char *fields, size_t fields_len,
                  bool logged);
  /* Asks for the start of `sub`: the entries after *since, or (since NULL) the user's current
   * position. Completes with events_hub_replay_done exactly once, unless it returns false. */
  bool (*replay)(void *remote, int64_t user_id, const event_pos *since, events_sub *sub);
} events_remote_ops;

typedef enum replay_kind {
  REPLAY_POSITION, /* no entries: `last` is where the stream starts */
  REPLAY_ENTRIES,  /* the entries after since, oldest first; `last` = the log's last position */
  REPLAY_RESET,    /* since is too old or unknown: a reset event at `last` */
  REPLAY_FAILED,   /* the remote could not answer: the stream is closed */
} replay_kind;

typedef struct replay_entry {
  event_pos pos;
  const char *type;
  const char *fields;
  size_t fields_len;
} replay_entry;

/* Switches the hub to the remote log (before any stream or publish). `remote` must outlive the
 * hub's use of it; the hub starts not live. */
void events_hub_set_remote(events_hub *h, const events_remote_ops *ops, void *remote);
/* A fanned-out event: pos NULL for a typing event (not logged). */
void events_hub_remote_event(events_hub *h, int64_t user_id, const event_pos *pos, const char *type,
                             const char *fields, size_t fields_len);
void events_hub_replay_done(events_hub *h, events_sub *sub, replay_kind kind, event_pos last,
                            const replay_entry *entries, size_t count);
/* The fan-out channel is up (true) or lost (false: every stream is closed). */
void events_hub_remote_live(events_hub *h, bool live);

#endif
