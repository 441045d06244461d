/*
 * CRC-32C (Castagnoli), the checksum of RecordBatch v2.
 *
 * Two paths, chosen once at first use:
 * - x86-64 with SSE4.2: the crc32 instruction, 8 bytes per step. Its
 *   latency is three times its throughput, so long buffers are split into
 *   three streams computed side by side and joined with a precomputed
 *   "append n zero bytes" operator (a GF(2) linear map, applied as four
 *   byte-indexed tables).
 * - anywhere else: slicing-by-8 tables (kc_crc32c_sw).
 *
 * Both paths work on the raw CRC register (no pre/post inversion); the
 * public functions add the inversions so calls can be chained.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "kafkit/crc.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#endif

/* Reflected form of the Castagnoli polynomial 0x1EDC6F41. */
#define CRC32C_POLY 0x82F63B78u

typedef uint32_t (*crc_raw_fn)(uint32_t crc, const uint8_t *p, size_t n);

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static crc_raw_fn raw_impl;
static const char *impl_name;

/* sw_table[k][b]: register after feeding byte b then k zero bytes. */
static uint32_t sw_table[8][256];

static void sw_init(void)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t c = b;
		for (int i = 0; i < 8; i++)
			c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
		sw_table[0][b] = c;
	}
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t c = sw_table[0][b];
		for (int k = 1; k < 8; k++) {
			c = (c >> 8) ^ sw_table[0][c & 0xff];
			sw_table[k][b] = c;
		}
	}
}

static uint32_t sw_raw(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n && ((uintptr_t)p & 7)) {
		crc = (crc >> 8) ^ sw_table[0][(crc ^ *p++) & 0xff];
		n--;
	}
	while (n >= 8) {
		/* Byte-wise little-endian assembly keeps this right on any
		 * host; compilers fuse it into one load on x86 and arm. */
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
				     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
			      (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
		crc = sw_table[7][lo & 0xff] ^ sw_table[6][(lo >> 8) & 0xff] ^
		      sw_table[5][(lo >> 16) & 0xff] ^ sw_table[4][lo >> 24] ^
		      sw_table[3][hi & 0xff] ^ sw_table[2][(hi >> 8) & 0xff] ^
		      sw_table[1][(hi >> 16) & 0xff] ^ sw_table[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ sw_table[0][(crc ^ *p++) & 0xff];
	return crc;
}

#if defined(__x86_64__)

/* Stream lengths of the three-way split. LONG amortises the join over
 * 24 KiB; SHORT picks up what is left of shorter buffers. */
#define HW_LONG 8192
#define HW_SHORT 256

/* hw_shift_*[k][b]: byte b placed at byte k of the register, advanced
 * over LONG (resp. SHORT) zero bytes. */
static uint32_t hw_shift_long[4][256];
static uint32_t hw_shift_short[4][256];

/* Advance a register over `len` zero bytes, using the table path (only
 * used while building the shift tables, which sw_init precedes). */
static uint32_t zeros_slow(uint32_t crc, size_t len)
{
	static const uint8_t zero[256];
	while (len) {
		size_t k = len < sizeof zero ? len : sizeof zero;
		crc = sw_raw(crc, zero, k);
		len -= k;
	}
	return crc;
}

/* The zero-append operator is linear over GF(2): find the image of each
 * of the 32 register bits, then combine them for every byte value. */
static void shift_table_init(uint32_t table[4][256], size_t len)
{
	uint32_t bit_image[32];
	for (int i = 0; i < 32; i++)
		bit_image[i] = zeros_slow(1u << i, len);
	for (int k = 0; k < 4; k++)
		for (uint32_t b = 0; b < 256; b++) {
			uint32_t v = 0;
			for (int j = 0; j < 8; j++)
				if (b & (1u << j))
					v ^= bit_image[8 * k + j];
			table[k][b] = v;
		}
}

static inline uint32_t shift(uint32_t table[4][256], uint32_t crc)
{
	return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^
	       table[2][(crc >> 16) & 0xff] ^ table[3][crc >> 24];
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* Three streams of `len` bytes each (len a multiple of 8), as many
 * times as they fit. */
__attribute__((target("sse4.2"))) static inline uint64_t
hw_triple(uint64_t crc, const uint8_t **pp, size_t *np, size_t len,
	  uint32_t table[4][256])
{
	const uint8_t *p = *pp;
	size_t n = *np;
	while (n >= 3 * len) {
		uint64_t c1 = 0, c2 = 0;
		const uint8_t *end = p + len;
		do {
			crc = _mm_crc32_u64(crc, load64(p));
			c1 = _mm_crc32_u64(c1, load64(p + len));
			c2 = _mm_crc32_u64(c2, load64(p + 2 * len));
			p += 8;
		} while (p < end);
		crc = shift(table, (uint32_t)crc) ^ (uint32_t)c1;
		crc = shift(table, (uint32_t)crc) ^ (uint32_t)c2;
		p += 2 * len;
		n -= 3 * len;
	}
	*pp = p;
	*np = n;
	return crc;
}

__attribute__((target("sse4.2"))) static uint32_t
hw_raw(uint32_t crc32, const uint8_t *p, size_t n)
{
	uint64_t crc = crc32;
	while (n && ((uintptr_t)p & 7)) {
		crc = _mm_crc32_u8((uint32_t)crc, *p++);
		n--;
	}
	crc = hw_triple(crc, &p, &n, HW_LONG, hw_shift_long);
	crc = hw_triple(crc, &p, &n, HW_SHORT, hw_shift_short);
	while (n >= 8) {
		crc = _mm_crc32_u64(crc, load64(p));
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = _mm_crc32_u8((uint32_t)crc, *p++);
	return (uint32_t)crc;
}

static int cpu_has_sse42(void)
{
	unsigned eax, ebx, ecx, edx;
	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return 0;
	return (ecx & bit_SSE4_2) != 0;
}

#endif /* __x86_64__ */

static void crc32c_init(void)
{
	sw_init();
	raw_impl = sw_raw;
	impl_name = "table";
#if defined(__x86_64__)
	if (cpu_has_sse42()) {
		shift_table_init(hw_shift_long, HW_LONG);
		shift_table_init(hw_shift_short, HW_SHORT);
		raw_impl = hw_raw;
		impl_name = "sse4.2";
	}
#endif
}

uint32_t kc_crc32c(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&init_once, crc32c_init);
	return ~raw_impl(~crc, p, n);
}

uint32_t kc_crc32c_sw(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&init_once, crc32c_init);
	return ~sw_raw(~crc, p, n);
}

const char *kc_crc32c_impl(void)
{
	pthread_once(&init_once, crc32c_init);
	return impl_name;
}
