/* cql/crc: checksums of the v5 outer framing (native_protocol_v5 §2).
 *
 * CRC24: init 0x875060, polynomial 0x1974F0B, bytes fed MSB-first (Cassandra's Crc.java).
 * CRC32: zlib's IEEE CRC32 primed with the bytes FA 2D 55 CA. Pure functions, no state. */
#ifndef MESSENGER_CQL_CRC_H
#define MESSENGER_CQL_CRC_H

#include <stddef.h>
#include <stdint.h>

uint32_t cql_crc24(const uint8_t *data, size_t len); /* result in the low 24 bits */
uint32_t cql_crc32(const uint8_t *data, size_t len);

#endif
