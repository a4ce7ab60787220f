#include "store/metered.h"

#include <stdlib.h>

#include "metrics/global.h"

enum {
  OP_SEND,
  OP_LIST_MESSAGES,
  OP_LIST_CONVERSATIONS,
  OP_GET_CONVERSATION,
  OP_MARK_READ,
  OP_PING,
  OP_COUNT
};
static const char *const OP_NAMES[OP_COUNT] = {"send_message",     "list_messages", "list_conversations",
                                               "get_conversation", "mark_read",     "ping"};

typedef struct metered_store {
  store base; /* first: a store * is a metered_store * */
  store_vtable vt;
  store *inner;
  metrics_series *duration[OP_COUNT];
} metered_store;

/* One operation in progress: the caller's callback and when the call started. */
typedef struct timed_call {
  metrics_series *duration;
  uint64_t started_us;
  union {
    store_send_cb send;
    store_message_page_cb messages;
    store_conversation_page_cb conversations;
    store_conversation_cb conversation;
    store_read_mark_cb mark;
    store_ping_cb ping;
  } cb;
  void *arg;
} timed_call;

static metered_store *from_base(store *s) { return (metered_store *)s; }

/* The context of one call (the caller sets its callback), or NULL when out of memory. */
static timed_call *call_start(store *s, int op, void *arg) {
  timed_call *call = malloc(sizeof *call);
  if (call)
    *call = (timed_call){.duration = from_base(s)->duration[op], .started_us = metrics_now_us(), .arg = arg};
  return call;
}

/* Observes the duration, frees the context and returns the caller's argument. */
static void *call_end(timed_call *call) {
  metrics_histogram_observe(call->duration, metrics_now_us() - call->started_us);
  void *arg = call->arg;
  free(call);
  return arg;
}

static void on_sent(void *p, store_status status, const char *detail, const send_result *result) {
  store_send_cb cb = ((timed_call *)p)->cb.send;
  cb(call_end(p), status, detail, result);
}

static void send_message(store *s, const send_request *req, store_send_cb cb, void *arg) {
  timed_call *call = call_start(s, OP_SEND, arg);
  if (!call) {
    cb(arg, STORE_UNAVAILABLE, "Out of memory", NULL);
    return;
  }
  call->cb.send = cb;
  store_send_message(from_base(s)->inner, req, on_sent, call);
}

static void on_messages(void *p, store_status status, const char *detail, const message_page *page) {
  store_message_page_cb cb = ((timed_call *)p)->cb.messages;
  cb(call_end(p), status, detail, page);
}

static void list_messages(store *s, const message_query *q, store_message_page_cb cb, void *arg) {
  timed_call *call = call_start(s, OP_LIST_MESSAGES, arg);
  if (!call) {
    cb(arg, STORE_UNAVAILABLE, "Out of memory", NULL);
    return;
  }
  call->cb.messages = cb;
  store_list_messages(from_base(s)->inner, q, on_messages, call);
}

static void on_conversations(void *p, store_status status, const char *detail,
                             const conversation_page *page) {
  store_conversation_page_cb cb = ((timed_call *)p)->cb.conversations;
  cb(call_end(p), status, detail, page);
}

static void list_conversations(store *s, const conversation_query *q, store_conversation_page_cb cb,
                               void *arg) {
  timed_call *call = call_start(s, OP_LIST_CONVERSATIONS, arg);
  if (!call) {
    cb(arg, STORE_UNAVAILABLE, "Out of memory", NULL);
    return;
  }
  call->cb.conversations = cb;
  store_list_conversations(from_base(s)->inner, q, on_conversations, call);
}

static void on_conversation(void *p, store_status status, const char *detail, const conversation *c) {
  store_conversation_cb cb = ((timed_call *)p)->cb.conversation;
  cb(call_end(p), status, detail, c);
}

static void get_conversation(store *s, int64_t id, store_conversation_cb cb, void *arg) {
  timed_call *call = call_start(s, OP_GET_CONVERSATION, arg);
  if (!call) {
    cb(arg, STORE_UNAVAILABLE, "Out of memory", NULL);
    return;
  }
  call->cb.conversation = cb;
  store_get_conversation(from_base(s)->inner, id, on_conversation, call);
}

static void on_marked(void *p, store_status status, const char *detail, const read_mark *mark) {
  store_read_mark_cb cb = ((timed_call *)p)->cb.mark;
  cb(call_end(p), status, detail, mark);
}

static void mark_read(store *s, const read_mark_request *req, store_read_mark_cb cb, void *arg) {
  timed_call *call = call_start(s, OP_MARK_READ, arg);
  if (!call) {
    cb(arg, STORE_UNAVAILABLE, "Out of memory", NULL);
    return;
  }
  call->cb.mark = cb;
  store_mark_read(from_base(s)->inner, req, on_marked, call);
}

static void on_ping(void *p, store_status status, const char *detail) {
  store_ping_cb cb = ((timed_call *)p)->cb.ping;
  cb(call_end(p), status, detail);
}

static void ping(store *s, store_ping_cb cb, void *arg) {
  timed_call *call = call_start(s, OP_PING, arg);
  if (!call) {
    cb(arg, STORE_UNAVAILABLE, "Out of memory");
    return;
  }
  call->cb.ping = cb;
  store_ping(from_base(s)->inner, on_ping, call);
}

static void end_read_snapshot(store *s) { store_end_read_snapshot(from_base(s)->inner); }

static void close_store(store *s) {
  metered_store *ms = from_base(s);
  store_close(ms->inner); /* every callback runs first */
  free(ms);
}

store *store_metered_wrap(store *inner, metrics_registry *reg) {
  static const char *const labels[] = {"store", "operation"};
  metrics_family *f =
      metrics_histogram_new(reg, "messenger_store_operation_duration_seconds",
                            "Time from a store call to its completion, by store backend and operation.", 2,
                            labels, METRICS_LATENCY_BOUNDS_US, METRICS_LATENCY_BOUND_COUNT, 1e-6);
  metered_store *ms = f ? calloc(1, sizeof *ms) : NULL;
  if (!ms) return inner;
  for (int op = 0; op < OP_COUNT; op++) {
    const char *values[] = {store_backend(inner), OP_NAMES[op]};
    ms->duration[op] = metrics_series_get(f, values);
  }
  ms->vt = (store_vtable){
      .backend = store_backend(inner),
      .send_message = send_message,
      .list_messages = list_messages,
      .list_conversations = list_conversations,
      .get_conversation = get_conversation,
      .mark_read = mark_read,
      .ping = ping,
      .end_read_snapshot = end_read_snapshot,
      .close = close_store,
  };
  ms->base.vt = &ms->vt;
  ms->inner = inner;
  return &ms->base;
}
