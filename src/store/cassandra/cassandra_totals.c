/* Exact totals (docs/data-model.md, "Exact totals"): a conversation's `total` is counted from its
 * message rows, never from a counter.
 *
 *   seal    SELECT the conversation_totals row: rows below sealed_until are counted there
 *   live    SELECT the buckets >= bucket_of(sealed_until), then in each (newest first, every
 *           page) the ids >= sealed_until with their sender and receiver: counted here
 *   store   when a newer bound is sealable (cass_seal_bound), the count below it is written
 *           back, in the background, with the bound's time as write timestamp (newest wins)
 *
 * Message rows are idempotent upserts, so a retried batch, a batchlog replay or two concurrent
 * replays of one Idempotency-Key can never count twice, and a message that is stored is always
 * counted. Callbacks run on the cql I/O thread; the operation frees itself after its callback. */
#include <stdlib.h>

#include "core/ids.h"
#include "core/timestamp.h"
#include "cql/errors.h"
#include "store/cassandra/cassandra_internal.h"

typedef struct total_op {
  cass_store *s;
  int64_t conversation_id;
  cass_total_cb cb;
  void *ud;
  cass_tally tally;
  int32_t *buckets; /* the live buckets, newest first (owned) */
  size_t n_buckets, next_bucket;
} total_op;

static void on_sealed(cql_resultset *r, const cql_error *err, void *ud) {
  cass_store *s = ud;
  cql_resultset_free(r);
  /* harmless: the next read counts the same rows again and retries the seal */
  if (err) cass_log_error("total seal write", err);
  cass_op_end(s);
}

/* Stores the newer seal (idempotent: the same bound always gets the same counts). */
static void store_seal(cass_store *s, int64_t conversation_id, const cass_tally *t) {
  int64_t until, count, from_low;
  if (!cass_tally_seal(t, &until, &count, &from_low)) return;
  cql_statement *st = cass_statement(s, CASS_TOTALS_SEAL, 4);
  if (st) {
    cql_statement_bind_int64(st, 0, conversation_id);
    cql_statement_bind_int64(st, 1, until);
    cql_statement_bind_int64(st, 2, count);
    cql_statement_bind_int64(st, 3, from_low);
    cql_statement_set_idempotent(st, true);
    cql_statement_set_timestamp(st, id_created_at_us(until));
  }
  cass_op_begin(s);
  cass_execute(s, st, on_sealed, s);
}

static void total_finish(total_op *op, const cql_error *err) {
  if (!err) store_seal(op->s, op->conversation_id, &op->tally);
  op->cb(op->ud, err, err ? 0 : cass_tally_total(&op->tally));
  free(op->buckets);
  free(op);
}

static void count_next_bucket(total_op *op);

static void on_tally_rows(cql_resultset *r, const cql_error *err, void *ud) {
  total_op *op = ud;
  if (err) {
    total_finish(op, err);
    return;
  }
  const cql_row *row;
  for (size_t i = 0; (row = cql_resultset_row(r, i)); i++) {
    int64_t id, sender, receiver;
    if (cass_row_int64(r, row, "message_id", &id) && cass_row_int64(r, row, "sender_id", &sender) &&
        cass_row_int64(r, row, "receiver_id", &receiver))
      cass_tally_add(&op->tally, id, sender, receiver);
  }
  bool more = cql_resultset_has_more_pages(r);
  bool submitted = more && cql_client_next_page(op->s->client, r, on_tally_rows, op);
  cql_resultset_free(r);
  if (submitted) return;
  if (more) {
    cql_error closing;
    cql_client_error_set(&closing, CQL_ERR_CLIENT_CLOSED, "client is closing");
    total_finish(op, &closing);
    return;
  }
  op->next_bucket++;
  count_next_bucket(op);
}

static void count_next_bucket(total_op *op) {
  if (op->next_bucket >= op->n_buckets) {
    total_finish(op, NULL);
    return;
  }
  cql_statement *st = cass_statement(op->s, CASS_MSG_TALLY, 3);
  if (st) {
    cql_statement_bind_int64(st, 0, op->conversation_id);
    cql_statement_bind_int32(st, 1, op->buckets[op->next_bucket]);
    cql_statement_bind_int64(st, 2, cass_tally_from(&op->tally));
  }
  cass_execute(op->s, st, on_tally_rows, op);
}

static void on_live_buckets(cql_resultset *r, const cql_error *err, void *ud) {
  total_op *op = ud;
  if (err) {
    total_finish(op, err);
    return;
  }
  size_t n = cql_resultset_row_count(r);
  op->buckets = calloc(n ? n : 1, sizeof *op->buckets);
  if (!op->buckets) {
    cql_resultset_free(r);
    cql_error oom;
    cql_client_error_set(&oom, CQL_ERR_BAD_USAGE, "out of memory");
    total_finish(op, &oom);
    return;
  }
  const cql_row *row;
  for (size_t i = 0; (row = cql_resultset_row(r, i)); i++)
    if (cass_row_int32(r, row, "bucket", &op->buckets[op->n_buckets])) op->n_buckets++;
  cql_resultset_free(r);
  count_next_bucket(op);
}

static void on_seal_row(cql_resultset *r, const cql_error *err, void *ud) {
  total_op *op = ud;
  if (err) {
    total_finish(op, err);
    return;
  }
  const cql_row *row = cql_resultset_row(r, 0);
  int64_t until = 0, count = 0, from_low = 0;
  if (row &&
      !(cass_row_int64(r, row, "sealed_until", &until) && cass_row_int64(r, row, "message_count", &count) &&
        cass_row_int64(r, row, "from_user1_count", &from_low)))
    until = count = from_low = 0; /* an incomplete row counts as no seal: count everything */
  cql_resultset_free(r);
  cass_tally_init(&op->tally, until, count, from_low, timestamp_now_us());
  cql_statement *st = cass_statement(op->s, CASS_BUCKETS_FROM, 2);
  if (st) {
    cql_statement_bind_int64(st, 0, op->conversation_id);
    cql_statement_bind_int32(st, 1, cass_bucket_of_id(cass_tally_from(&op->tally)));
  }
  cass_execute(op->s, st, on_live_buckets, op);
}

void cass_conversation_total(cass_store *s, int64_t conversation_id, cass_total_cb cb, void *ud) {
  total_op *op = calloc(1, sizeof *op);
  if (!op) {
    cql_error oom;
    cql_client_error_set(&oom, CQL_ERR_BAD_USAGE, "out of memory");
    cb(ud, &oom, 0);
    return;
  }
  *op = (total_op){.s = s, .conversation_id = conversation_id, .cb = cb, .ud = ud};
  cql_statement *st = cass_statement(s, CASS_TOTALS_GET, 1);
  if (st) cql_statement_bind_int64(st, 0, conversation_id);
  cass_execute(s, st, on_seal_row, op);
}
