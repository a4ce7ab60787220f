/* `messenger migrate`: creates or upgrades the selected store's schema. Idempotent. */
#include <getopt.h>
#include <string.h>

#include "app/commands.h"
#include "log/log.h"

int cmd_migrate(int argc, char **argv) {
  store_settings st_cfg;
  store_settings_from_env(&st_cfg);
  if (!config_check_env("messenger migrate")) return 2;
  static const struct option options[] = {
      STORE_LONG_OPTIONS, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  int opt;
  optind = 1;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    if (opt == 'h' || !store_option(&st_cfg, opt, optarg, "messenger migrate") || st_cfg.node_id < 0) {
      fprintf(opt == 'h' ? stdout : stderr, "usage: messenger migrate [options]\n\n" STORE_OPTIONS_HELP);
      return opt == 'h' ? 0 : 2;
    }
  }
  if (strcmp(st_cfg.backend, "cassandra") == 0) {
    cassandra_store_config cfg = cassandra_settings(&st_cfg);
    char err[512];
    if (cassandra_migrate(&cfg, st_cfg.replication, err, sizeof err) != 0) {
      log_msg(LOG_ERROR, "migrate", "%s", err);
      return 1;
    }
    log_msg(LOG_INFO, "migrate", "cassandra keyspace %s is up to date", cfg.keyspace);
    return 0;
  }
  /* Opening the SQLite store creates its schema when missing. */
  store *st = open_store(&st_cfg);
  if (!st) return 1;
  store_close(st);
  log_msg(LOG_INFO, "migrate", "%s schema is up to date", st_cfg.backend);
  return 0;
}
