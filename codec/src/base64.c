/* Base64 for the JSON writer (see base64_int.h). */
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "base64_int.h"

/* Pairs of base64 digits for every 12-bit value of an alphabet, so the
 * hot loop turns 3 bytes into 4 digits with two table loads. Built on
 * first use (std and url alphabets differ only in the last two digits). */
typedef struct b64_pairs {
	char d[4096][2];
} b64_pairs;

static const b64_pairs *b64_table(const char *alpha, b64_pairs *t,
				  atomic_int *ready)
{
	if (!atomic_load_explicit(ready, memory_order_acquire)) {
		/* Idempotent: racing threads write the same bytes. */
		for (unsigned v = 0; v < 4096; v++) {
			t->d[v][0] = alpha[v >> 6];
			t->d[v][1] = alpha[v & 63];
		}
		atomic_store_explicit(ready, 1, memory_order_release);
	}
	return t;
}

#if defined(__x86_64__)
/* Standard-alphabet base64 with vector instructions (SSSE3, AVX2 when the
 * CPU has it), after Mula and Lemire. Spread: each 3-byte group is
 * shuffled into a 32-bit lane as bytes b1 b0 b2 b1, whose four 6-bit
 * fields two multiplies move into one byte each (a and c, at bits 10-15
 * and 22-27, down to bytes 0 and 2; b and d, at bits 4-9 and 16-21, up to
 * bytes 1 and 3). Translate: the field's range (A-Z, a-z, 0-9, +, /)
 * picks the offset to add from a 16-entry table with one shuffle. */

/* Sixteen digits of the twelve bytes in lanes 0-11 of in. */
__attribute__((target("ssse3"))) static inline __m128i enc12(__m128i in)
{
	const __m128i spread = _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8,
					     7, 10, 9, 11, 10);
	const __m128i offsets = _mm_setr_epi8(
		'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
		'0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62,
		'/' - 63, 'A', 0, 0);
	in = _mm_shuffle_epi8(in, spread);
	__m128i ac = _mm_mulhi_epu16(_mm_and_si128(in, _mm_set1_epi32(0x0fc0fc00)),
				     _mm_set1_epi32(0x04000040));
	__m128i bd = _mm_mullo_epi16(_mm_and_si128(in, _mm_set1_epi32(0x003f03f0)),
				     _mm_set1_epi32(0x01000010));
	__m128i idx = _mm_or_si128(ac, bd);
	/* 0..25 -> 13, 26..51 -> 0, 52..63 -> 1..12 */
	__m128i sel = _mm_subs_epu8(idx, _mm_set1_epi8(51));
	__m128i upper = _mm_cmpgt_epi8(_mm_set1_epi8(26), idx);
	sel = _mm_or_si128(sel, _mm_and_si128(upper, _mm_set1_epi8(13)));
	return _mm_add_epi8(idx, _mm_shuffle_epi8(offsets, sel));
}

/* Base64 of s[0..i) into o, twelve bytes per step (the last step loads
 * the sixteen bytes ending at s + n, or a copy of a shorter input, so no
 * load passes s + n); returns i, the largest multiple of 12 <= n. */
__attribute__((target("ssse3"))) static size_t b64_ssse3(const uint8_t *s,
							  size_t n, char *o)
{
	size_t i = 0;
	for (; i + 16 <= n; i += 12, o += 16)
		_mm_storeu_si128((__m128i *)(void *)o,
				 enc12(_mm_loadu_si128((const __m128i *)(const void *)(s + i))));
	if (n - i >= 12) {
		__m128i in;
		if (n >= 16) {
			/* the sixteen bytes ending at s + n, moved down so s[i]
			 * is lane 0 (lanes 12-15 are not used) */
			in = _mm_loadu_si128((const __m128i *)(const void *)(s + n - 16));
			in = _mm_shuffle_epi8(
				in, _mm_add_epi8(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8,
							       9, 10, 11, 12, 13, 14, 15),
						 _mm_set1_epi8((char)(16 - (n - i)))));
		} else {
			uint8_t last[16] = {0};
			memcpy(last, s + i, n - i);
			in = _mm_loadu_si128((const __m128i *)(const void *)last);
		}
		_mm_storeu_si128((__m128i *)(void *)o, enc12(in));
		i += 12;
	}
	return i;
}

/* As b64_ssse3 for the first i bytes, twenty-four per step: the 32-byte
 * load starts four bytes early so each 128-bit lane holds one group of
 * twelve. Precondition: n >= 16. Returns i, a multiple of 12. */
__attribute__((target("avx2"))) static size_t b64_avx2(const uint8_t *s,
							size_t n, char *o)
{
	const __m256i spread = _mm256_setr_epi8(
		5, 4, 6, 5, 8, 7, 9, 8, 11, 10, 12, 11, 14, 13, 15, 14,
		1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
	const __m256i offsets = _mm256_setr_epi8(
		'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
		'0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62,
		'/' - 63, 'A', 0, 0,
		'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
		'0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62,
		'/' - 63, 'A', 0, 0);
	_mm_storeu_si128((__m128i *)(void *)o,
			 enc12(_mm_loadu_si128((const __m128i *)(const void *)s)));
	size_t i = 12;
	o += 16;
	for (; i + 28 <= n; i += 24, o += 32) {
		__m256i in = _mm256_loadu_si256(
			(const __m256i *)(const void *)(s + i - 4));
		in = _mm256_shuffle_epi8(in, spread);
		__m256i ac = _mm256_mulhi_epu16(
			_mm256_and_si256(in, _mm256_set1_epi32(0x0fc0fc00)),
			_mm256_set1_epi32(0x04000040));
		__m256i bd = _mm256_mullo_epi16(
			_mm256_and_si256(in, _mm256_set1_epi32(0x003f03f0)),
			_mm256_set1_epi32(0x01000010));
		__m256i idx = _mm256_or_si256(ac, bd);
		__m256i sel = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
		__m256i upper = _mm256_cmpgt_epi8(_mm256_set1_epi8(26), idx);
		sel = _mm256_or_si256(sel,
				      _mm256_and_si256(upper, _mm256_set1_epi8(13)));
		_mm256_storeu_si256((__m256i *)(void *)o,
				    _mm256_add_epi8(idx, _mm256_shuffle_epi8(offsets, sel)));
	}
	return i;
}

/* 0 not known yet, 1 neither, 2 SSSE3, 3 AVX2 too. */
static atomic_int simd_level;

static int simd(void)
{
	int st = atomic_load_explicit(&simd_level, memory_order_relaxed);
	if (!st) {
		__builtin_cpu_init();
		st = __builtin_cpu_supports("avx2")    ? 3
		     : __builtin_cpu_supports("ssse3") ? 2
						       : 1;
		atomic_store_explicit(&simd_level, st, memory_order_relaxed);
	}
	return st;
}
#endif

/* Base64 of s[0..n) in alpha (std: the vector path applies) at o, which
 * has room for (n + 2) / 3 * 4 bytes; returns the end. */
static char *b64(char *o, const uint8_t *s, size_t n, const char *alpha,
		 const b64_pairs *pairs, bool pad, bool std)
{
	size_t i = 0;
#if defined(__x86_64__)
	int level = std && n >= 12 ? simd() : 0;
	if (level == 3 && n >= 40) {
		i = b64_avx2(s, n, o);
		o += i / 3 * 4;
	}
	if (level >= 2) {
		size_t k = b64_ssse3(s + i, n - i, o);
		i += k;
		o += k / 3 * 4;
	}
#else
	(void)std;
#endif
	/* Six bytes per step from one 8-byte load (two bytes of slack past
	 * them, hence the bound): four table loads, one 8-byte store. */
	for (; i + 8 <= n; i += 6, o += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		w = __builtin_bswap64(w);
		uint32_t hi = (uint32_t)(w >> 40), lo = (uint32_t)(w >> 16) & 0xffffff;
		char out[8];
		memcpy(out, pairs->d[hi >> 12], 2);
		memcpy(out + 2, pairs->d[hi & 4095], 2);
		memcpy(out + 4, pairs->d[lo >> 12], 2);
		memcpy(out + 6, pairs->d[lo & 4095], 2);
		memcpy(o, out, 8);
	}
	for (; i + 3 <= n; i += 3, o += 4) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		memcpy(o, pairs->d[v >> 12], 2);
		memcpy(o + 2, pairs->d[v & 4095], 2);
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;
		*o++ = alpha[v >> 18];
		*o++ = alpha[v >> 12 & 63];
		if (pad) {
			*o++ = '=';
			*o++ = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		*o++ = alpha[v >> 18];
		*o++ = alpha[v >> 12 & 63];
		*o++ = alpha[v >> 6 & 63];
		if (pad)
			*o++ = '=';
	}
	return o;
}

static const char std64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static b64_pairs std64_pairs, url64_pairs;
static atomic_int std64_ready, url64_ready;

char *kc__base64_std(char *o, const uint8_t *s, size_t n)
{
	return b64(o, s, n, std64, b64_table(std64, &std64_pairs, &std64_ready),
		   true, true);
}

char *kc__base64_url_nopad(char *o, const uint8_t *s, size_t n)
{
	return b64(o, s, n, url64, b64_table(url64, &url64_pairs, &url64_ready),
		   false, false);
}
