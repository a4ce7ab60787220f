#include "api/respond.h"

#include <stdlib.h>
#include <string.h>

#include "core/timestamp.h"

void respond_json(http_exchange *ex, unsigned status, json_t *value) {
  char *body = value ? json_dumps(value, JSON_COMPACT) : NULL;
  json_decref(value);
  if (!body) {
    static const char oom[] = "{\"detail\":\"Internal Server Error\"}";
    http_respond_static(ex, 500, JSON_CONTENT_TYPE, oom, sizeof oom - 1);
    return;
  }
  http_respond(ex, status, JSON_CONTENT_TYPE, body, strlen(body));
}

void respond_detail(http_exchange *ex, unsigned status, const char *detail) {
  respond_json(ex, status, json_pack("{s:s}", "detail", detail));
}

void respond_store_error(http_exchange *ex, store_status status, const char *detail) {
  if (status == STORE_NOT_FOUND)
    respond_detail(ex, 404, "Conversation not found");
  else
    respond_detail(ex, 503, detail && detail[0] ? detail : "Store unavailable");
}

void validation_init(validation_errors *v) {
  v->list = json_array();
}

void validation_add(validation_errors *v, const char *where, const char *field, const char *type,
                    const char *msg) {
  json_t *loc = field ? json_pack("[s,s]", where, field) : json_pack("[s]", where);
  json_array_append_new(v->list, json_pack("{s:o,s:s,s:s}", "loc", loc, "msg", msg, "type", type));
}

void validation_respond(validation_errors *v, http_exchange *ex) {
  respond_json(ex, 422, json_pack("{s:o}", "detail", v->list));
  v->list = NULL;
}

void validation_free(validation_errors *v) {
  json_decref(v->list);
  v->list = NULL;
}

json_t *message_json(const message *m) {
  char at[TIMESTAMP_TEXT_SIZE];
  return json_pack("{s:I,s:I,s:I,s:I,s:s%,s:s}", "id", (json_int_t)m->id, "conversation_id",
                   (json_int_t)m->conversation_id, "sender_id", (json_int_t)m->sender_id, "receiver_id",
                   (json_int_t)m->receiver_id, "content", m->content, m->content_len, "created_at",
                   timestamp_format(m->created_at_us, at));
}

json_t *conversation_json(const conversation *c) {
  char at[TIMESTAMP_TEXT_SIZE];
  return json_pack("{s:I,s:I,s:I,s:s,s:s%}", "id", (json_int_t)c->id, "user1_id", (json_int_t)c->user1_id,
                   "user2_id", (json_int_t)c->user2_id, "last_message_at",
                   timestamp_format(c->last_message_at_us, at), "last_message_content",
                   c->last_message_content, c->last_message_content_len);
}
