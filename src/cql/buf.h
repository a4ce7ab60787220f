/* cql/buf: primitive notation of the CQL native protocol (v4 spec §3), big-endian.
 *
 * cql_reader walks a caller-owned byte range; it never reads outside it. The first failing
 * read sets a sticky error flag, returns zero/empty values, and every later read fails too,
 * so a decoder can read a whole structure and check cql_reader_ok() once at the end.
 * Strings and bytes returned by the reader are views into the input (not NUL-terminated).
 *
 * cql_writer appends to a heap buffer it owns (free with cql_writer_free, or take the
 * buffer with cql_writer_steal). Allocation failure or an oversized field sets a sticky
 * error flag; check cql_writer_ok() once after writing.
 *
 * cql_arena is a block allocator for decoded messages: everything allocated from it is
 * released together by cql_arena_free. Pointers stay valid until then. */
#ifndef MESSENGER_CQL_BUF_H
#define MESSENGER_CQL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Return codes shared by the cql protocol modules (0 = success, negative = failure). */
typedef enum cql_rc {
  CQL_OK = 0,
  CQL_RC_TRUNCATED = -1,   /* input ended early / more bytes needed */
  CQL_RC_MALFORMED = -2,   /* bytes violate the protocol */
  CQL_RC_NOMEM = -3,       /* allocation failed */
  CQL_RC_TOO_LARGE = -4,   /* length above a protocol or configured limit */
  CQL_RC_CHECKSUM = -5,    /* v5 CRC24/CRC32 mismatch */
  CQL_RC_UNSUPPORTED = -6, /* unknown opcode/version/kind or value not representable */
  CQL_RC_COMPRESSION = -7, /* LZ4 failure */
  CQL_RC_NULL = -8,        /* value is NULL or unset where data was required */
} cql_rc;

const char *cql_rc_str(int rc);

/* A string view: `len` bytes at `ptr`. Views from cql_reader are not NUL-terminated;
 * strings inside decoded messages (cql_message) are NUL-terminated copies. */
typedef struct cql_str {
  const char *ptr;
  size_t len;
} cql_str;

#define CQL_STR(lit) ((cql_str){(lit), sizeof(lit) - 1})
cql_str cql_str_of(const char *s); /* s may be NULL -> {NULL, 0} */
bool cql_str_eq(cql_str a, const char *s);

/* [bytes] / [value] / [short bytes]. len >= 0: data; CQL_LEN_NULL: NULL; CQL_LEN_UNSET:
 * unset (only in [value]). A zero-initialised cql_value is an empty (non-NULL) value. */
#define CQL_LEN_NULL  (-1)
#define CQL_LEN_UNSET (-2)
typedef struct cql_value {
  const uint8_t *ptr;
  int32_t len;
} cql_value;

static inline cql_value cql_value_null(void) { return (cql_value){NULL, CQL_LEN_NULL}; }
static inline cql_value cql_value_unset(void) { return (cql_value){NULL, CQL_LEN_UNSET}; }
static inline cql_value cql_value_of(const void *p, int32_t len) {
  return (cql_value){(const uint8_t *)p, len};
}

/* [inet]: address of 4 or 16 bytes plus port. [inetaddr] (no port) uses port = 0. */
typedef struct cql_inet {
  uint8_t len; /* 4 or 16 */
  uint8_t addr[16];
  int32_t port;
} cql_inet;

typedef struct cql_str_pair {
  cql_str key, value;
} cql_str_pair;

typedef struct cql_multimap_entry {
  cql_str key;
  const cql_str *values;
  size_t n_values;
} cql_multimap_entry;

typedef struct cql_bytes_pair {
  cql_str key;
  cql_value value;
} cql_bytes_pair;

/* ---- arena ---- */
typedef struct cql_arena {
  struct cql_arena_block *head;
} cql_arena;

void cql_arena_init(cql_arena *a);
void cql_arena_free(cql_arena *a);
void *cql_arena_alloc(cql_arena *a, size_t size);                       /* zeroed, 16-aligned; NULL on OOM */
void *cql_arena_calloc(cql_arena *a, size_t n, size_t size);            /* NULL on OOM or overflow */
const char *cql_arena_strndup(cql_arena *a, const char *s, size_t len); /* NUL-terminated */
const uint8_t *cql_arena_memdup(cql_arena *a, const void *p, size_t len);

/* ---- reader ---- */
typedef struct cql_reader {
  const uint8_t *data;
  size_t len;
  size_t pos;
  bool err;
} cql_reader;

void cql_reader_init(cql_reader *r, const void *data, size_t len);
static inline bool cql_reader_ok(const cql_reader *r) { return !r->err; }
static inline size_t cql_reader_remaining(const cql_reader *r) { return r->err ? 0 : r->len - r->pos; }
void cql_reader_fail(cql_reader *r); /* mark as malformed (semantic errors found by a decoder) */

uint8_t cql_read_byte(cql_reader *r);
uint16_t cql_read_short(cql_reader *r); /* [short]: unsigned 16-bit */
int32_t cql_read_int(cql_reader *r);
int64_t cql_read_long(cql_reader *r);
const uint8_t *cql_read_raw(cql_reader *r, size_t n); /* view of the next n bytes, NULL on error */
void cql_read_skip(cql_reader *r, size_t n);
cql_str cql_read_string(cql_reader *r);      /* [string]: [short] n + n bytes */
cql_str cql_read_long_string(cql_reader *r); /* [long string]: [int] n + n bytes; n < 0 is an error */
cql_value cql_read_bytes(cql_reader *r);     /* [bytes]: n < 0 -> NULL; below -1 is an error */
cql_value cql_read_value(cql_reader *r);     /* [value]: also accepts -2 (unset) */
cql_value cql_read_short_bytes(cql_reader *r);
bool cql_read_uuid(cql_reader *r, uint8_t out[16]);
bool cql_read_inet(cql_reader *r, cql_inet *out);     /* [inet] */
bool cql_read_inetaddr(cql_reader *r, cql_inet *out); /* [inetaddr]: size byte + address */
uint16_t cql_read_consistency(cql_reader *r);

/* Collections are copied into the arena (NUL-terminated strings). Element counts are checked
 * against the remaining input before allocating, so hostile counts cannot exhaust memory. */
bool cql_read_string_list(cql_reader *r, cql_arena *a, const cql_str **out, size_t *n);
bool cql_read_string_map(cql_reader *r, cql_arena *a, const cql_str_pair **out, size_t *n);
bool cql_read_string_multimap(cql_reader *r, cql_arena *a, const cql_multimap_entry **out, size_t *n);
bool cql_read_bytes_map(cql_reader *r, cql_arena *a, const cql_bytes_pair **out, size_t *n);
/* Copies a reader view into the arena (NUL-terminated); sets the reader error on OOM. */
cql_str cql_arena_str(cql_arena *a, cql_reader *r, cql_str view);
cql_value cql_arena_value(cql_arena *a, cql_reader *r, cql_value view);

/* ---- writer ---- */
typedef struct cql_writer {
  uint8_t *data;
  size_t len;
  size_t cap;
  bool err;   /* sticky: something could not be written */
  bool nomem; /* ... because an allocation failed (else: a field was not encodable) */
} cql_writer;

void cql_writer_init(cql_writer *w);
void cql_writer_free(cql_writer *w);
void cql_writer_reset(cql_writer *w); /* len = 0, errors cleared, keeps capacity */
static inline bool cql_writer_ok(const cql_writer *w) { return !w->err; }
/* Hands the buffer to the caller (free() it); the writer is left empty. NULL if in error. */
uint8_t *cql_writer_steal(cql_writer *w, size_t *len);
/* Appends n uninitialised bytes and returns a pointer to them (valid until the next write),
 * or NULL (and sets the error) on failure. */
uint8_t *cql_writer_reserve(cql_writer *w, size_t n);

void cql_write_raw(cql_writer *w, const void *p, size_t n);
void cql_write_byte(cql_writer *w, uint8_t v);
void cql_write_short(cql_writer *w, uint16_t v);
void cql_write_int(cql_writer *w, int32_t v);
void cql_write_long(cql_writer *w, int64_t v);
void cql_write_string(cql_writer *w, cql_str s);      /* error if len > 65535 */
void cql_write_long_string(cql_writer *w, cql_str s); /* error if len > INT32_MAX */
void cql_write_bytes(cql_writer *w, cql_value v);     /* NULL and unset both write -1 */
void cql_write_value(cql_writer *w, cql_value v);     /* writes -1 / -2 for NULL / unset */
void cql_write_short_bytes(cql_writer *w, cql_value v);
void cql_write_uuid(cql_writer *w, const uint8_t uuid[16]);
void cql_write_inet(cql_writer *w, const cql_inet *in);
void cql_write_inetaddr(cql_writer *w, const cql_inet *in);
void cql_write_consistency(cql_writer *w, uint16_t c);
void cql_write_string_list(cql_writer *w, const cql_str *items, size_t n);
void cql_write_string_map(cql_writer *w, const cql_str_pair *items, size_t n);
void cql_write_string_multimap(cql_writer *w, const cql_multimap_entry *items, size_t n);
void cql_write_bytes_map(cql_writer *w, const cql_bytes_pair *items, size_t n);
/* Overwrites 4 bytes at pos (already written) with v, big-endian. */
void cql_writer_patch_int(cql_writer *w, size_t pos, int32_t v);

/* Big-endian helpers on raw memory. */
static inline uint16_t cql_load_u16(const uint8_t *p) { return (uint16_t)((unsigned)p[0] << 8 | p[1]); }
static inline uint32_t cql_load_u32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t cql_load_u64(const uint8_t *p) {
  return (uint64_t)cql_load_u32(p) << 32 | cql_load_u32(p + 4);
}
static inline void cql_store_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void cql_store_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static inline void cql_store_u64(uint8_t *p, uint64_t v) {
  cql_store_u32(p, (uint32_t)(v >> 32));
  cql_store_u32(p + 4, (uint32_t)v);
}

#endif
