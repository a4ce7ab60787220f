/* cql/frame + cql/crc: v4 headers, v4 LZ4 bodies, v5 segments (uncompressed, LZ4, split)
 * byte-for-byte against the python driver's SegmentCodec, and the stream reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "cql/crc.h"
#include "cql/frame.h"
#include "cql_golden.h"

static void test_crc(void **state) {
  (void)state;
  assert_int_equal(cql_crc24((const uint8_t *)"123456789", 9), 0x4b3f02);
  assert_int_equal(cql_crc32((const uint8_t *)"123456789", 9), 0xe2a261a7u);
  for (size_t i = 0; i < sizeof(GOLDEN_CRC) / sizeof(GOLDEN_CRC[0]); i++) {
    const uint8_t *d = (const uint8_t *)GOLDEN_CRC[i].data;
    assert_int_equal(cql_crc24(d, GOLDEN_CRC[i].len), GOLDEN_CRC[i].crc24);
    assert_int_equal(cql_crc32(d, GOLDEN_CRC[i].len), GOLDEN_CRC[i].crc32);
  }
}

static void test_header(void **state) {
  (void)state;
  cql_frame_header h;
  assert_int_equal(cql_frame_header_decode(GOLDEN_EVENT_TOPOLOGY_V4, 0, &h), CQL_OK);
  assert_int_equal(h.version, 0x84);
  assert_true(cql_header_is_response(&h));
  assert_int_equal(cql_header_protocol(&h), 4);
  assert_int_equal(h.stream, -1);
  assert_int_equal(h.opcode, CQL_OP_EVENT);
  assert_int_equal(h.length, GOLDEN_EVENT_TOPOLOGY_V4_LEN - 9);
  uint8_t enc[9];
  cql_frame_header_encode(&h, enc);
  assert_memory_equal(enc, GOLDEN_EVENT_TOPOLOGY_V4, 9);

  assert_int_equal(cql_frame_header_decode(GOLDEN_OPTIONS_V5, 0, &h), CQL_OK);
  assert_int_equal(h.stream, 32767);
  assert_int_equal(cql_frame_header_decode(GOLDEN_QUERY_TRACING_V4, 0, &h), CQL_OK);
  assert_int_equal(h.flags, CQL_FLAG_TRACING);

  static const uint8_t v2[9] = {0x02, 0, 0, 1, 7, 0, 0, 0, 0};
  assert_int_equal(cql_frame_header_decode(v2, 0, &h), CQL_RC_UNSUPPORTED);
  static const uint8_t big[9] = {0x84, 0, 0, 1, 8, 0x10, 0, 0, 1}; /* 256 MiB + 1 */
  assert_int_equal(cql_frame_header_decode(big, 0, &h), CQL_RC_TOO_LARGE);
  static const uint8_t small[9] = {0x84, 0, 0, 1, 8, 0, 0, 1, 0}; /* 256 bytes */
  assert_int_equal(cql_frame_header_decode(small, 255, &h), CQL_RC_TOO_LARGE);
  assert_int_equal(cql_frame_header_decode(small, 256, &h), CQL_OK);

  cql_writer w;
  cql_writer_init(&w);
  cql_write_byte(&w, 0xEE); /* frames may start mid-buffer */
  size_t pos = cql_frame_begin(&w, 0x04, 0, 0, CQL_OP_OPTIONS);
  assert_int_equal(pos, 1);
  assert_int_equal(cql_frame_end(&w, pos), CQL_OK);
  assert_int_equal(w.len, 10);
  assert_memory_equal(w.data + 1, GOLDEN_OPTIONS_V4, 4); /* version, flags, stream 0 */
  cql_writer_free(&w);
  assert_string_equal(cql_opcode_name(CQL_OP_AUTH_SUCCESS), "AUTH_SUCCESS");
  assert_true(cql_opcode_is_request(CQL_OP_BATCH));
  assert_false(cql_opcode_is_request(CQL_OP_RESULT));
}

static void test_v4_lz4(void **state) {
  (void)state;
  cql_writer c, d;
  cql_writer_init(&c);
  cql_writer_init(&d);
  assert_int_equal(cql_v4_lz4_compress(GOLDEN_SEGMENT_LZ4_INPUT, GOLDEN_SEGMENT_LZ4_INPUT_LEN, &c), CQL_OK);
  assert_true(c.len < GOLDEN_SEGMENT_LZ4_INPUT_LEN);
  assert_int_equal(cql_load_u32(c.data), GOLDEN_SEGMENT_LZ4_INPUT_LEN); /* big-endian length prefix */
  assert_int_equal(cql_v4_lz4_decompress(c.data, c.len, 0, &d), CQL_OK);
  assert_int_equal(d.len, GOLDEN_SEGMENT_LZ4_INPUT_LEN);
  assert_memory_equal(d.data, GOLDEN_SEGMENT_LZ4_INPUT, d.len);
  cql_writer_reset(&d);
  assert_int_equal(cql_v4_lz4_decompress(c.data, c.len, 16, &d), CQL_RC_TOO_LARGE);
  c.data[c.len - 1] ^= 0xFF;
  c.data[3] ^= 1; /* wrong announced length */
  assert_int_equal(cql_v4_lz4_decompress(c.data, c.len, 0, &d), CQL_RC_COMPRESSION);
  assert_int_equal(d.len, 0);
  cql_writer_free(&c);
  cql_writer_free(&d);
}

static void check_segment(const uint8_t *payload, size_t len, bool lz4, const uint8_t *golden,
                          size_t golden_len) {
  cql_writer w, out;
  cql_writer_init(&w);
  cql_writer_init(&out);
  assert_int_equal(cql_segments_write(&w, payload, len, lz4), CQL_OK);
  assert_int_equal(w.len, golden_len);
  assert_memory_equal(w.data, golden, golden_len);
  size_t consumed = 0;
  bool sc = false;
  assert_int_equal(cql_segment_decode(golden, golden_len, lz4, &out, &consumed, &sc), CQL_OK);
  assert_int_equal(consumed, golden_len);
  assert_true(sc);
  assert_int_equal(out.len, len);
  assert_memory_equal(out.data, payload, len);
  for (size_t n = 0; n < golden_len; n++) /* every prefix: need more bytes */
    assert_int_equal(cql_segment_decode(golden, n, lz4, &out, &consumed, &sc), CQL_RC_TRUNCATED);
  cql_writer_free(&w);
  cql_writer_free(&out);
}

static void test_segments_golden(void **state) {
  (void)state;
  check_segment(GOLDEN_OPTIONS_V5, GOLDEN_OPTIONS_V5_LEN, false, GOLDEN_SEGMENT_OPTIONS,
                GOLDEN_SEGMENT_OPTIONS_LEN);
  check_segment(GOLDEN_SEGMENT_LZ4_INPUT, GOLDEN_SEGMENT_LZ4_INPUT_LEN, true, GOLDEN_SEGMENT_LZ4,
                GOLDEN_SEGMENT_LZ4_LEN);
  assert_true(GOLDEN_SEGMENT_LZ4_LEN < GOLDEN_SEGMENT_LZ4_INPUT_LEN);
  /* OPTIONS v5 is an envelope; the python codec is given the same envelope bytes. */
  cql_segment_header h;
  assert_int_equal(
      cql_segment_header_decode(GOLDEN_SEGMENT_LZ4_STORED, GOLDEN_SEGMENT_LZ4_STORED_LEN, true, &h), CQL_OK);
  assert_int_equal(h.uncompressed_len, 0); /* stored: compression would not shrink it */
  assert_true(h.self_contained);
}

static uint8_t *pattern(size_t n) {
  uint8_t *p = malloc(n);
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)((i * 31 + 7) & 0xff);
  return p;
}

static void test_segments_split(void **state) {
  (void)state;
  const size_t n = 300000;
  uint8_t *data = pattern(n);
  for (int lz4 = 0; lz4 <= 1; lz4++) {
    cql_writer w, out;
    cql_writer_init(&w);
    cql_writer_init(&out);
    assert_int_equal(cql_segments_write(&w, data, n, lz4), CQL_OK);
    assert_int_equal(w.len, lz4 ? GOLDEN_SEGMENT_SPLIT_LZ4_LEN : GOLDEN_SEGMENT_SPLIT_PLAIN_LEN);
    assert_int_equal(crc32(0, w.data, (uInt)w.len),
                     lz4 ? GOLDEN_SEGMENT_SPLIT_LZ4_CRC32 : GOLDEN_SEGMENT_SPLIT_PLAIN_CRC32);
    /* Three segments, none self-contained (the last one included). */
    size_t off = 0, segs = 0;
    while (off < w.len) {
      size_t consumed;
      bool sc = true;
      assert_int_equal(cql_segment_decode(w.data + off, w.len - off, lz4, &out, &consumed, &sc), CQL_OK);
      assert_false(sc);
      off += consumed;
      segs++;
    }
    assert_int_equal(segs, 3);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, data, n);
    cql_writer_free(&w);
    cql_writer_free(&out);
  }
  free(data);
}

static void test_segment_corruption(void **state) {
  (void)state;
  uint8_t seg[GOLDEN_SEGMENT_OPTIONS_LEN];
  cql_writer out;
  cql_writer_init(&out);
  size_t consumed;
  bool sc;
  for (size_t i = 0; i < sizeof(seg); i++) { /* any single flipped bit is detected */
    memcpy(seg, GOLDEN_SEGMENT_OPTIONS, sizeof(seg));
    seg[i] ^= 0x10;
    int rc = cql_segment_decode(seg, sizeof(seg), false, &out, &consumed, &sc);
    assert_true(rc == CQL_RC_CHECKSUM || rc == CQL_RC_TRUNCATED || (i < 3 && rc != CQL_OK));
  }
  assert_int_equal(out.len, 0);
  cql_writer_free(&out);
}

/* Feeds `len` bytes to the reader in chunks of `chunk` and collects the envelopes. */
static size_t read_all(cql_frame_reader *fr, const uint8_t *data, size_t len, size_t chunk, uint8_t opcodes[],
                       size_t max) {
  size_t n = 0;
  for (size_t off = 0; off < len; off += chunk) {
    size_t c = len - off < chunk ? len - off : chunk;
    assert_int_equal(cql_frame_reader_feed(fr, data + off, c), CQL_OK);
    cql_frame_header h;
    const uint8_t *body;
    int rc;
    while ((rc = cql_frame_reader_next(fr, &h, &body)) == 1) {
      assert_true(n < max);
      opcodes[n++] = h.opcode;
    }
    assert_int_equal(rc, 0);
  }
  return n;
}

static void test_reader_v4(void **state) {
  (void)state;
  cql_writer w;
  cql_writer_init(&w);
  cql_write_raw(&w, GOLDEN_READY_V4, GOLDEN_READY_V4_LEN);
  cql_write_raw(&w, GOLDEN_RESULT_ROWS_V4, GOLDEN_RESULT_ROWS_V4_LEN);
  cql_write_raw(&w, GOLDEN_EVENT_TOPOLOGY_V4, GOLDEN_EVENT_TOPOLOGY_V4_LEN);
  for (size_t chunk = 1; chunk <= w.len; chunk = chunk * 3 + 1) {
    cql_frame_reader fr;
    cql_frame_reader_init(&fr, CQL_FRAMING_NONE, 0);
    uint8_t ops[8];
    assert_int_equal(read_all(&fr, w.data, w.len, chunk, ops, 8), 3);
    assert_int_equal(ops[0], CQL_OP_READY);
    assert_int_equal(ops[1], CQL_OP_RESULT);
    assert_int_equal(ops[2], CQL_OP_EVENT);
    cql_frame_reader_free(&fr);
  }
  /* A length above the configured limit is fatal. */
  cql_frame_reader fr;
  cql_frame_reader_init(&fr, CQL_FRAMING_NONE, 16);
  cql_frame_reader_feed(&fr, GOLDEN_RESULT_ROWS_V4, GOLDEN_RESULT_ROWS_V4_LEN);
  cql_frame_header h;
  const uint8_t *body;
  assert_int_equal(cql_frame_reader_next(&fr, &h, &body), CQL_RC_TOO_LARGE);
  cql_frame_reader_free(&fr);
  cql_writer_free(&w);
}

static void test_reader_v5(void **state) {
  (void)state;
  /* Handshake unframed (READY), then framed: a self-contained segment with two envelopes, then
   * one big envelope split over several segments. */
  const size_t big_body = 200000;
  cql_writer env, wire;
  cql_writer_init(&env);
  cql_writer_init(&wire);
  size_t pos = cql_frame_begin(&env, 0x85, 0, 7, CQL_OP_RESULT);
  uint8_t *p = pattern(big_body);
  cql_write_raw(&env, p, big_body);
  free(p);
  assert_int_equal(cql_frame_end(&env, pos), CQL_OK);

  for (int lz4 = 0; lz4 <= 1; lz4++) {
    cql_writer_reset(&wire);
    cql_write_raw(&wire, GOLDEN_READY_V4, GOLDEN_READY_V4_LEN);
    cql_writer two;
    cql_writer_init(&two);
    cql_write_raw(&two, GOLDEN_RESULT_VOID_V4, GOLDEN_RESULT_VOID_V4_LEN);
    cql_write_raw(&two, GOLDEN_EVENT_TOPOLOGY_V4, GOLDEN_EVENT_TOPOLOGY_V4_LEN);
    assert_int_equal(cql_segments_write(&wire, two.data, two.len, lz4), CQL_OK);
    cql_writer_free(&two);
    assert_int_equal(cql_segments_write(&wire, env.data, env.len, lz4), CQL_OK);

    for (size_t chunk = 7; chunk < 100000; chunk *= 9) {
      cql_frame_reader fr;
      cql_frame_reader_init(&fr, CQL_FRAMING_NONE, 0);
      cql_frame_header h;
      const uint8_t *body;
      size_t off = 0, got = 0;
      uint8_t ops[4];
      size_t lens[4];
      while (off < wire.len) {
        size_t c = wire.len - off < chunk ? wire.len - off : chunk;
        assert_int_equal(cql_frame_reader_feed(&fr, wire.data + off, c), CQL_OK);
        off += c;
        int rc;
        while ((rc = cql_frame_reader_next(&fr, &h, &body)) == 1) {
          assert_true(got < 4);
          ops[got] = h.opcode;
          lens[got++] = h.length;
          if (h.opcode == CQL_OP_READY)
            cql_frame_reader_set_framing(&fr, lz4 ? CQL_FRAMING_V5_LZ4 : CQL_FRAMING_V5);
          if (h.length == big_body)
            assert_int_equal(body[big_body - 1], (uint8_t)(((big_body - 1) * 31 + 7) & 0xff));
        }
        assert_int_equal(rc, 0);
      }
      assert_int_equal(got, 4);
      assert_int_equal(ops[0], CQL_OP_READY);
      assert_int_equal(ops[1], CQL_OP_RESULT);
      assert_int_equal(ops[2], CQL_OP_EVENT);
      assert_int_equal(lens[3], big_body);
      cql_frame_reader_free(&fr);
    }
  }
  cql_writer_free(&env);
  cql_writer_free(&wire);
}

static void test_reader_v5_violations(void **state) {
  (void)state;
  cql_frame_header h;
  const uint8_t *body;
  /* A self-contained segment holding half an envelope. */
  cql_writer w;
  cql_writer_init(&w);
  assert_int_equal(cql_segment_write(&w, GOLDEN_RESULT_ROWS_V4, 20, true, false), CQL_OK);
  cql_frame_reader fr;
  cql_frame_reader_init(&fr, CQL_FRAMING_V5, 0);
  cql_frame_reader_feed(&fr, w.data, w.len);
  assert_int_equal(cql_frame_reader_next(&fr, &h, &body), CQL_RC_MALFORMED);
  cql_frame_reader_free(&fr);

  /* A split envelope interrupted by a self-contained segment. */
  cql_writer_reset(&w);
  assert_int_equal(cql_segment_write(&w, GOLDEN_RESULT_ROWS_V4, 20, false, false), CQL_OK);
  assert_int_equal(cql_segment_write(&w, GOLDEN_READY_V4, GOLDEN_READY_V4_LEN, true, false), CQL_OK);
  cql_frame_reader_init(&fr, CQL_FRAMING_V5, 0);
  cql_frame_reader_feed(&fr, w.data, w.len);
  assert_int_equal(cql_frame_reader_next(&fr, &h, &body), CQL_RC_MALFORMED);
  cql_frame_reader_free(&fr);

  /* A corrupted payload. */
  cql_writer_reset(&w);
  assert_int_equal(cql_segment_write(&w, GOLDEN_READY_V4, GOLDEN_READY_V4_LEN, true, false), CQL_OK);
  w.data[7] ^= 1;
  cql_frame_reader_init(&fr, CQL_FRAMING_V5, 0);
  cql_frame_reader_feed(&fr, w.data, w.len);
  assert_int_equal(cql_frame_reader_next(&fr, &h, &body), CQL_RC_CHECKSUM);
  cql_frame_reader_free(&fr);
  cql_writer_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc),
      cmocka_unit_test(test_header),
      cmocka_unit_test(test_v4_lz4),
      cmocka_unit_test(test_segments_golden),
      cmocka_unit_test(test_segments_split),
      cmocka_unit_test(test_segment_corruption),
      cmocka_unit_test(test_reader_v4),
      cmocka_unit_test(test_reader_v5),
      cmocka_unit_test(test_reader_v5_violations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
