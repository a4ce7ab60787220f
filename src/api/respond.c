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

void validation_init(validation_errors *v) { v->list = json_array(); }

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

static void write_message(json_writer *w, const message *m) {
  char at[TIMESTAMP_TEXT_SIZE];
  json_writer_lit(w, "{\"id\":");
  json_writer_int(w, m->id);
  json_writer_lit(w, ",\"conversation_id\":");
  json_writer_int(w, m->conversation_id);
  json_writer_lit(w, ",\"sender_id\":");
  json_writer_int(w, m->sender_id);
  json_writer_lit(w, ",\"receiver_id\":");
  json_writer_int(w, m->receiver_id);
  json_writer_lit(w, ",\"content\":");
  json_writer_string(w, m->content, m->content_len);
  json_writer_lit(w, ",\"created_at\":\"");
  json_writer_raw(w, timestamp_format(m->created_at_us, at), TIMESTAMP_TEXT_SIZE - 1);
  json_writer_lit(w, "\"}");
}

static void write_conversation(json_writer *w, const conversation *c, bool read_state) {
  char at[TIMESTAMP_TEXT_SIZE];
  json_writer_lit(w, "{\"id\":");
  json_writer_int(w, c->id);
  json_writer_lit(w, ",\"user1_id\":");
  json_writer_int(w, c->user1_id);
  json_writer_lit(w, ",\"user2_id\":");
  json_writer_int(w, c->user2_id);
  json_writer_lit(w, ",\"last_message_at\":\"");
  json_writer_raw(w, timestamp_format(c->last_message_at_us, at), TIMESTAMP_TEXT_SIZE - 1);
  json_writer_lit(w, "\",\"last_message_content\":");
  json_writer_string(w, c->last_message_content, c->last_message_content_len);
  if (read_state) {
    json_writer_lit(w, ",\"last_read_message_id\":");
    if (c->last_read_message_id)
      json_writer_int(w, c->last_read_message_id);
    else
      json_writer_lit(w, "null");
    json_writer_lit(w, ",\"unread_count\":");
    json_writer_int(w, c->unread_count);
  }
  json_writer_lit(w, "}");
}

void write_message_item(json_writer *w, const void *items, size_t i) {
  write_message(w, (const message *)items + i);
}

void write_conversation_item(json_writer *w, const void *items, size_t i) {
  write_conversation(w, (const conversation *)items + i, false);
}

void write_user_conversation_item(json_writer *w, const void *items, size_t i) {
  write_conversation(w, (const conversation *)items + i, true);
}

static void respond_writer(http_exchange *ex, unsigned status, json_writer *w) {
  size_t len;
  char *body = json_writer_finish(w, &len);
  if (!body) {
    respond_detail(ex, 503, "Out of memory");
    return;
  }
  http_respond(ex, status, JSON_CONTENT_TYPE, body, len);
}

/* One value as the whole body; text_len sizes the buffer for its one text field. */
static void respond_item(http_exchange *ex, unsigned status, page_item_writer write_item, const void *item,
                         size_t text_len) {
  json_writer w;
  json_writer_init(&w, 256 + text_len * 2);
  write_item(&w, item, 0);
  respond_writer(ex, status, &w);
}

void respond_message(http_exchange *ex, unsigned status, const message *m) {
  respond_item(ex, status, write_message_item, m, m->content_len);
}

void respond_conversation(http_exchange *ex, const conversation *c) {
  respond_item(ex, 200, write_conversation_item, c, c->last_message_content_len);
}

void respond_page(http_exchange *ex, int64_t total, const page_request *p, const void *items, size_t count,
                  page_item_writer write_item, bool has_more, const cursor *next) {
  json_writer w;
  json_writer_init(&w, 512 + count * 256);
  json_writer_lit(&w, "{\"total\":");
  json_writer_int(&w, total);
  json_writer_lit(&w, ",\"page\":");
  json_writer_int(&w, p->page);
  json_writer_lit(&w, ",\"limit\":");
  json_writer_int(&w, p->limit);
  json_writer_lit(&w, ",\"data\":[");
  for (size_t i = 0; i < count; i++) {
    if (i) json_writer_lit(&w, ",");
    write_item(&w, items, i);
  }
  json_writer_lit(&w, "],\"next_cursor\":");
  if (has_more && count > 0) {
    char text[CURSOR_TEXT_SIZE];
    size_t n = cursor_encode(next, text);
    json_writer_string(&w, text, n);
  } else {
    json_writer_lit(&w, "null");
  }
  json_writer_lit(&w, "}");
  respond_writer(ex, 200, &w);
}
