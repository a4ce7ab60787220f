#include "store/sqlite/sqlite_reads.h"

#include "core/ids.h"
#include "core/validate.h"
#include "store/sqlite/sqlite_db.h"

enum {
  R_MSG_TOTAL,
  R_SEQ_BELOW,
  R_MSG_RANGE,
  R_CONV_GET,
  R_USER_TOTAL,
  R_USER_PAGE,
  R_USER_AFTER,
  R_PING,
  R_COUNT
};

#define CONVERSATION_COLUMNS "c.id, c.user1_id, c.user2_id, c.last_message_id, c.last_message_content"
#define USER_CONVERSATIONS                                                                                   \
  " FROM user_conversations u CROSS JOIN conversations c ON c.id = u.conversation_id WHERE u.user_id = ?1"
#define READ_STATE_COLUMNS ", u.last_read_message_id, u.unread_count" /* columns 5, 6 */
#define RECENCY_ORDER      " ORDER BY u.last_message_id DESC, u.conversation_id DESC"

static const char *const READ_SQL[R_COUNT] = {
    [R_MSG_TOTAL] = "SELECT message_count FROM conversations WHERE id = ?1",
    [R_SEQ_BELOW] =
        "SELECT seq FROM messages WHERE conversation_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT 1",
    [R_MSG_RANGE] = "SELECT id, sender_id, receiver_id, content FROM messages"
                    " WHERE conversation_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq DESC",
    [R_CONV_GET] = "SELECT " CONVERSATION_COLUMNS " FROM conversations c WHERE c.id = ?1",
    [R_USER_TOTAL] = "SELECT conversation_count FROM user_stats WHERE user_id = ?1",
    [R_USER_PAGE] = "SELECT " CONVERSATION_COLUMNS READ_STATE_COLUMNS USER_CONVERSATIONS RECENCY_ORDER
                    " LIMIT ?2 OFFSET ?3",
    [R_USER_AFTER] = "SELECT " CONVERSATION_COLUMNS READ_STATE_COLUMNS USER_CONVERSATIONS
                     " AND (u.last_message_id, u.conversation_id) < (?2, ?3)" RECENCY_ORDER " LIMIT ?4",
    [R_PING] = "SELECT 1 FROM conversations LIMIT 1",
};

int sqlite_reads_create(const char *path, const _Atomic uint64_t *commits, sqlite_readers **out, char *err,
                        size_t err_size) {
  return sqlite_readers_create(path, READ_SQL, R_COUNT, commits, out, err, err_size);
}

/* One read call: the thread's reader and the text buffer results point into. */
typedef struct read_call {
  sqlite_reader *rd;
  sqlite_text_buf *text;
  sqlite_text_buf spare;
} read_call;

/* Starts a call with its read transaction. Returns SQLITE_OK or an error (nothing to undo). */
static int call_begin(sqlite_readers *r, read_call *c) {
  *c = (read_call){.rd = sqlite_readers_get(r)};
  if (!c->rd) return SQLITE_CANTOPEN;
  int rc = sqlite_reader_begin(r, c->rd);
  if (rc != SQLITE_DONE) return rc;
  c->text = sqlite_reader_take_text(c->rd, &c->spare);
  return SQLITE_OK;
}

/* Ends the call's use of the read transaction (before any callback, so a callback may read
 * again). */
static int call_commit(read_call *c, int rc) { return sqlite_reader_end(c->rd, rc); }

static void call_end(read_call *c) { sqlite_reader_release_text(c->rd, c->text); }

static const char *text_at(const sqlite_text_buf *buf, size_t offset, size_t len) {
  return len && buf ? buf->data + offset : "";
}

/* Copies a text column into the call's buffer; its pointer is fixed once all rows are in. */
static int copy_text(read_call *c, sqlite3_stmt *st, int col, size_t *offset, size_t *len) {
  const void *bytes = sqlite3_column_blob(st, col);
  *len = (size_t)sqlite3_column_bytes(st, col);
  return sqlite_text_append(c->text, bytes, *len, offset) ? SQLITE_OK : SQLITE_NOMEM;
}

/* A one-row integer query with up to two int64 parameters: SQLITE_ROW (*value set), SQLITE_DONE, or an error.
 */
static int query_int(sqlite3_stmt *st, int64_t p1, int64_t p2, int64_t *value) {
  sqlite3_bind_int64(st, 1, p1);
  if (sqlite3_bind_parameter_count(st) > 1) sqlite3_bind_int64(st, 2, p2);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *value = sqlite3_column_int64(st, 0);
  sqlite_db_reset(st);
  return rc;
}

/* Rows to skip for a page number, saturating instead of overflowing. */
static int64_t page_offset(const page_request *p) {
  if (p->has_cursor) return 0;
  return p->page - 1 > INT64_MAX / p->limit ? INT64_MAX : (p->page - 1) * p->limit;
}

/* Messages are numbered seq = 1..total in id order. The page starts `offset` below the top
 * seq: the total, or the last seq below the cursor / the before bound. */
static int read_messages(read_call *c, const message_query *q, message *items, size_t *offsets,
                         message_page *page, bool *found) {
  int rc = query_int(c->rd->st[R_MSG_TOTAL], q->conversation_id, 0, &page->total);
  if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? SQLITE_OK : rc;
  *found = true;
  int64_t top = page->total;
  if (q->page.has_cursor || q->has_before) {
    int64_t bound = q->page.has_cursor ? q->page.cursor.message_id : ID_MAX + 1;
    if (q->has_before) {
      int64_t floor = id_floor_for_time_us(q->before_us);
      if (floor < bound) bound = floor;
    }
    top = 0;
    rc = query_int(c->rd->st[R_SEQ_BELOW], q->conversation_id, bound, &top);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rc;
  }
  int64_t offset = page_offset(&q->page);
  if (offset >= top) return SQLITE_OK;
  int64_t high = top - offset;
  int64_t low = high - q->page.limit + 1 > 1 ? high - q->page.limit + 1 : 1;
  sqlite3_stmt *st = c->rd->st[R_MSG_RANGE];
  sqlite3_bind_int64(st, 1, q->conversation_id);
  sqlite3_bind_int64(st, 2, low);
  sqlite3_bind_int64(st, 3, high);
  size_t n = 0;
  while (n < (size_t)q->page.limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    message *m = &items[n];
    m->id = sqlite3_column_int64(st, 0);
    m->conversation_id = q->conversation_id;
    m->sender_id = sqlite3_column_int64(st, 1);
    m->receiver_id = sqlite3_column_int64(st, 2);
    m->created_at_us = id_created_at_us(m->id);
    int copied = copy_text(c, st, 3, &offsets[n], &m->content_len);
    if (copied != SQLITE_OK) {
      rc = copied;
      break;
    }
    n++;
  }
  sqlite_db_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rc;
  for (size_t i = 0; i < n; i++) items[i].content = text_at(c->text, offsets[i], items[i].content_len);
  page->count = n;
  page->has_more = low > 1;
  return SQLITE_OK;
}

void sqlite_reads_list_messages(sqlite_readers *r, const message_query *q, store_message_page_cb cb,
                                void *arg) {
  if (!page_request_is_valid(&q->page, CURSOR_MESSAGES)) {
    cb(arg, STORE_UNAVAILABLE, "Invalid page request", NULL);
    return;
  }
  read_call c;
  int rc = call_begin(r, &c);
  if (rc != SQLITE_OK) {
    cb(arg, STORE_UNAVAILABLE, sqlite_db_error_detail(rc), NULL);
    return;
  }
  message items[PAGE_LIMIT_MAX];
  size_t offsets[PAGE_LIMIT_MAX];
  message_page page = {.items = items};
  bool found = false;
  rc = call_commit(&c, read_messages(&c, q, items, offsets, &page, &found));
  if (rc != SQLITE_OK)
    cb(arg, STORE_UNAVAILABLE, sqlite_db_error_detail(rc), NULL);
  else if (!found)
    cb(arg, STORE_NOT_FOUND, "Conversation not found", NULL);
  else
    cb(arg, STORE_OK, NULL, &page);
  call_end(&c);
}

/* Reads the conversation columns of the current row; content is fixed up by the caller. */
static int read_conversation_row(read_call *c, sqlite3_stmt *st, conversation *conv, size_t *offset) {
  conv->id = sqlite3_column_int64(st, 0);
  conv->user1_id = sqlite3_column_int64(st, 1);
  conv->user2_id = sqlite3_column_int64(st, 2);
  conv->last_message_id = sqlite3_column_int64(st, 3);
  conv->last_message_at_us = id_created_at_us(conv->last_message_id);
  return copy_text(c, st, 4, offset, &conv->last_message_content_len);
}

static int read_conversations(read_call *c, const conversation_query *q, conversation *items, size_t *offsets,
                              conversation_page *page) {
  int rc = query_int(c->rd->st[R_USER_TOTAL], q->user_id, 0, &page->total);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rc;
  size_t fetch = (size_t)q->page.limit + 1; /* one more tells whether more follow */
  sqlite3_stmt *st;
  if (q->page.has_cursor) {
    st = c->rd->st[R_USER_AFTER];
    sqlite3_bind_int64(st, 2, q->page.cursor.message_id);
    sqlite3_bind_int64(st, 3, q->page.cursor.conversation_id);
    sqlite3_bind_int64(st, 4, (int64_t)fetch);
  } else {
    st = c->rd->st[R_USER_PAGE];
    sqlite3_bind_int64(st, 2, (int64_t)fetch);
    sqlite3_bind_int64(st, 3, page_offset(&q->page));
  }
  sqlite3_bind_int64(st, 1, q->user_id);
  size_t n = 0;
  while (n < fetch && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    int copied = read_conversation_row(c, st, &items[n], &offsets[n]);
    if (copied != SQLITE_OK) {
      rc = copied;
      break;
    }
    items[n].last_read_message_id = sqlite3_column_int64(st, 5);
    items[n].unread_count = sqlite3_column_int64(st, 6);
    n++;
  }
  sqlite_db_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rc;
  page->has_more = n == fetch;
  page->count = page->has_more ? n - 1 : n;
  for (size_t i = 0; i < page->count; i++)
    items[i].last_message_content = text_at(c->text, offsets[i], items[i].last_message_content_len);
  return SQLITE_OK;
}

void sqlite_reads_list_conversations(sqlite_readers *r, const conversation_query *q,
                                     store_conversation_page_cb cb, void *arg) {
  if (!page_request_is_valid(&q->page, CURSOR_CONVERSATIONS)) {
    cb(arg, STORE_UNAVAILABLE, "Invalid page request", NULL);
    return;
  }
  read_call c;
  int rc = call_begin(r, &c);
  if (rc != SQLITE_OK) {
    cb(arg, STORE_UNAVAILABLE, sqlite_db_error_detail(rc), NULL);
    return;
  }
  conversation items[PAGE_LIMIT_MAX + 1];
  size_t offsets[PAGE_LIMIT_MAX + 1];
  conversation_page page = {.items = items};
  rc = call_commit(&c, read_conversations(&c, q, items, offsets, &page));
  if (rc != SQLITE_OK)
    cb(arg, STORE_UNAVAILABLE, sqlite_db_error_detail(rc), NULL);
  else
    cb(arg, STORE_OK, NULL, &page);
  call_end(&c);
}

void sqlite_reads_get_conversation(sqlite_readers *r, int64_t conversation_id, store_conversation_cb cb,
                                   void *arg) {
  read_call c;
  int rc = call_begin(r, &c);
  if (rc != SQLITE_OK) {
    cb(arg, STORE_UNAVAILABLE, sqlite_db_error_detail(rc), NULL);
    return;
  }
  conversation conv = {0};
  size_t offset = 0;
  sqlite3_stmt *st = c.rd->st[R_CONV_GET];
  sqlite3_bind_int64(st, 1, conversation_id);
  rc = sqlite3_step(st);
  bool found = rc == SQLITE_ROW;
  if (found) rc = read_conversation_row(&c, st, &conv, &offset);
  sqlite_db_reset(st);
  rc = call_commit(&c, rc == SQLITE_DONE ? SQLITE_OK : rc);
  if (rc != SQLITE_OK) {
    cb(arg, STORE_UNAVAILABLE, sqlite_db_error_detail(rc), NULL);
  } else if (!found) {
    cb(arg, STORE_NOT_FOUND, "Conversation not found", NULL);
  } else {
    conv.last_message_content = text_at(c.text, offset, conv.last_message_content_len);
    cb(arg, STORE_OK, NULL, &conv);
  }
  call_end(&c);
}

bool sqlite_reads_ping(sqlite_readers *r, const char **detail) {
  sqlite_reader *rd = sqlite_readers_get(r);
  if (!rd) {
    *detail = sqlite_db_error_detail(SQLITE_CANTOPEN);
    return false;
  }
  int rc = sqlite_db_exec(rd->st[R_PING]);
  if (rc == SQLITE_DONE) return true;
  sqlite_db_log_error(rd->db, "ping", rc);
  *detail = sqlite_db_error_detail(rc);
  return false;
}
