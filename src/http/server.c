#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/internal.h"
#include "log/log.h"

#define RECEIVING_GRACE_MS 1000
#define LISTEN_BACKLOG     1024
#define PEER_BUCKETS       1024

void http_server_config_defaults(http_server_config *cfg) {
  *cfg = (http_server_config){
      .host = NULL,
      .port = 8000,
      .threads = 0,
      .max_connections = 1024,
      .per_ip_connections = 1024,
      .request_timeout_s = 10,
      .idle_timeout_s = 60,
      .send_timeout_s = 30,
      .max_body_bytes = 64 * 1024,
      .max_header_bytes = 16 * 1024,
      .max_target_bytes = 8 * 1024,
      .max_stream_buffer_bytes = 256 * 1024,
      .log_requests = true,
  };
}

/* ---- connection limits ---- */

typedef struct http_peer_count {
  struct http_peer_count *next;
  unsigned char addr[16];
  size_t addr_len;
  unsigned count;
} http_peer_count;

static size_t peer_address(const struct sockaddr_storage *peer, unsigned char out[16]) {
  if (peer->ss_family == AF_INET) {
    memcpy(out, &((const struct sockaddr_in *)peer)->sin_addr, 4);
    return 4;
  }
  if (peer->ss_family == AF_INET6) {
    memcpy(out, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
    return 16;
  }
  return 0;
}

static http_peer_count **peer_slot(http_server *srv, const unsigned char *addr, size_t len) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < len; i++) h = (h ^ addr[i]) * 16777619u;
  http_peer_count **slot = &srv->peers[h % PEER_BUCKETS];
  while (*slot && ((*slot)->addr_len != len || memcmp((*slot)->addr, addr, len) != 0)) slot = &(*slot)->next;
  return slot;
}

bool http_server_admit_peer(http_server *srv, const struct sockaddr_storage *peer) {
  if ((unsigned)atomic_fetch_add(&srv->connections, 1) >= srv->cfg.max_connections) {
    atomic_fetch_sub(&srv->connections, 1);
    return false;
  }
  unsigned limit = srv->cfg.per_ip_connections;
  unsigned char addr[16];
  size_t len = peer_address(peer, addr);
  if (limit == 0 || len == 0) return true;
  bool admitted = true;
  pthread_mutex_lock(&srv->peers_lock);
  http_peer_count **slot = peer_slot(srv, addr, len);
  if (!*slot) {
    *slot = calloc(1, sizeof **slot);
    if (*slot) {
      memcpy((*slot)->addr, addr, len);
      (*slot)->addr_len = len;
    }
  }
  if (!*slot || (*slot)->count >= limit)
    admitted = false;
  else
    (*slot)->count++;
  pthread_mutex_unlock(&srv->peers_lock);
  if (!admitted) atomic_fetch_sub(&srv->connections, 1);
  return admitted;
}

void http_server_release_peer(http_server *srv, const struct sockaddr_storage *peer) {
  atomic_fetch_sub(&srv->connections, 1);
  unsigned char addr[16];
  size_t len = peer_address(peer, addr);
  if (srv->cfg.per_ip_connections == 0 || len == 0) return;
  pthread_mutex_lock(&srv->peers_lock);
  http_peer_count **slot = peer_slot(srv, addr, len);
  if (*slot && --(*slot)->count == 0) {
    http_peer_count *gone = *slot;
    *slot = gone->next;
    free(gone);
  }
  pthread_mutex_unlock(&srv->peers_lock);
}

/* Connections beyond what the open-files limit leaves room for would make accept() fail
 * with EMFILE and stall new clients in the backlog. The soft limit is raised as far as the
 * hard limit allows; if that is still short, max_connections is lowered to fit, keeping room
 * for the store's files and each worker's listening socket, epoll and wakeup descriptors. */
static void fit_open_files_limit(http_server_config *cfg, unsigned threads) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return;
  rlim_t reserve = 32 + 8 * (rlim_t)threads;
  rlim_t needed = cfg->max_connections + reserve;
  if (rl.rlim_cur < needed && rl.rlim_max != rl.rlim_cur) {
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > needed ? needed : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  }
  rlim_t room = rl.rlim_cur > reserve ? rl.rlim_cur - reserve : 1;
  if (cfg->max_connections <= room) return;
  log_msg(LOG_WARN, "http", "max connections lowered from %u to %u to fit the open-files limit (%llu)",
          cfg->max_connections, (unsigned)room, (unsigned long long)rl.rlim_cur);
  cfg->max_connections = (unsigned)room;
}

/* ---- workers ---- */

static void on_new_connection(uv_stream_t *listener, int status) {
  http_worker *w = listener->data;
  if (status == 0) http_conn_accept(w);
}

static void close_listener(http_worker *w) {
  if (!w->listening) return;
  w->listening = false;
  uv_close((uv_handle_t *)&w->listener, NULL);
}

static void on_wakeup(uv_async_t *async) {
  http_worker *w = async->data;
  pthread_mutex_lock(&w->lock);
  int phase = w->stop_phase;
  pthread_mutex_unlock(&w->lock);
  http_worker_take_handoffs(w);
  if (phase >= 1) {
    close_listener(w);
    http_worker_close_streams(w);
  }
  if (phase >= 2) {
    http_worker_close_all(w);
    http_worker_take_handoffs(w); /* frees the streams that ended while on the hand-off list */
    uv_close((uv_handle_t *)&w->wakeup, NULL);
    if (!uv_is_closing((uv_handle_t *)&w->before_wait)) uv_close((uv_handle_t *)&w->before_wait, NULL);
    if (!uv_is_closing((uv_handle_t *)&w->written_idle)) uv_close((uv_handle_t *)&w->written_idle, NULL);
  }
}

static void on_before_wait(uv_prepare_t *prepare) {
  http_worker *w = prepare->data;
  w->srv->routes->before_wait(w->srv->routes->app);
}

static void worker_main(void *arg) {
  http_worker *w = arg;
  uv_run(&w->loop, UV_RUN_DEFAULT);
}

static void signal_workers(http_server *srv, int phase) {
  for (unsigned i = 0; i < srv->n_workers; i++) {
    http_worker *w = &srv->workers[i];
    pthread_mutex_lock(&w->lock);
    w->stop_phase = phase;
    pthread_mutex_unlock(&w->lock);
    uv_async_send(&w->wakeup);
  }
}

/* A listening socket of its own for one worker, on the shared port (SO_REUSEPORT). */
static int open_listen_socket(const struct sockaddr_in *addr, char *err, size_t err_size) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
      bind(fd, (const struct sockaddr *)addr, sizeof *addr) != 0) {
    char host[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &addr->sin_addr, host, sizeof host);
    snprintf(err, err_size, "cannot listen on %s:%u: %s", host, ntohs(addr->sin_port), strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

static bool worker_init(http_server *srv, http_worker *w, unsigned index, struct sockaddr_in *addr, char *err,
                        size_t err_size) {
  w->srv = srv;
  w->index = index;
  pthread_mutex_init(&w->lock, NULL);
  int rc = uv_loop_init(&w->loop);
  if (rc != 0) {
    snprintf(err, err_size, "cannot create an event loop: %s", uv_strerror(rc));
    return false;
  }
  w->loop_ready = true;
  int fd = open_listen_socket(addr, err, err_size);
  if (fd < 0) return false;
  if (addr->sin_port == 0) { /* port 0: the first worker's port is everyone's */
    struct sockaddr_in bound = {0};
    socklen_t len = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &len) == 0) addr->sin_port = bound.sin_port;
  }
  uv_tcp_init(&w->loop, &w->listener);
  w->listener.data = w;
  w->listening = true;
  if ((rc = uv_tcp_open(&w->listener, fd)) != 0 ||
      (rc = uv_listen((uv_stream_t *)&w->listener, LISTEN_BACKLOG, on_new_connection)) != 0) {
    snprintf(err, err_size, "cannot listen: %s", uv_strerror(rc));
    return false;
  }
  uv_async_init(&w->loop, &w->wakeup, on_wakeup);
  w->wakeup.data = w;
  uv_prepare_init(&w->loop, &w->before_wait);
  w->before_wait.data = w;
  if (srv->routes->before_wait) uv_prepare_start(&w->before_wait, on_before_wait);
  uv_unref((uv_handle_t *)&w->before_wait); /* it never keeps the loop running */
  uv_idle_init(&w->loop, &w->written_idle);
  w->written_idle.data = w;
  return true;
}

/* Closes what worker_init opened and runs the loop until the handles are gone. */
static void worker_destroy(http_worker *w) {
  if (!w->loop_ready) {
    pthread_mutex_destroy(&w->lock);
    return;
  }
  close_listener(w);
  if (!uv_is_closing((uv_handle_t *)&w->wakeup) && w->wakeup.loop) uv_close((uv_handle_t *)&w->wakeup, NULL);
  if (!uv_is_closing((uv_handle_t *)&w->before_wait) && w->before_wait.loop)
    uv_close((uv_handle_t *)&w->before_wait, NULL);
  if (!uv_is_closing((uv_handle_t *)&w->written_idle) && w->written_idle.loop)
    uv_close((uv_handle_t *)&w->written_idle, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
  pthread_mutex_destroy(&w->lock);
}

static void server_free(http_server *srv, unsigned initialised_workers) {
  for (unsigned i = 0; i < initialised_workers; i++) worker_destroy(&srv->workers[i]);
  for (size_t b = 0; srv->peers && b < PEER_BUCKETS; b++) {
    while (srv->peers[b]) {
      http_peer_count *next = srv->peers[b]->next;
      free(srv->peers[b]);
      srv->peers[b] = next;
    }
  }
  free(srv->peers);
  pthread_mutex_destroy(&srv->peers_lock);
  free(srv->workers);
  free(srv);
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
  pthread_mutex_init(&srv->peers_lock, NULL);
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
      server_free(srv, 0);
      return NULL;
    }
  } else {
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
  }
  srv->workers = calloc(threads, sizeof *srv->workers);
  srv->peers = calloc(PEER_BUCKETS, sizeof *srv->peers);
  if (!srv->workers || !srv->peers) {
    snprintf(err, err_size, "out of memory");
    server_free(srv, 0);
    return NULL;
  }
  srv->n_workers = threads;
  for (unsigned i = 0; i < threads; i++) {
    if (!worker_init(srv, &srv->workers[i], i, &addr, err, err_size)) {
      server_free(srv, i + 1);
      return NULL;
    }
  }
  srv->port = ntohs(addr.sin_port);
  for (unsigned i = 0; i < threads; i++) {
    int rc = uv_thread_create(&srv->workers[i].thread, worker_main, &srv->workers[i]);
    if (rc != 0) {
      snprintf(err, err_size, "cannot start a worker thread: %s", uv_strerror(rc));
      signal_workers(srv, 2);
      for (unsigned j = 0; j < i; j++) uv_thread_join(&srv->workers[j].thread);
      server_free(srv, threads);
      return NULL;
    }
  }
  return srv;
}

uint16_t http_server_port(const http_server *srv) { return srv->port; }

bool http_server_shutdown(http_server *srv, unsigned grace_ms) {
  atomic_store(&srv->stopping, true);
  signal_workers(srv, 1);
  /* Requests already handed to a handler are answered (up to grace_ms); requests still
   * arriving get a second to complete, so a client that vanished mid-request cannot hold
   * the shutdown until its deadline. */
  for (unsigned waited = 0; waited < grace_ms; waited += 10) {
    bool handling = atomic_load(&srv->dispatched) > 0;
    bool arriving = atomic_load(&srv->receiving) > 0 && waited < RECEIVING_GRACE_MS;
    if (!handling && !arriving) break;
    usleep(10 * 1000);
  }
  if (atomic_load(&srv->dispatched) > 0) {
    /* A handler still owns an exchange and will answer it on a worker: the workers must stay. */
    log_msg(LOG_ERROR, "http", "%d requests still unanswered after %u ms", atomic_load(&srv->dispatched),
            grace_ms);
    return false;
  }
  signal_workers(srv, 2);
  for (unsigned i = 0; i < srv->n_workers; i++) uv_thread_join(&srv->workers[i].thread);
  server_free(srv, srv->n_workers);
  return true;
}
