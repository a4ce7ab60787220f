/* ratelimit/shared with a Redis that never answers: every decision falls back to the process's
 * own bucket (same rate and burst) after the request timeout, arrives exactly once on the
 * client's thread, and is counted.
 * The shared behaviour against a real redis-server is checked black-box by
 * tests/http/test_rate_limit.py (two servers, one Redis). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ratelimit/shared.h"

typedef struct decisions {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int calls, allowed;
  int64_t last_wait_ns;
} decisions;

static void on_decision(void *arg, bool allowed, int64_t wait_ns) {
  decisions *d = arg;
  pthread_mutex_lock(&d->lock);
  d->calls++;
  d->allowed += allowed;
  if (!allowed) d->last_wait_ns = wait_ns;
  pthread_cond_signal(&d->cond);
  pthread_mutex_unlock(&d->lock);
}

static void wait_calls(decisions *d, int n) {
  pthread_mutex_lock(&d->lock);
  while (d->calls < n) pthread_cond_wait(&d->cond, &d->lock);
  pthread_mutex_unlock(&d->lock);
}

/* A "Redis" that hangs: a loopback listener whose connections wait in the kernel's backlog and
 * never get a byte. Returns the socket (close it after); *port is where it listens. */
static int silent_listener(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t addr_len = sizeof addr;
  bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&addr, addr_len) == 0 && listen(fd, 64) == 0 &&
            getsockname(fd, (struct sockaddr *)&addr, &addr_len) == 0;
  assert_true(ok);
  *port = ntohs(addr.sin_port);
  return fd;
}

static void silent_redis_means_the_local_bucket_decides(void **state) {
  (void)state;
  int port;
  int listener = silent_listener(&port);
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
  redis_client_options opts = {.request_timeout_ms = 100, .connect_timeout_ms = 100};
  const char *err = NULL;
  redis_client *redis = redis_client_open(url, &opts, &err);
  assert_non_null(redis);
  ratelimit_shared *r = ratelimit_shared_new(redis, "test:", 0.5, 3);
  assert_non_null(r);
  decisions d = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
  for (int i = 0; i < 5; i++) ratelimit_shared_take(r, 42, on_decision, &d);
  wait_calls(&d, 5);
  assert_int_equal(d.allowed, 3);
  assert_true(d.last_wait_ns > 0 && d.last_wait_ns <= INT64_C(2000000000));
  assert_int_equal(ratelimit_shared_fallbacks(r), 5);
  /* another key has its own bucket */
  ratelimit_shared_take(r, 43, on_decision, &d);
  wait_calls(&d, 6);
  assert_int_equal(d.allowed, 4);
  redis_client_close(redis);
  ratelimit_shared_free(r);
  close(listener);
}

static void bad_settings_are_refused(void **state) {
  (void)state;
  assert_null(ratelimit_shared_new(NULL, "test:", 0, 1)); /* rate out of range */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(silent_redis_means_the_local_bucket_decides),
      cmocka_unit_test(bad_settings_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
