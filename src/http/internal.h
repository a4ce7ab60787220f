/* http/internal: the structures shared by the server (http/server.c: threads, listening,
 * limits, shutdown) and the connections (http/conn.c: parsing, exchanges, responses, streams).
 * Not part of the interface toward api/.
 *
 * Threads: every connection, and everything it owns, belongs to one worker's loop thread. The
 * only state touched from other threads is a worker's `lock`-guarded hand-off lists (exchanges
 * answered elsewhere, streams with bytes or a close request), a stream's own `lock`-guarded
 * buffer, and the server's atomic counters. */
#ifndef MESSENGER_HTTP_INTERNAL_H
#define MESSENGER_HTTP_INTERNAL_H

#include <llhttp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <uv.h>

#include "http/server.h"

#define HTTP_READ_BUFFER_SIZE (64 * 1024)

typedef struct http_conn http_conn;
typedef struct http_worker http_worker;

struct http_worker {
  http_server *srv;
  unsigned index;
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_async_t wakeup;        /* other threads: "look at the hand-off lists" */
  uv_prepare_t before_wait; /* runs routes->before_wait (when set) before each poll */
  /* connections whose response went out whole at the first try (no write request): their
   * exchange ends on the loop's next idle phase, outside the call stack that wrote it */
  uv_idle_t written_idle;
  http_conn *written;
  uv_thread_t thread;
  bool loop_ready, listening;

  pthread_mutex_t lock; /* guards the three fields below */
  http_exchange *answered_head, *answered_tail;
  http_stream *streams_head, *streams_tail;
  int stop_phase; /* 1: stop accepting and close streams; 2: close everything and leave */

  http_conn *conns; /* every open connection (doubly linked; loop thread) */
  time_t date_second;
  char date[64]; /* "Date: ...\r\n" for date_second */
  char read_buffer[HTTP_READ_BUFFER_SIZE];
};

struct http_server {
  http_server_config cfg;
  const http_routes *routes;
  http_worker *workers;
  unsigned n_workers;
  uint16_t port;
  atomic_int receiving;   /* requests whose head or body is still arriving */
  atomic_int dispatched;  /* requests handed to a handler and not yet answered */
  atomic_bool stopping;   /* shutdown began: new requests get 503 and never reach a handler */
  atomic_int connections; /* open client connections */
  atomic_uint_fast64_t next_request_id;
  uint64_t request_id_salt;
  pthread_mutex_t peers_lock; /* guards peers */
  struct http_peer_count **peers;
};

/* server.c: connection accounting at accept (total and per client address). admit returns
 * false when a limit is reached (the connection is then closed at once); release undoes an
 * admit when the connection closes. */
bool http_server_admit_peer(http_server *srv, const struct sockaddr_storage *peer);
void http_server_release_peer(http_server *srv, const struct sockaddr_storage *peer);

/* conn.c */
void http_conn_accept(http_worker *w);          /* on the listener's connection callback */
void http_worker_take_handoffs(http_worker *w); /* on wakeup */
void http_worker_close_streams(http_worker *w); /* stop phase 1 */
void http_worker_close_all(http_worker *w);     /* stop phase 2 */
void http_worker_on_written(uv_idle_t *idle);   /* written_idle's callback */

#endif
