#include "store/store.h"

#include "core/ids.h"
#include "core/validate.h"

bool send_request_is_valid(const send_request *req) {
  return id_is_valid(req->sender_id) && id_is_valid(req->receiver_id) && req->sender_id != req->receiver_id &&
         req->content && req->content_len > 0;
}

bool page_request_is_valid(const page_request *p, cursor_kind kind) {
  if (p->limit < 1 || p->limit > PAGE_LIMIT_MAX) return false;
  if (!p->has_cursor) return p->page >= 1;
  return p->cursor.kind == kind && id_is_valid(p->cursor.message_id) &&
         (kind != CURSOR_CONVERSATIONS || id_is_valid(p->cursor.conversation_id));
}

bool read_mark_request_is_valid(const read_mark_request *req) {
  return id_is_valid(req->conversation_id) && id_is_valid(req->user_id) && id_is_valid(req->message_id);
}
