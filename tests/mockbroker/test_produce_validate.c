/*
 * Check suite for Produce record validation
 * (mockbroker/src/produce_validate.c), with inputs ending at a guard page:
 * every prefix and many corruptions of valid record sets are refused
 * without reading past the end, and valid ones are described exactly.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "kafka_errors.h"
#include "kafkit/crc.h"
#include "mock_client.h"
#include "produce_validate.h"

static int16_t version_for(int magic)
{
	return magic == 2 ? 9 : magic == 1 ? 2 : 1;
}

/* Both steps on a guarded copy of n bytes of p. */
static int16_t check(const uint8_t *p, size_t n, int16_t v,
		     km__produce_info *info)
{
	uint8_t *g = th_guard_copy(p, n);
	const char *why;
	int16_t e = km__produce_precheck(kc_bytes_of(g, n), v, &why);
	if (!e)
		e = km__produce_validate(kc_bytes_of(g, n), v, 1 << 20, 1 << 24,
					 info, &why);
	if (e)
		ck_assert_ptr_nonnull(why);
	th_guard_free(g, n);
	return e;
}

START_TEST(valid_sets_described)
{
	for (int magic = 0; magic <= 2; magic++) {
		for (int codec = 0; codec <= (magic == 2 ? 4 : 3); codec++) {
			size_t n;
			uint8_t *b = mc_batch(magic, codec, 0, 7, 100,
					      magic == 2 ? 5 : -1, magic == 2 ? 1 : -1,
					      magic == 2 ? 40 : -1, &n);
			km__produce_info info;
			ck_assert_int_eq(check(b, n, version_for(magic), &info), 0);
			ck_assert_int_eq(info.magic, magic);
			ck_assert_int_eq(info.nrecords, 7);
			if (magic == 2) {
				ck_assert_int_eq(info.last_offset_delta, 6);
				ck_assert_int_eq(info.producer_id, 5);
				ck_assert_int_eq(info.producer_epoch, 1);
				ck_assert_int_eq(info.base_sequence, 40);
				ck_assert(!info.transactional);
			} else {
				ck_assert_int_eq(info.producer_id, -1);
			}
			free(b);
		}
	}
}
END_TEST

/* Every proper prefix is refused, and none reads past its end. */
START_TEST(prefixes_refused)
{
	for (int magic = 0; magic <= 2; magic++) {
		for (int codec = 0; codec <= 2; codec += 2) {
			size_t n;
			uint8_t *b = mc_batch(magic, codec, 0, 3, 1, -1, -1, -1, &n);
			for (size_t cut = 1; cut < n; cut++) {
				km__produce_info info;
				int16_t e = check(b, cut, version_for(magic), &info);
				/* a legacy set may end on a message boundary */
				if (magic < 2 && codec == 0 && e == 0)
					ck_assert_int_lt(info.nrecords, 3);
				else
					ck_assert_msg(e != 0, "magic %d codec %d: "
						      "prefix %zu of %zu accepted",
						      magic, codec, cut, n);
			}
			free(b);
		}
	}
}
END_TEST

/* Every single-byte corruption either is refused or still describes a
 * consistent set; none crashes or reads out of bounds. */
START_TEST(corruptions)
{
	for (int magic = 0; magic <= 2; magic++) {
		size_t n;
		uint8_t *b = mc_batch(magic, KC_CODEC_LZ4, 0, 4, 1, -1, -1, -1, &n);
		for (size_t i = 0; i < n; i++) {
			for (int bit = 0; bit < 8; bit += 3) {
				b[i] ^= (uint8_t)(1 << bit);
				km__produce_info info;
				int16_t e = check(b, n, version_for(magic), &info);
				if (!e)
					ck_assert_int_eq(info.nrecords, 4);
				b[i] ^= (uint8_t)(1 << bit);
			}
		}
		free(b);
	}
}
END_TEST

START_TEST(empty_and_null)
{
	km__produce_info info;
	const char *why;
	ck_assert_int_eq(km__produce_precheck(KC_BYTES_NULL, 3, &why),
			 KM__E_INVALID_RECORD);
	ck_assert_int_eq(km__produce_precheck(kc_bytes_of("", 0), 3, &why),
			 KM__E_INVALID_RECORD);
	ck_assert_int_eq(km__produce_precheck(kc_bytes_of("", 0), 0, &why), 0);
	ck_assert_int_eq(km__produce_validate(kc_bytes_of("", 0), 0, 100, 100,
					      &info, &why),
			 0);
	ck_assert_int_eq(info.nrecords, 0);
	ck_assert_int_eq(km__produce_magic(0), 0);
	ck_assert_int_eq(km__produce_magic(1), 0);
	ck_assert_int_eq(km__produce_magic(2), 1);
	ck_assert_int_eq(km__produce_magic(3), 2);
	ck_assert_int_eq(km__produce_magic(11), 2);
}
END_TEST

/* Entries whose header ends right at the end of the input (the magic
 * byte last): refused, and attributes are not read past the end. */
START_TEST(short_entries_at_the_end)
{
	uint8_t e[17] = {0};
	e[11] = 5; /* message_size 5: crc and magic only */
	for (int magic = 0; magic <= 2; magic++) {
		e[16] = (uint8_t)magic;
		km__produce_info info;
		ck_assert_int_ne(check(e, sizeof e, version_for(magic), &info), 0);
	}
}
END_TEST

/* bb sealed, copied to malloc'd memory (*n bytes), and freed. */
static uint8_t *sealed_copy(kc_batch_builder *bb, size_t *n)
{
	const uint8_t *out;
	ck_assert_int_eq(kc_batch_seal(bb, &out, n), KC_OK);
	uint8_t *b = malloc(*n);
	ck_assert_ptr_nonnull(b);
	memcpy(b, out, *n);
	kc_batch_builder_free(bb);
	return b;
}

/* An uncompressed v2 batch of 5 records, some with a null key or value,
 * some with headers (malloc'd, *n bytes). */
static uint8_t *v2_with_headers(size_t *n)
{
	kc_batch_config cfg;
	kc_batch_config_default(&cfg);
	kc_batch_builder bb;
	ck_assert_int_eq(kc_batch_builder_init(&bb, &cfg), KC_OK);
	kc_rec_header h[2] = {
		{.key = kc_str_c("trace"), .value = kc_bytes_of("abc", 3)},
		{.key = kc_str_c("none"), .value = KC_BYTES_NULL},
	};
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(kc_batch_append(&bb, 1000 + i * 300,
						 i == 1 ? KC_BYTES_NULL
							: kc_bytes_of("key", 3),
						 i == 2 ? KC_BYTES_NULL
							: kc_bytes_of("value", 5),
						 h, (size_t)(i % 3)),
				 KC_OK);
	return sealed_copy(&bb, n);
}

/* What the full records iterator says about a v2 batch: whether it
 * decodes with recordsCount = lastOffsetDelta + 1 records at consecutive
 * offsets and nothing left over (the rules km__produce_validate applies
 * besides the header checks, which these corruptions keep). */
static bool iterator_accepts(const uint8_t *b, size_t n)
{
	kc_decode_error de = {0};
	kc_records_iter it;
	kc_batch_info bi;
	kc_record_view rec;
	bool ok = false;
	kc_records_iter_init(&it, b, n, KC_ITER_STRICT_END, &de);
	if (kc_records_next_batch(&it, &bi) == 1 &&
	    bi.records_count == bi.last_offset_delta + 1) {
		int rc;
		int64_t want = bi.base_offset;
		ok = true;
		while (ok && (rc = kc_records_next(&it, &rec)) == 1)
			ok = rec.offset == want++;
		ok = ok && rc == 0 && kc_records_next_batch(&it, &bi) == 0;
	}
	kc_records_iter_free(&it);
	return ok;
}

/* Corrupt every bit of the records region of the uncompressed v2 batch b
 * (n bytes, nrec records) and fix the CRC, so that only the walk's checks
 * stand between the bytes and the log. Validation must accept exactly
 * what the full decoder accepts, and refuse with the full path's error. */
static void flip_every_bit(uint8_t *b, size_t n, int32_t nrec)
{
	km__produce_info info;
	int accepted = 0, refused = 0;
	for (size_t i = 61; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1 << bit);
			uint32_t crc = kc_crc32c(0, b + 21, n - 21);
			uint8_t keep[4];
			memcpy(keep, b + 17, 4);
			b[17] = (uint8_t)(crc >> 24);
			b[18] = (uint8_t)(crc >> 16);
			b[19] = (uint8_t)(crc >> 8);
			b[20] = (uint8_t)crc;
			int16_t e = check(b, n, 9, &info);
			bool want = iterator_accepts(b, n);
			ck_assert_msg((e == 0) == want,
				      "byte %zu bit %d: validate %d, decoder %d",
				      i, bit, e, want);
			if (e) {
				ck_assert(e == KM__E_CORRUPT_MESSAGE ||
					  e == KM__E_INVALID_RECORD);
				refused++;
			} else {
				ck_assert_int_eq(info.nrecords, nrec);
				accepted++;
			}
			memcpy(b + 17, keep, 4);
			b[i] ^= (uint8_t)(1 << bit);
		}
	}
	/* value bytes flip harmlessly, lengths and deltas do not */
	ck_assert_int_gt(accepted, 0);
	ck_assert_int_gt(refused, 0);
}

/* Uncompressed v2 batches take the length-prefix walk: its unbounded
 * form for the first records, its bounded form for those ending near the
 * batch's end. */
START_TEST(uncompressed_walk_matches_decoder)
{
	size_t n;
	uint8_t *b = v2_with_headers(&n);
	km__produce_info info;
	ck_assert_int_eq(check(b, n, 9, &info), 0);
	ck_assert_int_eq(info.nrecords, 5);
	ck_assert_int_eq(info.last_offset_delta, 4);
	flip_every_bit(b, n, 5);
	free(b);
}
END_TEST

/* An uncompressed v2 batch of 40 records whose fields take one to three
 * varint bytes (values of 0 to 200 bytes, timestamps far apart, offset
 * deltas past 63, null keys and values, headers), malloc'd, *n bytes. */
/* b (n bytes, nrecords records) passes the walk, and so does every copy
 * with one bit flipped exactly when the decoder accepts it; frees b. */
static void walk_agrees(uint8_t *b, size_t n, int32_t nrecords)
{
	km__produce_info info;
	ck_assert_int_eq(check(b, n, 9, &info), 0);
	ck_assert_int_eq(info.nrecords, nrecords);
	ck_assert_int_eq(info.last_offset_delta, nrecords - 1);
	flip_every_bit(b, n, nrecords);
	free(b);
}

static uint8_t *v2_varied(size_t *n)
{
	kc_batch_config cfg;
	kc_batch_config_default(&cfg);
	kc_batch_builder bb;
	ck_assert_int_eq(kc_batch_builder_init(&bb, &cfg), KC_OK);
	static uint8_t val[200];
	memset(val, 'v', sizeof val);
	kc_rec_header h[2] = {
		{.key = kc_str_c("k"), .value = kc_bytes_of(val, 70)},
		{.key = kc_str_c("n"), .value = KC_BYTES_NULL},
	};
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(
			kc_batch_append(&bb, 1000 + (int64_t)i * i * 1000003,
					i % 7 == 3 ? KC_BYTES_NULL
						   : kc_bytes_of(val, (size_t)i % 5),
					i % 11 == 5 ? KC_BYTES_NULL
						    : kc_bytes_of(val, (size_t)(i * 37) % 201),
					h, (size_t)(i % 9 == 4 ? 2 : 0)),
			KC_OK);
	return sealed_copy(&bb, n);
}

/* A larger batch: most records are far enough from the batch's end for
 * the unbounded walk, which must agree with the decoder just the same,
 * and never read past the end (the input ends at a guard page). */
START_TEST(unbounded_walk_matches_decoder)
{
	size_t n;
	uint8_t *b = v2_varied(&n);
	walk_agrees(b, n, 40);
}
END_TEST

/* Records of null keys and values, a few with a short value or a
 * header: the unbounded walk reads a null's successor lengths without
 * comparing positions, so a record length too short for its fields (the
 * bit flips make them) must still be refused as the decoder refuses it,
 * without reading past the guard page. */
START_TEST(null_fields_walk_matches_decoder)
{
	kc_batch_config cfg;
	kc_batch_config_default(&cfg);
	kc_batch_builder bb;
	ck_assert_int_eq(kc_batch_builder_init(&bb, &cfg), KC_OK);
	static const uint8_t val[3] = {'a', 'b', 'c'};
	kc_rec_header h = {.key = kc_str_c("h"), .value = KC_BYTES_NULL};
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(
			kc_batch_append(&bb, 5000 + (int64_t)i,
					KC_BYTES_NULL,
					i % 6 == 2 ? kc_bytes_of(val, 3)
						   : KC_BYTES_NULL,
					&h, (size_t)(i % 8 == 5)),
			KC_OK);
	size_t n;
	uint8_t *b = sealed_copy(&bb, &n);
	walk_agrees(b, n, 40);
}
END_TEST

/* Header rules still hold on the walk: a control batch, a producer id
 * without a sequence, recordsCount against lastOffsetDelta, a bad CRC,
 * the size limit. */
START_TEST(uncompressed_walk_header_rules)
{
	size_t n;
	uint8_t *b = mc_batch(2, 0, 0, 3, 1, -1, -1, -1, &n);
	uint8_t *g = th_guard_copy(b, n);
	const char *why;
	km__produce_info info;
	ck_assert_int_eq(km__produce_validate(kc_bytes_of(g, n), 9, (int32_t)n,
					      1 << 24, &info, &why),
			 0);
	ck_assert_int_eq(km__produce_validate(kc_bytes_of(g, n), 9,
					      (int32_t)n - 1, 1 << 24, &info,
					      &why),
			 KM__E_MESSAGE_TOO_LARGE);
	g[30] ^= 1; /* baseTimestamp: the CRC no longer matches */
	ck_assert_int_eq(km__produce_validate(kc_bytes_of(g, n), 9, 1 << 20,
					      1 << 24, &info, &why),
			 KM__E_CORRUPT_MESSAGE);
	ck_assert_str_eq(why, "CRC mismatch");
	th_guard_free(g, n);
	free(b);

	static const struct {
		int at;      /* byte to set before the CRC is recomputed */
		uint8_t val;
		const char *why;
	} cases[] = {
		{22, 0x20, "clients may not write control batches"},
		{26, 5, "recordsCount is not lastOffsetDelta + 1"},
		{60, 2, "recordsCount is not lastOffsetDelta + 1"},
		{43, 0, "a producer id without a sequence"}, /* pid >= 0 */
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		b = mc_batch(2, 0, 0, 3, 1, -1, -1, -1, &n);
		b[cases[k].at] = cases[k].val;
		uint32_t crc = kc_crc32c(0, b + 21, n - 21);
		b[17] = (uint8_t)(crc >> 24);
		b[18] = (uint8_t)(crc >> 16);
		b[19] = (uint8_t)(crc >> 8);
		b[20] = (uint8_t)crc;
		g = th_guard_copy(b, n);
		ck_assert_int_eq(km__produce_validate(kc_bytes_of(g, n), 9,
						      1 << 20, 1 << 24, &info,
						      &why),
				 KM__E_INVALID_RECORD);
		ck_assert_str_eq(why, cases[k].why);
		th_guard_free(g, n);
		free(b);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_produce_validate");
	TCase *t = tcase_create("core");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, valid_sets_described);
	tcase_add_test(t, prefixes_refused);
	tcase_add_test(t, corruptions);
	tcase_add_test(t, empty_and_null);
	tcase_add_test(t, short_entries_at_the_end);
	tcase_add_test(t, uncompressed_walk_matches_decoder);
	tcase_add_test(t, unbounded_walk_matches_decoder);
	tcase_add_test(t, null_fields_walk_matches_decoder);
	tcase_add_test(t, uncompressed_walk_header_rules);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
