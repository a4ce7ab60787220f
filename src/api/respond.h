/* api/respond: rendering JSON answers, including the error shapes of API.md.
 *
 * Validation errors use FastAPI's shape: {"detail": [{"loc": [...], "msg": ..., "type": ...}]}.
 * A validation_errors value collects them (it owns a jansson array) until it is sent or freed. */
#ifndef MESSENGER_API_RESPOND_H
#define MESSENGER_API_RESPOND_H

#include <jansson.h>
#include <stdbool.h>

#include "api/json_writer.h"
#include "http/http.h"
#include "store/store.h"

#define JSON_CONTENT_TYPE "application/json; charset=utf-8"

/* Serialises `value` (whose reference it steals) and responds with it. */
void respond_json(http_exchange *ex, unsigned status, json_t *value);
/* {"detail": "<detail>"} */
void respond_detail(http_exchange *ex, unsigned status, const char *detail);
/* The answer for a failed store call: 404 "Conversation not found" or 503 with the detail
 * (STORE_INVALID is answered by the handler that can say which field is wrong). */
void respond_store_error(http_exchange *ex, store_status status, const char *detail);

typedef struct validation_errors {
  json_t *list;
} validation_errors;

void validation_init(validation_errors *v);
/* Adds one error at loc = [where, field] (field may be NULL for the whole body). */
void validation_add(validation_errors *v, const char *where, const char *field, const char *type,
                    const char *msg);
static inline bool validation_failed(const validation_errors *v) { return json_array_size(v->list) > 0; }
/* Responds 422 with the collected errors and frees them. */
void validation_respond(validation_errors *v, http_exchange *ex);
void validation_free(validation_errors *v);

/* 201/200 with one message or conversation. */
void respond_message(http_exchange *ex, unsigned status, const message *m);
void respond_conversation(http_exchange *ex, const conversation *c);

/* 200 with a page: {"total", "page", "limit", "data": [...], "next_cursor"}. write_item
 * renders items[i]; next_cursor is `next` when has_more, else null. */
typedef void (*page_item_writer)(json_writer *w, const void *items, size_t i);
void respond_page(http_exchange *ex, int64_t total, const page_request *p, const void *items, size_t count,
                  page_item_writer write_item, bool has_more, const cursor *next);
void write_message_item(json_writer *w, const void *items, size_t i);
void write_conversation_item(json_writer *w, const void *items, size_t i);
/* A conversation in a user's list: also that user's last_read_message_id (or null) and unread_count. */
void write_user_conversation_item(json_writer *w, const void *items, size_t i);

#endif
