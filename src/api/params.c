#include "api/params.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/validate.h"

/* Parses a decimal integer (optional sign) occupying the whole string. */
static bool parse_int(const char *text, int64_t *out) {
  if (!text || !*text) return false;
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno || *end != '\0' || end == text || text[0] == ' ' || text[0] == '\t') return false;
  *out = v;
  return true;
}

/* Parses an integer in [min, max]; records int_parsing / greater_than_equal / less_than_equal. */
static bool parse_bounded(const char *text, const char *where, const char *name, int64_t min, int64_t max,
                          validation_errors *v, int64_t *out) {
  char msg[96];
  if (!parse_int(text, out)) {
    validation_add(v, where, name, "int_parsing",
                   "Input should be a valid integer, unable to parse string as an integer");
    return false;
  }
  if (*out < min) {
    snprintf(msg, sizeof msg, "Input should be greater than or equal to %lld", (long long)min);
    validation_add(v, where, name, "greater_than_equal", msg);
    return false;
  }
  if (*out > max) {
    snprintf(msg, sizeof msg, "Input should be less than or equal to %lld", (long long)max);
    validation_add(v, where, name, "less_than_equal", msg);
    return false;
  }
  return true;
}

bool param_path_id(http_exchange *ex, size_t index, const char *name, validation_errors *v, int64_t *out) {
  return parse_bounded(http_path_param(ex, index), "path", name, 1, ID_MAX, v, out);
}

bool param_query_id(http_exchange *ex, const char *name, validation_errors *v, int64_t *out) {
  const char *text = http_query(ex, name);
  if (!text) {
    validation_add(v, "query", name, "missing", "Field required");
    return false;
  }
  return parse_bounded(text, "query", name, 1, ID_MAX, v, out);
}

bool param_page(http_exchange *ex, cursor_kind kind, validation_errors *v, page_request *out) {
  bool ok = true;
  int64_t page = 1, limit = PAGE_LIMIT_DEFAULT;
  const char *text = http_query(ex, "page");
  if (text) ok &= parse_bounded(text, "query", "page", 1, ID_MAX, v, &page);
  text = http_query(ex, "limit");
  if (text) ok &= parse_bounded(text, "query", "limit", 1, PAGE_LIMIT_MAX, v, &limit);
  out->page = page;
  out->limit = (int)limit;
  out->has_cursor = false;
  text = http_query(ex, "cursor");
  if (text) {
    if (cursor_decode(text, strlen(text), kind, &out->cursor)) {
      out->has_cursor = true;
    } else {
      validation_add(v, "query", "cursor", "value_error", "Value error, invalid cursor");
      ok = false;
    }
  }
  return ok;
}

json_t *param_body_object(const char *text, size_t len, validation_errors *v) {
  json_error_t error;
  json_t *body = json_loadb(text, len, 0, &error);
  if (!body) {
    json_array_append_new(v->list, json_pack("{s:[s,i],s:s,s:s}", "loc", "body", (json_int_t)error.position,
                                             "msg", "JSON decode error", "type", "json_invalid"));
    return NULL;
  }
  if (!json_is_object(body)) {
    validation_add(v, "body", NULL, "model_attributes_type",
                   "Input should be a valid dictionary or object to extract fields from");
    json_decref(body);
    return NULL;
  }
  return body;
}

bool param_body_id(json_t *body, const char *name, validation_errors *v, int64_t *out) {
  json_t *value = json_object_get(body, name);
  if (!value) {
    validation_add(v, "body", name, "missing", "Field required");
    return false;
  }
  if (!json_is_integer(value)) {
    validation_add(v, "body", name, "int_type", "Input should be a valid integer");
    return false;
  }
  *out = json_integer_value(value);
  if (*out < 1) {
    validation_add(v, "body", name, "greater_than_equal", "Input should be greater than or equal to 1");
    return false;
  }
  if (*out > ID_MAX) {
    validation_add(v, "body", name, "less_than_equal",
                   "Input should be less than or equal to 9007199254740991");
    return false;
  }
  return true;
}

bool api_parse_read_body(const char *text, size_t len, int64_t default_user, validation_errors *v,
                         read_mark_request *req) {
  json_t *body = param_body_object(text, len, v);
  if (!body) return false;
  bool ok = true;
  if (default_user && !json_object_get(body, "user_id"))
    req->user_id = default_user;
  else
    ok = param_body_id(body, "user_id", v, &req->user_id);
  ok &= param_body_id(body, "message_id", v, &req->message_id);
  json_decref(body);
  return ok;
}
