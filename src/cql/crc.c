#include "cql/crc.h"

#include <zlib.h>

#define CRC24_INIT 0x875060u
#define CRC24_POLY 0x1974F0Bu

uint32_t cql_crc24(const uint8_t *data, size_t len) {
  uint32_t crc = CRC24_INIT;
  for (size_t i = 0; i < len; i++) {
    crc ^= (uint32_t)data[i] << 16;
    for (int bit = 0; bit < 8; bit++) {
      crc <<= 1;
      if (crc & 0x1000000u) crc ^= CRC24_POLY;
    }
  }
  return crc & 0xFFFFFFu;
}

uint32_t cql_crc32(const uint8_t *data, size_t len) {
  static const Bytef prime[4] = {0xFA, 0x2D, 0x55, 0xCA};
  uLong crc = crc32(0L, prime, sizeof(prime));
  while (len > 0) { /* zlib takes uInt lengths */
    uInt chunk = len > 0x40000000u ? 0x40000000u : (uInt)len;
    crc = crc32(crc, data, chunk);
    data += chunk;
    len -= chunk;
  }
  return (uint32_t)crc;
}
