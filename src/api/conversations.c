/* Handlers of /api/conversations: a user's conversations, one conversation, and read marks. */
#include <stdlib.h>

#include "api/access.h"
#include "api/api.h"
#include "api/handlers.h"
#include "api/params.h"
#include "api/respond.h"

typedef struct conversations_call {
  http_exchange *ex;
  conversation_query query;
} conversations_call;

static void on_conversations(void *arg, store_status status, const char *detail,
                             const conversation_page *page) {
  conversations_call *call = arg;
  if (status != STORE_OK) {
    respond_store_error(call->ex, status, detail);
    free(call);
    return;
  }
  cursor next = {.kind = CURSOR_CONVERSATIONS};
  if (page->count) {
    next.message_id = page->items[page->count - 1].last_message_id;
    next.conversation_id = page->items[page->count - 1].id;
  }
  respond_page(call->ex, page->total, &call->query.page, page->items, page->count,
               write_user_conversation_item, page->has_more, &next);
  free(call);
}

void api_list_user_conversations(http_exchange *ex, void *app) {
  api *a = app;
  int64_t caller;
  if (!api_authenticate(ex, a, false, &caller)) return;
  validation_errors v;
  validation_init(&v);
  conversation_query q = {0};
  param_path_id(ex, 0, "user_id", &v, &q.user_id);
  param_page(ex, CURSOR_CONVERSATIONS, &v, &q.page);
  if (validation_failed(&v)) {
    validation_respond(&v, ex);
    return;
  }
  validation_free(&v);
  if (!api_require_self(ex, caller, q.user_id)) return;
  conversations_call *call = malloc(sizeof *call);
  if (!call) {
    respond_detail(ex, 503, "Out of memory");
    return;
  }
  *call = (conversations_call){.ex = ex, .query = q};
  store_list_conversations(a->store, &call->query, on_conversations, call);
}

typedef struct conversation_call {
  http_exchange *ex;
  int64_t caller; /* 0 = auth off */
} conversation_call;

static void on_conversation(void *arg, store_status status, const char *detail, const conversation *c) {
  conversation_call *call = arg;
  if (status == STORE_OK && !api_is_participant(call->caller, c->user1_id, c->user2_id))
    status = STORE_NOT_FOUND; /* answered exactly like a conversation that does not exist */
  if (status != STORE_OK)
    respond_store_error(call->ex, status, detail);
  else
    respond_conversation(call->ex, c);
  free(call);
}

void api_get_conversation(http_exchange *ex, void *app) {
  api *a = app;
  int64_t caller;
  if (!api_authenticate(ex, a, false, &caller)) return;
  validation_errors v;
  validation_init(&v);
  int64_t id;
  if (!param_path_id(ex, 0, "conversation_id", &v, &id)) {
    validation_respond(&v, ex);
    return;
  }
  validation_free(&v);
  conversation_call *call = malloc(sizeof *call);
  if (!call) {
    respond_detail(ex, 503, "Out of memory");
    return;
  }
  *call = (conversation_call){.ex = ex, .caller = caller};
  store_get_conversation(a->store, id, on_conversation, call);
}

/* ---- POST /api/conversations/{id}/read ---- */

typedef struct read_call {
  http_exchange *ex;
  api *api;
  read_mark_request req;
} read_call;

static void on_marked(void *arg, store_status status, const char *detail, const read_mark *mark) {
  read_call *call = arg;
  http_exchange *ex = call->ex;
  if (status == STORE_OK) {
    api_read_observer observer = call->api->on_read;
    if (observer) observer(call->api->on_read_ctx, mark); /* durable now: events may announce it */
    respond_json(ex, 200,
                 json_pack("{s:I,s:I,s:I}", "conversation_id", (json_int_t)mark->conversation_id, "user_id",
                           (json_int_t)mark->user_id, "last_read_message_id",
                           (json_int_t)mark->last_read_message_id));
  } else if (status == STORE_INVALID) {
    validation_errors v;
    validation_init(&v);
    validation_add(&v, "body", "message_id", "value_error",
                   "Value error, message_id is not a message of this conversation");
    validation_respond(&v, ex);
  } else {
    respond_store_error(ex, status, detail);
  }
  free(call);
}

void api_mark_read(http_exchange *ex, void *app) {
  api *a = app;
  int64_t caller;
  if (!api_authenticate(ex, a, false, &caller)) return;
  validation_errors v;
  validation_init(&v);
  read_mark_request req = {0};
  size_t len;
  const char *text = http_body(ex, &len);
  param_path_id(ex, 0, "conversation_id", &v, &req.conversation_id);
  api_parse_read_body(text, len, caller, &v, &req);
  if (validation_failed(&v)) {
    validation_respond(&v, ex);
    return;
  }
  validation_free(&v);
  /* acting as oneself; a conversation the caller is not in is the store's 404 */
  if (!api_require_self(ex, caller, req.user_id)) return;
  read_call *call = malloc(sizeof *call);
  if (!call) {
    respond_detail(ex, 503, "Out of memory");
    return;
  }
  *call = (read_call){.ex = ex, .api = a, .req = req};
  store_mark_read(a->store, &call->req, on_marked, call);
}
