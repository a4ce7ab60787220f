/* Service endpoints: /, /health, /ready, /metrics, /openapi.json and the /docs page with its assets. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "api/handlers.h"
#include "api/respond.h"

/* docs/openapi.json, embedded at build time (openapi_blob.c). */
extern const char openapi_json[];
extern const char openapi_json_end[];

void api_root(http_exchange *ex, void *app) {
  api *a = app;
  respond_json(ex, 200,
               json_pack("{s:s,s:s}", "message", "messenger is running", "backend", store_backend(a->store)));
}

void api_health(http_exchange *ex, void *app) {
  (void)app;
  static const char ok[] = "{\"status\":\"ok\"}";
  http_respond_static(ex, 200, JSON_CONTENT_TYPE, ok, sizeof ok - 1);
}

static void on_ping(void *arg, store_status status, const char *detail) {
  http_exchange *ex = arg;
  if (status == STORE_OK)
    respond_json(ex, 200, json_pack("{s:s}", "status", "ready"));
  else
    respond_json(
        ex, 503,
        json_pack("{s:s,s:s}", "status", "unavailable", "detail", detail ? detail : "store unavailable"));
}

void api_ready(http_exchange *ex, void *app) {
  api *a = app;
  if (atomic_load(&a->draining)) {
    on_ping(ex, STORE_UNAVAILABLE, "shutting down");
    return;
  }
  store_ping(a->store, on_ping, ex);
}

void api_metrics(http_exchange *ex, void *app) {
  const api *a = app;
  if (!a->metrics) {
    respond_detail(ex, 404, "Metrics are disabled (MESSENGER_METRICS=0)");
    return;
  }
  size_t len = 0;
  char *text = metrics_render(a->metrics, &len);
  if (!text) {
    respond_detail(ex, 503, "Out of memory");
    return;
  }
  http_respond(ex, 200, METRICS_CONTENT_TYPE, text, len);
}

void api_openapi(http_exchange *ex, void *app) {
  (void)app;
  // cppcheck-suppress comparePointers ; both symbols delimit one .incbin blob
  http_respond_static(ex, 200, JSON_CONTENT_TYPE, openapi_json, (size_t)(openapi_json_end - openapi_json));
}

/* Swagger UI, when its assets were installed at build time. */
static const char swagger_page[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>messenger API</title><link rel=\"stylesheet\" href=\"/docs/swagger-ui.css\"></head>\n"
    "<body><div id=\"swagger-ui\"></div>\n"
    "<script src=\"/docs/swagger-ui-bundle.js\"></script>\n"
    "<script src=\"/docs/swagger-ui-standalone-preset.js\"></script>\n"
    "<script>window.ui = SwaggerUIBundle({url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true,"
    " presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'BaseLayout'});</script>\n"
    "</body></html>\n";

/* A self-contained page that renders /openapi.json without any asset. */
static const char plain_page[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>messenger API</title>\n"
    "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
    "h2{border-bottom:1px solid #ccc}.op{margin:1em 0;padding:.5em 1em;border-left:4px solid #49c}"
    ".m{font-weight:bold;text-transform:uppercase}pre{background:#f6f6f6;padding:.5em;overflow:auto}</style>"
    "</head>\n<body><h1 id=\"t\">messenger API</h1><p id=\"d\"></p><div id=\"ops\"></div>\n<script>\n"
    "fetch('/openapi.json').then(r => r.json()).then(doc => {\n"
    "  document.getElementById('t').textContent = doc.info.title + ' ' + doc.info.version;\n"
    "  document.getElementById('d').textContent = doc.info.description || '';\n"
    "  const ops = document.getElementById('ops');\n"
    "  for (const [path, item] of Object.entries(doc.paths)) {\n"
    "    for (const [method, op] of Object.entries(item)) {\n"
    "      if (typeof op !== 'object' || !op.responses) continue;\n"
    "      const div = document.createElement('div'); div.className = 'op';\n"
    "      const h = document.createElement('h3');\n"
    "      h.innerHTML = '<span class=\"m\"></span> <code></code>';\n"
    "      h.querySelector('.m').textContent = method; h.querySelector('code').textContent = path;\n"
    "      const p = document.createElement('p'); p.textContent = op.summary || op.description || '';\n"
    "      const pre = document.createElement('pre');\n"
    "      pre.textContent = JSON.stringify({parameters: op.parameters, requestBody: op.requestBody,\n"
    "                                        responses: op.responses}, null, 2);\n"
    "      div.append(h, p, pre); ops.append(div);\n"
    "    }\n"
    "  }\n"
    "});\n</script></body></html>\n";

const char *api_docs_page_for(const char *docs_dir) {
  char path[4096];
  if (!docs_dir) return plain_page;
  snprintf(path, sizeof path, "%s/swagger-ui-bundle.js", docs_dir);
  return access(path, R_OK) == 0 ? swagger_page : plain_page;
}

void api_docs_page(http_exchange *ex, void *app) {
  api *a = app;
  http_respond_static(ex, 200, "text/html; charset=utf-8", a->docs_page, strlen(a->docs_page));
}

void api_docs_asset(http_exchange *ex, void *app) {
  api *a = app;
  static const struct {
    const char *name, *type;
  } assets[] = {
      {"swagger-ui.css", "text/css; charset=utf-8"},
      {"swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
      {"swagger-ui-standalone-preset.js", "text/javascript; charset=utf-8"},
  };
  const char *name = http_path_param(ex, 0);
  for (size_t i = 0; a->docs_dir && i < sizeof assets / sizeof assets[0]; i++) {
    if (strcmp(name, assets[i].name) != 0) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", a->docs_dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
      http_respond_file(ex, 200, assets[i].type, fd, (size_t)st.st_size);
      return;
    }
    if (fd >= 0) close(fd);
    break;
  }
  respond_detail(ex, 404, "Not Found");
}
