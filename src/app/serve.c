/* `messenger serve`: wires the store, the api routes and the HTTP transport together, and
 * shuts down gracefully on SIGTERM/SIGINT. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/events.h"
#include "events/redis_log.h"
#include "app/commands.h"
#include "app/cql_metrics.h"
#include "http/server.h"
#include "log/log.h"
#include "metrics/global.h"
#include "store/metered.h"

static void serve_usage(FILE *out) {
  fprintf(
      out,
      "usage: messenger serve [options]\n\n"
      "  --port N                 listen port (8000)                      [PORT]\n"
      "  --host ADDR              listen IPv4 address (0.0.0.0)            [HOST]\n"
      "  --threads N              HTTP worker threads (number of cores)    [MESSENGER_THREADS]\n"
      "  --docs-dir DIR           Swagger UI assets for /docs              [MESSENGER_DOCS_DIR]\n"
      "  --chat-dir DIR           the /chat web client's files             [MESSENGER_CHAT_DIR]\n"
      "  --cors-origins LIST      allowed browser origins, comma list or * [MESSENGER_CORS_ORIGINS]\n"
      "                           (default: * with auth off, none with auth on)\n"
      "  --max-connections N      open connections at most (1024)          [MESSENGER_MAX_CONNECTIONS]\n"
      "  --per-ip-connections N   per client address, 0 = no limit (1024)  [MESSENGER_PER_IP_CONNECTIONS]\n"
      "  --quiet                  no per-request log lines                 "
      "[MESSENGER_QUIET=1]\n"
      "  --no-metrics             no metrics, /metrics answers 404         "
      "[MESSENGER_METRICS=0]\n" STORE_OPTIONS_HELP
      "  Authentication (off unless a secret or key is set; API.md \"Authentication\"):\n"
      "    MESSENGER_JWT_SECRET            HS256 secret (32 bytes at least)\n"
      "    MESSENGER_JWT_PUBLIC_KEY_FILE   PEM public key: RSA (RS256) or EC P-256 (ES256)\n"
      "    MESSENGER_JWT_ISSUER            required iss       MESSENGER_JWT_AUDIENCE  required aud\n"
      "  Send rate limit per sender (429 + Retry-After):\n"
      "    MESSENGER_SEND_RATE             messages/s, 0 = off (default)\n"
      "    MESSENGER_SEND_BURST            bucket size (5 x the rate)\n"
      "    MESSENGER_REDIS_URL             redis://[[user]:password@]host[:port][/db]: one limit for all "
      "replicas\n"
      "    MESSENGER_REDIS_TIMEOUT_MS      wait for Redis before the per-process limit decides (250)\n"
      "\nLimits: body 64 KiB (413), request line + headers 16 KiB (431), 10 s to send a request,\n"
      "60 s idle keep-alive. SIGTERM/SIGINT: stop accepting, finish in-flight requests, exit 0.\n");
}

static bool parse_serve_args(int argc, char **argv, serve_settings *srv, store_settings *st, int *exit_code) {
  enum {
    OPT_PORT = 1,
    OPT_HOST,
    OPT_THREADS,
    OPT_DOCS,
    OPT_CHAT,
    OPT_CORS,
    OPT_MAXCONN,
    OPT_PERIP,
    OPT_QUIET,
    OPT_NO_METRICS,
    OPT_HELP
  };
  static const struct option options[] = {
      {"port", required_argument, NULL, OPT_PORT},
      {"host", required_argument, NULL, OPT_HOST},
      {"threads", required_argument, NULL, OPT_THREADS},
      {"docs-dir", required_argument, NULL, OPT_DOCS},
      {"chat-dir", required_argument, NULL, OPT_CHAT},
      {"cors-origins", required_argument, NULL, OPT_CORS},
      {"max-connections", required_argument, NULL, OPT_MAXCONN},
      {"per-ip-connections", required_argument, NULL, OPT_PERIP},
      {"quiet", no_argument, NULL, OPT_QUIET},
      {"no-metrics", no_argument, NULL, OPT_NO_METRICS},
      {"help", no_argument, NULL, OPT_HELP},
      STORE_LONG_OPTIONS,
      {NULL, 0, NULL, 0},
  };
  int opt;
  uint64_t v;
  optind = 1;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    bool ok = true;
    switch (opt) {
    case OPT_PORT:
      ok = parse_unsigned(optarg, 0, 65535, &v);
      srv->http.port = (uint16_t)v;
      break;
    case OPT_HOST:
      srv->http.host = optarg;
      break;
    case OPT_THREADS:
      ok = parse_unsigned(optarg, 0, 1024, &v);
      srv->http.threads = (unsigned)v;
      break;
    case OPT_DOCS:
      srv->docs_dir = optarg;
      break;
    case OPT_CHAT:
      srv->chat_dir = optarg;
      break;
    case OPT_CORS:
      srv->cors_origins = optarg;
      break;
    case OPT_MAXCONN:
      ok = parse_unsigned(optarg, 1, 1000000, &v);
      srv->http.max_connections = (unsigned)v;
      break;
    case OPT_PERIP:
      ok = parse_unsigned(optarg, 0, 1000000, &v);
      srv->http.per_ip_connections = (unsigned)v;
      break;
    case OPT_QUIET:
      srv->http.log_requests = false;
      break;
    case OPT_NO_METRICS:
      srv->metrics = false;
      break;
    case OPT_HELP:
      serve_usage(stdout);
      *exit_code = 0;
      return false;
    default:
      ok = store_option(st, opt, optarg, "messenger serve") && st->node_id >= 0;
      break;
    }
    if (!ok) return reject_option("messenger serve", opt, serve_usage, exit_code);
  }
  if (optind < argc) {
    log_msg(LOG_ERROR, "serve", "unexpected argument '%s'", argv[optind]);
    *exit_code = 2;
    return false;
  }
  return true;
}

/* The event streams' parts, in the order they can go (each accepts NULL). */
static void stop_events(redis_log *shared_log, events_hub *hub, rate_gate *typing_gate) {
  redis_log_close(shared_log);
  events_hub_free(hub);
  rate_gate_free(typing_gate);
}

/* Authentication and send limits, each NULL when off. */
typedef struct access_parts {
  auth_verifier *auth;
  ratelimit *send_limit;
  redis_client *redis;
  ratelimit_shared *send_limit_shared;
} access_parts;

static void close_access(access_parts *p) {
  if (p->redis) redis_client_close(p->redis); /* answers every pending limit request first */
  ratelimit_shared_free(p->send_limit_shared);
  auth_verifier_free(p->auth);
  ratelimit_free(p->send_limit);
  *p = (access_parts){0};
}

static bool open_send_limit(const serve_settings *cfg, double rate, uint32_t burst, access_parts *p,
                            char *err, size_t err_size) {
  if (!cfg->redis_url) {
    p->send_limit = ratelimit_new(rate, burst);
    if (!p->send_limit) snprintf(err, err_size, "send limit: out of memory");
    return p->send_limit != NULL;
  }
  /* A send waits for the limit's answer: when Redis is slow or down, the per-process bucket
   * decides after at most this long (ratelimit/shared.h). */
  redis_client_options opts = {.request_timeout_ms = cfg->redis_timeout_ms,
                               .connect_timeout_ms = cfg->redis_timeout_ms};
  const char *why = NULL;
  p->redis = redis_client_open(cfg->redis_url, &opts, &why);
  if (!p->redis) {
    snprintf(err, err_size, "MESSENGER_REDIS_URL: %s", why ? why : "cannot start the client");
    return false;
  }
  p->send_limit_shared = ratelimit_shared_new(p->redis, cfg->redis_prefix, rate, burst);
  if (!p->send_limit_shared)
    snprintf(err, err_size, "send limit: out of memory or MESSENGER_REDIS_PREFIX too long");
  return p->send_limit_shared != NULL;
}

static bool open_access(const serve_settings *cfg, access_parts *p, char *err, size_t err_size) {
  *p = (access_parts){0};
  double rate;
  uint32_t burst;
  if (!send_limit_settings(cfg, &rate, &burst, err, err_size)) return false;
  if (auth_config_enabled(&cfg->auth)) {
    char reason[224];
    p->auth = auth_verifier_new(&cfg->auth, reason, sizeof reason);
    if (!p->auth) {
      snprintf(err, err_size, "authentication: %s", reason);
      return false;
    }
  }
  if (rate > 0 && !open_send_limit(cfg, rate, burst, p, err, err_size)) {
    close_access(p);
    return false;
  }
  return true;
}

static const char *send_limit_name(const serve_settings *cfg, const access_parts *p) {
  if (p->send_limit_shared) return "shared (Redis)";
  return p->send_limit ? cfg->send_rate : "off";
}

int cmd_serve(int argc, char **argv) {
  serve_settings srv_cfg;
  store_settings st_cfg;
  serve_settings_from_env(&srv_cfg);
  store_settings_from_env(&st_cfg);
  if (!config_check_env("messenger serve")) return 2;
  int exit_code = 0;
  if (!parse_serve_args(argc, argv, &srv_cfg, &st_cfg, &exit_code)) return exit_code;

  /* Every thread started from here on inherits the blocked set; only sigwait below sees them. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  signal(SIGPIPE, SIG_IGN);

  char err[256];
  access_parts access;
  if (!open_access(&srv_cfg, &access, err, sizeof err)) {
    log_msg(LOG_ERROR, "serve", "%s", err);
    return 2;
  }
  store *st = open_store(&st_cfg);
  if (!st) {
    close_access(&access);
    return 1;
  }
  cql_client *cql = strcmp(store_backend(st), "cassandra") == 0 ? cassandra_store_client(st) : NULL;
  if (srv_cfg.metrics && metrics_global_init(MESSENGER_VERSION, store_backend(st))) {
    if (cql && !metrics_collector_add(metrics_global(), cql_metrics_collect, cql))
      log_msg(LOG_WARN, "serve", "out of memory: CQL metrics are off");
    st = store_metered_wrap(st, metrics_global());
  }
  static api app;
  api_options api_opt = {.docs_dir = srv_cfg.docs_dir,
                         .chat_dir = srv_cfg.chat_dir,
                         .cors_origins = serve_cors_origins(&srv_cfg)};
  if (!api_init(&app, st, &api_opt, err, sizeof err)) {
    log_msg(LOG_ERROR, "serve", "CORS origins: %s", err);
    store_close(st);
    metrics_global_shutdown();
    close_access(&access);
    return 2;
  }
  app.auth = access.auth;
  app.send_limit = access.send_limit;
  app.send_limit_shared = access.send_limit_shared;
  if (metrics_global() && !api_enable_metrics(&app, metrics_global()))
    log_msg(LOG_WARN, "serve", "out of memory: HTTP metrics are off");
  /* a replay may fill half a stream's buffer: the live events go on arriving meanwhile */
  srv_cfg.events.replay_max_bytes = srv_cfg.http.max_stream_buffer_bytes / 2;
  events_hub *hub = events_hub_new(&srv_cfg.events);
  rate_gate *typing_gate = rate_gate_new(EVENTS_TYPING_INTERVAL_MS, 1 << 16);
  redis_log *shared_log = NULL;
  if (!hub || !typing_gate) {
    log_msg(LOG_ERROR, "serve", "cannot start the event streams (out of memory)");
    goto fail;
  }
  if (srv_cfg.redis_url) {
    const redis_log_config log_cfg = {
        .url = srv_cfg.redis_url,
        .prefix = srv_cfg.redis_prefix,
        .max_per_user = srv_cfg.events.history_per_user,
        .max_age_s = srv_cfg.events.history_max_age_s,
        .wait_ready_ms = 5000,
    };
    const char *log_err;
    shared_log = redis_log_open(hub, &log_cfg, &log_err);
    if (!shared_log) {
      log_msg(LOG_ERROR, "serve", "MESSENGER_REDIS_URL: %s", log_err);
      goto fail;
    }
  }
  api_events_init(&app, hub, typing_gate);
  http_server *srv = http_server_start(&srv_cfg.http, &app.routes, err, sizeof err);
  if (!srv) {
    log_msg(LOG_ERROR, "serve", "%s", err);
    goto fail;
  }
  log_msg(LOG_INFO, "serve", "listening on %s:%u (store: %s, auth: %s, send limit: %s)", srv_cfg.http.host,
          http_server_port(srv), store_backend(st),
          access.auth ? jwt_alg_name(auth_verifier_alg(access.auth)) : "off",
          send_limit_name(&srv_cfg, &access));

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log_msg(LOG_INFO, "serve", "%s received, draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  atomic_store(&app.draining, true);
  if (!http_server_shutdown(srv, srv_cfg.shutdown_grace_ms)) {
    log_msg(LOG_ERROR, "serve", "stopped without draining the store");
    return 1;
  }
  metrics_collector_remove(metrics_global(), cql_metrics_collect, cql); /* the transport is stopped */
  store_close(st); /* its last callbacks may still publish events */
  stop_events(shared_log, hub, typing_gate);
  api_free(&app);
  metrics_global_shutdown();
  close_access(&access);
  log_msg(LOG_INFO, "serve", "stopped");
  return 0;

fail:
  metrics_collector_remove(metrics_global(), cql_metrics_collect, cql);
  store_close(st);
  stop_events(shared_log, hub, typing_gate);
  api_free(&app);
  metrics_global_shutdown();
  close_access(&access);
  return 1;
}
