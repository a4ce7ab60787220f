#include "ratelimit/shared.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log.h"

#define LOG_EVERY_NS (INT64_C(10) * 1000000000)

/* KEYS[1] the bucket; ARGV[1] interval, ARGV[2] tolerance (burst * interval), in microseconds.
 * Returns 0 when allowed, else the microseconds until one token is back. */
static const char gcra_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local interval = tonumber(ARGV[1])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1])) or now\n"
    "if tat < now then tat = now end\n"
    "local nxt = tat + interval\n"
    "local over = nxt - now - tonumber(ARGV[2])\n"
    "if over > 0 then return over end\n"
    "redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.floor((nxt - now) / 1000) + 1)\n"
    "return 0\n";

#define KEY_KIND "send-limit:"

struct ratelimit_shared {
  redis_client *redis;
  char key_prefix[RATELIMIT_SHARED_PREFIX_MAX + sizeof KEY_KIND]; /* prefix + KEY_KIND */
  redis_script *script;
  ratelimit *local; /* decides when Redis cannot */
  char interval_us[24];
  char tolerance_us[24];
  atomic_uint_fast64_t fallbacks;
  _Atomic int64_t last_log_ns;
};

typedef struct take_call {
  ratelimit_shared *r;
  int64_t key;
  ratelimit_cb cb;
  void *arg;
} take_call;

static int64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

ratelimit_shared *ratelimit_shared_new(redis_client *redis, const char *prefix, double rate, uint32_t burst) {
  if (strlen(prefix) > RATELIMIT_SHARED_PREFIX_MAX) return NULL;
  ratelimit_shared *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  snprintf(r->key_prefix, sizeof r->key_prefix, "%s" KEY_KIND, prefix);
  r->redis = redis;
  r->local = ratelimit_new(rate, burst);
  r->script = redis_script_new(gcra_script, sizeof gcra_script - 1);
  if (!r->local || !r->script) {
    ratelimit_shared_free(r);
    return NULL;
  }
  int64_t interval_us = (ratelimit_interval_ns(rate) + 999) / 1000;
  snprintf(r->interval_us, sizeof r->interval_us, "%" PRId64, interval_us);
  snprintf(r->tolerance_us, sizeof r->tolerance_us, "%" PRId64, interval_us * (int64_t)burst);
  atomic_init(&r->fallbacks, 0);
  atomic_init(&r->last_log_ns, 0); /* never */
  return r;
}

void ratelimit_shared_free(ratelimit_shared *r) {
  if (!r) return;
  redis_script_free(r->script);
  ratelimit_free(r->local);
  free(r);
}

uint64_t ratelimit_shared_fallbacks(const ratelimit_shared *r) { return atomic_load(&r->fallbacks); }

/* Redis failed: the local bucket decides. */
static void decide_locally(ratelimit_shared *r, int64_t key, const char *why, ratelimit_cb cb, void *arg) {
  atomic_fetch_add_explicit(&r->fallbacks, 1, memory_order_relaxed);
  int64_t now = monotonic_ns();
  int64_t last = atomic_load(&r->last_log_ns);
  if ((last == 0 || now - last >= LOG_EVERY_NS) &&
      atomic_compare_exchange_strong(&r->last_log_ns, &last, now))
    log_msg(LOG_WARN, "ratelimit", "Redis unavailable for the shared send limit (%s): per-process limit",
            why);
  int64_t wait_ns = 0;
  bool allowed = ratelimit_take(r->local, key, now, &wait_ns);
  cb(arg, allowed, wait_ns);
}

static void on_reply(void *user, redis_status status, const redisReply *reply) {
  take_call *call = user;
  if (status == REDIS_STATUS_OK && reply->type == REDIS_REPLY_INTEGER)
    call->cb(call->arg, reply->integer <= 0, reply->integer > 0 ? reply->integer * 1000 : 0);
  else
    decide_locally(call->r, call->key,
                   status != REDIS_STATUS_OK          ? redis_status_name(status)
                   : reply->type == REDIS_REPLY_ERROR ? "error reply"
                                                      : "unexpected reply",
                   call->cb, call->arg);
  free(call);
}

void ratelimit_shared_take(ratelimit_shared *r, int64_t key, ratelimit_cb cb, void *arg) {
  take_call *call = malloc(sizeof *call);
  if (!call) {
    decide_locally(r, key, "out of memory", cb, arg);
    return;
  }
  *call = (take_call){.r = r, .key = key, .cb = cb, .arg = arg};
  char name[sizeof r->key_prefix + 24];
  int name_len = snprintf(name, sizeof name, "%s%" PRId64, r->key_prefix, key);
  const char *argv[] = {name, r->interval_us, r->tolerance_us};
  size_t lens[] = {(size_t)name_len, strlen(r->interval_us), strlen(r->tolerance_us)};
  int rc = redis_client_evalsha(r->redis, r->script, 1, 3, argv, lens, on_reply, call);
  if (rc != REDIS_SUBMIT_OK) {
    free(call);
    decide_locally(r, key, rc == REDIS_SUBMIT_FULL ? "queue full" : "client closed", cb, arg);
  }
}
