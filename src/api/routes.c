#include <string.h>

#include "api/api.h"
#include "api/handlers.h"
#include "api/respond.h"

static const http_route routes[] = {
    {"POST", "/api/messages/", api_send_message},
    {"GET", "/api/messages/conversation/{}", api_list_messages},
    {"GET", "/api/messages/conversation/{}/before", api_list_messages_before},
    {"GET", "/api/conversations/user/{}", api_list_user_conversations},
    {"GET", "/api/conversations/{}", api_get_conversation},
    {"POST", "/api/conversations/{}/read", api_mark_read},
    {"GET", "/", api_root},
    {"GET", "/health", api_health},
    {"GET", "/ready", api_ready},
    {"GET", "/metrics", api_metrics},
    {"GET", "/openapi.json", api_openapi},
    {"GET", "/docs", api_docs_page},
    {"GET", "/docs/{}", api_docs_asset},
};

static void on_transport_error(http_exchange *ex, void *app, unsigned status, const char *reason,
                               const char *allow) {
  (void)app;
  if (allow) http_add_header(ex, "Allow", allow);
  respond_detail(ex, status, reason);
}

static void on_request_complete(void *app, const http_route *route, const char *method, unsigned status,
                                uint64_t duration_us) {
  const api *a = app;
  request_metrics_observe(a->request_metrics, route, method, status, duration_us);
}

void api_init(api *a, store *s, const char *docs_dir) {
  a->store = s;
  a->docs_dir = docs_dir;
  a->docs_page = api_docs_page_for(docs_dir);
  a->auth = NULL;
  a->send_limit = NULL;
  a->send_limit_shared = NULL;
  a->metrics = NULL;
  a->request_metrics = NULL;
  a->on_read = NULL;
  a->on_read_ctx = NULL;
  atomic_init(&a->draining, false);
  a->routes = (http_routes){
      .routes = routes,
      .count = sizeof routes / sizeof routes[0],
      .on_error = on_transport_error,
      .app = a,
  };
}

bool api_enable_metrics(api *a, metrics_registry *reg) {
  a->request_metrics = request_metrics_new(reg, a->routes.routes, a->routes.count);
  if (!a->request_metrics) return false;
  a->metrics = reg;
  a->routes.on_complete = on_request_complete;
  return true;
}

void api_free(api *a) {
  request_metrics_free(a->request_metrics);
  a->request_metrics = NULL;
  a->metrics = NULL;
  a->routes.on_complete = NULL;
}
