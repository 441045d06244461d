/* Records iterator: golden vectors R-*, M-*, D-* with exact values, blobs of
 * mixed magic, truncation at every byte (guard pages), corrupted lengths,
 * counts and CRCs, decompression bombs, failing allocations. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf_int.h"
#include "helpers.h"
#include "kafkit/crc.h"
#include "kafkit/records.h"

/* ---- vectors (shared/reference/golden-vectors.md) ----------------------- */

static const char R1[] =
	"0000000000000000000000310000000002595fb7dd0000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000";
static const char R2[] =
	"0000000000000000000000310000000002512e43d90020000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000";
static const char R3[] =
	"0000000000000000000000460000000002547961fd000000000000000001588d"
	"cd5938000000000000000000000000000000000000000000000000000128000a"
	"00080102030406050607020608090a040b0c";
static const char R4[] =
	"00000000000000000000005f0000000002e74acea5000100000000000001588d"
	"cd593800000000000000000000000000000000000000000000000000011f8b08"
	"0000096e8800ff001500eaff28000a00080102030406050607020608090a040b"
	"0c0300adc9586715000000";
static const char R5[] =
	"00000000000000000000005c00000000028564b224000200000000000001588d"
	"cd5938000000000000000000000000000000000000000000000000000182534e"
	"4150505900000000010000000100000017155028000a00080102030406050607"
	"020608090a040b0c";
static const char R6[] =
	"00000000000000000000005900000000029d1291f8000300000000000001588d"
	"cd5938000000000000000000000000000000000000000000000000000104224d"
	"186440a71500008028000a00080102030406050607020608090a040b0c000000"
	"000c3bef92";
static const char R7[] =
	"00000000000000000000003b00000001020318a2700000000000000000015dff"
	"7b063c0000015dff7b063cffffffffffffffffffffffffffff00000001120000"
	"00010631323300";
static const char R8[] =
	"0000000000000001000000400000000202c85cbd230000000000010000015dff"
	"7cdd6c0000015dff7cde14ffffffffffffffffffffffffffff000000020c0000"
	"000100000e00d00202010000";
static const char R9[] =
	"00000000000000030000003b00000002022e0b85b70000000000000000015dff"
	"7ce79d0000015dff7ce79dffffffffffffffffffffffffffff00000001120000"
	"00010631323300";
static const char R10[] =
	"00000000000000000000004500000000025cd8ef520000000000000000016585"
	"b6f3c10000016585b6f3c1ffffffffffffffffffffffffffff00000001260000"
	"0001066864720208686b6579086876616c";
static const char R11[] =
	"00000000000000000000005200000000026597ffd00020000000000000000000"
	"98967f000000000098967fffffffffffffffffffffffffffff00000001400000"
	"0008000000002c6f70617175652d636f6e74726f6c2d6d65737361676500";
static const char M1[] =
	"000000000000000000000011feb01dbf0000ffffffff00000003313233000000"
	"00000000010000000e795748e00000ffffffff00000000000000000000000200"
	"00000e795748e00000ffffffff00000000000000000000000300000011feb01d"
	"bf0000ffffffff00000003313233";
static const char M2[] =
	"000000000000000000000019478628c201000000015e1867abaeffffffff0000"
	"0003313233000000000000000100000016ef98c92001000000015e1867afc0ff"
	"ffffff000000000000000000000002000000165faffb5e01000000015e1867b0"
	"72ffffffff00000000000000000000000300000019a812572001000000015e18"
	"67b803ffffffff00000003313233";
static const char M3[] =
	"0000000000000000000000171095c9ca00000000000474657374000000055375"
	"706572";
static const char M4[] =
	"00000000000000000000001f831fac850100000000000098967f000000047465"
	"7374000000055375706572";
/* M-5..M-10 are bare messages: prefixed here with offset 0 and size. */
static const char M5[] = "0000000000000000" "0000000e"
	"a7ec68030000ffffffffffffffff";
static const char M6[] = "0000000000000000" "00000016"
	"cc2f79d901000000000000000000ffffffffffffffff";
static const char M7[] = "0000000000000000" "00000022"
	"c42e5cb10001ffffffff000000141f8b080000096e8800ff0300000000000000"
	"0000";
static const char M8[] = "0000000000000000" "00000035"
	"8ba03f8d0001ffffffff000000271f8b080000000000000063608003beca708f"
	"070c0cff810021c8c088290300c7e29b4634000000";
static const char M9[] = "0000000000000000" "00000038"
	"b42f35d10002ffffffff0000002a82534e415050590000000001000000010000"
	"00163400001901100ee38a6876190f0d01080100003e1a00";
static const char M10[] = "0000000000000000" "00000025"
	"882af5be0103000001588dcd5938ffffffff0000000f04224d186440a7000000"
	"00055dcc02";
static const char D1[] =
	"000000000000000000000055000000000219d9ba31000300000000000001588d"
	"cd5938000000000000000000000000000000000000000000000000000104224d"
	"186040821500008028000a00080102030406050607020608090a040b0c000000"
	"00";
static const char D2[] =
	"00000000000000020000005c2e75f7e1010100000000000003edffffffff0000"
	"00461f8b080000000000000363608003f1aed497b98c500ef38bff4000643026"
	"42454032e27fd65d7e0957f212a624092ac20452d2e4e4cc0a57f216a6241900"
	"8b286cac69000000";

static const int64_t SARAMA_TS = 1479847795000LL;

/* ---- helpers ------------------------------------------------------------- */

typedef struct blob {
	uint8_t *p;
	size_t n;
} blob;

static blob hexblob(const char *hex)
{
	blob b;
	b.p = th_hex(hex, &b.n);
	return b;
}

/* Concatenate hex vectors (NULL-terminated list). */
static blob concat(const char *const *hex)
{
	size_t total = 0;
	for (size_t i = 0; hex[i]; i++)
		total += strlen(hex[i]);
	char *all = malloc(total + 1);
	ck_assert_ptr_nonnull(all);
	all[0] = 0;
	for (size_t i = 0; hex[i]; i++)
		strcat(all, hex[i]);
	blob b = hexblob(all);
	free(all);
	return b;
}

typedef struct exp_info {
	int magic, codec;
	int64_t base_offset, last_offset;
	int32_t batch_length, leader_epoch;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_ts, max_ts, pid;
	int16_t epoch;
	int32_t seq, count;
	uint32_t crc;
	bool crc_ok;
} exp_info;

static void expect_info(const kc_batch_info *i, exp_info e)
{
	ck_assert_int_eq(i->magic, e.magic);
	ck_assert_int_eq(i->codec, e.codec);
	ck_assert_int_eq(i->base_offset, e.base_offset);
	ck_assert_int_eq(i->last_offset, e.last_offset);
	ck_assert_int_eq(i->batch_length, e.batch_length);
	ck_assert_int_eq(i->partition_leader_epoch, e.leader_epoch);
	ck_assert_int_eq(i->attributes, e.attributes);
	ck_assert_int_eq(i->last_offset_delta, e.last_offset_delta);
	ck_assert_int_eq(i->base_timestamp, e.base_ts);
	ck_assert_int_eq(i->max_timestamp, e.max_ts);
	ck_assert_int_eq(i->producer_id, e.pid);
	ck_assert_int_eq(i->producer_epoch, e.epoch);
	ck_assert_int_eq(i->base_sequence, e.seq);
	ck_assert_int_eq(i->records_count, e.count);
	ck_assert_uint_eq(i->crc, e.crc);
	ck_assert_int_eq(i->crc_ok, e.crc_ok);
}

static void expect_rec(kc_records_iter *it, int64_t offset, int64_t ts,
		       const char *key_hex, const char *value_hex)
{
	kc_record_view v;
	ck_assert_int_eq(kc_records_next(it, &v), 1);
	ck_assert_int_eq(v.offset, offset);
	ck_assert_int_eq(v.timestamp, ts);
	ck_assert_int_eq(v.attributes, 0);
	th_assert_bytes_hex(v.key, key_hex);
	th_assert_bytes_hex(v.value, value_hex);
	ck_assert_int_eq(v.headers_count, 0);
}

static void expect_batch_end(kc_records_iter *it)
{
	kc_record_view v;
	ck_assert_int_eq(kc_records_next(it, &v), 0);
}

static void expect_blob_end(kc_records_iter *it)
{
	kc_batch_info info;
	ck_assert_int_eq(kc_records_next_batch(it, &info), 0);
	ck_assert(!it->truncated_tail);
}

/* Open one vector; returns the iterator positioned on its first batch. */
static blob open1(kc_records_iter *it, kc_decode_error *err, const char *hex,
		  unsigned flags, kc_batch_info *info)
{
	blob b = hexblob(hex);
	kc_records_iter_init(it, b.p, b.n, flags, err);
	ck_assert_int_eq(kc_records_next_batch(it, info), 1);
	ck_assert_uint_eq(info->offset, 0);
	ck_assert_uint_eq(info->wire_size, b.n);
	return b;
}

static void close1(kc_records_iter *it, blob b)
{
	kc_records_iter_free(it);
	free(b.p);
}

/* Walk every batch and record; returns the final status (0 or an error)
 * and counts the records seen. */
static int walk(const uint8_t *p, size_t n, unsigned flags, int *nrec,
		kc_decode_error *err, bool *tail)
{
	kc_records_iter it;
	kc_batch_info info;
	kc_record_view v;
	int rc;
	*nrec = 0;
	kc_records_iter_init(&it, p, n, flags, err);
	while ((rc = kc_records_next_batch(&it, &info)) == 1) {
		while ((rc = kc_records_next(&it, &v)) == 1)
			(*nrec)++;
		if (rc < 0)
			break;
	}
	if (tail)
		*tail = it.truncated_tail;
	kc_records_iter_free(&it);
	return rc;
}

/* Recompute a v2 batch's CRC-32C after a test corrupted it. */
static void fix_crc_v2(uint8_t *batch)
{
	size_t len = 12 + (size_t)(int32_t)kc__get_be32(batch + 8);
	kc__be32(batch + 17, kc_crc32c(0, batch + 21, len - 21));
}

/* Same for a legacy message's CRC-32 (magic..end of value). */
static void fix_crc_legacy(uint8_t *msg)
{
	size_t len = 12 + (size_t)(int32_t)kc__get_be32(msg + 8);
	kc__be32(msg + 12, kc_crc32(0, msg + 16, len - 16));
}

/* ---- golden vectors: v2 ----------------------------------------------- */

START_TEST(r1_empty)
{
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	blob b = open1(&it, &err, R1, 0, &i);
	expect_info(&i, (exp_info){2, 0, 0, 0, 49, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				   0x595fb7dd, true});
	ck_assert_uint_eq(i.uncompressed_size, 0);
	expect_batch_end(&it);
	expect_blob_end(&it);
	close1(&it, b);
}
END_TEST

START_TEST(r2_control)
{
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	blob b = open1(&it, &err, R2, 0, &i);
	expect_info(&i, (exp_info){2, 0, 0, 0, 49, 0, 0x20, 0, 0, 0, 0, 0, 0,
				   0, 0x512e43d9, true});
	expect_batch_end(&it);
	expect_blob_end(&it);
	close1(&it, b);
}
END_TEST

/* R-3..R-6 and D-1: the same record, plain and under each codec. */
static void expect_sarama_record(const char *hex, int codec, int32_t len,
				 uint32_t crc)
{
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	kc_record_view v;
	blob b = open1(&it, &err, hex, 0, &i);
	expect_info(&i, (exp_info){2, codec, 0, 0, len, 0, (int16_t)codec, 0,
				   SARAMA_TS, 0, 0, 0, 0, 1, crc, true});
	ck_assert_uint_eq(i.uncompressed_size, 21);
	ck_assert_int_eq(kc_records_next(&it, &v), 1);
	ck_assert_int_eq(v.offset, 0);
	ck_assert_int_eq(v.timestamp, SARAMA_TS + 5);
	ck_assert_int_eq(v.attributes, 0);
	th_assert_bytes_hex(v.key, "01020304");
	th_assert_bytes_hex(v.value, "050607");
	ck_assert_int_eq(v.headers_count, 1);
	ck_assert_int_eq(v.headers[0].key.len, 3);
	ck_assert(memcmp(v.headers[0].key.ptr, "\x08\x09\x0a", 3) == 0);
	th_assert_bytes_hex(v.headers[0].value, "0b0c");
	expect_batch_end(&it);
	expect_blob_end(&it);
	close1(&it, b);
}

START_TEST(r3_uncompressed)
{
	expect_sarama_record(R3, 0, 70, 0x547961fd);
}
END_TEST

START_TEST(r4_gzip)
{
	expect_sarama_record(R4, 1, 95, 0xe74acea5);
}
END_TEST

START_TEST(r5_snappy)
{
	expect_sarama_record(R5, 2, 92, 0x8564b224);
}
END_TEST

START_TEST(r6_lz4)
{
	expect_sarama_record(R6, 3, 89, 0x9d1291f8);
}
END_TEST

START_TEST(d1_lz4_java)
{
	expect_sarama_record(D1, 3, 85, 0x19d9ba31);
}
END_TEST

START_TEST(r7_to_r10_broker_blob)
{
	const char *const parts[] = {R7, R8, R9, R10, NULL};
	blob b = concat(parts);
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	kc_record_view v;
	kc_records_iter_init(&it, b.p, b.n, 0, &err);

	ck_assert_int_eq(kc_records_next_batch(&it, &i), 1);
	expect_info(&i, (exp_info){2, 0, 0, 0, 59, 1, 0, 0, 1503229838908LL,
				   1503229838908LL, -1, -1, -1, 1, 0x0318a270,
				   true});
	ck_assert_uint_eq(i.offset, 0);
	expect_rec(&it, 0, 1503229838908LL, NULL, "313233");
	expect_batch_end(&it);

	ck_assert_int_eq(kc_records_next_batch(&it, &i), 1);
	expect_info(&i, (exp_info){2, 0, 1, 2, 64, 2, 0, 1, 1503229959532LL,
				   1503229959700LL, -1, -1, -1, 2, 0xc85cbd23,
				   true});
	ck_assert_uint_eq(i.offset, 71);
	expect_rec(&it, 1, 1503229959532LL, NULL, "");
	expect_rec(&it, 2, 1503229959700LL, NULL, "");
	expect_batch_end(&it);

	ck_assert_int_eq(kc_records_next_batch(&it, &i), 1);
	expect_info(&i, (exp_info){2, 0, 3, 3, 59, 2, 0, 0, 1503229962141LL,
				   1503229962141LL, -1, -1, -1, 1, 0x2e0b85b7,
				   true});
	expect_rec(&it, 3, 1503229962141LL, NULL, "313233");
	expect_batch_end(&it);

	ck_assert_int_eq(kc_records_next_batch(&it, &i), 1);
	expect_info(&i, (exp_info){2, 0, 0, 0, 69, 0, 0, 0, 1535546684353LL,
				   1535546684353LL, -1, -1, -1, 1, 0x5cd8ef52,
				   true});
	ck_assert_int_eq(kc_records_next(&it, &v), 1);
	ck_assert_int_eq(v.offset, 0);
	th_assert_bytes_hex(v.key, NULL);
	th_assert_bytes_hex(v.value, "686472");
	ck_assert_int_eq(v.headers_count, 1);
	ck_assert_int_eq(v.headers[0].key.len, 4);
	ck_assert(memcmp(v.headers[0].key.ptr, "hkey", 4) == 0);
	th_assert_bytes_hex(v.headers[0].value, "6876616c");
	expect_batch_end(&it);
	expect_blob_end(&it);
	kc_records_iter_free(&it);
	free(b.p);
}
END_TEST

START_TEST(r11_bad_crc)
{
	blob b = hexblob(R11);
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	kc_records_iter_init(&it, b.p, b.n, 0, &err);
	ck_assert_int_eq(kc_records_next_batch(&it, &i), KC_ERR_CRC);
	ck_assert_int_eq(err.code, KC_ERR_CRC);
	ck_assert_uint_eq(err.offset, 17);
	ck_assert_str_eq(err.field, "RecordBatch.crc");
	/* The failure is sticky. */
	ck_assert_int_eq(kc_records_next_batch(&it, &i), KC_ERR_CRC);
	kc_records_iter_free(&it);

	kc_records_iter_init(&it, b.p, b.n, KC_ITER_CRC_LENIENT, &err);
	ck_assert_int_eq(kc_records_next_batch(&it, &i), 1);
	expect_info(&i, (exp_info){2, 0, 0, 0, 82, 0, 0x20, 0, 9999999,
				   9999999, -1, -1, -1, 1, 0x6597ffd0, false});
	expect_rec(&it, 0, 9999999, "00000000",
		   "6f70617175652d636f6e74726f6c2d6d657373616765");
	expect_batch_end(&it);
	expect_blob_end(&it);
	close1(&it, b);
}
END_TEST

/* ---- golden vectors: legacy -------------------------------------------- */

START_TEST(m1_magic0_set)
{
	blob b = hexblob(M1);
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	static const char *const values[] = {"313233", "", "", "313233"};
	static const int32_t sizes[] = {17, 14, 14, 17};
	static const uint32_t crcs[] = {0xfeb01dbf, 0x795748e0, 0x795748e0,
					0xfeb01dbf};
	size_t at = 0;
	kc_records_iter_init(&it, b.p, b.n, 0, &err);
	for (int k = 0; k < 4; k++) {
		ck_assert_int_eq(kc_records_next_batch(&it, &i), 1);
		expect_info(&i, (exp_info){0, 0, k, k, sizes[k], -1, 0, 0, -1,
					   -1, -1, -1, -1, 1, crcs[k], true});
		ck_assert_uint_eq(i.offset, at);
		ck_assert_uint_eq(i.wire_size, 12 + (size_t)sizes[k]);
		at += i.wire_size;
		expect_rec(&it, k, -1, NULL, values[k]);
		expect_batch_end(&it);
	}
	expect_blob_end(&it);
	close1(&it, b);
}
END_TEST

START_TEST(m2_magic1_set)
{
	blob b = hexblob(M2);
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	static const char *const values[] = {"313233", "", "", "313233"};
	static const int32_t sizes[] = {25, 22, 22, 25};
	static const uint32_t crcs[] = {0x478628c2, 0xef98c920, 0x5faffb5e,
					0xa8125720};
	static const int64_t ts[] = {1503648000942LL, 1503648001984LL,
				     1503648002162LL, 1503648004099LL};
	kc_records_iter_init(&it, b.p, b.n, 0, &err);
	for (int k = 0; k < 4; k++) {
		ck_assert_int_eq(kc_records_next_batch(&it, &i), 1);
		expect_info(&i, (exp_info){1, 0, k, k, sizes[k], -1, 0, 0,
					   ts[k], ts[k], -1, -1, -1, 1, crcs[k],
					   true});
		expect_rec(&it, k, ts[k], NULL, values[k]);
		expect_batch_end(&it);
	}
	expect_blob_end(&it);
	close1(&it, b);
}
END_TEST

START_TEST(m3_m4_keyed)
{
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	blob b = open1(&it, &err, M3, 0, &i);
	expect_info(&i, (exp_info){0, 0, 0, 0, 23, -1, 0, 0, -1, -1, -1, -1,
				   -1, 1, 0x1095c9ca, true});
	expect_rec(&it, 0, -1, "74657374", "5375706572");
	expect_batch_end(&it);
	expect_blob_end(&it);
	close1(&it, b);

	b = open1(&it, &err, M4, 0, &i);
	expect_info(&i, (exp_info){1, 0, 0, 0, 31, -1, 0, 0, 9999999, 9999999,
				   -1, -1, -1, 1, 0x831fac85, true});
	expect_rec(&it, 0, 9999999, "74657374", "5375706572");
	expect_batch_end(&it);
	expect_blob_end(&it);
	close1(&it, b);
}
END_TEST

START_TEST(m5_m6_null_key_value)
{
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	blob b = open1(&it, &err, M5, 0, &i);
	expect_info(&i, (exp_info){0, 0, 0, 0, 14, -1, 0, 0, -1, -1, -1, -1,
				   -1, 1, 0xa7ec6803, true});
	expect_rec(&it, 0, -1, NULL, NULL);
	expect_batch_end(&it);
	close1(&it, b);

	b = open1(&it, &err, M6, 0, &i);
	expect_info(&i, (exp_info){1, 0, 0, 0, 22, -1, 0, 0, 0, 0, -1, -1, -1,
				   1, 0xcc2f79d9, true});
	expect_rec(&it, 0, 0, NULL, NULL);
	expect_batch_end(&it);
	close1(&it, b);
}
END_TEST

START_TEST(m7_gzip_empty_wrapper)
{
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	blob b = open1(&it, &err, M7, 0, &i);
	expect_info(&i, (exp_info){0, 1, 0, 0, 34, -1, 1, 0, -1, -1, -1, -1,
				   -1, 0, 0xc42e5cb1, true});
	ck_assert_uint_eq(i.uncompressed_size, 0);
	expect_batch_end(&it);
	expect_blob_end(&it);
	close1(&it, b);
}
END_TEST

START_TEST(m8_gzip_wrapper)
{
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	blob b = open1(&it, &err, M8, 0, &i);
	expect_info(&i, (exp_info){0, 1, 0, 1, 53, -1, 1, 1, -1, -1, -1, -1,
				   -1, 2, 0x8ba03f8d, true});
	ck_assert_uint_eq(i.uncompressed_size, 52);
	expect_rec(&it, 0, -1, NULL, "");
	expect_rec(&it, 1, -1, NULL, "");
	expect_batch_end(&it);
	expect_blob_end(&it);
	close1(&it, b);
}
END_TEST

START_TEST(m9_snappy_wrapper)
{
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	blob b = open1(&it, &err, M9, 0, &i);
	expect_info(&i, (exp_info){0, 2, 0, 1, 56, -1, 2, 1, -1, -1, -1, -1,
				   -1, 2, 0xb42f35d1, true});
	expect_rec(&it, 0, -1, "", "");
	expect_rec(&it, 1, -1, "", "");
	expect_batch_end(&it);
	expect_blob_end(&it);
	close1(&it, b);
}
END_TEST

START_TEST(m10_lz4_empty_wrapper)
{
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	blob b = open1(&it, &err, M10, 0, &i);
	expect_info(&i, (exp_info){1, 3, 0, 0, 37, -1, 3, 0, SARAMA_TS,
				   SARAMA_TS, -1, -1, -1, 0, 0x882af5be, true});
	expect_batch_end(&it);
	expect_blob_end(&it);
	close1(&it, b);
}
END_TEST

START_TEST(d2_relative_offsets)
{
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	blob b = open1(&it, &err, D2, 0, &i);
	expect_info(&i, (exp_info){1, 1, 0, 2, 92, -1, 1, 2, 1005, 1005, -1,
				   -1, -1, 3, 0x2e75f7e1, true});
	expect_rec(&it, 0, 1000, NULL, "61");
	expect_rec(&it, 1, 1001, NULL, "62");
	expect_rec(&it, 2, 1005, NULL, "63");
	expect_batch_end(&it);
	kc_records_iter_free(&it);

	/* The broker appended it at 100..102: wrapper offset 102 (the offset
	 * is outside the CRC). */
	kc__be64(b.p, 102);
	kc_records_iter_init(&it, b.p, b.n, 0, &err);
	ck_assert_int_eq(kc_records_next_batch(&it, &i), 1);
	ck_assert_int_eq(i.base_offset, 100);
	ck_assert_int_eq(i.last_offset, 102);
	expect_rec(&it, 100, 1000, NULL, "61");
	expect_rec(&it, 101, 1001, NULL, "62");
	expect_rec(&it, 102, 1005, NULL, "63");
	expect_batch_end(&it);
	close1(&it, b);
}
END_TEST

START_TEST(d2_log_append_time)
{
	/* Set LogAppendTime on the wrapper (attributes 0x09), timestamp
	 * 5000: every inner record takes the wrapper's timestamp. */
	blob b = hexblob(D2);
	b.p[17] = 0x09;
	kc__be64(b.p + 18, 5000);
	fix_crc_legacy(b.p);
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	kc_records_iter_init(&it, b.p, b.n, 0, &err);
	ck_assert_int_eq(kc_records_next_batch(&it, &i), 1);
	ck_assert_int_eq(i.attributes, 0x09);
	ck_assert_int_eq(i.max_timestamp, 5000);
	expect_rec(&it, 0, 5000, NULL, "61");
	expect_rec(&it, 1, 5000, NULL, "62");
	expect_rec(&it, 2, 5000, NULL, "63");
	expect_batch_end(&it);
	close1(&it, b);
}
END_TEST

START_TEST(v2_log_append_time)
{
	/* R-8 with the timestampType bit: both records get maxTimestamp. */
	blob b = hexblob(R8);
	b.p[22] |= KC_ATTR_LOG_APPEND_TIME;
	fix_crc_v2(b.p);
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	kc_records_iter_init(&it, b.p, b.n, 0, &err);
	ck_assert_int_eq(kc_records_next_batch(&it, &i), 1);
	expect_rec(&it, 1, 1503229959700LL, NULL, "");
	expect_rec(&it, 2, 1503229959700LL, NULL, "");
	expect_batch_end(&it);
	close1(&it, b);
}
END_TEST

/* ---- blobs, skipping, truncation ---------------------------------------- */

static const char *const MIXED[] = {R7, R8, M2, D2, R4, M1, R10, M8, NULL};
/* Records per vector in MIXED, and their byte sizes. */
static const int MIXED_RECS[] = {1, 2, 4, 3, 1, 4, 1, 2};

START_TEST(mixed_blob_and_skipping)
{
	blob b = concat(MIXED);
	int n;
	kc_decode_error err;
	bool tail;
	ck_assert_int_eq(walk(b.p, b.n, KC_ITER_STRICT_END, &n, &err, &tail),
			 0);
	ck_assert_int_eq(n, 18);
	ck_assert(!tail);

	/* Skipping batches without reading their records. */
	kc_records_iter it;
	kc_batch_info i;
	int batches = 0;
	size_t end = 0;
	kc_records_iter_init(&it, b.p, b.n, 0, &err);
	while (kc_records_next_batch(&it, &i) == 1) {
		ck_assert_uint_eq(i.offset, end);
		end += i.wire_size;
		batches++;
	}
	ck_assert_uint_eq(end, b.n);
	/* M2 and M1 are 4 top-level messages each. */
	ck_assert_int_eq(batches, 14);
	close1(&it, b);
}
END_TEST

START_TEST(truncation_every_byte)
{
	blob b = concat(MIXED);
	/* Batch boundaries and the records complete before each. */
	size_t bounds[32];
	int recs_before[32];
	int nb = 0, total = 0;
	{
		kc_records_iter it;
		kc_decode_error err;
		kc_batch_info i;
		kc_record_view v;
		kc_records_iter_init(&it, b.p, b.n, 0, &err);
		bounds[nb] = 0;
		recs_before[nb++] = 0;
		while (kc_records_next_batch(&it, &i) == 1) {
			while (kc_records_next(&it, &v) == 1)
				total++;
			bounds[nb] = i.offset + i.wire_size;
			recs_before[nb++] = total;
		}
		kc_records_iter_free(&it);
	}
	int expect_total = 0;
	for (size_t k = 0; k < sizeof MIXED_RECS / sizeof *MIXED_RECS; k++)
		expect_total += MIXED_RECS[k];
	ck_assert_int_eq(total, expect_total);
	for (size_t len = 0; len <= b.n; len++) {
		int whole = 0;
		bool at_bound = false;
		for (int k = 0; k < nb && bounds[k] <= len; k++) {
			whole = recs_before[k];
			at_bound = bounds[k] == len;
		}
		uint8_t *g = th_guard_copy(b.p, len);
		int n;
		bool tail;
		kc_decode_error err;
		ck_assert_int_eq(walk(g, len, 0, &n, &err, &tail), 0);
		ck_assert_int_eq(n, whole);
		ck_assert_int_eq(tail, !at_bound);
		int rc = walk(g, len, KC_ITER_STRICT_END, &n, &err, &tail);
		ck_assert_int_eq(rc, at_bound ? 0 : KC_ERR_TRUNCATED);
		if (!at_bound) {
			ck_assert_int_eq(err.code, KC_ERR_TRUNCATED);
			ck_assert_uint_le(err.offset, len);
		}
		th_guard_free(g, len);
	}
	free(b.p);
}
END_TEST

/* Every single-byte corruption of every byte: a clean result, never a
 * crash or an over-read (inputs end at a guard page). */
START_TEST(corrupt_every_byte)
{
	const char *const parts[] = {R3, D2, M9, R5, R6, NULL};
	blob b = concat(parts);
	static const uint8_t xors[] = {0x01, 0x80, 0xff};
	for (size_t at = 0; at < b.n; at++) {
		for (size_t x = 0; x < sizeof xors; x++) {
			uint8_t *g = th_guard_copy(b.p, b.n);
			g[at] ^= xors[x];
			int n;
			kc_decode_error err;
			int rc = walk(g, b.n, KC_ITER_CRC_LENIENT, &n, &err,
				      NULL);
			ck_assert_int_le(rc, 0);
			if (rc < 0) {
				ck_assert_int_eq(err.code, rc);
				ck_assert_ptr_nonnull(err.field);
			}
			/* Strict CRCs catch what the lenient walk let by,
			 * except in the offset/length/epoch prefix. */
			rc = walk(g, b.n, 0, &n, &err, NULL);
			ck_assert_int_le(rc, 0);
			th_guard_free(g, b.n);
		}
	}
	free(b.p);
}
END_TEST

/* ---- corrupted lengths, counts, CRCs ------------------------------------- */

static int first_error(const uint8_t *p, size_t n, unsigned flags,
		       kc_decode_error *err)
{
	int recs;
	return walk(p, n, flags, &recs, err, NULL);
}

START_TEST(bad_batch_lengths)
{
	kc_decode_error err;
	blob b = hexblob(R8);
	/* Negative batchLength. */
	kc__be32(b.p + 8, (uint32_t)-1);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_LENGTH);
	ck_assert_uint_eq(err.offset, 8);
	/* Too small to hold the header. */
	kc__be32(b.p + 8, 48);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_LENGTH);
	ck_assert_str_eq(err.field, "RecordBatch.batch_length");
	/* Too small to reach magic. */
	kc__be32(b.p + 8, 4);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_LENGTH);
	/* Shorter than the batch, in strict CRC mode: CRC error; lenient:
	 * the records no longer fit. */
	kc__be32(b.p + 8, 60);
	ck_assert_int_eq(first_error(b.p, b.n - 4, 0, &err), KC_ERR_CRC);
	ck_assert_int_lt(first_error(b.p, b.n - 4, KC_ITER_CRC_LENIENT, &err),
			 0);
	/* Longer than the blob: a partial tail (error when strict). */
	kc__be32(b.p + 8, 65);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), 0);
	ck_assert_int_eq(first_error(b.p, b.n, KC_ITER_STRICT_END, &err),
			 KC_ERR_TRUNCATED);
	free(b.p);

	/* Legacy message_size below the minimum of its magic. */
	b = hexblob(M2);
	kc__be32(b.p + 8, 21);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_LENGTH);
	ck_assert_str_eq(err.field, "LegacyMessage.message_size");
	free(b.p);
	b = hexblob(M1);
	kc__be32(b.p + 8, 13);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_LENGTH);
	free(b.p);
}
END_TEST

START_TEST(bad_counts_and_deltas)
{
	kc_decode_error err;
	/* recordsCount one more than the records: the region runs out. */
	blob b = hexblob(R10);
	kc__be32(b.p + 57, 2);
	kc__be32(b.p + 23, 1);
	fix_crc_v2(b.p);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_COUNT);
	ck_assert_str_eq(err.field, "RecordBatch.records_count");
	ck_assert_uint_eq(err.offset, b.n);
	free(b.p);
	/* More than the bytes could hold: caught before any record. */
	b = hexblob(R8);
	kc__be32(b.p + 57, 3);
	kc__be32(b.p + 23, 2);
	fix_crc_v2(b.p);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_COUNT);
	ck_assert_uint_eq(err.offset, 57);
	/* One fewer: bytes left over. */
	kc__be32(b.p + 57, 1);
	fix_crc_v2(b.p);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_TRAILING);
	ck_assert_str_eq(err.field, "RecordBatch.records");
	/* Negative and absurd counts fail before any record is read. */
	kc__be32(b.p + 57, (uint32_t)-1);
	fix_crc_v2(b.p);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_COUNT);
	ck_assert_uint_eq(err.offset, 57);
	kc__be32(b.p + 57, 1000);
	kc__be32(b.p + 23, 1000000);
	fix_crc_v2(b.p);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_COUNT);
	ck_assert_uint_eq(err.offset, 57);
	/* More records than lastOffsetDelta leaves room for. */
	kc__be32(b.p + 57, 2);
	kc__be32(b.p + 23, 0);
	fix_crc_v2(b.p);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_COUNT);
	/* Negative lastOffsetDelta. */
	kc__be32(b.p + 23, (uint32_t)-1);
	fix_crc_v2(b.p);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_VALUE);
	ck_assert_str_eq(err.field, "RecordBatch.last_offset_delta");
	/* A record past lastOffsetDelta... */
	kc__be32(b.p + 23, 1);
	b.p[72] = 0x04; /* second record (at 68): offsetDelta 2 */
	fix_crc_v2(b.p);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_VALUE);
	ck_assert_str_eq(err.field, "Record.offset_delta");
	ck_assert_uint_eq(err.offset, 68);
	/* ... or not after the previous one. */
	b.p[72] = 0x00;
	fix_crc_v2(b.p);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_VALUE);
	free(b.p);
}
END_TEST

START_TEST(bad_record_fields)
{
	kc_decode_error err;
	blob b = hexblob(R3);
	/* Record length past the region. */
	b.p[61] = 0x2a;
	fix_crc_v2(b.p);
	ck_assert_int_lt(first_error(b.p, b.n, 0, &err), 0);
	ck_assert_uint_ge(err.offset, 61);
	ck_assert_ptr_nonnull(err.field);
	/* Header count past the record. */
	b.p[61] = 0x28;
	b.p[74] = 0x04;
	fix_crc_v2(b.p);
	ck_assert_int_lt(first_error(b.p, b.n, 0, &err), 0);
	/* A varint that never ends. */
	memset(b.p + 62, 0xff, 12);
	fix_crc_v2(b.p);
	ck_assert_int_lt(first_error(b.p, b.n, 0, &err), 0);
	free(b.p);
}
END_TEST

START_TEST(bad_magic_and_codec)
{
	kc_decode_error err;
	blob b = hexblob(R7);
	b.p[16] = 3;
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_MAGIC);
	ck_assert_uint_eq(err.offset, 16);
	b.p[16] = 2;
	b.p[22] = 5; /* codec 5 */
	fix_crc_v2(b.p);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err),
			 KC_ERR_UNSUPPORTED_CODEC);
	ck_assert_uint_eq(err.offset, 21);
	free(b.p);

	/* Legacy wrapper claiming zstd. */
	b = hexblob(D2);
	b.p[17] = 0x04;
	fix_crc_legacy(b.p);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err),
			 KC_ERR_UNSUPPORTED_CODEC);
	free(b.p);

	/* A legacy wrapper with a null value. */
	b = hexblob(M6);
	b.p[17] = 0x01;
	fix_crc_legacy(b.p);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_NULL);
	free(b.p);
}
END_TEST

START_TEST(bad_legacy_crcs)
{
	kc_decode_error err;
	blob b = hexblob(M1);
	b.p[26] ^= 1; /* first message's value */
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_CRC);
	ck_assert_uint_eq(err.offset, 12);
	ck_assert_str_eq(err.field, "LegacyMessage.crc");
	/* Lenient: crc_ok false on that message, the walk goes on. */
	kc_records_iter it;
	kc_batch_info i;
	int bad = 0, n = 0;
	kc_records_iter_init(&it, b.p, b.n, KC_ITER_CRC_LENIENT, &err);
	while (kc_records_next_batch(&it, &i) == 1) {
		bad += !i.crc_ok;
		n++;
	}
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(bad, 1);
	kc_records_iter_free(&it);
	free(b.p);
}
END_TEST

/* Build a legacy gzip wrapper around an inner set we control. */
static blob wrap_inner(int magic, const uint8_t *inner, size_t n)
{
	uint8_t *z;
	size_t zn;
	ck_assert_int_eq(kc_compress(KC_CODEC_GZIP, KC_LEVEL_DEFAULT, 0, inner,
				     n, &z, &zn),
			 KC_OK);
	size_t hdr = magic ? 34 : 26;
	blob b = {calloc(1, hdr + zn), hdr + zn};
	kc__be64(b.p, 0);
	kc__be32(b.p + 8, (uint32_t)(b.n - 12));
	b.p[16] = (uint8_t)magic;
	b.p[17] = 1;
	size_t k = hdr;
	kc__be32(b.p + k - 8, (uint32_t)-1); /* key null */
	kc__be32(b.p + k - 4, (uint32_t)zn);
	memcpy(b.p + k, z, zn);
	kc_free(z);
	fix_crc_legacy(b.p);
	return b;
}

START_TEST(bad_inner_messages)
{
	kc_decode_error err;
	blob m1 = hexblob(M1);
	/* Inner message with a bad CRC: an error in decompressed bytes. */
	blob inner = hexblob(M1);
	inner.p[29 + 17] ^= 1;
	blob b = wrap_inner(0, inner.p, inner.n);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_CRC);
	ck_assert_int_eq(err.in_compressed, 1);
	ck_assert_uint_eq(err.offset, 29 + 12);
	free(b.p);
	/* Inner magic not the wrapper's. */
	b = wrap_inner(1, m1.p, m1.n);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_MAGIC);
	ck_assert_int_eq(err.in_compressed, 1);
	ck_assert_uint_eq(err.offset, 16);
	free(b.p);
	/* Inner message compressed itself. */
	memcpy(inner.p, m1.p, m1.n);
	inner.p[17] = 1;
	fix_crc_legacy(inner.p);
	b = wrap_inner(0, inner.p, inner.n);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err),
			 KC_ERR_UNSUPPORTED_CODEC);
	free(b.p);
	/* Inner set cut inside a message. */
	b = wrap_inner(0, m1.p, m1.n - 1);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_BAD_LENGTH);
	ck_assert_int_eq(err.in_compressed, 1);
	ck_assert_uint_eq(err.offset, 12 + 17 + 14 * 2 + 24 + 8);
	free(b.p);
	b = wrap_inner(0, m1.p, 5);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_TRUNCATED);
	ck_assert_int_eq(err.in_compressed, 1);
	free(b.p);
	free(inner.p);
	free(m1.p);
}
END_TEST

START_TEST(bad_compressed_records)
{
	/* R-3's record with its header count raised, gzipped into a batch:
	 * the failure offset counts from the decompressed bytes. */
	blob r3 = hexblob(R3);
	r3.p[74] = 0x04;
	uint8_t *z;
	size_t zn;
	ck_assert_int_eq(kc_compress(KC_CODEC_GZIP, KC_LEVEL_DEFAULT, 0,
				     r3.p + 61, 21, &z, &zn),
			 KC_OK);
	blob b = {malloc(61 + zn), 61 + zn};
	memcpy(b.p, r3.p, 61);
	memcpy(b.p + 61, z, zn);
	kc_free(z);
	kc__be32(b.p + 8, (uint32_t)(b.n - 12));
	b.p[22] = 1;
	fix_crc_v2(b.p);
	kc_decode_error err;
	ck_assert_int_lt(first_error(b.p, b.n, 0, &err), 0);
	ck_assert_int_eq(err.in_compressed, 1);
	ck_assert_uint_le(err.offset, 21);
	ck_assert_uint_gt(err.offset, 0);
	/* Corrupt compressed bytes. */
	b.p[b.n - 5] ^= 0x55;
	fix_crc_v2(b.p);
	ck_assert_int_eq(first_error(b.p, b.n, 0, &err), KC_ERR_DECOMPRESS);
	ck_assert_uint_eq(err.offset, 61);
	ck_assert_int_eq(err.in_compressed, 0);
	free(b.p);
	free(r3.p);
}
END_TEST

/* ---- decompression bombs ---------------------------------------------- */

static blob zero_batch(int magic, int codec, size_t values, size_t value_len)
{
	kc_batch_config cfg;
	kc_batch_config_default(&cfg);
	cfg.magic = magic;
	cfg.codec = codec;
	kc_batch_builder bb;
	ck_assert_int_eq(kc_batch_builder_init(&bb, &cfg), KC_OK);
	uint8_t *zeros = calloc(1, value_len);
	for (size_t k = 0; k < values; k++)
		ck_assert_int_eq(kc_batch_append(&bb, 1, KC_BYTES_NULL,
						 kc_bytes_of(zeros, value_len),
						 NULL, 0),
				 KC_OK);
	const uint8_t *out;
	size_t n;
	ck_assert_int_eq(kc_batch_seal(&bb, &out, &n), KC_OK);
	blob b = {malloc(n), n};
	memcpy(b.p, out, n);
	kc_batch_builder_free(&bb);
	free(zeros);
	return b;
}

START_TEST(decompression_bomb)
{
	static const int cases[][2] = {{2, KC_CODEC_GZIP}, {2, KC_CODEC_ZSTD},
				       {2, KC_CODEC_LZ4},  {2, KC_CODEC_SNAPPY},
				       {1, KC_CODEC_GZIP}, {0, KC_CODEC_LZ4}};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		/* 8 MiB of zeros compresses to a few KiB. */
		blob b = zero_batch(cases[c][0], cases[c][1], 8, 1 << 20);
		ck_assert_uint_lt(b.n, 1 << 20);
		kc_records_iter it;
		kc_decode_error err;
		kc_batch_info i;
		kc_records_iter_init(&it, b.p, b.n, 0, &err);
		it.max_decompressed = 1 << 20;
		ck_assert_int_eq(kc_records_next_batch(&it, &i),
				 KC_ERR_TOO_LARGE);
		ck_assert_int_eq(err.code, KC_ERR_TOO_LARGE);
		kc_records_iter_free(&it);
		/* Under the default cap it is an ordinary batch. */
		int n;
		ck_assert_int_eq(walk(b.p, b.n, 0, &n, &err, NULL), 0);
		ck_assert_int_eq(n, 8);
		free(b.p);
	}
}
END_TEST

/* ---- allocation failures -------------------------------------------------- */

START_TEST(malloc_failure_run)
{
	const char *const parts[] = {R4, D2, M9, R10, R5, M8, R6, NULL};
	blob b = concat(parts);
	int full_n;
	kc_decode_error err;
	ck_assert_int_eq(walk(b.p, b.n, 0, &full_n, &err, NULL), 0);
	int failures = 0;
	for (unsigned long k = 1; k < 200; k++) {
		th_alloc_fail_at(k);
		int n;
		int rc = walk(b.p, b.n, 0, &n, &err, NULL);
		ck_assert_int_eq(th_alloc_live(), 0);
		th_alloc_reset();
		if (rc == 0) {
			ck_assert_int_eq(n, full_n);
			break;
		}
		ck_assert_int_eq(rc, KC_ERR_NOMEM);
		ck_assert_int_eq(err.code, KC_ERR_NOMEM);
		failures++;
	}
	ck_assert_int_gt(failures, 3);
	free(b.p);
}
END_TEST

/* kc_records_iter_reset: a new blob with the same flags, error struct and
 * max_decompressed; a sticky error is cleared; the decompression block of
 * an earlier batch is reused, not reallocated. */
START_TEST(reset_keeps_settings_and_buffers)
{
	blob bad = hexblob(R11), snap = hexblob(R5);
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info i;
	kc_record_view v;
	kc_records_iter_init(&it, bad.p, bad.n, 0, &err);
	it.max_decompressed = 4096;
	ck_assert_int_eq(kc_records_next_batch(&it, &i), KC_ERR_CRC);
	kc_records_iter_reset(&it, snap.p, snap.n);
	ck_assert_uint_eq(it.max_decompressed, 4096);
	ck_assert_int_eq(kc_records_next_batch(&it, &i), 1);
	ck_assert_int_eq(i.codec, KC_CODEC_SNAPPY);
	ck_assert_int_eq(kc_records_next(&it, &v), 1);
	th_assert_bytes_hex(v.value, "050607");
	ck_assert_int_eq(v.headers_count, 1);
	const uint8_t *block = it.inflated;
	ck_assert_ptr_nonnull(block);
	th_alloc_fail_at(1); /* nothing may be allocated from here on */
	kc_records_iter_reset(&it, snap.p, snap.n);
	ck_assert_int_eq(kc_records_next_batch(&it, &i), 1);
	ck_assert_ptr_eq(it.inflated, block);
	ck_assert_int_eq(kc_records_next(&it, &v), 1);
	th_assert_bytes_hex(v.key, "01020304");
	th_assert_bytes_hex(v.headers[0].value, "0b0c");
	expect_batch_end(&it);
	expect_blob_end(&it);
	ck_assert_uint_eq(th_alloc_count(), 0);
	th_alloc_reset();
	/* Flags are kept: the bad CRC fails again (not lenient). */
	kc_records_iter_reset(&it, bad.p, bad.n);
	ck_assert_int_eq(kc_records_next_batch(&it, &i), KC_ERR_CRC);
	kc_records_iter_free(&it);
	free(bad.p);
	free(snap.p);
}
END_TEST

START_TEST(no_allocation_uncompressed)
{
	/* Plain batches without headers are walked without allocating. */
	const char *const parts[] = {R7, R8, R9, M1, M2, NULL};
	blob b = concat(parts);
	th_alloc_fail_at(1);
	int n;
	kc_decode_error err;
	ck_assert_int_eq(walk(b.p, b.n, 0, &n, &err, NULL), 0);
	ck_assert_int_eq(n, 12);
	ck_assert_uint_eq(th_alloc_count(), 0);
	th_alloc_reset();
	free(b.p);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("records_iter");
	TCase *g = tcase_create("golden");
	tcase_add_test(g, r1_empty);
	tcase_add_test(g, r2_control);
	tcase_add_test(g, r3_uncompressed);
	tcase_add_test(g, r4_gzip);
	tcase_add_test(g, r5_snappy);
	tcase_add_test(g, r6_lz4);
	tcase_add_test(g, d1_lz4_java);
	tcase_add_test(g, r7_to_r10_broker_blob);
	tcase_add_test(g, r11_bad_crc);
	tcase_add_test(g, m1_magic0_set);
	tcase_add_test(g, m2_magic1_set);
	tcase_add_test(g, m3_m4_keyed);
	tcase_add_test(g, m5_m6_null_key_value);
	tcase_add_test(g, m7_gzip_empty_wrapper);
	tcase_add_test(g, m8_gzip_wrapper);
	tcase_add_test(g, m9_snappy_wrapper);
	tcase_add_test(g, m10_lz4_empty_wrapper);
	tcase_add_test(g, d2_relative_offsets);
	tcase_add_test(g, d2_log_append_time);
	tcase_add_test(g, v2_log_append_time);
	suite_add_tcase(s, g);
	TCase *w = tcase_create("walk");
	tcase_set_timeout(w, 120);
	tcase_add_test(w, mixed_blob_and_skipping);
	tcase_add_test(w, truncation_every_byte);
	tcase_add_test(w, corrupt_every_byte);
	suite_add_tcase(s, w);
	TCase *e = tcase_create("errors");
	tcase_add_test(e, bad_batch_lengths);
	tcase_add_test(e, bad_counts_and_deltas);
	tcase_add_test(e, bad_record_fields);
	tcase_add_test(e, bad_magic_and_codec);
	tcase_add_test(e, bad_legacy_crcs);
	tcase_add_test(e, bad_inner_messages);
	tcase_add_test(e, bad_compressed_records);
	tcase_add_test(e, decompression_bomb);
	tcase_add_test(e, malloc_failure_run);
	tcase_add_test(e, no_allocation_uncompressed);
	tcase_add_test(e, reset_keeps_settings_and_buffers);
	suite_add_tcase(s, e);
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
