#include "cql/prepared.h"

#include <stdlib.h>
#include <string.h>

#include "cql/errors.h"

static uint64_t hash_text(const char *s, size_t len) {
  uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a */
  for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * UINT64_C(1099511628211);
  return h;
}

bool cql_prepared_cache_init(cql_prepared_cache *c) {
  c->n_buckets = 256;
  c->count = 0;
  c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
  return c->buckets != NULL;
}

static void free_ops(cql_prep_op *op) {
  while (op) {
    cql_prep_op *next = op->next;
    free(op);
    op = next;
  }
}

static void free_entry(cql_prepared_entry *e) {
  free_ops(e->ops);
  cql_message_free(&e->msg);
  free(e->query);
  free(e);
}

void cql_prepared_cache_free(cql_prepared_cache *c) {
  for (size_t b = 0; b < c->n_buckets; b++) {
    cql_prepared_entry *e = c->buckets[b];
    while (e) {
      cql_prepared_entry *next = e->next;
      free_entry(e);
      e = next;
    }
  }
  free(c->buckets);
  memset(c, 0, sizeof(*c));
}

cql_prepared_entry *cql_prepared_find(const cql_prepared_cache *c, const char *query, size_t len) {
  for (cql_prepared_entry *e = c->buckets[hash_text(query, len) % c->n_buckets]; e; e = e->next)
    if (e->query_len == len && memcmp(e->query, query, len) == 0) return e;
  return NULL;
}

static void grow(cql_prepared_cache *c) {
  size_t n = c->n_buckets * 2;
  cql_prepared_entry **b = calloc(n, sizeof(*b));
  if (!b) return; /* keep the longer chains */
  for (size_t i = 0; i < c->n_buckets; i++) {
    cql_prepared_entry *e = c->buckets[i];
    while (e) {
      cql_prepared_entry *next = e->next;
      size_t k = hash_text(e->query, e->query_len) % n;
      e->next = b[k];
      b[k] = e;
      e = next;
    }
  }
  free(c->buckets);
  c->buckets = b;
  c->n_buckets = n;
}

cql_prepared_entry *cql_prepared_insert(cql_prepared_cache *c, const char *query, size_t len) {
  if (c->count >= c->n_buckets) grow(c);
  cql_prepared_entry *e = calloc(1, sizeof(*e));
  if (!e) return NULL;
  if (!(e->query = malloc(len + 1))) {
    free(e);
    return NULL;
  }
  memcpy(e->query, query, len);
  e->query[len] = '\0';
  e->query_len = len;
  e->state = CQL_PREP_PENDING;
  size_t k = hash_text(query, len) % c->n_buckets;
  e->next = c->buckets[k];
  c->buckets[k] = e;
  c->count++;
  return e;
}

static cql_prep_op **find_op(cql_prepared_entry *e, const void *host) {
  cql_prep_op **p = &e->ops;
  while (*p && (*p)->host != host) p = &(*p)->next;
  return p;
}

bool cql_prepared_wait(cql_prepared_entry *e, const void *host, cql_prep_waiter *w, bool *oom) {
  *oom = false;
  cql_prep_op **p = find_op(e, host);
  bool first = *p == NULL;
  if (first) {
    if (!(*p = calloc(1, sizeof(**p)))) {
      *oom = true;
      return false;
    }
    (*p)->host = host;
  }
  w->next = (*p)->waiters;
  (*p)->waiters = w;
  return first;
}

static void unlink_entry(cql_prepared_cache *c, cql_prepared_entry *e) {
  cql_prepared_entry **p = &c->buckets[hash_text(e->query, e->query_len) % c->n_buckets];
  while (*p && *p != e) p = &(*p)->next;
  if (*p) {
    *p = e->next;
    c->count--;
  }
}

void cql_prepared_complete(cql_prepared_cache *c, cql_prepared_entry *e, const void *host,
                           cql_message *result, const cql_error *err) {
  cql_prep_op **p = find_op(e, host);
  cql_prep_op *op = *p;
  if (op) *p = op->next;
  bool drop = false;
  if (!err && result) {
    cql_message_free(&e->msg);
    e->msg = *result;
    memset(result, 0, sizeof(*result));
    e->prep = &e->msg.u.result.prepared;
    const cql_prepared_metadata *m = &e->prep->meta;
    e->keyspace =
        m->column_count > 0 && m->columns && m->columns[0].keyspace.len ? m->columns[0].keyspace.ptr : NULL;
    e->state = CQL_PREP_READY;
  } else if (e->state == CQL_PREP_PENDING) {
    drop = true;
    unlink_entry(c, e);
  }
  /* Waiters were pushed in front: wake them in arrival order. */
  cql_prep_waiter *rev = NULL;
  for (cql_prep_waiter *w = op ? op->waiters : NULL; w;) {
    cql_prep_waiter *next = w->next;
    w->next = rev;
    rev = w;
    w = next;
  }
  free(op);
  while (rev) {
    cql_prep_waiter *next = rev->next;
    rev->next = NULL;
    rev->wake(rev, err);
    rev = next;
  }
  if (drop) free_entry(e);
}

cql_prepared_entry *cql_prepared_find_by_id(const cql_prepared_cache *c, cql_value id) {
  for (size_t b = 0; b < c->n_buckets; b++)
    for (cql_prepared_entry *e = c->buckets[b]; e; e = e->next)
      if (e->state == CQL_PREP_READY && e->prep->id.len == id.len && id.len >= 0 &&
          memcmp(e->prep->id.ptr, id.ptr, (size_t)id.len) == 0)
        return e;
  return NULL;
}

void cql_prepared_complete_response(cql_prepared_cache *c, cql_prepared_entry *e, const void *host,
                                    cql_message *resp, const cql_error *err) {
  if (err) {
    cql_prepared_complete(c, e, host, NULL, err);
  } else if (resp->opcode == CQL_OP_RESULT && resp->u.result.kind == CQL_RESULT_PREPARED) {
    cql_prepared_complete(c, e, host, resp, NULL); /* moves the result into the entry */
  } else if (resp->opcode == CQL_OP_ERROR) {
    cql_prepared_complete(c, e, host, NULL, &resp->u.error);
  } else {
    cql_error bad;
    cql_client_error_set(&bad, CQL_ERR_PROTOCOL_VIOLATION, "unexpected response to PREPARE");
    cql_prepared_complete(c, e, host, NULL, &bad);
  }
  if (resp) cql_message_free(resp);
}

bool cql_prepared_in_flight(cql_prepared_entry *e, const void *host) { return *find_op(e, host) != NULL; }

void cql_prepared_each_ready(const cql_prepared_cache *c, void (*fn)(cql_prepared_entry *e, void *ud),
                             void *ud) {
  for (size_t b = 0; b < c->n_buckets; b++)
    for (cql_prepared_entry *e = c->buckets[b]; e; e = e->next)
      if (e->state == CQL_PREP_READY) fn(e, ud);
}
