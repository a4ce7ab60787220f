/* events/rate_gate: lets at most one event per key through per interval (the typing limit:
 * one `typing` event per user and conversation every 2 s).
 *
 * A fixed table of slots (memory bounded whatever the number of keys), each remembering one
 * key and when it last passed. Two keys that share a slot evict each other, which can only let
 * an extra event through, never block one that should pass. Striped locks; thread-safe.
 * Ownership: the gate owns its table; nothing it is given is retained. */
#ifndef MESSENGER_EVENTS_RATE_GATE_H
#define MESSENGER_EVENTS_RATE_GATE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct rate_gate rate_gate;

/* `slots` is rounded up to a power of two. NULL when out of memory. */
rate_gate *rate_gate_new(unsigned interval_ms, unsigned slots);
void rate_gate_free(rate_gate *g);

/* True when (a, b) has not passed within the interval before now_ms; records the pass. */
bool rate_gate_pass(rate_gate *g, int64_t a, int64_t b, int64_t now_ms);

#endif
