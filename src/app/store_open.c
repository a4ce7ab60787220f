#include <getopt.h>
#include <string.h>

#include "app/commands.h"
#include "store/cassandra/cassandra_store.h"
#include "store/sqlite/sqlite_store.h"
#include "log/log.h"

bool store_option(store_settings *s, int opt, const char *arg, const char *prog) {
  uint64_t v;
  switch (opt) {
  case OPT_STORE:
    s->backend = arg;
    return true;
  case OPT_DB:
    s->db_path = arg;
    return true;
  case OPT_NODE_ID:
    if (!parse_unsigned(arg, 0, 31, &v)) {
      log_msg(LOG_ERROR, "config", "%s: --node-id must be 0..31", prog);
      s->node_id = -1;
    } else {
      s->node_id = (int)v;
      s->node_id_set = true;
    }
    return true;
  default:
    return false;
  }
}

cassandra_store_config cassandra_settings(const store_settings *s) {
  return (cassandra_store_config){
      .contact_points = s->contact_points,
      .port = s->cassandra_port,
      .keyspace = s->keyspace,
      .local_dc = s->local_dc,
      .username = s->username,
      .password = s->password,
      .consistency = s->consistency,
      .request_timeout_ms = s->request_timeout_ms,
      .protocol_version = s->protocol_version,
      .node_id = s->node_id_set ? s->node_id : -1,
  };
}

bool reject_option(const char *prog, int opt, void (*usage)(FILE *), int *exit_code) {
  if (opt != '?') log_msg(LOG_ERROR, "config", "%s: invalid option value '%s'", prog, optarg ? optarg : "");
  usage(stderr);
  *exit_code = 2;
  return false;
}

store *open_store(const store_settings *s) {
  char err[512] = "";
  store *st = NULL;
  if (strcmp(s->backend, "sqlite") == 0) {
    sqlite_store_config cfg = {.path = s->db_path};
    if (sqlite_store_open(&cfg, &st, err, sizeof err) == 0) return st;
  } else if (strcmp(s->backend, "cassandra") == 0) {
    cassandra_store_config cfg = cassandra_settings(s);
    if (cassandra_store_open(&cfg, &st, err, sizeof err) == 0) return st;
  } else {
    snprintf(err, sizeof err, "unknown store '%s' (expected sqlite or cassandra)", s->backend);
  }
  log_msg(LOG_ERROR, "store", "cannot open the %s store: %s", s->backend, err);
  return NULL;
}
