/* The send state machine (docs/data-model.md, "Sending a message"):
 *
 *   pair   cache hit, or SELECT conversation_by_pair, or on a miss INSERT ... IF NOT EXISTS
 *   key    with an Idempotency-Key: INSERT idempotency_keys ... IF NOT EXISTS; when the key
 *          exists, the stored message is the answer: SELECT it, and when it is missing finish
 *          writing it (same id, same timestamp: the same upsert)
 *   batch  one LOGGED batch of the message, its bucket, the conversation, both users' rows and
 *          the receiver's unread row (ids only), timestamped with the message's created_at
 *          (idempotent, may be retried)
 *
 * Nothing is counted: totals are counted from the message rows themselves (cassandra_totals.c),
 * so a retried or replayed write can never count twice.
 *
 * Every step runs in the callback of the previous one on the cql I/O thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timestamp.h"
#include "core/validate.h"
#include "store/cassandra/cassandra_internal.h"
#include "log/log.h"

typedef struct send_op {
  cass_store *s;
  send_request req; /* strings stay the caller's until cb */
  store_send_cb cb;
  void *arg;
  int64_t low, high;
  /* the message being stored (a replay's come from idempotency_keys) */
  message msg;
  char *replay_content; /* owned copy of a replayed message's content */
  bool replayed;
  unsigned lwt_attempts; /* of the claim in progress */
} send_op;

/* An `INSERT ... IF NOT EXISTS` claim may run again after a Paxos timeout, contention or a
 * replica set without quorum: its answer says who holds the row, and a claim that did apply
 * the first time reads back as our own row (same conversation id / message id). A pair claim
 * reads the pair again first: many first sends of one pair at once (the seed) contend in Paxos,
 * and the losers usually find the winner's row. */
#define LWT_ATTEMPTS 8

static bool claim_again(send_op *op, const cql_error *err) {
  /* a Paxos round's read phase can time out like its write (a frozen replica) */
  bool transient = err->code == CQL_ERROR_WRITE_TIMEOUT || err->code == CQL_ERROR_READ_TIMEOUT ||
                   err->code == CQL_ERROR_CAS_WRITE_UNKNOWN || err->code == CQL_ERROR_UNAVAILABLE ||
                   err->code == CQL_ERROR_OVERLOADED;
  if (!transient || ++op->lwt_attempts >= LWT_ATTEMPTS) return false;
  cass_log_error("claim (trying again)", err);
  return true;
}

static void finish(send_op *op, store_status status, const char *detail) {
  cass_store *s = op->s;
  if (status == STORE_OK) {
    send_result result = {.message = op->msg, .replayed = op->replayed};
    op->cb(op->arg, STORE_OK, NULL, &result);
  } else {
    op->cb(op->arg, status, detail, NULL);
  }
  free(op->replay_content);
  free(op);
  cass_op_end(s);
}

static void fail(send_op *op, const char *what, const cql_error *err) {
  cass_log_error(what, err);
  finish(op, STORE_UNAVAILABLE, cass_error_detail(err->code));
}

/* ---- batch ---- */

static void on_batch(cql_resultset *r, const cql_error *err, void *ud) {
  send_op *op = ud;
  cql_resultset_free(r);
  if (err) {
    fail(op, "message batch", err);
    return;
  }
  finish(op, STORE_OK, NULL);
}

/* Adds one statement of the batch; false on OOM. */
static bool add(cql_batch_stmt *b, cql_statement *st) {
  bool ok = st && cql_batch_stmt_add(b, st);
  cql_statement_free(st);
  return ok;
}

static cql_statement *user_row(send_op *op, int64_t user, int64_t other) {
  const message *m = &op->msg;
  cql_statement *st = cass_statement(op->s, CASS_USER_CONV_UPSERT, 4);
  if (!st) return NULL;
  cql_statement_bind_int64(st, 0, user);
  cql_statement_bind_int64(st, 1, m->conversation_id);
  cql_statement_bind_int64(st, 2, other);
  cql_statement_bind_int64(st, 3, m->id);
  return st;
}

/* The batch of every row of the message; NULL on OOM. The content is in two rows (the message
 * and `conversations`), never in the per-user rows: with 4,096 four-byte code points the batch
 * stays near 33 KB, under Cassandra's 50 KiB batch_size_fail_threshold (data-model.md). */
static cql_batch_stmt *message_batch(send_op *op) {
  const message *m = &op->msg;
  cass_store *s = op->s;
  int32_t bucket = cass_bucket_of_id(m->id);
  cql_batch_stmt *b = cql_batch_stmt_new(CQL_BATCH_LOGGED);
  if (!b) return NULL;
  cql_batch_stmt_set_consistency(b, s->consistency);
  cql_batch_stmt_set_idempotent(b, true);
  cql_batch_stmt_set_timestamp(b, m->created_at_us);

  cql_statement *msg = cass_statement(s, CASS_MSG_INSERT, 6);
  if (msg) {
    cql_statement_bind_int64(msg, 0, m->conversation_id);
    cql_statement_bind_int32(msg, 1, bucket);
    cql_statement_bind_int64(msg, 2, m->id);
    cql_statement_bind_int64(msg, 3, m->sender_id);
    cql_statement_bind_int64(msg, 4, m->receiver_id);
    cql_statement_bind_text(msg, 5, m->content, m->content_len);
  }
  cql_statement *bkt = cass_statement(s, CASS_BUCKET_INSERT, 2);
  if (bkt) {
    cql_statement_bind_int64(bkt, 0, m->conversation_id);
    cql_statement_bind_int32(bkt, 1, bucket);
  }
  cql_statement *conv = cass_statement(s, CASS_CONV_UPSERT, 5);
  if (conv) {
    cql_statement_bind_int64(conv, 0, m->conversation_id);
    cql_statement_bind_int64(conv, 1, op->low);
    cql_statement_bind_int64(conv, 2, op->high);
    cql_statement_bind_int64(conv, 3, m->id);
    cql_statement_bind_text(conv, 4, m->content, m->content_len);
  }
  cql_statement *unread = cass_statement(s, CASS_UNREAD_INSERT, 3);
  if (unread) {
    cql_statement_bind_int64(unread, 0, m->receiver_id);
    cql_statement_bind_int64(unread, 1, m->conversation_id);
    cql_statement_bind_int64(unread, 2, m->id);
  }
  bool ok = add(b, msg);
  ok = add(b, bkt) && ok;
  ok = add(b, conv) && ok;
  ok = add(b, user_row(op, op->low, op->high)) && ok;
  ok = add(b, user_row(op, op->high, op->low)) && ok;
  ok = add(b, unread) && ok;
  if (!ok) {
    cql_batch_stmt_free(b);
    return NULL;
  }
  return b;
}

static void write_message(send_op *op) { cass_execute_batch(op->s, message_batch(op), on_batch, op); }

/* ---- replay of an idempotency key ---- */

static void on_replay_exists(cql_resultset *r, const cql_error *err, void *ud) {
  send_op *op = ud;
  if (err) {
    fail(op, "replayed message lookup", err);
    return;
  }
  bool stored = cql_resultset_row_count(r) > 0;
  cql_resultset_free(r);
  if (stored)
    finish(op, STORE_OK, NULL);
  else
    write_message(op); /* the first attempt stopped after claiming the key: finish it */
}

/* Takes the message of an existing key from the LWT's answer; false when it is incomplete. */
static bool load_replay(send_op *op, const cql_resultset *r) {
  const cql_row *row = cql_resultset_row(r, 0);
  message *m = &op->msg;
  int col = cql_resultset_column_index(r, "content");
  const char *text = NULL;
  size_t len = 0;
  if (!cass_row_int64(r, row, "message_id", &m->id) ||
      !cass_row_int64(r, row, "conversation_id", &m->conversation_id) ||
      !cass_row_int64(r, row, "receiver_id", &m->receiver_id) || col < 0 ||
      cql_row_get_text(row, (size_t)col, &text, &len) != CQL_GET_OK || !id_is_valid(m->id))
    return false;
  if (!(op->replay_content = malloc(len + 1))) return false;
  if (len) memcpy(op->replay_content, text, len);
  op->replay_content[len] = '\0';
  m->content = op->replay_content;
  m->content_len = len;
  m->created_at_us = id_created_at_us(m->id);
  conversation_pair(m->sender_id, m->receiver_id, &op->low, &op->high);
  op->replayed = true;
  return true;
}

static void claim_key(send_op *op);

static void on_key_claimed(cql_resultset *r, const cql_error *err, void *ud) {
  send_op *op = ud;
  if (err) {
    if (claim_again(op, err))
      claim_key(op);
    else
      fail(op, "idempotency key claim", err);
    return;
  }
  if (cass_lwt_applied(r)) {
    cql_resultset_free(r);
    write_message(op);
    return;
  }
  int64_t own_id = op->msg.id;
  bool loaded = load_replay(op, r);
  cql_resultset_free(r);
  if (loaded && op->msg.id == own_id) op->replayed = false; /* our earlier attempt's claim */
  if (!loaded) {
    log_msg(LOG_ERROR, "cassandra", "idempotency key row without a complete message");
    finish(op, STORE_UNAVAILABLE, "Database error");
    return;
  }
  cql_statement *st = cass_statement(op->s, CASS_MSG_GET, 3);
  if (st) {
    cql_statement_bind_int64(st, 0, op->msg.conversation_id);
    cql_statement_bind_int32(st, 1, cass_bucket_of_id(op->msg.id));
    cql_statement_bind_int64(st, 2, op->msg.id);
  }
  cass_execute(op->s, st, on_replay_exists, op);
}

static void claim_key(send_op *op) {
  const message *m = &op->msg;
  cql_statement *st = cass_statement(op->s, CASS_IDEM_CLAIM, 6);
  if (st) {
    cass_statement_lwt(st);
    cql_statement_bind_int64(st, 0, m->sender_id);
    cql_statement_bind_text(st, 1, op->req.idempotency_key, strlen(op->req.idempotency_key));
    cql_statement_bind_int64(st, 2, m->id);
    cql_statement_bind_int64(st, 3, m->conversation_id);
    cql_statement_bind_int64(st, 4, m->receiver_id);
    cql_statement_bind_text(st, 5, m->content, m->content_len);
  }
  cass_execute(op->s, st, on_key_claimed, op);
}

/* ---- the pair's conversation ---- */

static void with_conversation(send_op *op, int64_t conversation_id) {
  cass_pair_cache_put(&op->s->pairs, op->low, op->high, conversation_id);
  op->msg.conversation_id = conversation_id;
  if (op->req.idempotency_key)
    claim_key(op);
  else
    write_message(op);
}

static void read_pair(send_op *op);

static void on_pair_claimed(cql_resultset *r, const cql_error *err, void *ud) {
  send_op *op = ud;
  int64_t candidate = op->msg.conversation_id;
  if (err) {
    if (claim_again(op, err))
      read_pair(op); /* a concurrent first sender's claim may have won meanwhile: use it */
    else
      fail(op, "conversation claim", err);
    return;
  }
  op->lwt_attempts = 0; /* the key claim, if any, gets its own attempts */
  int64_t id = candidate;
  bool ok = cass_lwt_applied(r) ||
            (cass_row_int64(r, cql_resultset_row(r, 0), "conversation_id", &id) && id_is_valid(id));
  cql_resultset_free(r);
  if (!ok) {
    log_msg(LOG_ERROR, "cassandra", "conversation claim answered without a conversation id");
    finish(op, STORE_UNAVAILABLE, "Database error");
    return;
  }
  with_conversation(op, id);
}

static void claim_pair(send_op *op);

static void on_pair_read(cql_resultset *r, const cql_error *err, void *ud) {
  send_op *op = ud;
  if (err) {
    fail(op, "conversation lookup", err);
    return;
  }
  int64_t id = 0;
  bool found = cass_row_int64(r, cql_resultset_row(r, 0), "conversation_id", &id) && id_is_valid(id);
  cql_resultset_free(r);
  if (found) {
    with_conversation(op, id);
    return;
  }
  /* First message of the pair: claim it with a fresh id; a concurrent first sender's claim wins. */
  op->msg.conversation_id = cass_id_source_next(&op->s->conversation_ids, timestamp_now_us() / 1000);
  claim_pair(op);
}

static void claim_pair(send_op *op) {
  cql_statement *st = cass_statement(op->s, CASS_PAIR_CLAIM, 3);
  if (st) {
    cass_statement_lwt(st);
    cql_statement_bind_int64(st, 0, op->low);
    cql_statement_bind_int64(st, 1, op->high);
    cql_statement_bind_int64(st, 2, op->msg.conversation_id);
  }
  cass_execute(op->s, st, on_pair_claimed, op);
}

static void read_pair(send_op *op) {
  cql_statement *st = cass_statement(op->s, CASS_PAIR_GET, 2);
  if (st) {
    cql_statement_bind_int64(st, 0, op->low);
    cql_statement_bind_int64(st, 1, op->high);
  }
  cass_execute(op->s, st, on_pair_read, op);
}

void cass_send_message(store *base, const send_request *req, store_send_cb cb, void *arg) {
  cass_store *s = (cass_store *)base;
  if (!send_request_is_valid(req)) {
    cb(arg, STORE_UNAVAILABLE, "Invalid message", NULL);
    return;
  }
  if (s->lease && !cass_lease_valid(s->lease)) {
    cb(arg, STORE_UNAVAILABLE, "Message ids are not available (node lease lost)", NULL);
    return;
  }
  send_op *op = calloc(1, sizeof *op);
  if (!op) {
    cb(arg, STORE_UNAVAILABLE, "Out of memory", NULL);
    return;
  }
  int64_t now_ms = req->sent_at_ms ? req->sent_at_ms : timestamp_now_us() / 1000;
  int64_t id =
      cass_id_source_next(&s->ids, now_ms); /* before the first attempt: retries upsert the same row */
  *op = (send_op){.s = s, .req = *req, .cb = cb, .arg = arg};
  conversation_pair(req->sender_id, req->receiver_id, &op->low, &op->high);
  op->msg = (message){.id = id,
                      .sender_id = req->sender_id,
                      .receiver_id = req->receiver_id,
                      .created_at_us = id_created_at_us(id),
                      .content = req->content,
                      .content_len = req->content_len};
  cass_op_begin(s);
  int64_t cached = cass_pair_cache_get(&s->pairs, op->low, op->high);
  if (cached) {
    with_conversation(op, cached);
    return;
  }
  read_pair(op);
}
