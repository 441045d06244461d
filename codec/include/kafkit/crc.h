/*
 * kafkit codec: checksums.
 *
 * CRC-32C (Castagnoli; RecordBatch v2) uses SSE4.2's crc32 instruction when
 * the CPU has it (checked once, at first use) and a slicing-by-8 table
 * otherwise. CRC-32 (IEEE 802.3; MessageSet v0/v1) comes from zlib.
 * All functions are thread-safe.
 */
#ifndef KAFKIT_CRC_H
#define KAFKIT_CRC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CRC-32C of n bytes continuing from `crc` (0 to start):
 * kc_crc32c(kc_crc32c(0, a, na), b, nb) == CRC-32C of a||b. */
uint32_t kc_crc32c(uint32_t crc, const void *p, size_t n);
/* The portable table path, whatever the CPU (for tests and benchmarks). */
uint32_t kc_crc32c_sw(uint32_t crc, const void *p, size_t n);
/* Name of the path kc_crc32c() uses: "sse4.2" or "table". */
const char *kc_crc32c_impl(void);
/* CRC-32 (IEEE) of n bytes continuing from `crc` (0 to start). */
uint32_t kc_crc32(uint32_t crc, const void *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
