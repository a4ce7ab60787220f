/* app/config: the settings of every subcommand, read from environment variables first and
 * then from command-line flags (flags win). Strings point into argv/environ (not owned). */
#ifndef MESSENGER_APP_CONFIG_H
#define MESSENGER_APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "events/hub.h"
#include "http/server.h"

typedef struct store_settings {
  const char *backend; /* "sqlite" | "cassandra" */
  const char *db_path;
  int node_id;
  bool node_id_set; /* MESSENGER_NODE_ID / --node-id given (else the Cassandra store leases one) */
  /* Cassandra */
  const char *contact_points;
  int cassandra_port;
  const char *keyspace;
  const char *local_dc;
  const char *username;
  const char *password;
  const char *consistency;
  const char *replication;
  unsigned request_timeout_ms;
  int protocol_version; /* 4 (default) or 5; 0 = negotiate (try 5, fall back to 4) */
} store_settings;

typedef struct serve_settings {
  http_server_config http;
  const char *docs_dir;
  const char *chat_dir;     /* the /chat web client (MESSENGER_CHAT_DIR, --chat-dir) */
  const char *cors_origins; /* MESSENGER_CORS_ORIGINS / --cors-origins; NULL = the default below */
  bool auth_enabled;        /* MESSENGER_JWT_SECRET or _PUBLIC_KEY_FILE set: decides the CORS default */
  unsigned shutdown_grace_ms;
  auth_config auth;          /* MESSENGER_JWT_*: off unless a secret or key file is set */
  const char *send_rate;     /* MESSENGER_SEND_RATE (messages/s per sender; NULL or "0" = off) */
  const char *send_burst;    /* MESSENGER_SEND_BURST (NULL = 5 x the rate) */
  events_config events;      /* MESSENGER_EVENTS_* */
  const char *redis_url;     /* MESSENGER_REDIS_URL: state shared by replicas (event log, send limit) */
  const char *redis_prefix;  /* MESSENGER_REDIS_PREFIX: of its keys and channel ("messenger:") */
  unsigned redis_timeout_ms; /* MESSENGER_REDIS_TIMEOUT_MS: a send waits this long for the shared limit */
  bool metrics;              /* MESSENGER_METRICS (default 1): collect and serve /metrics */
} serve_settings;

/* The send limit of the settings: *rate 0 when off. False with a reason when a value is not
 * a number in range (rate 0 or 0.001 .. 1e6, burst 1 .. 1e6). */
bool send_limit_settings(const serve_settings *s, double *rate, uint32_t *burst, char *err, size_t err_size);

typedef struct seed_settings {
  uint64_t seed;
  int64_t users;
  int64_t conversations;
  int64_t min_messages;
  int64_t max_messages;
  int days;
} seed_settings;

void store_settings_from_env(store_settings *s);
void serve_settings_from_env(serve_settings *s);

/* The allowed CORS origins to serve with: the configured list, else "*" with auth off and
 * "" (no cross-origin access) with auth on, as API.md says. */
const char *serve_cors_origins(const serve_settings *s);

/* After *_settings_from_env: false (with the message on stderr) when a numeric variable was set
 * to an invalid value; the command then exits 2, as for an invalid flag. */
bool config_check_env(const char *prog);

/* Parses an unsigned decimal in [min, max]; false on anything else. */
bool parse_unsigned(const char *text, uint64_t min, uint64_t max, uint64_t *out);

#endif
