/* Unit tests for http/websocket: the handshake key (RFC 6455's own example) and the server
 * session driven through an in-memory byte pipe with hand-built client frames: masking
 * required, fragmentation with interleaved pings, ping/pong, the close handshake, oversized
 * messages, invalid UTF-8, binary messages, frames split at every byte, write failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "http/websocket.h"

typedef struct pipe_end {
  uint8_t out[1 << 16]; /* what the server wrote */
  size_t out_len;
  char texts[8][512];
  size_t text_count;
  int finished;
  bool refuse_writes;
} pipe_end;

static bool pipe_write(void *user, const uint8_t *data, size_t len) {
  pipe_end *p = user;
  if (p->refuse_writes || p->out_len + len > sizeof p->out) return false;
  memcpy(p->out + p->out_len, data, len);
  p->out_len += len;
  return true;
}

static void pipe_text(void *user, const uint8_t *msg, size_t len) {
  pipe_end *p = user;
  assert_true(len < sizeof p->texts[0]);
  memcpy(p->texts[p->text_count], msg, len);
  p->texts[p->text_count][len] = '\0';
  p->text_count++;
}

static void pipe_finished(void *user) { ((pipe_end *)user)->finished++; }

static const ws_callbacks pipe_cb = {pipe_write, pipe_text, pipe_finished};

/* A client frame: FIN bit, opcode, payload masked with a fixed key unless `masked` is false. */
static size_t client_frame(uint8_t *out, bool fin, uint8_t opcode, const void *payload, size_t len,
                           bool masked) {
  static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  size_t n = 0;
  out[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
  uint8_t mask_bit = masked ? 0x80 : 0;
  if (len < 126) {
    out[n++] = (uint8_t)(mask_bit | len);
  } else if (len < 65536) {
    out[n++] = mask_bit | 126;
    out[n++] = (uint8_t)(len >> 8);
    out[n++] = (uint8_t)len;
  } else {
    out[n++] = mask_bit | 127;
    for (int i = 7; i >= 0; i--) out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
  }
  if (masked) {
    memcpy(out + n, key, 4);
    n += 4;
  }
  const uint8_t *p = payload;
  for (size_t i = 0; i < len; i++) out[n + i] = masked ? (uint8_t)(p[i] ^ key[i % 4]) : p[i];
  return n + len;
}

typedef struct server_frame {
  bool fin;
  uint8_t opcode;
  const uint8_t *payload;
  size_t len;
} server_frame;

/* Parses the next server frame at *at (server frames are never masked). */
static bool next_server_frame(const pipe_end *p, size_t *at, server_frame *f) {
  if (*at + 2 > p->out_len) return false;
  const uint8_t *b = p->out + *at;
  f->fin = b[0] & 0x80;
  f->opcode = b[0] & 0x0f;
  assert_int_equal(b[1] & 0x80, 0);
  size_t len = b[1] & 0x7f, head = 2;
  if (len == 126) {
    len = (size_t)b[2] << 8 | b[3];
    head = 4;
  }
  assert_true(len < 126 || head == 4);
  f->payload = b + head;
  f->len = len;
  *at += head + len;
  assert_true(*at <= p->out_len);
  return true;
}

static uint16_t close_code(const server_frame *f) {
  assert_int_equal(f->opcode, 0x8);
  assert_true(f->len >= 2);
  return (uint16_t)(f->payload[0] << 8 | f->payload[1]);
}

static ws_session *session(pipe_end *p, size_t max_message) {
  memset(p, 0, sizeof *p);
  ws_session *s = ws_session_new(&pipe_cb, p, max_message);
  assert_non_null(s);
  return s;
}

static void accept_key_matches_rfc_example(void **state) {
  (void)state;
  char out[WS_ACCEPT_SIZE];
  assert_true(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out));
  assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert_false(ws_accept_key("", out));
  assert_false(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ", out));       /* no padding */
  assert_false(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=x", out));     /* bad padding */
  assert_false(ws_accept_key("dGhlIHNhbXBsZSBub25j!Q==", out));     /* not base64 */
  assert_false(ws_accept_key("dGhlIHNhbXBsZSBub25jZXh4eA==", out)); /* 18 bytes */
}

static void text_both_ways(void **state) {
  (void)state;
  pipe_end p;
  ws_session *s = session(&p, 4096);
  uint8_t buf[256];
  size_t n = client_frame(buf, true, 0x1, "{\"type\":\"typing\"}", 17, true);
  ws_session_feed(s, buf, n);
  assert_int_equal(p.text_count, 1);
  assert_string_equal(p.texts[0], "{\"type\":\"typing\"}");
  assert_true(ws_session_send_text(s, "hello", 5));
  size_t at = 0;
  server_frame f;
  assert_true(next_server_frame(&p, &at, &f));
  assert_true(f.fin);
  assert_int_equal(f.opcode, 0x1);
  assert_memory_equal(f.payload, "hello", 5);
  assert_int_equal(p.finished, 0);
  ws_session_free(s);
}

static void empty_text_message(void **state) {
  (void)state;
  pipe_end p;
  ws_session *s = session(&p, 4096);
  uint8_t buf[16];
  size_t n = client_frame(buf, true, 0x1, "", 0, true);
  ws_session_feed(s, buf, n);
  assert_int_equal(p.text_count, 1);
  assert_string_equal(p.texts[0], "");
  ws_session_free(s);
}

static void frames_split_at_every_byte(void **state) {
  (void)state;
  pipe_end p;
  ws_session *s = session(&p, 4096);
  uint8_t buf[512];
  char text[300];
  memset(text, 'a', sizeof text); /* 16-bit length form */
  size_t n = client_frame(buf, true, 0x1, text, sizeof text, true);
  for (size_t i = 0; i < n; i++) ws_session_feed(s, buf + i, 1);
  assert_int_equal(p.text_count, 1);
  assert_int_equal(strlen(p.texts[0]), sizeof text);
  assert_int_equal(p.out_len, 0);
  ws_session_free(s);
}

static void unmasked_client_frame_is_a_protocol_error(void **state) {
  (void)state;
  pipe_end p;
  ws_session *s = session(&p, 4096);
  uint8_t buf[64];
  size_t n = client_frame(buf, true, 0x1, "hi", 2, false);
  ws_session_feed(s, buf, n);
  assert_int_equal(p.text_count, 0);
  size_t at = 0;
  server_frame f;
  assert_true(next_server_frame(&p, &at, &f));
  assert_int_equal(close_code(&f), 1002);
  assert_int_equal(p.finished, 1);
  assert_false(ws_session_send_text(s, "late", 4));
  ws_session_free(s);
}

static void fragments_with_interleaved_ping(void **state) {
  (void)state;
  pipe_end p;
  ws_session *s = session(&p, 4096);
  uint8_t buf[256];
  size_t n = client_frame(buf, false, 0x1, "hel", 3, true);
  n += client_frame(buf + n, true, 0x9, "beat", 4, true); /* a ping between the fragments */
  n += client_frame(buf + n, false, 0x0, "lo ", 3, true);
  n += client_frame(buf + n, true, 0x0, "world", 5, true);
  ws_session_feed(s, buf, n);
  assert_int_equal(p.text_count, 1);
  assert_string_equal(p.texts[0], "hello world");
  size_t at = 0;
  server_frame f;
  assert_true(next_server_frame(&p, &at, &f));
  assert_int_equal(f.opcode, 0xa); /* pong with the ping's payload */
  assert_int_equal(f.len, 4);
  assert_memory_equal(f.payload, "beat", 4);
  ws_session_free(s);
}

static void close_handshake_is_answered(void **state) {
  (void)state;
  pipe_end p;
  ws_session *s = session(&p, 4096);
  uint8_t buf[64];
  const uint8_t payload[] = {0x03, 0xe8, 'b', 'y', 'e'}; /* 1000 */
  size_t n = client_frame(buf, true, 0x8, payload, sizeof payload, true);
  ws_session_feed(s, buf, n);
  size_t at = 0;
  server_frame f;
  assert_true(next_server_frame(&p, &at, &f));
  assert_int_equal(close_code(&f), 1000);
  assert_int_equal(p.finished, 1);
  ws_session_feed(s, buf, n); /* bytes after the close are ignored */
  assert_int_equal(p.finished, 1);
  ws_session_free(s);
}

static void server_close_sends_code_and_reason(void **state) {
  (void)state;
  pipe_end p;
  ws_session *s = session(&p, 4096);
  ws_session_close(s, 1008, "policy");
  size_t at = 0;
  server_frame f;
  assert_true(next_server_frame(&p, &at, &f));
  assert_int_equal(close_code(&f), 1008);
  assert_memory_equal(f.payload + 2, "policy", 6);
  assert_int_equal(p.finished, 1);
  ws_session_close(s, 1000, NULL); /* idempotent */
  assert_int_equal(p.finished, 1);
  ws_session_free(s);
}

/* Every write the transport gets holds whole frames (it may drop whole writes, never half a
 * frame): a write of a text message starts with the frame head and ends with its payload. */
typedef struct whole_writes {
  size_t writes;
  bool all_whole;
} whole_writes;

static bool check_whole_write(void *user, const uint8_t *data, size_t len) {
  whole_writes *w = user;
  w->writes++;
  size_t at = 0;
  while (at < len) { /* walk the frames; the last must end exactly at len */
    if (len - at < 2) break;
    size_t n = data[at + 1] & 0x7f, head = 2;
    if (n == 126) {
      if (len - at < 4) break;
      n = (size_t)data[at + 2] << 8 | data[at + 3];
      head = 4;
    }
    if (len - at < head + n) break;
    at += head + n;
  }
  if (at != len) w->all_whole = false;
  return true;
}

static void ignore_text(void *user, const uint8_t *msg, size_t len) {
  (void)user;
  (void)msg;
  (void)len;
}

static void ignore_finished(void *user) { (void)user; }

static void writes_hold_whole_frames(void **state) {
  (void)state;
  static const ws_callbacks cb = {check_whole_write, ignore_text, ignore_finished};
  whole_writes w = {.all_whole = true};
  ws_session *s = ws_session_new(&cb, &w, 4096);
  assert_non_null(s);
  static char big[20000];
  memset(big, 'x', sizeof big);
  assert_true(ws_session_send_text(s, "small", 5));
  assert_true(ws_session_send_text(s, big, sizeof big));
  assert_true(ws_session_ping(s));
  ws_session_close(s, 1000, "bye");
  assert_int_equal(w.writes, 4);
  assert_true(w.all_whole);
  ws_session_free(s);
}

static void close_frame_for_the_transport(void **state) {
  (void)state;
  uint8_t out[WS_CLOSE_FRAME_MAX];
  pipe_end p = {0};
  size_t n = ws_close_frame(1008, "too slow", out);
  assert_int_equal(n, 4 + 8);
  memcpy(p.out, out, n);
  p.out_len = n;
  size_t at = 0;
  server_frame f;
  assert_true(next_server_frame(&p, &at, &f));
  assert_true(f.fin);
  assert_int_equal(close_code(&f), 1008);
  assert_memory_equal(f.payload + 2, "too slow", 8);
  char reason[200];
  memset(reason, 'r', sizeof reason - 1);
  reason[sizeof reason - 1] = '\0';
  assert_int_equal(ws_close_frame(1001, reason, out), WS_CLOSE_FRAME_MAX); /* control frames: <= 125 */
  assert_int_equal(out[1], 125);
}

static void oversized_message_is_1009(void **state) {
  (void)state;
  pipe_end p;
  ws_session *s = session(&p, 64);
  uint8_t buf[256];
  char text[100];
  memset(text, 'x', sizeof text);
  size_t n = client_frame(buf, true, 0x1, text, sizeof text, true);
  ws_session_feed(s, buf, n);
  assert_int_equal(p.text_count, 0);
  size_t at = 0;
  server_frame f;
  assert_true(next_server_frame(&p, &at, &f));
  assert_int_equal(close_code(&f), 1009);
  ws_session_free(s);
}

static void invalid_utf8_is_1007(void **state) {
  (void)state;
  pipe_end p;
  ws_session *s = session(&p, 4096);
  uint8_t buf[64];
  const uint8_t bad[] = {'o', 'k', 0xc3, 0x28}; /* invalid continuation byte */
  size_t n = client_frame(buf, true, 0x1, bad, sizeof bad, true);
  ws_session_feed(s, buf, n);
  assert_int_equal(p.text_count, 0);
  size_t at = 0;
  server_frame f;
  assert_true(next_server_frame(&p, &at, &f));
  assert_int_equal(close_code(&f), 1007);
  ws_session_free(s);
}

static void binary_message_is_1003(void **state) {
  (void)state;
  pipe_end p;
  ws_session *s = session(&p, 4096);
  uint8_t buf[64];
  size_t n = client_frame(buf, true, 0x2, "\x01\x02", 2, true);
  ws_session_feed(s, buf, n);
  size_t at = 0;
  server_frame f;
  assert_true(next_server_frame(&p, &at, &f));
  assert_int_equal(close_code(&f), 1003);
  assert_int_equal(p.finished, 1);
  ws_session_free(s);
}

static void write_failure_finishes_the_session(void **state) {
  (void)state;
  pipe_end p;
  ws_session *s = session(&p, 4096);
  p.refuse_writes = true;
  assert_false(ws_session_send_text(s, "x", 1));
  assert_int_equal(p.finished, 1);
  assert_false(ws_session_ping(s));
  assert_int_equal(p.finished, 1);
  ws_session_free(s);
}

static void ping_from_server(void **state) {
  (void)state;
  pipe_end p;
  ws_session *s = session(&p, 4096);
  assert_true(ws_session_ping(s));
  size_t at = 0;
  server_frame f;
  assert_true(next_server_frame(&p, &at, &f));
  assert_int_equal(f.opcode, 0x9);
  ws_session_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accept_key_matches_rfc_example),
      cmocka_unit_test(text_both_ways),
      cmocka_unit_test(empty_text_message),
      cmocka_unit_test(frames_split_at_every_byte),
      cmocka_unit_test(unmasked_client_frame_is_a_protocol_error),
      cmocka_unit_test(fragments_with_interleaved_ping),
      cmocka_unit_test(close_handshake_is_answered),
      cmocka_unit_test(server_close_sends_code_and_reason),
      cmocka_unit_test(oversized_message_is_1009),
      cmocka_unit_test(invalid_utf8_is_1007),
      cmocka_unit_test(binary_message_is_1003),
      cmocka_unit_test(write_failure_finishes_the_session),
      cmocka_unit_test(ping_from_server),
      cmocka_unit_test(writes_hold_whole_frames),
      cmocka_unit_test(close_frame_for_the_transport),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
