/* http: the generic transport. It parses requests (libmicrohttpd underneath), routes them
 * with a table it is handed, and sends responses; it knows no endpoint and no JSON.
 *
 * A handler receives an http_exchange and must call exactly one http_respond*() for it,
 * either before returning or later from any thread (after an asynchronous store call).
 * In the second case the transport suspends the connection when the handler returns and
 * resumes it when the response arrives: no worker thread waits. Everything the exchange
 * exposes (path, parameters, headers, body) stays valid until the response is sent.
 *
 * Ownership: the transport owns exchanges. http_respond() takes ownership of a malloc'ed
 * body; http_respond_static() borrows bytes that must outlive the server. */
#ifndef MESSENGER_HTTP_HTTP_H
#define MESSENGER_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_exchange http_exchange;
typedef void (*http_handler)(http_exchange *ex, void *app);

/* Errors the transport detects itself (unknown path, wrong method, body or headers too
 * large, malformed framing) are rendered by the application through this callback, which
 * must respond like a handler. `allow` lists the allowed methods for 405, else NULL. */
typedef void (*http_error_handler)(http_exchange *ex, void *app, unsigned status, const char *reason,
                                   const char *allow);

#define HTTP_MAX_PATH_PARAMS 4

typedef struct http_route {
  const char *method;  /* "GET", "POST", ... (HEAD is served by GET routes) */
  const char *pattern; /* "/api/conversations/{}": "{}" captures one non-empty path segment */
  http_handler handler;
} http_route;

/* Optional observer, called once per request whose response was sent (or failed to be), on
 * the transport thread that finished it: `route` is the matched route, NULL when none matched
 * (404/405/framing errors); status 0 means the connection ended before the response went out.
 * It must be cheap and must not block (metrics). */
typedef void (*http_completion_observer)(void *app, const http_route *route, const char *method,
                                         unsigned status, uint64_t duration_us);

typedef struct http_routes {
  const http_route *routes;
  size_t count;
  http_error_handler on_error;
  http_completion_observer on_complete; /* may be NULL */
  void *app;                            /* passed to every handler */
} http_routes;

/* Request accessors. Strings are NUL-terminated. */
const char *http_method(const http_exchange *ex);
const char *http_path(const http_exchange *ex);
const char *http_path_param(const http_exchange *ex, size_t index); /* "{}" captures, in order */
const char *http_query(const http_exchange *ex, const char *name);  /* NULL when absent */
const char *http_header(const http_exchange *ex, const char *name); /* case-insensitive; NULL when absent */
const char *http_body(const http_exchange *ex, size_t *len);        /* never NULL; may be empty */
const char *http_request_id(const http_exchange *ex);

/* Adds a response header; call before responding. Name and value are copied. */
void http_add_header(http_exchange *ex, const char *name, const char *value);

/* Sends the response. `body` (malloc'ed, may be NULL when len is 0) becomes the transport's. */
void http_respond(http_exchange *ex, unsigned status, const char *content_type, char *body, size_t len);
/* Same with bytes the caller keeps alive for the server's lifetime. */
void http_respond_static(http_exchange *ex, unsigned status, const char *content_type, const void *body,
                         size_t len);
/* Same with an open file of `size` bytes, which the transport closes. */
void http_respond_file(http_exchange *ex, unsigned status, const char *content_type, int fd, size_t size);

/* Route matching, exposed for unit tests and used by the server. Returns the route, or NULL
 * with *status set to 404 or 405 (then allow, of allow_size bytes, lists the methods). */
const http_route *http_route_match(const http_routes *table, const char *method, const char *path,
                                   const char *params[HTTP_MAX_PATH_PARAMS], char *param_buf,
                                   size_t param_buf_size, unsigned *status, char *allow, size_t allow_size);

#endif
