/* http/server: the listening HTTP/1.1 server: one libuv event loop per worker thread, each with
 * its own listening socket on the same port (SO_REUSEPORT, the kernel spreads connections),
 * llhttp parsing every request strictly.
 *
 * Enforces the transport limits (body, header block, request target, connections, per-IP
 * connections, deadlines, write buffers), logs one line per request (method, path, status,
 * microseconds, request id; never bodies), and shuts down gracefully: stop accepting, close
 * event streams, let in-flight requests finish, then stop. The server borrows the route table,
 * which must outlive it. */
#ifndef MESSENGER_HTTP_SERVER_H
#define MESSENGER_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

typedef struct http_server_config {
  const char *host;               /* IPv4 address to bind; NULL or "" = all interfaces */
  uint16_t port;                  /* 0 = any free port (see http_server_port) */
  unsigned threads;               /* worker threads; 0 = number of cores */
  unsigned max_connections;       /* beyond this, new connections are closed at once */
  unsigned per_ip_connections;    /* 0 = unlimited */
  unsigned request_timeout_s;     /* deadline of the header block from its first byte, and then of the
                                     body from the end of the headers: 408 and closed */
  unsigned idle_timeout_s;        /* an idle keep-alive connection is closed after this */
  unsigned send_timeout_s;        /* a response not fully taken by the client within this: closed */
  size_t max_body_bytes;          /* larger bodies: 413 */
  size_t max_header_bytes;        /* larger request line + headers: 431 */
  size_t max_target_bytes;        /* longer request target: 414 */
  size_t max_stream_buffer_bytes; /* per stream: bytes accepted and not yet sent (http_stream_write) */
  bool log_requests;
} http_server_config;

/* Defaults of API.md: 64 KiB body, 16 KiB headers, 8 KiB target, 10 s request, 60 s idle,
 * 30 s to send a response, 256 KiB per stream. */
void http_server_config_defaults(http_server_config *cfg);

typedef struct http_server http_server;

/* Starts serving. Returns NULL and writes a message into err on failure. */
http_server *http_server_start(const http_server_config *cfg, const http_routes *routes, char *err,
                               size_t err_size);

uint16_t http_server_port(const http_server *srv);

/* Stops accepting new connections, closes every stream (their on_closed runs), answers 503
 * (and closes) to requests that arrive on open connections, waits up to grace_ms for requests
 * already being handled to be answered and one second for requests still arriving, then closes
 * every connection, stops every thread and frees the server. Returns false, with the server
 * still running, if some request was still unanswered after grace_ms (a hung store): its
 * response could not be delivered anywhere safely. */
bool http_server_shutdown(http_server *srv, unsigned grace_ms);

#endif
