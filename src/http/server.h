/* http/server: the listening HTTP server (libmicrohttpd in epoll + thread-pool mode).
 *
 * Enforces the transport limits (body, header block, connections, per-IP connections,
 * timeouts), logs one line per request (method, path, status, microseconds, request id;
 * never bodies), and shuts down gracefully: stop accepting, let in-flight requests finish,
 * then stop. The server borrows the route table, which must outlive it. */
#ifndef MESSENGER_HTTP_SERVER_H
#define MESSENGER_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

typedef struct http_server_config {
  const char *host;            /* IPv4 address to bind; NULL or "" = all interfaces */
  uint16_t port;               /* 0 = any free port (see http_server_port) */
  unsigned threads;            /* worker threads; 0 = number of cores */
  unsigned max_connections;    /* beyond this, new connections are closed at once */
  unsigned per_ip_connections; /* 0 = unlimited */
  unsigned request_timeout_s;  /* a request's headers or body arriving slower than this: closed */
  unsigned idle_timeout_s;     /* an idle keep-alive connection is closed after this */
  size_t max_body_bytes;       /* larger bodies: 413 */
  size_t max_header_bytes;     /* larger request line + headers: 431 */
  bool log_requests;
} http_server_config;

/* Defaults of API.md: 64 KiB body, 16 KiB headers, 10 s request, 60 s idle. */
void http_server_config_defaults(http_server_config *cfg);

typedef struct http_server http_server;

/* Starts serving. Returns NULL and writes a message into err on failure. */
http_server *http_server_start(const http_server_config *cfg, const http_routes *routes, char *err,
                               size_t err_size);

uint16_t http_server_port(const http_server *srv);

/* Stops accepting new connections, answers 503 to requests that arrive on open ones, waits
 * up to grace_ms for requests already being handled (including suspended ones) to finish,
 * then stops every thread and frees the server. Returns false, with the server still
 * running, if some request was still unanswered after grace_ms (a hung store). */
bool http_server_shutdown(http_server *srv, unsigned grace_ms);

#endif
