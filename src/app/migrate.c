/* `messenger migrate`: creates or upgrades the selected store's schema. Idempotent. */
#include <getopt.h>

#include "app/commands.h"

int cmd_migrate(int argc, char **argv) {
  store_settings st_cfg;
  store_settings_from_env(&st_cfg);
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
  /* Opening a store creates its schema when missing. */
  store *st = open_store(&st_cfg);
  if (!st) return 1;
  store_close(st);
  fprintf(stderr, "messenger migrate: %s schema is up to date\n", st_cfg.backend);
  return 0;
}
