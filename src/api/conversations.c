/* Handlers of /api/conversations: a user's conversations, and one conversation. */
#include <stdlib.h>

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
  respond_page(call->ex, page->total, &call->query.page, page->items, page->count, write_conversation_item,
               page->has_more, &next);
  free(call);
}

void api_list_user_conversations(http_exchange *ex, void *app) {
  api *a = app;
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
  conversations_call *call = malloc(sizeof *call);
  if (!call) {
    respond_detail(ex, 503, "Out of memory");
    return;
  }
  *call = (conversations_call){.ex = ex, .query = q};
  store_list_conversations(a->store, &call->query, on_conversations, call);
}

static void on_conversation(void *arg, store_status status, const char *detail, const conversation *c) {
  http_exchange *ex = arg;
  if (status != STORE_OK)
    respond_store_error(ex, status, detail);
  else
    respond_conversation(ex, c);
}

void api_get_conversation(http_exchange *ex, void *app) {
  api *a = app;
  validation_errors v;
  validation_init(&v);
  int64_t id;
  if (!param_path_id(ex, 0, "conversation_id", &v, &id)) {
    validation_respond(&v, ex);
    return;
  }
  validation_free(&v);
  store_get_conversation(a->store, id, on_conversation, ex);
}
