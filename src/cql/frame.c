#include "cql/frame.h"

#include <lz4.h>
#include <string.h>

#include "cql/crc.h"

const char *cql_opcode_name(int opcode) {
  switch (opcode) {
  case CQL_OP_ERROR:
    return "ERROR";
  case CQL_OP_STARTUP:
    return "STARTUP";
  case CQL_OP_READY:
    return "READY";
  case CQL_OP_AUTHENTICATE:
    return "AUTHENTICATE";
  case CQL_OP_OPTIONS:
    return "OPTIONS";
  case CQL_OP_SUPPORTED:
    return "SUPPORTED";
  case CQL_OP_QUERY:
    return "QUERY";
  case CQL_OP_RESULT:
    return "RESULT";
  case CQL_OP_PREPARE:
    return "PREPARE";
  case CQL_OP_EXECUTE:
    return "EXECUTE";
  case CQL_OP_REGISTER:
    return "REGISTER";
  case CQL_OP_EVENT:
    return "EVENT";
  case CQL_OP_BATCH:
    return "BATCH";
  case CQL_OP_AUTH_CHALLENGE:
    return "AUTH_CHALLENGE";
  case CQL_OP_AUTH_RESPONSE:
    return "AUTH_RESPONSE";
  case CQL_OP_AUTH_SUCCESS:
    return "AUTH_SUCCESS";
  default:
    return "UNKNOWN";
  }
}

bool cql_opcode_is_request(int opcode) {
  switch (opcode) {
  case CQL_OP_STARTUP:
  case CQL_OP_OPTIONS:
  case CQL_OP_QUERY:
  case CQL_OP_PREPARE:
  case CQL_OP_EXECUTE:
  case CQL_OP_REGISTER:
  case CQL_OP_BATCH:
  case CQL_OP_AUTH_RESPONSE:
    return true;
  default:
    return false;
  }
}

bool cql_opcode_is_response(int opcode) {
  switch (opcode) {
  case CQL_OP_ERROR:
  case CQL_OP_READY:
  case CQL_OP_AUTHENTICATE:
  case CQL_OP_SUPPORTED:
  case CQL_OP_RESULT:
  case CQL_OP_EVENT:
  case CQL_OP_AUTH_CHALLENGE:
  case CQL_OP_AUTH_SUCCESS:
    return true;
  default:
    return false;
  }
}

int cql_frame_header_decode(const uint8_t p[CQL_FRAME_HEADER_SIZE], uint32_t max_body, cql_frame_header *h) {
  h->version = p[0];
  h->flags = p[1];
  h->stream = (int16_t)cql_load_u16(p + 2);
  h->opcode = p[4];
  h->length = cql_load_u32(p + 5);
  int v = cql_header_protocol(h);
  if (v < 3 || v > 5) return CQL_RC_UNSUPPORTED;
  if (h->length > (max_body ? max_body : CQL_MAX_BODY_DEFAULT)) return CQL_RC_TOO_LARGE;
  return CQL_OK;
}

void cql_frame_header_encode(const cql_frame_header *h, uint8_t p[CQL_FRAME_HEADER_SIZE]) {
  p[0] = h->version;
  p[1] = h->flags;
  cql_store_u16(p + 2, (uint16_t)h->stream);
  p[4] = h->opcode;
  cql_store_u32(p + 5, h->length);
}

size_t cql_frame_begin(cql_writer *w, uint8_t version, uint8_t flags, int16_t stream, uint8_t opcode) {
  size_t pos = w->len;
  uint8_t *p = cql_writer_reserve(w, CQL_FRAME_HEADER_SIZE);
  if (p) {
    cql_frame_header h = {.version = version, .flags = flags, .stream = stream, .opcode = opcode};
    cql_frame_header_encode(&h, p);
  }
  return pos;
}

int cql_frame_end(cql_writer *w, size_t header_pos) {
  if (!cql_writer_ok(w)) return CQL_RC_NOMEM;
  if (header_pos > w->len || w->len - header_pos < CQL_FRAME_HEADER_SIZE) return CQL_RC_MALFORMED;
  size_t body = w->len - header_pos - CQL_FRAME_HEADER_SIZE;
  if (body > CQL_MAX_BODY_DEFAULT) return CQL_RC_TOO_LARGE;
  cql_writer_patch_int(w, header_pos + 5, (int32_t)body);
  return CQL_OK;
}

/* ---- LZ4 ---- */

/* Compresses src into w (appending); returns the compressed size, or 0 if it would not be
 * smaller than limit (nothing appended), or a negative rc. */
static int lz4_append(cql_writer *w, const uint8_t *src, size_t len, size_t limit) {
  if (len > (size_t)LZ4_MAX_INPUT_SIZE) return CQL_RC_TOO_LARGE;
  int bound = LZ4_compressBound((int)len);
  size_t start = w->len;
  uint8_t *dst = cql_writer_reserve(w, (size_t)bound);
  if (!dst) return CQL_RC_NOMEM;
  int n = LZ4_compress_default((const char *)src, (char *)dst, (int)len, bound);
  if (n <= 0) {
    w->len = start;
    return CQL_RC_COMPRESSION;
  }
  if ((size_t)n >= limit) {
    w->len = start;
    return 0;
  }
  w->len = start + (size_t)n;
  return n;
}

/* Decompresses exactly out_len bytes from src into w (appending). */
static int lz4_expand(cql_writer *w, const uint8_t *src, size_t len, size_t out_len) {
  if (len > (size_t)LZ4_MAX_INPUT_SIZE || out_len > (size_t)INT32_MAX) return CQL_RC_TOO_LARGE;
  size_t start = w->len;
  uint8_t *dst = cql_writer_reserve(w, out_len ? out_len : 1);
  if (!dst) return CQL_RC_NOMEM;
  int n = LZ4_decompress_safe((const char *)src, (char *)dst, (int)len, (int)out_len);
  if (n < 0 || (size_t)n != out_len) {
    w->len = start;
    return CQL_RC_COMPRESSION;
  }
  w->len = start + out_len;
  return CQL_OK;
}

int cql_v4_lz4_compress(const uint8_t *body, size_t len, cql_writer *out) {
  if (len > CQL_MAX_BODY_DEFAULT) return CQL_RC_TOO_LARGE;
  size_t start = out->len;
  cql_write_int(out, (int32_t)len);
  if (!cql_writer_ok(out)) return CQL_RC_NOMEM;
  int n = lz4_append(out, body, len, SIZE_MAX);
  if (n < 0) out->len = start;
  return n < 0 ? n : CQL_OK;
}

int cql_v4_lz4_decompress(const uint8_t *body, size_t len, uint32_t max_body, cql_writer *out) {
  if (len < 4) return CQL_RC_MALFORMED;
  uint32_t n = cql_load_u32(body);
  if (n > (max_body ? max_body : CQL_MAX_BODY_DEFAULT)) return CQL_RC_TOO_LARGE;
  return lz4_expand(out, body + 4, len - 4, n);
}

/* ---- v5 segments ---- */

#define SEG_LEN_BITS 17
#define SEG_LEN_MASK ((1u << SEG_LEN_BITS) - 1)

static uint64_t load_le(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = v << 8 | p[i];
  return v;
}

static void store_le(uint8_t *p, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; i++, v >>= 8) p[i] = (uint8_t)v;
}

int cql_segment_header_decode(const uint8_t *p, size_t avail, bool lz4, cql_segment_header *h) {
  size_t n = lz4 ? 5 : 3;
  if (avail < n + 3) return CQL_RC_TRUNCATED;
  if (cql_crc24(p, n) != (uint32_t)load_le(p + n, 3)) return CQL_RC_CHECKSUM;
  uint64_t v = load_le(p, n);
  h->header_size = n + 3;
  h->payload_len = (uint32_t)(v & SEG_LEN_MASK);
  if (lz4) {
    h->uncompressed_len = (uint32_t)((v >> SEG_LEN_BITS) & SEG_LEN_MASK);
    h->self_contained = (v >> (2 * SEG_LEN_BITS)) & 1;
  } else {
    h->uncompressed_len = 0;
    h->self_contained = (v >> SEG_LEN_BITS) & 1;
  }
  return CQL_OK;
}

int cql_segment_write(cql_writer *w, const uint8_t *payload, size_t len, bool self_contained, bool lz4) {
  if (len > CQL_SEGMENT_MAX_PAYLOAD) return CQL_RC_TOO_LARGE;
  size_t start = w->len, n = lz4 ? 5 : 3;
  if (!cql_writer_reserve(w, n + 3)) return CQL_RC_NOMEM;
  size_t payload_pos = w->len;
  uint64_t wire_len = len, uncompressed = 0;
  if (lz4) {
    int c = lz4_append(w, payload, len, len);
    if (c < 0) {
      w->len = start;
      return c;
    }
    if (c > 0) {
      wire_len = (uint64_t)c;
      uncompressed = len;
    }
  }
  if (uncompressed == 0) cql_write_raw(w, payload, len);
  uint8_t *crc = cql_writer_reserve(w, 4);
  if (!crc) return CQL_RC_NOMEM;
  store_le(crc, cql_crc32(w->data + payload_pos, (size_t)wire_len), 4);

  uint64_t v = wire_len;
  if (lz4)
    v |= uncompressed << SEG_LEN_BITS | (uint64_t)self_contained << (2 * SEG_LEN_BITS);
  else
    v |= (uint64_t)self_contained << SEG_LEN_BITS;
  uint8_t *hdr = w->data + start;
  store_le(hdr, v, n);
  store_le(hdr + n, cql_crc24(hdr, n), 3);
  return CQL_OK;
}

int cql_segments_write(cql_writer *w, const uint8_t *envelopes, size_t len, bool lz4) {
  if (len <= CQL_SEGMENT_MAX_PAYLOAD) return cql_segment_write(w, envelopes, len, true, lz4);
  for (size_t off = 0; off < len; off += CQL_SEGMENT_MAX_PAYLOAD) {
    size_t chunk = len - off < CQL_SEGMENT_MAX_PAYLOAD ? len - off : CQL_SEGMENT_MAX_PAYLOAD;
    int rc = cql_segment_write(w, envelopes + off, chunk, false, lz4);
    if (rc != CQL_OK) return rc;
  }
  return CQL_OK;
}

int cql_segment_decode(const uint8_t *p, size_t avail, bool lz4, cql_writer *out, size_t *consumed,
                       bool *self_contained) {
  cql_segment_header h;
  int rc = cql_segment_header_decode(p, avail, lz4, &h);
  if (rc != CQL_OK) return rc;
  size_t total = h.header_size + h.payload_len + 4;
  if (avail < total) return CQL_RC_TRUNCATED;
  const uint8_t *payload = p + h.header_size;
  if (cql_crc32(payload, h.payload_len) != (uint32_t)load_le(payload + h.payload_len, 4))
    return CQL_RC_CHECKSUM;
  if (h.uncompressed_len > 0) {
    rc = lz4_expand(out, payload, h.payload_len, h.uncompressed_len);
    if (rc != CQL_OK) return rc;
  } else {
    cql_write_raw(out, payload, h.payload_len);
    if (!cql_writer_ok(out)) return CQL_RC_NOMEM;
  }
  *consumed = total;
  *self_contained = h.self_contained;
  return CQL_OK;
}

/* ---- stream reader ---- */

void cql_frame_reader_init(cql_frame_reader *fr, cql_framing framing, uint32_t max_body) {
  memset(fr, 0, sizeof(*fr));
  fr->framing = framing;
  fr->max_body = max_body ? max_body : CQL_MAX_BODY_DEFAULT;
  cql_writer_init(&fr->in);
  cql_writer_init(&fr->payload);
}

void cql_frame_reader_free(cql_frame_reader *fr) {
  cql_writer_free(&fr->in);
  cql_writer_free(&fr->payload);
  memset(fr, 0, sizeof(*fr));
}

void cql_frame_reader_set_framing(cql_frame_reader *fr, cql_framing framing) { fr->framing = framing; }

int cql_frame_reader_feed(cql_frame_reader *fr, const void *data, size_t len) {
  if (fr->in_off > 0) { /* drop consumed bytes; earlier envelope views die here */
    memmove(fr->in.data, fr->in.data + fr->in_off, fr->in.len - fr->in_off);
    fr->in.len -= fr->in_off;
    fr->in_off = 0;
  }
  cql_write_raw(&fr->in, data, len);
  return cql_writer_ok(&fr->in) ? CQL_OK : CQL_RC_NOMEM;
}

/* Takes one complete envelope from buf[*off..len) if there is one: 1 yes, 0 no, <0 error. */
static int take_envelope(const cql_writer *buf, size_t *off, uint32_t max_body, cql_frame_header *h,
                         const uint8_t **body) {
  size_t avail = buf->len - *off;
  if (avail < CQL_FRAME_HEADER_SIZE) return 0;
  int rc = cql_frame_header_decode(buf->data + *off, max_body, h);
  if (rc != CQL_OK) return rc;
  if (avail - CQL_FRAME_HEADER_SIZE < h->length) return 0;
  *body = buf->data + *off + CQL_FRAME_HEADER_SIZE;
  *off += CQL_FRAME_HEADER_SIZE + h->length;
  return 1;
}

int cql_frame_reader_next(cql_frame_reader *fr, cql_frame_header *h, const uint8_t **body) {
  if (fr->framing == CQL_FRAMING_NONE) return take_envelope(&fr->in, &fr->in_off, fr->max_body, h, body);

  bool lz4 = fr->framing == CQL_FRAMING_V5_LZ4;
  for (;;) {
    if (fr->payload_off == fr->payload.len) {
      cql_writer_reset(&fr->payload);
      fr->payload_off = 0;
    }
    if (fr->payload.len > fr->payload_off) {
      int rc = take_envelope(&fr->payload, &fr->payload_off, fr->max_body, h, body);
      if (rc != 0) {
        /* The segment that completes a split envelope carries nothing else. */
        if (rc > 0 && fr->partial) {
          fr->partial = false;
          if (fr->payload_off != fr->payload.len) return CQL_RC_MALFORMED;
        }
        return rc;
      }
      /* A self-contained segment must hold whole envelopes only. */
      if (!fr->partial) return CQL_RC_MALFORMED;
    }
    if (fr->in.len == fr->in_off) return 0;
    size_t consumed = 0;
    bool self_contained = false;
    int rc = cql_segment_decode(fr->in.data + fr->in_off, fr->in.len - fr->in_off, lz4, &fr->payload,
                                &consumed, &self_contained);
    if (rc == CQL_RC_TRUNCATED) return 0;
    if (rc != CQL_OK) return rc;
    fr->in_off += consumed;
    if (self_contained && fr->partial) return CQL_RC_MALFORMED;
    if (!self_contained) fr->partial = true;
  }
}
