/* http/websocket: the server side of RFC 6455 over any byte transport, with no knowledge of
 * what the messages mean. The handshake key is computed with OpenSSL (SHA-1 + base64); frames
 * are parsed and built by libwslay, which enforces what RFC 6455 requires of a server: client
 * frames must be masked (else close 1002), fragments are reassembled with control frames
 * interleaved, pings are answered with pongs, text must be valid UTF-8 (else close 1007),
 * messages above the limit are refused (close 1009), and a close frame is answered. Binary
 * messages are refused with close 1003 (nothing in this server takes binary data).
 *
 * Threads: ws_session_feed runs on the connection's thread; send/ping/close may be called
 * from any thread (a mutex serialises them with feed). Callbacks run outside that mutex
 * except `write`, which is called with it held and must not call back into the session.
 * Ownership: the session copies what it receives and what it sends; ws_session_free is
 * called once by the owner, when no other call is in progress or can follow. */
#ifndef MESSENGER_HTTP_WEBSOCKET_H
#define MESSENGER_HTTP_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* base64(SHA-1(key + RFC 6455 GUID)) plus NUL. */
#define WS_ACCEPT_SIZE 29

/* The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key; false when the key is not
 * the base64 of 16 bytes. */
bool ws_accept_key(const char *client_key, char out[WS_ACCEPT_SIZE]);

typedef struct ws_callbacks {
  /* Bytes for the peer (a whole number of frames); false when they cannot be taken. */
  bool (*write)(void *user, const uint8_t *data, size_t len);
  /* One complete text message (valid UTF-8). */
  void (*on_text)(void *user, const uint8_t *msg, size_t len);
  /* The session is over (a close frame was sent, or writing failed): close the connection. */
  void (*on_finished)(void *user);
} ws_callbacks;

typedef struct ws_session ws_session;

/* NULL when out of memory. `max_message` bounds a received message (reassembled). */
ws_session *ws_session_new(const ws_callbacks *cb, void *user, size_t max_message);
void ws_session_free(ws_session *s);

/* Bytes that arrived from the peer. */
void ws_session_feed(ws_session *s, const uint8_t *data, size_t len);
/* Queues one text message (and writes it now); false once the session is closing or failed. */
bool ws_session_send_text(ws_session *s, const char *text, size_t len);
bool ws_session_ping(ws_session *s);
/* Sends a close frame with `code` and `reason` (then on_finished). */
void ws_session_close(ws_session *s, uint16_t code, const char *reason);

/* Builds a server's close frame (unmasked) with `code` and the first WS_CLOSE_REASON_MAX
 * bytes of `reason` into out; returns its length. For bytes sent outside a session (the
 * transport's overflow trailer). */
#define WS_CLOSE_REASON_MAX 123
#define WS_CLOSE_FRAME_MAX  (2 + 2 + WS_CLOSE_REASON_MAX)
size_t ws_close_frame(uint16_t code, const char *reason, uint8_t out[WS_CLOSE_FRAME_MAX]);

#endif
