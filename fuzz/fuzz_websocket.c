/* libFuzzer target for what a stream client controls: arbitrary bytes as WebSocket client data
 * fed to a server session (http/websocket.h, frames by libwslay) in chunks whose sizes come
 * from the input, with a peer that stops taking bytes at an input-chosen point; and the same
 * bytes as a Last-Event-ID (events/event.h). Must never crash, read out of bounds or leak. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "events/event.h"
#include "http/websocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct peer {
  size_t written, budget;
  size_t texts;
  int finished;
} peer;

static bool peer_write(void *user, const uint8_t *bytes, size_t len) {
  peer *p = user;
  (void)bytes;
  if (p->written + len > p->budget) return false;
  p->written += len;
  return true;
}

static void peer_text(void *user, const uint8_t *msg, size_t len) {
  peer *p = user;
  (void)msg, (void)len;
  p->texts++;
}

static void peer_finished(void *user) { ((peer *)user)->finished++; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  event_pos pos;
  (void)event_pos_parse((const char *)data, size < EVENT_ID_TEXT_SIZE * 2 ? size : EVENT_ID_TEXT_SIZE * 2,
                        &pos);
  if (size < 2) return 0;
  static const ws_callbacks cb = {peer_write, peer_text, peer_finished};
  peer p = {.budget = (size_t)data[0] * 64 + 16};
  ws_session *s = ws_session_new(&cb, &p, (size_t)(data[1] & 0x3f) * 128 + 1);
  if (!s) return 0;
  size_t at = 2, chunk = (size_t)(data[1] >> 6) * 7 + 1;
  while (at < size) {
    size_t n = size - at < chunk ? size - at : chunk;
    ws_session_feed(s, data + at, n);
    at += n;
    chunk = chunk * 3 % 61 + 1;
  }
  (void)ws_session_send_text(s, "{}", 2);
  (void)ws_session_ping(s);
  ws_session_close(s, 1000, "bye");
  if (p.finished > 1) __builtin_trap(); /* on_finished runs at most once */
  ws_session_free(s);
  return 0;
}
