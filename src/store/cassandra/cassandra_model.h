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

/* ---- exact totals (docs/data-model.md, "Exact totals") ------------------------------------

 * A conversation's total is counted from its message rows, which are idempotent: the rows below
 * a seal bound are counted once and the count stored (conversation_totals, one row per
 * conversation, replaced by a later seal); the rows at or above it are counted on every read.
 * A bound is sealable once no write can still land below it: CASS_SEAL_DELAY_US after its time
 * (24 h of Idempotency-Key replays plus 1 h for batchlog replays and clock skew). Bounds sit on
 * a one-hour grid, so two readers sealing at once write the same row. */
#define CASS_SEAL_DELAY_US (INT64_C(25) * 3600 * 1000000)
#define CASS_SEAL_GRID_US  (INT64_C(3600) * 1000000)

/* The message-id bound that may be sealed at time now_us (ids below it are settled). */
int64_t cass_seal_bound(int64_t now_us);

typedef struct cass_tally {
  int64_t sealed_until;                    /* stored seal: rows with id < sealed_until are counted in ... */
  int64_t sealed_count;                    /*   ... sealed_count, of which sealed_from_low were sent by the */
  int64_t sealed_from_low;                 /*  lower user id of the pair (user1_id) */
  int64_t seal_to;                         /* new seal bound (> sealed_until), or 0: nothing new to seal */
  int64_t settled_count, settled_from_low; /* counted rows in [sealed_until, seal_to) */
  int64_t recent_count;                    /* counted rows >= max(sealed_until, seal_to) */
} cass_tally;

/* Starts from the stored seal (all 0 when the conversation has none) at time now_us. */
void cass_tally_init(cass_tally *t, int64_t sealed_until, int64_t sealed_count, int64_t sealed_from_low,
                     int64_t now_us);
/* The live region the reader must count: message ids >= this. */
int64_t cass_tally_from(const cass_tally *t);
/* One message row of the live region (rows below cass_tally_from are ignored). */
void cass_tally_add(cass_tally *t, int64_t message_id, int64_t sender_id, int64_t receiver_id);
/* The exact number of messages once every live row was added. */
int64_t cass_tally_total(const cass_tally *t);
/* The seal to store (true), or false when the stored one is still the newest possible. */
bool cass_tally_seal(const cass_tally *t, int64_t *until, int64_t *count, int64_t *from_low);

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
