#include "http/websocket.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool ws_accept_key(const char *client_key, char out[WS_ACCEPT_SIZE]) {
  size_t key_len = strlen(client_key);
  if (key_len != 24) return false; /* base64 of 16 bytes: 22 characters and "==" */
  unsigned char decoded[18];
  if (EVP_DecodeBlock(decoded, (const unsigned char *)client_key, (int)key_len) != 18 ||
      client_key[22] != '=' || client_key[23] != '=')
    return false;
  unsigned char text[24 + sizeof ws_guid - 1];
  memcpy(text, client_key, 24);
  memcpy(text + 24, ws_guid, sizeof ws_guid - 1);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(text, sizeof text, digest);
  return EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH) == WS_ACCEPT_SIZE - 1;
}

/* A received message waiting to be handed to on_text outside the lock. */
typedef struct pending_text {
  struct pending_text *next;
  size_t len;
  uint8_t data[];
} pending_text;

struct ws_session {
  pthread_mutex_t lock;
  wslay_event_context_ptr ctx;
  ws_callbacks cb;
  void *user;
  const uint8_t *input; /* during feed: the bytes not yet consumed by wslay */
  size_t input_len;
  pending_text *texts, **texts_tail;
  bool failed;        /* a write failed: nothing more can be sent */
  bool finish_called; /* on_finished was (or is about to be) called */
  /* what wslay hands over during one flush: it sends a frame in pieces (head, then payload),
   * and the transport is given whole frames only (it may drop whole writes) */
  uint8_t *out;
  size_t out_len, out_cap;
};

#define OUT_KEEP (64 * 1024) /* a larger flush buffer is freed after use */

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user) {
  (void)flags;
  ws_session *s = user;
  if (s->input_len == 0) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  size_t n = len < s->input_len ? len : s->input_len;
  memcpy(buf, s->input, n);
  s->input += n;
  s->input_len -= n;
  return (ssize_t)n;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user) {
  (void)flags;
  ws_session *s = user;
  if (len > s->out_cap - s->out_len) {
    size_t cap = s->out_cap ? s->out_cap : 4096;
    while (cap - s->out_len < len) cap *= 2;
    uint8_t *grown = realloc(s->out, cap);
    if (!grown) {
      s->failed = true;
      wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
      return -1;
    }
    s->out = grown;
    s->out_cap = cap;
  }
  memcpy(s->out + s->out_len, data, len);
  s->out_len += len;
  return (ssize_t)len;
}

static void on_message(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                       void *user) {
  ws_session *s = user;
  if (arg->opcode == WSLAY_BINARY_FRAME) {
    static const char reason[] = "binary messages are not supported";
    wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA, (const uint8_t *)reason, sizeof reason - 1);
    return;
  }
  if (arg->opcode != WSLAY_TEXT_FRAME) return; /* ping/pong/close: handled by wslay */
  pending_text *t = malloc(sizeof *t + arg->msg_length);
  if (!t) {
    wslay_event_queue_close(ctx, WSLAY_CODE_INTERNAL_SERVER_ERROR, NULL, 0);
    return;
  }
  t->next = NULL;
  t->len = arg->msg_length;
  if (arg->msg_length) memcpy(t->data, arg->msg, arg->msg_length); /* an empty message has no buffer */
  *s->texts_tail = t;
  s->texts_tail = &t->next;
}

/* Writes what wslay has queued; true when the session just became finished. Under the lock. */
static bool flush_locked(ws_session *s) {
  if (!s->failed && wslay_event_send(s->ctx) != 0) s->failed = true;
  if (s->out_len && !s->failed && !s->cb.write(s->user, s->out, s->out_len)) s->failed = true;
  s->out_len = 0;
  if (s->out_cap > OUT_KEEP) {
    free(s->out);
    s->out = NULL;
    s->out_cap = 0;
  }
  bool done = s->failed || wslay_event_get_close_sent(s->ctx);
  if (!done || s->finish_called) return false;
  s->finish_called = true;
  return true;
}

ws_session *ws_session_new(const ws_callbacks *cb, void *user, size_t max_message) {
  ws_session *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  static const struct wslay_event_callbacks callbacks = {
      .recv_callback = on_recv,
      .send_callback = on_send,
      .on_msg_recv_callback = on_message,
  };
  if (wslay_event_context_server_init(&s->ctx, &callbacks, s) != 0) {
    free(s);
    return NULL;
  }
  wslay_event_config_set_max_recv_msg_length(s->ctx, max_message);
  pthread_mutex_init(&s->lock, NULL);
  s->cb = *cb;
  s->user = user;
  s->texts_tail = &s->texts;
  return s;
}

void ws_session_free(ws_session *s) {
  if (!s) return;
  for (pending_text *t = s->texts, *next; t; t = next) {
    next = t->next;
    free(t);
  }
  wslay_event_context_free(s->ctx);
  pthread_mutex_destroy(&s->lock);
  free(s->out);
  free(s);
}

void ws_session_feed(ws_session *s, const uint8_t *data, size_t len) {
  pthread_mutex_lock(&s->lock);
  s->input = data;
  s->input_len = len;
  /* A protocol violation makes wslay queue the matching close frame and stop reading. */
  while (s->input_len > 0 && wslay_event_get_read_enabled(s->ctx) && !s->failed)
    if (wslay_event_recv(s->ctx) != 0) break;
  s->input = NULL;
  s->input_len = 0;
  pending_text *texts = s->texts;
  s->texts = NULL;
  s->texts_tail = &s->texts;
  bool finished = flush_locked(s);
  pthread_mutex_unlock(&s->lock);
  for (pending_text *t = texts, *next; t; t = next) {
    next = t->next;
    if (!finished) s->cb.on_text(s->user, t->data, t->len);
    free(t);
  }
  if (finished) s->cb.on_finished(s->user);
}

static bool queue_and_flush(ws_session *s, uint8_t opcode, const void *data, size_t len) {
  pthread_mutex_lock(&s->lock);
  struct wslay_event_msg msg = {.opcode = opcode, .msg = data, .msg_length = len};
  bool ok = !s->failed && !s->finish_called && wslay_event_queue_msg(s->ctx, &msg) == 0;
  bool finished = flush_locked(s);
  ok = ok && !s->failed;
  pthread_mutex_unlock(&s->lock);
  if (finished) s->cb.on_finished(s->user);
  return ok;
}

bool ws_session_send_text(ws_session *s, const char *text, size_t len) {
  return queue_and_flush(s, WSLAY_TEXT_FRAME, text, len);
}

bool ws_session_ping(ws_session *s) { return queue_and_flush(s, WSLAY_PING, NULL, 0); }

void ws_session_close(ws_session *s, uint16_t code, const char *reason) {
  pthread_mutex_lock(&s->lock);
  if (!s->failed && !s->finish_called)
    wslay_event_queue_close(s->ctx, code, (const uint8_t *)reason, reason ? strlen(reason) : 0);
  bool finished = flush_locked(s);
  pthread_mutex_unlock(&s->lock);
  if (finished) s->cb.on_finished(s->user);
}

size_t ws_close_frame(uint16_t code, const char *reason, uint8_t out[WS_CLOSE_FRAME_MAX]) {
  size_t n = reason ? strlen(reason) : 0;
  if (n > WS_CLOSE_REASON_MAX) n = WS_CLOSE_REASON_MAX;
  out[0] = 0x88; /* FIN + close */
  out[1] = (uint8_t)(2 + n);
  out[2] = (uint8_t)(code >> 8);
  out[3] = (uint8_t)(code & 0xff);
  for (size_t i = 0; i < n; i++) out[4 + i] = (uint8_t)reason[i]; /* bytes, not a C string */
  return 4 + n;
}
