/* libFuzzer target for the cql protocol decoders: arbitrary bytes as (1) a stream of v4
 * envelopes with their request/response bodies, (2) v5 segments (plain and LZ4) through the
 * stream reader, (3) a bare type option. Decoded messages are re-encoded to exercise the
 * encoders on decoder output. Must never crash, read out of bounds or leak. */
#include <stddef.h>
#include <stdint.h>

#include "cql/frame.h"
#include "cql/message.h"
#include "cql/types.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_envelope(const cql_frame_header *h, const uint8_t *body) {
  cql_writer plain;
  cql_writer_init(&plain);
  if ((h->flags & CQL_FLAG_COMPRESSION) && cql_header_protocol(h) < 5) {
    if (cql_v4_lz4_decompress(body, h->length, 1u << 20, &plain) != CQL_OK) {
      cql_writer_free(&plain);
      return;
    }
    body = plain.data;
  }
  size_t len = (h->flags & CQL_FLAG_COMPRESSION) && cql_header_protocol(h) < 5 ? plain.len : h->length;
  cql_message m;
  if (cql_message_decode(&m, h, body, len) == CQL_OK) {
    cql_writer w;
    cql_writer_init(&w);
    (void)cql_message_encode_frame(&w, cql_header_protocol(h), 0, h->stream, &m);
    cql_writer_free(&w);
    if (m.opcode == CQL_OP_ERROR) {
      char buf[128];
      cql_error_format(&m.u.error, buf, sizeof(buf));
    }
    cql_message_free(&m);
  }
  cql_writer_free(&plain);
}

static void run_reader(const uint8_t *data, size_t size, cql_framing framing) {
  cql_frame_reader fr;
  cql_frame_reader_init(&fr, framing, 1u << 20);
  /* Feed in two pieces to exercise buffering across calls. */
  size_t half = size / 2;
  const uint8_t *pieces[2] = {data, data + half};
  size_t lens[2] = {half, size - half};
  for (int i = 0; i < 2; i++) {
    if (cql_frame_reader_feed(&fr, pieces[i], lens[i]) != CQL_OK) break;
    cql_frame_header h;
    const uint8_t *body;
    int rc;
    while ((rc = cql_frame_reader_next(&fr, &h, &body)) == 1) decode_envelope(&h, body);
    if (rc < 0) break;
  }
  cql_frame_reader_free(&fr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  /* The first byte picks the mode so one corpus covers all decoders. */
  uint8_t mode = data[0] % 4;
  data++;
  size--;
  switch (mode) {
  case 0:
    run_reader(data, size, CQL_FRAMING_NONE);
    break;
  case 1:
    run_reader(data, size, CQL_FRAMING_V5);
    break;
  case 2:
    run_reader(data, size, CQL_FRAMING_V5_LZ4);
    break;
  default: {
    cql_arena a;
    cql_arena_init(&a);
    cql_reader r;
    cql_reader_init(&r, data, size);
    cql_datatype t;
    if (cql_datatype_read(&r, &a, &t)) {
      cql_writer w;
      cql_writer_init(&w);
      cql_datatype_write(&w, &t);
      cql_writer_free(&w);
    }
    cql_arena_free(&a);
  }
  }
  return 0;
}
