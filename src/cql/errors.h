/* cql/errors: client-side errors as cql_error values, and names for every error code.
 *
 * Client errors reuse the codec's cql_error struct with the CQL_ERR_* codes of client.h.
 * cql_client_error_set points the message at a caller-owned NUL-terminated string, which must
 * outlive the callback the error is given to (a static string or a buffer in the request). */
#ifndef MESSENGER_CQL_ERRORS_H
#define MESSENGER_CQL_ERRORS_H

#include <stddef.h>
#include <stdint.h>

#include "cql/client.h"

/* Zeroes *e and fills code, name and message. */
void cql_client_error_set(cql_error *e, int32_t code, const char *message);

/* "NAME: message" into buf (always NUL-terminated). */
void cql_client_error_text(const cql_error *e, char *buf, size_t size);

#endif
