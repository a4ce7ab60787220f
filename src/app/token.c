/* `messenger token`: prints an HS256 token for MESSENGER_JWT_SECRET (with MESSENGER_JWT_ISSUER
 * and MESSENGER_JWT_AUDIENCE as iss and aud when set), for local testing and smoke tests. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/commands.h"
#include "auth/jwt.h"
#include "core/ids.h"

#define TTL_MAX_S (366 * 86400)

static void token_usage(FILE *out) {
  fprintf(out,
          "usage: messenger token --user N [--ttl 1h]\n\n"
          "Prints a signed HS256 JWT (sub = N) for the server's MESSENGER_JWT_SECRET; iss and aud\n"
          "are MESSENGER_JWT_ISSUER and MESSENGER_JWT_AUDIENCE when set.\n\n"
          "  --user N     user id, 1 .. 2^53-1\n"
          "  --ttl T      lifetime: seconds, or a number with s, m, h or d (default 1h, at most 366d)\n\n"
          "  curl -H \"Authorization: Bearer $(messenger token --user 1)\" "
          "localhost:8000/api/conversations/user/1\n");
}

/* "90", "90s", "15m", "1h", "7d" -> seconds in 1 .. TTL_MAX_S. */
static bool parse_ttl(const char *text, int64_t *out) {
  size_t len = strlen(text);
  int64_t unit = 1;
  char digits[16];
  if (len == 0 || len >= sizeof digits) return false;
  switch (text[len - 1]) {
  case 's':
    len--;
    break;
  case 'm':
    unit = 60, len--;
    break;
  case 'h':
    unit = 3600, len--;
    break;
  case 'd':
    unit = 86400, len--;
    break;
  default:
    break;
  }
  memcpy(digits, text, len);
  digits[len] = '\0';
  uint64_t n;
  if (!parse_unsigned(digits, 1, TTL_MAX_S, &n) || (int64_t)n * unit > TTL_MAX_S) return false;
  *out = (int64_t)n * unit;
  return true;
}

int cmd_token(int argc, char **argv) {
  enum { OPT_USER = 1, OPT_TTL, OPT_HELP };
  static const struct option options[] = {{"user", required_argument, NULL, OPT_USER},
                                          {"ttl", required_argument, NULL, OPT_TTL},
                                          {"help", no_argument, NULL, OPT_HELP},
                                          {NULL, 0, NULL, 0}};
  int64_t user = 0, ttl = 3600;
  int opt, exit_code = 2;
  uint64_t v;
  optind = 1;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    bool ok = true;
    if (opt == OPT_USER) {
      ok = parse_unsigned(optarg, 1, (uint64_t)ID_MAX, &v);
      user = (int64_t)v;
    } else if (opt == OPT_TTL) {
      ok = parse_ttl(optarg, &ttl);
    } else if (opt == OPT_HELP) {
      token_usage(stdout);
      return 0;
    } else {
      ok = false;
    }
    if (!ok) {
      reject_option("messenger token", opt, token_usage, &exit_code);
      return exit_code;
    }
  }
  if (user == 0 || optind < argc) {
    fprintf(stderr, "messenger token: --user N is required (and nothing else)\n");
    token_usage(stderr);
    return 2;
  }
  serve_settings cfg;
  serve_settings_from_env(&cfg);
  if (!cfg.auth.hs256_secret) {
    fprintf(stderr, "messenger token: MESSENGER_JWT_SECRET is not set (tokens for RS256/ES256 keys are made "
                    "by whoever holds the private key)\n");
    return 1;
  }
  char err[160];
  jwt_key *key = jwt_key_hs256(cfg.auth.hs256_secret, strlen(cfg.auth.hs256_secret), err, sizeof err);
  if (!key) {
    fprintf(stderr, "messenger token: %s\n", err);
    return 1;
  }
  char *token = jwt_sign_hs256(key, user, (int64_t)time(NULL), ttl, cfg.auth.issuer, cfg.auth.audience);
  jwt_key_free(key);
  if (!token) {
    fprintf(stderr, "messenger token: could not sign (out of memory, or issuer/audience too long)\n");
    return 1;
  }
  printf("%s\n", token);
  free(token);
  return 0;
}
