/* redis client: URL parsing, and the client against a real redis-server that the test starts on
 * a free loopback port (and kills, stops and restarts to test reconnection and timeouts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis/redis.h"

/* ---- a redis-server child process ---------------------------------------------------------- */

typedef struct server {
  pid_t pid;
  int port;
  char dir[64];
} server;

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t len = sizeof a;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

static bool port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {
      .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void server_start(server *s, const char *password) {
  if (s->port == 0) s->port = free_port();
  if (s->dir[0] == '\0') {
    snprintf(s->dir, sizeof s->dir, "/tmp/redis-test-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
  }
  char port[16];
  snprintf(port, sizeof port, "%d", s->port);
  s->pid = fork();
  assert_true(s->pid >= 0);
  if (s->pid == 0) {
    const char *argv[] = {"redis-server",
                          "--port",
                          port,
                          "--bind",
                          "127.0.0.1",
                          "--save",
                          "",
                          "--appendonly",
                          "no",
                          "--dir",
                          s->dir,
                          "--loglevel",
                          "warning",
                          password ? "--requirepass" : NULL,
                          password,
                          NULL};
    execvp("redis-server", (char *const *)argv);
    _exit(127);
  }
  for (int i = 0; i < 500 && !port_open(s->port); i++) sleep_ms(10);
  assert_true(port_open(s->port));
}

static void server_kill(server *s) {
  if (s->pid <= 0) return;
  kill(s->pid, SIGKILL);
  waitpid(s->pid, NULL, 0);
  s->pid = 0;
}

static void server_remove(server *s) {
  server_kill(s);
  char path[128];
  snprintf(path, sizeof path, "%s/dump.rdb", s->dir);
  unlink(path);
  rmdir(s->dir);
}

static char *server_url(const server *s, const char *suffix) {
  static char url[128];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d%s", s->port, suffix);
  return url;
}

/* ---- waiting for callbacks (which run on the client thread) --------------------------------- */

typedef struct waiter {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int calls;
  redis_status status;
  int type;
  long long integer;
  char str[256];
  size_t len;
} waiter;

static void waiter_init(waiter *w) {
  memset(w, 0, sizeof *w);
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->cond, NULL);
}

static void waiter_destroy(waiter *w) {
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->cond);
}

static void on_reply(void *user, redis_status status, const redisReply *reply) {
  waiter *w = user;
  pthread_mutex_lock(&w->lock);
  w->calls++;
  w->status = status;
  w->type = reply ? reply->type : 0;
  if (reply && (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS ||
                reply->type == REDIS_REPLY_ERROR)) {
    w->len = reply->len < sizeof w->str ? reply->len : sizeof w->str;
    memcpy(w->str, reply->str, w->len);
  }
  if (reply && reply->type == REDIS_REPLY_INTEGER) w->integer = reply->integer;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

/* Waits until `calls` reaches n (or 10 s pass). */
static int waiter_wait(waiter *w, int n) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10;
  pthread_mutex_lock(&w->lock);
  while (w->calls < n && pthread_cond_timedwait(&w->cond, &w->lock, &until) == 0) {
  }
  int calls = w->calls;
  pthread_mutex_unlock(&w->lock);
  return calls;
}

static int command(redis_client *c, waiter *w, int argc, const char **argv) {
  size_t lens[8];
  for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
  return redis_client_command(c, argc, argv, lens, on_reply, w);
}

/* Runs a command and waits for its reply; returns the waiter (caller destroys it). */
static void run(redis_client *c, waiter *w, int argc, const char **argv) {
  waiter_init(w);
  assert_int_equal(command(c, w, argc, argv), REDIS_SUBMIT_OK);
  assert_int_equal(waiter_wait(w, 1), 1);
}

/* Retries PING until the client answers (after a server restart). */
static void wait_until_answering(redis_client *c) {
  for (int i = 0; i < 100; i++) {
    waiter w;
    run(c, &w, 1, (const char *[]){"PING"});
    bool ok = w.status == REDIS_STATUS_OK && w.type == REDIS_REPLY_STATUS;
    waiter_destroy(&w);
    if (ok) return;
    sleep_ms(50);
  }
  fail_msg("the client never answered again");
}

/* ---- URL ------------------------------------------------------------------------------------- */

static void urls_parse(void **state) {
  (void)state;
  redis_url u;
  const char *err = NULL;
  assert_true(redis_url_parse("redis://localhost", &u, &err));
  assert_string_equal(u.host, "localhost");
  assert_int_equal(u.port, 6379);
  assert_int_equal(u.db, 0);
  assert_string_equal(u.password, "");
  assert_true(redis_url_parse("redis://:s3cret@10.0.0.5:6380/3", &u, &err));
  assert_string_equal(u.host, "10.0.0.5");
  assert_int_equal(u.port, 6380);
  assert_int_equal(u.db, 3);
  assert_string_equal(u.user, "");
  assert_string_equal(u.password, "s3cret");
  assert_true(redis_url_parse("redis://app:pw@[::1]:7000/", &u, &err));
  assert_string_equal(u.host, "::1");
  assert_int_equal(u.port, 7000);
  assert_string_equal(u.user, "app");
  assert_string_equal(u.password, "pw");
}

static void bad_urls_are_refused(void **state) {
  (void)state;
  const char *bad[] = {"",
                       "http://localhost",
                       "rediss://localhost",
                       "redis://",
                       "redis://host:0",
                       "redis://host:65536",
                       "redis://host:12ab",
                       "redis://host/x",
                       "redis://host/1?timeout=3",
                       "redis://password@host",
                       "redis://[::1",
                       "redis://host:1:2"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    redis_url u;
    const char *err = NULL;
    assert_false(redis_url_parse(bad[i], &u, &err));
    assert_non_null(err);
  }
  const char *err = NULL;
  assert_null(redis_client_open("redis://host:99999", NULL, &err));
  assert_non_null(err);
}

/* ---- commands ------------------------------------------------------------------------------ */

static void binary_safe_set_and_get(void **state) {
  server *s = *state;
  const char *err = NULL;
  redis_client *c = redis_client_open(server_url(s, ""), NULL, &err);
  assert_non_null(c);
  const char value[] = {'a', '\0', '\r', '\n', 'b'};
  const char *argv[] = {"SET", "bin\0key", value};
  size_t lens[] = {3, 7, sizeof value};
  waiter w;
  waiter_init(&w);
  assert_int_equal(redis_client_command(c, 3, argv, lens, on_reply, &w), REDIS_SUBMIT_OK);
  assert_int_equal(waiter_wait(&w, 1), 1);
  assert_int_equal(w.status, REDIS_STATUS_OK);
  assert_int_equal(w.type, REDIS_REPLY_STATUS);
  waiter_destroy(&w);

  const char *get[] = {"GET", "bin\0key"};
  size_t get_lens[] = {3, 7};
  waiter_init(&w);
  assert_int_equal(redis_client_command(c, 2, get, get_lens, on_reply, &w), REDIS_SUBMIT_OK);
  assert_int_equal(waiter_wait(&w, 1), 1);
  assert_int_equal(w.type, REDIS_REPLY_STRING);
  assert_int_equal(w.len, sizeof value);
  assert_memory_equal(w.str, value, sizeof value);
  waiter_destroy(&w);
  assert_int_equal(redis_client_command(c, 0, get, get_lens, on_reply, &w), REDIS_SUBMIT_INVALID);
  redis_client_close(c);
}

typedef struct ordered {
  pthread_mutex_t lock;
  long long next_expected;
  int out_of_order;
  int done;
} ordered;

static void on_incr(void *user, redis_status status, const redisReply *reply) {
  ordered *o = user;
  pthread_mutex_lock(&o->lock);
  if (status != REDIS_STATUS_OK || reply->type != REDIS_REPLY_INTEGER || reply->integer != o->next_expected)
    o->out_of_order++;
  o->next_expected++;
  o->done++;
  pthread_mutex_unlock(&o->lock);
}

static void pipelined_replies_arrive_in_order(void **state) {
  server *s = *state;
  const char *err = NULL;
  redis_client *c = redis_client_open(server_url(s, ""), NULL, &err);
  assert_non_null(c);
  ordered o = {.lock = PTHREAD_MUTEX_INITIALIZER, .next_expected = 1};
  const char *argv[] = {"INCR", "counter:pipeline"};
  size_t lens[] = {4, 16};
  enum { N = 5000 };
  for (int i = 0; i < N; i++) assert_int_equal(redis_client_command(c, 2, argv, lens, on_incr, &o), 0);
  for (int i = 0; i < 1000; i++) {
    pthread_mutex_lock(&o.lock);
    int done = o.done;
    pthread_mutex_unlock(&o.lock);
    if (done == N) break;
    sleep_ms(10);
  }
  assert_int_equal(o.done, N);
  assert_int_equal(o.out_of_order, 0);
  redis_client_close(c);
}

static void database_and_password_from_the_url(void **state) {
  (void)state;
  server s = {0};
  server_start(&s, "pa:ss");
  const char *err = NULL;
  char url[128];
  snprintf(url, sizeof url, "redis://:pa:ss@127.0.0.1:%d/2", s.port);
  redis_client *in_db2 = redis_client_open(url, NULL, &err);
  snprintf(url, sizeof url, "redis://default:pa:ss@127.0.0.1:%d", s.port);
  redis_client *in_db0 = redis_client_open(url, NULL, &err);
  assert_non_null(in_db2);
  assert_non_null(in_db0);
  waiter w;
  run(in_db2, &w, 3, (const char *[]){"SET", "where", "db2"});
  assert_int_equal(w.type, REDIS_REPLY_STATUS);
  waiter_destroy(&w);
  run(in_db0, &w, 2, (const char *[]){"GET", "where"});
  assert_int_equal(w.status, REDIS_STATUS_OK);
  assert_int_equal(w.type, REDIS_REPLY_NIL);
  waiter_destroy(&w);
  run(in_db2, &w, 2, (const char *[]){"GET", "where"});
  assert_int_equal(w.type, REDIS_REPLY_STRING);
  waiter_destroy(&w);
  redis_client_close(in_db2);
  redis_client_close(in_db0);

  /* A wrong password never gets a connection ready: the command times out. */
  redis_client_options opt = {.request_timeout_ms = 300};
  snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d", s.port);
  redis_client *refused = redis_client_open(url, &opt, &err);
  assert_non_null(refused);
  run(refused, &w, 1, (const char *[]){"PING"});
  assert_int_equal(w.status, REDIS_STATUS_TIMEOUT);
  waiter_destroy(&w);
  redis_client_close(refused);
  server_remove(&s);
}

/* ---- scripts ------------------------------------------------------------------------------- */

static void evalsha_loads_the_script_on_noscript(void **state) {
  server *s = *state;
  const char *err = NULL;
  redis_client *c = redis_client_open(server_url(s, ""), NULL, &err);
  assert_non_null(c);
  static const char src[] = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
  redis_script *script = redis_script_new(src, sizeof src - 1);
  assert_non_null(script);
  assert_int_equal(strlen(redis_script_sha1(script)), 40);

  for (int round = 0; round < 2; round++) {
    waiter w;
    run(c, &w, 2, (const char *[]){"SCRIPT", "FLUSH"}); /* the next EVALSHA gets NOSCRIPT */
    waiter_destroy(&w);
    waiter_init(&w);
    const char *argv[] = {"script:counter", "5"};
    size_t lens[] = {14, 1};
    assert_int_equal(redis_client_evalsha(c, script, 1, 2, argv, lens, on_reply, &w), REDIS_SUBMIT_OK);
    assert_int_equal(waiter_wait(&w, 1), 1);
    assert_int_equal(w.status, REDIS_STATUS_OK);
    assert_int_equal(w.type, REDIS_REPLY_INTEGER);
    assert_int_equal(w.integer, 5 * (round + 1));
    waiter_destroy(&w);
  }
  /* Loaded now: the script is in the cache under the SHA1 computed here. */
  waiter w;
  run(c, &w, 3, (const char *[]){"SCRIPT", "EXISTS", redis_script_sha1(script)});
  assert_int_equal(w.status, REDIS_STATUS_OK);
  waiter_destroy(&w);
  waiter_init(&w);
  assert_int_equal(redis_client_evalsha(c, script, 2, 1, (const char *[]){"k"}, (size_t[]){1}, on_reply, &w),
                   REDIS_SUBMIT_INVALID);
  waiter_destroy(&w);

  static const char broken[] = "return redis.call('NOSUCHCOMMAND')";
  redis_script *bad = redis_script_new(broken, sizeof broken - 1);
  waiter_init(&w);
  assert_int_equal(redis_client_evalsha(c, bad, 0, 0, NULL, NULL, on_reply, &w), REDIS_SUBMIT_OK);
  assert_int_equal(waiter_wait(&w, 1), 1);
  assert_int_equal(w.status, REDIS_STATUS_OK);
  assert_int_equal(w.type, REDIS_REPLY_ERROR);
  waiter_destroy(&w);
  redis_client_close(c);
  redis_script_free(script);
  redis_script_free(bad);
}

/* ---- pub/sub ------------------------------------------------------------------------------- */

typedef struct events {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int active, messages, interrupted, ended;
  char last[64];
} events;

static void on_event(void *user, redis_sub_event ev, const char *payload, size_t len) {
  events *e = user;
  pthread_mutex_lock(&e->lock);
  switch (ev) {
  case REDIS_SUB_ACTIVE:
    e->active++;
    break;
  case REDIS_SUB_MESSAGE:
    e->messages++;
    snprintf(e->last, sizeof e->last, "%.*s", (int)len, payload);
    break;
  case REDIS_SUB_INTERRUPTED:
    e->interrupted++;
    break;
  case REDIS_SUB_ENDED:
    e->ended++;
    break;
  }
  pthread_cond_broadcast(&e->cond);
  pthread_mutex_unlock(&e->lock);
}

/* Waits until *field reaches n (10 s at most); returns its value. */
static int events_wait(events *e, const int *field, int n) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10;
  pthread_mutex_lock(&e->lock);
  while (*field < n && pthread_cond_timedwait(&e->cond, &e->lock, &until) == 0) {
  }
  int v = *field;
  pthread_mutex_unlock(&e->lock);
  return v;
}

static void publish(redis_client *c, const char *channel, const char *text, long long receivers) {
  waiter w;
  run(c, &w, 3, (const char *[]){"PUBLISH", channel, text});
  assert_int_equal(w.status, REDIS_STATUS_OK);
  assert_int_equal(w.integer, receivers);
  waiter_destroy(&w);
}

static void subscriptions_survive_a_server_restart(void **state) {
  (void)state;
  server s = {0};
  server_start(&s, NULL);
  const char *err = NULL;
  redis_client_options opt = {
      .reconnect_min_ms = 20, .reconnect_max_ms = 200, .request_timeout_ms = 1500, .pubsub_ping_ms = 300};
  redis_client *c = redis_client_open(server_url(&s, ""), &opt, &err);
  assert_non_null(c);
  events a = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
  events b = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
  redis_subscription *sa = redis_client_subscribe(c, "chan:a", 6, on_event, &a);
  redis_subscription *sb = redis_client_subscribe(c, "chan:a", 6, on_event, &b);
  assert_non_null(sa);
  assert_non_null(sb);
  assert_int_equal(events_wait(&a, &a.active, 1), 1);
  assert_int_equal(events_wait(&b, &b.active, 1), 1);
  /* an idle, healthy subscription stays up: its liveness probes (every 300 ms) are answered */
  sleep_ms(300 + 1500 + 700);
  assert_int_equal(a.interrupted, 0);
  assert_int_equal(a.active, 1);
  publish(c, "chan:a", "one", 1); /* one connection subscribed, two subscriptions fed */
  assert_int_equal(events_wait(&a, &a.messages, 1), 1);
  assert_int_equal(events_wait(&b, &b.messages, 1), 1);
  assert_string_equal(a.last, "one");

  server_kill(&s);
  assert_int_equal(events_wait(&a, &a.interrupted, 1), 1);
  server_start(&s, NULL);
  assert_int_equal(events_wait(&a, &a.active, 2), 2); /* subscribed again by itself */
  assert_int_equal(events_wait(&b, &b.active, 2), 2);
  wait_until_answering(c);
  publish(c, "chan:a", "two", 1);
  assert_int_equal(events_wait(&a, &a.messages, 2), 2);
  assert_string_equal(a.last, "two");

  /* A hung server (SIGSTOP): the idle subscription notices by its PING, and comes back. */
  kill(s.pid, SIGSTOP);
  assert_int_equal(events_wait(&a, &a.interrupted, 2), 2);
  kill(s.pid, SIGCONT);
  assert_int_equal(events_wait(&a, &a.active, 3), 3);
  wait_until_answering(c);

  redis_client_unsubscribe(c, sa);
  assert_int_equal(events_wait(&a, &a.ended, 1), 1);
  publish(c, "chan:a", "three", 1); /* b still holds the channel */
  assert_int_equal(events_wait(&b, &b.messages, 3), 3);
  assert_int_equal(a.messages, 2);
  redis_client_unsubscribe(c, sb);
  assert_int_equal(events_wait(&b, &b.ended, 1), 1);
  for (int i = 0; i < 100; i++) { /* the UNSUBSCRIBE reaches the server */
    waiter w;
    run(c, &w, 3, (const char *[]){"PUBLISH", "chan:a", "four"});
    long long receivers = w.integer;
    waiter_destroy(&w);
    if (receivers == 0) break;
    sleep_ms(10);
  }
  publish(c, "chan:a", "five", 0);

  events d = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
  assert_non_null(redis_client_subscribe(c, "chan:d", 6, on_event, &d));
  assert_int_equal(events_wait(&d, &d.active, 1), 1);
  redis_client_close(c); /* ends the subscription */
  assert_int_equal(d.ended, 1);
  assert_int_equal(b.messages, 3);
  server_remove(&s);
}

/* ---- failures ------------------------------------------------------------------------------- */

static void commands_wait_for_the_server_and_time_out(void **state) {
  (void)state;
  server s = {0};
  s.port = free_port();
  const char *err = NULL;
  /* Generous: the server below must start within it, also on a loaded machine. */
  redis_client_options opt = {.request_timeout_ms = 6000, .reconnect_min_ms = 20, .reconnect_max_ms = 100};
  redis_client *c = redis_client_open(server_url(&s, ""), &opt, &err);
  assert_non_null(c);
  /* No server yet: the command waits for the connection, which comes within its timeout. */
  waiter w;
  waiter_init(&w);
  assert_int_equal(command(c, &w, 1, (const char *[]){"PING"}), 0);
  sleep_ms(300);
  assert_int_equal(w.calls, 0);
  server_start(&s, NULL);
  assert_int_equal(waiter_wait(&w, 1), 1);
  assert_int_equal(w.status, REDIS_STATUS_OK);
  waiter_destroy(&w);

  /* A stopped server: the command times out (and the connection is re-established later). */
  kill(s.pid, SIGSTOP);
  run(c, &w, 1, (const char *[]){"PING"});
  assert_int_equal(w.status, REDIS_STATUS_TIMEOUT);
  waiter_destroy(&w);
  kill(s.pid, SIGCONT);
  wait_until_answering(c);

  /* Killed with a command in flight: DISCONNECTED or TIMEOUT, exactly one callback. */
  kill(s.pid, SIGSTOP);
  waiter_init(&w);
  assert_int_equal(command(c, &w, 1, (const char *[]){"PING"}), 0);
  sleep_ms(100);
  server_kill(&s);
  assert_int_equal(waiter_wait(&w, 1), 1);
  assert_true(w.status == REDIS_STATUS_DISCONNECTED || w.status == REDIS_STATUS_TIMEOUT);
  sleep_ms(100);
  assert_int_equal(w.calls, 1);
  waiter_destroy(&w);
  redis_client_close(c);
  server_remove(&s);
}

static void the_pending_queue_is_bounded(void **state) {
  (void)state;
  server s = {0};
  s.port = free_port(); /* nothing listens: requests wait */
  const char *err = NULL;
  redis_client_options opt = {.max_pending = 4, .request_timeout_ms = 10000};
  redis_client *c = redis_client_open(server_url(&s, ""), &opt, &err);
  assert_non_null(c);
  waiter w;
  waiter_init(&w);
  for (int i = 0; i < 4; i++) assert_int_equal(command(c, &w, 1, (const char *[]){"PING"}), REDIS_SUBMIT_OK);
  assert_int_equal(command(c, &w, 1, (const char *[]){"PING"}), REDIS_SUBMIT_FULL);
  /* Close answers what could not be sent, at once (not after the 10 s timeout). */
  time_t before = time(NULL);
  redis_client_close(c);
  assert_true(time(NULL) - before < 5);
  assert_int_equal(w.calls, 4);
  assert_int_equal(w.status, REDIS_STATUS_CLOSED);
  waiter_destroy(&w);
}

static void close_finishes_requests_in_flight(void **state) {
  server *s = *state;
  const char *err = NULL;
  redis_client *c = redis_client_open(server_url(s, ""), NULL, &err);
  assert_non_null(c);
  ordered o = {.lock = PTHREAD_MUTEX_INITIALIZER, .next_expected = 1};
  const char *argv[] = {"INCR", "counter:close"};
  size_t lens[] = {4, 13};
  for (int i = 0; i < 1000; i++) assert_int_equal(redis_client_command(c, 2, argv, lens, on_incr, &o), 0);
  redis_client_close(c);
  assert_int_equal(o.done, 1000);
  assert_int_equal(o.out_of_order, 0);
}

static int shared_server_up(void **state) {
  static server s;
  memset(&s, 0, sizeof s);
  server_start(&s, NULL);
  *state = &s;
  return 0;
}

static int shared_server_down(void **state) {
  server_remove(*state);
  return 0;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(urls_parse),
      cmocka_unit_test(bad_urls_are_refused),
      cmocka_unit_test(binary_safe_set_and_get),
      cmocka_unit_test(pipelined_replies_arrive_in_order),
      cmocka_unit_test(database_and_password_from_the_url),
      cmocka_unit_test(evalsha_loads_the_script_on_noscript),
      cmocka_unit_test(subscriptions_survive_a_server_restart),
      cmocka_unit_test(commands_wait_for_the_server_and_time_out),
      cmocka_unit_test(the_pending_queue_is_bounded),
      cmocka_unit_test(close_finishes_requests_in_flight),
  };
  return cmocka_run_group_tests(tests, shared_server_up, shared_server_down);
}
