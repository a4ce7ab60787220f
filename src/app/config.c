#include "app/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"

bool parse_unsigned(const char *text, uint64_t min, uint64_t max, uint64_t *out) {
  if (!text || !*text || *text == '-' || *text == '+' || *text == ' ') return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || *end || v < min || v > max) return false;
  *out = v;
  return true;
}

static const char *env_or(const char *name, const char *fallback) {
  const char *v = getenv(name);
  return v && *v ? v : fallback;
}

/* The first environment variable found set to an invalid value (config_check_env reports it). */
static const char *invalid_env_name;

/* An unsigned environment variable, or the fallback when unset; an invalid value is recorded
 * for config_check_env (and the fallback returned meanwhile). */
static uint64_t env_unsigned(const char *name, uint64_t min, uint64_t max, uint64_t fallback) {
  const char *text = getenv(name);
  if (!text || !*text) return fallback;
  uint64_t v;
  if (parse_unsigned(text, min, max, &v)) return v;
  if (!invalid_env_name) invalid_env_name = name;
  return fallback;
}

bool config_check_env(const char *prog) {
  if (!invalid_env_name) return true;
  log_msg(LOG_ERROR, "config", "%s: invalid value '%s' for %s", prog, getenv(invalid_env_name),
          invalid_env_name);
  return false;
}

/* CASSANDRA_PROTOCOL_VERSION: "4" (default), "5", or "auto" to negotiate. v4 is the default
 * because it is the path tested end to end (the test server speaks v4); v5 framing is
 * checked byte for byte against the DataStax Python driver but has not met a server here. */
static int cassandra_protocol_version(const char *text) {
  if (text && strcmp(text, "5") == 0) return 5;
  if (text && strcmp(text, "auto") == 0) return 0;
  if (text && *text && strcmp(text, "4") != 0 && !invalid_env_name)
    invalid_env_name = "CASSANDRA_PROTOCOL_VERSION";
  return 4;
}

void store_settings_from_env(store_settings *s) {
  *s = (store_settings){
      .backend = env_or("MESSENGER_STORE", "sqlite"),
      .db_path = env_or("MESSENGER_DB", "messenger.db"),
      .node_id = (int)env_unsigned("MESSENGER_NODE_ID", 0, 31, 0),
      .contact_points = env_or("CASSANDRA_CONTACT_POINTS", "127.0.0.1"),
      .cassandra_port = (int)env_unsigned("CASSANDRA_PORT", 1, 65535, 9042),
      .keyspace = env_or("CASSANDRA_KEYSPACE", "messenger"),
      .local_dc = env_or("CASSANDRA_LOCAL_DC", NULL),
      .username = env_or("CASSANDRA_USERNAME", NULL),
      .password = env_or("CASSANDRA_PASSWORD", NULL),
      .consistency = env_or("CASSANDRA_CONSISTENCY", "LOCAL_QUORUM"),
      .replication = env_or("CASSANDRA_REPLICATION", NULL),
      .request_timeout_ms = (unsigned)env_unsigned("CASSANDRA_REQUEST_TIMEOUT_MS", 100, 600000, 12000),
      .protocol_version = cassandra_protocol_version(getenv("CASSANDRA_PROTOCOL_VERSION")),
  };
  uint64_t node;
  s->node_id_set = parse_unsigned(getenv("MESSENGER_NODE_ID"), 0, 31, &node);
}

void serve_settings_from_env(serve_settings *s) {
  http_server_config_defaults(&s->http);
  s->http.host = env_or("HOST", "0.0.0.0");
  s->http.port = (uint16_t)env_unsigned("PORT", 0, 65535, 8000);
  s->http.threads = (unsigned)env_unsigned("MESSENGER_THREADS", 0, 1024, 0);
  s->http.max_connections =
      (unsigned)env_unsigned("MESSENGER_MAX_CONNECTIONS", 1, 1000000, s->http.max_connections);
  s->http.per_ip_connections =
      (unsigned)env_unsigned("MESSENGER_PER_IP_CONNECTIONS", 0, 1000000, s->http.per_ip_connections);
  s->http.log_requests = !env_unsigned("MESSENGER_QUIET", 0, 1, 0);
  s->docs_dir = env_or("MESSENGER_DOCS_DIR", NULL);
  s->chat_dir = env_or("MESSENGER_CHAT_DIR", NULL);
  s->cors_origins = getenv("MESSENGER_CORS_ORIGINS"); /* set but empty = no origin */
  /* API.md: auth is on when a JWT secret or public key is configured (the auth settings
   * read the same variables); flags cannot turn it on, so the environment decides. */
  s->auth_enabled = env_or("MESSENGER_JWT_SECRET", NULL) || env_or("MESSENGER_JWT_PUBLIC_KEY_FILE", NULL);
  s->shutdown_grace_ms = 25000;
  s->http.max_stream_buffer_bytes =
      (size_t)env_unsigned("MESSENGER_STREAM_BUFFER_BYTES", 4096, 64 << 20, s->http.max_stream_buffer_bytes);
  events_config_defaults(&s->events);
  s->events.heartbeat_ms = (unsigned)env_unsigned("MESSENGER_EVENTS_HEARTBEAT_MS", 100, 600000, 15000);
  s->events.history_per_user = (size_t)env_unsigned("MESSENGER_EVENTS_HISTORY", 1, 1000000, 1000);
  s->events.history_max_age_s =
      (unsigned)env_unsigned("MESSENGER_EVENTS_HISTORY_SECONDS", 1, 7 * 86400, 3600);
  s->events.history_max_bytes = (size_t)env_unsigned("MESSENGER_EVENTS_HISTORY_MB", 1, 65536, 64) << 20;
  s->redis_url = env_or("MESSENGER_REDIS_URL", NULL);
  if (s->redis_url && !*s->redis_url) s->redis_url = NULL;
  s->redis_prefix = env_or("MESSENGER_REDIS_PREFIX", "messenger:");
  s->metrics = env_unsigned("MESSENGER_METRICS", 0, 1, 1) == 1;
  s->auth = (auth_config){
      .hs256_secret = env_or("MESSENGER_JWT_SECRET", NULL),
      .public_key_file = env_or("MESSENGER_JWT_PUBLIC_KEY_FILE", NULL),
      .issuer = env_or("MESSENGER_JWT_ISSUER", NULL),
      .audience = env_or("MESSENGER_JWT_AUDIENCE", NULL),
  };
  s->send_rate = env_or("MESSENGER_SEND_RATE", NULL);
  s->send_burst = env_or("MESSENGER_SEND_BURST", NULL);
  s->redis_timeout_ms = (unsigned)env_unsigned("MESSENGER_REDIS_TIMEOUT_MS", 10, 60000, 250);
}

bool send_limit_settings(const serve_settings *s, double *rate, uint32_t *burst, char *err, size_t err_size) {
  *rate = 0;
  *burst = 0;
  if (!s->send_rate) return true;
  char *end;
  errno = 0;
  double r = strtod(s->send_rate, &end);
  if (errno || end == s->send_rate || *end || !(r == 0 || (r >= 0.001 && r <= 1e6))) {
    snprintf(err, err_size, "MESSENGER_SEND_RATE must be 0 (off) or 0.001 .. 1000000 messages/s, not '%s'",
             s->send_rate);
    return false;
  }
  if (r == 0) return true;
  uint64_t b = (uint64_t)(5 * r + 0.5);
  if (s->send_burst && !parse_unsigned(s->send_burst, 1, 1000000, &b)) {
    snprintf(err, err_size, "MESSENGER_SEND_BURST must be 1 .. 1000000, not '%s'", s->send_burst);
    return false;
  }
  *rate = r;
  *burst = b < 1 ? 1 : b > 1000000 ? 1000000 : (uint32_t)b;
  return true;
}

const char *serve_cors_origins(const serve_settings *s) {
  if (s->cors_origins) return s->cors_origins;
  return s->auth_enabled ? "" : "*";
}
