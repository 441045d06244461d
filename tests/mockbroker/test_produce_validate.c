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
