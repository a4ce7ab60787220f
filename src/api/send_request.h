/* api/send_request: parsing and validation of a POST /api/messages/ body, kept apart from the
 * transport so that unit tests and the fuzzer can drive it with bare bytes.
 *
 * Ownership: on success the returned jansson value belongs to the caller and keeps
 * req->content alive (it points into it); req->idempotency_key is the caller's string. */
#ifndef MESSENGER_API_SEND_REQUEST_H
#define MESSENGER_API_SEND_REQUEST_H

#include <jansson.h>
#include <stddef.h>

#include "api/respond.h"
#include "store/store.h"

/* Parses text[0..len) (any bytes) and the optional Idempotency-Key header value. Returns the
 * parsed body with *req filled in, or NULL with the FastAPI-shaped errors added to v. */
json_t *api_parse_send_body(const char *text, size_t len, const char *idempotency_key, validation_errors *v,
                            send_request *req);

#endif
