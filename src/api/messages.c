/* Handlers of /api/messages: send, and the two message-page queries. */
#include <stdlib.h>
#include <string.h>

#include "api/access.h"
#include "api/api.h"
#include "api/events.h"
#include "api/handlers.h"
#include "api/params.h"
#include "api/respond.h"
#include "api/send_request.h"
#include "core/ids.h"
#include "core/timestamp.h"
#include "core/validate.h"

/* ---- POST /api/messages/ ---- */

typedef struct send_call {
  http_exchange *ex;
  api *api;
  json_t *body; /* keeps the content string alive until the store answers */
  send_request req;
} send_call;

static void on_sent(void *arg, store_status status, const char *detail, const send_result *result) {
  send_call *call = arg;
  if (status == STORE_OK && !result->replayed) /* durable now; a replayed send was announced the first time */
    api_events_message(call->api, &result->message);
  if (status == STORE_OK)
    respond_message(call->ex, 201, &result->message);
  else
    respond_store_error(call->ex, status, detail);
  json_decref(call->body);
  free(call);
}

/* The send limit's answer: store the message, or (429 already sent) drop the request. */
static void on_admitted(void *arg, bool admitted) {
  send_call *call = arg;
  if (admitted) {
    store_send_message(call->api->store, &call->req, on_sent, call);
    return;
  }
  json_decref(call->body);
  free(call);
}

static bool body_content(json_t *body, validation_errors *v, const char **text, size_t *len) {
  json_t *value = json_object_get(body, "content");
  if (!value) {
    validation_add(v, "body", "content", "missing", "Field required");
    return false;
  }
  if (!json_is_string(value)) {
    validation_add(v, "body", "content", "string_type", "Input should be a valid string");
    return false;
  }
  *text = json_string_value(value);
  *len = json_string_length(value);
  long points = utf8_code_points(*text, *len);
  if (points < 1) {
    validation_add(v, "body", "content", "string_too_short", "String should have at least 1 character");
    return false;
  }
  if (points > CONTENT_MAX_CODE_POINTS) {
    validation_add(v, "body", "content", "string_too_long", "String should have at most 4096 characters");
    return false;
  }
  return true;
}

json_t *api_parse_send_body(const char *text, size_t len, const char *key, validation_errors *v,
                            send_request *req) {
  json_t *body = param_body_object(text, len, v);
  if (!body) return NULL;
  bool ok = param_body_id(body, "sender_id", v, &req->sender_id);
  ok &= param_body_id(body, "receiver_id", v, &req->receiver_id);
  ok &= body_content(body, v, &req->content, &req->content_len);
  if (ok && req->sender_id == req->receiver_id)
    validation_add(v, "body", NULL, "value_error",
                   "Value error, sender_id and receiver_id must be different users");
  if (key && !idempotency_key_is_valid(key, strlen(key)))
    validation_add(v, "header", "idempotency-key", "value_error",
                   "Value error, Idempotency-Key must be 1 to 128 visible ASCII characters");
  req->idempotency_key = key;
  if (validation_failed(v)) {
    json_decref(body);
    return NULL;
  }
  return body;
}

void api_send_message(http_exchange *ex, void *app) {
  api *a = app;
  int64_t caller;
  if (!api_authenticate(ex, a, false, &caller)) return;
  validation_errors v;
  validation_init(&v);
  send_request req = {0};
  size_t len;
  const char *text = http_body(ex, &len);
  json_t *body = api_parse_send_body(text, len, http_header(ex, "Idempotency-Key"), &v, &req);
  if (!body) {
    validation_respond(&v, ex);
    return;
  }
  validation_free(&v);
  if (!api_require_self(ex, caller, req.sender_id)) {
    json_decref(body);
    return;
  }
  send_call *call = malloc(sizeof *call);
  if (!call) {
    json_decref(body);
    respond_detail(ex, 503, "Out of memory");
    return;
  }
  *call = (send_call){.ex = ex, .api = a, .body = body, .req = req};
  api_admit_send(ex, a, req.sender_id, on_admitted, call);
}

/* ---- GET /api/messages/conversation/{id}[/before] ---- */

typedef struct messages_call {
  http_exchange *ex;
  store *store;
  int64_t caller; /* 0 = auth off */
  int64_t total;  /* of an empty page waiting for the participants check */
  message_query query;
} messages_call;

static void respond_empty_page(messages_call *call) {
  cursor none = {.kind = CURSOR_MESSAGES};
  respond_page(call->ex, call->total, &call->query.page, NULL, 0, write_message_item, false, &none);
}

/* An empty page for a caller: only the conversation tells whether they are in it. */
static void on_empty_page_conversation(void *arg, store_status status, const char *detail,
                                       const conversation *c) {
  messages_call *call = arg;
  if (status == STORE_OK && !api_is_participant(call->caller, c->user1_id, c->user2_id))
    status = STORE_NOT_FOUND;
  if (status == STORE_OK)
    respond_empty_page(call);
  else
    respond_store_error(call->ex, status, detail);
  free(call);
}

static void on_messages(void *arg, store_status status, const char *detail, const message_page *page) {
  messages_call *call = arg;
  if (status != STORE_OK) {
    respond_store_error(call->ex, status, detail);
    free(call);
    return;
  }
  /* Every message of a conversation is between its two users: the page shows them. */
  if (page->count > 0 &&
      !api_is_participant(call->caller, page->items[0].sender_id, page->items[0].receiver_id)) {
    respond_store_error(call->ex, STORE_NOT_FOUND, NULL);
    free(call);
    return;
  }
  if (page->count == 0 && call->caller != 0) {
    call->total = page->total;
    store_get_conversation(call->store, call->query.conversation_id, on_empty_page_conversation, call);
    return;
  }
  cursor next = {.kind = CURSOR_MESSAGES, .message_id = page->count ? page->items[page->count - 1].id : 0};
  respond_page(call->ex, page->total, &call->query.page, page->items, page->count, write_message_item,
               page->has_more, &next);
  free(call);
}

static void list_messages(http_exchange *ex, api *a, bool before) {
  int64_t caller;
  if (!api_authenticate(ex, a, false, &caller)) return;
  validation_errors v;
  validation_init(&v);
  message_query q = {0};
  param_path_id(ex, 0, "conversation_id", &v, &q.conversation_id);
  param_page(ex, CURSOR_MESSAGES, &v, &q.page);
  if (before) {
    const char *text = http_query(ex, "before_timestamp");
    if (!text)
      validation_add(&v, "query", "before_timestamp", "missing", "Field required");
    else if (!timestamp_parse(text, strlen(text), &q.before_us))
      validation_add(&v, "query", "before_timestamp", "datetime_parsing",
                     "Input should be a valid datetime or date (ISO 8601) or Unix time");
    q.has_before = true;
  }
  if (validation_failed(&v)) {
    validation_respond(&v, ex);
    return;
  }
  validation_free(&v);
  messages_call *call = malloc(sizeof *call);
  if (!call) {
    respond_detail(ex, 503, "Out of memory");
    return;
  }
  *call = (messages_call){.ex = ex, .store = a->store, .caller = caller, .query = q};
  store_list_messages(a->store, &call->query, on_messages, call);
}

void api_list_messages(http_exchange *ex, void *app) { list_messages(ex, app, false); }
void api_list_messages_before(http_exchange *ex, void *app) { list_messages(ex, app, true); }
