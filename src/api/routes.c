#include <string.h>

#include "api/api.h"
#include "api/handlers.h"
#include "api/respond.h"

/* Every route's handler runs behind WITH_CORS: the CORS headers are added before the handler
 * starts, so they are on whatever it answers, at once or later from a store callback. */
#define WITH_CORS(handler)                                                                                   \
  static void handler##_cors(http_exchange *ex, void *app) {                                                 \
    cors_add_response_headers(&((api *)app)->cors, ex);                                                      \
    handler(ex, app);                                                                                        \
  }
WITH_CORS(api_send_message)
WITH_CORS(api_list_messages)
WITH_CORS(api_list_messages_before)
WITH_CORS(api_list_user_conversations)
WITH_CORS(api_get_conversation)
WITH_CORS(api_mark_read)
WITH_CORS(api_typing)
WITH_CORS(api_events)
WITH_CORS(api_root)
WITH_CORS(api_health)
WITH_CORS(api_ready)
WITH_CORS(api_metrics)
WITH_CORS(api_openapi)
WITH_CORS(api_docs_page)
WITH_CORS(api_docs_asset)
WITH_CORS(api_chat_page)
WITH_CORS(api_chat_asset)

static const http_route routes[] = {
    {"POST", "/api/messages/", api_send_message_cors},
    {"GET", "/api/messages/conversation/{}", api_list_messages_cors},
    {"GET", "/api/messages/conversation/{}/before", api_list_messages_before_cors},
    {"GET", "/api/conversations/user/{}", api_list_user_conversations_cors},
    {"GET", "/api/conversations/{}", api_get_conversation_cors},
    {"POST", "/api/conversations/{}/read", api_mark_read_cors},
    {"POST", "/api/conversations/{}/typing", api_typing_cors},
    {"GET", "/api/events", api_events_cors},
    {"GET", "/", api_root_cors},
    {"GET", "/health", api_health_cors},
    {"GET", "/ready", api_ready_cors},
    {"GET", "/metrics", api_metrics_cors},
    {"GET", "/openapi.json", api_openapi_cors},
    {"GET", "/docs", api_docs_page_cors},
    {"GET", "/docs/{}", api_docs_asset_cors},
    {"GET", "/chat", api_chat_page_cors},
    {"GET", "/chat/{}", api_chat_asset_cors},
};

/* The transport's errors: 404/405 of a preflight (OPTIONS is no route's method) are CORS
 * preflights, answered on any path as CORSMiddleware does; every other error gets the CORS
 * headers of an actual response. */
static void on_transport_error(http_exchange *ex, void *app, unsigned status, const char *reason,
                               const char *allow) {
  api *a = app;
  if ((status == 404 || status == 405) && cors_answer_preflight(&a->cors, ex)) return;
  cors_add_response_headers(&a->cors, ex);
  if (allow) http_add_header(ex, "Allow", allow);
  respond_detail(ex, status, reason);
}

static void on_request_complete(void *app, const http_route *route, const char *method, unsigned status,
                                uint64_t duration_us) {
  const api *a = app;
  request_metrics_observe(a->request_metrics, route, method, status, duration_us);
}

/* Each worker loop iteration's reads may share one store snapshot; it ends before the loop
 * waits (so it never outlives the iteration). */
static void on_loop_wait(void *app) {
  api *a = app;
  if (a->store) store_end_read_snapshot(a->store);
}

bool api_init(api *a, store *s, const api_options *opt, char *err, size_t err_size) {
  a->store = s;
  a->docs_dir = opt->docs_dir;
  a->docs_page = api_docs_page_for(opt->docs_dir);
  a->chat_dir = opt->chat_dir;
  a->auth = NULL;
  a->send_limit = NULL;
  a->send_limit_shared = NULL;
  a->on_read = NULL;
  a->on_read_ctx = NULL;
  a->events = NULL;
  a->typing_gate = NULL;
  a->metrics = NULL;
  a->request_metrics = NULL;
  if (!cors_policy_parse(&a->cors, opt->cors_origins ? opt->cors_origins : "", err, err_size)) return false;
  atomic_init(&a->draining, false);
  a->routes = (http_routes){
      .routes = routes,
      .count = sizeof routes / sizeof routes[0],
      .on_error = on_transport_error,
      .before_wait = on_loop_wait,
      .app = a,
  };
  return true;
}

bool api_enable_metrics(api *a, metrics_registry *reg) {
  a->request_metrics = request_metrics_new(reg, a->routes.routes, a->routes.count);
  if (!a->request_metrics) return false;
  a->metrics = reg;
  a->routes.on_complete = on_request_complete;
  return true;
}

void api_free(api *a) {
  cors_policy_free(&a->cors);
  request_metrics_free(a->request_metrics);
  a->request_metrics = NULL;
  a->metrics = NULL;
  a->routes.on_complete = NULL;
}
