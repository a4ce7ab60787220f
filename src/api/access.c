#include "api/access.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/respond.h"
#include "log/log.h"
#include "ratelimit/ratelimit.h"
#include "ratelimit/shared.h"

static int64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The token of "Bearer <token>" (scheme case-insensitive, RFC 7235), or NULL. */
static const char *bearer_token(const char *authorization) {
  static const char scheme[] = "Bearer";
  if (strncasecmp(authorization, scheme, sizeof scheme - 1) != 0 || authorization[sizeof scheme - 1] != ' ')
    return NULL;
  const char *token = authorization + sizeof scheme - 1;
  while (*token == ' ') token++;
  return *token ? token : NULL;
}

static void respond_unauthenticated(http_exchange *ex) {
  http_add_header(ex, "WWW-Authenticate", "Bearer");
  respond_detail(ex, 401, "Not authenticated");
}

bool api_authenticate(http_exchange *ex, api *a, bool allow_query_token, int64_t *user_id) {
  *user_id = 0;
  if (!a->auth) return true;
  const char *authorization = http_header(ex, "Authorization");
  const char *token = authorization       ? bearer_token(authorization)
                      : allow_query_token ? http_query(ex, "access_token")
                                          : NULL;
  if (!token) {
    respond_unauthenticated(ex);
    return false;
  }
  jwt_result r = auth_verify(a->auth, token, strlen(token), clock_ns(CLOCK_REALTIME) / 1000000000, user_id);
  if (r != JWT_OK) {
    log_msg(LOG_INFO, "auth", "%s %s: token refused: %s", http_method(ex), http_request_id(ex),
            jwt_result_name(r));
    *user_id = 0;
    respond_unauthenticated(ex);
    return false;
  }
  return true;
}

bool api_require_self(http_exchange *ex, int64_t caller, int64_t user_id) {
  if (caller == 0 || caller == user_id) return true;
  respond_detail(ex, 403, "Forbidden");
  return false;
}

static void respond_too_many(http_exchange *ex, int64_t wait_ns) {
  char seconds[24];
  snprintf(seconds, sizeof seconds, "%" PRId64, ratelimit_retry_after_s(wait_ns));
  http_add_header(ex, "Retry-After", seconds);
  respond_detail(ex, 429, "Too many requests");
}

typedef struct admit_call {
  http_exchange *ex;
  api_admit_cb done;
  void *arg;
} admit_call;

static void on_shared_decision(void *arg, bool allowed, int64_t wait_ns) {
  admit_call *call = arg;
  if (!allowed) respond_too_many(call->ex, wait_ns);
  call->done(call->arg, allowed);
  free(call);
}

void api_admit_send(http_exchange *ex, api *a, int64_t sender, api_admit_cb done, void *arg) {
  if (a->send_limit_shared) {
    admit_call *call = malloc(sizeof *call);
    if (call) {
      *call = (admit_call){.ex = ex, .done = done, .arg = arg};
      ratelimit_shared_take(a->send_limit_shared, sender, on_shared_decision, call);
      return;
    }
    respond_detail(ex, 503, "Out of memory");
    done(arg, false);
    return;
  }
  int64_t wait_ns = 0;
  if (a->send_limit && !ratelimit_take(a->send_limit, sender, clock_ns(CLOCK_MONOTONIC), &wait_ns)) {
    respond_too_many(ex, wait_ns);
    done(arg, false);
    return;
  }
  done(arg, true);
}
