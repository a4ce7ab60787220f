#include "cql/murmur3.h"

#include <stdbool.h>

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

static inline uint64_t load_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* Java's byte is signed: tail bytes are sign-extended before shifting (Cassandra's
 * MurmurHash.hash3_x64_128 quirk that every driver reproduces). */
static inline uint64_t sbyte(uint8_t b) { return (uint64_t)(int64_t)(int8_t)b; }

int64_t cql_murmur3_token(const void *key, size_t len) {
  const uint8_t *data = key;
  const size_t nblocks = len / 16;
  const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
  uint64_t h1 = 0, h2 = 0;

  for (size_t i = 0; i < nblocks; i++) {
    uint64_t k1 = load_le64(data + i * 16), k2 = load_le64(data + i * 16 + 8);
    k1 *= c1;
    k1 = rotl64(k1, 31);
    k1 *= c2;
    h1 ^= k1;
    h1 = rotl64(h1, 27);
    h1 += h2;
    h1 = h1 * 5 + 0x52dce729;
    k2 *= c2;
    k2 = rotl64(k2, 33);
    k2 *= c1;
    h2 ^= k2;
    h2 = rotl64(h2, 31);
    h2 += h1;
    h2 = h2 * 5 + 0x38495ab5;
  }

  const uint8_t *tail = len ? data + nblocks * 16 : data; /* no offset on a NULL key */
  uint64_t k1 = 0, k2 = 0;
  switch (len & 15) {
  case 15:
    k2 ^= sbyte(tail[14]) << 48; /* fall through */
  case 14:
    k2 ^= sbyte(tail[13]) << 40; /* fall through */
  case 13:
    k2 ^= sbyte(tail[12]) << 32; /* fall through */
  case 12:
    k2 ^= sbyte(tail[11]) << 24; /* fall through */
  case 11:
    k2 ^= sbyte(tail[10]) << 16; /* fall through */
  case 10:
    k2 ^= sbyte(tail[9]) << 8; /* fall through */
  case 9:
    k2 ^= sbyte(tail[8]);
    k2 *= c2;
    k2 = rotl64(k2, 33);
    k2 *= c1;
    h2 ^= k2;
    /* fall through */
  case 8:
    k1 ^= sbyte(tail[7]) << 56; /* fall through */
  case 7:
    k1 ^= sbyte(tail[6]) << 48; /* fall through */
  case 6:
    k1 ^= sbyte(tail[5]) << 40; /* fall through */
  case 5:
    k1 ^= sbyte(tail[4]) << 32; /* fall through */
  case 4:
    k1 ^= sbyte(tail[3]) << 24; /* fall through */
  case 3:
    k1 ^= sbyte(tail[2]) << 16; /* fall through */
  case 2:
    k1 ^= sbyte(tail[1]) << 8; /* fall through */
  case 1:
    k1 ^= sbyte(tail[0]);
    k1 *= c1;
    k1 = rotl64(k1, 31);
    k1 *= c2;
    h1 ^= k1;
    break;
  default:
    break;
  }

  h1 ^= (uint64_t)len;
  h2 ^= (uint64_t)len;
  h1 += h2;
  h2 += h1;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 += h2;

  int64_t token = (int64_t)h1;
  return token == INT64_MIN ? INT64_MAX : token;
}

/* Appends one routing-key component; composite components get [u16 len][bytes][0]. */
static int write_component(cql_writer *w, cql_value v, bool composite) {
  if (v.len < 0) return CQL_RC_NULL;
  if (composite) {
    if (v.len > UINT16_MAX) return CQL_RC_TOO_LARGE;
    cql_write_short(w, (uint16_t)v.len);
  }
  cql_write_raw(w, v.ptr, (size_t)v.len);
  if (composite) cql_write_byte(w, 0);
  return cql_writer_ok(w) ? CQL_OK : CQL_RC_NOMEM;
}

int cql_routing_key(cql_writer *w, const cql_value *components, size_t n) {
  if (n == 0) return CQL_RC_UNSUPPORTED;
  for (size_t i = 0; i < n; i++) {
    int rc = write_component(w, components[i], n > 1);
    if (rc != CQL_OK) return rc;
  }
  return CQL_OK;
}

int cql_token_for_values(const uint16_t *pk_indexes, size_t n_pk, const cql_value *values, size_t n_values,
                         int64_t *token) {
  if (n_pk == 0) return CQL_RC_UNSUPPORTED;
  for (size_t i = 0; i < n_pk; i++)
    if (pk_indexes[i] >= n_values) return CQL_RC_UNSUPPORTED;
  if (n_pk == 1) { /* the common case needs no buffer */
    cql_value v = values[pk_indexes[0]];
    if (v.len < 0) return CQL_RC_NULL;
    *token = cql_murmur3_token(v.ptr, (size_t)v.len);
    return CQL_OK;
  }
  cql_writer w;
  cql_writer_init(&w);
  int rc = CQL_OK;
  for (size_t i = 0; i < n_pk && rc == CQL_OK; i++) rc = write_component(&w, values[pk_indexes[i]], true);
  if (rc == CQL_OK) *token = cql_murmur3_token(w.data, w.len);
  cql_writer_free(&w);
  return rc;
}
