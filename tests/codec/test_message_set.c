/* Batch builder, legacy MessageSet (magic 0/1): byte-exact output against
 * golden vectors M-*, wrapper layout against D-2, LZ4 header-checksum
 * framing per magic, round trips for every codec, failing allocations. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf_int.h"
#include "helpers.h"
#include "kafkit/crc.h"
#include "kafkit/records.h"

static void init_magic(kc_batch_builder *b, int magic, int codec)
{
	kc_batch_config c;
	kc_batch_config_default(&c);
	c.magic = magic;
	c.codec = codec;
	ck_assert_int_eq(kc_batch_builder_init(b, &c), KC_OK);
}

/* M-1: four magic-0 messages, real broker data. */
START_TEST(exact_m1)
{
	kc_batch_builder b;
	const uint8_t *out;
	size_t n;
	init_magic(&b, 0, KC_CODEC_NONE);
	static const char *const values[] = {"123", "", "", "123"};
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(kc_batch_append(&b, 12345, KC_BYTES_NULL,
						 th_bstr(values[i]), NULL, 0),
				 KC_OK);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	th_assert_hex(out, n,
		   "000000000000000000000011feb01dbf0000ffffffff00000003313233000000"
		   "00000000010000000e795748e00000ffffffff00000000000000000000000200"
		   "00000e795748e00000ffffffff00000000000000000000000300000011feb01d"
		   "bf0000ffffffff00000003313233");
	kc_batch_builder_free(&b);
}
END_TEST

/* M-2: four magic-1 messages with CreateTime timestamps. */
START_TEST(exact_m2)
{
	kc_batch_builder b;
	const uint8_t *out;
	size_t n;
	init_magic(&b, 1, KC_CODEC_NONE);
	static const char *const values[] = {"123", "", "", "123"};
	static const int64_t ts[] = {1503648000942LL, 1503648001984LL,
				     1503648002162LL, 1503648004099LL};
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(kc_batch_append(&b, ts[i], KC_BYTES_NULL,
						 th_bstr(values[i]), NULL, 0),
				 KC_OK);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	th_assert_hex(out, n,
		   "000000000000000000000019478628c201000000015e1867abaeffffffff0000"
		   "0003313233000000000000000100000016ef98c92001000000015e1867afc0ff"
		   "ffffff000000000000000000000002000000165faffb5e01000000015e1867b0"
		   "72ffffffff00000000000000000000000300000019a812572001000000015e18"
		   "67b803ffffffff00000003313233");
	kc_batch_builder_free(&b);
}
END_TEST

/* M-3..M-6: keyed and null messages of both magics. */
START_TEST(exact_m3_to_m6)
{
	kc_batch_builder b;
	const uint8_t *out;
	size_t n;
	init_magic(&b, 0, KC_CODEC_NONE);
	ck_assert_int_eq(kc_batch_append(&b, -1, th_bstr("test"), th_bstr("Super"),
					 NULL, 0),
			 KC_OK);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	th_assert_hex(out, n,
		   "0000000000000000000000171095c9ca00000000000474657374000000055375"
		   "706572");
	kc_batch_builder_free(&b);

	init_magic(&b, 1, KC_CODEC_NONE);
	ck_assert_int_eq(kc_batch_append(&b, 9999999, th_bstr("test"),
					 th_bstr("Super"), NULL, 0),
			 KC_OK);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	th_assert_hex(out, n,
		   "00000000000000000000001f831fac850100000000000098967f000000047465"
		   "7374000000055375706572");
	kc_batch_builder_free(&b);

	init_magic(&b, 0, KC_CODEC_NONE);
	ck_assert_int_eq(kc_batch_append(&b, 0, KC_BYTES_NULL, KC_BYTES_NULL,
					 NULL, 0),
			 KC_OK);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	th_assert_hex(out, n,
		   "0000000000000000" "0000000e" "a7ec68030000ffffffffffffffff");
	kc_batch_builder_free(&b);

	init_magic(&b, 1, KC_CODEC_NONE);
	ck_assert_int_eq(kc_batch_append(&b, 0, KC_BYTES_NULL, KC_BYTES_NULL,
					 NULL, 0),
			 KC_OK);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	th_assert_hex(out, n,
		   "0000000000000000" "00000016"
		   "cc2f79d901000000000000000000ffffffffffffffff");
	kc_batch_builder_free(&b);
}
END_TEST

START_TEST(rejects)
{
	kc_batch_builder b;
	init_magic(&b, 1, KC_CODEC_NONE);
	kc_rec_header h = {KC_STR_LIT("h"), th_bstr("v")};
	/* Headers exist only in magic 2. */
	ck_assert_int_eq(kc_batch_append(&b, 1, KC_BYTES_NULL, th_bstr("v"), &h,
					 1),
			 KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_batch_count(&b), 0);
	kc_batch_builder_free(&b);
}
END_TEST

/* Records per message: 12 + 14 (magic 0) or 22 (magic 1) + key + value. */
START_TEST(size_accounting)
{
	for (int magic = 0; magic <= 1; magic++) {
		kc_batch_builder b;
		init_magic(&b, magic, KC_CODEC_GZIP);
		for (int i = 0; i < 50; i++) {
			kc_bytes k = i % 2 ? th_bstr("key") : KC_BYTES_NULL;
			kc_bytes v = kc_bytes_of("0123456789", (size_t)i % 11);
			size_t want = kc_batch_record_size(&b, i, k, v, NULL, 0);
			ck_assert_uint_eq(want, 12 + (magic ? 22u : 14u) +
							(i % 2 ? 3 : 0) +
							(size_t)i % 11);
			size_t before = kc_batch_bytes(&b);
			ck_assert_int_eq(kc_batch_append(&b, i, k, v, NULL, 0),
					 KC_OK);
			ck_assert_uint_eq(kc_batch_bytes(&b) - before, want);
		}
		kc_batch_builder_free(&b);
	}
}
END_TEST

/* D-2's wrapper (magic 1, gzip, values a/b/c at 1000/1001/1005): gzip
 * bytes differ between encoders, so compare the wrapper fields and the
 * decompressed inner set with D-2's. */
START_TEST(wrapper_like_d2)
{
	static const char d2[] =
		"00000000000000020000005c2e75f7e1010100000000000003edffffffff0000"
		"00461f8b080000000000000363608003f1aed497b98c500ef38bff4000643026"
		"42454032e27fd65d7e0957f212a624092ac20452d2e4e4cc0a57f216a6241900"
		"8b286cac69000000";
	size_t dn;
	uint8_t *d = th_hex(d2, &dn);
	uint8_t *want_inner;
	size_t want_n;
	ck_assert_int_eq(kc_decompress(KC_CODEC_GZIP, 0, d + 34, dn - 34,
				       1 << 20, &want_inner, &want_n),
			 KC_OK);

	kc_batch_builder b;
	const uint8_t *out;
	size_t n;
	init_magic(&b, 1, KC_CODEC_GZIP);
	static const int64_t ts[] = {1000, 1001, 1005};
	static const char *const vals[] = {"a", "b", "c"};
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(kc_batch_append(&b, ts[i], KC_BYTES_NULL,
						 th_bstr(vals[i]), NULL, 0),
				 KC_OK);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	/* offset 2, message_size, crc, magic 1, attributes 1, timestamp
	 * 1005, key null, value length. */
	ck_assert_int_eq((int64_t)kc__get_be64(out), 2);
	ck_assert_int_eq((int32_t)kc__get_be32(out + 8), (int32_t)n - 12);
	ck_assert_uint_eq(kc__get_be32(out + 12), kc_crc32(0, out + 16, n - 16));
	ck_assert_int_eq(out[16], 1);
	ck_assert_int_eq(out[17], 1);
	ck_assert_int_eq((int64_t)kc__get_be64(out + 18), 1005);
	ck_assert_int_eq((int32_t)kc__get_be32(out + 26), -1);
	ck_assert_int_eq((int32_t)kc__get_be32(out + 30), (int32_t)n - 34);
	uint8_t *inner;
	size_t inner_n;
	ck_assert_int_eq(kc_decompress(KC_CODEC_GZIP, 0, out + 34, n - 34,
				       1 << 20, &inner, &inner_n),
			 KC_OK);
	ck_assert_uint_eq(inner_n, want_n);
	ck_assert(memcmp(inner, want_inner, want_n) == 0);
	kc_free(inner);
	kc_free(want_inner);
	free(d);
	kc_batch_builder_free(&b);
}
END_TEST

/* LZ4 in a magic-0 wrapper carries the old broken header checksum, which
 * only the legacy flag accepts; magic 1 carries the correct one. */
START_TEST(lz4_header_checksum_per_magic)
{
	for (int magic = 0; magic <= 1; magic++) {
		kc_batch_builder b;
		const uint8_t *out;
		size_t n;
		init_magic(&b, magic, KC_CODEC_LZ4);
		for (int i = 0; i < 10; i++)
			ck_assert_int_eq(kc_batch_append(&b, i, KC_BYTES_NULL,
							 th_bstr("lz4 value"),
							 NULL, 0),
					 KC_OK);
		ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
		size_t at = magic ? 34 : 26;
		ck_assert_int_eq(out[17], KC_CODEC_LZ4);
		ck_assert(memcmp(out + at, "\x04\x22\x4d\x18", 4) == 0);
		uint8_t *inner;
		size_t inner_n;
		kc_err plain = kc_decompress(KC_CODEC_LZ4, 0, out + at, n - at,
					     1 << 20, &inner, &inner_n);
		if (plain == KC_OK)
			kc_free(inner);
		ck_assert_int_eq(plain, magic ? KC_OK : KC_ERR_DECOMPRESS);
		ck_assert_int_eq(kc_decompress(KC_CODEC_LZ4,
					       KC_COMPRESS_LZ4_LEGACY_HC,
					       out + at, n - at, 1 << 20,
					       &inner, &inner_n),
				 KC_OK);
		ck_assert_uint_eq(inner_n, 10 * (magic ? 43u : 35u));
		kc_free(inner);
		kc_batch_builder_free(&b);
	}
}
END_TEST

START_TEST(round_trip_every_codec)
{
	int magic = _i / 4, codec = _i % 4;
	for (int lat = 0; lat <= magic; lat++) {
		kc_batch_config c;
		kc_batch_builder b;
		kc_batch_config_default(&c);
		c.magic = magic;
		c.codec = codec;
		c.base_offset = 500;
		c.log_append_time = lat;
		ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
		char big[600];
		for (size_t k = 0; k < sizeof big; k++)
			big[k] = (char)('a' + k % 23);
		int nrec = 300;
		for (int i = 0; i < nrec; i++) {
			kc_bytes key = i % 3 ? kc_bytes_of(big + i, (size_t)i % 9)
					     : KC_BYTES_NULL;
			kc_bytes val = i % 7 == 3
					       ? KC_BYTES_NULL
					       : kc_bytes_of(big, (size_t)i * 2);
			ck_assert_int_eq(kc_batch_append(&b, 10000 + (i * 7) % 50,
							 key, val, NULL, 0),
					 KC_OK);
		}
		const uint8_t *out;
		size_t n;
		ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
		uint8_t *g = th_guard_copy(out, n);
		kc_records_iter it;
		kc_decode_error err;
		kc_batch_info info;
		kc_record_view v;
		kc_records_iter_init(&it, g, n, KC_ITER_STRICT_END, &err);
		int got = 0;
		int64_t max_ts = 10000 + 49;
		while (kc_records_next_batch(&it, &info) == 1) {
			ck_assert(info.crc_ok);
			ck_assert_int_eq(info.magic, magic);
			ck_assert_int_eq(info.codec, codec);
			if (codec) {
				ck_assert_int_eq(info.records_count, nrec);
				ck_assert_int_eq(info.base_offset, 500);
				ck_assert_int_eq(info.last_offset, 500 + nrec - 1);
				ck_assert_int_eq(info.max_timestamp,
						 magic ? max_ts : -1);
			}
			while (kc_records_next(&it, &v) == 1) {
				int i = got++;
				ck_assert_int_eq(v.offset, 500 + i);
				int64_t ts = 10000 + (i * 7) % 50;
				ck_assert_int_eq(v.timestamp,
						 magic == 0 ? -1
						 : lat && codec ? max_ts
								: ts);
				kc_bytes key = i % 3 ? kc_bytes_of(big + i,
								   (size_t)i % 9)
						     : KC_BYTES_NULL;
				kc_bytes val = i % 7 == 3
						       ? KC_BYTES_NULL
						       : kc_bytes_of(big,
								     (size_t)i * 2);
				ck_assert(kc_bytes_eq(v.key, key));
				ck_assert(kc_bytes_eq(v.value, val));
				ck_assert_int_eq(v.headers_count, 0);
				ck_assert_int_eq(v.attributes,
						 lat ? KC_ATTR_LOG_APPEND_TIME
						     : 0);
			}
		}
		ck_assert_int_eq(err.code, KC_OK);
		ck_assert_int_eq(got, nrec);
		kc_records_iter_free(&it);
		th_guard_free(g, n);
		kc_batch_builder_free(&b);
	}
}
END_TEST

START_TEST(empty_set)
{
	for (int codec = 0; codec <= KC_CODEC_LZ4; codec++) {
		kc_batch_builder b;
		const uint8_t *out;
		size_t n = 99;
		init_magic(&b, 1, codec);
		ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
		ck_assert_ptr_nonnull(out);
		ck_assert_uint_eq(n, 0);
		kc_batch_builder_free(&b);
	}
}
END_TEST

START_TEST(reuse_after_reset)
{
	kc_batch_builder b;
	init_magic(&b, 1, KC_CODEC_SNAPPY);
	const uint8_t *out;
	size_t n;
	uint8_t *first = NULL;
	size_t first_n = 0;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 20; i++)
			ck_assert_int_eq(kc_batch_append(&b, 100 + i, th_bstr("k"),
							 th_bstr("same value"),
							 NULL, 0),
					 KC_OK);
		ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
		if (!first) {
			first = malloc(n);
			memcpy(first, out, n);
			first_n = n;
		} else {
			ck_assert_uint_eq(n, first_n);
			ck_assert(memcmp(out, first, n) == 0);
		}
		kc_batch_builder_reset(&b);
	}
	free(first);
	kc_batch_builder_free(&b);
}
END_TEST

START_TEST(malloc_failure_run)
{
	int ok_runs = 0;
	for (int mc = 0; mc < 8; mc++) {
		int magic = mc / 4, codec = mc % 4;
		for (unsigned long k = 1; k < 400; k++) {
			th_alloc_fail_at(k);
			kc_batch_builder b;
			init_magic(&b, magic, codec);
			int appended = 0;
			for (int i = 0; i < 100; i++) {
				kc_err e = kc_batch_append(
					&b, i, th_bstr("key"),
					th_bstr("a value of some length"), NULL, 0);
				ck_assert(e == KC_OK || e == KC_ERR_NOMEM);
				appended += e == KC_OK;
			}
			ck_assert_int_eq(kc_batch_count(&b), appended);
			const uint8_t *out;
			size_t n;
			kc_err e = kc_batch_seal(&b, &out, &n);
			ck_assert(e == KC_OK || e == KC_ERR_NOMEM);
			if (e == KC_ERR_NOMEM) {
				/* Retry after the failure: the set is intact. */
				th_alloc_fail_at(0);
				e = kc_batch_seal(&b, &out, &n);
				ck_assert_int_eq(e, KC_OK);
				kc_records_iter it;
				kc_decode_error err;
				kc_batch_info info;
				kc_record_view v;
				int got = 0;
				kc_records_iter_init(&it, out, n, 0, &err);
				while (kc_records_next_batch(&it, &info) == 1)
					while (kc_records_next(&it, &v) == 1)
						got++;
				ck_assert_int_eq(err.code, KC_OK);
				ck_assert_int_eq(got, appended);
				kc_records_iter_free(&it);
				kc_batch_builder_free(&b);
				th_alloc_reset();
				continue;
			}
			kc_batch_builder_free(&b);
			ck_assert_int_eq(th_alloc_live(), 0);
			th_alloc_reset();
			if (appended == 100) {
				ok_runs++;
				break;
			}
		}
	}
	ck_assert_int_eq(ok_runs, 8);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("message_set");
	TCase *t = tcase_create("builder");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, exact_m1);
	tcase_add_test(t, exact_m2);
	tcase_add_test(t, exact_m3_to_m6);
	tcase_add_test(t, rejects);
	tcase_add_test(t, size_accounting);
	tcase_add_test(t, wrapper_like_d2);
	tcase_add_test(t, lz4_header_checksum_per_magic);
	tcase_add_loop_test(t, round_trip_every_codec, 0, 8);
	tcase_add_test(t, empty_set);
	tcase_add_test(t, reuse_after_reset);
	tcase_add_test(t, malloc_failure_run);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
