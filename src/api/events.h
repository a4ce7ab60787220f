/* api/events: the live side of the API. GET /api/events as Server-Sent Events or WebSocket,
 * POST /api/conversations/{id}/typing and the WebSocket client frames `typing` and `read`, and
 * the events announced after durable writes: `message` after a send is acknowledged by the
 * store, `read` after a read mark moved. It knows the event JSON of API.md; the per-user
 * streams, logs and resume are events/hub's, the WebSocket framing http/websocket's.
 *
 * Ownership: the api borrows the hub and the typing gate (both outlive the HTTP server); each
 * open stream owns its state and frees it in the transport's on_closed. */
#ifndef MESSENGER_API_EVENTS_H
#define MESSENGER_API_EVENTS_H

#include "api/api.h"
#include "events/hub.h"
#include "events/rate_gate.h"

/* The most a WebSocket client frame may hold (a typing or read frame is ~80 bytes). */
#define EVENTS_WS_MAX_CLIENT_MESSAGE 4096
/* Typing: one event per user and conversation per interval. */
#define EVENTS_TYPING_INTERVAL_MS 2000

/* Connects the api to the event streams: publishes message and read events through `hub`,
 * rate-limits typing with `typing_gate`. Call after api_init, before serving. */
void api_events_init(api *a, events_hub *hub, rate_gate *typing_gate);

/* Publishes the `message` event of a durable message to both participants' streams. */
void api_events_message(api *a, const message *m);

#endif
