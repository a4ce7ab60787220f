/* api/handlers: one handler per endpoint (messages.c, conversations.c, service.c).
 * Each has the http_handler signature and gets the api (api.h) as `app`. */
#ifndef MESSENGER_API_HANDLERS_H
#define MESSENGER_API_HANDLERS_H

#include "http/http.h"

void api_send_message(http_exchange *ex, void *app);
void api_list_messages(http_exchange *ex, void *app);
void api_list_messages_before(http_exchange *ex, void *app);
void api_list_user_conversations(http_exchange *ex, void *app);
void api_get_conversation(http_exchange *ex, void *app);
void api_mark_read(http_exchange *ex, void *app);
void api_root(http_exchange *ex, void *app);
void api_health(http_exchange *ex, void *app);
void api_ready(http_exchange *ex, void *app);
void api_metrics(http_exchange *ex, void *app);
void api_openapi(http_exchange *ex, void *app);
void api_docs_page(http_exchange *ex, void *app);
void api_docs_asset(http_exchange *ex, void *app);

/* The /docs page for a docs directory: Swagger UI when its assets are there, else a
 * self-contained page that renders /openapi.json. */
const char *api_docs_page_for(const char *docs_dir);

#endif
