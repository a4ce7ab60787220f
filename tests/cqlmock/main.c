/* cqlmock: the standalone mock CQL cluster (for tests in other languages and manual poking).
 *
 *   cqlmock [--script FILE.json] [--nodes N] [--port P] [--first-host X] [--cluster-name NAME]
 *           [--username U --password P] [--keyspace KS] [--replication MAP]
 *           [--protocol MIN[:MAX]] [--verbose] [--no-log]
 *
 * Prints "cqlmock: listening on 127.0.0.1:P,127.0.0.2:P,..." on stdout once every node listens,
 * then runs one control command per stdin line (answers "ok ..." / "error ..." on stdout):
 *   prime {json}            add a prime (format in script.h)     clear-primes
 *   stop N | start N        close / reopen node N                forget N (prepared ids)
 *   pause N | resume N      stop / resume answering              delay N MS
 *   close N                 drop node N's connections            connections N
 *   event topology|status CHANGE TO_NODE ABOUT_NODE              (TO_NODE -1 = all)
 *   event schema CHANGE TARGET KEYSPACE [NAME]
 *   count NODE OPCODE [QUERY PREFIX]   (NODE -1 = all, OPCODE ANY|QUERY|EXECUTE|...)
 *   log NODE (JSON array)   clear-log [NODE]                     quit
 * Exits 0 on SIGINT/SIGTERM or "quit". Command-line options override the script. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cqlmock.h"
#include "script.h"

static pthread_mutex_t command_lock = PTHREAD_MUTEX_INITIALIZER;
static cqlmock *running; /* NULL once stopping; guarded by command_lock */

/* Control commands; stdin reaching EOF leaves the cluster running until a signal. */
static void *stdin_loop(void *arg) {
  (void)arg;
  static char line[65536], reply[65536];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\r\n")] = '\0';
    pthread_mutex_lock(&command_lock);
    if (!running) {
      pthread_mutex_unlock(&command_lock);
      break;
    }
    int quit = cqlmock_script_command(running, line, reply, sizeof reply);
    pthread_mutex_unlock(&command_lock);
    printf("%s\n", reply);
    fflush(stdout);
    if (quit) {
      kill(getpid(), SIGTERM);
      break;
    }
  }
  return NULL;
}

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: cqlmock [--script FILE.json] [--nodes N] [--port P] [--first-host X] [--cluster-name NAME]\n"
      "               [--username U --password P] [--keyspace KS] [--replication MAP]\n"
      "               [--protocol MIN[:MAX]] [--verbose] [--no-log]\n"
      "A scripted CQL (native protocol v4) mock cluster for client tests; see tests/cqlmock/main.c.\n");
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"script", required_argument, NULL, 's'},
      {"nodes", required_argument, NULL, 'n'},
      {"port", required_argument, NULL, 'p'},
      {"first-host", required_argument, NULL, 'f'},
      {"cluster-name", required_argument, NULL, 'c'},
      {"username", required_argument, NULL, 'u'},
      {"password", required_argument, NULL, 'w'},
      {"keyspace", required_argument, NULL, 'k'},
      {"replication", required_argument, NULL, 'r'},
      {"protocol", required_argument, NULL, 'V'},
      {"verbose", no_argument, NULL, 'v'},
      {"no-log", no_argument, NULL, 'L'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  cqlmock_config cfg = {0}, cli = {0};
  const char *script = NULL;
  int opt;
  while ((opt = getopt_long(argc, argv, "s:n:p:f:c:u:w:k:r:V:vLh", opts, NULL)) != -1) {
    switch (opt) {
    case 's':
      script = optarg;
      break;
    case 'n':
      cli.nodes = atoi(optarg);
      break;
    case 'p':
      cli.port = (uint16_t)atoi(optarg);
      break;
    case 'f':
      cli.first_host = atoi(optarg);
      break;
    case 'c':
      cli.cluster_name = optarg;
      break;
    case 'u':
      cli.username = optarg;
      break;
    case 'w':
      cli.password = optarg;
      break;
    case 'k':
      cli.keyspace = optarg;
      break;
    case 'r':
      cli.replication = optarg;
      break;
    case 'V': {
      const char *colon = strchr(optarg, ':');
      cli.min_protocol_version = atoi(optarg);
      cli.max_protocol_version = colon ? atoi(colon + 1) : cli.min_protocol_version;
      break;
    }
    case 'v':
      cli.verbose = true;
      break;
    case 'L':
      cli.no_log = true;
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (optind != argc) {
    usage(stderr);
    return 2;
  }
  json_t *doc = NULL;
  if (script) {
    json_error_t jerr;
    char err[256];
    doc = json_load_file(script, 0, &jerr);
    if (!doc || cqlmock_script_config(doc, &cfg, err, sizeof err) < 0) {
      fprintf(stderr, "cqlmock: %s: %s\n", script, doc ? err : jerr.text);
      json_decref(doc);
      return 2;
    }
  }
  if (cli.nodes) cfg.nodes = cli.nodes;
  if (cli.port) cfg.port = cli.port;
  if (cli.first_host) cfg.first_host = cli.first_host;
  if (cli.cluster_name) cfg.cluster_name = cli.cluster_name;
  if (cli.username) cfg.username = cli.username, cfg.password = cli.password;
  if (cli.keyspace) cfg.keyspace = cli.keyspace;
  if (cli.replication) cfg.replication = cli.replication;
  if (cli.min_protocol_version) {
    cfg.min_protocol_version = cli.min_protocol_version;
    cfg.max_protocol_version = cli.max_protocol_version;
  }
  cfg.verbose = cfg.verbose || cli.verbose;
  cfg.no_log = cfg.no_log || cli.no_log;

  /* Signals are taken synchronously by main; every other thread (loop, stdin) blocks them. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);

  cqlmock *m = cqlmock_start(&cfg);
  if (!m) {
    json_decref(doc);
    return 1;
  }
  size_t i;
  json_t *prime;
  json_array_foreach(json_object_get(doc, "primes"), i, prime) {
    char err[256];
    if (cqlmock_script_prime(m, prime, err, sizeof err) < 0) {
      fprintf(stderr, "cqlmock: prime %zu: %s\n", i, err);
      cqlmock_stop(m);
      json_decref(doc);
      return 2;
    }
  }
  json_decref(doc);
  running = m;
  printf("cqlmock: listening on %s\n", cqlmock_contact_points(m));
  fflush(stdout);
  pthread_t reader;
  if (pthread_create(&reader, NULL, stdin_loop, NULL) == 0) pthread_detach(reader);

  int sig = 0;
  sigwait(&sigs, &sig);
  pthread_mutex_lock(&command_lock);
  running = NULL;
  cqlmock_stop(m);
  pthread_mutex_unlock(&command_lock);
  return 0;
}
