/* One client connection on its worker's loop: reading, strict parsing with llhttp, deadlines,
 * dispatch to the router, responses (from any thread, handed back through the worker's
 * wakeup), streams and upgrades. See http/internal.h for the threading rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http/http.h"
#include "http/internal.h"
#include "http/parse.h"
#include "log/log.h"

#define REQUEST_ID_MAX   64
#define PARAM_BUF_SIZE   256
#define MAX_HEADERS      100
#define CONTENT_TYPE_MAX 128
#define FILE_CHUNK_BYTES (64 * 1024)
#define LINGER_MS        2000
#define LINGER_MAX_BYTES (1024 * 1024)
#define ERROR_SEND_MS    2000
/* Bytes of pipelined requests read ahead while a response is pending; beyond this the
 * connection stops reading until the pending requests are parsed. */
#define READ_AHEAD_MAX    (64 * 1024)
#define CONTINUE_RESPONSE "HTTP/1.1 100 Continue\r\n\r\n"

/* The exchange whose handler runs on this thread right now (a loop thread in dispatch): an
 * answer given inline is taken at once instead of through the worker's wakeup. */
static _Thread_local http_exchange *dispatching;

typedef enum conn_state {
  CONN_IDLE,       /* between requests (or before the first): idle deadline */
  CONN_HEAD,       /* request line + headers arriving: header deadline */
  CONN_BODY,       /* body arriving: body deadline */
  CONN_DISPATCHED, /* handler has the exchange; reading ahead (bounded) */
  CONN_WRITING,    /* response being written: send deadline */
  CONN_STREAM,     /* long-lived response or upgraded connection */
  CONN_LINGER,     /* response sent, write side shut: discarding input until EOF or LINGER_MS */
  CONN_CLOSED,
} conn_state;

typedef enum response_kind { RESP_NONE, RESP_BUFFER, RESP_FILE, RESP_STREAM, RESP_UPGRADE } response_kind;

struct http_stream {
  pthread_mutex_t lock; /* guards the fields up to `queued` */
  char *pending;        /* bytes accepted and not yet handed to the socket */
  size_t pending_len, pending_cap;
  size_t in_flight; /* bytes in the current socket write */
  bool closing;     /* no more writes accepted (close requested, overflow, or ended) */
  bool close_requested;
  bool overflow;       /* the buffer overflowed with no trailer: close at once */
  bool overflow_flush; /* it overflowed and the trailer is what is pending: flush, then close */
  char *trailer;       /* see http_stream_set_overflow_trailer */
  size_t trailer_len;
  bool queued; /* on the worker's stream hand-off list */
  http_stream *next_queued;
  bool ended; /* on_closed has run; freed once neither queued nor writing (loop thread) */

  http_worker *w;
  http_conn *conn; /* loop thread; NULL once ended */
  bool started;    /* head written (loop thread) */
  bool flush_deadline_set;
  http_stream_closed on_closed;
  http_stream_data on_data;
  void *user;
  char *writing; /* the buffer of the current socket write (loop thread) */
  uv_write_t write_req;
};

struct http_exchange {
  http_server *srv;
  http_worker *w;
  http_conn *conn; /* NULL when the connection ended while a handler had the exchange */
  struct timespec started;
  http_exchange *next_answered;
  bool dispatched;      /* counted in srv->dispatched until the answer is taken */
  bool answered_inline; /* answered by its handler before dispatch returned */
  bool head_complete;
  bool keep_alive;
  bool is_head;
  bool upgrade;
  bool expect_continue;
  unsigned http_minor;

  /* request: url, header names and values, copied NUL-terminated into `arena` */
  char *arena;
  size_t arena_len, arena_cap;
  size_t url_off, url_len;
  size_t header_bytes;
  struct {
    size_t name, value;
  } headers[MAX_HEADERS];
  size_t n_headers;
  bool in_field, in_value;
  char method[24];
  const char *path; /* decoded (in `decoded`) */
  char *decoded;
  size_t n_query;
  const char *query;
  char request_id[REQUEST_ID_MAX + 1];
  char *body;
  size_t body_len, body_cap;
  unsigned early_status; /* framing or limit error found while receiving */
  const char *early_reason;
  const http_route *route;
  const char *params[HTTP_MAX_PATH_PARAMS];
  char param_buf[PARAM_BUF_SIZE];

  /* response, filled by the responding thread, read by the loop thread after the hand-off */
  response_kind kind;
  unsigned status;
  char content_type[CONTENT_TYPE_MAX];
  char *extra[HTTP_MAX_EXTRA_HEADERS][2];
  size_t n_extra;
  char *owned_body;
  const char *body_out;
  size_t body_out_len;
  int file_fd;
  size_t file_size, file_sent;
  http_stream *stream;
};

struct http_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  http_worker *w;
  http_conn *prev, *next;
  struct sockaddr_storage peer;
  llhttp_t parser;
  conn_state state;
  http_exchange *ex;
  char *pending; /* bytes read and not yet parsed (pipelined requests, upgrade data) */
  size_t pending_off, pending_len;
  bool reading;
  bool in_written; /* on the worker's `written` list */
  http_conn *next_written;
  bool peer_eof;    /* the client shut its side: answer what is complete, then close */
  bool close_after; /* close once the current response is written */
  unsigned open_handles;
  size_t lingered;
  /* the raw head scan (what llhttp tolerates and this server does not): see scan_head */
  bool scan_done, at_line_start, blank_cr, in_request_line, prev_space, seen_line;
  uv_write_t write_req;
  uv_write_t continue_req;
  uv_shutdown_t shutdown_req;
  char *head; /* the response head being written */
  char *file_chunk;
  http_stream *stream;
};

static llhttp_settings_t parser_settings;
static pthread_once_t parser_settings_once = PTHREAD_ONCE_INIT;

static void conn_close(http_conn *c);
static void conn_process(http_conn *c);
static void conn_send_response(http_conn *c, http_exchange *ex);
static void conn_read_start(http_conn *c);
static void stream_flush(http_stream *s);
static void conn_linger(http_conn *c);
static void on_deadline(uv_timer_t *timer);

/* ---- small helpers ---- */

static uint64_t elapsed_us(const struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long us = (now.tv_sec - since->tv_sec) * 1000000LL + (now.tv_nsec - since->tv_nsec) / 1000;
  return us > 0 ? (uint64_t)us : 0;
}

static void conn_set_deadline(http_conn *c, uint64_t ms) {
  if (ms)
    uv_timer_start(&c->timer, on_deadline, ms, 0);
  else
    uv_timer_stop(&c->timer);
}

static bool arena_append(http_exchange *ex, const char *at, size_t n) {
  if (ex->arena_len + n + 1 > ex->arena_cap) {
    size_t cap = ex->arena_cap ? ex->arena_cap : 512;
    while (cap < ex->arena_len + n + 1) cap *= 2;
    char *a = realloc(ex->arena, cap);
    if (!a) return false;
    ex->arena = a;
    ex->arena_cap = cap;
  }
  if (!ex->arena) return false;
  memcpy(ex->arena + ex->arena_len, at, n);
  ex->arena_len += n;
  ex->arena[ex->arena_len] = '\0';
  return true;
}

/* Ends the string being built: its NUL stays, and the arena again ends in a NUL at arena_len,
 * so an offset recorded for a string not yet appended (a header value refused before its first
 * byte) reads as "" instead of past the arena. */
static bool arena_terminate(http_exchange *ex) {
  return arena_append(ex, "", 0) && (ex->arena_len++, arena_append(ex, "", 0));
}

/* ---- exchanges ---- */

static http_exchange *exchange_new(http_conn *c) {
  http_exchange *ex = calloc(1, sizeof *ex);
  if (!ex) return NULL;
  ex->srv = c->w->srv;
  ex->w = c->w;
  ex->conn = c;
  ex->file_fd = -1;
  snprintf(ex->method, sizeof ex->method, "-");
  clock_gettime(CLOCK_MONOTONIC, &ex->started);
  return ex;
}

static void exchange_free(http_exchange *ex) {
  for (size_t i = 0; i < ex->n_extra; i++) {
    free(ex->extra[i][0]);
    free(ex->extra[i][1]);
  }
  if (ex->file_fd >= 0) close(ex->file_fd);
  free(ex->owned_body);
  free(ex->arena);
  free(ex->decoded);
  free(ex->body);
  free(ex);
}

/* The one place a request ends: observer, access log line, free. status 0: not sent. */
static void exchange_finish(http_exchange *ex, unsigned status) {
  http_server *srv = ex->srv;
  const http_routes *t = srv->routes;
  if (ex->head_complete && (srv->cfg.log_requests || t->on_complete)) {
    uint64_t us = elapsed_us(&ex->started);
    if (t->on_complete) t->on_complete(t->app, ex->route, ex->method, status, us);
    if (srv->cfg.log_requests) {
      /* the path only, never the query (it may carry an access_token) */
      const char *path = ex->path ? ex->path : ex->arena ? ex->arena + ex->url_off : "-";
      size_t len = ex->path ? strlen(path) : ex->arena ? ex->url_len : 1;
      const char *query = memchr(path, '?', len);
      if (query) len = (size_t)(query - path);
      log_msg(LOG_INFO, "http", "%s %.*s %u %lluus %s%s", ex->method, (int)(len < 200 ? len : 200), path,
              status, (unsigned long long)us, ex->request_id[0] ? ex->request_id : "-",
              status ? "" : " aborted");
    }
  }
  exchange_free(ex);
}

static void set_request_id(http_exchange *ex) {
  const char *rid = http_header(ex, "X-Request-ID");
  size_t n = rid ? strlen(rid) : 0;
  bool valid = n > 0 && n <= REQUEST_ID_MAX;
  for (size_t i = 0; valid && i < n; i++) valid = rid[i] >= 0x21 && rid[i] <= 0x7e;
  if (valid) {
    memcpy(ex->request_id, rid, n + 1);
  } else {
    uint64_t id = atomic_fetch_add(&ex->srv->next_request_id, 1);
    snprintf(ex->request_id, sizeof ex->request_id, "%016llx",
             (unsigned long long)(id ^ ex->srv->request_id_salt));
  }
}

/* ---- request accessors ---- */

const char *http_method(const http_exchange *ex) { return ex->method; }
const char *http_path(const http_exchange *ex) { return ex->path ? ex->path : "/"; }
const char *http_request_id(const http_exchange *ex) { return ex->request_id; }
bool http_is_upgrade(const http_exchange *ex) { return ex->upgrade; }

const char *http_path_param(const http_exchange *ex, size_t index) {
  return index < HTTP_MAX_PATH_PARAMS ? ex->params[index] : NULL;
}

const char *http_query(const http_exchange *ex, const char *name) {
  return ex->query ? http_query_find(ex->query, ex->n_query, name) : NULL;
}

const char *http_header(const http_exchange *ex, const char *name) {
  for (size_t i = 0; i < ex->n_headers; i++)
    if (strcasecmp(ex->arena + ex->headers[i].name, name) == 0) return ex->arena + ex->headers[i].value;
  return NULL;
}

const char *http_body(const http_exchange *ex, size_t *len) {
  *len = ex->body_len;
  return ex->body ? ex->body : "";
}

static bool header_text_safe(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return false;
  return true;
}

void http_add_header(http_exchange *ex, const char *name, const char *value) {
  if (ex->n_extra == HTTP_MAX_EXTRA_HEADERS || !header_text_safe(name) || !header_text_safe(value)) return;
  char *n = strdup(name), *v = strdup(value);
  if (!n || !v) {
    free(n);
    free(v);
    return;
  }
  ex->extra[ex->n_extra][0] = n;
  ex->extra[ex->n_extra][1] = v;
  ex->n_extra++;
}

/* ---- answering (any thread) ---- */

/* Appends item to a worker's hand-off list (head, tail), linked through item->next_field; the
 * caller holds the worker's lock. */
#define HANDOFF_APPEND(head, tail, item, next_field)                                                         \
  do {                                                                                                       \
    (item)->next_field = NULL;                                                                               \
    if (tail)                                                                                                \
      (tail)->next_field = (item);                                                                           \
    else                                                                                                     \
      (head) = (item);                                                                                       \
    (tail) = (item);                                                                                         \
  } while (0)

/* Hands the answered exchange to its connection's loop. */
static void exchange_answered(http_exchange *ex, unsigned status, const char *content_type,
                              response_kind kind) {
  ex->status = status;
  ex->kind = kind;
  snprintf(ex->content_type, sizeof ex->content_type, "%s", content_type ? content_type : "");
  if (dispatching == ex) {
    ex->answered_inline = true;
    return;
  }
  http_worker *w = ex->w;
  pthread_mutex_lock(&w->lock);
  HANDOFF_APPEND(w->answered_head, w->answered_tail, ex, next_answered);
  pthread_mutex_unlock(&w->lock);
  uv_async_send(&w->wakeup);
}

void http_respond(http_exchange *ex, unsigned status, const char *content_type, char *body, size_t len) {
  ex->owned_body = body;
  ex->body_out = body;
  ex->body_out_len = body ? len : 0;
  exchange_answered(ex, status, content_type, RESP_BUFFER);
}

void http_respond_static(http_exchange *ex, unsigned status, const char *content_type, const void *body,
                         size_t len) {
  ex->body_out = body;
  ex->body_out_len = body ? len : 0;
  exchange_answered(ex, status, content_type, RESP_BUFFER);
}

void http_respond_file(http_exchange *ex, unsigned status, const char *content_type, int fd, size_t size) {
  ex->file_fd = fd;
  ex->file_size = size;
  exchange_answered(ex, status, content_type, RESP_FILE);
}

static http_stream *stream_new(http_exchange *ex, http_stream_data on_data, http_stream_closed on_closed,
                               void *user) {
  http_stream *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  pthread_mutex_init(&s->lock, NULL);
  s->w = ex->w;
  s->on_closed = on_closed;
  s->on_data = on_data;
  s->user = user;
  return s;
}

http_stream *http_respond_stream(http_exchange *ex, unsigned status, const char *content_type,
                                 http_stream_closed on_closed, void *user) {
  ex->stream = stream_new(ex, NULL, on_closed, user);
  http_stream *s = ex->stream;
  exchange_answered(ex, status, content_type, s ? RESP_STREAM : RESP_NONE);
  return s;
}

http_stream *http_upgrade(http_exchange *ex, http_stream_data on_data, http_stream_closed on_closed,
                          void *user) {
  if (!ex->upgrade) { /* rendered like any transport error */
    const http_routes *t = ex->srv->routes;
    t->on_error(ex, t->app, 400, "Connection upgrade required", NULL);
    return NULL;
  }
  ex->stream = stream_new(ex, on_data, on_closed, user);
  http_stream *s = ex->stream;
  exchange_answered(ex, 101, NULL, s ? RESP_UPGRADE : RESP_NONE);
  return s;
}

/* ---- streams (any thread) ---- */

/* Puts the stream on its worker's hand-off list; the caller holds s->lock. Returns whether the
 * worker must be woken. */
static bool stream_enqueue_locked(http_stream *s) {
  if (s->queued) return false;
  s->queued = true;
  http_worker *w = s->w;
  pthread_mutex_lock(&w->lock);
  HANDOFF_APPEND(w->streams_head, w->streams_tail, s, next_queued);
  pthread_mutex_unlock(&w->lock);
  return true;
}

bool http_stream_write(http_stream *s, const void *data, size_t len) {
  bool ok = false, wake = false;
  pthread_mutex_lock(&s->lock);
  if (!s->closing) {
    size_t max = s->w->srv->cfg.max_stream_buffer_bytes;
    if (s->pending_len + s->in_flight + len > max) {
      s->closing = true;
      /* what was accepted still goes out (the reader resumes after it), then the trailer */
      char *p = s->trailer ? realloc(s->pending, s->pending_len + s->trailer_len) : NULL;
      if (p) {
        memcpy(p + s->pending_len, s->trailer, s->trailer_len);
        s->pending = p;
        s->pending_len += s->trailer_len;
        s->pending_cap = s->pending_len;
        s->close_requested = s->overflow_flush = true;
      } else {
        s->overflow = true;
      }
      wake = stream_enqueue_locked(s);
    } else {
      if (s->pending_len + len > s->pending_cap) {
        size_t cap = s->pending_cap ? s->pending_cap : 4096;
        while (cap < s->pending_len + len) cap *= 2;
        char *p = realloc(s->pending, cap);
        if (p) {
          s->pending = p;
          s->pending_cap = cap;
        }
      }
      if (s->pending_len + len <= s->pending_cap) {
        memcpy(s->pending + s->pending_len, data, len);
        s->pending_len += len;
        ok = true;
        wake = stream_enqueue_locked(s);
      }
    }
  }
  pthread_mutex_unlock(&s->lock);
  if (wake) uv_async_send(&s->w->wakeup);
  return ok;
}

bool http_stream_set_overflow_trailer(http_stream *s, const void *data, size_t len) {
  char *copy = malloc(len ? len : 1);
  if (!copy) return false;
  memcpy(copy, data, len);
  pthread_mutex_lock(&s->lock);
  free(s->trailer);
  s->trailer = copy;
  s->trailer_len = len;
  pthread_mutex_unlock(&s->lock);
  return true;
}

void http_stream_close(http_stream *s) {
  bool wake = false;
  pthread_mutex_lock(&s->lock);
  if (!s->closing) {
    s->close_requested = s->closing = true;
    wake = stream_enqueue_locked(s);
  }
  pthread_mutex_unlock(&s->lock);
  if (wake) uv_async_send(&s->w->wakeup);
}

/* Loop thread: frees an ended stream once no hand-off list and no socket write refer to it. */
static void stream_free_if_done(http_stream *s) {
  pthread_mutex_lock(&s->lock);
  bool referenced = s->queued || s->writing;
  pthread_mutex_unlock(&s->lock);
  if (!s->ended || referenced) return;
  pthread_mutex_destroy(&s->lock);
  free(s->pending);
  free(s->trailer);
  free(s);
}

/* Loop thread: the stream has ended; tell the application once. */
static void stream_end(http_stream *s) {
  pthread_mutex_lock(&s->lock);
  s->closing = true;
  pthread_mutex_unlock(&s->lock);
  s->conn = NULL;
  s->ended = true;
  s->on_closed(s, s->user);
  stream_free_if_done(s);
}

static void on_stream_written(uv_write_t *req, int status) {
  http_stream *s = req->data;
  free(s->writing);
  pthread_mutex_lock(&s->lock);
  s->writing = NULL;
  s->in_flight = 0;
  pthread_mutex_unlock(&s->lock);
  if (s->ended) {
    stream_free_if_done(s);
    return;
  }
  if (!s->conn) return;
  if (status != 0) {
    conn_close(s->conn);
    return;
  }
  stream_flush(s);
}

/* Loop thread: writes what is pending, or closes when asked and nothing is left. */
static void stream_flush(http_stream *s) {
  http_conn *c = s->conn;
  if (!c || !s->started || s->writing) return;
  pthread_mutex_lock(&s->lock);
  bool overflow = s->overflow, close_requested = s->close_requested, overflow_flush = s->overflow_flush;
  bool close_now = close_requested && s->pending_len == 0;
  char *bytes = s->pending;
  size_t len = s->pending_len;
  if (!overflow && len) {
    s->pending = NULL;
    s->pending_len = s->pending_cap = 0;
    s->in_flight = len;
  }
  pthread_mutex_unlock(&s->lock);
  if (overflow) { /* a reader that fell behind, and no trailer to tell it: cut off */
    conn_close(c);
    return;
  }
  if (close_now) { /* everything went: the write side is shut after it, nothing is reset away */
    conn_linger(c);
    return;
  }
  if (close_requested && !s->flush_deadline_set) { /* flushing before the close: bounded */
    s->flush_deadline_set = true;
    /* after an overflow the trailer waits for a reader that has fallen behind: as long as a
     * response would */
    conn_set_deadline(c,
                      overflow_flush ? (uint64_t)c->w->srv->cfg.send_timeout_s * 1000 : HTTP_STREAM_FLUSH_MS);
  }
  if (!len) return;
  pthread_mutex_lock(&s->lock);
  s->writing = bytes;
  pthread_mutex_unlock(&s->lock);
  uv_buf_t buf = uv_buf_init(bytes, (unsigned)len);
  s->write_req.data = s;
  if (uv_write(&s->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_stream_written) != 0) {
    pthread_mutex_lock(&s->lock);
    s->writing = NULL;
    s->in_flight = 0;
    pthread_mutex_unlock(&s->lock);
    free(bytes);
    conn_close(c);
  }
}

/* ---- the worker's hand-offs (loop thread) ---- */

/* Loop thread: an answered exchange goes out on its connection (or is dropped with it). */
static void take_answer(http_exchange *ex) {
  if (ex->dispatched) {
    ex->dispatched = false;
    atomic_fetch_sub(&ex->srv->dispatched, 1);
  }
  if (ex->conn) {
    conn_send_response(ex->conn, ex);
    return;
  }
  if (ex->stream) /* the connection ended while the handler had it */
    stream_end(ex->stream);
  exchange_finish(ex, 0);
}

void http_worker_take_handoffs(http_worker *w) {
  pthread_mutex_lock(&w->lock);
  http_exchange *ex = w->answered_head;
  http_stream *s = w->streams_head;
  w->answered_head = w->answered_tail = NULL;
  w->streams_head = w->streams_tail = NULL;
  pthread_mutex_unlock(&w->lock);
  while (ex) {
    http_exchange *next = ex->next_answered;
    take_answer(ex);
    ex = next;
  }
  while (s) {
    http_stream *next = s->next_queued;
    pthread_mutex_lock(&s->lock);
    s->queued = false;
    pthread_mutex_unlock(&s->lock);
    if (s->ended)
      stream_free_if_done(s);
    else
      stream_flush(s);
    s = next;
  }
}

void http_worker_close_streams(http_worker *w) {
  for (http_conn *c = w->conns, *next; c; c = next) {
    next = c->next;
    if (c->stream) http_stream_close(c->stream);
  }
}

void http_worker_close_all(http_worker *w) {
  while (w->conns) conn_close(w->conns);
}

/* ---- writing responses (loop thread) ---- */

static const char *reason_phrase(unsigned status) {
  switch (status) {
  case 101:
    return "Switching Protocols";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 202:
    return "Accepted";
  case 204:
    return "No Content";
  case 304:
    return "Not Modified";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 409:
    return "Conflict";
  case 413:
    return "Content Too Large";
  case 414:
    return "URI Too Long";
  case 415:
    return "Unsupported Media Type";
  case 417:
    return "Expectation Failed";
  case 422:
    return "Unprocessable Content";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 503:
    return "Service Unavailable";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Unknown";
  }
}

static const char *date_header(http_worker *w) {
  time_t now = time(NULL);
  if (now != w->date_second) {
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(w->date, sizeof w->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    w->date_second = now;
  }
  return w->date;
}

/* The status line and headers, malloc'ed; *len set. NULL when out of memory. */
/* A response head under construction: appends that would not fit are cut (cap is computed
 * from the parts, so they never are). */
typedef struct head_buf {
  char *at;
  size_t used, cap;
} head_buf;

static void head_put(head_buf *h, const char *s, size_t n) {
  if (n > h->cap - 1 - h->used) n = h->cap - 1 - h->used;
  memcpy(h->at + h->used, s, n);
  h->used += n;
}

static void head_puts(head_buf *h, const char *s) { head_put(h, s, strlen(s)); }

static void head_put_uint(head_buf *h, uint64_t v) {
  char digits[24];
  size_t n = 0;
  do digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  head_put(h, digits + sizeof digits - n, n);
}

static void head_put_field(head_buf *h, const char *name, const char *value) {
  head_puts(h, name);
  head_put(h, ": ", 2);
  head_puts(h, value);
  head_put(h, "\r\n", 2);
}

/* Builds the status line and headers (snprintf-free: this runs for every response). */
static char *build_head(http_conn *c, http_exchange *ex, size_t *len) {
  size_t cap = 512;
  for (size_t i = 0; i < ex->n_extra; i++) cap += strlen(ex->extra[i][0]) + strlen(ex->extra[i][1]) + 4;
  head_buf h = {.at = malloc(cap), .cap = cap};
  if (!h.at) return NULL;
  head_put(&h, "HTTP/1.1 ", 9);
  head_put_uint(&h, ex->status);
  head_put(&h, " ", 1);
  head_puts(&h, reason_phrase(ex->status));
  head_put(&h, "\r\n", 2);
  head_puts(&h, date_header(c->w));
  if (ex->kind == RESP_UPGRADE) {
    /* the application names Upgrade and Connection itself (http_add_header) */
  } else if (ex->kind == RESP_STREAM) {
    head_put_field(&h, "Content-Type", ex->content_type);
    head_put(&h, "Connection: close\r\n", 19);
  } else {
    head_put_field(&h, "Content-Type", ex->content_type);
    head_put(&h, "Content-Length: ", 16);
    head_put_uint(&h, ex->kind == RESP_FILE ? ex->file_size : ex->body_out_len);
    head_put(&h, "\r\n", 2);
    if (c->close_after)
      head_put(&h, "Connection: close\r\n", 19);
    else if (ex->http_minor == 0)
      head_put(&h, "Connection: keep-alive\r\n", 24);
  }
  if (ex->request_id[0]) head_put_field(&h, "X-Request-ID", ex->request_id);
  for (size_t i = 0; i < ex->n_extra; i++) head_put_field(&h, ex->extra[i][0], ex->extra[i][1]);
  head_put(&h, "\r\n", 2);
  h.at[h.used] = '\0';
  *len = h.used;
  return h.at;
}

static void on_response_written(uv_write_t *req, int status);

static void on_shutdown_done(uv_shutdown_t *req, int status) {
  (void)req;
  (void)status; /* the linger deadline closes the connection either way */
}

/* The response is out and the connection will not be reused: shut the write side and discard
 * what the client still sends (so the kernel does not reset the answer away), bounded. */
static void conn_linger(http_conn *c) {
  c->state = CONN_LINGER;
  conn_set_deadline(c, LINGER_MS);
  c->shutdown_req.data = c;
  if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown_done) != 0) {
    conn_close(c);
    return;
  }
  conn_read_start(c);
}

/* Loop thread: the answer's head (and body) went out: the request ends (log line, observer). */
static void conn_finish_exchange(http_conn *c) {
  http_exchange *ex = c->ex;
  c->ex = NULL;
  free(c->head);
  c->head = NULL;
  if (ex) exchange_finish(ex, ex->status);
}

/* Loop thread: the first thing in a write callback. False when the connection is gone or the
 * write failed (then it is closed): the callback has nothing more to do. */
static bool conn_write_succeeded(http_conn *c, int status) {
  if (c->state == CONN_CLOSED) return false;
  if (status == 0) return true;
  conn_close(c);
  return false;
}

/* Loop thread: the request is over (response fully written). Next request, linger or close. */
static void conn_request_done(http_conn *c) {
  conn_finish_exchange(c);
  if (c->close_after) {
    conn_linger(c);
    return;
  }
  c->state = CONN_IDLE;
  conn_set_deadline(c, (uint64_t)c->w->srv->cfg.idle_timeout_s * 1000);
  conn_process(c);
}

static void write_file_chunk(http_conn *c) {
  http_exchange *ex = c->ex;
  size_t want = ex->file_size - ex->file_sent;
  if (want > FILE_CHUNK_BYTES) want = FILE_CHUNK_BYTES;
  if (!c->file_chunk && !(c->file_chunk = malloc(FILE_CHUNK_BYTES))) {
    conn_close(c);
    return;
  }
  ssize_t n;
  do n = pread(ex->file_fd, c->file_chunk, want, (off_t)ex->file_sent);
  while (n < 0 && errno == EINTR);
  if (n <= 0) { /* the file shrank or failed: the promised length cannot be kept */
    conn_close(c);
    return;
  }
  ex->file_sent += (size_t)n;
  uv_buf_t buf = uv_buf_init(c->file_chunk, (unsigned)n);
  c->write_req.data = c;
  if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_response_written) != 0) conn_close(c);
}

/* Loop thread: the response (or a file chunk) is out. */
static void conn_response_written(http_conn *c) {
  http_exchange *ex = c->ex;
  if (ex && ex->kind == RESP_FILE && !ex->is_head && ex->file_sent < ex->file_size) {
    write_file_chunk(c);
    return;
  }
  free(c->file_chunk);
  c->file_chunk = NULL;
  conn_request_done(c);
}

static void on_response_written(uv_write_t *req, int status) {
  http_conn *c = req->data;
  if (conn_write_succeeded(c, status)) conn_response_written(c);
}

void http_worker_on_written(uv_idle_t *idle) {
  http_worker *w = idle->data;
  while (w->written) { /* finishing one may answer its next pipelined request: it comes back */
    http_conn *c = w->written;
    w->written = c->next_written;
    c->in_written = false;
    conn_response_written(c);
  }
  uv_idle_stop(idle);
}

static void written_unlink(http_conn *c) {
  if (!c->in_written) return;
  c->in_written = false;
  for (http_conn **p = &c->w->written; *p; p = &(*p)->next_written)
    if (*p == c) {
      *p = c->next_written;
      return;
    }
}

/* Writes what the socket takes at once (no write request: libuv then changes no polling).
 * Returns true when it all went (the connection is queued on the worker's written list),
 * false with bufs/nbufs advanced past what went, or with the connection closed on an error. */
static bool write_at_once(http_conn *c, uv_buf_t *bufs, unsigned *nbufs) {
  int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, *nbufs);
  if (n == UV_EAGAIN) return false;
  if (n < 0) {
    conn_close(c);
    return false;
  }
  size_t sent = (size_t)n;
  unsigned first = 0;
  while (first < *nbufs && sent >= bufs[first].len) sent -= bufs[first++].len;
  if (first == *nbufs) {
    http_worker *w = c->w;
    if (!w->written) uv_idle_start(&w->written_idle, http_worker_on_written);
    c->next_written = w->written;
    w->written = c;
    c->in_written = true;
    return true;
  }
  for (unsigned i = first; i < *nbufs; i++) bufs[i - first] = bufs[i];
  *nbufs -= first;
  bufs[0].base += sent;
  bufs[0].len -= sent;
  return false;
}

/* Loop thread: a stream's head is out; the request is answered, the stream starts. */
static void on_stream_head_written(uv_write_t *req, int status) {
  http_conn *c = req->data;
  if (!conn_write_succeeded(c, status)) return;
  http_stream *s = c->stream;
  conn_finish_exchange(c);
  s->started = true;
  if (s->on_data && c->pending_len > c->pending_off) { /* bytes that came after the upgrade request */
    size_t n = c->pending_len - c->pending_off;
    char *bytes = c->pending + c->pending_off;
    c->pending = NULL;
    c->pending_off = c->pending_len = 0;
    s->on_data(s, (const uint8_t *)bytes, n, s->user);
    free(bytes);
    if (c->state == CONN_CLOSED) return;
  }
  conn_read_start(c);
  stream_flush(s);
}

static void conn_send_response(http_conn *c, http_exchange *ex) {
  bool stream = ex->kind == RESP_STREAM || ex->kind == RESP_UPGRADE;
  if (ex->kind == RESP_NONE) { /* out of memory in http_respond_stream/http_upgrade */
    c->ex = NULL;
    exchange_finish(ex, 0);
    conn_close(c);
    return;
  }
  if (stream) {
    c->stream = ex->stream;
    ex->stream->conn = c;
    ex->stream = NULL;
    c->state = CONN_STREAM;
    c->close_after = true;
    conn_set_deadline(c, 0);
  } else {
    if (!ex->keep_alive || atomic_load(&c->w->srv->stopping)) c->close_after = true;
    c->state = CONN_WRITING;
    conn_set_deadline(c, (uint64_t)c->w->srv->cfg.send_timeout_s * 1000);
  }
  size_t head_len;
  c->head = build_head(c, ex, &head_len);
  if (!c->head) {
    conn_close(c);
    return;
  }
  uv_buf_t bufs[2] = {uv_buf_init(c->head, (unsigned)head_len)};
  unsigned nbufs = 1;
  if (ex->kind == RESP_BUFFER && !ex->is_head && ex->body_out_len)
    bufs[nbufs++] = uv_buf_init((char *)(uintptr_t)ex->body_out, (unsigned)ex->body_out_len);
  if (ex->kind == RESP_BUFFER || (ex->kind == RESP_FILE && ex->is_head)) {
    if (write_at_once(c, bufs, &nbufs) || c->state == CONN_CLOSED) return;
  }
  c->write_req.data = c;
  if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, bufs, nbufs,
               stream ? on_stream_head_written : on_response_written) != 0)
    conn_close(c);
}

/* ---- parsing (loop thread) ---- */

static http_exchange *parser_exchange(llhttp_t *p) { return ((http_conn *)p->data)->ex; }

static int fail(http_exchange *ex, unsigned status, const char *reason) {
  if (!ex->early_status) {
    ex->early_status = status;
    ex->early_reason = reason;
  }
  return -1;
}

static int on_url(llhttp_t *p, const char *at, size_t n) {
  http_exchange *ex = parser_exchange(p);
  ex->url_len += n;
  if (ex->url_len > ex->srv->cfg.max_target_bytes) return fail(ex, 414, "Request target too long");
  if (ex->url_len > ex->srv->cfg.max_header_bytes) return fail(ex, 431, "Request header fields too large");
  return arena_append(ex, at, n) ? 0 : fail(ex, 503, "Out of memory");
}

static int on_url_complete(llhttp_t *p) {
  http_exchange *ex = parser_exchange(p);
  ex->header_bytes = ex->url_len;
  return arena_terminate(ex) ? 0 : fail(ex, 503, "Out of memory");
}

/* A piece of a header name or value (llhttp may split them across reads): appended to the
 * arena, where *_complete NUL-terminates it. */
static int header_piece(llhttp_t *p, const char *at, size_t n, bool value) {
  http_exchange *ex = parser_exchange(p);
  ex->header_bytes += n;
  if (ex->header_bytes > ex->srv->cfg.max_header_bytes)
    return fail(ex, 431, "Request header fields too large");
  if (value && !http_field_value_valid(at, n)) return fail(ex, 400, "Invalid character in a header value");
  if (!value && !ex->in_field) {
    if (ex->n_headers == MAX_HEADERS) return fail(ex, 431, "Too many header fields");
    ex->headers[ex->n_headers].name = ex->arena_len;
    ex->headers[ex->n_headers].value = ex->arena_len; /* until the value starts */
    ex->n_headers++;
    ex->in_field = true;
  }
  if (value && !ex->in_value) {
    ex->headers[ex->n_headers - 1].value = ex->arena_len;
    ex->in_value = true;
  }
  return arena_append(ex, at, n) ? 0 : fail(ex, 503, "Out of memory");
}

static int on_header_field(llhttp_t *p, const char *at, size_t n) { return header_piece(p, at, n, false); }
static int on_header_value(llhttp_t *p, const char *at, size_t n) { return header_piece(p, at, n, true); }

static int on_header_field_complete(llhttp_t *p) {
  http_exchange *ex = parser_exchange(p);
  ex->header_bytes += 4; /* ": " and CRLF, as counted on the wire */
  ex->in_field = false;
  if (!arena_terminate(ex)) return fail(ex, 503, "Out of memory");
  ex->headers[ex->n_headers - 1].value = ex->arena_len; /* an empty value gets no on_header_value */
  return 0;
}

static int on_header_value_complete(llhttp_t *p) {
  http_exchange *ex = parser_exchange(p);
  ex->in_value = false;
  /* trailing whitespace is not part of the value (RFC 9110 5.5) */
  size_t start = ex->headers[ex->n_headers - 1].value;
  const char *v = ex->arena ? ex->arena + start : "";
  size_t len = ex->arena_len - start;
  while (len && (v[len - 1] == ' ' || v[len - 1] == '\t')) len--;
  ex->arena_len = start + len;
  return arena_terminate(ex) ? 0 : fail(ex, 503, "Out of memory");
}

/* Framing checks llhttp leaves to us, and the limits known once the head is in. */
static int on_headers_complete(llhttp_t *p) {
  http_conn *c = p->data;
  http_exchange *ex = c->ex;
  http_server *srv = ex->srv;
  ex->head_complete = true;
  snprintf(ex->method, sizeof ex->method, "%s", llhttp_method_name((llhttp_method_t)p->method));
  ex->is_head = p->method == HTTP_HEAD;
  ex->http_minor = p->http_minor;
  set_request_id(ex);
  if (p->http_major != 1 || p->http_minor > 1) return fail(ex, 505, "HTTP version not supported");
  unsigned content_lengths = 0, transfer_encodings = 0;
  bool chunked = false;
  for (size_t i = 0; i < ex->n_headers; i++) {
    const char *name = ex->arena + ex->headers[i].name, *value = ex->arena + ex->headers[i].value;
    if (strcasecmp(name, "Content-Length") == 0) content_lengths++;
    if (strcasecmp(name, "Transfer-Encoding") == 0) {
      transfer_encodings++;
      chunked = http_transfer_encoding_is_chunked(value, strlen(value));
    }
    if (strcasecmp(name, "Expect") == 0) {
      if (strcasecmp(value, "100-continue") != 0) return fail(ex, 417, "Expectation not supported");
      ex->expect_continue = true;
    }
  }
  if (content_lengths > 1) return fail(ex, 400, "More than one Content-Length header is not allowed");
  if (content_lengths && transfer_encodings)
    return fail(ex, 400, "Content-Length and Transfer-Encoding together are not allowed");
  if (transfer_encodings > 1 || (transfer_encodings && !chunked))
    return fail(ex, 501, "Transfer-Encoding other than chunked is not implemented");
  if (content_lengths && p->content_length > srv->cfg.max_body_bytes)
    return fail(ex, 413, "Request body too large");
  ex->upgrade = p->upgrade != 0;
  const char *conn_hdr = http_header(ex, "Connection");
  if (conn_hdr && strcasestr(conn_hdr, "upgrade") && http_header(ex, "Upgrade")) ex->upgrade = true;
  /* the url: path and query, decoded */
  ex->decoded = malloc(HTTP_TARGET_DECODED_SIZE(ex->url_len));
  if (!ex->decoded) return fail(ex, 503, "Out of memory");
  const char *bad = http_target_decode(ex->arena + ex->url_off, ex->url_len, ex->decoded, &ex->n_query);
  if (bad) return fail(ex, 400, bad);
  ex->path = ex->decoded;
  ex->query = ex->decoded + strlen(ex->decoded) + 1;
  c->state = CONN_BODY;
  conn_set_deadline(c, (uint64_t)srv->cfg.request_timeout_s * 1000);
  if (ex->expect_continue && (content_lengths || chunked) && !atomic_load(&srv->stopping)) {
    uv_buf_t buf = uv_buf_init((char *)(uintptr_t)CONTINUE_RESPONSE, sizeof CONTINUE_RESPONSE - 1);
    c->continue_req.data = c;
    if (uv_write(&c->continue_req, (uv_stream_t *)&c->tcp, &buf, 1, NULL) != 0)
      return fail(ex, 400, "Connection failed");
  }
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
  http_exchange *ex = parser_exchange(p);
  size_t max = ex->srv->cfg.max_body_bytes;
  if (ex->body_len + n > max) return fail(ex, 413, "Request body too large");
  if (ex->body_len + n + 1 > ex->body_cap) {
    size_t cap = ex->body_cap ? ex->body_cap * 2 : 1024;
    while (cap < ex->body_len + n + 1) cap *= 2;
    if (cap > max + 1) cap = max + 1;
    char *b = realloc(ex->body, cap);
    if (!b) return fail(ex, 503, "Out of memory");
    ex->body = b;
    ex->body_cap = cap;
  }
  memcpy(ex->body + ex->body_len, at, n);
  ex->body_len += n;
  ex->body[ex->body_len] = '\0';
  return 0;
}

static int on_chunk_header(llhttp_t *p) {
  http_exchange *ex = parser_exchange(p);
  if (p->content_length > ex->srv->cfg.max_body_bytes - ex->body_len)
    return fail(ex, 413, "Request body too large");
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  http_exchange *ex = parser_exchange(p);
  ex->keep_alive = llhttp_should_keep_alive(p) != 0;
  return HPE_PAUSED;
}

static void init_parser_settings(void) {
  llhttp_settings_init(&parser_settings);
  parser_settings.on_url = on_url;
  parser_settings.on_url_complete = on_url_complete;
  parser_settings.on_header_field = on_header_field;
  parser_settings.on_header_field_complete = on_header_field_complete;
  parser_settings.on_header_value = on_header_value;
  parser_settings.on_header_value_complete = on_header_value_complete;
  parser_settings.on_headers_complete = on_headers_complete;
  parser_settings.on_body = on_body;
  parser_settings.on_chunk_header = on_chunk_header;
  parser_settings.on_message_complete = on_message_complete;
}

/* The status and reason of a parse error llhttp found. */
static unsigned parse_error_status(llhttp_errno_t err, const char **reason) {
  switch (err) {
  case HPE_INVALID_TRANSFER_ENCODING:
    *reason = "Transfer-Encoding other than chunked is not implemented";
    return 501;
  case HPE_INVALID_VERSION:
    *reason = "HTTP version not supported";
    return 505;
  case HPE_INVALID_METHOD:
    *reason = "Invalid request method";
    return 400;
  case HPE_UNEXPECTED_CONTENT_LENGTH:
    *reason = "Content-Length and Transfer-Encoding together are not allowed";
    return 400;
  case HPE_INVALID_CONTENT_LENGTH:
    *reason = "Invalid Content-Length";
    return 400;
  case HPE_INVALID_CHUNK_SIZE:
    *reason = "Invalid chunk size";
    return 400;
  case HPE_INVALID_HEADER_TOKEN:
    *reason = "Invalid character in a header field";
    return 400;
  case HPE_INVALID_URL:
    *reason = "Invalid request target";
    return 400;
  default:
    *reason = "Malformed request";
    return 400;
  }
}

/* ---- dispatch (loop thread) ---- */

static void conn_read_stop(http_conn *c) {
  if (!c->reading) return;
  c->reading = false;
  uv_read_stop((uv_stream_t *)&c->tcp);
}

static void leave_receiving(http_conn *c) {
  if (c->state == CONN_HEAD || c->state == CONN_BODY) atomic_fetch_sub(&c->w->srv->receiving, 1);
}

/* Hands the complete request (or a transport error for it) to the application. */
static void dispatch(http_conn *c, unsigned error_status, const char *error_reason) {
  http_exchange *ex = c->ex;
  http_server *srv = c->w->srv;
  const http_routes *t = srv->routes;
  leave_receiving(c);
  c->state = CONN_DISPATCHED;
  conn_set_deadline(c, 0);
  /* after an error the rest of the bytes cannot be trusted to be framed; after an upgrade
   * request that was not upgraded, they are another protocol's. Otherwise the connection goes
   * on reading (the next pipelined requests, kept in c->pending), so that a keep-alive
   * exchange costs no stop and restart of the socket's polling. */
  if (error_status || ex->upgrade) {
    c->close_after = true;
    conn_read_stop(c);
  }
  ex->dispatched = true;
  /* Counted before `stopping` is read: shutdown sets `stopping` before it reads the count, so
   * either it waits for this request or this request sees `stopping` and gets 503. */
  atomic_fetch_add(&srv->dispatched, 1);
  if (error_status) {
    dispatching = ex;
    t->on_error(ex, t->app, error_status, error_reason, NULL);
  } else if (atomic_load(&srv->stopping)) {
    c->close_after = true;
    dispatching = ex;
    t->on_error(ex, t->app, 503, "Server is shutting down", NULL);
  } else {
    unsigned status = 0;
    char allow[64];
    const http_route *r = http_route_match(t, ex->method, ex->path, ex->params, ex->param_buf,
                                           sizeof ex->param_buf, &status, allow, sizeof allow);
    if (r) {
      ex->route = r;
      dispatching = ex;
      r->handler(ex, t->app);
    } else {
      dispatching = ex;
      t->on_error(ex, t->app, status, status == 405 ? "Method Not Allowed" : "Not Found",
                  status == 405 ? allow : NULL);
    }
  }
  dispatching = NULL;
  if (ex->answered_inline) take_answer(ex);
}

/* A transport error while receiving: answered through the application's renderer, then the
 * connection is closed (the rest of its bytes cannot be trusted to be framed). */
static void dispatch_error(http_conn *c, unsigned status, const char *reason) {
  if (!c->ex->head_complete) set_request_id(c->ex);
  c->ex->head_complete = true;                   /* it counts as a request: logged and observed */
  if (c->ex->method[0] == '-' && c->ex->url_len) /* the method came before the target */
    snprintf(c->ex->method, sizeof c->ex->method, "%s",
             llhttp_method_name((llhttp_method_t)c->parser.method));
  free(c->pending);
  c->pending = NULL;
  c->pending_off = c->pending_len = 0;
  dispatch(c, status, reason);
}

/* Scans the raw bytes of a request head for what llhttp accepts and this server rejects:
 * obs-fold (a header line starting with a space or tab, which llhttp unfolds; RFC 9112 5.2
 * lets a server reject it, and a proxy in front may have framed the request differently) and
 * more than one space between the parts of the request line. Stops at the blank line. Returns
 * the reason for a 400, or NULL. */
static const char *scan_head(http_conn *c, const char *data, size_t len) {
  for (size_t i = 0; i < len && !c->scan_done; i++) {
    char b = data[i];
    if (c->blank_cr) { /* a CR at the start of a line: the blank line that ends the head */
      c->blank_cr = false;
      if (b == '\n') {
        c->scan_done = c->seen_line; /* empty lines before the request line are skipped */
        continue;
      }
    } else if (c->at_line_start) {
      if (c->seen_line && (b == ' ' || b == '\t')) return "Obsolete line folding is not allowed";
      if (b == '\r') {
        c->blank_cr = true;
        continue;
      }
      if (b == '\n') {
        c->scan_done = c->seen_line;
        continue;
      }
      c->at_line_start = false;
      c->in_request_line = !c->seen_line;
      c->seen_line = true;
    }
    if (b == '\n') {
      c->at_line_start = true;
      c->in_request_line = false;
    } else if (c->in_request_line) {
      if (b == ' ' && c->prev_space) return "Malformed request line";
      c->prev_space = b == ' ';
    }
  }
  return NULL;
}

/* Parses what is pending or just read (data, len; data inside c->pending or the worker's read
 * buffer). Returns the number of bytes consumed. */
static size_t conn_parse(http_conn *c, const char *data, size_t len) {
  if (c->state == CONN_IDLE) {
    c->ex = exchange_new(c);
    if (!c->ex) {
      conn_close(c);
      return len;
    }
    c->state = CONN_HEAD;
    c->scan_done = c->blank_cr = c->prev_space = c->seen_line = c->in_request_line = false;
    c->at_line_start = true;
    atomic_fetch_add(&c->w->srv->receiving, 1);
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    conn_set_deadline(c, (uint64_t)c->w->srv->cfg.request_timeout_s * 1000);
  }
  const char *bad_head = c->state == CONN_HEAD ? scan_head(c, data, len) : NULL;
  if (bad_head) {
    dispatch_error(c, 400, bad_head);
    return len;
  }
  llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
  if (err == HPE_OK) return len;
  size_t used = len;
  const char *pos = llhttp_get_error_pos(&c->parser);
  if (pos && pos >= data && pos <= data + len) used = (size_t)(pos - data);
  if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
    dispatch(c, 0, NULL);
    return used;
  }
  const char *reason = c->ex->early_reason;
  unsigned status = c->ex->early_status ? c->ex->early_status : parse_error_status(err, &reason);
  dispatch_error(c, status, reason);
  return len;
}

/* Runs the parser over the pending bytes while the connection can take a request. */
static void conn_process(http_conn *c) {
  while (c->pending && (c->state == CONN_IDLE || c->state == CONN_HEAD || c->state == CONN_BODY)) {
    size_t n = c->pending_len - c->pending_off;
    char *bytes = c->pending;
    size_t used = conn_parse(c, bytes + c->pending_off, n);
    if (c->state == CONN_CLOSED) return;
    if (c->pending != bytes) break; /* dropped by an error path */
    c->pending_off += used;
    if (c->pending_off >= c->pending_len) {
      free(c->pending);
      c->pending = NULL;
      c->pending_off = c->pending_len = 0;
    }
  }
  if (c->state == CONN_IDLE || c->state == CONN_HEAD || c->state == CONN_BODY) {
    if (c->peer_eof) /* no more bytes can complete the next request */
      conn_close(c);
    else
      conn_read_start(c);
  }
}

/* ---- reading (loop thread) ---- */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  http_conn *c = handle->data;
  *buf = uv_buf_init(c->w->read_buffer, sizeof c->w->read_buffer);
}

/* Appends bytes read to what is pending (compacting what was parsed). */
static void keep_pending(http_conn *c, const char *bytes, size_t n) {
  size_t kept = c->pending ? c->pending_len - c->pending_off : 0;
  char *p = malloc(kept + n);
  if (!p) {
    conn_close(c);
    return;
  }
  if (kept) memcpy(p, c->pending + c->pending_off, kept);
  memcpy(p + kept, bytes, n);
  free(c->pending);
  c->pending = p;
  c->pending_off = 0;
  c->pending_len = kept + n;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  http_conn *c = stream->data;
  if (nread == 0) return;
  if (nread < 0) { /* EOF or error: nothing more can arrive */
    if (nread == UV_EOF && (c->state == CONN_DISPATCHED || c->state == CONN_WRITING)) {
      /* a half close after the request: its answer (and those of the requests before the
       * end) still go out */
      c->peer_eof = true;
      conn_read_stop(c);
      return;
    }
    conn_close(c);
    return;
  }
  size_t n = (size_t)nread;
  switch (c->state) {
  case CONN_DISPATCHED:
  case CONN_WRITING: /* the next pipelined requests: parsed once this response is out */
    keep_pending(c, buf->base, n);
    if (c->state != CONN_CLOSED && c->pending_len - c->pending_off >= READ_AHEAD_MAX) conn_read_stop(c);
    return;
  case CONN_LINGER:
    c->lingered += n;
    if (c->lingered > LINGER_MAX_BYTES) conn_close(c);
    return;
  case CONN_STREAM:
    if (c->stream && c->stream->on_data && c->stream->started)
      c->stream->on_data(c->stream, (const uint8_t *)buf->base, n, c->stream->user);
    return; /* an event stream's client has nothing to say: discarded */
  case CONN_IDLE:
  case CONN_HEAD:
  case CONN_BODY: {
    size_t used = conn_parse(c, buf->base, n);
    if (c->state != CONN_CLOSED && used < n) keep_pending(c, buf->base + used, n - used);
    return;
  }
  default:
    return; /* not reading in these states */
  }
}

static void conn_read_start(http_conn *c) {
  if (c->reading || c->state == CONN_CLOSED) return;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
    c->reading = true;
  else
    conn_close(c);
}

/* ---- deadlines (loop thread) ---- */

static void on_deadline(uv_timer_t *timer) {
  http_conn *c = timer->data;
  switch (c->state) {
  case CONN_HEAD:
  case CONN_BODY:
    dispatch_error(c, 408, "Request timeout");
    if (c->state == CONN_WRITING) conn_set_deadline(c, ERROR_SEND_MS);
    return;
  default: /* idle keep-alive, send, linger, stream flush: the connection ends */
    conn_close(c);
    return;
  }
}

/* ---- accepting and closing (loop thread) ---- */

static void on_handle_closed(uv_handle_t *h) {
  http_conn *c = h->data;
  if (--c->open_handles == 0) free(c);
}

static void conn_close(http_conn *c) {
  if (c->state == CONN_CLOSED) return;
  leave_receiving(c);
  bool dispatched = c->state == CONN_DISPATCHED;
  c->state = CONN_CLOSED;
  if (c->prev)
    c->prev->next = c->next;
  else
    c->w->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  http_server_release_peer(c->w->srv, &c->peer);
  written_unlink(c);
  if (c->ex) {
    if (dispatched && c->ex->dispatched)
      c->ex->conn = NULL; /* the handler still has it: freed when it answers */
    else
      exchange_finish(c->ex, 0);
    c->ex = NULL;
  }
  if (c->stream) {
    http_stream *s = c->stream;
    c->stream = NULL;
    stream_end(s);
  }
  free(c->pending);
  c->pending = NULL;
  free(c->head);
  c->head = NULL;
  free(c->file_chunk);
  c->file_chunk = NULL;
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_refused_closed(uv_handle_t *h) { free(h); }

/* Takes a connection only to close it (out of memory for its state; else it would wait in the
 * backlog). */
static void refuse_connection(http_worker *w) {
  uv_tcp_t *tcp = malloc(sizeof *tcp);
  if (!tcp) return;
  uv_tcp_init(&w->loop, tcp);
  uv_accept((uv_stream_t *)&w->listener, (uv_stream_t *)tcp);
  uv_close((uv_handle_t *)tcp, on_refused_closed);
}

void http_conn_accept(http_worker *w) {
  pthread_once(&parser_settings_once, init_parser_settings);
  http_conn *c = calloc(1, sizeof *c);
  if (!c) {
    refuse_connection(w);
    return;
  }
  uv_tcp_t *tcp = &c->tcp; /* first member: on_refused_closed frees c whole */
  uv_tcp_init(&w->loop, tcp);
  tcp->data = c;
  if (uv_accept((uv_stream_t *)&w->listener, (uv_stream_t *)tcp) != 0) {
    uv_close((uv_handle_t *)tcp, on_refused_closed);
    return;
  }
  c->w = w;
  int len = sizeof c->peer;
  if (uv_tcp_getpeername(tcp, (struct sockaddr *)&c->peer, &len) != 0 ||
      !http_server_admit_peer(w->srv, &c->peer)) {
    uv_close((uv_handle_t *)tcp, on_refused_closed);
    return;
  }
  uv_tcp_nodelay(tcp, 1);
  uv_timer_init(&w->loop, &c->timer);
  c->timer.data = c;
  c->open_handles = 2;
  c->next = w->conns;
  if (w->conns) w->conns->prev = c;
  w->conns = c;
  c->state = CONN_IDLE;
  uv_timer_start(&c->timer, on_deadline, (uint64_t)w->srv->cfg.idle_timeout_s * 1000, 0);
  conn_read_start(c);
}
