/* http: the generic transport. It parses requests (llhttp, on libuv event loops), routes them
 * with a table it is handed, and sends responses; it knows no endpoint and no JSON.
 *
 * A handler receives an http_exchange and must call exactly one http_respond*() (or
 * http_respond_stream / http_upgrade) for it, either before returning or later from any thread
 * (after an asynchronous store call). A response from another thread is handed back to the
 * connection's own loop thread (uv_async_t); no loop thread ever waits. Everything the exchange
 * exposes (path, parameters, headers, body) stays valid until the response call; after it the
 * exchange belongs to the transport again and must not be touched.
 *
 * Ownership: the transport owns exchanges and streams. http_respond() takes ownership of a
 * malloc'ed body; http_respond_static() borrows bytes that must outlive the server. */
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

/* Optional hook, called on each worker thread whenever its event loop is about to wait for
 * I/O (once per loop iteration, after that iteration's callbacks). It must be cheap and must
 * not block: it ends what the requests of one iteration may share (a store's read snapshot). */
typedef void (*http_loop_hook)(void *app);

typedef struct http_routes {
  const http_route *routes;
  size_t count;
  http_error_handler on_error;
  http_completion_observer on_complete; /* may be NULL */
  http_loop_hook before_wait;           /* may be NULL */
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

/* Adds a response header; call before responding. Name and value are copied; at most
 * HTTP_MAX_EXTRA_HEADERS per response (further ones are dropped), and a name or value holding
 * CR, LF or another control character is dropped (no header injection). */
#define HTTP_MAX_EXTRA_HEADERS 16
void http_add_header(http_exchange *ex, const char *name, const char *value);

/* Sends the response. `body` (malloc'ed, may be NULL when len is 0) becomes the transport's. */
void http_respond(http_exchange *ex, unsigned status, const char *content_type, char *body, size_t len);
/* Same with bytes the caller keeps alive for the server's lifetime. */
void http_respond_static(http_exchange *ex, unsigned status, const char *content_type, const void *body,
                         size_t len);
/* Same with an open file of `size` bytes, which the transport closes. */
void http_respond_file(http_exchange *ex, unsigned status, const char *content_type, int fd, size_t size);

/* Long-lived responses (SSE) and upgraded connections (WebSocket).
 * http_respond_stream sends status + headers (plus those added with http_add_header) right away,
 * with no Content-Length and with "Connection: close" (the connection is not reused afterwards),
 * then body bytes as they come. Any thread, like http_respond. The request counts as answered
 * (on_complete and the access log line) once the head is handed to the socket. A stream is not
 * subject to the request deadlines; it counts against the connection limits; server shutdown
 * closes it (on_closed runs) instead of waiting for it. Returns NULL only when out of memory (the
 * connection is then closed and on_closed is not called). */
typedef struct http_stream http_stream;
/* Called exactly once, on the connection's loop thread, when the stream ends for any reason:
 * peer closed, write error, buffer overflow, server shutdown, or after http_stream_close.
 * The transport frees the stream after on_closed returns; the application must not call
 * http_stream_write/close on it after that (typically: remove it from its registry in on_closed
 * under the lock it holds while writing). */
typedef void (*http_stream_closed)(http_stream *s, void *user);
http_stream *http_respond_stream(http_exchange *ex, unsigned status, const char *content_type,
                                 http_stream_closed on_closed, void *user);
/* Any thread. Copies the bytes. Returns false when the stream is closing or the bytes would
 * exceed its bounded buffer (max_stream_buffer_bytes in the server config: bytes accepted and
 * not yet written to the socket); in the latter case the transport closes the stream (a slow
 * reader is dropped without slowing anyone else; see http_stream_set_overflow_trailer). Bytes written before
 * the head went out are sent after it. */
bool http_stream_write(http_stream *s, const void *data, size_t len);
/* Bytes that end the stream when its buffer overflows (a WebSocket close frame), copied: what
 * was accepted before still goes out, then the trailer, then the connection closes (all of it
 * bounded by the server's send timeout). Without a trailer an overflow closes the connection
 * at once.
 * Any thread, before or between writes. False when out of memory (nothing changes). */
bool http_stream_set_overflow_trailer(http_stream *s, const void *data, size_t len);
/* Any thread; idempotent until on_closed has run. Pending bytes are flushed first (bounded time:
 * HTTP_STREAM_FLUSH_MS, then the connection is closed anyway). */
#define HTTP_STREAM_FLUSH_MS 5000
void http_stream_close(http_stream *s);
/* Upgrade (WebSocket): answers 101 Switching Protocols with the headers added by
 * http_add_header, then hands raw bytes both ways: on_data runs on the loop thread with bytes
 * that arrived (including any already buffered after the request head; never before
 * http_upgrade has returned); write with http_stream_write. Only valid for a request with
 * Connection: upgrade (see http_is_upgrade); otherwise the exchange is answered 400 (through
 * the routes' on_error) and NULL is returned. Any thread, like http_respond. */
typedef void (*http_stream_data)(http_stream *s, const uint8_t *data, size_t len, void *user);
http_stream *http_upgrade(http_exchange *ex, http_stream_data on_data, http_stream_closed on_closed,
                          void *user);
/* True when the request asked for a protocol upgrade (Connection: upgrade + Upgrade header). */
bool http_is_upgrade(const http_exchange *ex);

/* Route matching, exposed for unit tests and used by the server. Returns the route, or NULL
 * with *status set to 404 or 405 (then allow, of allow_size bytes, lists the methods). */
const http_route *http_route_match(const http_routes *table, const char *method, const char *path,
                                   const char *params[HTTP_MAX_PATH_PARAMS], char *param_buf,
                                   size_t param_buf_size, unsigned *status, char *allow, size_t allow_size);

#endif
