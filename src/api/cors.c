#include "api/cors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/respond.h"

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static bool is_scheme_char(char c, bool first) {
  bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  return alpha || (!first && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
}

/* "scheme://authority" with a non-empty authority and no path, query or fragment (a browser's
 * Origin never has one: "https://app.example/" would never match), or "null". */
static bool is_origin(const char *s) {
  if (strcmp(s, "null") == 0) return true;
  const char *p = s;
  if (!is_scheme_char(*p, true)) return false;
  while (is_scheme_char(*p, false)) p++;
  if (strncmp(p, "://", 3) != 0) return false;
  p += 3;
  if (!*p) return false;
  for (; *p; p++)
    if (*p == '/' || *p == '?' || *p == '#' || (unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
      return false;
  return true;
}

bool cors_policy_parse(cors_policy *p, const char *list, char *err, size_t err_size) {
  *p = (cors_policy){0};
  size_t entries = 1;
  for (const char *c = list; *c; c++) entries += *c == ',';
  cors_policy q = {.text = strdup(list), .origins = calloc(entries, sizeof(const char *))};
  if (!q.text || !q.origins) {
    snprintf(err, err_size, "out of memory");
    cors_policy_free(&q);
    return false;
  }
  char *save = NULL;
  for (char *tok = strtok_r(q.text, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (is_blank(*tok)) tok++;
    char *end = tok + strlen(tok);
    while (end > tok && is_blank(end[-1])) *--end = '\0';
    if (!*tok) continue;
    if (strcmp(tok, "*") == 0) {
      q.any_origin = true;
    } else if (is_origin(tok)) {
      q.origins[q.count++] = tok;
    } else {
      snprintf(err, err_size, "'%.100s' is not an origin (scheme://host[:port], \"null\" or \"*\")", tok);
      cors_policy_free(&q);
      return false;
    }
  }
  *p = q;
  return true;
}

void cors_policy_free(cors_policy *p) {
  free(p->text);
  free(p->origins);
  *p = (cors_policy){0};
}

const char *cors_allow_origin(const cors_policy *p, const char *origin) {
  if (p->any_origin) return "*";
  if (!origin) return NULL;
  for (size_t i = 0; i < p->count; i++)
    if (strcasecmp(p->origins[i], origin) == 0) return origin;
  return NULL;
}

bool cors_varies_by_origin(const cors_policy *p) { return !p->any_origin && p->count > 0; }

void cors_add_response_headers(const cors_policy *p, http_exchange *ex) {
  if (cors_varies_by_origin(p)) http_add_header(ex, "Vary", "Origin");
  const char *allow = cors_allow_origin(p, http_header(ex, "Origin"));
  if (!allow) return;
  http_add_header(ex, "Access-Control-Allow-Origin", allow);
  http_add_header(ex, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
}

bool cors_answer_preflight(const cors_policy *p, http_exchange *ex) {
  const char *origin = http_header(ex, "Origin");
  if (strcmp(http_method(ex), "OPTIONS") != 0 || !origin || !http_header(ex, "Access-Control-Request-Method"))
    return false;
  const char *allow = cors_allow_origin(p, origin);
  if (cors_varies_by_origin(p)) http_add_header(ex, "Vary", "Origin");
  if (!allow) {
    respond_detail(ex, 400, "Disallowed CORS origin");
    return true;
  }
  http_add_header(ex, "Access-Control-Allow-Origin", allow);
  http_add_header(ex, "Access-Control-Allow-Methods", CORS_ALLOW_METHODS);
  http_add_header(ex, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
  http_add_header(ex, "Access-Control-Max-Age", CORS_MAX_AGE_S);
  http_respond(ex, 204, JSON_CONTENT_TYPE, NULL, 0);
  return true;
}
