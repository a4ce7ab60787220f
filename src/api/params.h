/* api/params: parsing and validating path and query parameters into domain values.
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

/* page, limit and cursor (of `kind`) from the query string, with their defaults. */
bool param_page(http_exchange *ex, cursor_kind kind, validation_errors *v, page_request *out);

#endif
