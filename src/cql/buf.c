#include "cql/buf.h"

#include <stdlib.h>
#include <string.h>

const char *cql_rc_str(int rc) {
  switch (rc) {
  case CQL_OK:
    return "ok";
  case CQL_RC_TRUNCATED:
    return "truncated input";
  case CQL_RC_MALFORMED:
    return "malformed protocol data";
  case CQL_RC_NOMEM:
    return "out of memory";
  case CQL_RC_TOO_LARGE:
    return "length above limit";
  case CQL_RC_CHECKSUM:
    return "checksum mismatch";
  case CQL_RC_UNSUPPORTED:
    return "unsupported";
  case CQL_RC_COMPRESSION:
    return "compression failure";
  case CQL_RC_NULL:
    return "null or unset value";
  default:
    return "unknown error";
  }
}

cql_str cql_str_of(const char *s) { return (cql_str){s, s ? strlen(s) : 0}; }

bool cql_str_eq(cql_str a, const char *s) {
  size_t n = strlen(s);
  return a.len == n && (n == 0 || memcmp(a.ptr, s, n) == 0);
}

/* ---- arena ---- */

struct cql_arena_block {
  struct cql_arena_block *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

#define ARENA_BLOCK_MIN 4096

void cql_arena_init(cql_arena *a) { a->head = NULL; }

void cql_arena_free(cql_arena *a) {
  struct cql_arena_block *b = a->head;
  while (b) {
    struct cql_arena_block *next = b->next;
    free(b);
    b = next;
  }
  a->head = NULL;
}

void *cql_arena_alloc(cql_arena *a, size_t size) {
  if (size > SIZE_MAX - 15 - sizeof(struct cql_arena_block)) return NULL;
  size_t need = (size + 15) & ~(size_t)15;
  struct cql_arena_block *b = a->head;
  if (!b || b->cap - b->used < need) {
    size_t cap = need > ARENA_BLOCK_MIN ? need : ARENA_BLOCK_MIN;
    b = malloc(sizeof(*b) + cap);
    if (!b) return NULL;
    b->cap = cap;
    b->used = 0;
    if (a->head && need > ARENA_BLOCK_MIN) {
      /* Keep the current block for small allocations: insert the big one behind it. */
      b->next = a->head->next;
      a->head->next = b;
    } else {
      b->next = a->head;
      a->head = b;
    }
  }
  void *p = b->data + b->used;
  b->used += need;
  memset(p, 0, size);
  return p;
}

void *cql_arena_calloc(cql_arena *a, size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) return NULL;
  return cql_arena_alloc(a, n * size);
}

const char *cql_arena_strndup(cql_arena *a, const char *s, size_t len) {
  if (len == SIZE_MAX) return NULL;
  char *p = cql_arena_alloc(a, len + 1);
  if (p && len) memcpy(p, s, len);
  return p;
}

const uint8_t *cql_arena_memdup(cql_arena *a, const void *p, size_t len) {
  uint8_t *d = cql_arena_alloc(a, len ? len : 1);
  if (d && len) memcpy(d, p, len);
  return d;
}

cql_str cql_arena_str(cql_arena *a, cql_reader *r, cql_str view) {
  if (r->err) return (cql_str){"", 0};
  const char *p = cql_arena_strndup(a, view.ptr, view.len);
  if (!p) {
    r->err = true;
    return (cql_str){"", 0};
  }
  return (cql_str){p, view.len};
}

cql_value cql_arena_value(cql_arena *a, cql_reader *r, cql_value view) {
  if (r->err || view.len < 0) return (cql_value){NULL, view.len < 0 ? view.len : CQL_LEN_NULL};
  if (view.len == 0) return cql_value_of("", 0); /* never point into the input */
  const uint8_t *p = cql_arena_memdup(a, view.ptr, (size_t)view.len);
  if (!p) {
    r->err = true;
    return cql_value_null();
  }
  return cql_value_of(p, view.len);
}

/* ---- reader ---- */

void cql_reader_init(cql_reader *r, const void *data, size_t len) {
  r->data = data;
  r->len = data ? len : 0;
  r->pos = 0;
  r->err = false;
}

void cql_reader_fail(cql_reader *r) { r->err = true; }

const uint8_t *cql_read_raw(cql_reader *r, size_t n) {
  if (r->err || r->len - r->pos < n) {
    r->err = true;
    return NULL;
  }
  const uint8_t *p = r->data + r->pos;
  r->pos += n;
  return p;
}

void cql_read_skip(cql_reader *r, size_t n) { (void)cql_read_raw(r, n); }

uint8_t cql_read_byte(cql_reader *r) {
  const uint8_t *p = cql_read_raw(r, 1);
  return p ? p[0] : 0;
}

uint16_t cql_read_short(cql_reader *r) {
  const uint8_t *p = cql_read_raw(r, 2);
  return p ? cql_load_u16(p) : 0;
}

int32_t cql_read_int(cql_reader *r) {
  const uint8_t *p = cql_read_raw(r, 4);
  return p ? (int32_t)cql_load_u32(p) : 0;
}

int64_t cql_read_long(cql_reader *r) {
  const uint8_t *p = cql_read_raw(r, 8);
  return p ? (int64_t)cql_load_u64(p) : 0;
}

cql_str cql_read_string(cql_reader *r) {
  uint16_t n = cql_read_short(r);
  const uint8_t *p = cql_read_raw(r, n);
  return p ? (cql_str){(const char *)p, n} : (cql_str){"", 0};
}

cql_str cql_read_long_string(cql_reader *r) {
  int32_t n = cql_read_int(r);
  if (n < 0) {
    r->err = true;
    return (cql_str){"", 0};
  }
  const uint8_t *p = cql_read_raw(r, (size_t)n);
  return p ? (cql_str){(const char *)p, (size_t)n} : (cql_str){"", 0};
}

/* [bytes]/[value] with the lowest accepted negative length. */
static cql_value read_sized(cql_reader *r, int32_t min_len) {
  int32_t n = cql_read_int(r);
  if (r->err || n < min_len) {
    r->err = true;
    return cql_value_null();
  }
  if (n < 0) return (cql_value){NULL, n};
  const uint8_t *p = cql_read_raw(r, (size_t)n);
  return p ? cql_value_of(p, n) : cql_value_null();
}

cql_value cql_read_bytes(cql_reader *r) { return read_sized(r, CQL_LEN_NULL); }
cql_value cql_read_value(cql_reader *r) { return read_sized(r, CQL_LEN_UNSET); }

cql_value cql_read_short_bytes(cql_reader *r) {
  uint16_t n = cql_read_short(r);
  const uint8_t *p = cql_read_raw(r, n);
  return p ? cql_value_of(p, n) : cql_value_null();
}

bool cql_read_uuid(cql_reader *r, uint8_t out[16]) {
  const uint8_t *p = cql_read_raw(r, 16);
  if (!p) return false;
  memcpy(out, p, 16);
  return true;
}

bool cql_read_inetaddr(cql_reader *r, cql_inet *out) {
  memset(out, 0, sizeof(*out));
  uint8_t n = cql_read_byte(r);
  if (r->err || (n != 4 && n != 16)) {
    r->err = true;
    return false;
  }
  const uint8_t *p = cql_read_raw(r, n);
  if (!p) return false;
  out->len = n;
  memcpy(out->addr, p, n);
  return true;
}

bool cql_read_inet(cql_reader *r, cql_inet *out) {
  if (!cql_read_inetaddr(r, out)) return false;
  out->port = cql_read_int(r);
  return !r->err;
}

uint16_t cql_read_consistency(cql_reader *r) { return cql_read_short(r); }

/* Reads a [short] element count, rejecting counts that cannot fit in the remaining input
 * with at least min_elem bytes per element, and allocates the array. */
static void *read_array(cql_reader *r, cql_arena *a, size_t min_elem, size_t elem_size, size_t *n) {
  *n = cql_read_short(r);
  if (r->err || *n > cql_reader_remaining(r) / min_elem) {
    r->err = true;
    return NULL;
  }
  void *arr = cql_arena_calloc(a, *n ? *n : 1, elem_size);
  if (!arr) r->err = true;
  return arr;
}

bool cql_read_string_list(cql_reader *r, cql_arena *a, const cql_str **out, size_t *n) {
  cql_str *items = read_array(r, a, 2, sizeof(*items), n);
  for (size_t i = 0; items && i < *n && !r->err; i++) items[i] = cql_arena_str(a, r, cql_read_string(r));
  *out = items;
  if (r->err) *n = 0;
  return !r->err;
}

bool cql_read_string_map(cql_reader *r, cql_arena *a, const cql_str_pair **out, size_t *n) {
  cql_str_pair *items = read_array(r, a, 4, sizeof(*items), n);
  for (size_t i = 0; items && i < *n && !r->err; i++) {
    items[i].key = cql_arena_str(a, r, cql_read_string(r));
    items[i].value = cql_arena_str(a, r, cql_read_string(r));
  }
  *out = items;
  if (r->err) *n = 0;
  return !r->err;
}

bool cql_read_string_multimap(cql_reader *r, cql_arena *a, const cql_multimap_entry **out, size_t *n) {
  cql_multimap_entry *items = read_array(r, a, 4, sizeof(*items), n);
  for (size_t i = 0; items && i < *n && !r->err; i++) {
    items[i].key = cql_arena_str(a, r, cql_read_string(r));
    cql_read_string_list(r, a, &items[i].values, &items[i].n_values);
  }
  *out = items;
  if (r->err) *n = 0;
  return !r->err;
}

bool cql_read_bytes_map(cql_reader *r, cql_arena *a, const cql_bytes_pair **out, size_t *n) {
  cql_bytes_pair *items = read_array(r, a, 6, sizeof(*items), n);
  for (size_t i = 0; items && i < *n && !r->err; i++) {
    items[i].key = cql_arena_str(a, r, cql_read_string(r));
    items[i].value = cql_arena_value(a, r, cql_read_bytes(r));
  }
  *out = items;
  if (r->err) *n = 0;
  return !r->err;
}

/* ---- writer ---- */

void cql_writer_init(cql_writer *w) { *w = (cql_writer){0}; }

void cql_writer_free(cql_writer *w) {
  free(w->data);
  *w = (cql_writer){0};
}

void cql_writer_reset(cql_writer *w) {
  w->len = 0;
  w->err = w->nomem = false;
}

uint8_t *cql_writer_steal(cql_writer *w, size_t *len) {
  if (w->err) {
    cql_writer_free(w);
    *len = 0;
    return NULL;
  }
  uint8_t *p = w->data;
  *len = w->len;
  *w = (cql_writer){0};
  return p;
}

uint8_t *cql_writer_reserve(cql_writer *w, size_t n) {
  if (w->err) return NULL;
  if (n > SIZE_MAX / 2 - w->len) {
    w->err = w->nomem = true;
    return NULL;
  }
  if (w->cap - w->len < n) {
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < n) cap *= 2;
    uint8_t *d = realloc(w->data, cap);
    if (!d) {
      w->err = w->nomem = true;
      return NULL;
    }
    w->data = d;
    w->cap = cap;
  }
  uint8_t *p = w->data + w->len;
  w->len += n;
  return p;
}

void cql_write_raw(cql_writer *w, const void *p, size_t n) {
  if (n == 0) return; /* nothing to reserve: an empty writer has no buffer to point into */
  uint8_t *d = cql_writer_reserve(w, n);
  if (d) memcpy(d, p, n);
}

void cql_write_byte(cql_writer *w, uint8_t v) {
  uint8_t *d = cql_writer_reserve(w, 1);
  if (d) d[0] = v;
}

void cql_write_short(cql_writer *w, uint16_t v) {
  uint8_t *d = cql_writer_reserve(w, 2);
  if (d) cql_store_u16(d, v);
}

void cql_write_int(cql_writer *w, int32_t v) {
  uint8_t *d = cql_writer_reserve(w, 4);
  if (d) cql_store_u32(d, (uint32_t)v);
}

void cql_write_long(cql_writer *w, int64_t v) {
  uint8_t *d = cql_writer_reserve(w, 8);
  if (d) cql_store_u64(d, (uint64_t)v);
}

void cql_write_string(cql_writer *w, cql_str s) {
  if (s.len > UINT16_MAX) {
    w->err = true;
    return;
  }
  cql_write_short(w, (uint16_t)s.len);
  cql_write_raw(w, s.ptr, s.len);
}

void cql_write_long_string(cql_writer *w, cql_str s) {
  if (s.len > INT32_MAX) {
    w->err = true;
    return;
  }
  cql_write_int(w, (int32_t)s.len);
  cql_write_raw(w, s.ptr, s.len);
}

void cql_write_value(cql_writer *w, cql_value v) {
  if (v.len < CQL_LEN_UNSET) {
    w->err = true;
    return;
  }
  cql_write_int(w, v.len);
  if (v.len > 0) cql_write_raw(w, v.ptr, (size_t)v.len);
}

void cql_write_bytes(cql_writer *w, cql_value v) {
  if (v.len < 0) v = cql_value_null();
  cql_write_value(w, v);
}

void cql_write_short_bytes(cql_writer *w, cql_value v) {
  if (v.len < 0 || v.len > UINT16_MAX) {
    w->err = true;
    return;
  }
  cql_write_short(w, (uint16_t)v.len);
  cql_write_raw(w, v.ptr, (size_t)v.len);
}

void cql_write_uuid(cql_writer *w, const uint8_t uuid[16]) { cql_write_raw(w, uuid, 16); }

void cql_write_inetaddr(cql_writer *w, const cql_inet *in) {
  if (in->len != 4 && in->len != 16) {
    w->err = true;
    return;
  }
  cql_write_byte(w, in->len);
  cql_write_raw(w, in->addr, in->len);
}

void cql_write_inet(cql_writer *w, const cql_inet *in) {
  cql_write_inetaddr(w, in);
  cql_write_int(w, in->port);
}

void cql_write_consistency(cql_writer *w, uint16_t c) { cql_write_short(w, c); }

static bool write_count(cql_writer *w, size_t n) {
  if (n > UINT16_MAX) {
    w->err = true;
    return false;
  }
  cql_write_short(w, (uint16_t)n);
  return true;
}

void cql_write_string_list(cql_writer *w, const cql_str *items, size_t n) {
  if (!write_count(w, n)) return;
  for (size_t i = 0; i < n; i++) cql_write_string(w, items[i]);
}

void cql_write_string_map(cql_writer *w, const cql_str_pair *items, size_t n) {
  if (!write_count(w, n)) return;
  for (size_t i = 0; i < n; i++) {
    cql_write_string(w, items[i].key);
    cql_write_string(w, items[i].value);
  }
}

void cql_write_string_multimap(cql_writer *w, const cql_multimap_entry *items, size_t n) {
  if (!write_count(w, n)) return;
  for (size_t i = 0; i < n; i++) {
    cql_write_string(w, items[i].key);
    cql_write_string_list(w, items[i].values, items[i].n_values);
  }
}

void cql_write_bytes_map(cql_writer *w, const cql_bytes_pair *items, size_t n) {
  if (!write_count(w, n)) return;
  for (size_t i = 0; i < n; i++) {
    cql_write_string(w, items[i].key);
    cql_write_bytes(w, items[i].value);
  }
}

void cql_writer_patch_int(cql_writer *w, size_t pos, int32_t v) {
  if (w->err) return;
  if (pos > w->len || w->len - pos < 4) {
    w->err = true;
    return;
  }
  cql_store_u32(w->data + pos, (uint32_t)v);
}
