/* Writer, reader, arena, varints and slices. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf_int.h"
#include "helpers.h"
#include "kafkit/crc.h"

/* ---- varints: golden vectors V (ByteUtilsTest, rdvarint) ---------------- */

static const struct {
	int64_t value;
	const char *hex;
} uvarint_vectors[] = {
	{0, "00"},           {-1, "ffffffff0f"},     {1, "01"},
	{63, "3f"},          {-64, "c0ffffff0f"},    {64, "40"},
	{8191, "ff3f"},      {-8192, "80c0ffff0f"},  {8192, "8040"},
	{-8193, "ffbfffff0f"}, {1048575, "ffff3f"},  {1048576, "808040"},
	{2147483647, "ffffffff07"}, {-2147483648LL, "8080808008"},
};

static const struct {
	int64_t value;
	const char *hex;
} varint_vectors[] = {
	{0, "00"}, {-1, "01"}, {1, "02"}, {63, "7e"}, {-64, "7f"}, {64, "8001"},
	{-65, "8101"}, {8191, "fe7f"}, {-8192, "ff7f"}, {8192, "808001"},
	{-8193, "818001"}, {1048575, "feff7f"}, {-1048576, "ffff7f"},
	{1048576, "80808001"}, {-1048577, "81808001"}, {134217727, "feffff7f"},
	{-134217728, "ffffff7f"}, {134217728, "8080808001"},
	{-134217729, "8180808001"}, {2147483647, "feffffff0f"},
	{-2147483648LL, "ffffffff0f"},
};

static const struct {
	int64_t value;
	const char *hex;
} varlong_vectors[] = {
	{17179869183LL, "feffffff7f"},
	{-17179869184LL, "ffffffff7f"},
	{17179869184LL, "808080808001"},
	{-17179869185LL, "818080808001"},
	{2199023255551LL, "feffffffff7f"},
	{-2199023255552LL, "ffffffffff7f"},
	{2199023255552LL, "80808080808001"},
	{23, "2e"},
	{-23, "2d"},
	{253, "fa03"},
	{1234567890101112LL, "f08dd3c8a7b5b104"},
	{-1234567890101112LL, "ef8dd3c8a7b5b104"},
};

START_TEST(uvarint_golden)
{
	for (size_t i = 0; i < sizeof uvarint_vectors / sizeof uvarint_vectors[0]; i++) {
		kc_writer w;
		kc_writer_init(&w);
		uint32_t v = (uint32_t)uvarint_vectors[i].value;
		kc__w_uvarint(&w, v);
		th_assert_writer_hex(&w, uvarint_vectors[i].hex);
		ck_assert_uint_eq(kc__uvarint_size(v), kc_writer_pos(&w));

		kc_decode_error e;
		kc_reader r;
		kc_reader_init(&r, kc_writer_data(&w), kc_writer_pos(&w), &e);
		uint32_t got;
		ck_assert_int_eq(kc__r_uvarint(&r, &got, "v"), KC_OK);
		ck_assert_uint_eq(got, v);
		ck_assert_uint_eq(kc_reader_left(&r), 0);
		kc_writer_free(&w);
	}
}
END_TEST

START_TEST(varint_golden)
{
	for (size_t i = 0; i < sizeof varint_vectors / sizeof varint_vectors[0]; i++) {
		int32_t v = (int32_t)varint_vectors[i].value;
		kc_writer w;
		kc_writer_init(&w);
		kc__w_varint(&w, v);
		th_assert_writer_hex(&w, varint_vectors[i].hex);
		ck_assert_uint_eq(kc__varint_size(v), kc_writer_pos(&w));
		kc_decode_error e;
		kc_reader r;
		kc_reader_init(&r, kc_writer_data(&w), kc_writer_pos(&w), &e);
		int32_t got;
		ck_assert_int_eq(kc__r_varint(&r, &got, "v"), KC_OK);
		ck_assert_int_eq(got, v);
		kc_writer_free(&w);

		/* Every varint value is also a varlong with the same bytes. */
		kc_writer_init(&w);
		kc__w_varlong(&w, v);
		th_assert_writer_hex(&w, varint_vectors[i].hex);
		kc_writer_free(&w);
	}
	for (size_t i = 0; i < sizeof varlong_vectors / sizeof varlong_vectors[0]; i++) {
		int64_t v = varlong_vectors[i].value;
		kc_writer w;
		kc_writer_init(&w);
		kc__w_varlong(&w, v);
		th_assert_writer_hex(&w, varlong_vectors[i].hex);
		ck_assert_uint_eq(kc__varlong_size(v), kc_writer_pos(&w));
		kc_decode_error e;
		kc_reader r;
		kc_reader_init(&r, kc_writer_data(&w), kc_writer_pos(&w), &e);
		int64_t got;
		ck_assert_int_eq(kc__r_varlong(&r, &got, "v"), KC_OK);
		ck_assert_int_eq(got, v);
		kc_writer_free(&w);
	}
}
END_TEST

START_TEST(varint_extremes_round_trip)
{
	const int64_t longs[] = {INT64_MIN, INT64_MAX, INT64_MIN + 1, -1, 0};
	for (size_t i = 0; i < 5; i++) {
		kc_writer w;
		kc_writer_init(&w);
		kc__w_varlong(&w, longs[i]);
		ck_assert_uint_le(kc_writer_pos(&w), 10);
		kc_decode_error e;
		kc_reader r;
		kc_reader_init(&r, kc_writer_data(&w), kc_writer_pos(&w), &e);
		int64_t got;
		ck_assert_int_eq(kc__r_varlong(&r, &got, "v"), KC_OK);
		ck_assert(got == longs[i]);
		kc_writer_free(&w);
	}
}
END_TEST

START_TEST(varint_overlong_and_truncated)
{
	/* Six continuation bytes: too long for a 32-bit varint. */
	const uint8_t overlong[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
	kc_decode_error e;
	kc_reader r;
	int32_t v;
	kc_reader_init(&r, overlong, sizeof overlong, &e);
	ck_assert_int_eq(kc__r_varint(&r, &v, "Rec.len"), KC_ERR_VARINT);
	ck_assert_int_eq(e.code, KC_ERR_VARINT);
	ck_assert_str_eq(e.field, "Rec.len");
	ck_assert_uint_eq(e.offset, 0);

	/* Five bytes whose value exceeds 32 bits. */
	const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
	kc_reader_init(&r, big, sizeof big, &e);
	uint32_t u;
	ck_assert_int_eq(kc__r_uvarint(&r, &u, "n"), KC_ERR_VARINT);

	/* Eleven bytes for a varlong. */
	const uint8_t overlong64[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
				      0x80, 0x80, 0x80, 0x80, 0x01};
	int64_t l;
	kc_reader_init(&r, overlong64, sizeof overlong64, &e);
	ck_assert_int_eq(kc__r_varlong(&r, &l, "ts"), KC_ERR_VARINT);

	/* Ends while a continuation bit promises more. */
	const uint8_t cut[] = {0x01, 0x80};
	kc_reader_init(&r, cut, sizeof cut, &e);
	ck_assert_int_eq(kc__r_varint(&r, &v, "a"), KC_OK);
	ck_assert_int_eq(kc__r_varint(&r, &v, "b"), KC_ERR_TRUNCATED);
	ck_assert_uint_eq(e.offset, 1);
	ck_assert_str_eq(e.field, "b");
}
END_TEST

/* ---- fixed-width reads ------------------------------------------------------ */

START_TEST(fixed_reads_are_bounded)
{
	const uint8_t buf[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
	for (size_t n = 0; n <= sizeof buf; n++) {
		uint8_t *g = th_guard_copy(buf, n);
		kc_decode_error e;
		kc_reader r;
		int64_t v64;
		int32_t v32;
		int16_t v16;
		kc_reader_init(&r, g, n, &e);
		kc_err want64 = n >= 8 ? KC_OK : KC_ERR_TRUNCATED;
		ck_assert_int_eq(kc__r_i64(&r, &v64, "x"), want64);
		kc_reader_init(&r, g, n, &e);
		ck_assert_int_eq(kc__r_i32(&r, &v32, "x"), n >= 4 ? KC_OK : KC_ERR_TRUNCATED);
		if (n >= 4)
			ck_assert_int_eq(v32, 0x01020304);
		kc_reader_init(&r, g, n, &e);
		ck_assert_int_eq(kc__r_i16(&r, &v16, "x"), n >= 2 ? KC_OK : KC_ERR_TRUNCATED);
		th_guard_free(g, n);
	}
}
END_TEST

START_TEST(count_checked_before_allocation)
{
	const uint8_t buf[16] = {0};
	kc_decode_error e;
	kc_reader r;
	kc_reader_init(&r, buf, sizeof buf, &e);
	ck_assert_int_eq(kc__r_check_count(&r, r.p, 4, 4, "a"), KC_OK);
	ck_assert_int_eq(kc__r_check_count(&r, r.p, 5, 4, "a"), KC_ERR_BAD_COUNT);
	kc_reader_init(&r, buf, sizeof buf, &e);
	ck_assert_int_eq(kc__r_check_count(&r, r.p, -2, 1, "arr"), KC_ERR_BAD_COUNT);
	ck_assert_str_eq(e.field, "arr");
	kc_reader_init(&r, buf, sizeof buf, &e);
	ck_assert_int_eq(kc__r_check_count(&r, r.p, INT32_MAX, 1, "a"), KC_ERR_BAD_COUNT);
}
END_TEST

START_TEST(sub_reader_limits_and_errors)
{
	const uint8_t buf[] = {0, 0, 0, 1, 0xaa, 0xbb};
	kc_decode_error e;
	kc_reader r, sub;
	kc_reader_init(&r, buf, sizeof buf, &e);
	ck_assert_int_eq(kc__r_sub(&r, 5, &sub, "s"), KC_OK);
	int32_t v;
	ck_assert_int_eq(kc__r_i32(&sub, &v, "s.a"), KC_OK);
	ck_assert_int_eq(kc__r_i16(&sub, (int16_t *)&v, "s.b"), KC_ERR_TRUNCATED);
	ck_assert_uint_eq(e.offset, 4); /* offsets stay relative to the frame */
	ck_assert_uint_eq(kc_reader_left(&r), 1);
	kc_reader_init(&r, buf, sizeof buf, &e);
	ck_assert_int_eq(kc__r_sub(&r, 7, &sub, "s"), KC_ERR_BAD_LENGTH);
}
END_TEST

/* ---- writer ----------------------------------------------------------------- */

START_TEST(writer_reserve_patch_and_crc)
{
	kc_writer w;
	kc_writer_init(&w);
	kc_wslot len = kc_writer_reserve(&w, 4);
	kc__w_i16(&w, 0x0102);
	kc_wslot crc = kc_writer_reserve(&w, 4);
	size_t from = kc_writer_pos(&w);
	kc_writer_copy(&w, "123456789", 9);
	kc_writer_patch_u32(&w, crc, kc_writer_crc32c_from(&w, from));
	kc_writer_patch_i32(&w, len, (int32_t)kc_writer_since(&w, len));
	th_assert_writer_hex(&w, "0000000f" "0102" "e3069283" "313233343536373839");
	kc_writer_free(&w);
}
END_TEST

START_TEST(writer_iovec_mode_references_large_values)
{
	static uint8_t big[1000];
	memset(big, 0x5a, sizeof big);
	kc_writer w;
	kc_writer_init(&w);
	kc_writer_set_ref_threshold(&w, 512);
	kc__w_i32(&w, 7);
	kc__w_raw(&w, "ab", 2);  /* below the threshold: copied */
	kc__w_raw(&w, big, sizeof big);
	kc__w_i16(&w, 9);
	ck_assert_ptr_null(kc_writer_data(&w)); /* not contiguous any more */
	ck_assert_uint_eq(kc_writer_pos(&w), 4 + 2 + 1000 + 2);

	struct iovec iov[4];
	size_t n = kc_writer_iov(&w, iov, 4);
	ck_assert_uint_eq(n, 3);
	ck_assert_ptr_eq(iov[1].iov_base, big); /* referenced, not copied */
	ck_assert_uint_eq(iov[0].iov_len, 6);
	ck_assert_uint_eq(iov[2].iov_len, 2);
	/* Too small an array: reports how many are needed. */
	ck_assert_uint_eq(kc_writer_iov(&w, iov, 1), 3);

	/* The CRC over the logical output spans the referenced bytes. */
	uint8_t flat[1008];
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(flat + o, iov[i].iov_base, iov[i].iov_len);
		o += iov[i].iov_len;
	}
	ck_assert_uint_eq(kc_writer_crc32c_from(&w, 3), kc_crc32c(0, flat + 3, o - 3));
	ck_assert_uint_eq(kc_writer_crc32c_from(&w, 500), kc_crc32c(0, flat + 500, o - 500));
	kc_writer_free(&w);
}
END_TEST

/* The writer's output gathered from its iovec entries. */
static size_t gather(const kc_writer *w, uint8_t *flat, size_t cap)
{
	struct iovec iov[16];
	size_t n = kc_writer_iov(w, iov, 16);
	ck_assert_uint_le(n, 16);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_le(o + iov[i].iov_len, cap);
		memcpy(flat + o, iov[i].iov_base, iov[i].iov_len);
		o += iov[i].iov_len;
	}
	return o;
}

/* A piece built in several segments takes the place of the placeholder
 * slice the encoder referenced, and none of it is copied; a placeholder
 * that is not a referenced segment of that length is refused. */
START_TEST(writer_splice_replaces_placeholder)
{
	static uint8_t lent[600];
	memset(lent, 'L', sizeof lent);
	kc_writer src, w, small;
	kc_writer_init(&src);
	kc_writer_init(&w);
	kc_writer_init(&small);
	kc_writer_set_ref_threshold(&src, 512);
	kc__w_raw(&src, "head", 4);
	kc__w_raw(&src, lent, sizeof lent);
	kc__w_raw(&src, "tail", 4);
	ck_assert_uint_eq(kc_writer_pos(&src), 608);
	kc__w_raw(&small, "x", 1);

	kc_writer_set_ref_threshold(&w, 512);
	kc__w_i32(&w, 608);
	kc_writer_put(&w, &src, 608); /* placeholder, unread */
	kc__w_raw(&w, "end", 3);
	ck_assert_int_eq(kc_writer_splice(&w, lent, &src), KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_writer_splice(&w, &src, &small),
			 KC_ERR_INVALID_ARG); /* length differs */
	ck_assert_int_eq(kc_writer_splice(&w, &src, &w), KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_writer_splice(&w, &src, &src), KC_OK);
	ck_assert_uint_eq(kc_writer_pos(&w), 4 + 608 + 3);

	struct iovec iov[8];
	size_t n = kc_writer_iov(&w, iov, 8);
	ck_assert_uint_eq(n, 5); /* len | head | lent | tail | end */
	ck_assert_ptr_eq(iov[2].iov_base, lent);
	ck_assert_ptr_eq(iov[1].iov_base, src.buf);
	uint8_t flat[615], want[615];
	ck_assert_uint_eq(gather(&w, flat, sizeof flat), sizeof flat);
	kc__be32(want, 608);
	memcpy(want + 4, "head", 4);
	memcpy(want + 8, lent, sizeof lent);
	memcpy(want + 608, "tail", 4);
	memcpy(want + 612, "end", 3);
	ck_assert_mem_eq(flat, want, sizeof want);
	ck_assert_uint_eq(kc_writer_crc32c_from(&w, 2),
			  kc_crc32c(0, want + 2, sizeof want - 2));

	/* An empty source removes the placeholder. */
	kc_writer empty;
	kc_writer_init(&empty);
	kc_writer_reset(&w);
	kc__w_raw(&w, "a", 1);
	kc_writer_set_ref_threshold(&w, 1);
	kc_writer_put(&w, &empty, 0);
	ck_assert_int_eq(kc_writer_splice(&w, &empty, &empty),
			 KC_ERR_INVALID_ARG); /* a 0-byte put references nothing */
	kc_writer_free(&empty);
	kc_writer_free(&small);
	kc_writer_free(&w);
	kc_writer_free(&src);
}
END_TEST

/* Flatten gathers referenced bytes in place, keeps the owned ones in
 * order, and a rewind undoes a partial encode, references included. */
START_TEST(writer_flatten_and_rewind)
{
	static uint8_t a[700], b[900];
	memset(a, 'a', sizeof a);
	memset(b, 'b', sizeof b);
	kc_writer w;
	kc_writer_init(&w);
	kc_writer_set_ref_threshold(&w, 512);
	kc__w_raw(&w, "123", 3);
	kc__w_raw(&w, a, sizeof a);
	kc__w_raw(&w, "45", 2);
	kc__wmark m = kc__writer_mark(&w);
	kc__w_raw(&w, b, sizeof b);
	kc__w_raw(&w, "6", 1);
	uint8_t want[1606];
	ck_assert_uint_eq(gather(&w, want, sizeof want), sizeof want);
	uint32_t crc = kc_writer_crc32_from(&w, 0);
	ck_assert_int_eq(kc__writer_flatten(&w), KC_OK);
	ck_assert_ptr_nonnull(kc_writer_data(&w));
	ck_assert_uint_eq(kc_writer_pos(&w), sizeof want);
	ck_assert_mem_eq(kc_writer_data(&w), want, sizeof want);
	ck_assert_uint_eq(kc_writer_crc32_from(&w, 0), crc);

	kc_writer_reset(&w);
	kc__w_raw(&w, "123", 3);
	kc__w_raw(&w, a, sizeof a);
	kc__w_raw(&w, "45", 2);
	m = kc__writer_mark(&w);
	kc__w_raw(&w, b, sizeof b);
	kc__w_raw(&w, "6", 1);
	kc__writer_rewind(&w, m);
	ck_assert_uint_eq(kc_writer_pos(&w), 705);
	ck_assert_uint_eq(gather(&w, want, sizeof want), 705);
	ck_assert_mem_eq(want + 3, a, sizeof a);
	ck_assert_mem_eq(want + 703, "45", 2);

	th_alloc_fail_at(1);
	kc_writer_free(&w);
	kc_writer_init(&w);
	ck_assert_int_eq(kc__writer_flatten(&w), KC_OK); /* nothing lent */
	th_alloc_reset();
	kc_writer_set_ref_threshold(&w, 512);
	kc__w_raw(&w, "1", 1);
	kc__w_raw(&w, a, sizeof a);
	th_alloc_fail_at(1); /* flatten grows the buffer */
	ck_assert_int_eq(kc__writer_flatten(&w), KC_ERR_NOMEM);
	ck_assert_int_eq(kc_writer_err(&w), KC_OK);
	ck_assert_uint_eq(kc_writer_pos(&w), 701);
	ck_assert_ptr_null(kc_writer_data(&w));
	th_alloc_reset();
	kc_writer_free(&w);
}
END_TEST

START_TEST(writer_nomem_is_sticky)
{
	th_alloc_fail_at(1);
	kc_writer w;
	kc_writer_init(&w);
	kc__w_i32(&w, 1);
	kc__w_i64(&w, 2);
	ck_assert_int_eq(kc_writer_err(&w), KC_ERR_NOMEM);
	ck_assert_uint_eq(kc_writer_pos(&w), 0);
	kc_writer_free(&w);
	ck_assert_int_eq(th_alloc_live(), 0);
	th_alloc_reset();
}
END_TEST

START_TEST(writer_grows_across_many_writes)
{
	kc_writer w;
	kc_writer_init(&w);
	for (int i = 0; i < 100000; i++)
		kc__w_i32(&w, i);
	ck_assert_int_eq(kc_writer_err(&w), KC_OK);
	ck_assert_uint_eq(kc_writer_pos(&w), 400000);
	const uint8_t *d = kc_writer_data(&w);
	ck_assert_uint_eq(kc__get_be32(d + 4 * 99999), 99999);
	kc_writer_reset(&w);
	ck_assert_uint_eq(kc_writer_pos(&w), 0);
	kc_writer_free(&w);
}
END_TEST

/* ---- arena ------------------------------------------------------------------ */

START_TEST(arena_alignment_limit_and_reset)
{
	kc_arena a;
	kc_arena_init(&a);
	for (int i = 1; i < 2000; i++) {
		uint8_t *p = kc_arena_alloc(&a, (size_t)i % 61 + 1);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % 8, 0);
		memset(p, 0xee, (size_t)i % 61 + 1);
	}
	void *big = kc_arena_alloc(&a, 1 << 20);
	ck_assert_ptr_nonnull(big);
	kc_arena_reset(&a);
	ck_assert_uint_eq(a.used, 0);
	a.limit = 1024;
	ck_assert_ptr_nonnull(kc_arena_alloc(&a, 1000));
	ck_assert_ptr_null(kc_arena_alloc(&a, 100));
	ck_assert_ptr_null(kc_arena_alloc(&a, SIZE_MAX - 3));
	kc_arena_free(&a);

	th_alloc_fail_at(1);
	kc_arena_init(&a);
	ck_assert_ptr_null(kc_arena_alloc(&a, 8));
	kc_arena_free(&a);
	ck_assert_int_eq(th_alloc_live(), 0);
	th_alloc_reset();
}
END_TEST

/* ---- slices and names ---------------------------------------------------------- */

START_TEST(slices_and_error_names)
{
	ck_assert(kc_str_eq(kc_str_c("abc"), KC_STR_LIT("abc")));
	ck_assert(!kc_str_eq(kc_str_c("abc"), KC_STR_NULL));
	ck_assert(kc_str_eq(kc_str_c(NULL), KC_STR_NULL));
	ck_assert(kc_bytes_eq(kc_bytes_of("", 0), kc_bytes_of("x", 0)));
	ck_assert(!kc_bytes_eq(kc_bytes_of("", 0), KC_BYTES_NULL));
	ck_assert_str_eq(kc_err_name(KC_ERR_CRC), "KC_ERR_CRC");
	ck_assert_str_eq(kc_kafka_err_name(6), "NOT_LEADER_OR_FOLLOWER");
	ck_assert_str_eq(kc_kafka_err_name(-1), "UNKNOWN_SERVER_ERROR");
	ck_assert_str_eq(kc_kafka_err_name(9999), "UNKNOWN");
	ck_assert(kc_kafka_err_retriable(6));
	ck_assert(!kc_kafka_err_retriable(10));
	int16_t code = 0;
	ck_assert_int_eq(kc_kafka_err_code("NOT_LEADER_OR_FOLLOWER", 22, &code), KC_OK);
	ck_assert_int_eq(code, 6);
	ck_assert_int_eq(kc_kafka_err_code("unknown_server_errorX", 20, &code), KC_OK);
	ck_assert_int_eq(code, -1);
	ck_assert_int_eq(kc_kafka_err_code("NOT_LEADER", 10, &code), KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_kafka_err_code("NONE_", 5, &code), KC_ERR_INVALID_ARG);
	ck_assert_int_eq(code, -1);

	kc_decode_error e = {KC_ERR_TRUNCATED, 17, "ProduceRequest.acks", 0};
	char buf[128];
	kc_decode_error_format(&e, buf, sizeof buf);
	ck_assert_str_eq(buf, "ProduceRequest.acks at offset 17: input ended inside a field");
}
END_TEST

static Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, uvarint_golden);
	tcase_add_test(tc, varint_golden);
	tcase_add_test(tc, varint_extremes_round_trip);
	tcase_add_test(tc, varint_overlong_and_truncated);
	tcase_add_test(tc, fixed_reads_are_bounded);
	tcase_add_test(tc, count_checked_before_allocation);
	tcase_add_test(tc, sub_reader_limits_and_errors);
	tcase_add_test(tc, writer_reserve_patch_and_crc);
	tcase_add_test(tc, writer_iovec_mode_references_large_values);
	tcase_add_test(tc, writer_splice_replaces_placeholder);
	tcase_add_test(tc, writer_flatten_and_rewind);
	tcase_add_test(tc, writer_nomem_is_sticky);
	tcase_add_test(tc, writer_grows_across_many_writes);
	tcase_add_test(tc, arena_alignment_limit_and_reset);
	tcase_add_test(tc, slices_and_error_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(buf_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
