#include "cql/errors.h"

#include <stdio.h>
#include <string.h>

const char *cql_client_error_name(int32_t code) {
  switch (code) {
  case CQL_ERR_CLIENT_TIMEOUT:
    return "Client timeout";
  case CQL_ERR_NO_HOSTS:
    return "No hosts available";
  case CQL_ERR_CONNECTION_CLOSED:
    return "Connection closed";
  case CQL_ERR_CONNECT_FAILED:
    return "Connect failed";
  case CQL_ERR_CLIENT_CLOSED:
    return "Client closed";
  case CQL_ERR_BAD_USAGE:
    return "Bad usage";
  case CQL_ERR_PROTOCOL_VIOLATION:
    return "Protocol violation";
  case CQL_ERR_AUTH:
    return "Authentication failed";
  case CQL_ERR_QUEUE_FULL:
    return "Request queue full";
  default:
    return cql_error_code_name(code);
  }
}

void cql_client_error_set(cql_error *e, int32_t code, const char *message) {
  memset(e, 0, sizeof(*e));
  e->code = code;
  e->name = cql_client_error_name(code);
  e->message = cql_str_of(message ? message : "");
}

void cql_client_error_text(const cql_error *e, char *buf, size_t size) {
  if (!size) return;
  snprintf(buf, size, "%s: %.*s", e->name ? e->name : cql_client_error_name(e->code), (int)e->message.len,
           e->message.ptr ? e->message.ptr : "");
}
