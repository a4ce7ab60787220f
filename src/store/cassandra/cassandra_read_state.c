/* The read mark state machine (docs/data-model.md, "read_state"):
 *
 *   check  three reads in parallel: the conversation (exists, the user is a participant), the
 *          message (in the conversation: its primary key), the user's current mark
 *   write  when the mark moves: one single-partition batch of read_state that sets the mark and
 *          deletes the unread rows up to it (a range tombstone), timestamped with the marked
 *          message's created_at: idempotent (may be retried), and the larger mark wins whatever
 *          order concurrent marks arrive in, with no read-before-write race and no LWT
 *
 * Every step runs in the callback of the previous one on the cql I/O thread. */
#include <stdatomic.h>
#include <stdlib.h>

#include "core/ids.h"
#include "store/cassandra/cassandra_internal.h"

cql_statement *cass_by_user_conversation(cass_store *s, cass_stmt which, int64_t user_id,
                                         int64_t conversation_id) {
  cql_statement *st = cass_statement(s, which, 2);
  if (!st) return NULL;
  cql_statement_bind_int64(st, 0, user_id);
  cql_statement_bind_int64(st, 1, conversation_id);
  return st;
}

typedef struct mark_op {
  cass_store *s;
  read_mark_request req;
  store_read_mark_cb cb;
  void *arg;
  atomic_int pending;
  atomic_int error_code; /* of the first failed read, 0 when none */
  bool participant;      /* the conversation exists and the user is in it */
  int64_t other_user_id; /* the other participant */
  bool message_found;
  int64_t current; /* the stored mark, 0 when none */
} mark_op;

static void mark_finish(mark_op *op, store_status status, const char *detail, const read_mark *mark) {
  cass_store *s = op->s;
  op->cb(op->arg, status, detail, mark);
  free(op);
  cass_op_end(s);
}

static void on_mark_written(cql_resultset *r, const cql_error *err, void *ud) {
  mark_op *op = ud;
  cql_resultset_free(r);
  if (err) {
    cass_log_error("read mark batch", err);
    mark_finish(op, STORE_UNAVAILABLE, cass_error_detail(err->code), NULL);
    return;
  }
  read_mark mark = {.conversation_id = op->req.conversation_id,
                    .user_id = op->req.user_id,
                    .other_user_id = op->other_user_id,
                    .last_read_message_id = op->req.message_id,
                    .advanced = true};
  mark_finish(op, STORE_OK, NULL, &mark);
}

/* The batch that moves the mark; NULL on OOM. */
static cql_batch_stmt *mark_batch(mark_op *op) {
  cass_store *s = op->s;
  const read_mark_request *req = &op->req;
  cql_batch_stmt *b = cql_batch_stmt_new(CQL_BATCH_UNLOGGED); /* one partition: atomic anyway */
  if (!b) return NULL;
  cql_batch_stmt_set_consistency(b, s->consistency);
  cql_batch_stmt_set_idempotent(b, true);
  cql_batch_stmt_set_timestamp(b, id_created_at_us(req->message_id));
  cql_statement *set = cass_statement(s, CASS_READ_MARK_SET, 3);
  if (set) {
    cql_statement_bind_int64(set, 0, req->message_id);
    cql_statement_bind_int64(set, 1, req->user_id);
    cql_statement_bind_int64(set, 2, req->conversation_id);
  }
  cql_statement *del = cass_statement(s, CASS_UNREAD_DELETE, 3);
  if (del) {
    cql_statement_bind_int64(del, 0, req->user_id);
    cql_statement_bind_int64(del, 1, req->conversation_id);
    cql_statement_bind_int64(del, 2, req->message_id);
  }
  bool ok = set && del && cql_batch_stmt_add(b, set) && cql_batch_stmt_add(b, del);
  cql_statement_free(set);
  cql_statement_free(del);
  if (!ok) {
    cql_batch_stmt_free(b);
    return NULL;
  }
  return b;
}

/* All three reads are in: answer, or write the new mark. */
static void mark_decide(mark_op *op) {
  int code = atomic_load(&op->error_code);
  if (code) {
    mark_finish(op, STORE_UNAVAILABLE, cass_error_detail(code), NULL);
  } else if (!op->participant) {
    mark_finish(op, STORE_NOT_FOUND, "Conversation not found", NULL);
  } else if (!op->message_found) {
    mark_finish(op, STORE_INVALID, "Message is not in this conversation", NULL);
  } else if (op->current >= op->req.message_id) {
    read_mark mark = {.conversation_id = op->req.conversation_id,
                      .user_id = op->req.user_id,
                      .other_user_id = op->other_user_id,
                      .last_read_message_id = op->current,
                      .advanced = false};
    mark_finish(op, STORE_OK, NULL, &mark);
  } else {
    cass_execute_batch(op->s, mark_batch(op), on_mark_written, op);
  }
}

/* One check arrived (err set on failure); the last one decides. */
static void mark_check_done(mark_op *op, const char *what, const cql_error *err) {
  if (err) {
    int none = 0;
    cass_log_error(what, err);
    atomic_compare_exchange_strong(&op->error_code, &none, err->code);
  }
  if (atomic_fetch_sub(&op->pending, 1) == 1) mark_decide(op);
}

static void on_mark_conversation(cql_resultset *r, const cql_error *err, void *ud) {
  mark_op *op = ud;
  const cql_row *row = err ? NULL : cql_resultset_row(r, 0);
  int64_t user1 = 0, user2 = 0;
  if (row && cass_row_int64(r, row, "user1_id", &user1) && cass_row_int64(r, row, "user2_id", &user2)) {
    op->participant = user1 == op->req.user_id || user2 == op->req.user_id;
    op->other_user_id = user1 == op->req.user_id ? user2 : user1;
  }
  cql_resultset_free(r);
  mark_check_done(op, "read mark: conversation read", err);
}

static void on_mark_message(cql_resultset *r, const cql_error *err, void *ud) {
  mark_op *op = ud;
  op->message_found = !err && cql_resultset_row(r, 0) != NULL;
  cql_resultset_free(r);
  mark_check_done(op, "read mark: message read", err);
}

static void on_mark_current(cql_resultset *r, const cql_error *err, void *ud) {
  mark_op *op = ud;
  int64_t current = 0;
  if (!err && cass_row_int64(r, cql_resultset_row(r, 0), "last_read_message_id", &current))
    op->current = current;
  cql_resultset_free(r);
  mark_check_done(op, "read mark: current mark read", err);
}

void cass_mark_read(store *base, const read_mark_request *req, store_read_mark_cb cb, void *arg) {
  cass_store *s = (cass_store *)base;
  if (!read_mark_request_is_valid(req)) {
    cb(arg, STORE_UNAVAILABLE, "Invalid read mark", NULL);
    return;
  }
  mark_op *op = calloc(1, sizeof *op);
  if (!op) {
    cb(arg, STORE_UNAVAILABLE, "Out of memory", NULL);
    return;
  }
  op->s = s;
  op->req = *req;
  op->cb = cb;
  op->arg = arg;
  atomic_init(&op->pending, 3);
  atomic_init(&op->error_code, 0);
  cass_op_begin(s);
  cql_statement *conv = cass_statement(s, CASS_CONV_GET, 1);
  if (conv) cql_statement_bind_int64(conv, 0, req->conversation_id);
  cql_statement *msg = cass_statement(s, CASS_MSG_GET, 3);
  if (msg) {
    cql_statement_bind_int64(msg, 0, req->conversation_id);
    cql_statement_bind_int32(msg, 1, cass_bucket_of_id(req->message_id));
    cql_statement_bind_int64(msg, 2, req->message_id);
  }
  cql_statement *current =
      cass_by_user_conversation(s, CASS_READ_MARK_GET, req->user_id, req->conversation_id);
  /* Nothing of op is touched after the last submission: its callback may finish op. */
  cass_execute(s, conv, on_mark_conversation, op);
  cass_execute(s, msg, on_mark_message, op);
  cass_execute(s, current, on_mark_current, op);
}
