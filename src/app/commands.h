/* app/commands: the subcommands of the `messenger` binary. Each takes its own argv
 * (argv[0] = subcommand name) and returns the process exit code. */
#ifndef MESSENGER_APP_COMMANDS_H
#define MESSENGER_APP_COMMANDS_H

#include <stdio.h>

#include "app/config.h"
#include "store/cassandra/cassandra_store.h"
#include "store/store.h"

#define MESSENGER_VERSION "1.0.0"

int cmd_serve(int argc, char **argv);
int cmd_seed(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_healthcheck(int argc, char **argv);
int cmd_token(int argc, char **argv);

/* Opens the store the settings select. Returns NULL and prints why on failure. */
store *open_store(const store_settings *s);

/* The Cassandra store's settings (node_id -1 when none was given: the store leases one). */
cassandra_store_config cassandra_settings(const store_settings *s);

/* Handles the store flags shared by every subcommand (--db, --store, --node-id); returns
 * false if `opt` is not one of them. */
bool store_option(store_settings *s, int opt, const char *arg, const char *prog);

#define STORE_OPTIONS_HELP                                                                                   \
  "  --store NAME         sqlite (default) or cassandra        [MESSENGER_STORE]\n"                          \
  "  --db PATH            SQLite database file (messenger.db) [MESSENGER_DB]\n"                              \
  "  --node-id N          0..31, unique per server process    [MESSENGER_NODE_ID]\n"                         \
  "  Cassandra: CASSANDRA_CONTACT_POINTS, CASSANDRA_PORT, CASSANDRA_KEYSPACE, CASSANDRA_LOCAL_DC,\n"         \
  "             CASSANDRA_USERNAME, CASSANDRA_PASSWORD, CASSANDRA_CONSISTENCY, CASSANDRA_REPLICATION\n"

/* Reports a bad option (getopt already reported unknown ones as '?'), prints the usage,
 * sets *exit_code to 2 and returns false, for `return reject_option(...)`. */
bool reject_option(const char *prog, int opt, void (*usage)(FILE *), int *exit_code);

enum { OPT_STORE = 1000, OPT_DB, OPT_NODE_ID };
#define STORE_LONG_OPTIONS                                                                                   \
  {"store", required_argument, NULL, OPT_STORE}, {"db", required_argument, NULL, OPT_DB}, {                  \
    "node-id", required_argument, NULL, OPT_NODE_ID                                                          \
  }

#endif
