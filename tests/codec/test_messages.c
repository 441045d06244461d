/* Generated messages: every declaration at every version round-trips
 * (fill -> encode -> size -> decode -> equal -> re-encode), every truncated
 * encoding fails cleanly (also against a guard page), and encode + decode
 * free everything when any allocation fails. The generated test helpers
 * (kafkit/messages_test.h) give every field a non-default value. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "kafkit/messages.h"
#include "kafkit/messages_test.h"

enum { SEEDS = 6 };

static uint32_t seed_of(int s, int16_t v)
{
	return (uint32_t)s * 7919u + (uint32_t)v;
}

/* Encode m and check that size() predicts it; returns a malloc'd copy. */
static uint8_t *encode(const kc_msg_type *t, const void *m, int16_t v,
		       size_t ref_threshold, size_t *len)
{
	kc_writer w;
	kc_writer_init(&w);
	kc_writer_set_ref_threshold(&w, ref_threshold);
	kc_err e = t->encode(&w, m, v);
	ck_assert_msg(e == KC_OK, "%s v%d: encode: %s", t->name, v, kc_err_name(e));
	*len = kc_writer_pos(&w);
	ck_assert_msg(t->size(m, v) == *len, "%s v%d: size %zu, encode wrote %zu",
		      t->name, v, t->size(m, v), *len);
	uint8_t *out = malloc(*len ? *len : 1);
	ck_assert_ptr_nonnull(out);
	struct iovec iov[64];
	size_t niov = kc_writer_iov(&w, iov, 64);
	ck_assert_uint_le(niov, 64);
	size_t off = 0;
	for (size_t i = 0; i < niov; i++) {
		memcpy(out + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	ck_assert_uint_eq(off, *len);
	kc_writer_free(&w);
	return out;
}

static kc_err decode(const kc_msg_type *t, const uint8_t *p, size_t n,
		     int16_t v, void *m, kc_arena *a, kc_decode_error *err,
		     size_t *left)
{
	kc_reader r;
	kc_reader_init(&r, p, n, err);
	kc_err e = t->decode(&r, m, v, a);
	*left = kc_reader_left(&r);
	return e;
}

START_TEST(test_roundtrip)
{
	const kc_msg_type *t = kc_msg_type_at((size_t)_i);
	ck_assert_ptr_nonnull(t);
	void *m = malloc(t->struct_size), *d = malloc(t->struct_size);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(d);
	for (int16_t v = t->min_version; v <= t->max_version; v++) {
		for (int s = 1; s <= SEEDS; s++) {
			kc_arena fa, da;
			kc_arena_init(&fa);
			kc_arena_init(&da);
			kc__test_fill(t, m, v, seed_of(s, v), &fa);
			size_t len, len2, len3, left;
			uint8_t *b = encode(t, m, v, 0, &len);
			/* iovec mode references values in place: same bytes */
			uint8_t *bi = encode(t, m, v, 1, &len3);
			ck_assert_uint_eq(len3, len);
			ck_assert_msg(len == 0 || memcmp(b, bi, len) == 0,
				      "%s v%d: iovec encoding differs", t->name, v);
			kc_decode_error err;
			memset(d, 0x5a, t->struct_size);
			kc_err e = decode(t, b, len, v, d, &da, &err, &left);
			char msg[256];
			kc_decode_error_format(&err, msg, sizeof msg);
			ck_assert_msg(e == KC_OK, "%s v%d seed %d: decode: %s", t->name,
				      v, s, msg);
			ck_assert_uint_eq(left, 0);
			char diff[512];
			ck_assert_msg(kc__test_equal(t, m, d, v, diff, sizeof diff),
				      "%s v%d seed %d: %s", t->name, v, s, diff);
			uint8_t *b2 = encode(t, d, v, 0, &len2);
			ck_assert_uint_eq(len2, len);
			ck_assert_msg(len == 0 || memcmp(b, b2, len) == 0,
				      "%s v%d seed %d: re-encoding differs", t->name, v, s);
			free(b);
			free(bi);
			free(b2);
			kc_arena_free(&fa);
			kc_arena_free(&da);
		}
	}
	free(m);
	free(d);
}
END_TEST

/* A prefix of an encoding must fail with an error that names a field at
 * an offset inside the input (or inside decompressed data). */
static void check_truncated(const kc_msg_type *t, const uint8_t *p, size_t k,
			    int16_t v, void *d)
{
	kc_arena a;
	kc_arena_init(&a);
	kc_decode_error err;
	size_t left;
	kc_err e = decode(t, p, k, v, d, &a, &err, &left);
	ck_assert_msg(e != KC_OK, "%s v%d: %zu-byte prefix decoded", t->name, v, k);
	ck_assert_int_eq(err.code, e);
	ck_assert_ptr_nonnull(err.field);
	ck_assert_msg(strncmp(err.field, t->name, strlen(t->name)) == 0 ||
			      err.in_compressed || strchr(err.field, '.'),
		      "%s: error field %s", t->name, err.field);
	if (!err.in_compressed)
		ck_assert_msg(err.offset <= k, "%s v%d: offset %zu past %zu bytes",
			      t->name, v, err.offset, k);
	kc_arena_free(&a);
}

static void truncations(int type, bool guard)
{
	const kc_msg_type *t = kc_msg_type_at((size_t)type);
	ck_assert_ptr_nonnull(t);
	void *m = malloc(t->struct_size), *d = malloc(t->struct_size);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(d);
	for (int16_t v = t->min_version; v <= t->max_version; v++) {
		for (int s = 1; s <= 2; s++) {
			kc_arena fa;
			kc_arena_init(&fa);
			kc__test_fill(t, m, v, seed_of(s, v), &fa);
			size_t len;
			uint8_t *b = encode(t, m, v, 0, &len);
			for (size_t k = 0; k < len; k++) {
				uint8_t *c = guard ? th_guard_copy(b, k) : malloc(k ? k : 1);
				ck_assert_ptr_nonnull(c);
				if (!guard && k)
					memcpy(c, b, k);
				check_truncated(t, c, k, v, d);
				if (guard)
					th_guard_free(c, k);
				else
					free(c);
			}
			if (guard) {
				/* the whole encoding, ending at the guard page */
				uint8_t *c = th_guard_copy(b, len);
				kc_arena a;
				kc_arena_init(&a);
				kc_decode_error err;
				size_t left;
				ck_assert_int_eq(decode(t, c, len, v, d, &a, &err, &left),
						 KC_OK);
				ck_assert_uint_eq(left, 0);
				kc_arena_free(&a);
				th_guard_free(c, len);
			}
			free(b);
			kc_arena_free(&fa);
		}
	}
	free(m);
	free(d);
}

START_TEST(test_truncated)
{
	truncations(_i, false);
}
END_TEST

START_TEST(test_truncated_guard)
{
	truncations(_i, true);
}
END_TEST

/* Versions outside the declaration fail on both sides, naming the
 * message, and write nothing. */
START_TEST(test_unsupported_version)
{
	const kc_msg_type *t = kc_msg_type_at((size_t)_i);
	void *m = malloc(t->struct_size);
	ck_assert_ptr_nonnull(m);
	t->init(m);
	kc_writer w;
	kc_writer_init(&w);
	ck_assert_int_eq(t->encode(&w, m, (int16_t)(t->max_version + 1)),
			 KC_ERR_UNSUPPORTED_VERSION);
	ck_assert_int_eq(t->encode(&w, m, (int16_t)(t->min_version - 1)),
			 KC_ERR_UNSUPPORTED_VERSION);
	ck_assert_uint_eq(kc_writer_pos(&w), 0);
	kc_writer_free(&w);
	static const uint8_t zeros[64];
	kc_decode_error err;
	size_t left;
	kc_arena a;
	kc_arena_init(&a);
	ck_assert_int_eq(decode(t, zeros, sizeof zeros, (int16_t)(t->max_version + 1),
				m, &a, &err, &left),
			 KC_ERR_UNSUPPORTED_VERSION);
	ck_assert_str_eq(err.field, t->name);
	kc_arena_free(&a);
	free(m);
}
END_TEST

START_TEST(test_alloc_failure)
{
	const kc_msg_type *t = kc_msg_type_at((size_t)_i);
	void *m = malloc(t->struct_size), *d = malloc(t->struct_size);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(d);
	for (int16_t v = t->min_version; v <= t->max_version; v++) {
		kc_arena fa;
		kc_arena_init(&fa);
		kc__test_fill(t, m, v, seed_of(3, v), &fa);
		size_t len;
		uint8_t *b = encode(t, m, v, 0, &len);
		for (unsigned long n = 1;; n++) {
			th_alloc_fail_at(n);
			kc_writer w;
			kc_writer_init(&w);
			kc_err e1 = t->encode(&w, m, v);
			kc_writer_free(&w);
			kc_arena a;
			kc_arena_init(&a);
			kc_decode_error err;
			size_t left;
			kc_err e2 = decode(t, b, len, v, d, &a, &err, &left);
			kc_arena_free(&a);
			unsigned long used = th_alloc_count();
			long live = th_alloc_live();
			th_alloc_reset();
			ck_assert_msg(live == 0, "%s v%d: %ld allocations leaked (fail at %lu)",
				      t->name, v, live, n);
			ck_assert_msg(e1 == KC_OK || e1 == KC_ERR_NOMEM,
				      "%s v%d: encode %s", t->name, v, kc_err_name(e1));
			ck_assert_msg(e2 == KC_OK || e2 == KC_ERR_NOMEM,
				      "%s v%d: decode %s", t->name, v, kc_err_name(e2));
			if (used < n) {
				/* nothing failed: both must have worked */
				ck_assert_int_eq(e1, KC_OK);
				ck_assert_int_eq(e2, KC_OK);
				break;
			}
		}
		free(b);
		kc_arena_free(&fa);
	}
	free(m);
	free(d);
}
END_TEST

static Suite *messages_suite(void)
{
	int n = 0;
	while (kc_msg_type_at((size_t)n))
		n++;
	Suite *s = suite_create("messages");
	TCase *tc = tcase_create("roundtrip");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_roundtrip, 0, n);
	tcase_add_loop_test(tc, test_unsupported_version, 0, n);
	suite_add_tcase(s, tc);
	tc = tcase_create("truncated");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_truncated, 0, n);
	tcase_add_loop_test(tc, test_truncated_guard, 0, n);
	suite_add_tcase(s, tc);
	tc = tcase_create("alloc");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_alloc_failure, 0, n);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(messages_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
