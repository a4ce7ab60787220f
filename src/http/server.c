#include "http/server.h"
#include "log/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_EXTRA_HEADERS  4
#define REQUEST_ID_MAX     64
#define PARAM_BUF_SIZE     256
#define DISCARD_MAX_BYTES  (1024 * 1024)
#define RECEIVING_GRACE_MS 1000

struct http_server {
  struct MHD_Daemon *daemon;
  http_server_config cfg;
  const http_routes *routes;
  atomic_int receiving;   /* requests whose headers or body are still arriving */
  atomic_int dispatched;  /* requests handed to a handler and not yet completed */
  atomic_bool stopping;   /* shutdown began: new requests get 503 and never reach a handler */
  atomic_int connections; /* open client connections; past cfg.max_connections new ones are closed */
  atomic_uint_fast64_t next_request_id;
  uint64_t request_id_salt;
};

typedef enum exchange_state {
  EX_RECEIVING,  /* headers seen, body arriving */
  EX_DISPATCHED, /* handler called, response not yet there */
  EX_SUSPENDED,  /* handler returned without a response; connection suspended */
  EX_READY,      /* response built, waiting to be queued */
  EX_QUEUED,     /* handed to libmicrohttpd */
} exchange_state;

struct http_exchange {
  http_server *srv;
  struct MHD_Connection *conn;
  const char *method;
  const char *path;
  const http_route *route; /* matched route, NULL until (or unless) one matched */
  struct timespec started;
  char request_id[REQUEST_ID_MAX + 1];

  char *body;
  size_t body_len, body_cap;
  unsigned early_status; /* a transport error found while receiving (413/431/400), else 0 */
  size_t discarded;      /* body bytes dropped after early_status was set */
  const char *early_reason;

  const char *params[HTTP_MAX_PATH_PARAMS];
  char param_buf[PARAM_BUF_SIZE];

  pthread_mutex_t lock; /* guards state and response between the handler and other threads */
  exchange_state state;
  bool orphaned; /* the connection ended while the store still had the request: the response frees it */
  struct MHD_Response *response;
  unsigned status;
  char *extra_headers[MAX_EXTRA_HEADERS][2];
  size_t n_extra_headers;
};

void http_server_config_defaults(http_server_config *cfg) {
  *cfg = (http_server_config){
      .host = NULL,
      .port = 8000,
      .threads = 0,
      .max_connections = 1024,
      .per_ip_connections = 1024,
      .request_timeout_s = 10,
      .idle_timeout_s = 60,
      .max_body_bytes = 64 * 1024,
      .max_header_bytes = 16 * 1024,
      .log_requests = true,
  };
}

/* ---- request accessors ---- */

const char *http_method(const http_exchange *ex) { return ex->method; }
const char *http_path(const http_exchange *ex) { return ex->path; }
const char *http_request_id(const http_exchange *ex) { return ex->request_id; }

const char *http_path_param(const http_exchange *ex, size_t index) {
  return index < HTTP_MAX_PATH_PARAMS ? ex->params[index] : NULL;
}

const char *http_query(const http_exchange *ex, const char *name) {
  return MHD_lookup_connection_value(ex->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const http_exchange *ex, const char *name) {
  return MHD_lookup_connection_value(ex->conn, MHD_HEADER_KIND, name);
}

const char *http_body(const http_exchange *ex, size_t *len) {
  *len = ex->body_len;
  return ex->body ? ex->body : "";
}

void http_add_header(http_exchange *ex, const char *name, const char *value) {
  if (ex->n_extra_headers == MAX_EXTRA_HEADERS) return;
  char *n = strdup(name), *v = strdup(value);
  if (!n || !v) {
    free(n);
    free(v);
    return;
  }
  ex->extra_headers[ex->n_extra_headers][0] = n;
  ex->extra_headers[ex->n_extra_headers][1] = v;
  ex->n_extra_headers++;
}

/* ---- responding ---- */

static void exchange_free(http_exchange *ex);

static void finish_response(http_exchange *ex, unsigned status, const char *content_type,
                            struct MHD_Response *r) {
  if (!r) { /* out of memory: the connection is dropped in on_request */
    status = 500;
  } else {
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(r, "X-Request-ID", ex->request_id);
    for (size_t i = 0; i < ex->n_extra_headers; i++)
      MHD_add_response_header(r, ex->extra_headers[i][0], ex->extra_headers[i][1]);
  }
  pthread_mutex_lock(&ex->lock);
  if (ex->orphaned) { /* nobody will send it any more */
    pthread_mutex_unlock(&ex->lock);
    if (r) MHD_destroy_response(r);
    exchange_free(ex);
    return;
  }
  ex->response = r;
  ex->status = status;
  bool resume = ex->state == EX_SUSPENDED;
  ex->state = EX_READY;
  if (resume) MHD_resume_connection(ex->conn);
  pthread_mutex_unlock(&ex->lock);
}

void http_respond(http_exchange *ex, unsigned status, const char *content_type, char *body, size_t len) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  if (!r) free(body);
  finish_response(ex, status, content_type, r);
}

void http_respond_static(http_exchange *ex, unsigned status, const char *content_type, const void *body,
                         size_t len) {
  finish_response(ex, status, content_type,
                  MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT));
}

void http_respond_file(http_exchange *ex, unsigned status, const char *content_type, int fd, size_t size) {
  struct MHD_Response *r = MHD_create_response_from_fd(size, fd);
  if (!r) close(fd);
  finish_response(ex, status, content_type, r);
}

/* ---- the libmicrohttpd callbacks ---- */

static bool header_is_valid_request_id(const char *v) {
  size_t n = v ? strlen(v) : 0;
  if (n == 0 || n > REQUEST_ID_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (v[i] < 0x21 || v[i] > 0x7e) return false;
  return true;
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value) {
  (void)kind;
  size_t *total = cls;
  *total += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
  return MHD_YES;
}

static http_exchange *exchange_new(http_server *srv, struct MHD_Connection *conn, const char *url,
                                   const char *method) {
  http_exchange *ex = calloc(1, sizeof *ex);
  if (!ex) return NULL;
  ex->srv = srv;
  ex->conn = conn;
  ex->method = method;
  ex->path = url;
  ex->state = EX_RECEIVING;
  pthread_mutex_init(&ex->lock, NULL);
  clock_gettime(CLOCK_MONOTONIC, &ex->started);
  const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-ID");
  if (header_is_valid_request_id(rid)) {
    snprintf(ex->request_id, sizeof ex->request_id, "%s", rid);
  } else {
    uint64_t n = atomic_fetch_add(&srv->next_request_id, 1);
    snprintf(ex->request_id, sizeof ex->request_id, "%016llx",
             (unsigned long long)(n ^ srv->request_id_salt));
  }
  atomic_fetch_add(&srv->receiving, 1);
  return ex;
}

static void exchange_free(http_exchange *ex) {
  if (ex->response) MHD_destroy_response(ex->response);
  ex->response = NULL;
  for (size_t i = 0; i < ex->n_extra_headers; i++) {
    free(ex->extra_headers[i][0]);
    free(ex->extra_headers[i][1]);
  }
  pthread_mutex_destroy(&ex->lock);
  free(ex->body);
  free(ex);
}

static enum MHD_Result count_content_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                            const char *value) {
  (void)kind, (void)value;
  unsigned *count = cls;
  if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) (*count)++;
  return MHD_YES;
}

/* Checks what can be checked once the headers are in: header block size and framing. */
static void check_headers(http_exchange *ex, const char *url) {
  const http_server_config *cfg = &ex->srv->cfg;
  size_t header_bytes = strlen(ex->method) + strlen(url) + 12; /* request line */
  MHD_get_connection_values(ex->conn, MHD_HEADER_KIND, add_header_size, &header_bytes);
  MHD_get_connection_values(ex->conn, MHD_GET_ARGUMENT_KIND, add_header_size, &header_bytes);
  if (header_bytes > cfg->max_header_bytes) {
    ex->early_status = 431;
    ex->early_reason = "Request header fields too large";
    return;
  }
  const char *cl = MHD_lookup_connection_value(ex->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  const char *te = MHD_lookup_connection_value(ex->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
  unsigned cl_count = 0;
  MHD_get_connection_values(ex->conn, MHD_HEADER_KIND, count_content_length, &cl_count);
  if ((cl && te) || cl_count > 1) { /* ambiguous framing: the classic request-smuggling vectors */
    ex->early_status = 400;
    ex->early_reason = cl_count > 1 ? "More than one Content-Length header is not allowed"
                                    : "Content-Length and Transfer-Encoding together are not allowed";
    return;
  }
  if (cl) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    if (errno == 0 && *end == '\0' && n > cfg->max_body_bytes) {
      ex->early_status = 413;
      ex->early_reason = "Request body too large";
    }
  }
}

static bool append_body(http_exchange *ex, const char *data, size_t n) {
  size_t max = ex->srv->cfg.max_body_bytes;
  if (ex->body_len + n > max) {
    ex->early_status = 413;
    ex->early_reason = "Request body too large";
    return false;
  }
  if (ex->body_len + n + 1 > ex->body_cap) {
    size_t cap = ex->body_cap ? ex->body_cap * 2 : 1024;
    while (cap < ex->body_len + n + 1) cap *= 2;
    if (cap > max + 1) cap = max + 1;
    char *b = realloc(ex->body, cap);
    if (!b) return false;
    ex->body = b;
    ex->body_cap = cap;
  }
  memcpy(ex->body + ex->body_len, data, n);
  ex->body_len += n;
  ex->body[ex->body_len] = '\0';
  return true;
}

static enum MHD_Result queue_ready(http_exchange *ex) {
  ex->state = EX_QUEUED;
  if (!ex->response) return MHD_NO;
  return MHD_queue_response(ex->conn, ex->status, ex->response);
}

/* Calls the route's handler (or the error renderer) and, if it did not answer at once,
 * suspends the connection until http_respond* is called from elsewhere. */
static enum MHD_Result dispatch(http_exchange *ex) {
  http_server *srv = ex->srv;
  const http_routes *t = srv->routes;
  ex->state = EX_DISPATCHED;
  atomic_fetch_sub(&srv->receiving, 1);
  /* Counted before `stopping` is read: shutdown sets `stopping` before it reads the count, so
   * either it waits for this request or this request sees `stopping` and is not suspended. */
  atomic_fetch_add(&srv->dispatched, 1);
  if (atomic_load(&srv->stopping)) {
    t->on_error(ex, t->app, 503, "Server is shutting down", NULL);
  } else if (ex->early_status) {
    t->on_error(ex, t->app, ex->early_status, ex->early_reason, NULL);
  } else {
    unsigned status = 0;
    char allow[64];
    const http_route *r = http_route_match(t, ex->method, ex->path, ex->params, ex->param_buf,
                                           sizeof ex->param_buf, &status, allow, sizeof allow);
    if (r) {
      ex->route = r;
      r->handler(ex, t->app);
    } else {
      t->on_error(ex, t->app, status, status == 405 ? "Method Not Allowed" : "Not Found",
                  status == 405 ? allow : NULL);
    }
  }
  pthread_mutex_lock(&ex->lock);
  enum MHD_Result rc = MHD_YES;
  if (ex->state == EX_READY) {
    rc = queue_ready(ex);
  } else {
    ex->state = EX_SUSPENDED;
    MHD_suspend_connection(ex->conn);
  }
  pthread_mutex_unlock(&ex->lock);
  return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  (void)version;
  http_server *srv = cls;
  http_exchange *ex = *con_cls;
  if (!ex) { /* first call: headers complete; never queue here (it would disable keep-alive) */
    ex = exchange_new(srv, conn, url, method);
    if (!ex) return MHD_NO;
    *con_cls = ex;
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, srv->cfg.request_timeout_s);
    check_headers(ex, url);
    /* Errors known from the headers are answered now, before any body is read; a response
     * queued on the first call makes libmicrohttpd close the connection afterwards. */
    return ex->early_status ? dispatch(ex) : MHD_YES;
  }
  if (*upload_data_size > 0) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (ex->early_status) {
      /* Too large a chunked body: libmicrohttpd can only answer once it has been read, so it
       * is discarded up to a bound, past which the connection is closed without an answer. */
      ex->discarded += n;
      return ex->discarded <= DISCARD_MAX_BYTES ? MHD_YES : MHD_NO;
    }
    return append_body(ex, upload_data, n) || ex->early_status ? MHD_YES : MHD_NO;
  }
  switch (ex->state) {
  case EX_RECEIVING:
    return dispatch(ex);
  case EX_READY: {
    pthread_mutex_lock(&ex->lock);
    enum MHD_Result rc = queue_ready(ex);
    pthread_mutex_unlock(&ex->lock);
    return rc;
  }
  case EX_DISPATCHED:
  case EX_SUSPENDED:
  case EX_QUEUED:
    break;
  }
  return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  http_server *srv = cls;
  http_exchange *ex = *con_cls;
  if (!ex) return;
  *con_cls = NULL;
  const http_routes *t = srv->routes;
  if (srv->cfg.log_requests || t->on_complete) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long us = (now.tv_sec - ex->started.tv_sec) * 1000000LL + (now.tv_nsec - ex->started.tv_nsec) / 1000;
    unsigned status = ex->state == EX_QUEUED && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ex->status : 0;
    if (t->on_complete) t->on_complete(t->app, ex->route, ex->method, status, us > 0 ? (uint64_t)us : 0);
    if (srv->cfg.log_requests)
      log_msg(LOG_INFO, "http", "%s %.200s %u %lldus %s%s", ex->method, ex->path, status, us, ex->request_id,
              toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted");
  }
  if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, srv->cfg.idle_timeout_s);
  atomic_fetch_sub(ex->state == EX_RECEIVING ? &srv->receiving : &srv->dispatched, 1);
  /* A connection can end while its store call is still running (at daemon stop after the
   * grace period): the exchange then lives on until the store answers, and is freed there. */
  pthread_mutex_lock(&ex->lock);
  bool pending = ex->state == EX_DISPATCHED || ex->state == EX_SUSPENDED;
  ex->orphaned = pending;
  pthread_mutex_unlock(&ex->lock);
  if (!pending) exchange_free(ex);
}

/* libmicrohttpd stops accepting at its own limit and leaves new connections waiting in the
 * listen backlog; the documented behaviour is to close them at once, so the limit is kept
 * here (libmicrohttpd's is set higher) and connections past it are refused on accept. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen) {
  (void)addr;
  (void)addrlen;
  http_server *srv = cls;
  return (unsigned)atomic_load(&srv->connections) < srv->cfg.max_connections ? MHD_YES : MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
  (void)conn;
  (void)socket_context;
  http_server *srv = cls;
  atomic_fetch_add(&srv->connections, code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

/* Connections beyond what the open-files limit leaves room for would make accept() fail
 * with EMFILE and stall new clients in the backlog. The soft limit is raised as far as the
 * hard limit allows; if that is still short, max_connections is lowered to fit, keeping room
 * for the store's files, the listening socket and each worker's epoll and wakeup fds. */
static void fit_open_files_limit(http_server_config *cfg, unsigned threads) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return;
  rlim_t reserve = 32 + 8 * (rlim_t)threads;
  rlim_t needed = cfg->max_connections + reserve;
  if (rl.rlim_cur < needed && rl.rlim_max != rl.rlim_cur) {
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > needed ? needed : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) getrlimit(RLIMIT_NOFILE, &rl);
  }
  rlim_t room = rl.rlim_cur > reserve ? rl.rlim_cur - reserve : 1;
  if (cfg->max_connections <= room) return;
  fprintf(stderr, "messenger: max connections lowered from %u to %u to fit the open-files limit (%llu)\n",
          cfg->max_connections, (unsigned)room, (unsigned long long)rl.rlim_cur);
  cfg->max_connections = (unsigned)room;
}

__attribute__((format(printf, 2, 0))) static void log_mhd(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n && msg[n - 1] == '\n') msg[--n] = '\0';
  fprintf(stderr, "messenger: http: %s\n", msg);
}

http_server *http_server_start(const http_server_config *cfg, const http_routes *routes, char *err,
                               size_t err_size) {
  http_server *srv = calloc(1, sizeof *srv);
  if (!srv) {
    snprintf(err, err_size, "out of memory");
    return NULL;
  }
  srv->cfg = *cfg;
  srv->routes = routes;
  atomic_init(&srv->receiving, 0);
  atomic_init(&srv->dispatched, 0);
  atomic_init(&srv->stopping, false);
  atomic_init(&srv->connections, 0);
  atomic_init(&srv->next_request_id, 1);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  srv->request_id_salt = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 16);

  unsigned threads = cfg->threads;
  if (threads == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    threads = n > 0 ? (unsigned)n : 1;
  }
  fit_open_files_limit(&srv->cfg, threads);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(cfg->port)};
  if (cfg->host && cfg->host[0]) {
    if (inet_pton(AF_INET, cfg->host, &addr.sin_addr) != 1) {
      snprintf(err, err_size, "invalid listen address '%s' (an IPv4 address is expected)", cfg->host);
      free(srv);
      return NULL;
    }
  } else {
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
  }
  /* Headers larger than our limit must still reach on_request to get a JSON 431, so the
   * per-connection pool is larger than max_header_bytes. */
  size_t pool = cfg->max_header_bytes * 2 > 32 * 1024 ? cfg->max_header_bytes * 2 : 32 * 1024;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
                   MHD_USE_ERROR_LOG;
  /* libmicrohttpd splits its limit evenly between the workers: let each take them all, and
   * enforce the real limit in on_accept. */
  srv->daemon = MHD_start_daemon(
      flags, cfg->port, on_accept, srv, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, threads,
      MHD_OPTION_CONNECTION_LIMIT, srv->cfg.max_connections * threads + 1, MHD_OPTION_NOTIFY_CONNECTION,
      on_connection, srv, MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->per_ip_connections,
      MHD_OPTION_CONNECTION_TIMEOUT, cfg->request_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
  if (!srv->daemon) {
    snprintf(err, err_size, "cannot listen on %s:%u: %s", cfg->host && cfg->host[0] ? cfg->host : "0.0.0.0",
             cfg->port, errno ? strerror(errno) : "libmicrohttpd refused the configuration");
    free(srv);
    return NULL;
  }
  return srv;
}

uint16_t http_server_port(const http_server *srv) {
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
  return info ? info->port : srv->cfg.port;
}

bool http_server_shutdown(http_server *srv, unsigned grace_ms) {
  MHD_socket listen_fd = MHD_quiesce_daemon(srv->daemon); /* closed only after the threads stop */
  atomic_store(&srv->stopping, true);
  /* Requests already handed to a handler are finished (up to grace_ms); requests still
   * arriving get a second to complete, so a client that vanished mid-request cannot hold
   * the shutdown until its timeout. */
  for (unsigned waited = 0; waited < grace_ms; waited += 10) {
    bool handling = atomic_load(&srv->dispatched) > 0;
    bool arriving = atomic_load(&srv->receiving) > 0 && waited < RECEIVING_GRACE_MS;
    if (!handling && !arriving) break;
    usleep(10 * 1000);
  }
  if (atomic_load(&srv->dispatched) > 0) {
    /* libmicrohttpd aborts the process if stopped with suspended connections; leave the
     * threads running and let the caller exit. */
    fprintf(stderr, "messenger: %d requests still unanswered after %u ms\n", atomic_load(&srv->dispatched),
            grace_ms);
    return false;
  }
  MHD_stop_daemon(srv->daemon);
  if (listen_fd != MHD_INVALID_SOCKET) close(listen_fd);
  free(srv);
  return true;
}
