/* crc32c: the CRC-32C (Castagnoli) checksum that frames journal and snapshot records.
 *
 * Debian ships no library for CRC-32C, and zlib's crc32 is the other polynomial; this is
 * the standard reflected table method (polynomial 0x82F63B78), checked against the
 * RFC 3720 test vectors in tests/unit/test_crc32c.c. */
#ifndef HOOKGATE_CRC32C_H
#define HOOKGATE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32C of len bytes, continuing from crc (start with 0). */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len);

#endif
