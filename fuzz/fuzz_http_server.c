/* libFuzzer target for the whole HTTP request path as the server sees it: the real transport
 * (http/server) with the real routes (api) on a real SQLite store in a temporary directory,
 * started once in-process on 127.0.0.1 with an ephemeral port. Each input is written as raw
 * bytes to a fresh loopback connection, which is then half-closed; the answer is read until
 * the server closes (bounded by a timeout). This covers the request line, headers, framing,
 * body, routing, parameter parsing and validation. After every input the server must still
 * answer GET /health with 200, else the target aborts (a hang or dead worker is a finding). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api/api.h"
#include "http/server.h"
#include "store/sqlite/sqlite_store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IO_TIMEOUT_MS       10000
#define HALF_CLOSE_DELAY_MS 1

static uint16_t port;
static char dir[64];

static void remove_db(void) {
  static const char *const suffixes[] = {"", "-wal", "-shm"};
  char path[128];
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    snprintf(path, sizeof path, "%s/fuzz.db%s", dir, suffixes[i]);
    unlink(path);
  }
  rmdir(dir);
}

/* Each connection comes from the next of 127.0.1.1 .. 127.0.1.254: the server closes first
 * (errors, Connection: close), so every exchange leaves a TIME_WAIT on its side, and hundreds
 * of connections a second from one address would soon pick a source port whose old connection
 * is still in TIME_WAIT (a delayed or refused connect, mistaken for a dead server). */
static int connect_server(void) {
  static unsigned next_source;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in source = {.sin_family = AF_INET};
  source.sin_addr.s_addr = htonl(0x7f000101u + next_source++ % 254);
  if (bind(fd, (struct sockaddr *)&source, sizeof source) != 0) {
    close(fd);
    return -1;
  }
  struct timeval tv = {.tv_sec = IO_TIMEOUT_MS / 1000};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* Non-blocking connect, waited for with poll: a SYN that meets an old TIME_WAIT or a full
   * accept queue is retransmitted after a second, and libFuzzer's timer signal would make a
   * blocking connect fail with EINTR meanwhile. */
  int flags = fcntl(fd, F_GETFL);
  int error = 0;
  socklen_t error_len = sizeof error;
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  bool connected = flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 &&
                   (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 || errno == EINPROGRESS);
  if (connected) {
    int ready;
    do ready = poll(&p, 1, IO_TIMEOUT_MS);
    while (ready < 0 && errno == EINTR);
    connected = ready == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len) == 0 && error == 0 &&
                fcntl(fd, F_SETFL, flags) == 0;
  }
  if (!connected) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Writes the request, half-closes, and reads the answer into out (truncated) until the server
 * closes the connection. The half-close waits up to HALF_CLOSE_DELAY_MS for the server to
 * start answering, so that most inputs are parsed before the end of stream arrives (an end of
 * stream in the middle of a request closes the connection at once). The connection is reset at
 * the end, so that the server frees it at once. Returns the number of bytes kept, or -1
 * without a connection. */
static ssize_t exchange(const uint8_t *req, size_t len, char *out, size_t out_size) {
  int fd = connect_server();
  if (fd < 0) return -1;
  for (size_t off = 0; off < len;) { /* the server may answer early (413/431) and close */
    ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += (size_t)n;
  }
  struct pollfd p = {.fd = fd, .events = POLLIN};
  poll(&p, 1, HALF_CLOSE_DELAY_MS);
  shutdown(fd, SHUT_WR);
  size_t kept = 0;
  char sink[4096];
  for (;;) {
    int ready = poll(&p, 1, IO_TIMEOUT_MS);
    if (ready < 0 && errno == EINTR) continue; /* libFuzzer's timer signal */
    if (ready <= 0) break;
    char *buf = kept + 1 < out_size ? out + kept : sink;
    size_t room = kept + 1 < out_size ? out_size - 1 - kept : sizeof sink;
    ssize_t n = recv(fd, buf, room, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (buf != sink) kept += (size_t)n;
  }
  out[kept] = '\0';
  struct linger reset = {.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  close(fd);
  return (ssize_t)kept;
}

static bool server_is_healthy(void) {
  static const char health[] = "GET /health HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n";
  char answer[512];
  return exchange((const uint8_t *)health, sizeof health - 1, answer, sizeof answer) > 0 &&
         strncmp(answer, "HTTP/1.1 200 ", 13) == 0 && strstr(answer, "{\"status\":\"ok\"}");
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  signal(SIGPIPE, SIG_IGN);
  /* tmpfs when available: the store fsyncs every commit, which is free there. */
  snprintf(dir, sizeof dir, "%s",
           access("/dev/shm", W_OK) == 0 ? "/dev/shm/messenger-fuzz-XXXXXX" : "/tmp/messenger-fuzz-XXXXXX");
  if (!mkdtemp(dir)) {
    perror("fuzz_http_server: mkdtemp");
    exit(1);
  }
  atexit(remove_db);
  char path[128], err[256];
  snprintf(path, sizeof path, "%s/fuzz.db", dir);
  sqlite_store_config store_cfg = {.path = path};
  static store *st; /* lives as long as the process: the server keeps using it */
  if (sqlite_store_open(&store_cfg, &st, err, sizeof err) != 0) {
    fprintf(stderr, "fuzz_http_server: %s\n", err);
    exit(1);
  }
  static api app;
  if (!api_init(&app, st, &(api_options){.cors_origins = "*"}, err, sizeof err)) {
    fprintf(stderr, "fuzz_http_server: %s\n", err);
    exit(1);
  }
  http_server_config cfg;
  http_server_config_defaults(&cfg);
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  cfg.threads = 2;
  cfg.log_requests = false;
  http_server *srv = http_server_start(&cfg, &app.routes, err, sizeof err);
  if (!srv) {
    fprintf(stderr, "fuzz_http_server: %s\n", err);
    exit(1);
  }
  port = http_server_port(srv);
  /* Conversation 1 between users 1 and 2, so that reads of it reach the store's rows. */
  static const char seed[] =
      "POST /api/messages/ HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
      "Content-Length: 46\r\n\r\n{\"sender_id\":1,\"receiver_id\":2,\"content\":\"hi\"}";
  char answer[1024];
  if (exchange((const uint8_t *)seed, sizeof seed - 1, answer, sizeof answer) <= 0 ||
      strncmp(answer, "HTTP/1.1 201 ", 13) != 0 || !server_is_healthy()) {
    fprintf(stderr, "fuzz_http_server: the server does not answer as expected:\n%s\n", answer);
    exit(1);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char answer[256];
  if (exchange(data, size, answer, sizeof answer) < 0) {
    perror("fuzz_http_server: connect");
    abort();
  }
  if (!server_is_healthy()) {
    fprintf(stderr, "fuzz_http_server: GET /health failed after this input\n");
    abort();
  }
  return 0;
}
