/* api/cors: Cross-Origin Resource Sharing, as API.md "Browsers (ext)" says and as the stub's
 * CORSMiddleware did, so that a web client on another origin can call the API.
 *
 * A policy is a list of allowed origins (MESSENGER_CORS_ORIGINS: comma list, "*" = any).
 * - Actual responses (every route and every error the api renders) carry
 *   Access-Control-Allow-Origin and Access-Control-Expose-Headers for an allowed origin:
 *   "*" when any origin is allowed (then for every request), else the request's own Origin
 *   and `Vary: Origin` on every response (the answer then depends on the origin).
 * - A preflight (OPTIONS with Origin and Access-Control-Request-Method, on any path) from an
 *   allowed origin is answered 204 with -Allow-Origin, -Allow-Methods, -Allow-Headers,
 *   -Max-Age (and `Vary: Origin` with a list); from a refused origin 400 {"detail":
 *   "Disallowed CORS origin"}, without CORS headers.
 * - Refused origins never get CORS headers; an empty policy (the default with auth on)
 *   adds nothing at all.
 *
 * Ownership: a policy owns a copy of its list (cors_policy_parse allocates, cors_policy_free
 * frees). The http glue borrows the policy, which must outlive the server. */
#ifndef MESSENGER_API_CORS_H
#define MESSENGER_API_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

#define CORS_ALLOW_METHODS  "GET, HEAD, POST, OPTIONS"
#define CORS_ALLOW_HEADERS  "Authorization, Content-Type, Idempotency-Key, Last-Event-ID"
#define CORS_EXPOSE_HEADERS "X-Request-ID, Retry-After"
#define CORS_MAX_AGE_S      "600"

typedef struct cors_policy {
  bool any_origin;      /* "*" was in the list */
  char *text;           /* owned copy of the list; origins point into it */
  const char **origins; /* owned array of `count` exact origins (compared case-insensitively) */
  size_t count;
} cors_policy;

/* Parses a comma list of origins ("scheme://host[:port]", "null", or "*"); blanks around
 * entries and empty entries are ignored, so "" is the empty policy. On a malformed entry
 * returns false with a message in err and leaves *p empty (nothing to free). */
bool cors_policy_parse(cors_policy *p, const char *list, char *err, size_t err_size);
void cors_policy_free(cors_policy *p);

/* The Access-Control-Allow-Origin value for a request's Origin header (NULL when absent):
 * "*" with any origin allowed, `origin` itself when listed, else NULL (refused). */
const char *cors_allow_origin(const cors_policy *p, const char *origin);
/* True when the answer depends on the request's Origin (an explicit list): `Vary: Origin`. */
bool cors_varies_by_origin(const cors_policy *p);

/* Adds the headers of an actual response to `ex` (call before responding). This is the one
 * call for a handler that answers outside the api's route table (the event stream). */
void cors_add_response_headers(const cors_policy *p, http_exchange *ex);

/* When `ex` is a preflight (OPTIONS with Origin and Access-Control-Request-Method), answers
 * it and returns true; otherwise returns false and leaves `ex` alone. */
bool cors_answer_preflight(const cors_policy *p, http_exchange *ex);

#endif
