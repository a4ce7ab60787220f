/* store: the one asynchronous storage interface, in domain terms.
 *
 * A store is a vtable plus its own state. Every operation takes a completion callback and
 * calls it exactly once: possibly before the operation returns (SQLite reads run inline on
 * the calling thread), possibly later on a thread of the store's own (the SQLite writer, the
 * CQL I/O thread). Callers must therefore never hold a lock across a call that their callback
 * takes too, and never block waiting for a callback on an HTTP worker.
 *
 * Ownership: request structs and the strings they point to are owned by the caller and must
 * stay valid until the callback has been called. Result structs passed to a callback, and
 * every string inside them, are owned by the store and valid only for the duration of the
 * callback: copy what you keep. `detail` strings are safe to show to clients (no SQL/CQL, no
 * other user's data).
 *
 * Timestamps are microseconds since the Unix epoch; ids are 1 .. 2^53-1 (core/ids.h). */
#ifndef MESSENGER_STORE_STORE_H
#define MESSENGER_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cursor.h"

typedef enum store_status {
  STORE_OK = 0,
  STORE_NOT_FOUND,   /* the conversation does not exist (or, for a read mark, the user is not in it) */
  STORE_INVALID,     /* a read mark names a message that is not in the conversation */
  STORE_UNAVAILABLE, /* the store cannot answer now (down, timeout, disk full); nothing half-written */
} store_status;

typedef struct message {
  int64_t id;
  int64_t conversation_id;
  int64_t sender_id;
  int64_t receiver_id;
  int64_t created_at_us; /* == id_created_at_us(id) */
  const char *content;   /* UTF-8, not NUL-terminated necessarily: use content_len */
  size_t content_len;
} message;

typedef struct conversation {
  int64_t id;
  int64_t user1_id; /* user1_id < user2_id */
  int64_t user2_id;
  int64_t last_message_id;
  int64_t last_message_at_us;
  const char *last_message_content;
  size_t last_message_content_len;
  /* Only in a user's conversation list, for that user: */
  int64_t last_read_message_id; /* 0 = no read mark */
  int64_t unread_count;         /* messages sent to the user with an id above the mark */
} conversation;

typedef struct send_request {
  int64_t sender_id;
  int64_t receiver_id;
  const char *content; /* validated UTF-8, 1..4096 code points */
  size_t content_len;
  const char *idempotency_key; /* NULL when absent; else validated, NUL-terminated */
  int64_t sent_at_ms;          /* 0 = now; the seed command passes past times (in order) */
} send_request;

typedef struct send_result {
  message message;
  bool replayed; /* true when an earlier send with the same sender and idempotency key is returned */
} send_result;

/* Pagination shared by both list queries. Exactly one of page / cursor is used: when
 * has_cursor is set the page starts strictly after the cursor and `page` is ignored;
 * otherwise it holds positions (page-1)*limit .. page*limit-1 of the list. */
typedef struct page_request {
  int64_t page; /* >= 1 */
  int limit;    /* 1 .. PAGE_LIMIT_MAX */
  bool has_cursor;
  cursor cursor; /* of the list's kind */
} page_request;

typedef struct message_query {
  int64_t conversation_id;
  bool has_before; /* only messages with created_at < before_us */
  int64_t before_us;
  page_request page;
} message_query;

typedef struct message_page {
  int64_t total; /* messages in the conversation (not only those before before_us) */
  size_t count;
  const message *items; /* newest first */
  bool has_more;        /* more messages follow this page: next_cursor = last item's id */
} message_page;

typedef struct conversation_query {
  int64_t user_id;
  page_request page;
} conversation_query;

typedef struct conversation_page {
  int64_t total; /* conversations the user is in */
  size_t count;
  const conversation *items; /* most recent activity first; ties by larger id first */
  bool has_more;             /* next_cursor = (last item's last_message_id, id) */
} conversation_page;

/* A read mark: `user_id` has read `conversation_id` up to message `message_id`. */
typedef struct read_mark_request {
  int64_t conversation_id;
  int64_t user_id;
  int64_t message_id;
} read_mark_request;

typedef struct read_mark {
  int64_t conversation_id;
  int64_t user_id;
  int64_t other_user_id;        /* the conversation's other participant (who also sees receipts) */
  int64_t last_read_message_id; /* the mark after the request (never below an earlier mark) */
  bool advanced;                /* this request moved the mark (false: it was already there or beyond) */
} read_mark;

/* Contract checks shared by the implementations: the API validates first, so a request that
 * fails these is a caller bug, answered with STORE_UNAVAILABLE. */
bool send_request_is_valid(const send_request *req);
bool page_request_is_valid(const page_request *p, cursor_kind kind);
bool read_mark_request_is_valid(const read_mark_request *req);

typedef void (*store_send_cb)(void *arg, store_status status, const char *detail, const send_result *result);
typedef void (*store_message_page_cb)(void *arg, store_status status, const char *detail,
                                      const message_page *page);
typedef void (*store_conversation_page_cb)(void *arg, store_status status, const char *detail,
                                           const conversation_page *page);
typedef void (*store_conversation_cb)(void *arg, store_status status, const char *detail,
                                      const conversation *conversation);
typedef void (*store_read_mark_cb)(void *arg, store_status status, const char *detail, const read_mark *mark);
typedef void (*store_ping_cb)(void *arg, store_status status, const char *detail);

typedef struct store store;

typedef struct store_vtable {
  const char *backend; /* "sqlite" | "cassandra": shown by GET / */
  /* Stores a message, creating the pair's conversation on first use (one per pair, race-free).
   * Acknowledges only once the message is durable. */
  void (*send_message)(store *s, const send_request *req, store_send_cb cb, void *arg);
  /* A page of a conversation's messages, newest first. STORE_NOT_FOUND if it does not exist. */
  void (*list_messages)(store *s, const message_query *q, store_message_page_cb cb, void *arg);
  /* A page of a user's conversations; a user with none gets total 0 and no items. */
  void (*list_conversations)(store *s, const conversation_query *q, store_conversation_page_cb cb, void *arg);
  /* One conversation; STORE_NOT_FOUND if it does not exist. */
  void (*get_conversation)(store *s, int64_t conversation_id, store_conversation_cb cb, void *arg);
  /* Moves the user's read mark forward to req->message_id (monotonic: an older message leaves it
   * and returns the current one). STORE_NOT_FOUND when the conversation does not exist or the
   * user is not in it, STORE_INVALID when the message is not in the conversation. Acknowledges
   * only once the mark is durable. */
  void (*mark_read)(store *s, const read_mark_request *req, store_read_mark_cb cb, void *arg);
  /* Readiness: STORE_OK when the store can serve reads and writes. */
  void (*ping)(store *s, store_ping_cb cb, void *arg);
  /* Optional (NULL: nothing to share). Ends the read snapshot the calling thread's reads share,
   * and lets them share one from now on: a thread that calls this before every wait (an event
   * loop, before it polls) may have its reads run in one snapshot, which never leaves out a
   * write acknowledged before the read began. */
  void (*end_read_snapshot)(store *s);
  /* Finishes every accepted operation (their callbacks run), makes writes durable, frees
   * everything. No other call may be in progress or follow. */
  void (*close)(store *s);
} store_vtable;

struct store {
  const store_vtable *vt;
};

static inline void store_send_message(store *s, const send_request *r, store_send_cb cb, void *a) {
  s->vt->send_message(s, r, cb, a);
}
static inline void store_list_messages(store *s, const message_query *q, store_message_page_cb cb, void *a) {
  s->vt->list_messages(s, q, cb, a);
}
static inline void store_list_conversations(store *s, const conversation_query *q,
                                            store_conversation_page_cb cb, void *a) {
  s->vt->list_conversations(s, q, cb, a);
}
static inline void store_get_conversation(store *s, int64_t id, store_conversation_cb cb, void *a) {
  s->vt->get_conversation(s, id, cb, a);
}
static inline void store_mark_read(store *s, const read_mark_request *r, store_read_mark_cb cb, void *a) {
  s->vt->mark_read(s, r, cb, a);
}
static inline void store_ping(store *s, store_ping_cb cb, void *a) { s->vt->ping(s, cb, a); }
static inline void store_end_read_snapshot(store *s) {
  if (s->vt->end_read_snapshot) s->vt->end_read_snapshot(s);
}
static inline void store_close(store *s) { s->vt->close(s); }
static inline const char *store_backend(const store *s) { return s->vt->backend; }

#endif
