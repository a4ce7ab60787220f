/* The read operations: a conversation's messages (the bucket walk of cassandra_model), a
 * user's conversations (the whole partition, sorted here, then each item's last message and
 * the user's read state in it), one
 * conversation, and ping.
 * Callbacks run on the cql I/O thread; each operation frees itself after its store callback. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "store/cassandra/cassandra_internal.h"

/* Copies a text cell; NULL on OOM (or when the cell is not text). */
static char *copy_text(const cql_resultset *r, const cql_row *row, const char *name, size_t *len) {
  int col = cql_resultset_column_index(r, name);
  const char *text = "";
  *len = 0;
  if (col < 0) return NULL;
  cql_get got = cql_row_get_text(row, (size_t)col, &text, len);
  if (got == CQL_GET_NULL)
    *len = 0;
  else if (got != CQL_GET_OK)
    return NULL;
  char *copy = malloc(*len + 1);
  if (!copy) return NULL;
  if (*len) memcpy(copy, text, *len);
  copy[*len] = '\0';
  return copy;
}

/* ---- messages of a conversation ------------------------------------------------------------ */

typedef struct list_op {
  cass_store *s;
  message_query q;
  store_message_page_cb cb;
  void *arg;
  /* phase 1: three reads in parallel */
  atomic_int pending;
  atomic_bool failed;
  int32_t error_code; /* of the first failed read */
  bool found;
  int64_t total;
  int32_t first_buckets[CASS_BUCKET_WINDOW];
  size_t n_first_buckets;
  /* phase 2: the walk */
  cass_walk walk;
  cass_walk_query current;
  message items[PAGE_LIMIT_MAX + 1];
  char *contents[PAGE_LIMIT_MAX + 1];
  size_t n;
} list_op;

static void list_finish(list_op *op, store_status status, const char *detail) {
  cass_store *s = op->s;
  if (status == STORE_OK) {
    size_t limit = (size_t)op->q.page.limit;
    message_page page = {.total = op->total,
                         .count = op->n > limit ? limit : op->n,
                         .items = op->items,
                         .has_more = op->n > limit};
    op->cb(op->arg, STORE_OK, NULL, &page);
  } else {
    op->cb(op->arg, status, detail, NULL);
  }
  for (size_t i = 0; i < op->n; i++) free(op->contents[i]);
  free(op);
  cass_op_end(s);
}

static void list_fail(list_op *op, const char *what, const cql_error *err) {
  cass_log_error(what, err);
  list_finish(op, STORE_UNAVAILABLE, cass_error_detail(err->code));
}

/* Reads the bucket column of every row into out (at most max); returns how many. */
static size_t read_buckets(const cql_resultset *r, int32_t *out, size_t max) {
  size_t n = 0;
  const cql_row *row;
  for (size_t i = 0; n < max && (row = cql_resultset_row(r, i)); i++)
    if (cass_row_int32(r, row, "bucket", &out[n])) n++;
  return n;
}

static void walk_step(list_op *op);

static void on_walk_rows(cql_resultset *r, const cql_error *err, void *ud) {
  list_op *op = ud;
  if (err) {
    list_fail(op, "message page read", err);
    return;
  }
  const cass_walk_query *q = &op->current;
  if (q->step == CASS_WALK_LIST_BUCKETS) {
    int32_t buckets[CASS_BUCKET_WINDOW];
    size_t n = read_buckets(r, buckets, CASS_BUCKET_WINDOW);
    cass_walk_on_buckets(&op->walk, q, buckets, n);
    cql_resultset_free(r);
    walk_step(op);
    return;
  }
  size_t rows = 0;
  int64_t last_id = 0;
  bool ok = true;
  const cql_row *row;
  for (size_t i = 0; ok && (row = cql_resultset_row(r, i)); i++, rows++) {
    ok = cass_row_int64(r, row, "message_id", &last_id);
    if (!ok || q->step != CASS_WALK_TAKE || op->n > (size_t)op->q.page.limit) continue;
    message *m = &op->items[op->n];
    *m = (message){
        .id = last_id, .conversation_id = op->q.conversation_id, .created_at_us = id_created_at_us(last_id)};
    ok = cass_row_int64(r, row, "sender_id", &m->sender_id) &&
         cass_row_int64(r, row, "receiver_id", &m->receiver_id) &&
         (op->contents[op->n] = copy_text(r, row, "content", &m->content_len)) != NULL;
    if (ok) m->content = op->contents[op->n++];
  }
  cql_resultset_free(r);
  if (!ok) {
    fprintf(stderr, "messenger: cassandra: malformed message row\n");
    list_finish(op, STORE_UNAVAILABLE, "Database error");
    return;
  }
  cass_walk_on_rows(&op->walk, q, rows, last_id);
  walk_step(op);
}

static void walk_step(list_op *op) {
  op->current = cass_walk_next(&op->walk);
  const cass_walk_query *q = &op->current;
  if (q->step == CASS_WALK_DONE) {
    list_finish(op, STORE_OK, NULL);
    return;
  }
  cql_statement *st;
  if (q->step == CASS_WALK_LIST_BUCKETS) {
    st = cass_statement(op->s, CASS_BUCKETS_LIST, 3);
    if (st) {
      cql_statement_bind_int64(st, 0, op->q.conversation_id);
      cql_statement_bind_int32(st, 1, q->bucket);
      cql_statement_bind_int32(st, 2, q->limit);
    }
  } else {
    st = cass_statement(op->s, q->step == CASS_WALK_TAKE ? CASS_MSG_PAGE : CASS_MSG_SKIP, 4);
    if (st) {
      cql_statement_bind_int64(st, 0, op->q.conversation_id);
      cql_statement_bind_int32(st, 1, q->bucket);
      cql_statement_bind_int64(st, 2, q->bound);
      cql_statement_bind_int32(st, 3, q->limit);
    }
  }
  if (st) cql_statement_set_page_size(st, 0); /* LIMIT bounds the answer: one response */
  cass_execute(op->s, st, on_walk_rows, op);
}

/* Phase 1 done: 404, empty page, or the walk. */
static void list_phase1_done(list_op *op) {
  if (atomic_load(&op->failed)) {
    list_finish(op, STORE_UNAVAILABLE, cass_error_detail(op->error_code));
    return;
  }
  if (!op->found) {
    list_finish(op, STORE_NOT_FOUND, "Conversation not found");
    return;
  }
  cass_walk_query q = cass_walk_next(&op->walk);
  if (q.step == CASS_WALK_LIST_BUCKETS)
    cass_walk_on_buckets(&op->walk, &q, op->first_buckets, op->n_first_buckets);
  /* `total` counts every message: a page starting past it is empty (and costs no walk). */
  if (op->walk.skip > 0 && op->walk.skip >= op->total) op->walk.want = 0;
  walk_step(op);
}

static void phase1_arrived(list_op *op, const char *what, const cql_error *err) {
  if (err) {
    cass_log_error(what, err);
    if (!atomic_exchange(&op->failed, true)) op->error_code = err->code;
  }
  if (atomic_fetch_sub(&op->pending, 1) == 1) list_phase1_done(op);
}

static void on_exists(cql_resultset *r, const cql_error *err, void *ud) {
  list_op *op = ud;
  if (r) op->found = cql_resultset_row_count(r) > 0;
  cql_resultset_free(r);
  phase1_arrived(op, "conversation lookup", err);
}

static void on_total(cql_resultset *r, const cql_error *err, void *ud) {
  list_op *op = ud;
  if (r && !cass_row_int64(r, cql_resultset_row(r, 0), "message_count", &op->total)) op->total = 0;
  if (op->total < 0) op->total = 0;
  cql_resultset_free(r);
  phase1_arrived(op, "message count", err);
}

static void on_first_buckets(cql_resultset *r, const cql_error *err, void *ud) {
  list_op *op = ud;
  if (r) op->n_first_buckets = read_buckets(r, op->first_buckets, CASS_BUCKET_WINDOW);
  cql_resultset_free(r);
  phase1_arrived(op, "bucket listing", err);
}

static cql_statement *by_conversation(cass_store *s, cass_stmt which, int64_t conversation_id) {
  cql_statement *st = cass_statement(s, which, 1);
  if (st) cql_statement_bind_int64(st, 0, conversation_id);
  return st;
}

void cass_list_messages(store *base, const message_query *q, store_message_page_cb cb, void *arg) {
  cass_store *s = (cass_store *)base;
  if (!page_request_is_valid(&q->page, CURSOR_MESSAGES)) {
    cb(arg, STORE_UNAVAILABLE, "Invalid page request", NULL);
    return;
  }
  list_op *op = calloc(1, sizeof *op);
  if (!op) {
    cb(arg, STORE_UNAVAILABLE, "Out of memory", NULL);
    return;
  }
  op->s = s;
  op->q = *q;
  op->cb = cb;
  op->arg = arg;
  cass_walk_init(&op->walk, cass_message_bound(q), cass_page_offset(&q->page), q->page.limit);
  cass_walk_query first = cass_walk_next(&op->walk);
  bool list_first = first.step == CASS_WALK_LIST_BUCKETS;
  atomic_init(&op->pending, list_first ? 3 : 2);
  cass_op_begin(s);
  /* Every callback may run (and the last one finish the op) before the next submission:
   * nothing of op is touched after the last cass_execute. */
  cql_statement *buckets = NULL;
  if (list_first && (buckets = cass_statement(s, CASS_BUCKETS_LIST, 3))) {
    cql_statement_bind_int64(buckets, 0, q->conversation_id);
    cql_statement_bind_int32(buckets, 1, first.bucket);
    cql_statement_bind_int32(buckets, 2, first.limit);
    cql_statement_set_page_size(buckets, 0);
  }
  cql_statement *exists = by_conversation(s, CASS_CONV_EXISTS, q->conversation_id);
  cql_statement *total = by_conversation(s, CASS_COUNTER_GET, q->conversation_id);
  if (list_first) cass_execute(s, buckets, on_first_buckets, op);
  cass_execute(s, exists, on_exists, op);
  cass_execute(s, total, on_total, op);
}

/* ---- conversations of a user ----------------------------------------------------------------
 *
 * 1. Every page of the user's conversations_by_user partition (ids only), sorted and sliced here.
 * 2. For each item of the slice, in parallel, its `conversations` row (token-aware, one partition
 *    each): the content of the last message. When that row names another last message than the
 *    user's row (a send's logged batch is still being applied), the exact message is read from
 *    messages_by_conversation so that id and content always belong together. */

typedef struct conv_list_op conv_list_op;

typedef struct conv_item_read {
  conv_list_op *op;
  size_t i;
} conv_item_read;

struct conv_list_op {
  cass_store *s;
  conversation_query q;
  store_conversation_page_cb cb;
  void *arg;
  cql_resultset **pages; /* every page of the partition, until the slice is cut */
  size_t n_pages, cap_pages;
  /* the page */
  int64_t total;
  bool has_more;
  size_t count;
  conversation items[PAGE_LIMIT_MAX];
  char *contents[PAGE_LIMIT_MAX];
  conv_item_read reads[PAGE_LIMIT_MAX];
  conv_item_read state_reads[PAGE_LIMIT_MAX];
  atomic_size_t pending; /* two reads per item: the conversation, the read state */
  atomic_int error_code; /* of the first failed read, 0 when none */
};

static void conv_list_finish(conv_list_op *op, store_status status, const char *detail) {
  cass_store *s = op->s;
  if (status == STORE_OK) {
    conversation_page page = {
        .total = op->total, .count = op->count, .items = op->items, .has_more = op->has_more};
    op->cb(op->arg, STORE_OK, NULL, &page);
  } else {
    op->cb(op->arg, status, detail, NULL);
  }
  for (size_t i = 0; i < op->n_pages; i++) cql_resultset_free(op->pages[i]);
  for (size_t i = 0; i < op->count; i++) free(op->contents[i]);
  free(op->pages);
  free(op);
  cass_op_end(s);
}

/* Reads one row of conversations_by_user; false when it is malformed. */
static bool read_user_row(const cql_resultset *r, const cql_row *row, int64_t user, conversation *c) {
  int64_t other = 0;
  *c = (conversation){.last_message_content = ""};
  if (!cass_row_int64(r, row, "conversation_id", &c->id) ||
      !cass_row_int64(r, row, "other_user_id", &other) ||
      !cass_row_int64(r, row, "last_message_id", &c->last_message_id))
    return false;
  c->user1_id = user < other ? user : other;
  c->user2_id = user < other ? other : user;
  c->last_message_at_us = id_created_at_us(c->last_message_id);
  return true;
}

/* Records the first failure of an item read. */
static void conv_item_failed(conv_list_op *op, int32_t code) {
  int none = 0;
  atomic_compare_exchange_strong(&op->error_code, &none, code);
}

/* One item read arrived (err set on failure); the last one answers. */
static void conv_item_done(conv_list_op *op, const char *what, const cql_error *err) {
  if (err) {
    cass_log_error(what, err);
    conv_item_failed(op, err->code);
  }
  if (atomic_fetch_sub(&op->pending, 1) != 1) return;
  int code = atomic_load(&op->error_code);
  if (code)
    conv_list_finish(op, STORE_UNAVAILABLE, cass_error_detail(code));
  else
    conv_list_finish(op, STORE_OK, NULL);
}

/* Replaces item i's content with the text column `name` of r's first row, when there is one;
 * false on OOM or a malformed cell. */
static bool take_content(conv_list_op *op, size_t i, const cql_resultset *r, const char *name) {
  const cql_row *row = cql_resultset_row(r, 0);
  if (!row) return true;
  size_t len = 0;
  char *text = copy_text(r, row, name, &len);
  if (!text) return false;
  free(op->contents[i]);
  op->contents[i] = text;
  op->items[i].last_message_content = text;
  op->items[i].last_message_content_len = len;
  return true;
}

static void on_item_message(cql_resultset *r, const cql_error *err, void *ud) {
  conv_item_read *rd = ud;
  conv_list_op *op = rd->op;
  bool ok = err || take_content(op, rd->i, r, "content");
  cql_resultset_free(r);
  if (!ok) {
    fprintf(stderr, "messenger: cassandra: malformed message row\n");
    conv_item_failed(op, CQL_ERR_PROTOCOL_VIOLATION); /* "Database error" */
  }
  conv_item_done(op, "last message read", err);
}

static void on_item_conversation(cql_resultset *r, const cql_error *err, void *ud) {
  conv_item_read *rd = ud;
  conv_list_op *op = rd->op;
  conversation *c = &op->items[rd->i];
  int64_t last = 0;
  bool ok = err || take_content(op, rd->i, r, "last_message_content");
  bool same = !err && cass_row_int64(r, cql_resultset_row(r, 0), "last_message_id", &last) &&
              last == c->last_message_id;
  cql_resultset_free(r);
  if (!ok) {
    fprintf(stderr, "messenger: cassandra: malformed conversations row\n");
    conv_item_failed(op, CQL_ERR_PROTOCOL_VIOLATION); /* "Database error" */
  }
  if (err || !ok || same || !id_is_valid(c->last_message_id)) {
    conv_item_done(op, "conversation read", err);
    return;
  }
  /* The rows disagree for a moment: read the very message the user's row names. */
  cql_statement *st = cass_statement(op->s, CASS_MSG_GET, 3);
  if (st) {
    cql_statement_bind_int64(st, 0, c->id);
    cql_statement_bind_int32(st, 1, cass_bucket_of_id(c->last_message_id));
    cql_statement_bind_int64(st, 2, c->last_message_id);
  }
  cass_execute(op->s, st, on_item_message, rd);
}

/* A page of the item's read_state partition: the mark (static, on every row) and one row per
 * unread message (message_id not null); more pages follow for many unread messages. */
static void on_item_read_state(cql_resultset *r, const cql_error *err, void *ud) {
  conv_item_read *rd = ud;
  conv_list_op *op = rd->op;
  conversation *c = &op->items[rd->i];
  const cql_row *row;
  int col = err ? -1 : cql_resultset_column_index(r, "message_id");
  for (size_t j = 0; col >= 0 && (row = cql_resultset_row(r, j)); j++) {
    if (!cql_row_is_null(row, (size_t)col)) c->unread_count++;
    if (j == 0) cass_row_int64(r, row, "last_read_message_id", &c->last_read_message_id);
  }
  bool more = !err && cql_resultset_has_more_pages(r);
  if (more && !cql_client_next_page(op->s->client, r, on_item_read_state, rd)) {
    conv_item_failed(op, CQL_ERR_CLIENT_CLOSED);
    more = false;
  }
  cql_resultset_free(r);
  if (!more) conv_item_done(op, "read state read", err);
}

/* Every page is in: sort, cut the requested slice, read its items' last messages and read state. */
static void conv_list_answer(conv_list_op *op) {
  size_t rows = 0;
  for (size_t i = 0; i < op->n_pages; i++) rows += cql_resultset_row_count(op->pages[i]);
  conversation *all = rows ? calloc(rows, sizeof *all) : NULL;
  if (rows && !all) {
    conv_list_finish(op, STORE_UNAVAILABLE, "Out of memory");
    return;
  }
  size_t n = 0;
  for (size_t i = 0; i < op->n_pages; i++) {
    const cql_row *row;
    for (size_t j = 0; n < rows && (row = cql_resultset_row(op->pages[i], j)); j++)
      if (read_user_row(op->pages[i], row, op->q.user_id, &all[n])) n++;
  }
  if (n != rows)
    fprintf(stderr, "messenger: cassandra: %zu malformed conversations_by_user rows\n", rows - n);
  for (size_t i = 0; i < op->n_pages; i++) cql_resultset_free(op->pages[i]); /* rows hold no strings */
  op->n_pages = 0;
  cass_sort_conversations(all, n);
  cass_slice slice = cass_conversation_slice(all, n, &op->q.page);
  op->total = (int64_t)n;
  op->has_more = slice.has_more;
  op->count = slice.count;
  if (slice.count && all) memcpy(op->items, all + slice.start, slice.count * sizeof *all);
  free(all);
  size_t count = op->count;
  if (!count) {
    conv_list_finish(op, STORE_OK, NULL);
    return;
  }
  /* Nothing of op is touched after the last submission: its callback may finish op. */
  atomic_init(&op->pending, 2 * count);
  cass_store *s = op->s;
  int64_t user = op->q.user_id;
  for (size_t i = 0; i < count; i++) {
    op->reads[i] = (conv_item_read){.op = op, .i = i};
    op->state_reads[i] = (conv_item_read){.op = op, .i = i};
    op->items[i].last_read_message_id = 0;
    op->items[i].unread_count = 0;
  }
  for (size_t i = 0; i < count; i++) {
    int64_t id = op->items[i].id;
    conv_item_read *rd = &op->reads[i], *state = &op->state_reads[i];
    cass_execute(s, by_conversation(s, CASS_CONV_GET, id), on_item_conversation, rd);
    cass_execute(s, cass_by_user_conversation(s, CASS_READ_STATE_GET, user, id), on_item_read_state, state);
  }
}

static void on_user_page(cql_resultset *r, const cql_error *err, void *ud) {
  conv_list_op *op = ud;
  if (err) {
    cass_log_error("conversations of a user", err);
    conv_list_finish(op, STORE_UNAVAILABLE, cass_error_detail(err->code));
    return;
  }
  if (op->n_pages == op->cap_pages) {
    size_t cap = op->cap_pages ? op->cap_pages * 2 : 4;
    cql_resultset **pages = realloc(op->pages, cap * sizeof *pages);
    if (!pages) {
      cql_resultset_free(r);
      conv_list_finish(op, STORE_UNAVAILABLE, "Out of memory");
      return;
    }
    op->pages = pages;
    op->cap_pages = cap;
  }
  op->pages[op->n_pages++] = r;
  if (!cql_resultset_has_more_pages(r)) {
    conv_list_answer(op);
    return;
  }
  if (!cql_client_next_page(op->s->client, r, on_user_page, op)) {
    conv_list_finish(op, STORE_UNAVAILABLE, cass_error_detail(CQL_ERR_CLIENT_CLOSED));
  }
}

void cass_list_conversations(store *base, const conversation_query *q, store_conversation_page_cb cb,
                             void *arg) {
  cass_store *s = (cass_store *)base;
  if (!page_request_is_valid(&q->page, CURSOR_CONVERSATIONS)) {
    cb(arg, STORE_UNAVAILABLE, "Invalid page request", NULL);
    return;
  }
  conv_list_op *op = calloc(1, sizeof *op);
  if (!op) {
    cb(arg, STORE_UNAVAILABLE, "Out of memory", NULL);
    return;
  }
  op->s = s;
  op->q = *q;
  op->cb = cb;
  op->arg = arg;
  atomic_init(&op->error_code, 0);
  cass_op_begin(s);
  cql_statement *st = cass_statement(s, CASS_USER_CONVS, 1);
  if (st) cql_statement_bind_int64(st, 0, q->user_id);
  cass_execute(s, st, on_user_page, op);
}

/* ---- one conversation ----------------------------------------------------------------------- */

typedef struct get_op {
  cass_store *s;
  store_conversation_cb cb;
  void *arg;
} get_op;

static void on_conversation(cql_resultset *r, const cql_error *err, void *ud) {
  get_op *op = ud;
  cass_store *s = op->s;
  if (err) {
    cass_log_error("conversation read", err);
    op->cb(op->arg, STORE_UNAVAILABLE, cass_error_detail(err->code), NULL);
  } else {
    const cql_row *row = cql_resultset_row(r, 0);
    conversation c = {0};
    int col = cql_resultset_column_index(r, "last_message_content");
    const char *text = "";
    size_t len = 0;
    if (!row) {
      op->cb(op->arg, STORE_NOT_FOUND, "Conversation not found", NULL);
    } else if (!cass_row_int64(r, row, "conversation_id", &c.id) ||
               !cass_row_int64(r, row, "user1_id", &c.user1_id) ||
               !cass_row_int64(r, row, "user2_id", &c.user2_id) ||
               !cass_row_int64(r, row, "last_message_id", &c.last_message_id) || col < 0 ||
               cql_row_get_text(row, (size_t)col, &text, &len) != CQL_GET_OK) {
      fprintf(stderr, "messenger: cassandra: malformed conversations row\n");
      op->cb(op->arg, STORE_UNAVAILABLE, "Database error", NULL);
    } else {
      c.last_message_at_us = id_created_at_us(c.last_message_id);
      c.last_message_content = text;
      c.last_message_content_len = len;
      op->cb(op->arg, STORE_OK, NULL, &c);
    }
  }
  cql_resultset_free(r);
  free(op);
  cass_op_end(s);
}

void cass_get_conversation(store *base, int64_t conversation_id, store_conversation_cb cb, void *arg) {
  cass_store *s = (cass_store *)base;
  get_op *op = malloc(sizeof *op);
  if (!op) {
    cb(arg, STORE_UNAVAILABLE, "Out of memory", NULL);
    return;
  }
  *op = (get_op){.s = s, .cb = cb, .arg = arg};
  cass_op_begin(s);
  cass_execute(s, by_conversation(s, CASS_CONV_GET, conversation_id), on_conversation, op);
}

/* ---- ping ----------------------------------------------------------------------------------- */

typedef struct ping_op {
  cass_store *s;
  store_ping_cb cb;
  void *arg;
} ping_op;

static void on_ping(cql_resultset *r, const cql_error *err, void *ud) {
  ping_op *op = ud;
  cass_store *s = op->s;
  cql_resultset_free(r);
  if (err) {
    cass_log_error("ping", err);
    op->cb(op->arg, STORE_UNAVAILABLE, cass_error_detail(err->code));
  } else {
    op->cb(op->arg, STORE_OK, NULL);
  }
  free(op);
  cass_op_end(s);
}

void cass_ping(store *base, store_ping_cb cb, void *arg) {
  cass_store *s = (cass_store *)base;
  if (s->lease && !cass_lease_valid(s->lease)) {
    cb(arg, STORE_UNAVAILABLE, "Message ids are not available (node lease lost)");
    return;
  }
  ping_op *op = malloc(sizeof *op);
  if (!op) {
    cb(arg, STORE_UNAVAILABLE, "Out of memory");
    return;
  }
  *op = (ping_op){.s = s, .cb = cb, .arg = arg};
  cass_op_begin(s);
  cass_execute(s, cass_statement(s, CASS_PING, 0), on_ping, op);
}
