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
    {"GET", "/", api_root},
    {"GET", "/health", api_health},
    {"GET", "/ready", api_ready},
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

void api_init(api *a, store *s, const char *docs_dir) {
  a->store = s;
  a->docs_dir = docs_dir;
  a->docs_page = api_docs_page_for(docs_dir);
  a->auth = NULL;
  a->send_limit = NULL;
  a->send_limit_shared = NULL;
  atomic_init(&a->draining, false);
  a->routes = (http_routes){
      .routes = routes,
      .count = sizeof routes / sizeof routes[0],
      .on_error = on_transport_error,
      .app = a,
  };
}
