/* api/access: authentication and the access rules of API.md ("Authentication", "Rate
 * limits"), for every handler. With auth off (api->auth NULL) every caller is anyone: the
 * caller id is 0 and every check passes, so existing clients see no change.
 *
 * Each function that can refuse responds itself (401 with WWW-Authenticate: Bearer, 403,
 * 429 with Retry-After) and says so; the handler then returns without responding.
 * A conversation the caller is not part of must be answered exactly like a missing one:
 * handlers test api_is_participant and answer respond_store_error(ex, STORE_NOT_FOUND, ...). */
#ifndef MESSENGER_API_ACCESS_H
#define MESSENGER_API_ACCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "http/http.h"

/* Who is calling: true with *user_id = the token's sub (auth on) or 0 (auth off). The token
 * comes from `Authorization: Bearer <JWT>`, or, when allow_query_token is set and that header
 * is absent, from the `access_token` query parameter (the event stream: browsers cannot set
 * headers on EventSource or WebSocket). Otherwise responds 401 and returns false. */
bool api_authenticate(http_exchange *ex, api *a, bool allow_query_token, int64_t *user_id);

/* The caller may act as `user_id` (auth off, or the same user); else responds 403. */
bool api_require_self(http_exchange *ex, int64_t caller, int64_t user_id);

/* The caller may see the conversation of user1 and user2 (auth off, or one of them). */
static inline bool api_is_participant(int64_t caller, int64_t user1, int64_t user2) {
  return caller == 0 || caller == user1 || caller == user2;
}

/* Admits one send of `sender` under the send rate limit: done(arg, true) to go on, or a 429
 * with Retry-After is sent and done(arg, false) follows so the caller can free its state.
 * done runs exactly once, inline (no limit, or the per-process limit) or on the Redis client's
 * thread (the limit shared by replicas). */
typedef void (*api_admit_cb)(void *arg, bool admitted);
void api_admit_send(http_exchange *ex, api *a, int64_t sender, api_admit_cb done, void *arg);

#endif
