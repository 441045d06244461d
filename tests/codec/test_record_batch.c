/* Batch builder, RecordBatch v2: byte-exact output against golden vectors,
 * header fields, size accounting, every codec round trip, buffer reuse
 * without allocation, failing allocations. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf_int.h"
#include "helpers.h"
#include "kafkit/crc.h"
#include "kafkit/records.h"

static void cfg_broker(kc_batch_config *c, int64_t base, int32_t epoch)
{
	kc_batch_config_default(c);
	c->base_offset = base;
	c->partition_leader_epoch = epoch;
}

START_TEST(config_defaults)
{
	kc_batch_config c;
	memset(&c, 0x5a, sizeof c);
	kc_batch_config_default(&c);
	ck_assert_int_eq(c.magic, 2);
	ck_assert_int_eq(c.codec, KC_CODEC_NONE);
	ck_assert_int_eq(c.level, KC_LEVEL_DEFAULT);
	ck_assert_int_eq(c.base_offset, 0);
	ck_assert_int_eq(c.partition_leader_epoch, -1);
	ck_assert_int_eq(c.producer_id, -1);
	ck_assert_int_eq(c.producer_epoch, -1);
	ck_assert_int_eq(c.base_sequence, -1);
	ck_assert(!c.transactional);
	ck_assert(!c.log_append_time);
}
END_TEST

START_TEST(init_rejects)
{
	kc_batch_config c;
	kc_batch_builder b;
	kc_batch_config_default(&c);
	c.magic = 3;
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_ERR_INVALID_ARG);
	kc_batch_builder_free(&b);
	c.magic = -1;
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_ERR_INVALID_ARG);
	c.magic = 2;
	c.codec = 5;
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_ERR_INVALID_ARG);
	c.codec = KC_CODEC_ZSTD;
	c.magic = 1;
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_ERR_INVALID_ARG);
	c.magic = 0;
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_ERR_INVALID_ARG);
	c.magic = 2;
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	ck_assert_int_eq(kc_batch_count(&b), 0);
	ck_assert_uint_eq(kc_batch_bytes(&b), 0);
	kc_batch_builder_free(&b);
}
END_TEST

START_TEST(append_rejects)
{
	kc_batch_config c;
	kc_batch_builder b;
	kc_batch_config_default(&c);
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	kc_rec_header h = {KC_STR_NULL, KC_BYTES_NULL};
	ck_assert_int_eq(kc_batch_append(&b, 1, KC_BYTES_NULL, th_bstr("v"), &h,
					 1),
			 KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_batch_append(&b, 1, KC_BYTES_NULL, th_bstr("v"),
					 NULL, 1),
			 KC_ERR_INVALID_ARG);
	kc_bytes bad = {(const uint8_t *)"x", -2};
	ck_assert_int_eq(kc_batch_append(&b, 1, bad, th_bstr("v"), NULL, 0),
			 KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_batch_count(&b), 0);
	ck_assert_int_eq(kc_batch_append(&b, 1, KC_BYTES_NULL, th_bstr("v"),
					 NULL, 0),
			 KC_OK);
	const uint8_t *out;
	size_t n;
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	/* Sealed: no more appends. */
	ck_assert_int_eq(kc_batch_append(&b, 1, KC_BYTES_NULL, th_bstr("v"),
					 NULL, 0),
			 KC_ERR_INVALID_ARG);
	kc_batch_builder_free(&b);
}
END_TEST

/* kafka-python's broker data, rebuilt byte for byte. */
START_TEST(exact_r7_r9)
{
	kc_batch_config c;
	kc_batch_builder b;
	const uint8_t *out;
	size_t n;
	cfg_broker(&c, 0, 1);
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	ck_assert_int_eq(kc_batch_append(&b, 1503229838908LL, KC_BYTES_NULL,
					 th_bstr("123"), NULL, 0),
			 KC_OK);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	th_assert_hex(out, n,
		   "00000000000000000000003b00000001020318a2700000000000000000015dff"
		   "7b063c0000015dff7b063cffffffffffffffffffffffffffff00000001120000"
		   "00010631323300");
	kc_batch_builder_free(&b);

	cfg_broker(&c, 3, 2);
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	ck_assert_int_eq(kc_batch_append(&b, 1503229962141LL, KC_BYTES_NULL,
					 th_bstr("123"), NULL, 0),
			 KC_OK);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	th_assert_hex(out, n,
		   "00000000000000030000003b00000002022e0b85b70000000000000000015dff"
		   "7ce79d0000015dff7ce79dffffffffffffffffffffffffffff00000001120000"
		   "00010631323300");
	kc_batch_builder_free(&b);
}
END_TEST

/* two records, the second 168 ms later, empty (not null) values. */
START_TEST(exact_r8)
{
	kc_batch_config c;
	kc_batch_builder b;
	const uint8_t *out;
	size_t n;
	cfg_broker(&c, 1, 2);
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	kc_bytes empty = {(const uint8_t *)"", 0};
	ck_assert_int_eq(kc_batch_append(&b, 1503229959532LL, KC_BYTES_NULL,
					 empty, NULL, 0),
			 KC_OK);
	ck_assert_int_eq(kc_batch_append(&b, 1503229959700LL, KC_BYTES_NULL,
					 empty, NULL, 0),
			 KC_OK);
	ck_assert_int_eq(kc_batch_count(&b), 2);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	th_assert_hex(out, n,
		   "0000000000000001000000400000000202c85cbd230000000000010000015dff"
		   "7cdd6c0000015dff7cde14ffffffffffffffffffffffffffff000000020c0000"
		   "000100000e00d00202010000");
	kc_batch_builder_free(&b);
}
END_TEST

/* a record header. */
START_TEST(exact_r10)
{
	kc_batch_config c;
	kc_batch_builder b;
	const uint8_t *out;
	size_t n;
	cfg_broker(&c, 0, 0);
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	kc_rec_header h = {KC_STR_LIT("hkey"), th_bstr("hval")};
	ck_assert_int_eq(kc_batch_append(&b, 1535546684353LL, KC_BYTES_NULL,
					 th_bstr("hdr"), &h, 1),
			 KC_OK);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	th_assert_hex(out, n,
		   "00000000000000000000004500000000025cd8ef520000000000000000016585"
		   "b6f3c10000016585b6f3c1ffffffffffffffffffffffffffff00000001260000"
		   "0001066864720208686b6579086876616c");
	kc_batch_builder_free(&b);
}
END_TEST

/* R-3 (sarama) has baseTimestamp T, maxTimestamp 0 and timestampDelta 5:
 * placeholders no builder derives from records (baseTimestamp is the first
 * record's timestamp, maxTimestamp the max). With the same header fields
 * set and the record at T+5, every byte but those two timestamps, the CRC
 * and the record's timestampDelta is R-3's; patching those four back gives
 * R-3 exactly. */
START_TEST(exact_r3_fields)
{
	static const char r3[] =
		"0000000000000000000000460000000002547961fd000000000000000001588d"
		"cd5938000000000000000000000000000000000000000000000000000128000a"
		"00080102030406050607020608090a040b0c";
	const int64_t t = 1479847795000LL;
	kc_batch_config c;
	kc_batch_builder b;
	const uint8_t *out;
	size_t n;
	kc_batch_config_default(&c);
	c.partition_leader_epoch = 0;
	c.producer_id = 0;
	c.producer_epoch = 0;
	c.base_sequence = 0;
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	static const uint8_t key[] = {1, 2, 3, 4}, val[] = {5, 6, 7};
	static const uint8_t hk[] = {8, 9, 10}, hv[] = {11, 12};
	kc_rec_header h = {{(const char *)hk, 3}, {hv, 2}};
	ck_assert_int_eq(kc_batch_append(&b, t + 5, kc_bytes_of(key, 4),
					 kc_bytes_of(val, 3), &h, 1),
			 KC_OK);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	ck_assert_uint_eq(n, 82);
	uint8_t got[82];
	memcpy(got, out, n);
	ck_assert_int_eq((int64_t)kc__get_be64(got + 27), t + 5);
	ck_assert_int_eq((int64_t)kc__get_be64(got + 35), t + 5);
	ck_assert_uint_eq(got[63], 0x00); /* timestampDelta 0 */
	ck_assert_uint_eq(kc__get_be32(got + 17),
			  kc_crc32c(0, got + 21, n - 21));
	kc__be64(got + 27, (uint64_t)t);
	kc__be64(got + 35, 0);
	got[63] = 0x0a;
	kc__be32(got + 17, kc_crc32c(0, got + 21, n - 21));
	th_assert_hex(got, n, r3);
	kc_batch_builder_free(&b);
}
END_TEST

START_TEST(header_fields)
{
	kc_batch_config c;
	kc_batch_builder b;
	const uint8_t *out;
	size_t n;
	kc_batch_config_default(&c);
	c.base_offset = 1000;
	c.partition_leader_epoch = 7;
	c.producer_id = 123456789;
	c.producer_epoch = 3;
	c.base_sequence = 42;
	c.transactional = true;
	c.log_append_time = true;
	c.codec = KC_CODEC_GZIP;
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	/* Timestamps out of order: base = first, max = max, deltas < 0. */
	static const int64_t ts[] = {5000, 4000, 9000, 7000};
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(kc_batch_append(&b, ts[i], th_bstr("k"),
						 th_bstr("v"), NULL, 0),
				 KC_OK);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	ck_assert_int_eq((int64_t)kc__get_be64(out), 1000);
	ck_assert_int_eq((int32_t)kc__get_be32(out + 8), (int32_t)n - 12);
	ck_assert_int_eq((int32_t)kc__get_be32(out + 12), 7);
	ck_assert_int_eq(out[16], 2);
	ck_assert_uint_eq(kc__get_be32(out + 17),
			  kc_crc32c(0, out + 21, n - 21));
	ck_assert_int_eq(kc__get_be16(out + 21), 0x01 | 0x08 | 0x10);
	ck_assert_int_eq((int32_t)kc__get_be32(out + 23), 3);
	ck_assert_int_eq((int64_t)kc__get_be64(out + 27), 5000);
	ck_assert_int_eq((int64_t)kc__get_be64(out + 35), 9000);
	ck_assert_int_eq((int64_t)kc__get_be64(out + 43), 123456789);
	ck_assert_int_eq((int16_t)kc__get_be16(out + 51), 3);
	ck_assert_int_eq((int32_t)kc__get_be32(out + 53), 42);
	ck_assert_int_eq((int32_t)kc__get_be32(out + 57), 4);
	/* gzip member right after the header. */
	ck_assert_int_eq(out[61], 0x1f);
	ck_assert_int_eq(out[62], 0x8b);
	kc_batch_builder_free(&b);

	/* CreateTime: the iterator gives back each record's own time. */
	c.log_append_time = false;
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(kc_batch_append(&b, ts[i], th_bstr("k"),
						 th_bstr("v"), NULL, 0),
				 KC_OK);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info info;
	kc_record_view v;
	kc_records_iter_init(&it, out, n, KC_ITER_STRICT_END, &err);
	ck_assert_int_eq(kc_records_next_batch(&it, &info), 1);
	ck_assert_int_eq(info.base_offset, 1000);
	ck_assert_int_eq(info.last_offset, 1003);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(kc_records_next(&it, &v), 1);
		ck_assert_int_eq(v.offset, 1000 + i);
		ck_assert_int_eq(v.timestamp, ts[i]);
	}
	ck_assert_int_eq(kc_records_next(&it, &v), 0);
	kc_records_iter_free(&it);
	kc_batch_builder_free(&b);
}
END_TEST

START_TEST(empty_batch)
{
	/* No records: just the header, or the header and an empty frame. */
	for (int codec = 0; codec <= KC_CODEC_ZSTD; codec++) {
		kc_batch_config c;
		kc_batch_builder b;
		const uint8_t *out;
		size_t n;
		kc_batch_config_default(&c);
		c.codec = codec;
		ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
		ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
		if (codec == KC_CODEC_NONE)
			ck_assert_uint_eq(n, KC_BATCH_V2_HEADER_SIZE);
		ck_assert_int_eq(kc__get_be16(out + 21), codec);
		ck_assert_int_eq((int32_t)kc__get_be32(out + 23), 0);
		ck_assert_int_eq((int32_t)kc__get_be32(out + 57), 0);
		ck_assert_int_eq((int64_t)kc__get_be64(out + 27), -1);
		kc_records_iter it;
		kc_decode_error err;
		kc_batch_info info;
		kc_record_view v;
		kc_records_iter_init(&it, out, n, KC_ITER_STRICT_END, &err);
		ck_assert_int_eq(kc_records_next_batch(&it, &info), 1);
		ck_assert_int_eq(info.records_count, 0);
		ck_assert(info.crc_ok);
		ck_assert_int_eq(kc_records_next(&it, &v), 0);
		ck_assert_int_eq(kc_records_next_batch(&it, &info), 0);
		kc_records_iter_free(&it);
		kc_batch_builder_free(&b);
	}
}
END_TEST

/* Restamping a sealed batch (every codec) rewrites producerId,
 * producerEpoch and baseSequence, and nothing else but the CRC, which the
 * iterator then verifies; unsealed and legacy builders are refused. */
START_TEST(restamp)
{
	kc_batch_config c;
	kc_batch_config_default(&c);
	c.codec = _i;
	kc_batch_builder b;
	const uint8_t *out;
	size_t n;
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(kc_batch_append(&b, 5000 + i, th_bstr("k"),
						 th_bstr("restamped value"),
						 NULL, 0),
				 KC_OK);
	ck_assert_int_eq(kc_batch_restamp(&b, 1, 2, 3), KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	uint8_t *before = malloc(n);
	memcpy(before, out, n);
	ck_assert_int_eq(kc_batch_restamp(&b, 0x123456789aLL, 7, 40), KC_OK);
	const uint8_t *out2;
	size_t n2;
	ck_assert_int_eq(kc_batch_seal(&b, &out2, &n2), KC_OK);
	ck_assert_ptr_eq(out2, out);
	ck_assert_uint_eq(n2, n);
	for (size_t i = 0; i < n; i++)
		if (i < 17 || (i >= 21 && i < 43) || i >= 57)
			ck_assert_uint_eq(out[i], before[i]);
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info info;
	kc_record_view v;
	kc_records_iter_init(&it, out, n, KC_ITER_STRICT_END, &err);
	ck_assert_int_eq(kc_records_next_batch(&it, &info), 1);
	ck_assert(info.crc_ok);
	ck_assert_int_eq(info.producer_id, 0x123456789aLL);
	ck_assert_int_eq(info.producer_epoch, 7);
	ck_assert_int_eq(info.base_sequence, 40);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(kc_records_next(&it, &v), 1);
		ck_assert_int_eq(v.timestamp, 5000 + i);
	}
	ck_assert_int_eq(kc_records_next(&it, &v), 0);
	kc_records_iter_free(&it);
	free(before);
	kc_batch_builder_free(&b);

	c.codec = _i == KC_CODEC_ZSTD ? KC_CODEC_NONE : _i;
	c.magic = 1;
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	ck_assert_int_eq(kc_batch_append(&b, 1, th_bstr("k"), th_bstr("v"),
					 NULL, 0),
			 KC_OK);
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	ck_assert_int_eq(kc_batch_restamp(&b, 1, 2, 3), KC_ERR_INVALID_ARG);
	kc_batch_builder_free(&b);
}
END_TEST

/* A seal that fails for memory leaves the batch intact: retried, it gives
 * the bytes an undisturbed builder gives. */
START_TEST(seal_retry_after_failure)
{
	int codec = _i % 5, nrec = _i < 5 ? 0 : 50;
	kc_batch_config c;
	kc_batch_config_default(&c);
	c.codec = codec;
	kc_batch_builder b;
	const uint8_t *out;
	size_t n;
	uint8_t *want = NULL;
	size_t want_n = 0;
	int failures = 0;
	for (unsigned long k = 0; k < 200; k++) {
		ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
		for (int i = 0; i < nrec; i++)
			ck_assert_int_eq(kc_batch_append(&b, 1000 + i,
							 th_bstr("key"),
							 th_bstr("value value"),
							 NULL, 0),
					 KC_OK);
		th_alloc_fail_at(k);
		kc_err e = kc_batch_seal(&b, &out, &n);
		th_alloc_reset();
		if (e != KC_OK) {
			ck_assert_int_eq(e, KC_ERR_NOMEM);
			failures++;
			ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
		}
		if (!want) {
			ck_assert_int_eq(e, KC_OK); /* k == 0: no failure */
			want = malloc(n);
			memcpy(want, out, n);
			want_n = n;
		} else {
			ck_assert_uint_eq(n, want_n);
			ck_assert(memcmp(out, want, n) == 0);
		}
		kc_batch_builder_free(&b);
		if (k > 0 && e == KC_OK)
			break;
	}
	/* Only a plain batch with records seals without allocating. */
	ck_assert_int_eq(failures > 0, codec != KC_CODEC_NONE || nrec == 0);
	free(want);
}
END_TEST

START_TEST(size_accounting)
{
	kc_batch_config c;
	kc_batch_builder b;
	kc_batch_config_default(&c);
	c.codec = KC_CODEC_LZ4;
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	char big[300];
	memset(big, 'x', sizeof big);
	kc_rec_header hs[3] = {
		{KC_STR_LIT("a"), th_bstr("1")},
		{KC_STR_LIT("a-longer-header-key"), KC_BYTES_NULL},
		{KC_STR_LIT("z"), kc_bytes_of(big, 200)},
	};
	/* Widths cross varint boundaries: record lengths 63/64, 8191...,
	 * and timestamp deltas of every varlong width, negative too. */
	for (int i = 0; i < 300; i++) {
		int64_t ts = 1000000 + (i * 37) % 5000;
		if (i % 5 == 4)
			ts += (i % 2 ? 1 : -1) * ((int64_t)1 << (i % 62));
		kc_bytes key = i % 3 ? kc_bytes_of(big, (size_t)i % 70)
				     : KC_BYTES_NULL;
		kc_bytes val = kc_bytes_of(big, (size_t)(i * 7) % 300);
		size_t nh = (size_t)i % 4;
		size_t before = kc_batch_bytes(&b);
		size_t want = kc_batch_record_size(&b, ts, key, val, hs, nh);
		ck_assert_int_eq(kc_batch_append(&b, ts, key, val, hs, nh),
				 KC_OK);
		ck_assert_uint_eq(kc_batch_bytes(&b) - before, want);
	}
	size_t raw = kc_batch_bytes(&b);
	const uint8_t *out;
	size_t n;
	ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
	ck_assert_uint_lt(n, raw); /* lz4 shrank the repeats */
	ck_assert_uint_eq(kc_batch_bytes(&b), raw);
	/* Sealing again hands out the same bytes. */
	const uint8_t *out2;
	size_t n2;
	ck_assert_int_eq(kc_batch_seal(&b, &out2, &n2), KC_OK);
	ck_assert_ptr_eq(out, out2);
	ck_assert_uint_eq(n, n2);
	kc_batch_builder_free(&b);
}
END_TEST

/* Records for round trips: keys and values of many sizes, nulls, headers. */
typedef struct rt_rec {
	int64_t ts;
	kc_bytes key, value;
	kc_rec_header hdrs[2];
	size_t nh;
} rt_rec;

static uint8_t rt_data[4096];

static void rt_make(rt_rec *r, int i)
{
	static bool filled;
	for (size_t k = 0; !filled && k < sizeof rt_data; k++)
		rt_data[k] = (uint8_t)(k * 131 + k / 7);
	filled = true;
	r->ts = 1700000000000LL + i * 3 - (i % 5) * 11;
	r->key = i % 4 == 0 ? KC_BYTES_NULL
			    : kc_bytes_of(rt_data + i, (size_t)(i % 17));
	r->value = i % 9 == 5 ? KC_BYTES_NULL
			      : kc_bytes_of(rt_data + 2 * i,
					    (size_t)(i * 13) % 700);
	r->hdrs[0] = (kc_rec_header){KC_STR_LIT("trace"),
				     kc_bytes_of(rt_data, (size_t)i % 5)};
	r->hdrs[1] = (kc_rec_header){KC_STR_LIT(""), KC_BYTES_NULL};
	r->nh = (size_t)i % 3;
}

static void expect_same(kc_bytes a, kc_bytes b)
{
	ck_assert(kc_bytes_eq(a, b));
}

START_TEST(round_trip_every_codec)
{
	int codec = _i;
	kc_batch_config c;
	kc_batch_builder b;
	kc_batch_config_default(&c);
	c.codec = codec;
	c.base_offset = 77;
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	/* Two rounds through the same builder: reset keeps it working. */
	for (int round = 0; round < 2; round++) {
		int nrec = round ? 3 : 500;
		for (int i = 0; i < nrec; i++) {
			rt_rec r;
			rt_make(&r, i);
			ck_assert_int_eq(kc_batch_append(&b, r.ts, r.key,
							 r.value, r.hdrs,
							 r.nh),
					 KC_OK);
		}
		const uint8_t *out;
		size_t n;
		ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
		ck_assert_int_eq(kc__get_be16(out + 21) & 7, codec);
		uint8_t *g = th_guard_copy(out, n);
		kc_records_iter it;
		kc_decode_error err;
		kc_batch_info info;
		kc_record_view v;
		kc_records_iter_init(&it, g, n, KC_ITER_STRICT_END, &err);
		ck_assert_int_eq(kc_records_next_batch(&it, &info), 1);
		ck_assert(info.crc_ok);
		ck_assert_int_eq(info.codec, codec);
		ck_assert_int_eq(info.records_count, nrec);
		ck_assert_uint_eq(info.uncompressed_size,
				  kc_batch_bytes(&b) - 61);
		for (int i = 0; i < nrec; i++) {
			rt_rec r;
			rt_make(&r, i);
			ck_assert_int_eq(kc_records_next(&it, &v), 1);
			ck_assert_int_eq(v.offset, 77 + i);
			ck_assert_int_eq(v.timestamp, r.ts);
			expect_same(v.key, r.key);
			expect_same(v.value, r.value);
			ck_assert_int_eq(v.headers_count, (int32_t)r.nh);
			for (size_t h = 0; h < r.nh; h++) {
				ck_assert(kc_str_eq(v.headers[h].key,
						    r.hdrs[h].key));
				expect_same(v.headers[h].value,
					    r.hdrs[h].value);
			}
		}
		ck_assert_int_eq(kc_records_next(&it, &v), 0);
		ck_assert_int_eq(kc_records_next_batch(&it, &info), 0);
		kc_records_iter_free(&it);
		th_guard_free(g, n);
		kc_batch_builder_reset(&b);
		ck_assert_int_eq(kc_batch_count(&b), 0);
	}
	kc_batch_builder_free(&b);
}
END_TEST

/* Steady state: reset + append + seal of an uncompressed batch allocates
 * nothing once the buffer has grown. */
START_TEST(reuse_without_allocation)
{
	kc_batch_config c;
	kc_batch_builder b;
	kc_batch_config_default(&c);
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	uint8_t value[100];
	memset(value, 'v', sizeof value);
	kc_rec_header h = {KC_STR_LIT("h"), th_bstr("x")};
	const uint8_t *out;
	size_t n;
	th_alloc_fail_at(0);
	for (int round = 0; round < 3; round++) {
		kc_batch_builder_reset(&b);
		for (int i = 0; i < 1000; i++)
			ck_assert_int_eq(kc_batch_append(&b, i, KC_BYTES_NULL,
							 kc_bytes_of(value, 100),
							 &h, i % 2),
					 KC_OK);
		ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
		if (round == 0)
			th_alloc_fail_at(1); /* any allocation now fails */
	}
	ck_assert_uint_eq(th_alloc_count(), 0);
	th_alloc_reset();
	kc_batch_builder_free(&b);
}
END_TEST

/* Steady state with compression: snappy's library path allocates nothing
 * through the codec allocator, so after the first batch the builder's
 * compression buffer and the iterator's decompression block (kept by
 * kc_records_iter_reset) are reused and no codec allocation happens at
 * all; free then releases every one. _i: magic 2, 1, 0. */
START_TEST(compressed_reuse_without_allocation)
{
	int magic = 2 - _i;
	kc_batch_config c;
	kc_batch_builder b;
	kc_batch_config_default(&c);
	c.magic = magic;
	c.codec = KC_CODEC_SNAPPY;
	th_alloc_fail_at(0);
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	kc_records_iter it;
	kc_decode_error err;
	kc_records_iter_init(&it, NULL, 0, KC_ITER_STRICT_END, &err);
	unsigned long after_first = 0;
	enum { NREC = 300, ROUNDS = 5 };
	for (int round = 0; round < ROUNDS; round++) {
		kc_batch_builder_reset(&b);
		for (int i = 0; i < NREC; i++) {
			rt_rec r;
			rt_make(&r, i);
			ck_assert_int_eq(kc_batch_append(&b, r.ts, r.key,
							 r.value, r.hdrs,
							 magic == 2 ? r.nh : 0),
					 KC_OK);
		}
		const uint8_t *out;
		size_t n;
		ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
		kc_batch_info info;
		kc_record_view v;
		kc_records_iter_reset(&it, out, n);
		ck_assert_int_eq(kc_records_next_batch(&it, &info), 1);
		ck_assert_int_eq(info.codec, KC_CODEC_SNAPPY);
		ck_assert_int_eq(info.records_count, NREC);
		for (int i = 0; i < NREC; i++) {
			rt_rec r;
			rt_make(&r, i);
			ck_assert_int_eq(kc_records_next(&it, &v), 1);
			expect_same(v.value, r.value);
			ck_assert_int_eq(v.headers_count,
					 magic == 2 ? (int32_t)r.nh : 0);
		}
		ck_assert_int_eq(kc_records_next(&it, &v), 0);
		ck_assert_int_eq(kc_records_next_batch(&it, &info), 0);
		if (round == 0)
			after_first = th_alloc_count();
	}
	ck_assert_uint_gt(after_first, 0);
	ck_assert_uint_eq(th_alloc_count(), after_first);
	long held = th_alloc_live();
	ck_assert_int_gt(held, 0);
	kc_batch_builder_reset(&b); /* keeps its buffers for reuse ... */
	ck_assert_int_eq(th_alloc_live(), held);
	kc_batch_builder_free(&b); /* ... free gives them back */
	kc_records_iter_free(&it);
	ck_assert_int_eq(th_alloc_live(), 0);
	th_alloc_reset();
}
END_TEST

/* The batch of round `round` sealed by b, in a malloc'd copy: round 0
 * holds the most records, so the rounds after it fit its buffers. */
static uint8_t *sealed_round(kc_batch_builder *b, int magic, int round,
			     size_t *n)
{
	int nrec = round == 0 ? 300 : 200;
	for (int i = 0; i < nrec; i++) {
		rt_rec r;
		rt_make(&r, i + 37 * round);
		ck_assert_int_eq(kc_batch_append(b, r.ts, r.key, r.value,
						 r.hdrs, magic == 2 ? r.nh : 0),
				 KC_OK);
	}
	const uint8_t *out;
	ck_assert_int_eq(kc_batch_seal(b, &out, n), KC_OK);
	uint8_t *copy = malloc(*n);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, out, *n);
	return copy;
}

/* gzip, lz4 and zstd keep their library contexts in the builder across
 * kc_batch_builder_reset(): after the first batch, batches no larger
 * allocate nothing at all, and each is byte for byte the batch a fresh
 * builder seals. Freeing gives every block back. _i: gzip, lz4, zstd in
 * magic 2, then gzip and lz4 in magic 1 and 0. */
START_TEST(compression_contexts_kept_across_reset)
{
	static const int cases[][2] = {
		{KC_CODEC_GZIP, 2}, {KC_CODEC_LZ4, 2}, {KC_CODEC_ZSTD, 2},
		{KC_CODEC_GZIP, 1}, {KC_CODEC_LZ4, 1}, {KC_CODEC_GZIP, 0},
		{KC_CODEC_LZ4, 0},
	};
	enum { ROUNDS = 4 };
	kc_batch_config c;
	kc_batch_config_default(&c);
	c.codec = cases[_i][0];
	c.magic = cases[_i][1];
	uint8_t *want[ROUNDS];
	size_t want_n[ROUNDS];
	for (int round = 0; round < ROUNDS; round++) {
		kc_batch_builder fresh;
		ck_assert_int_eq(kc_batch_builder_init(&fresh, &c), KC_OK);
		want[round] = sealed_round(&fresh, c.magic, round,
					   &want_n[round]);
		kc_batch_builder_free(&fresh);
	}
	th_alloc_fail_at(0);
	kc_batch_builder b;
	ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
	unsigned long after_first = 0;
	for (int round = 0; round < ROUNDS; round++) {
		kc_batch_builder_reset(&b);
		size_t n;
		uint8_t *got = sealed_round(&b, c.magic, round, &n);
		ck_assert_uint_eq(n, want_n[round]);
		ck_assert_mem_eq(got, want[round], n);
		free(got);
		if (round == 0)
			after_first = th_alloc_count();
	}
	ck_assert_uint_gt(after_first, 0);
	ck_assert_uint_eq(th_alloc_count(), after_first);
	kc_batch_builder_free(&b);
	ck_assert_int_eq(th_alloc_live(), 0);
	th_alloc_reset();
	for (int round = 0; round < ROUNDS; round++)
		free(want[round]);
}
END_TEST

/* kc_batch_seal_with(): builders sealing with one caller's compressor
 * give the bytes kc_batch_seal() gives, keep no contexts or compression
 * buffer of their own, and freeing the compressor and builders frees
 * everything.
 * _i: gzip, lz4, zstd. */
START_TEST(seal_with_a_shared_compressor)
{
	static const int codecs[] = {KC_CODEC_GZIP, KC_CODEC_LZ4,
				     KC_CODEC_ZSTD};
	kc_batch_config c;
	kc_batch_config_default(&c);
	c.codec = codecs[_i];
	kc_compressor *cc = NULL;
	th_alloc_fail_at(0);
	for (int round = 0; round < 3; round++) {
		kc_batch_builder own, shared;
		ck_assert_int_eq(kc_batch_builder_init(&own, &c), KC_OK);
		ck_assert_int_eq(kc_batch_builder_init(&shared, &c), KC_OK);
		size_t n;
		uint8_t *want = sealed_round(&own, 2, round, &n);
		for (int i = 0; i < (round == 0 ? 300 : 200); i++) {
			rt_rec r;
			rt_make(&r, i + 37 * round);
			ck_assert_int_eq(kc_batch_append(&shared, r.ts, r.key,
							 r.value, r.hdrs, r.nh),
					 KC_OK);
		}
		const uint8_t *out;
		size_t len;
		ck_assert_int_eq(kc_batch_seal_with(&shared, &cc, &out, &len),
				 KC_OK);
		ck_assert_ptr_nonnull(cc);
		/* Neither contexts nor a compression buffer of its own. */
		ck_assert_ptr_null(shared.cc);
		ck_assert_ptr_null(shared.z.buf);
		ck_assert_uint_eq(len, n);
		ck_assert_mem_eq(out, want, n);
		free(want);
		kc_batch_builder_free(&own);
		kc_batch_builder_free(&shared);
	}
	kc_compressor_free(cc);
	ck_assert_int_eq(th_alloc_live(), 0);
	th_alloc_reset();
}
END_TEST

/* The sealed batch in a malloc'd copy, gathered from its iovec entries
 * when it references the caller's bytes. */
static uint8_t *sealed_copy(kc_batch_builder *b, size_t *n)
{
	const uint8_t *out;
	if (kc_batch_seal(b, &out, n) != KC_OK)
		return NULL;
	uint8_t *copy = malloc(*n ? *n : 1);
	if (out) {
		memcpy(copy, out, *n);
		return copy;
	}
	const kc_writer *w = kc_batch_output(b);
	size_t k = kc_writer_iov(w, NULL, 0);
	struct iovec *iov = malloc(k * sizeof *iov);
	ck_assert_uint_eq(kc_writer_iov(w, iov, k), k);
	size_t at = 0;
	for (size_t i = 0; i < k; i++) {
		memcpy(copy + at, iov[i].iov_base, iov[i].iov_len);
		at += iov[i].iov_len;
	}
	ck_assert_uint_eq(at, *n);
	free(iov);
	return copy;
}

static bool inside(const void *p, const void *base, size_t n)
{
	const uint8_t *u = p, *b = base;
	return u >= b && u < b + n;
}

/* Lending key and value gives the bytes copying gives, for every codec
 * and record format, before and after a restamp; without a codec the
 * batch's iovec entries point at the caller's values and never at header
 * bytes, which are always copied. */
START_TEST(append_ref_same_bytes)
{
	static uint8_t hdr_value[200];
	memset(hdr_value, 'h', sizeof hdr_value);
	static const size_t ref_mins[] = {0, 1, 64, 600};
	for (int magic = 0; magic <= 2; magic++) {
		if (_i == KC_CODEC_ZSTD && magic < 2)
			continue;
		for (size_t m = 0; m < sizeof ref_mins / sizeof *ref_mins;
		     m++) {
			kc_batch_config c;
			kc_batch_config_default(&c);
			c.codec = _i;
			c.magic = magic;
			kc_batch_builder copied, lent;
			ck_assert_int_eq(kc_batch_builder_init(&copied, &c),
					 KC_OK);
			ck_assert_int_eq(kc_batch_builder_init(&lent, &c),
					 KC_OK);
			for (int i = 0; i < 300; i++) {
				rt_rec r;
				rt_make(&r, i);
				if (magic < 2)
					r.nh = 0;
				else if (r.nh)
					r.hdrs[0].value =
						kc_bytes_of(hdr_value,
							    (size_t)i % 201);
				ck_assert_int_eq(
					kc_batch_append(&copied, r.ts, r.key,
							r.value, r.hdrs, r.nh),
					KC_OK);
				ck_assert_int_eq(
					kc_batch_append_ref(&lent, r.ts, r.key,
							    r.value, r.hdrs,
							    r.nh, ref_mins[m]),
					KC_OK);
				ck_assert_uint_eq(kc_batch_bytes(&lent),
						  kc_batch_bytes(&copied));
			}
			size_t n1, n2;
			uint8_t *want = sealed_copy(&copied, &n1);
			uint8_t *got = sealed_copy(&lent, &n2);
			ck_assert_uint_eq(n1, n2);
			ck_assert_mem_eq(got, want, n1);
			const uint8_t *out;
			ck_assert_int_eq(kc_batch_seal(&lent, &out, &n2),
					 KC_OK);
			bool lends = magic == 2 && _i == KC_CODEC_NONE;
			ck_assert(lends == (out == NULL));
			if (lends) {
				const kc_writer *w = kc_batch_output(&lent);
				size_t k = kc_writer_iov(w, NULL, 0);
				struct iovec *iov = malloc(k * sizeof *iov);
				kc_writer_iov(w, iov, k);
				size_t lent_values = 0;
				for (size_t i = 0; i < k; i++) {
					ck_assert(!inside(iov[i].iov_base,
							  hdr_value,
							  sizeof hdr_value));
					lent_values += inside(iov[i].iov_base,
							      rt_data,
							      sizeof rt_data);
				}
				ck_assert_uint_gt(lent_values, 10);
				free(iov);
			}
			if (magic == 2) {
				ck_assert_int_eq(kc_batch_restamp(&copied, 9,
								  8, 7),
						 KC_OK);
				ck_assert_int_eq(kc_batch_restamp(&lent, 9, 8,
								  7),
						 KC_OK);
				free(want);
				free(got);
				want = sealed_copy(&copied, &n1);
				got = sealed_copy(&lent, &n2);
				ck_assert_mem_eq(got, want, n1);
				kc_records_iter it;
				kc_decode_error err;
				kc_batch_info info;
				kc_records_iter_init(&it, got, n2,
						     KC_ITER_STRICT_END, &err);
				ck_assert_int_eq(
					kc_records_next_batch(&it, &info), 1);
				ck_assert(info.crc_ok);
				ck_assert_int_eq(info.producer_id, 9);
				kc_records_iter_free(&it);
			}
			free(want);
			free(got);
			kc_batch_builder_free(&copied);
			kc_batch_builder_free(&lent);
		}
	}
}
END_TEST

/* Every allocation failing in turn, for copied (_i 0) and lent (_i 1)
 * records: a failed append or seal leaves a batch that still seals into
 * the records that made it in, and nothing leaks. */
START_TEST(malloc_failure_run)
{
	kc_batch_config c;
	kc_batch_config_default(&c);
	int ok_runs = 0;
	for (int codec = 0; codec <= KC_CODEC_ZSTD; codec++) {
		c.codec = codec;
		for (unsigned long k = 1; k < 100; k++) {
			th_alloc_fail_at(k);
			kc_batch_builder b;
			ck_assert_int_eq(kc_batch_builder_init(&b, &c), KC_OK);
			int appended = 0;
			kc_err last = KC_OK;
			for (int i = 0; i < 200; i++) {
				rt_rec r;
				rt_make(&r, i);
				last = _i ? kc_batch_append_ref(
						    &b, r.ts, r.key, r.value,
						    r.hdrs, r.nh, 100)
					  : kc_batch_append(&b, r.ts, r.key,
							    r.value, r.hdrs,
							    r.nh);
				ck_assert(last == KC_OK || last == KC_ERR_NOMEM);
				appended += last == KC_OK;
				ck_assert_int_eq(kc_batch_count(&b), appended);
			}
			const uint8_t *out;
			size_t n;
			kc_err e = kc_batch_seal(&b, &out, &n);
			ck_assert(e == KC_OK || e == KC_ERR_NOMEM);
			bool all_ok = last == KC_OK && e == KC_OK &&
				      appended == 200;
			uint8_t *copy = e == KC_OK ? sealed_copy(&b, &n)
						   : NULL;
			kc_batch_builder_free(&b);
			ck_assert_int_eq(th_alloc_live(), 0);
			th_alloc_reset();
			if (copy) {
				/* Whatever made it in is a valid batch. */
				int got = 0;
				kc_records_iter it;
				kc_decode_error err;
				kc_batch_info info;
				kc_record_view v;
				kc_records_iter_init(&it, copy, n, 0, &err);
				ck_assert_int_eq(
					kc_records_next_batch(&it, &info), 1);
				while (kc_records_next(&it, &v) == 1)
					got++;
				ck_assert_int_eq(err.code, KC_OK);
				ck_assert_int_eq(got, appended);
				kc_records_iter_free(&it);
				free(copy);
			}
			if (all_ok) {
				ok_runs++;
				break;
			}
		}
	}
	ck_assert_int_eq(ok_runs, KC_CODEC_ZSTD + 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("record_batch");
	TCase *t = tcase_create("builder");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, config_defaults);
	tcase_add_test(t, init_rejects);
	tcase_add_test(t, append_rejects);
	tcase_add_test(t, exact_r7_r9);
	tcase_add_test(t, exact_r8);
	tcase_add_test(t, exact_r10);
	tcase_add_test(t, exact_r3_fields);
	tcase_add_test(t, header_fields);
	tcase_add_test(t, empty_batch);
	tcase_add_loop_test(t, restamp, 0, KC_CODEC_ZSTD + 1);
	tcase_add_loop_test(t, seal_retry_after_failure, 0, 10);
	tcase_add_test(t, size_accounting);
	tcase_add_loop_test(t, round_trip_every_codec, 0, KC_CODEC_ZSTD + 1);
	tcase_add_test(t, reuse_without_allocation);
	tcase_add_loop_test(t, compressed_reuse_without_allocation, 0, 3);
	tcase_add_loop_test(t, compression_contexts_kept_across_reset, 0, 7);
	tcase_add_loop_test(t, seal_with_a_shared_compressor, 0, 3);
	tcase_add_loop_test(t, append_ref_same_bytes, 0, KC_CODEC_ZSTD + 1);
	tcase_add_loop_test(t, malloc_failure_run, 0, 2);
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
