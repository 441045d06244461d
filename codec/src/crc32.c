/*
 * CRC-32 (IEEE 802.3), the checksum of legacy messages (magic 0 and 1),
 * taken from zlib, whose table code is already fast and shared with gzip.
 */
#include <limits.h>

#include <zlib.h>

#include "kafkit/crc.h"

uint32_t kc_crc32(uint32_t crc, const void *p, size_t n)
{
	const Bytef *b = p;
	uLong c = crc;
	/* zlib answers its initial value (0) for a NULL buffer. */
	if (n == 0)
		return crc;
	/* zlib's crc32() takes a uInt length: feed larger buffers in
	 * pieces (the CRC continues across calls). */
	while (n > UINT_MAX) {
		c = crc32(c, b, UINT_MAX);
		b += UINT_MAX;
		n -= UINT_MAX;
	}
	return (uint32_t)crc32(c, b, (uInt)n);
}
