/* CRC-32C (hardware and table paths) and CRC-32. */
#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <zlib.h>

#include "helpers.h"
#include "kafkit/crc.h"

/* Bit-at-a-time references, independent of both library paths. */
static uint32_t ref_reflected(uint32_t poly, uint32_t crc, const uint8_t *p,
			      size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int i = 0; i < 8; i++)
			crc = (crc >> 1) ^ (poly & (0u - (crc & 1)));
	}
	return ~crc;
}
#define REF_CRC32C(c, p, n) ref_reflected(0x82F63B78u, (c), (p), (n))
#define REF_CRC32(c, p, n) ref_reflected(0xEDB88320u, (c), (p), (n))

static uint8_t *random_bytes(size_t n, uint32_t seed)
{
	uint8_t *b = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(b);
	uint32_t x = seed ? seed : 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = (uint8_t)x;
	}
	return b;
}

/* ---- check values (golden vectors H) ----------------------------------- */

START_TEST(check_values)
{
	ck_assert_uint_eq(kc_crc32c(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(kc_crc32c_sw(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(kc_crc32c(0, "Some String", 11), 0x2445290Fu);
	ck_assert_uint_eq(kc_crc32c_sw(0, "Some String", 11), 0x2445290Fu);
	ck_assert_uint_eq(kc_crc32(0, "123456789", 9), 0xCBF43926u);
	/* Nothing fed leaves the running value alone, NULL included. */
	ck_assert_uint_eq(kc_crc32c(0, NULL, 0), 0);
	ck_assert_uint_eq(kc_crc32c(0xdeadbeef, NULL, 0), 0xdeadbeef);
	ck_assert_uint_eq(kc_crc32c_sw(0xdeadbeef, NULL, 0), 0xdeadbeef);
	ck_assert_uint_eq(kc_crc32(0xdeadbeef, NULL, 0), 0xdeadbeef);
}
END_TEST

START_TEST(impl_matches_cpu)
{
	const char *want = "table";
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2"))
		want = "sse4.2";
#endif
	ck_assert_str_eq(kc_crc32c_impl(), want);
}
END_TEST

/* Every length 0..1024 at every start offset modulo 8, from a zero and
 * a non-zero running value: hardware == table == bitwise reference. */
START_TEST(paths_agree_on_short_buffers)
{
	uint8_t *b = random_bytes(1024 + 8, 7);
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n <= 1024; n++) {
			uint32_t seed = (uint32_t)(n * 2654435761u);
			uint32_t want = REF_CRC32C(seed, b + off, n);
			ck_assert_uint_eq(kc_crc32c(seed, b + off, n), want);
			ck_assert_uint_eq(kc_crc32c_sw(seed, b + off, n), want);
			ck_assert_uint_eq(kc_crc32c(0, b + off, n),
					  kc_crc32c_sw(0, b + off, n));
		}
	free(b);
}
END_TEST

/* Lengths around the three-stream block sizes (3 x 256, 3 x 8192) and
 * beyond, where the shift tables join the streams. */
START_TEST(paths_agree_on_long_buffers)
{
	static const size_t lens[] = {767,   768,    769,    775,   776,
				      1536,  24575,  24576,  24577, 24584,
				      25344, 49152,  49160,  65536, 100003,
				      262144, 1048576 + 13};
	size_t max = 1048576 + 13 + 8;
	uint8_t *b = random_bytes(max, 11);
	for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
		for (size_t off = 0; off < 8; off += 3) {
			uint32_t want = REF_CRC32C(0x12345678, b + off, lens[i]);
			ck_assert_uint_eq(kc_crc32c(0x12345678, b + off, lens[i]),
					  want);
			ck_assert_uint_eq(
				kc_crc32c_sw(0x12345678, b + off, lens[i]), want);
		}
	free(b);
}
END_TEST

START_TEST(incremental_equals_one_shot)
{
	size_t n = 3000;
	uint8_t *b = random_bytes(n, 3);
	uint32_t c_hw = kc_crc32c(0, b, n), c_sw = kc_crc32c_sw(0, b, n);
	uint32_t ieee = kc_crc32(0, b, n);
	ck_assert_uint_eq(ieee, REF_CRC32(0, b, n));
	for (size_t cut = 0; cut <= n; cut++) {
		ck_assert_uint_eq(kc_crc32c(kc_crc32c(0, b, cut), b + cut, n - cut),
				  c_hw);
		ck_assert_uint_eq(
			kc_crc32c_sw(kc_crc32c_sw(0, b, cut), b + cut, n - cut),
			c_sw);
		ck_assert_uint_eq(kc_crc32(kc_crc32(0, b, cut), b + cut, n - cut),
				  ieee);
	}
	/* Three pieces across a 24 KiB block boundary. */
	size_t big = 80000;
	uint8_t *g = random_bytes(big, 5);
	uint32_t whole = kc_crc32c(0, g, big);
	uint32_t c = kc_crc32c(0, g, 1001);
	c = kc_crc32c(c, g + 1001, 30000);
	c = kc_crc32c(c, g + 31001, big - 31001);
	ck_assert_uint_eq(c, whole);
	free(g);
	free(b);
}
END_TEST

/* First use from several threads at once: the one-time setup must give
 * every caller correct tables. */
static void *crc_thread(void *arg)
{
	const uint8_t *b = arg;
	uintptr_t bad = 0;
	for (int i = 0; i < 50; i++)
		bad |= kc_crc32c(0, b, 65536) != REF_CRC32C(0, b, 65536) ||
		       kc_crc32c(0, "123456789", 9) != 0xE3069283u;
	return (void *)bad;
}

START_TEST(first_use_from_many_threads)
{
	uint8_t *b = random_bytes(65536, 9);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, crc_thread, b), 0);
	for (int i = 0; i < 4; i++) {
		void *bad;
		ck_assert_int_eq(pthread_join(t[i], &bad), 0);
		ck_assert_ptr_null(bad);
	}
	free(b);
}
END_TEST

/* zlib's crc32() takes a 32-bit length: a buffer past 4 GiB must still
 * be summed whole (zero pages mapped read-only cost no memory). */
START_TEST(crc32_beyond_uint_length)
{
	size_t n = (size_t)UINT_MAX + 4097;
	uint8_t *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
						       MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	ck_assert_uint_eq(kc_crc32(0x55, m, n), crc32_z(0x55, m, n));
	munmap(m, n);
}
END_TEST

static Suite *crc_suite(void)
{
	Suite *s = suite_create("crc");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, check_values);
	tcase_add_test(tc, impl_matches_cpu);
	tcase_add_test(tc, paths_agree_on_short_buffers);
	tcase_add_test(tc, paths_agree_on_long_buffers);
	tcase_add_test(tc, incremental_equals_one_shot);
	tcase_add_test(tc, first_use_from_many_threads);
	tcase_add_test(tc, crc32_beyond_uint_length);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(crc_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
