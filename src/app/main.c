/* messenger: the chat backend's single binary. */
#include <stdio.h>
#include <string.h>

#include "app/commands.h"
#include "log/log.h"

static const struct {
  const char *name;
  int (*run)(int, char **);
  const char *summary;
} commands[] = {
    {"serve", cmd_serve, "serve the HTTP API"},
    {"seed", cmd_seed, "fill the store with test data"},
    {"migrate", cmd_migrate, "create the Cassandra keyspace and tables (idempotent)"},
    {"healthcheck", cmd_healthcheck, "exit 0 if the local server answers GET /health"},
    {"token", cmd_token, "print an HS256 token for MESSENGER_JWT_SECRET (local testing)"},
};

static void usage(FILE *out) {
  fprintf(out, "usage: messenger <command> [options]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\nmessenger <command> --help shows a command's options.\n");
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("messenger %s\n", MESSENGER_VERSION);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
  log_msg(LOG_ERROR, "main", "unknown command '%s'", argv[1]);
  usage(stderr);
  return 2;
}
