/* store/cassandra/cassandra_model: the pure logic of the Cassandra store, with no I/O.
 *
 * Time buckets of message ids, the plan of a message-page read (which partition to read next
 * with which bound and LIMIT, the "bucket walk"), the page of a user's conversations cut from
 * the sorted partition, message-id generation with distinct write timestamps, and the mapping
 * of CQL errors to client-safe details. Everything here is deterministic and allocation-free,
 * so the unit tests cover it without a server; docs/data-model.md explains the choices. */
#ifndef MESSENGER_STORE_CASSANDRA_MODEL_H
#define MESSENGER_STORE_CASSANDRA_MODEL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ids.h"
#include "store/store.h"

/* A bucket is 10 days of message ids: bucket = (id >> 12) / CASS_BUCKET_MS, since id >> 12 is
 * milliseconds since ID_EPOCH_MS (core/ids.h). Changing it re-keys every stored message. */
#define CASS_BUCKET_MS     (INT64_C(10) * 24 * 3600 * 1000)
#define CASS_BUCKET_WINDOW 8    /* buckets listed per buckets_by_conversation read */
#define CASS_SKIP_CHUNK    5000 /* LIMIT of one id-only read while skipping rows for `page` */

int32_t cass_bucket_of_id(int64_t message_id);

/* The exclusive upper bound on message ids of a page read: the cursor, the before_timestamp
 * floor, or ID_MAX + 1 (whichever is smallest). */
int64_t cass_message_bound(const message_query *q);

/* Rows of a page-number request to skip before the page ((page-1)*limit, saturating); 0 with a cursor. */
int64_t cass_page_offset(const page_request *p);

/* ---- the bucket walk ---------------------------------------------------------------------- */

typedef enum cass_walk_step {
  CASS_WALK_DONE = 0,
  CASS_WALK_LIST_BUCKETS, /* SELECT bucket ... WHERE bucket <= q.bucket LIMIT q.limit */
  CASS_WALK_SKIP,         /* SELECT message_id ... bucket = q.bucket AND message_id < q.bound LIMIT q.limit */
  CASS_WALK_TAKE,         /* SELECT message_id, sender_id, ... (same key and bounds) */
} cass_walk_step;

typedef struct cass_walk_query {
  cass_walk_step step;
  int32_t bucket;
  int64_t bound;
  int32_t limit;
} cass_walk_query;

typedef struct cass_walk {
  int64_t bound;     /* ids still to visit are < bound */
  int64_t skip;      /* rows still to skip */
  int64_t want;      /* rows still to take (limit + 1: the extra row tells has_more) */
  int32_t list_from; /* the next bucket listing starts at buckets <= list_from */
  bool may_list;     /* older buckets may exist that are not listed yet */
  int32_t buckets[CASS_BUCKET_WINDOW];
  size_t n_buckets, next_bucket;
} cass_walk;

/* A walk over ids < bound, skipping `skip` rows and then taking `limit` + 1. */
void cass_walk_init(cass_walk *w, int64_t bound, int64_t skip, int limit);
/* The next read to issue (CASS_WALK_DONE when the page is complete or nothing older exists). */
cass_walk_query cass_walk_next(const cass_walk *w);
/* Feeds the result of a CASS_WALK_LIST_BUCKETS read (buckets in descending order). */
void cass_walk_on_buckets(cass_walk *w, const cass_walk_query *q, const int32_t *buckets, size_t n);
/* Feeds the result of a SKIP or TAKE read: n rows, the smallest id last_id (n > 0). */
void cass_walk_on_rows(cass_walk *w, const cass_walk_query *q, size_t n, int64_t last_id);

/* ---- a user's conversations --------------------------------------------------------------- */

/* Sorts most recent first: last_message_id DESC, then id DESC. */
void cass_sort_conversations(conversation *items, size_t n);

/* The slice of the sorted list a page request selects. */
typedef struct cass_slice {
  size_t start, count;
  bool has_more;
} cass_slice;
cass_slice cass_conversation_slice(const conversation *sorted, size_t n, const page_request *p);

/* ---- ids ---------------------------------------------------------------------------------- */

/* Message ids whose created_at (and so the write timestamp of their cells, in microseconds)
 * differs from every earlier id of this generator, so last-write-wins between two messages
 * never ties on the timestamp. Thread-safe. */
typedef struct cass_id_source {
  pthread_mutex_t mu;
  id_generator gen;
  int64_t last; /* last id handed out, 0 at first */
} cass_id_source;

void cass_id_source_init(cass_id_source *s, int node);
void cass_id_source_destroy(cass_id_source *s);
int64_t cass_id_source_next(cass_id_source *s, int64_t unix_ms);

/* ---- the pair -> conversation cache ------------------------------------------------------- */

/* A direct-mapped cache of (user1_id, user2_id) -> conversation_id: the mapping never changes
 * once claimed, so entries never go stale; a colliding pair simply replaces the older entry.
 * Fixed size, thread-safe. */
typedef struct cass_pair_slot {
  int64_t low, high, conversation_id;
} cass_pair_slot;

typedef struct cass_pair_cache {
  pthread_mutex_t mu;
  size_t size; /* slots, a power of two */
  cass_pair_slot *slots;
} cass_pair_cache;

bool cass_pair_cache_init(cass_pair_cache *c, size_t size_pow2);
void cass_pair_cache_destroy(cass_pair_cache *c);
/* The conversation id of the pair, or 0 when it is not cached. */
int64_t cass_pair_cache_get(cass_pair_cache *c, int64_t low, int64_t high);
void cass_pair_cache_put(cass_pair_cache *c, int64_t low, int64_t high, int64_t conversation_id);

/* ---- errors and names --------------------------------------------------------------------- */

/* Client-safe detail of a CQL error code (server or client code of cql/client.h). */
const char *cass_error_detail(int32_t code);

/* Keyspace names the store accepts are [A-Za-z][A-Za-z0-9_]{0,47}, used unquoted, so Cassandra
 * stores them lowercased: writes that form into out, or returns false for any other name. */
#define CASS_KEYSPACE_SIZE 49
bool cass_keyspace_normalize(const char *name, char out[CASS_KEYSPACE_SIZE]);

#endif
