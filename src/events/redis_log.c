#include "events/redis_log.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/remote.h"
#include "log/log.h"
#include "redis/redis.h"

#define PREFIX_MAX 64

/* KEYS[1] = the user's stream; ARGV = channel, user id, type, fields, max entries, max age ms. */
static const char publish_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[5], '*', 't', ARGV[3], 'f', ARGV[4])\n"
    "redis.call('XTRIM', KEYS[1], 'MINID', (now - tonumber(ARGV[6])) .. '-0')\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[6])\n"
    "redis.call('PUBLISH', ARGV[1], ARGV[2] .. ' ' .. id .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])\n"
    "return id\n";

/* KEYS[1] = the user's stream; ARGV = since ('' = none), max age ms. Returns {'position', last},
 * {'reset', last} or {'entries', last, id, type, fields, ...}. The position of a stream that
 * does not exist is "<now-1>-<2^64-1>" (below any id a new entry gets, and never an entry's own).
 * A resume from `since` is gapless unless: since is above the last id (unknown); or an entry
 * after since may have been removed: XDEL above since (max-deleted-entry-id), or trimming (more
 * entries added than present) with since below the first entry, or the stream is gone although
 * since is an entry's id (expired, or Redis lost its data), or since is older than the age
 * bound. Ids are compared as decimal strings (Lua numbers cannot hold 64-bit sequences). */
static const char replay_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local empty = '-18446744073709551615'\n"
    "local last = (now - 1) .. empty\n"
    "local exists = redis.call('EXISTS', KEYS[1]) == 1\n"
    "local maxdel, length, added, first = '0-0', 0, 0, nil\n"
    "if exists then\n"
    "  local info = redis.call('XINFO', 'STREAM', KEYS[1])\n"
    "  for i = 1, #info, 2 do\n"
    "    local k, v = info[i], info[i + 1]\n"
    "    if k == 'last-generated-id' then last = v\n"
    "    elseif k == 'max-deleted-entry-id' then maxdel = v\n"
    "    elseif k == 'length' then length = v\n"
    "    elseif k == 'entries-added' then added = v\n"
    "    elseif k == 'first-entry' and v then first = v[1] end\n"
    "  end\n"
    "end\n"
    "if ARGV[1] == '' then return {'position', last} end\n"
    "local function less(a, b)\n"
    "  local am, as = string.match(a, '^(%d+)-(%d+)$')\n"
    "  local bm, bs = string.match(b, '^(%d+)-(%d+)$')\n"
    "  if #am ~= #bm then return #am < #bm end\n"
    "  if am ~= bm then return am < bm end\n"
    "  if #as ~= #bs then return #as < #bs end\n"
    "  return as < bs\n"
    "end\n"
    "local since = ARGV[1]\n"
    "if since == last then return {'entries', last} end\n"
    "local since_ms = tonumber(string.match(since, '^(%d+)-'))\n"
    "local marker = string.sub(since, -#empty) == empty\n"
    "if less(last, since) or less(since, maxdel) or (added > length and (not first or less(since, first)))\n"
    "   or (not exists and not marker) or since_ms < now - tonumber(ARGV[2]) then\n"
    "  return {'reset', last}\n"
    "end\n"
    "local out = {'entries', last}\n"
    "for _, e in ipairs(redis.call('XRANGE', KEYS[1], '(' .. since, '+')) do\n"
    "  local f = e[2]\n"
    "  out[#out + 1] = e[1]\n"
    "  out[#out + 1] = f[2]\n"
    "  out[#out + 1] = f[4]\n"
    "end\n"
    "return out\n";

struct redis_log {
  events_hub *hub;
  redis_client *client;
  redis_script *publish_script;
  redis_script *replay_script;
  redis_subscription *sub;
  char prefix[PREFIX_MAX + 1];
  char channel[PREFIX_MAX + 16];
  char max_len[24];
  char max_age_ms[24];
  pthread_mutex_t lock;
  pthread_cond_t changed;
  bool active;
};

static size_t stream_key(const redis_log *l, int64_t user_id, char *out, size_t size) {
  /* {user} is a hash tag: one user's stream lives on one Redis Cluster slot */
  return (size_t)snprintf(out, size, "%sevents:{%lld}", l->prefix, (long long)user_id);
}

/* Maps a type read back from Redis to the hub's literals; NULL for anything else. */
static const char *known_type(const char *text, size_t len) {
  static const char *const types[] = {EVENT_MESSAGE, EVENT_READ, EVENT_TYPING};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (strlen(types[i]) == len && memcmp(types[i], text, len) == 0) return types[i];
  return NULL;
}

/* ---- publish ---- */

static void on_published(void *user, redis_status status, const redisReply *reply) {
  (void)user;
  if (status != REDIS_STATUS_OK)
    log_msg(LOG_WARN, "events", "redis: an event was not published (%s)", redis_status_name(status));
  else if (reply->type == REDIS_REPLY_ERROR)
    log_msg(LOG_WARN, "events", "redis: an event was not published (%.*s)", (int)reply->len, reply->str);
}

static bool log_publish(void *remote, int64_t user_id, const char *type, const char *fields,
                        size_t fields_len, bool logged) {
  redis_log *l = remote;
  char uid[24];
  int uid_len = snprintf(uid, sizeof uid, "%lld", (long long)user_id);
  if (!logged) {
    size_t type_len = strlen(type), len = (size_t)uid_len + 3 + type_len + 1 + fields_len;
    char *payload = malloc(len);
    if (!payload) return false;
    int n = snprintf(payload, len, "%s - %s ", uid, type);
    memcpy(payload + n, fields, fields_len);
    const char *argv[] = {"PUBLISH", l->channel, payload};
    const size_t argvlen[] = {7, strlen(l->channel), (size_t)n + fields_len};
    int rc = redis_client_command(l->client, 3, argv, argvlen, on_published, l);
    free(payload);
    return rc == REDIS_SUBMIT_OK;
  }
  char key[PREFIX_MAX + 40];
  size_t key_len = stream_key(l, user_id, key, sizeof key);
  const char *argv[] = {key, l->channel, uid, type, fields, l->max_len, l->max_age_ms};
  const size_t argvlen[] = {key_len,    strlen(l->channel), (size_t)uid_len,      strlen(type),
                            fields_len, strlen(l->max_len), strlen(l->max_age_ms)};
  return redis_client_evalsha(l->client, l->publish_script, 1, 7, argv, argvlen, on_published, l) ==
         REDIS_SUBMIT_OK;
}

/* ---- replay ---- */

typedef struct replay_call {
  redis_log *log;
  events_sub *sub;
} replay_call;

static bool reply_pos(const redisReply *r, event_pos *out) {
  return r->type == REDIS_REPLY_STRING && event_pos_parse(r->str, r->len, out);
}

static void on_replayed(void *user, redis_status status, const redisReply *reply) {
  replay_call *call = user;
  events_hub *hub = call->log->hub;
  events_sub *sub = call->sub;
  free(call);
  event_pos last;
  bool shaped = status == REDIS_STATUS_OK && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
                reply->element[0]->type == REDIS_REPLY_STRING && reply_pos(reply->element[1], &last) &&
                (reply->elements - 2) % 3 == 0;
  if (!shaped) {
    log_msg(LOG_WARN, "events", "redis: replay failed (%s)",
            status != REDIS_STATUS_OK          ? redis_status_name(status)
            : reply->type == REDIS_REPLY_ERROR ? reply->str
                                               : "unexpected reply");
    events_hub_replay_done(hub, sub, REPLAY_FAILED, (event_pos){0, 0}, NULL, 0);
    return;
  }
  const char *kind = reply->element[0]->str;
  if (strcmp(kind, "position") == 0 || strcmp(kind, "reset") == 0) {
    events_hub_replay_done(hub, sub, kind[0] == 'p' ? REPLAY_POSITION : REPLAY_RESET, last, NULL, 0);
    return;
  }
  size_t count = (reply->elements - 2) / 3;
  replay_entry *entries = count ? calloc(count, sizeof *entries) : NULL;
  if (count && !entries) {
    events_hub_replay_done(hub, sub, REPLAY_FAILED, last, NULL, 0);
    return;
  }
  size_t n = 0;
  for (size_t i = 0; i < count; i++) {
    const redisReply *id = reply->element[2 + 3 * i], *type = reply->element[3 + 3 * i],
                     *fields = reply->element[4 + 3 * i];
    replay_entry *e = &entries[n];
    if (!reply_pos(id, &e->pos) || type->type != REDIS_REPLY_STRING || fields->type != REDIS_REPLY_STRING ||
        !(e->type = known_type(type->str, type->len)))
      continue; /* not written by this program: skipped */
    e->fields = fields->str;
    e->fields_len = fields->len;
    n++;
  }
  events_hub_replay_done(hub, sub, REPLAY_ENTRIES, last, entries, n);
  free(entries);
}

static bool log_replay(void *remote, int64_t user_id, const event_pos *since, events_sub *sub) {
  redis_log *l = remote;
  replay_call *call = malloc(sizeof *call);
  if (!call) return false;
  *call = (replay_call){.log = l, .sub = sub};
  char key[PREFIX_MAX + 40], since_text[EVENT_ID_TEXT_SIZE] = "";
  size_t key_len = stream_key(l, user_id, key, sizeof key);
  size_t since_len = since ? event_pos_format(*since, since_text) : 0;
  const char *argv[] = {key, since_text, l->max_age_ms};
  const size_t argvlen[] = {key_len, since_len, strlen(l->max_age_ms)};
  if (redis_client_evalsha(l->client, l->replay_script, 1, 3, argv, argvlen, on_replayed, call) !=
      REDIS_SUBMIT_OK) {
    free(call);
    return false;
  }
  return true;
}

static const events_remote_ops redis_log_ops = {log_publish, log_replay};

/* ---- fan-out ---- */

/* "<user> <id|-> <type> <fields>" */
static void on_channel_message(redis_log *l, const char *payload, size_t len) {
  const char *end = payload + len, *p = payload;
  const char *parts[3];
  size_t part_len[3];
  for (int i = 0; i < 3; i++) {
    const char *space = memchr(p, ' ', (size_t)(end - p));
    if (!space) return;
    parts[i] = p;
    part_len[i] = (size_t)(space - p);
    p = space + 1;
  }
  char uid_text[24];
  if (part_len[0] == 0 || part_len[0] >= sizeof uid_text) return;
  memcpy(uid_text, parts[0], part_len[0]);
  uid_text[part_len[0]] = '\0';
  char *uid_end;
  long long user_id = strtoll(uid_text, &uid_end, 10);
  const char *type = known_type(parts[2], part_len[2]);
  if (*uid_end || user_id < 1 || !type) return;
  event_pos pos;
  bool typing = part_len[1] == 1 && parts[1][0] == '-';
  if (!typing && !event_pos_parse(parts[1], part_len[1], &pos)) return;
  events_hub_remote_event(l->hub, user_id, typing ? NULL : &pos, type, p, (size_t)(end - p));
}

static void on_subscription(void *user, redis_sub_event what, const char *payload, size_t len) {
  redis_log *l = user;
  switch (what) {
  case REDIS_SUB_MESSAGE:
    on_channel_message(l, payload, len);
    break;
  case REDIS_SUB_ACTIVE:
  case REDIS_SUB_INTERRUPTED:
    log_msg(what == REDIS_SUB_ACTIVE ? LOG_INFO : LOG_WARN, "events", "redis: event fan-out %s",
            what == REDIS_SUB_ACTIVE ? "subscribed" : "lost: closing every stream (clients resume)");
    events_hub_remote_live(l->hub, what == REDIS_SUB_ACTIVE);
    pthread_mutex_lock(&l->lock);
    l->active = what == REDIS_SUB_ACTIVE;
    pthread_cond_broadcast(&l->changed);
    pthread_mutex_unlock(&l->lock);
    break;
  case REDIS_SUB_ENDED:
    break;
  }
}

static void wait_active(redis_log *l, unsigned ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&l->lock);
  int rc = 0;
  while (!l->active && rc == 0) rc = pthread_cond_timedwait(&l->changed, &l->lock, &until);
  bool active = l->active;
  pthread_mutex_unlock(&l->lock);
  if (!active) log_msg(LOG_WARN, "events", "redis: not subscribed yet; streams are refused until it is");
}

redis_log *redis_log_open(events_hub *hub, const redis_log_config *cfg, const char **err) {
  if (strlen(cfg->prefix) > PREFIX_MAX) {
    *err = "MESSENGER_REDIS_PREFIX is longer than 64 bytes";
    return NULL;
  }
  redis_log *l = calloc(1, sizeof *l);
  if (!l) {
    *err = "out of memory";
    return NULL;
  }
  l->hub = hub;
  snprintf(l->prefix, sizeof l->prefix, "%s", cfg->prefix);
  snprintf(l->channel, sizeof l->channel, "%sevents", cfg->prefix);
  snprintf(l->max_len, sizeof l->max_len, "%zu", cfg->max_per_user);
  snprintf(l->max_age_ms, sizeof l->max_age_ms, "%llu", (unsigned long long)cfg->max_age_s * 1000ULL);
  pthread_mutex_init(&l->lock, NULL);
  pthread_cond_init(&l->changed, NULL);
  l->publish_script = redis_script_new(publish_lua, sizeof publish_lua - 1);
  l->replay_script = redis_script_new(replay_lua, sizeof replay_lua - 1);
  *err = "out of memory";
  /* the defaults: a hung Redis is noticed on the subscription within 5 s + the request timeout */
  if (l->publish_script && l->replay_script) l->client = redis_client_open(cfg->url, NULL, err);
  if (!l->client) {
    redis_script_free(l->publish_script);
    redis_script_free(l->replay_script);
    pthread_cond_destroy(&l->changed);
    pthread_mutex_destroy(&l->lock);
    free(l);
    return NULL;
  }
  events_hub_set_remote(hub, &redis_log_ops, l);
  l->sub = redis_client_subscribe(l->client, l->channel, strlen(l->channel), on_subscription, l);
  if (!l->sub) {
    *err = "cannot subscribe (out of memory)";
    redis_log_close(l);
    return NULL;
  }
  if (cfg->wait_ready_ms) wait_active(l, cfg->wait_ready_ms);
  return l;
}

void redis_log_close(redis_log *l) {
  if (!l) return;
  redis_client_close(l->client); /* answers every pending replay (the hub frees orphaned streams) */
  redis_script_free(l->publish_script);
  redis_script_free(l->replay_script);
  pthread_cond_destroy(&l->changed);
  pthread_mutex_destroy(&l->lock);
  free(l);
}
