/* cql/frame: v4 frames (= v5 "envelopes") and the v5 outer framing ("segments").
 *
 * Envelope: 9-byte big-endian header (version|direction, flags, stream, opcode, length)
 * followed by `length` body bytes. Segments (v5 §2) wrap envelopes after the handshake:
 * little-endian 3-byte (uncompressed) or 5-byte (LZ4) header + CRC24, payload, CRC32.
 *
 * cql_frame_reader turns a byte stream (as read from a socket) into complete envelopes, in
 * either raw v4 mode or v5 segment mode (switchable mid-stream, since v5 framing starts
 * after READY/AUTHENTICATE). It owns its buffers; envelopes it returns stay valid until the
 * next call on the reader. Writers append to a caller-owned cql_writer. */
#ifndef MESSENGER_CQL_FRAME_H
#define MESSENGER_CQL_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cql/buf.h"

#define CQL_FRAME_HEADER_SIZE    9
#define CQL_MAX_BODY_DEFAULT     (256u * 1024u * 1024u) /* spec limit: 256 MB */
#define CQL_VERSION_RESPONSE_BIT 0x80
#define CQL_SEGMENT_MAX_PAYLOAD  (128 * 1024 - 1)
#define CQL_SEGMENT_OVERHEAD_MAX (8 + 4) /* LZ4 header with CRC24 + CRC32 trailer */

/* Header flags. */
enum {
  CQL_FLAG_COMPRESSION = 0x01, /* v4 only: body is LZ4-compressed */
  CQL_FLAG_TRACING = 0x02,
  CQL_FLAG_CUSTOM_PAYLOAD = 0x04,
  CQL_FLAG_WARNING = 0x08,
  CQL_FLAG_USE_BETA = 0x10,
};

typedef enum cql_opcode {
  CQL_OP_ERROR = 0x00,
  CQL_OP_STARTUP = 0x01,
  CQL_OP_READY = 0x02,
  CQL_OP_AUTHENTICATE = 0x03,
  CQL_OP_OPTIONS = 0x05,
  CQL_OP_SUPPORTED = 0x06,
  CQL_OP_QUERY = 0x07,
  CQL_OP_RESULT = 0x08,
  CQL_OP_PREPARE = 0x09,
  CQL_OP_EXECUTE = 0x0A,
  CQL_OP_REGISTER = 0x0B,
  CQL_OP_EVENT = 0x0C,
  CQL_OP_BATCH = 0x0D,
  CQL_OP_AUTH_CHALLENGE = 0x0E,
  CQL_OP_AUTH_RESPONSE = 0x0F,
  CQL_OP_AUTH_SUCCESS = 0x10,
} cql_opcode;

const char *cql_opcode_name(int opcode); /* "QUERY", ...; "UNKNOWN" otherwise */
bool cql_opcode_is_request(int opcode);
bool cql_opcode_is_response(int opcode);

typedef struct cql_frame_header {
  uint8_t version; /* protocol version | CQL_VERSION_RESPONSE_BIT for responses */
  uint8_t flags;
  int16_t stream;
  uint8_t opcode;
  uint32_t length; /* body length */
} cql_frame_header;

static inline int cql_header_protocol(const cql_frame_header *h) { return h->version & 0x7f; }
static inline bool cql_header_is_response(const cql_frame_header *h) {
  return (h->version & CQL_VERSION_RESPONSE_BIT) != 0;
}

/* Decodes 9 bytes. Fails with CQL_RC_UNSUPPORTED for protocol versions outside 3..5 and
 * CQL_RC_TOO_LARGE when length > max_body (0 = CQL_MAX_BODY_DEFAULT). */
int cql_frame_header_decode(const uint8_t p[CQL_FRAME_HEADER_SIZE], uint32_t max_body, cql_frame_header *h);
void cql_frame_header_encode(const cql_frame_header *h, uint8_t p[CQL_FRAME_HEADER_SIZE]);

/* Incremental envelope writing: begin writes a header with length 0 and returns its offset;
 * end patches the length to cover everything written after it. */
size_t cql_frame_begin(cql_writer *w, uint8_t version, uint8_t flags, int16_t stream, uint8_t opcode);
int cql_frame_end(cql_writer *w, size_t header_pos); /* CQL_RC_TOO_LARGE above 256 MB */

/* v4 body compression (flag 0x01 with "lz4"): [int BE uncompressed length][LZ4 block].
 * Both append to out. decompress refuses outputs larger than max_body (0 = default). */
int cql_v4_lz4_compress(const uint8_t *body, size_t len, cql_writer *out);
int cql_v4_lz4_decompress(const uint8_t *body, size_t len, uint32_t max_body, cql_writer *out);

/* ---- v5 segments ---- */
typedef struct cql_segment_header {
  size_t header_size;        /* 6 (uncompressed) or 8 (LZ4), CRC24 included */
  uint32_t payload_len;      /* bytes on the wire */
  uint32_t uncompressed_len; /* LZ4 mode only; 0 = payload stored uncompressed */
  bool self_contained;
} cql_segment_header;

/* Parses a segment header from p[0..avail). Returns CQL_RC_TRUNCATED if avail is too
 * short, CQL_RC_CHECKSUM on a CRC24 mismatch. */
int cql_segment_header_decode(const uint8_t *p, size_t avail, bool lz4, cql_segment_header *h);

/* Writes one segment holding payload[0..len), len <= CQL_SEGMENT_MAX_PAYLOAD. In LZ4 mode
 * the payload is stored uncompressed (uncompressed length 0) when compression does not
 * shrink it, as Cassandra and the drivers do. */
int cql_segment_write(cql_writer *w, const uint8_t *payload, size_t len, bool self_contained, bool lz4);

/* Writes `len` bytes of envelopes: one self-contained segment if they fit, otherwise
 * consecutive non-self-contained segments of at most CQL_SEGMENT_MAX_PAYLOAD bytes (the
 * caller passes one large envelope in that case, per spec). */
int cql_segments_write(cql_writer *w, const uint8_t *envelopes, size_t len, bool lz4);

/* Decodes one complete segment at p[0..avail): verifies both CRCs, decompresses if needed
 * and appends the payload to out. *consumed = bytes of the segment. CQL_RC_TRUNCATED when
 * the segment is not complete yet. */
int cql_segment_decode(const uint8_t *p, size_t avail, bool lz4, cql_writer *out, size_t *consumed,
                       bool *self_contained);

/* ---- stream reader ---- */
typedef enum cql_framing {
  CQL_FRAMING_NONE = 0, /* v4, or the v5 handshake: envelopes directly on the wire */
  CQL_FRAMING_V5 = 1,   /* v5 uncompressed segments */
  CQL_FRAMING_V5_LZ4 = 2,
} cql_framing;

typedef struct cql_frame_reader {
  cql_framing framing;
  uint32_t max_body;
  cql_writer in; /* raw bytes received, not yet consumed from in_off */
  size_t in_off;
  cql_writer payload; /* v5: segment payload bytes not yet consumed from payload_off */
  size_t payload_off;
  bool partial; /* v5: collecting a large envelope over non-self-contained segments */
} cql_frame_reader;

void cql_frame_reader_init(cql_frame_reader *fr, cql_framing framing, uint32_t max_body);
void cql_frame_reader_free(cql_frame_reader *fr);
/* Switches framing for the bytes not consumed yet (call right after the READY/AUTHENTICATE
 * envelope was returned). */
void cql_frame_reader_set_framing(cql_frame_reader *fr, cql_framing framing);
/* Appends received bytes. */
int cql_frame_reader_feed(cql_frame_reader *fr, const void *data, size_t len);
/* Returns 1 and a complete envelope (header decoded, body view) if one is available,
 * 0 if more bytes are needed, or a negative cql_rc on a protocol violation (after which the
 * connection must be closed). The body view is valid until the next call on fr. */
int cql_frame_reader_next(cql_frame_reader *fr, cql_frame_header *h, const uint8_t **body);

#endif
