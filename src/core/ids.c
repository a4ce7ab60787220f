#include "core/ids.h"

#include <stdatomic.h>

#define SEQ_BITS  7
#define NODE_BITS 5
#define LOW_BITS  (SEQ_BITS + NODE_BITS) /* 12 */
#define SEQ_MASK  ((int64_t)((1 << SEQ_BITS) - 1))

void id_generator_init(id_generator *gen, int node) {
  atomic_init(&gen->last, 0);
  gen->node = node < 0 ? 0 : (node > ID_NODE_MAX ? ID_NODE_MAX : node);
}

/* The first id of this node in millisecond `ms` (relative to ID_EPOCH_MS). */
static int64_t first_id_of_ms(const id_generator *gen, int64_t ms) {
  return (ms << LOW_BITS) | ((int64_t)gen->node << SEQ_BITS);
}

/* The smallest id of this node that is > floor. */
static int64_t successor(const id_generator *gen, int64_t floor) {
  int64_t ms = floor >> LOW_BITS;
  int64_t mine = first_id_of_ms(gen, ms);
  if (mine > floor) return mine;
  if ((floor & ~SEQ_MASK) == mine && (floor & SEQ_MASK) < SEQ_MASK) return floor + 1;
  return first_id_of_ms(gen, ms + 1);
}

int64_t id_generator_next_after(id_generator *gen, int64_t unix_ms, int64_t floor) {
  int64_t ms = unix_ms - ID_EPOCH_MS;
  if (ms < 0) ms = 0;
  int64_t from_clock = first_id_of_ms(gen, ms);
  int64_t last = atomic_load(&gen->last);
  for (;;) {
    int64_t bound = last > floor ? last : floor;
    int64_t next = from_clock > bound ? from_clock : successor(gen, bound);
    if (atomic_compare_exchange_weak(&gen->last, &last, next)) return next;
  }
}

int64_t id_generator_next(id_generator *gen, int64_t unix_ms) {
  return id_generator_next_after(gen, unix_ms, 0);
}

int64_t id_created_at_us(int64_t message_id) {
  int64_t ms = message_id >> LOW_BITS;
  int64_t sub = message_id & ((1 << LOW_BITS) - 1);
  return (ID_EPOCH_MS + ms) * 1000 + ((sub * 1000) >> LOW_BITS);
}

int64_t id_floor_for_time_us(int64_t unix_us) {
  int64_t rel = unix_us - ID_EPOCH_MS * 1000;
  if (rel <= 0) return 1;
  int64_t ms = rel / 1000;
  int64_t rest = rel % 1000;
  /* smallest sub with (sub * 1000) >> 12 >= rest, i.e. sub * 1000 >= rest << 12 */
  int64_t sub = ((rest << LOW_BITS) + 999) / 1000;
  if (ms > (ID_MAX >> LOW_BITS)) return ID_MAX + 1;
  int64_t floor = (ms << LOW_BITS) + sub;
  if (floor > ID_MAX + 1) return ID_MAX + 1;
  return floor < 1 ? 1 : floor;
}
