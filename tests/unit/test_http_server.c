/* Unit tests for http/server with a route table of its own, on 127.0.0.1 and port 0: answers
 * from another thread, pipelining in order, the completion observer, streams (SSE-style:
 * head at once, bytes from any thread, close, a slow reader dropped, peer close, shutdown)
 * and upgrades (bytes both ways, including those sent right after the request head). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/server.h"

#define WAIT_MS 5000

static atomic_int closed_count;
static atomic_int completed_count;
static atomic_uint last_completed_status;
static http_stream *_Atomic held_stream;

static void on_error(http_exchange *ex, void *app, unsigned status, const char *reason, const char *allow) {
  (void)app;
  (void)allow;
  char *body = NULL;
  int n = asprintf(&body, "{\"detail\":\"%s\"}", reason);
  http_respond(ex, status, "application/json", n < 0 ? NULL : body, n < 0 ? 0 : (size_t)n);
}

static void on_complete(void *app, const http_route *route, const char *method, unsigned status,
                        uint64_t duration_us) {
  (void)app, (void)route, (void)method, (void)duration_us;
  atomic_store(&last_completed_status, status);
  atomic_fetch_add(&completed_count, 1);
}

static void on_stream_closed(http_stream *s, void *user) {
  (void)user;
  http_stream *expected = s;
  atomic_compare_exchange_strong(&held_stream, &expected, NULL);
  atomic_fetch_add(&closed_count, 1);
}

static void *answer_later(void *arg) {
  http_exchange *ex = arg;
  struct timespec ts = {.tv_nsec = 20 * 1000 * 1000};
  nanosleep(&ts, NULL);
  static const char body[] = "async";
  http_respond_static(ex, 200, "text/plain", body, sizeof body - 1);
  return NULL;
}

static void handle_async(http_exchange *ex, void *app) {
  (void)app;
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, answer_later, ex), 0);
  pthread_detach(t);
}

static void handle_sync(http_exchange *ex, void *app) {
  (void)app;
  static const char body[] = "sync";
  http_respond_static(ex, 200, "text/plain", body, sizeof body - 1);
}

static void *write_from_thread(void *arg) {
  http_stream *s = arg;
  http_stream_write(s, "data: two\n\n", 11);
  http_stream_close(s);
  return NULL;
}

/* Writes one event on the loop thread (before the head is out), one from another thread, then
 * closes. */
static void handle_sse_then_close(http_exchange *ex, void *app) {
  (void)app;
  http_add_header(ex, "Cache-Control", "no-cache");
  http_stream *s = http_respond_stream(ex, 200, "text/event-stream", on_stream_closed, NULL);
  assert_non_null(s);
  assert_true(http_stream_write(s, "data: one\n\n", 11));
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, write_from_thread, s), 0);
  pthread_detach(t);
}

/* Keeps the stream open for the test to write into (held_stream). */
static void handle_sse_held(http_exchange *ex, void *app) {
  (void)app;
  http_stream *s = http_respond_stream(ex, 200, "text/event-stream", on_stream_closed, NULL);
  atomic_store(&held_stream, s);
}

static void echo(http_stream *s, const uint8_t *data, size_t len, void *user) {
  (void)user;
  http_stream_write(s, data, len);
}

static void handle_upgrade(http_exchange *ex, void *app) {
  (void)app;
  http_add_header(ex, "Upgrade", "echo");
  http_add_header(ex, "Connection", "Upgrade");
  http_upgrade(ex, echo, on_stream_closed, NULL);
}

static const http_route routes[] = {
    {"GET", "/async", handle_async},        {"GET", "/sync", handle_sync},
    {"GET", "/sse", handle_sse_then_close}, {"GET", "/held", handle_sse_held},
    {"GET", "/upgrade", handle_upgrade},
};
static const http_routes table = {
    .routes = routes, .count = 5, .on_error = on_error, .on_complete = on_complete};

static http_server *start(size_t stream_buffer) {
  http_server_config cfg;
  http_server_config_defaults(&cfg);
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  cfg.threads = 2;
  cfg.log_requests = false;
  cfg.max_stream_buffer_bytes = stream_buffer;
  char err[256];
  http_server *srv = http_server_start(&cfg, &table, err, sizeof err);
  if (!srv) fail_msg("%s", err);
  atomic_store(&closed_count, 0);
  atomic_store(&completed_count, 0);
  atomic_store(&held_stream, NULL);
  return srv;
}

static int connect_to(http_server *srv) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(http_server_port(srv))};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
  return fd;
}

static void send_all(int fd, const char *text) {
  size_t len = strlen(text);
  assert_int_equal(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads until `until` appears in what was read (or the peer closes, when until is NULL).
 * Returns the bytes read, NUL-terminated, in a static buffer; *closed tells whether EOF came. */
static const char *read_until(int fd, const char *until, bool *closed) {
  static char buf[65536];
  size_t len = 0;
  *closed = false;
  buf[0] = '\0';
  struct pollfd p = {.fd = fd, .events = POLLIN};
  while (len + 1 < sizeof buf && (!until || !strstr(buf, until))) {
    if (poll(&p, 1, WAIT_MS) <= 0) break;
    ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
    if (n <= 0) {
      *closed = true;
      break;
    }
    len += (size_t)n;
    buf[len] = '\0';
  }
  return buf;
}

static bool wait_for(atomic_int *counter, int value) {
  for (int waited = 0; waited < WAIT_MS; waited += 5) {
    if (atomic_load(counter) >= value) return true;
    usleep(5000);
  }
  return false;
}

static void pipelined_answers_in_order_from_any_thread(void **state) {
  (void)state;
  http_server *srv = start(4096);
  int fd = connect_to(srv);
  send_all(fd, "GET /async HTTP/1.1\r\nHost: t\r\n\r\nGET /sync HTTP/1.1\r\nHost: t\r\n\r\n"
               "GET /async HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  bool closed;
  const char *got = read_until(fd, NULL, &closed);
  assert_true(closed);
  const char *a = strstr(got, "\r\n\r\nasync"), *b = strstr(got, "\r\n\r\nsync"),
             *c = b ? strstr(b, "\r\n\r\nasync") : NULL;
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(c);
  assert_true(a < b && b < c);
  close(fd);
  assert_true(wait_for(&completed_count, 3));
  assert_int_equal(atomic_load(&completed_count), 3);
  assert_true(http_server_shutdown(srv, 1000));
}

static void stream_sends_head_bytes_from_any_thread_then_closes(void **state) {
  (void)state;
  http_server *srv = start(4096);
  int fd = connect_to(srv);
  send_all(fd, "GET /sse HTTP/1.1\r\nHost: t\r\n\r\n");
  bool closed;
  const char *got = read_until(fd, NULL, &closed);
  assert_true(closed);
  assert_non_null(strstr(got, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(got, "Content-Type: text/event-stream\r\n"));
  assert_non_null(strstr(got, "Cache-Control: no-cache\r\n"));
  assert_non_null(strstr(got, "Connection: close\r\n"));
  assert_null(strstr(got, "Content-Length"));
  assert_non_null(strstr(got, "\r\n\r\ndata: one\n\ndata: two\n\n"));
  close(fd);
  assert_true(wait_for(&closed_count, 1));
  assert_int_equal(atomic_load(&completed_count), 1); /* answered once, when the head went out */
  assert_int_equal(atomic_load(&last_completed_status), 200);
  assert_true(http_server_shutdown(srv, 1000));
  assert_int_equal(atomic_load(&closed_count), 1);
}

static http_stream *open_held(http_server *srv, int *fd) {
  *fd = connect_to(srv);
  send_all(*fd, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
  bool closed;
  read_until(*fd, "\r\n\r\n", &closed);
  assert_false(closed);
  http_stream *s = atomic_load(&held_stream);
  assert_non_null(s);
  return s;
}

static void slow_reader_is_dropped_past_the_buffer(void **state) {
  (void)state;
  http_server *srv = start(64 * 1024);
  int fd;
  http_stream *s = open_held(srv, &fd);
  /* the client reads nothing: the socket buffers fill, then the stream's 64 KiB bound */
  static char chunk[16 * 1024];
  memset(chunk, 'x', sizeof chunk);
  bool refused = false;
  for (int i = 0; i < 100000 && !refused; i++) {
    refused = !http_stream_write(s, chunk, sizeof chunk);
    if (i % 16 == 0) usleep(1000);
  }
  assert_true(refused);
  assert_true(wait_for(&closed_count, 1));
  close(fd);
  assert_true(http_server_shutdown(srv, 1000));
  assert_int_equal(atomic_load(&closed_count), 1);
}

static void peer_close_ends_the_stream(void **state) {
  (void)state;
  http_server *srv = start(4096);
  int fd;
  http_stream *s = open_held(srv, &fd);
  assert_true(http_stream_write(s, "data: x\n\n", 9));
  bool closed;
  assert_non_null(strstr(read_until(fd, "data: x\n\n", &closed), "data: x\n\n"));
  close(fd);
  assert_true(wait_for(&closed_count, 1));
  assert_null(atomic_load(&held_stream));
  assert_true(http_server_shutdown(srv, 1000));
  assert_int_equal(atomic_load(&closed_count), 1);
}

static void shutdown_closes_streams_instead_of_waiting(void **state) {
  (void)state;
  http_server *srv = start(4096);
  int fd;
  open_held(srv, &fd);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_true(http_server_shutdown(srv, 20000));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_int_equal(atomic_load(&closed_count), 1);
  assert_true(t1.tv_sec - t0.tv_sec < 5); /* not the 20 s grace period */
  bool closed;
  read_until(fd, NULL, &closed);
  assert_true(closed);
  close(fd);
}

static void upgrade_passes_bytes_both_ways(void **state) {
  (void)state;
  http_server *srv = start(4096);
  int fd = connect_to(srv);
  /* bytes of the new protocol right behind the request head, in the same segment */
  send_all(fd, "GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly");
  bool closed;
  const char *got = read_until(fd, "early", &closed);
  assert_non_null(strstr(got, "HTTP/1.1 101 Switching Protocols\r\n"));
  assert_non_null(strstr(got, "Upgrade: echo\r\n"));
  assert_non_null(strstr(got, "\r\n\r\nearly"));
  send_all(fd, "more");
  assert_non_null(strstr(read_until(fd, "more", &closed), "more"));
  close(fd);
  assert_true(wait_for(&closed_count, 1));
  assert_true(http_server_shutdown(srv, 1000));
  assert_int_equal(atomic_load(&closed_count), 1);
}

static void upgrade_of_a_plain_request_is_refused(void **state) {
  (void)state;
  http_server *srv = start(4096);
  int fd = connect_to(srv);
  send_all(fd, "GET /upgrade HTTP/1.1\r\nHost: t\r\n\r\n");
  bool closed;
  const char *got = read_until(fd, "}", &closed);
  assert_non_null(strstr(got, "HTTP/1.1 400 "));
  close(fd);
  assert_true(http_server_shutdown(srv, 1000));
  assert_int_equal(atomic_load(&closed_count), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(pipelined_answers_in_order_from_any_thread),
      cmocka_unit_test(stream_sends_head_bytes_from_any_thread_then_closes),
      cmocka_unit_test(slow_reader_is_dropped_past_the_buffer),
      cmocka_unit_test(peer_close_ends_the_stream),
      cmocka_unit_test(shutdown_closes_streams_instead_of_waiting),
      cmocka_unit_test(upgrade_passes_bytes_both_ways),
      cmocka_unit_test(upgrade_of_a_plain_request_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
