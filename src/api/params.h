/* api/params: parsing and validating path, query and body parameters into domain values.
 * Each parser records a FastAPI-shaped error in `v` and returns false on bad input. */
#ifndef MESSENGER_API_PARAMS_H
#define MESSENGER_API_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "api/respond.h"
#include "core/cursor.h"
#include "http/http.h"
#include "store/store.h"

/* An id (1 .. 2^53-1) in path parameter `index`, reported as loc ["path", name]. */
bool param_path_id(http_exchange *ex, size_t index, const char *name, validation_errors *v, int64_t *out);

/* An id (1 .. 2^53-1) in query parameter `name`, which must be present (else "missing"). */
bool param_query_id(http_exchange *ex, const char *name, validation_errors *v, int64_t *out);

/* page, limit and cursor (of `kind`) from the query string, with their defaults. */
bool param_page(http_exchange *ex, cursor_kind kind, validation_errors *v, page_request *out);

/* The request body as a JSON object (json_invalid / model_attributes_type otherwise). The caller
 * owns the returned value; NULL with the error added to v. */
json_t *param_body_object(const char *text, size_t len, validation_errors *v);

/* An id field (1 .. 2^53-1) of a body object, reported as loc ["body", name]. */
bool param_body_id(json_t *body, const char *name, validation_errors *v, int64_t *out);

/* The body of POST /api/conversations/{id}/read: {"user_id": N, "message_id": M} (any bytes in
 * text). Fills req (conversation_id is the caller's) and returns true, or records errors in v.
 * With auth on, default_user is the caller: `user_id` may then be omitted (0: it is required). */
bool api_parse_read_body(const char *text, size_t len, int64_t default_user, validation_errors *v,
                         read_mark_request *req);

#endif
