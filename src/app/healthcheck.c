/* `messenger healthcheck`: for container HEALTHCHECKs without curl. Sends GET /health to the
 * local server and exits 0 on a 200 answer, 1 otherwise. */
#include <arpa/inet.h>
#include <getopt.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "app/commands.h"

static int probe(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 1;
  struct timeval tv = {.tv_sec = 3};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  static const char request[] = "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  char reply[64] = "";
  int rc = 1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
      send(fd, request, sizeof request - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof request - 1) &&
      recv(fd, reply, sizeof reply - 1, MSG_WAITALL) >= 12 && strncmp(reply + 8, " 200", 4) == 0)
    rc = 0;
  close(fd);
  return rc;
}

int cmd_healthcheck(int argc, char **argv) {
  serve_settings cfg;
  serve_settings_from_env(&cfg);
  if (!config_check_env("messenger healthcheck")) return 2;
  static const struct option options[] = {
      {"port", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  int opt;
  uint64_t v;
  optind = 1;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    if (opt == 'p' && parse_unsigned(optarg, 1, 65535, &v)) {
      cfg.http.port = (uint16_t)v;
    } else {
      fprintf(opt == 'h' ? stdout : stderr, "usage: messenger healthcheck [--port N (PORT, 8000)]\n");
      return opt == 'h' ? 0 : 2;
    }
  }
  return probe(cfg.http.port);
}
