/* cql/prepared: the prepared-statement cache, keyed by query text.
 *
 * An entry is created PENDING when a statement text is first executed; the request that
 * created it sends PREPARE, and every other request for the same text waits on the entry
 * (one PREPARE per text, however many requests arrive meanwhile). When the Prepared result
 * arrives the entry becomes READY and keeps the decoded result (id, bind-marker metadata with
 * pk_indexes, result metadata) for the life of the cache. If the first PREPARE fails, the
 * waiters get the error and the entry is removed, so a later request tries again.
 *
 * Re-prepare after UNPREPARED happens per (entry, host): the first request seeing UNPREPARED
 * on a host starts one PREPARE on that host; concurrent ones on the same host just wait for it
 * (no storms). Its result replaces the entry's result (ids are deterministic, so it is
 * normally the same id).
 *
 * This module holds data and waiter lists only; the request layer does the I/O. Waiters are
 * intrusive (embedded in the waiting request) and are woken exactly once, with NULL error on
 * success. Hosts are opaque pointers. Single-threaded (the I/O thread). */
#ifndef MESSENGER_CQL_PREPARED_H
#define MESSENGER_CQL_PREPARED_H

#include <stdbool.h>
#include <stddef.h>

#include "cql/message.h"

typedef struct cql_prep_waiter cql_prep_waiter;
struct cql_prep_waiter {
  cql_prep_waiter *next;
  void (*wake)(cql_prep_waiter *w, const cql_error *err); /* err NULL: the entry is READY */
};

typedef struct cql_prep_op {
  const void *host; /* NULL: the first PREPARE (any host) */
  cql_prep_waiter *waiters;
  struct cql_prep_op *next;
} cql_prep_op;

typedef enum cql_prep_state { CQL_PREP_PENDING, CQL_PREP_READY } cql_prep_state;

typedef struct cql_prepared_entry {
  char *query; /* NUL-terminated copy */
  size_t query_len;
  cql_prep_state state;
  cql_message msg;                 /* READY: the decoded RESULT Prepared (owned) */
  const cql_prepared_result *prep; /* READY: &msg.u.result.prepared */
  const char *keyspace;            /* READY: keyspace of the bind markers, or NULL */
  cql_prep_op *ops;                /* PREPAREs in flight */
  struct cql_prepared_entry *next; /* hash chain */
} cql_prepared_entry;

typedef struct cql_prepared_cache {
  cql_prepared_entry **buckets;
  size_t n_buckets;
  size_t count;
} cql_prepared_cache;

bool cql_prepared_cache_init(cql_prepared_cache *c);
/* Frees every entry. Waiters still queued are NOT woken (the owner fails their requests). */
void cql_prepared_cache_free(cql_prepared_cache *c);

cql_prepared_entry *cql_prepared_find(const cql_prepared_cache *c, const char *query, size_t len);
/* A new PENDING entry (the text must not be cached yet); NULL on OOM. */
cql_prepared_entry *cql_prepared_insert(cql_prepared_cache *c, const char *query, size_t len);

/* Queues w for the PREPARE of `e` on `host` (NULL = the first prepare). Returns true when no
 * such PREPARE was in flight: the caller must now send it and later call complete(). false on
 * OOM is reported through *oom. */
bool cql_prepared_wait(cql_prepared_entry *e, const void *host, cql_prep_waiter *w, bool *oom);

/* The PREPARE of `e` on `host` finished: `result` (a decoded RESULT Prepared, moved into the
 * entry on success; may be NULL when err is set) or `err`. Wakes that PREPARE's waiters. When
 * the first PREPARE fails, the entry is removed and freed after the waiters were woken. */
void cql_prepared_complete(cql_prepared_cache *c, cql_prepared_entry *e, const void *host,
                           cql_message *result, const cql_error *err);

/* complete() from a PREPARE's outcome as the connection delivered it: a RESULT Prepared
 * succeeds; an ERROR, any other response, or a client-side err fails it. resp (may be NULL) is
 * consumed. */
void cql_prepared_complete_response(cql_prepared_cache *c, cql_prepared_entry *e, const void *host,
                                    cql_message *resp, const cql_error *err);

/* Entry whose current prepared id equals `id` among READY entries, or NULL (BATCH UNPREPARED). */
cql_prepared_entry *cql_prepared_find_by_id(const cql_prepared_cache *c, cql_value id);

/* true while a PREPARE of e on host (NULL: the first one) is in flight. */
bool cql_prepared_in_flight(cql_prepared_entry *e, const void *host);

/* Calls fn for every READY entry (fn must not insert or remove entries). */
void cql_prepared_each_ready(const cql_prepared_cache *c, void (*fn)(cql_prepared_entry *e, void *ud),
                             void *ud);

#endif
