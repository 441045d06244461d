/*
 * Check suite for the mock broker's partition log
 * (mockbroker/src/partition_log.c): offsets assigned on append for every
 * record format, LogAppendTime rewriting with valid CRCs, retention and
 * segment lifetime, Fetch spans, timestamp lookups, allocation failures.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "kafkit/codec.h"
#include "mock_client.h"
#include "partition_log.h"

static const km__append V2 = {.magic = 2, .log_append_time = -1,
			      .leader_epoch = 7};

/* Every record of the log, walked back from its stored bytes with a
 * strict iterator (CRCs verified). */
typedef struct seen {
	int n;
	int64_t offsets[64];
	int64_t ts[64];
	char keys[64][16];
	int lat[64];
	int32_t seq[64];
	int32_t epoch[64];
} seen;

static int collect(void *opaque, const km_record *r)
{
	seen *s = opaque;
	ck_assert_int_lt(s->n, 64);
	s->offsets[s->n] = r->offset;
	s->ts[s->n] = r->timestamp;
	snprintf(s->keys[s->n], 16, "%.*s", r->key.len, (const char *)r->key.ptr);
	s->lat[s->n] = r->log_append_time;
	s->seq[s->n] = r->sequence;
	s->epoch[s->n] = r->partition_leader_epoch;
	s->n++;
	return 0;
}

/* Append a batch made by mc_batch(magic, ...) and check its base. */
static void add(km__plog *l, const km__append *a, int magic, int codec,
		int first, int n, int64_t ts0, int64_t pid, int16_t epoch,
		int32_t seq, int64_t want_base)
{
	size_t len;
	uint8_t *data = mc_batch(magic, codec, first, n, ts0, pid, epoch, seq,
				 &len);
	int64_t base = -99;
	ck_assert_int_eq(km__plog_append(l, data, len, a, &base), KC_OK);
	ck_assert_int_eq(base, want_base);
	free(data);
}

START_TEST(v2_offsets_and_epoch)
{
	km__plog l;
	km__plog_init(&l, 0, 0);
	add(&l, &V2, 2, KC_CODEC_NONE, 0, 3, 1000, 9, 1, 0, 0);
	add(&l, &V2, 2, KC_CODEC_ZSTD, 3, 2, 2000, 9, 1, 3, 3);
	ck_assert_int_eq(l.end_offset, 5);
	ck_assert_int_eq(l.log_start, 0);
	ck_assert_uint_eq(l.count, 2);
	seen s = {0};
	ck_assert_int_eq(km__plog_walk(&l, collect, &s), KC_OK);
	ck_assert_int_eq(s.n, 5);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(s.offsets[i], i);
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		ck_assert_str_eq(s.keys[i], k);
		ck_assert_int_eq(s.seq[i], i);
		ck_assert_int_eq(s.epoch[i], 7);
		ck_assert(!s.lat[i]);
	}
	ck_assert_int_eq(s.ts[4], 2001);
	km__plog_free(&l);
}
END_TEST

START_TEST(v2_log_append_time)
{
	km__plog l;
	km__plog_init(&l, 0, 0);
	km__append a = V2;
	a.log_append_time = 123456789;
	add(&l, &a, 2, KC_CODEC_GZIP, 0, 3, 1000, -1, -1, -1, 0);
	/* The stored bytes verify (walk is CRC-strict) and every record
	 * carries the append time. */
	seen s = {0};
	ck_assert_int_eq(km__plog_walk(&l, collect, &s), KC_OK);
	ck_assert_int_eq(s.n, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(s.ts[i], 123456789);
		ck_assert(s.lat[i]);
		ck_assert_int_eq(s.seq[i], -1);
	}
	ck_assert_int_eq(km__plog_at(&l, 0)->max_timestamp, 123456789);
	km__plog_free(&l);
}
END_TEST

START_TEST(legacy_offsets_every_codec)
{
	for (int magic = 0; magic <= 1; magic++) {
		for (int codec = 0; codec <= KC_CODEC_LZ4; codec++) {
			km__plog l;
			km__plog_init(&l, 0, 0);
			km__append a = {.magic = magic, .log_append_time = -1};
			add(&l, &a, magic, codec, 0, 4, 500, -1, -1, -1, 0);
			add(&l, &a, magic, codec, 4, 3, 600, -1, -1, -1, 4);
			seen s = {0};
			ck_assert_int_eq(km__plog_walk(&l, collect, &s), KC_OK);
			ck_assert_int_eq(s.n, 7);
			for (int i = 0; i < 7; i++) {
				ck_assert_msg(s.offsets[i] == i,
					      "magic %d codec %d: record %d at %lld",
					      magic, codec, i,
					      (long long)s.offsets[i]);
				ck_assert_int_eq(s.ts[i], magic ? (i < 4 ? 500 + i : 600 + i - 4) : -1);
			}
			ck_assert_int_eq(km__plog_at(&l, 1)->base_offset, 4);
			ck_assert_int_eq(km__plog_at(&l, 1)->last_offset, 6);
			km__plog_free(&l);
		}
	}
}
END_TEST

START_TEST(legacy_log_append_time)
{
	for (int codec = 0; codec <= KC_CODEC_SNAPPY; codec += 2) {
		km__plog l;
		km__plog_init(&l, 0, 0);
		km__append a = {.magic = 1, .log_append_time = 777};
		add(&l, &a, 1, codec, 0, 3, 5, -1, -1, -1, 0);
		seen s = {0};
		ck_assert_int_eq(km__plog_walk(&l, collect, &s), KC_OK);
		ck_assert_int_eq(s.n, 3);
		for (int i = 0; i < 3; i++) {
			ck_assert_int_eq(s.ts[i], 777);
			ck_assert(s.lat[i]);
		}
		km__plog_free(&l);
	}
}
END_TEST

START_TEST(rejects_garbage)
{
	km__plog l;
	km__plog_init(&l, 0, 0);
	uint8_t junk[80] = {0};
	int64_t base;
	ck_assert_int_eq(km__plog_append(&l, junk, 10, &V2, &base),
			 KC_ERR_INVALID_ARG);
	km__append a = {.magic = 1, .log_append_time = -1};
	ck_assert_int_eq(km__plog_append(&l, junk, sizeof junk, &a, &base),
			 KC_ERR_INVALID_ARG);
	a.magic = 3;
	ck_assert_int_eq(km__plog_append(&l, junk, sizeof junk, &a, &base),
			 KC_ERR_INVALID_ARG);
	ck_assert_uint_eq(l.count, 0);
	ck_assert_int_eq(l.end_offset, 0);
	km__plog_free(&l);
}
END_TEST

START_TEST(retention_by_batches_and_bytes)
{
	km__plog l;
	km__plog_init(&l, 0, 3);
	for (int i = 0; i < 10; i++)
		add(&l, &V2, 2, KC_CODEC_NONE, 2 * i, 2, 0, -1, -1, -1, 2 * i);
	ck_assert_uint_eq(l.count, 3);
	ck_assert_int_eq(l.log_start, 14);
	ck_assert_int_eq(l.end_offset, 20);
	seen s = {0};
	ck_assert_int_eq(km__plog_walk(&l, collect, &s), KC_OK);
	ck_assert_int_eq(s.n, 6);
	ck_assert_int_eq(s.offsets[0], 14);
	km__plog_free(&l);

	/* by bytes: stays within the limit, newest batch always kept */
	km__plog_init(&l, 300, 0);
	for (int i = 0; i < 50; i++)
		add(&l, &V2, 2, KC_CODEC_NONE, i, 1, 0, -1, -1, -1, i);
	ck_assert_uint_le(l.bytes, 300);
	ck_assert_uint_ge(l.count, 1);
	ck_assert_int_eq(l.log_start, km__plog_at(&l, 0)->base_offset);
	km__plog_free(&l);
	km__plog_init(&l, 10, 0);
	add(&l, &V2, 2, KC_CODEC_NONE, 0, 5, 0, -1, -1, -1, 0);
	ck_assert_uint_eq(l.count, 1);
	km__plog_free(&l);
}
END_TEST

START_TEST(spans_and_segment_refs)
{
	km__plog l;
	km__plog_init(&l, 0, 2);
	for (int i = 0; i < 4; i++)
		add(&l, &V2, 2, KC_CODEC_NONE, 3 * i, 3, 0, -1, -1, -1, 3 * i);
	/* the log holds offsets 6..11 in two batches */
	size_t n0 = km__plog_at(&l, 0)->len, n1 = km__plog_at(&l, 1)->len;
	km__span sp;
	km__plog_read(&l, 7, 1 << 20, false, &sp);
	ck_assert_uint_eq(sp.len, n0 + n1);
	ck_assert_ptr_eq(sp.p, km__plog_at(&l, 0)->seg->data +
				       km__plog_at(&l, 0)->pos);
	ck_assert_int_eq(sp.max_magic, 2);
	ck_assert(!sp.has_zstd);
	km__plog_read(&l, 9, n1 + 1, false, &sp);
	ck_assert_uint_eq(sp.len, n1);
	km__plog_read(&l, 6, n0 + n1 - 1, false, &sp);
	ck_assert_uint_eq(sp.len, n0);
	km__plog_read(&l, 6, 10, true, &sp);
	ck_assert_uint_eq(sp.len, n0);
	km__plog_read(&l, 6, 10, false, &sp);
	ck_assert_uint_eq(sp.len, 10);
	km__plog_read(&l, 12, 1000, true, &sp);
	ck_assert_uint_eq(sp.len, 0);
	ck_assert_ptr_null(sp.seg);

	/* A referenced segment outlives retention and the log. */
	km__plog_read(&l, 6, 1 << 20, false, &sp);
	km__segment_ref(sp.seg);
	uint8_t *copy = malloc(sp.len);
	memcpy(copy, sp.p, sp.len);
	const uint8_t *p = sp.p;
	km__plog_free(&l);
	ck_assert_mem_eq(p, copy, sp.len);
	km__segment_unref(sp.seg);
	free(copy);
}
END_TEST

START_TEST(segments_split_large_batches)
{
	km__plog l;
	km__plog_init(&l, 0, 0);
	/* batches bigger than the first segments get their own */
	static uint8_t big[6000];
	kc_batch_config cfg;
	kc_batch_config_default(&cfg);
	kc_batch_builder b;
	ck_assert_int_eq(kc_batch_builder_init(&b, &cfg), KC_OK);
	ck_assert_int_eq(kc_batch_append(&b, 1, KC_BYTES_NULL,
					 kc_bytes_of(big, sizeof big), NULL, 0),
			 KC_OK);
	const uint8_t *p;
	size_t n;
	ck_assert_int_eq(kc_batch_seal(&b, &p, &n), KC_OK);
	int64_t base;
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(km__plog_append(&l, p, n, &V2, &base), KC_OK);
		ck_assert_int_eq(base, i);
	}
	ck_assert_ptr_ne(km__plog_at(&l, 0)->seg, km__plog_at(&l, 1)->seg);
	km__span sp;
	km__plog_read(&l, 0, 1 << 20, false, &sp);
	ck_assert_uint_eq(sp.len, n); /* one segment per read */
	kc_batch_builder_free(&b);
	km__plog_free(&l);
}
END_TEST

START_TEST(timestamp_lookups)
{
	km__plog l;
	km__plog_init(&l, 0, 0);
	add(&l, &V2, 2, KC_CODEC_NONE, 0, 3, 100, -1, -1, -1, 0); /* ts 100..102 */
	add(&l, &V2, 2, KC_CODEC_LZ4, 3, 3, 50, -1, -1, -1, 3); /* ts 50..52 */
	add(&l, &V2, 2, KC_CODEC_NONE, 6, 2, 200, -1, -1, -1, 6); /* ts 200..201 */
	int64_t off, ts;
	ck_assert_int_eq(km__plog_offset_for_time(&l, 101, &off, &ts), KC_OK);
	ck_assert_int_eq(off, 1);
	ck_assert_int_eq(ts, 101);
	ck_assert_int_eq(km__plog_offset_for_time(&l, 51, &off, &ts), KC_OK);
	ck_assert_int_eq(off, 0);
	ck_assert_int_eq(ts, 100);
	ck_assert_int_eq(km__plog_offset_for_time(&l, 103, &off, &ts), KC_OK);
	ck_assert_int_eq(off, 6);
	ck_assert_int_eq(km__plog_offset_for_time(&l, 202, &off, &ts), KC_OK);
	ck_assert_int_eq(off, -1);
	ck_assert_int_eq(ts, -1);
	ck_assert_int_eq(km__plog_max_timestamp(&l, &off, &ts), KC_OK);
	ck_assert_int_eq(off, 7);
	ck_assert_int_eq(ts, 201);
	km__plog_free(&l);
	km__plog_init(&l, 0, 0);
	ck_assert_int_eq(km__plog_max_timestamp(&l, &off, &ts), KC_OK);
	ck_assert_int_eq(off, -1);
	km__plog_free(&l);
}
END_TEST

static int stop_at_two(void *opaque, const km_record *r)
{
	int *n = opaque;
	(void)r;
	return ++*n == 2;
}

START_TEST(walk_stops)
{
	km__plog l;
	km__plog_init(&l, 0, 0);
	add(&l, &V2, 2, KC_CODEC_NONE, 0, 5, 0, -1, -1, -1, 0);
	int count = 0;
	ck_assert_int_eq(km__plog_walk(&l, stop_at_two, &count), KC_OK);
	ck_assert_int_eq(count, 2);
	km__plog_free(&l);
}
END_TEST

/* v2 batches kept in place (in an input block) and copied ones
 * interleave: offsets run on, the kept bytes are patched where they lie
 * (LogAppendTime with a valid CRC), reads stop at every change of
 * segment, and the block lives while the log or a response needs it. */
START_TEST(in_place_batches)
{
	size_t na, nb;
	uint8_t *a = mc_batch(2, KC_CODEC_NONE, 3, 3, 10, -1, -1, -1, &na);
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 6, 3, 20, -1, -1, -1, &nb);
	kn__block *blk = kn__block_new(16 + na + nb);
	ck_assert_ptr_nonnull(blk);
	uint8_t *pa = kn__block_data(blk) + 16, *pb = pa + na;
	memcpy(pa, a, na);
	memcpy(pb, b, nb);
	km__append lat = V2;
	lat.log_append_time = 12345;
	km__plog l;
	km__plog_init(&l, 0, 0);
	int64_t base = -1;
	add(&l, &V2, 2, KC_CODEC_NONE, 0, 3, 0, -1, -1, -1, 0);
	ck_assert_int_eq(km__plog_append_in_place(&l, pa, na, &V2, blk, &base),
			 KC_OK);
	ck_assert_int_eq(base, 3);
	ck_assert_int_eq(km__plog_append_in_place(&l, pb, nb, &lat, blk, &base),
			 KC_OK);
	ck_assert_int_eq(base, 6);
	add(&l, &V2, 2, KC_CODEC_NONE, 9, 3, 30, -1, -1, -1, 9);
	ck_assert_int_eq(l.end_offset, 12);
	/* patched in place: baseOffset 3, partitionLeaderEpoch 7 */
	ck_assert_ptr_eq(km__plog_at(&l, 1)->seg->data, pa);
	ck_assert_int_eq(pa[7], 3);
	ck_assert_int_eq(pa[15], 7);
	ck_assert_int_eq(pb[7], 6);
	seen s = {0};
	ck_assert_int_eq(km__plog_walk(&l, collect, &s), KC_OK);
	ck_assert_int_eq(s.n, 12);
	for (int i = 0; i < 12; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		ck_assert_int_eq(s.offsets[i], i);
		ck_assert_str_eq(s.keys[i], k);
		ck_assert_int_eq(s.lat[i], i >= 6 && i < 9);
		ck_assert_int_eq(s.ts[i], i >= 6 && i < 9 ? 12345
					  : i < 3 ? i : i < 6 ? 10 + i - 3
							      : 30 + i - 9);
	}
	km__span sp;
	km__plog_read(&l, 0, 1 << 20, false, &sp);
	ck_assert_uint_eq(sp.len, km__plog_at(&l, 0)->len);
	km__plog_read(&l, 4, 1 << 20, false, &sp);
	ck_assert_ptr_eq(sp.p, pa);
	ck_assert_uint_eq(sp.len, na);
	km__plog_read(&l, 8, 1 << 20, false, &sp);
	ck_assert_ptr_eq(sp.p, pb);
	km__plog_read(&l, 9, 1 << 20, false, &sp);
	ck_assert_uint_eq(sp.len, km__plog_at(&l, 3)->len);

	/* The caller's reference goes; a response still sending b keeps the
	 * block past the log's end. */
	km__plog_read(&l, 6, 1 << 20, false, &sp);
	km__segment_ref(sp.seg);
	kn__block_unref(blk);
	km__plog_free(&l);
	ck_assert_int_eq(pb[7], 6);
	km__segment_unref(sp.seg);
	free(a);
	free(b);
}
END_TEST

/* Retention releases kept blocks with their batches. */
START_TEST(in_place_retention)
{
	size_t n;
	uint8_t *a = mc_batch(2, KC_CODEC_NONE, 0, 3, 10, -1, -1, -1, &n);
	th_alloc_fail_at(0);
	km__plog l;
	km__plog_init(&l, 0, 2);
	for (int i = 0; i < 6; i++) {
		kn__block *blk = kn__block_new(n);
		ck_assert_ptr_nonnull(blk);
		memcpy(kn__block_data(blk), a, n);
		int64_t base;
		ck_assert_int_eq(km__plog_append_in_place(
					 &l, kn__block_data(blk), n, &V2, blk,
					 &base),
				 KC_OK);
		ck_assert_int_eq(base, 3 * i);
		kn__block_unref(blk);
		ck_assert_uint_le(l.count, 2);
	}
	/* two batches: their blocks and segments, and the index */
	ck_assert_int_eq(th_alloc_live(), 5);
	ck_assert_int_eq(l.log_start, 12);
	km__plog_free(&l);
	ck_assert_int_eq(th_alloc_live(), 0);
	th_alloc_reset();
	free(a);
}
END_TEST

/* Every allocation of append failing in turn leaves the log unchanged
 * and nothing leaked. */
START_TEST(append_alloc_failures)
{
	size_t n2, n0;
	uint8_t *v2 = mc_batch(2, KC_CODEC_NONE, 0, 3, 0, -1, -1, -1, &n2);
	uint8_t *v0 = mc_batch(0, KC_CODEC_GZIP, 0, 3, 0, -1, -1, -1, &n0);
	for (unsigned long fail = 1; fail < 200; fail++) {
		th_alloc_fail_at(fail);
		km__plog l;
		km__plog_init(&l, 0, 1);
		int64_t base;
		kc_err e1 = km__plog_append(&l, v2, n2, &V2, &base);
		km__append a0 = {.magic = 0, .log_append_time = -1};
		kc_err e2 = km__plog_append(&l, v0, n0, &a0, &base);
		unsigned long used = th_alloc_count();
		if (e1 != KC_OK)
			ck_assert_uint_eq(l.count, 0);
		if (e2 != KC_OK)
			ck_assert_int_eq(l.end_offset, e1 == KC_OK ? 3 : 0);
		else
			ck_assert_int_eq(l.end_offset, e1 == KC_OK ? 6 : 3);
		km__plog_free(&l);
		ck_assert_int_eq(th_alloc_live(), 0);
		th_alloc_reset();
		if (used < fail)
			break;
	}
	free(v2);
	free(v0);
}
END_TEST

/* A failed in-place append leaves the log, the bytes and the block's
 * references as they were. */
START_TEST(in_place_alloc_failures)
{
	size_t n;
	uint8_t *a = mc_batch(2, KC_CODEC_NONE, 0, 3, 10, -1, -1, -1, &n);
	for (unsigned long fail = 1; fail < 20; fail++) {
		th_alloc_fail_at(0);
		kn__block *blk = kn__block_new(n);
		ck_assert_ptr_nonnull(blk);
		memcpy(kn__block_data(blk), a, n);
		km__plog l;
		km__plog_init(&l, 0, 0);
		add(&l, &V2, 2, KC_CODEC_NONE, 0, 1, 0, -1, -1, -1, 0);
		/* the counters restart: what is live now is freed below */
		long before = th_alloc_live();
		th_alloc_fail_at(fail);
		int64_t base;
		kc_err e = km__plog_append_in_place(&l, kn__block_data(blk), n,
						    &V2, blk, &base);
		unsigned long used = th_alloc_count();
		if (e != KC_OK) {
			ck_assert_int_eq(e, KC_ERR_NOMEM);
			ck_assert_uint_eq(l.count, 1);
			ck_assert_int_eq(l.end_offset, 1);
			ck_assert_mem_eq(kn__block_data(blk), a, n);
		} else {
			ck_assert_int_eq(base, 1);
		}
		kn__block_unref(blk);
		km__plog_free(&l);
		ck_assert_int_eq(th_alloc_live(), -before);
		th_alloc_reset();
		if (used < fail)
			break;
	}
	free(a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_partition_log");
	TCase *t = tcase_create("core");
	tcase_add_test(t, v2_offsets_and_epoch);
	tcase_add_test(t, v2_log_append_time);
	tcase_add_test(t, legacy_offsets_every_codec);
	tcase_add_test(t, legacy_log_append_time);
	tcase_add_test(t, rejects_garbage);
	tcase_add_test(t, retention_by_batches_and_bytes);
	tcase_add_test(t, spans_and_segment_refs);
	tcase_add_test(t, segments_split_large_batches);
	tcase_add_test(t, timestamp_lookups);
	tcase_add_test(t, walk_stops);
	tcase_add_test(t, append_alloc_failures);
	tcase_add_test(t, in_place_batches);
	tcase_add_test(t, in_place_retention);
	tcase_add_test(t, in_place_alloc_failures);
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
