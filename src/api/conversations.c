/* Handlers of /api/conversations: a user's conversations, and one conversation. */
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
  respond_page(call->ex, page->total, &call->query.page, page->items, page->count, write_conversation_item,
               page->has_more, &next);
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
