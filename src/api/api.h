/* api: the HTTP/JSON endpoints of API.md. One handler per endpoint parses and validates
 * the request, calls the store, and renders the JSON answer; this module owns the route
 * table handed to the transport.
 *
 * The api borrows the store, the directory paths, the metrics registry, the verifier and the send
 * limiters; all must outlive it. It owns its CORS policy and its request metrics (api_free
 * releases them). With `auth` NULL authentication is off; with `send_limit` and
 * `send_limit_shared` NULL sends are not rate-limited (api/access.h). */
#ifndef MESSENGER_API_API_H
#define MESSENGER_API_API_H

#include <stdatomic.h>

#include "api/cors.h"
#include "api/request_metrics.h"
#include "auth/auth.h"
#include "http/http.h"
#include "metrics/metrics.h"
#include "ratelimit/ratelimit.h"
#include "ratelimit/shared.h"
#include "store/store.h"

/* Called once per successful POST /api/conversations/{id}/read, after the mark is durable and
 * before the 200 is sent, on the thread that completed the store call (an HTTP worker or a
 * store thread): it must not block. mark->advanced is false when the mark was already there
 * or beyond (nothing changed); mark->other_user_id names the other participant, so a receipt can
 * go to both without another store read. The mark is borrowed for the call. */
typedef void (*api_read_observer)(void *ctx, const read_mark *mark);

typedef struct api {
  store *store;
  const char *docs_dir;      /* Swagger UI assets for /docs; NULL or missing files = self-contained page */
  const char *docs_page;     /* the /docs HTML, chosen once at init from what docs_dir holds */
  const char *chat_dir;      /* the /chat web client's files; NULL = not installed (404) */
  cors_policy cors;          /* headers for browsers on other origins (api/cors.h) */
  atomic_bool draining;      /* set at shutdown: /ready answers 503 so load balancers stop routing here */
  metrics_registry *metrics; /* rendered by GET /metrics; NULL = metrics off */
  request_metrics *request_metrics;    /* owned; fed by the transport's completion observer */
  auth_verifier *auth;                 /* NULL: authentication off */
  ratelimit *send_limit;               /* NULL: sends not limited by this process alone */
  ratelimit_shared *send_limit_shared; /* NULL: no limit shared by replicas (takes precedence) */
  http_routes routes;
  api_read_observer on_read; /* NULL = none; set after api_init (the event streams do) */
  void *on_read_ctx;
  struct events_hub *events;     /* NULL until api_events_init: no event is published */
  struct rate_gate *typing_gate; /* typing events per user and conversation */
} api;

typedef struct api_options {
  const char *docs_dir;     /* may be NULL */
  const char *chat_dir;     /* may be NULL */
  const char *cors_origins; /* comma list of allowed origins, "*" = any, "" = none (api/cors.h) */
} api_options;

/* Fills the route table of `a`; hand &a->routes to the transport. Returns false with a
 * message in err when an option is invalid (a malformed CORS origin). */
bool api_init(api *a, store *s, const api_options *opt, char *err, size_t err_size);
/* Serves `reg` (borrowed) on GET /metrics and counts every request in it. False when out of
 * memory (metrics stay off). Call before handing the routes to the transport. */
bool api_enable_metrics(api *a, metrics_registry *reg);
/* Frees what api_init and api_enable_metrics allocated, once the transport has stopped. */
void api_free(api *a);

#endif
