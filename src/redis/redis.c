/* redis: see redis.h. Everything below the public functions runs on the client thread, except
 * the submission queue (`in_*`, `ops`, `pending`, `closing`), which is shared under `lock`. */
#include "redis/redis.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <hiredis/async.h>
#include <openssl/evp.h>
#include <uv.h>

#include "log/log.h"

#define ARGC_MAX       1024
#define CHANNEL_MAX    1024
#define COMPONENT      "redis"
#define SHA1_HEX_LEN   40
#define NUMKEYS_DIGITS 16

struct redis_script {
  char sha1[SHA1_HEX_LEN + 1];
  size_t len;
  char source[]; /* len bytes */
};

typedef struct request {
  struct request *prev, *next; /* in `waiting` or `inflight` */
  redis_client *client;
  int argc;
  const char **argv;
  size_t *argvlen;
  const redis_script *script; /* EVALSHA: reloaded once on NOSCRIPT */
  bool noscript_retried;
  bool answered;
  uint64_t deadline_ms;
  redis_reply_cb cb;
  void *user;
} request;

typedef struct request_list {
  request *head, *tail;
} request_list;

struct redis_subscription {
  redis_subscription *next; /* in the client's `subs` */
  char *channel;
  size_t len;
  bool active;
  redis_sub_cb cb;
  void *user;
};

typedef enum sub_op_kind { SUB_OP_ADD, SUB_OP_REMOVE } sub_op_kind;
typedef struct sub_op {
  struct sub_op *next;
  sub_op_kind kind;
  redis_subscription *sub;
} sub_op;

typedef enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_HANDSHAKE, CONN_READY } conn_state;

typedef struct conn {
  redis_client *client;
  const char *name; /* "commands" | "pubsub" */
  bool pubsub;
  redisAsyncContext *ac; /* NULL when down; hiredis frees it */
  conn_state state;
  uint64_t since_ms; /* when the current connect attempt started */
  int handshake_pending;
  unsigned failures;     /* since the last READY: backoff exponent */
  uint64_t ping_sent_ms; /* pub/sub liveness: the unanswered PING's time, 0 when none */
  uint64_t ping_due_ms;  /* when the next PING goes out */
  uv_timer_t retry;
} conn;

struct redis_client {
  redis_url url;
  redis_client_options opt;
  uv_loop_t loop;
  uv_async_t wakeup;
  uv_timer_t tick;
  pthread_t thread;
  conn cmd, sub;
  request_list waiting;  /* accepted, not sent */
  request_list inflight; /* handed to hiredis, in send order */
  redis_subscription *subs;
  bool draining, finished;
  uint64_t rng;
  char liveness_pattern[48]; /* see check_pubsub */

  pthread_mutex_t lock; /* guards the fields below */
  request_list in;
  sub_op *ops_head, *ops_tail;
  size_t pending; /* accepted and not yet answered */
  bool closing;
};

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *redis_status_name(redis_status status) {
  switch (status) {
  case REDIS_STATUS_OK:
    return "ok";
  case REDIS_STATUS_TIMEOUT:
    return "timeout";
  case REDIS_STATUS_DISCONNECTED:
    return "disconnected";
  case REDIS_STATUS_CLOSED:
    return "closed";
  }
  return "unknown";
}

/* ---- URL ---------------------------------------------------------------------------------- */

static bool parse_decimal(const char *s, size_t len, long max, long *out) {
  if (len == 0 || len > 10) return false;
  long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

static bool copy_part(char *dst, size_t cap, const char *src, size_t len) {
  if (len > cap) return false;
  memcpy(dst, src, len);
  dst[len] = '\0';
  return true;
}

bool redis_url_parse(const char *url, redis_url *out, const char **err) {
  static const char scheme[] = "redis://";
  memset(out, 0, sizeof *out);
  out->port = 6379;
  if (url == NULL || strncmp(url, "rediss://", 9) == 0) {
    *err = url ? "rediss:// (TLS) is not supported" : "no URL";
    return false;
  }
  if (strncmp(url, scheme, sizeof scheme - 1) != 0) {
    *err = "the URL must start with redis://";
    return false;
  }
  const char *p = url + sizeof scheme - 1;
  if (strpbrk(p, "?#") != NULL) {
    *err = "query and fragment are not supported in the URL";
    return false;
  }
  const char *at = strrchr(p, '@');
  if (at != NULL) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon == NULL) {
      *err = "credentials must be [user]:password@";
      return false;
    }
    if (!copy_part(out->user, REDIS_URL_USER_MAX, p, (size_t)(colon - p)) ||
        !copy_part(out->password, REDIS_URL_PASSWORD_MAX, colon + 1, (size_t)(at - colon - 1))) {
      *err = "user name or password too long";
      return false;
    }
    p = at + 1;
  }
  const char *host_end;
  const char *after;
  if (*p == '[') {
    host_end = strchr(p, ']');
    if (host_end == NULL) {
      *err = "unterminated [IPv6] host";
      return false;
    }
    p++;
    after = host_end + 1;
  } else {
    host_end = p + strcspn(p, ":/");
    after = host_end;
  }
  if (host_end == p || !copy_part(out->host, REDIS_URL_HOST_MAX, p, (size_t)(host_end - p))) {
    *err = "missing or too long host";
    return false;
  }
  long v;
  if (*after == ':') {
    const char *port = after + 1;
    size_t n = strcspn(port, "/");
    if (!parse_decimal(port, n, 65535, &v) || v == 0) {
      *err = "port must be 1..65535";
      return false;
    }
    out->port = (int)v;
    after = port + n;
  }
  if (*after == '/') {
    after++;
    size_t n = strlen(after);
    if (n > 0) {
      if (!parse_decimal(after, n, INT_MAX, &v)) {
        *err = "database must be a number";
        return false;
      }
      out->db = (int)v;
    }
  } else if (*after != '\0') {
    *err = "unexpected characters after the host";
    return false;
  }
  return true;
}

/* ---- request lists ------------------------------------------------------------------------ */

static void list_push(request_list *l, request *r) {
  r->next = NULL;
  r->prev = l->tail;
  if (l->tail)
    l->tail->next = r;
  else
    l->head = r;
  l->tail = r;
}

static void list_remove(request_list *l, request *r) {
  if (r->prev)
    r->prev->next = r->next;
  else
    l->head = r->next;
  if (r->next)
    r->next->prev = r->prev;
  else
    l->tail = r->prev;
  r->prev = r->next = NULL;
}

static request *list_pop(request_list *l) {
  request *r = l->head;
  if (r == NULL) return NULL;
  l->head = r->next;
  if (l->head)
    l->head->prev = NULL;
  else
    l->tail = NULL;
  r->prev = r->next = NULL;
  return r;
}

static void answer(request *r, redis_status status, const redisReply *reply) {
  if (r->answered) return;
  r->answered = true;
  redis_client *c = r->client;
  r->cb(r->user, status, reply);
  pthread_mutex_lock(&c->lock);
  c->pending--;
  pthread_mutex_unlock(&c->lock);
}

/* ---- hiredis on libuv ---------------------------------------------------------------------- */

/* The event hooks of hiredis/adapters/libuv.h with one fix. Debian's 0.14 adapter drops a poll
 * callback whose status is an error (libuv reports a refused or reset connection that way and
 * stops the poll), so a failed connect was never noticed. As in hiredis 1.x's adapter, an error
 * runs the handlers of the events asked for, and hiredis then reads the socket error. */
typedef struct uv_events {
  redisAsyncContext *ac; /* NULL once hiredis has cleaned up */
  uv_poll_t handle;
  int events;
} uv_events;

static void on_poll(uv_poll_t *handle, int status, int events) {
  uv_events *p = handle->data;
  int ready = status != 0 ? p->events : events;
  if (p->ac != NULL && (ready & UV_READABLE)) redisAsyncHandleRead(p->ac);
  if (p->ac != NULL && (ready & UV_WRITABLE)) redisAsyncHandleWrite(p->ac);
}

static void poll_update(uv_events *p, int add, int remove) {
  p->events = (p->events | add) & ~remove;
  if (p->events)
    uv_poll_start(&p->handle, p->events, on_poll);
  else
    uv_poll_stop(&p->handle);
}

static void ev_add_read(void *data) { poll_update(data, UV_READABLE, 0); }
static void ev_del_read(void *data) { poll_update(data, 0, UV_READABLE); }
static void ev_add_write(void *data) { poll_update(data, UV_WRITABLE, 0); }
static void ev_del_write(void *data) { poll_update(data, 0, UV_WRITABLE); }
static void on_poll_closed(uv_handle_t *h) { free(h->data); }

static void ev_cleanup(void *data) {
  uv_events *p = data;
  p->ac = NULL;
  uv_close((uv_handle_t *)&p->handle, on_poll_closed);
}

static bool attach_to_loop(redisAsyncContext *ac, uv_loop_t *loop) {
  uv_events *p = calloc(1, sizeof *p);
  if (p == NULL) return false;
  if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
    free(p);
    return false;
  }
  p->ac = ac;
  p->handle.data = p;
  ac->ev.data = p;
  ac->ev.addRead = ev_add_read;
  ac->ev.delRead = ev_del_read;
  ac->ev.addWrite = ev_add_write;
  ac->ev.delWrite = ev_del_write;
  ac->ev.cleanup = ev_cleanup;
  return true;
}

/* ---- connections -------------------------------------------------------------------------- */

static void conn_connect(conn *k);
static void flush_waiting(redis_client *c);
static void subscribe_all(redis_client *c);

static uint64_t backoff_delay(redis_client *c, unsigned failures) {
  uint64_t d = c->opt.reconnect_min_ms;
  for (unsigned i = 0; i < failures && d < c->opt.reconnect_max_ms; i++) d *= 2;
  if (d > c->opt.reconnect_max_ms) d = c->opt.reconnect_max_ms;
  c->rng ^= c->rng << 13;
  c->rng ^= c->rng >> 7;
  c->rng ^= c->rng << 17;
  uint64_t jitter_permille = 850 + c->rng % 301; /* 0.85 .. 1.15 */
  return d * jitter_permille / 1000;
}

static void on_retry(uv_timer_t *t) { conn_connect(t->data); }

/* The connection is gone (hiredis has freed or is freeing the context). */
static void conn_down(conn *k) {
  redis_client *c = k->client;
  bool was_ready = k->state == CONN_READY;
  k->state = CONN_DOWN;
  k->handshake_pending = 0;
  if (k->pubsub) {
    for (redis_subscription *s = c->subs; s; s = s->next) {
      if (!s->active) continue;
      s->active = false;
      s->cb(s->user, REDIS_SUB_INTERRUPTED, NULL, 0);
    }
  }
  if (c->finished) return;
  uint64_t delay = backoff_delay(c, k->failures);
  k->failures++;
  if (was_ready)
    log_msg(LOG_WARN, COMPONENT, "%s connection to %s:%d lost; reconnecting", k->name, c->url.host,
            c->url.port);
  uv_timer_start(&k->retry, on_retry, delay, 0);
}

/* Drops the connection on our initiative (timeout, failed handshake, shutdown). */
static void conn_drop(conn *k) {
  redisAsyncContext *ac = k->ac;
  if (ac == NULL) return;
  k->ac = NULL; /* callbacks from this context are now stale */
  redisAsyncFree(ac);
  conn_down(k);
}

static void conn_ready(conn *k) {
  k->state = CONN_READY;
  k->failures = 0;
  k->ping_sent_ms = 0;
  k->ping_due_ms = now_ms() + k->client->opt.pubsub_ping_ms;
  log_msg(LOG_INFO, COMPONENT, "%s connection to %s:%d ready", k->name, k->client->url.host,
          k->client->url.port);
  if (k->pubsub)
    subscribe_all(k->client);
  else
    flush_waiting(k->client);
}

static void on_handshake_reply(redisAsyncContext *ac, void *r, void *privdata) {
  conn *k = privdata;
  const redisReply *reply = r;
  if (reply == NULL || k->ac != ac) return;
  if (reply->type == REDIS_REPLY_ERROR) {
    log_msg(LOG_ERROR, COMPONENT, "%s connection: AUTH/SELECT refused: %.*s", k->name, (int)reply->len,
            reply->str);
    conn_drop(k);
    return;
  }
  if (--k->handshake_pending == 0) conn_ready(k);
}

static void handshake_command(conn *k, int argc, const char **argv, const size_t *lens) {
  if (redisAsyncCommandArgv(k->ac, on_handshake_reply, k, argc, argv, lens) == REDIS_OK)
    k->handshake_pending++;
}

static void on_connect(const redisAsyncContext *cac, int status) {
  conn *k = cac->data;
  if (k->ac != cac) return;
  redis_client *c = k->client;
  if (status != REDIS_OK) {
    if (k->failures == 0)
      log_msg(LOG_WARN, COMPONENT, "%s connection to %s:%d failed: %s", k->name, c->url.host, c->url.port,
              cac->errstr);
    k->ac = NULL; /* hiredis frees the context after this callback */
    conn_down(k);
    return;
  }
  redisAsyncContext *ac = k->ac; /* the same context, non-const */
  k->state = CONN_HANDSHAKE;
  (void)redisEnableKeepAlive(&ac->c);
  if (c->url.password[0]) {
    const char *argv[3] = {"AUTH", c->url.user, c->url.password};
    size_t lens[3] = {4, strlen(c->url.user), strlen(c->url.password)};
    if (c->url.user[0]) {
      handshake_command(k, 3, argv, lens);
    } else {
      argv[1] = c->url.password;
      lens[1] = lens[2];
      handshake_command(k, 2, argv, lens);
    }
  }
  if (c->url.db != 0 && !k->pubsub) {
    char db[16];
    int n = snprintf(db, sizeof db, "%d", c->url.db);
    handshake_command(k, 2, (const char *[]){"SELECT", db}, (size_t[]){6, (size_t)n});
  }
  if (k->handshake_pending == 0 && k->ac == ac) conn_ready(k);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  (void)status;
  conn *k = ac->data;
  if (k->ac != ac) return;
  k->ac = NULL;
  conn_down(k);
}

static void conn_connect(conn *k) {
  redis_client *c = k->client;
  if (c->finished || k->ac != NULL) return;
  k->state = CONN_CONNECTING;
  k->since_ms = now_ms();
  redisAsyncContext *ac = redisAsyncConnect(c->url.host, c->url.port);
  if (ac == NULL || ac->err || !attach_to_loop(ac, &c->loop)) {
    if (k->failures == 0)
      log_msg(LOG_WARN, COMPONENT, "%s connection to %s:%d failed: %s", k->name, c->url.host, c->url.port,
              ac ? ac->errstr : "out of memory");
    if (ac) redisAsyncFree(ac);
    conn_down(k);
    return;
  }
  ac->data = k;
  k->ac = ac;
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  /* hiredis 0.14 notices the end of a non-blocking connect only on a write event, which it
   * asks for only when a command is queued: ask now, so on_connect runs without one. */
  ev_add_write(ac->ev.data);
}

/* ---- commands ----------------------------------------------------------------------------- */

static void on_script_load_reply(redisAsyncContext *ac, void *r, void *privdata) {
  (void)ac;
  (void)privdata;
  const redisReply *reply = r;
  if (reply && reply->type == REDIS_REPLY_ERROR)
    log_msg(LOG_WARN, COMPONENT, "SCRIPT LOAD failed: %.*s", (int)reply->len, reply->str);
}

static bool is_noscript(const redisReply *reply) {
  return reply->type == REDIS_REPLY_ERROR && reply->len >= 8 && memcmp(reply->str, "NOSCRIPT", 8) == 0;
}

static void on_command_reply(redisAsyncContext *ac, void *r, void *privdata);

static bool submit_to_hiredis(redis_client *c, request *r) {
  return redisAsyncCommandArgv(c->cmd.ac, on_command_reply, r, r->argc, r->argv, r->argvlen) == REDIS_OK;
}

/* NOSCRIPT: load the script and run the EVALSHA again, pipelined on the same connection. */
static bool reload_and_retry(redis_client *c, request *r) {
  const char *argv[3] = {"SCRIPT", "LOAD", r->script->source};
  size_t lens[3] = {6, 4, r->script->len};
  if (redisAsyncCommandArgv(c->cmd.ac, on_script_load_reply, NULL, 3, argv, lens) != REDIS_OK) return false;
  if (!submit_to_hiredis(c, r)) return false;
  r->noscript_retried = true;
  list_push(&c->inflight, r);
  return true;
}

static void on_command_reply(redisAsyncContext *ac, void *rep, void *privdata) {
  request *r = privdata;
  redis_client *c = r->client;
  const redisReply *reply = rep;
  list_remove(&c->inflight, r);
  if (reply == NULL) {
    answer(r, REDIS_STATUS_DISCONNECTED, NULL);
  } else {
    if (r->script && !r->noscript_retried && !r->answered && c->cmd.ac == ac && is_noscript(reply) &&
        reload_and_retry(c, r))
      return;
    answer(r, REDIS_STATUS_OK, reply);
  }
  free(r);
}

static void flush_waiting(redis_client *c) {
  while (c->cmd.state == CONN_READY && c->waiting.head) {
    request *r = c->waiting.head;
    if (!submit_to_hiredis(c, r)) return;
    list_remove(&c->waiting, r);
    list_push(&c->inflight, r);
  }
}

static request *request_new(redis_client *c, int argc, const char *const *argv, const size_t *argvlen,
                            redis_reply_cb cb, void *user) {
  size_t bytes = 0;
  for (int i = 0; i < argc; i++) {
    if (argvlen[i] > SIZE_MAX / 2 - bytes) return NULL;
    bytes += argvlen[i];
  }
  size_t n = (size_t)argc;
  request *r = malloc(sizeof *r + n * (sizeof(char *) + sizeof(size_t)) + bytes + 1);
  if (r == NULL) return NULL;
  memset(r, 0, sizeof *r);
  r->client = c;
  r->argc = argc;
  r->argv = (const char **)(r + 1);
  r->argvlen = (size_t *)(r->argv + n);
  char *data = (char *)(r->argvlen + n);
  for (int i = 0; i < argc; i++) {
    if (argvlen[i]) memcpy(data, argv[i], argvlen[i]);
    r->argv[i] = data;
    r->argvlen[i] = argvlen[i];
    data += argvlen[i];
  }
  r->cb = cb;
  r->user = user;
  return r;
}

static int enqueue(redis_client *c, request *r) {
  pthread_mutex_lock(&c->lock);
  int rc = REDIS_SUBMIT_OK;
  if (c->closing)
    rc = REDIS_SUBMIT_CLOSED;
  else if (c->pending >= c->opt.max_pending)
    rc = REDIS_SUBMIT_FULL;
  if (rc == REDIS_SUBMIT_OK) {
    r->deadline_ms = now_ms() + c->opt.request_timeout_ms;
    c->pending++;
    list_push(&c->in, r);
  }
  pthread_mutex_unlock(&c->lock);
  if (rc != REDIS_SUBMIT_OK) {
    free(r);
    return rc;
  }
  uv_async_send(&c->wakeup);
  return rc;
}

int redis_client_command(redis_client *c, int argc, const char *const *argv, const size_t *argvlen,
                         redis_reply_cb cb, void *user) {
  if (argc < 1 || argc > ARGC_MAX || argv == NULL || argvlen == NULL || cb == NULL)
    return REDIS_SUBMIT_INVALID;
  request *r = request_new(c, argc, argv, argvlen, cb, user);
  if (r == NULL) return REDIS_SUBMIT_FULL;
  return enqueue(c, r);
}

int redis_client_evalsha(redis_client *c, const redis_script *script, int numkeys, int argc,
                         const char *const *argv, const size_t *argvlen, redis_reply_cb cb, void *user) {
  if (script == NULL || numkeys < 0 || argc < numkeys || argc > ARGC_MAX - 3 || cb == NULL ||
      (argc > 0 && (argv == NULL || argvlen == NULL)))
    return REDIS_SUBMIT_INVALID;
  const char *all[ARGC_MAX];
  size_t lens[ARGC_MAX];
  char numkeys_text[NUMKEYS_DIGITS];
  int n = snprintf(numkeys_text, sizeof numkeys_text, "%d", numkeys);
  all[0] = "EVALSHA";
  lens[0] = 7;
  all[1] = script->sha1;
  lens[1] = SHA1_HEX_LEN;
  all[2] = numkeys_text;
  lens[2] = (size_t)n;
  for (int i = 0; i < argc; i++) {
    all[3 + i] = argv[i];
    lens[3 + i] = argvlen[i];
  }
  request *r = request_new(c, argc + 3, all, lens, cb, user);
  if (r == NULL) return REDIS_SUBMIT_FULL;
  r->script = script;
  return enqueue(c, r);
}

/* ---- scripts ------------------------------------------------------------------------------ */

redis_script *redis_script_new(const char *source, size_t len) {
  redis_script *s = malloc(sizeof *s + len + 1);
  if (s == NULL) return NULL;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(source, len, md, &md_len, EVP_sha1(), NULL) != 1 || md_len * 2 != SHA1_HEX_LEN) {
    free(s);
    return NULL;
  }
  static const char hex[] = "0123456789abcdef";
  for (unsigned i = 0; i < md_len; i++) {
    s->sha1[2 * i] = hex[md[i] >> 4];
    s->sha1[2 * i + 1] = hex[md[i] & 15];
  }
  s->sha1[SHA1_HEX_LEN] = '\0';
  s->len = len;
  memcpy(s->source, source, len);
  s->source[len] = '\0';
  return s;
}

void redis_script_free(redis_script *s) { free(s); }
const char *redis_script_sha1(const redis_script *s) { return s->sha1; }

/* ---- pub/sub ------------------------------------------------------------------------------ */

static bool same_channel(const redis_subscription *s, const char *ch, size_t len) {
  return s->len == len && memcmp(s->channel, ch, len) == 0;
}

static bool channel_wanted(const redis_client *c, const char *ch, size_t len) {
  for (const redis_subscription *s = c->subs; s; s = s->next)
    if (same_channel(s, ch, len)) return true;
  return false;
}

static void on_pubsub_reply(redisAsyncContext *ac, void *rep, void *privdata);

static void send_subscription(redis_client *c, const char *verb, const char *ch, size_t len) {
  if (c->sub.state != CONN_READY) return;
  const char *argv[2] = {verb, ch};
  size_t lens[2] = {strlen(verb), len};
  (void)redisAsyncCommandArgv(c->sub.ac, on_pubsub_reply, &c->sub, 2, argv, lens);
}

static void subscribe_all(redis_client *c) {
  for (redis_subscription *s = c->subs; s; s = s->next) send_subscription(c, "SUBSCRIBE", s->channel, s->len);
}

static void on_pubsub_reply(redisAsyncContext *ac, void *rep, void *privdata) {
  conn *k = privdata;
  redis_client *c = k->client;
  const redisReply *reply = rep;
  if (reply == NULL || k->ac != ac || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
  const redisReply *kind = reply->element[0];
  const redisReply *ch = reply->element[1];
  if (kind->type != REDIS_REPLY_STRING || ch->type != REDIS_REPLY_STRING) return;
  if (kind->len == 10 && memcmp(kind->str, "psubscribe", 10) == 0) { /* the liveness answer */
    if (ch->len == strlen(c->liveness_pattern) && memcmp(ch->str, c->liveness_pattern, ch->len) == 0) {
      k->ping_sent_ms = 0;
      k->ping_due_ms = now_ms() + c->opt.pubsub_ping_ms;
    }
    return;
  }
  if (kind->len == 7 && memcmp(kind->str, "message", 7) == 0) {
    const redisReply *payload = reply->element[2];
    if (payload->type != REDIS_REPLY_STRING) return;
    for (redis_subscription *s = c->subs; s; s = s->next)
      if (s->active && same_channel(s, ch->str, ch->len))
        s->cb(s->user, REDIS_SUB_MESSAGE, payload->str, payload->len);
  } else if (kind->len == 9 && memcmp(kind->str, "subscribe", 9) == 0) {
    for (redis_subscription *s = c->subs; s; s = s->next) {
      if (s->active || !same_channel(s, ch->str, ch->len)) continue;
      s->active = true;
      s->cb(s->user, REDIS_SUB_ACTIVE, NULL, 0);
    }
  } else if (kind->len == 11 && memcmp(kind->str, "unsubscribe", 11) == 0) {
    /* A subscription added while the UNSUBSCRIBE was in flight: hiredis forgot the channel. */
    if (channel_wanted(c, ch->str, ch->len)) send_subscription(c, "SUBSCRIBE", ch->str, ch->len);
  }
}

static void sub_end(redis_subscription *s) {
  s->cb(s->user, REDIS_SUB_ENDED, NULL, 0);
  free(s->channel);
  free(s);
}

static void sub_remove(redis_client *c, redis_subscription *target) {
  for (redis_subscription **pp = &c->subs; *pp; pp = &(*pp)->next) {
    if (*pp != target) continue;
    *pp = target->next;
    if (!channel_wanted(c, target->channel, target->len))
      send_subscription(c, "UNSUBSCRIBE", target->channel, target->len);
    sub_end(target);
    return;
  }
}

static void run_sub_op(redis_client *c, sub_op *op) {
  redis_subscription *s = op->sub;
  if (op->kind == SUB_OP_ADD) {
    s->next = c->subs;
    c->subs = s;
    send_subscription(c, "SUBSCRIBE", s->channel, s->len);
  } else {
    sub_remove(c, s);
  }
  free(op);
}

/* Under c->lock. */
static void ops_append(redis_client *c, sub_op *op) {
  if (c->ops_tail)
    c->ops_tail->next = op;
  else
    c->ops_head = op;
  c->ops_tail = op;
}

static bool push_sub_op(redis_client *c, sub_op_kind kind, redis_subscription *s) {
  sub_op *op = malloc(sizeof *op);
  if (op == NULL) return false;
  op->next = NULL;
  op->kind = kind;
  op->sub = s;
  pthread_mutex_lock(&c->lock);
  if (c->closing && kind == SUB_OP_ADD) {
    pthread_mutex_unlock(&c->lock);
    free(op);
    return false;
  }
  ops_append(c, op);
  pthread_mutex_unlock(&c->lock);
  uv_async_send(&c->wakeup);
  return true;
}

redis_subscription *redis_client_subscribe(redis_client *c, const char *channel, size_t len, redis_sub_cb cb,
                                           void *user) {
  if (channel == NULL || len == 0 || len > CHANNEL_MAX || cb == NULL) return NULL;
  redis_subscription *s = calloc(1, sizeof *s);
  char *copy = malloc(len);
  if (s == NULL || copy == NULL) {
    free(s);
    free(copy);
    return NULL;
  }
  memcpy(copy, channel, len);
  s->channel = copy;
  s->len = len;
  s->cb = cb;
  s->user = user;
  if (!push_sub_op(c, SUB_OP_ADD, s)) {
    free(copy);
    free(s);
    return NULL;
  }
  return s;
}

void redis_client_unsubscribe(redis_client *c, redis_subscription *sub) {
  if (sub == NULL) return;
  /* Without memory for the operation, the subscription ends at close instead. */
  if (!push_sub_op(c, SUB_OP_REMOVE, sub))
    log_msg(LOG_ERROR, COMPONENT, "out of memory: subscription ends at close");
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* ---- pub/sub liveness ------------------------------------------------------------------------ */

/* A subscribed connection gets no replies while nothing is published, so a hung server (or a
 * silently dropped connection) would go unnoticed: it is probed, and a probe unanswered within
 * the request timeout drops it (the subscriptions hear INTERRUPTED, then ACTIVE again).
 * The probe is a PSUBSCRIBE of a pattern of this client's own, which no channel matches:
 * Redis answers every one (also when already subscribed), and hiredis hands the answer to the
 * pattern's callback. A PING would not do: hiredis 0.14 files a subscribed connection's
 * ["pong", ""] under the patterns, finds no callback for "" and drops it. */
static void check_pubsub(redis_client *c, uint64_t now) {
  conn *k = &c->sub;
  if (k->state != CONN_READY) return;
  if (k->ping_sent_ms) {
    if (now - k->ping_sent_ms < c->opt.request_timeout_ms) return;
    log_msg(LOG_WARN, COMPONENT, "pubsub connection: no PONG in %u ms; reconnecting",
            c->opt.request_timeout_ms);
    conn_drop(k);
    return;
  }
  if (now < k->ping_due_ms) return;
  const char *argv[2] = {"PSUBSCRIBE", c->liveness_pattern};
  size_t lens[2] = {10, strlen(c->liveness_pattern)};
  if (redisAsyncCommandArgv(k->ac, on_pubsub_reply, k, 2, argv, lens) == REDIS_OK) k->ping_sent_ms = now;
}

static void on_handle_closed(uv_handle_t *h) { (void)h; }

static void finish(redis_client *c) {
  c->finished = true;
  while (c->subs) {
    redis_subscription *s = c->subs;
    c->subs = s->next;
    sub_end(s);
  }
  conn_drop(&c->cmd);
  conn_drop(&c->sub);
  uv_close((uv_handle_t *)&c->cmd.retry, on_handle_closed);
  uv_close((uv_handle_t *)&c->sub.retry, on_handle_closed);
  uv_close((uv_handle_t *)&c->tick, on_handle_closed);
  uv_close((uv_handle_t *)&c->wakeup, on_handle_closed);
}

static void take_submissions(redis_client *c) {
  pthread_mutex_lock(&c->lock);
  request_list in = c->in;
  c->in.head = c->in.tail = NULL;
  sub_op *ops = c->ops_head;
  c->ops_head = c->ops_tail = NULL;
  if (c->closing) c->draining = true;
  pthread_mutex_unlock(&c->lock);
  for (request *r; (r = list_pop(&in)) != NULL;) list_push(&c->waiting, r);
  while (ops) {
    sub_op *next = ops->next;
    run_sub_op(c, ops);
    ops = next;
  }
  flush_waiting(c);
}

static void check_drained(redis_client *c) {
  if (!c->draining || c->finished) return;
  if (c->cmd.state == CONN_DOWN) { /* waiting to retry: nothing will be sent */
    for (request *r; (r = list_pop(&c->waiting)) != NULL;) {
      answer(r, REDIS_STATUS_CLOSED, NULL);
      free(r);
    }
  }
  if (c->waiting.head == NULL && c->inflight.head == NULL) finish(c);
}

static void on_wakeup(uv_async_t *a) {
  redis_client *c = a->data;
  if (c->finished) return;
  take_submissions(c);
  check_drained(c);
}

static void expire(redis_client *c) {
  uint64_t now = now_ms();
  while (c->waiting.head && c->waiting.head->deadline_ms <= now) {
    request *r = list_pop(&c->waiting);
    answer(r, REDIS_STATUS_TIMEOUT, NULL);
    free(r);
  }
  bool stuck = false;
  for (request *r = c->inflight.head; r && r->deadline_ms <= now; r = r->next) {
    if (r->answered) continue;
    answer(r, REDIS_STATUS_TIMEOUT, NULL);
    stuck = true;
  }
  if (stuck) {
    log_msg(LOG_WARN, COMPONENT, "request timed out after %u ms; reconnecting", c->opt.request_timeout_ms);
    conn_drop(&c->cmd); /* hiredis calls back every in-flight request with NULL: freed there */
  }
  check_pubsub(c, now);
  conn *conns[2] = {&c->cmd, &c->sub};
  for (int i = 0; i < 2; i++) {
    conn *k = conns[i];
    if ((k->state == CONN_CONNECTING || k->state == CONN_HANDSHAKE) &&
        now - k->since_ms >= c->opt.connect_timeout_ms) {
      log_msg(LOG_WARN, COMPONENT, "%s connection to %s:%d: no answer in %u ms", k->name, c->url.host,
              c->url.port, c->opt.connect_timeout_ms);
      conn_drop(k);
    }
  }
}

static void on_tick(uv_timer_t *t) {
  redis_client *c = t->data;
  if (c->finished) return;
  expire(c);
  check_drained(c);
}

static void *client_thread(void *arg) {
  redis_client *c = arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals go to the application; EPIPE instead of SIGPIPE */
  conn_connect(&c->cmd);
  conn_connect(&c->sub);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  return NULL;
}

static void conn_init(redis_client *c, conn *k, const char *name, bool pubsub) {
  k->client = c;
  k->name = name;
  k->pubsub = pubsub;
  uv_timer_init(&c->loop, &k->retry);
  k->retry.data = k;
}

static void apply_defaults(redis_client_options *o) {
  if (o->request_timeout_ms == 0) o->request_timeout_ms = 2000;
  if (o->connect_timeout_ms == 0) o->connect_timeout_ms = 2000;
  if (o->reconnect_min_ms == 0) o->reconnect_min_ms = 50;
  if (o->reconnect_max_ms == 0) o->reconnect_max_ms = 5000;
  if (o->reconnect_max_ms < o->reconnect_min_ms) o->reconnect_max_ms = o->reconnect_min_ms;
  if (o->max_pending == 0) o->max_pending = 65536;
  if (o->pubsub_ping_ms == 0) o->pubsub_ping_ms = 5000;
}

redis_client *redis_client_open(const char *url, const redis_client_options *opts, const char **err) {
  redis_client *c = calloc(1, sizeof *c);
  if (c == NULL) {
    *err = "out of memory";
    return NULL;
  }
  if (!redis_url_parse(url, &c->url, err)) {
    free(c);
    return NULL;
  }
  if (opts) c->opt = *opts;
  apply_defaults(&c->opt);
  c->rng = now_ms() | 1u;
  snprintf(c->liveness_pattern, sizeof c->liveness_pattern, "messenger-liveness:%016llx:%d",
           (unsigned long long)(c->rng * 0x9e3779b97f4a7c15ULL), (int)getpid());
  if (uv_loop_init(&c->loop) != 0) {
    free(c);
    *err = "cannot create an event loop";
    return NULL;
  }
  pthread_mutex_init(&c->lock, NULL);
  uv_async_init(&c->loop, &c->wakeup, on_wakeup);
  c->wakeup.data = c;
  uv_timer_init(&c->loop, &c->tick);
  c->tick.data = c;
  unsigned period = c->opt.request_timeout_ms / 8;
  if (period < 5) period = 5;
  if (period > 100) period = 100;
  uv_timer_start(&c->tick, on_tick, period, period);
  conn_init(c, &c->cmd, "commands", false);
  conn_init(c, &c->sub, "pubsub", true);
  if (pthread_create(&c->thread, NULL, client_thread, c) != 0) {
    finish(c);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    uv_loop_close(&c->loop);
    pthread_mutex_destroy(&c->lock);
    free(c);
    *err = "cannot start the client thread";
    return NULL;
  }
  return c;
}

void redis_client_close(redis_client *c) {
  if (c == NULL) return;
  pthread_mutex_lock(&c->lock);
  c->closing = true;
  pthread_mutex_unlock(&c->lock);
  uv_async_send(&c->wakeup);
  pthread_join(c->thread, NULL);
  if (uv_loop_close(&c->loop) != 0) log_msg(LOG_ERROR, COMPONENT, "event loop closed with open handles");
  /* Operations queued after the loop's last look (only removals can be): their subscriptions
   * have already ended in finish(). */
  for (sub_op *op = c->ops_head; op;) {
    sub_op *next = op->next;
    free(op);
    op = next;
  }
  pthread_mutex_destroy(&c->lock);
  free(c);
}
