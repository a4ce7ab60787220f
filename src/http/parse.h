/* http/parse: pure functions on request bytes that llhttp leaves to the application: the
 * request target (origin or absolute form) split into a percent-decoded path and query
 * parameters, and the strict checks on header values. Nothing is allocated; callers own every
 * buffer. Used by the transport (http/conn.c) and by unit tests. */
#ifndef MESSENGER_HTTP_PARSE_H
#define MESSENGER_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes `out` must have for a target of `len` bytes (decoding never grows a string; each
 * query parameter adds two NUL terminators). */
#define HTTP_TARGET_DECODED_SIZE(len) (2 * (len) + 4)

/* Decodes `target` (len bytes, not NUL-terminated) into out, which must hold
 * HTTP_TARGET_DECODED_SIZE(len) bytes: first the path ("/..." NUL), then *query_count pairs
 * "name" NUL "value" NUL. The absolute form ("http://host/p?q") keeps only its path and query;
 * a fragment is dropped. In the query, '+' is a space. Returns NULL on success, else the
 * reason for a 400: a target that is not "/..." or absolute, a malformed %XX escape, or an
 * escape that decodes to NUL or another control character. */
const char *http_target_decode(const char *target, size_t len, char *out, size_t *query_count);

/* The value of the first query parameter named `name` in pairs written by http_target_decode
 * (starting after the path), or NULL. */
const char *http_query_find(const char *pairs, size_t count, const char *name);

/* A header value as RFC 9110 allows it: visible ASCII, obs-text (0x80..0xff), space and tab;
 * no NUL, CR, LF or other control character (that is also how an obs-fold shows up). */
bool http_field_value_valid(const char *value, size_t len);

/* Trims optional whitespace (space, tab) at both ends; returns the new length, *start moved. */
size_t http_trim_ows(const char **start, size_t len);

/* Transfer-Encoding values this server can read: exactly "chunked" (any case, OWS around). */
bool http_transfer_encoding_is_chunked(const char *value, size_t len);

#endif
