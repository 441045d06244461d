/* Compression codecs: round trips, golden payloads, Kafka framing quirks,
 * corrupt input, decompression bombs and allocation failures. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>
#include <zstd.h>

#include "helpers.h"
#include "kafkit/buf.h"
#include "kafkit/compress.h"

static const int codecs[] = {KC_CODEC_NONE, KC_CODEC_GZIP, KC_CODEC_SNAPPY,
			     KC_CODEC_LZ4, KC_CODEC_ZSTD};
#define NCODECS (sizeof codecs / sizeof *codecs)

/* R-3's record, the payload inside and D-1. */
#define R3_RECORD "28000a00080102030406050607020608090a040b0c"

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

/* Text-like records: compressible but not trivially. */
static uint8_t *record_like(size_t n)
{
	static const char *const words[] = {"user", "order", "id", "=",
					    "2024-05-01T12:00:00Z", "status",
					    "ok", "{", "}", ",", "\"amount\":"};
	uint8_t *b = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(b);
	uint32_t x = 99;
	size_t i = 0;
	while (i < n) {
		x = x * 1103515245u + 12345u;
		const char *w = words[(x >> 16) % (sizeof words / sizeof *words)];
		for (size_t k = 0; w[k] && i < n; k++)
			b[i++] = (uint8_t)w[k];
		if (i < n)
			b[i++] = (uint8_t)('0' + (x >> 8) % 10);
	}
	return b;
}

/* The same 1000 record-like bytes over and over. */
static uint8_t *repetitive(size_t n)
{
	uint8_t *unit = record_like(1000);
	uint8_t *b = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(b);
	for (size_t i = 0; i < n; i += 1000)
		memcpy(b + i, unit, n - i < 1000 ? n - i : 1000);
	free(unit);
	return b;
}

static void expect_decompress(int codec, unsigned flags, const uint8_t *src,
			      size_t n, const uint8_t *want, size_t want_len)
{
	uint8_t *out = NULL;
	size_t len = 12345;
	uint8_t *g = th_guard_copy(src, n);
	kc_err e = kc_decompress(codec, flags, g, n, 64 << 20, &out, &len);
	th_guard_free(g, n);
	ck_assert_msg(e == KC_OK, "codec %s: %s", kc_codec_name(codec),
		      kc_err_name(e));
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(len, want_len);
	if (want_len)
		ck_assert_mem_eq(out, want, want_len);
	kc_free(out);
}

static void expect_decompress_hex(int codec, unsigned flags, const char *hex,
				  const char *want_hex)
{
	size_t n, wn;
	uint8_t *src = th_hex(hex, &n);
	uint8_t *want = th_hex(want_hex, &wn);
	expect_decompress(codec, flags, src, n, want, wn);
	free(src);
	free(want);
}

/* Compress, check the result decodes with a cap of exactly its size and
 * fails with one byte less. */
static void round_trip(int codec, int level, unsigned flags,
		       const uint8_t *src, size_t n)
{
	uint8_t *c = NULL, *d = NULL;
	size_t clen, dlen;
	kc_err e = kc_compress(codec, level, flags, src, n, &c, &clen);
	ck_assert_msg(e == KC_OK, "%s level %d n %zu: %s", kc_codec_name(codec),
		      level, n, kc_err_name(e));
	ck_assert_int_eq(kc_decompress(codec, flags, c, clen, n, &d, &dlen),
			 KC_OK);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(dlen, n);
	if (n)
		ck_assert_mem_eq(d, src, n);
	kc_free(d);
	if (n) {
		d = NULL;
		ck_assert_int_eq(
			kc_decompress(codec, flags, c, clen, n - 1, &d, &dlen),
			KC_ERR_TOO_LARGE);
		ck_assert_ptr_null(d);
	}
	kc_free(c);
}

/* ---- names --------------------------------------------------------------- */

START_TEST(codec_names)
{
	static const char *const names[] = {"none", "gzip", "snappy", "lz4",
					    "zstd"};
	for (int i = 0; i < 5; i++) {
		ck_assert_str_eq(kc_codec_name(i), names[i]);
		ck_assert_int_eq(kc_codec_parse(names[i]), i);
	}
	ck_assert_int_eq(kc_codec_parse("ZStd"), KC_CODEC_ZSTD);
	ck_assert_str_eq(kc_codec_name(5), "?");
	ck_assert_str_eq(kc_codec_name(-1), "?");
	ck_assert_int_eq(kc_codec_parse("producer"), -1);
	ck_assert_int_eq(kc_codec_parse(""), -1);
	ck_assert_int_eq(kc_codec_parse(NULL), -1);
}
END_TEST

START_TEST(bad_arguments)
{
	uint8_t *out;
	size_t len;
	uint8_t b[4] = {0};
	ck_assert_int_eq(kc_compress(5, KC_LEVEL_DEFAULT, 0, b, 4, &out, &len),
			 KC_ERR_UNSUPPORTED_CODEC);
	ck_assert_int_eq(kc_compress(-1, KC_LEVEL_DEFAULT, 0, b, 4, &out, &len),
			 KC_ERR_UNSUPPORTED_CODEC);
	ck_assert_int_eq(kc_decompress(7, 0, b, 4, 100, &out, &len),
			 KC_ERR_UNSUPPORTED_CODEC);
	ck_assert_int_eq(kc_compress(1, KC_LEVEL_DEFAULT, 0, NULL, 4, &out, &len),
			 KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_compress(1, KC_LEVEL_DEFAULT, 0, b, 4, NULL, &len),
			 KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_decompress(1, 0, b, 4, 100, &out, NULL),
			 KC_ERR_INVALID_ARG);
	/* Kafka's level ranges: gzip 1..9, lz4 1..17, zstd min..22. */
	static const struct {
		int codec, level;
	} bad[] = {{KC_CODEC_GZIP, 0},  {KC_CODEC_GZIP, 10},
		   {KC_CODEC_LZ4, 0},   {KC_CODEC_LZ4, 18},
		   {KC_CODEC_ZSTD, 23}, {KC_CODEC_ZSTD, -131073}};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_int_eq(kc_compress(bad[i].codec, bad[i].level, 0, b, 4,
					     &out, &len),
				 KC_ERR_INVALID_ARG);
	/* Codec 0 copies, under the same cap. */
	ck_assert_int_eq(kc_decompress(0, 0, b, 4, 3, &out, &len),
			 KC_ERR_TOO_LARGE);
}
END_TEST

/* ---- round trips ------------------------------------------------------- */

START_TEST(round_trip_sizes)
{
	size_t big = 100 * 1024, rep = 1 << 20;
	uint8_t *rnd = random_bytes(big, 42);
	uint8_t *text = repetitive(rep);
	uint8_t one = 0x5a;
	for (size_t i = 0; i < NCODECS; i++) {
		round_trip(codecs[i], KC_LEVEL_DEFAULT, 0, NULL, 0);
		round_trip(codecs[i], KC_LEVEL_DEFAULT, 0, &one, 1);
		round_trip(codecs[i], KC_LEVEL_DEFAULT, 0, rnd, big);
		round_trip(codecs[i], KC_LEVEL_DEFAULT, 0, text, rep);
	}
	/* Raw snappy, and lz4 with the magic-0 header checksum. */
	static const struct {
		int codec;
		unsigned flags;
	} quirks[] = {{KC_CODEC_SNAPPY, KC_COMPRESS_SNAPPY_RAW},
		      {KC_CODEC_LZ4, KC_COMPRESS_LZ4_LEGACY_HC}};
	for (size_t i = 0; i < 2; i++) {
		round_trip(quirks[i].codec, KC_LEVEL_DEFAULT, quirks[i].flags,
			   NULL, 0);
		round_trip(quirks[i].codec, KC_LEVEL_DEFAULT, quirks[i].flags,
			   &one, 1);
		round_trip(quirks[i].codec, KC_LEVEL_DEFAULT, quirks[i].flags,
			   rnd, big);
		round_trip(quirks[i].codec, KC_LEVEL_DEFAULT, quirks[i].flags,
			   text, rep);
	}
	free(rnd);
	free(text);
}
END_TEST

START_TEST(round_trip_every_level)
{
	size_t n = 128 * 1024;
	uint8_t *text = record_like(n);
	for (int l = 1; l <= 9; l++)
		round_trip(KC_CODEC_GZIP, l, 0, text, n);
	for (int l = 1; l <= 17; l++)
		round_trip(KC_CODEC_LZ4, l, 0, text, n);
	for (int l = -7; l <= ZSTD_maxCLevel(); l++)
		round_trip(KC_CODEC_ZSTD, l, 0, text, n);
	round_trip(KC_CODEC_ZSTD, ZSTD_minCLevel(), 0, text, n);
	/* Snappy has no levels; any value is ignored. */
	round_trip(KC_CODEC_SNAPPY, 5, 0, text, n);
	free(text);
}
END_TEST

/* ---- output framing ------------------------------------------------------ */

START_TEST(gzip_and_zstd_framing)
{
	uint8_t *c;
	size_t clen;
	ck_assert_int_eq(kc_compress(KC_CODEC_GZIP, KC_LEVEL_DEFAULT, 0, "abc", 3,
				     &c, &clen),
			 KC_OK);
	/* ID1 ID2 CM=deflate: a gzip member, not zlib or raw deflate */
	ck_assert_mem_eq(c, "\x1f\x8b\x08", 3);
	kc_free(c);
	ck_assert_int_eq(kc_compress(KC_CODEC_ZSTD, KC_LEVEL_DEFAULT, 0, "abc", 3,
				     &c, &clen),
			 KC_OK);
	ck_assert_mem_eq(c, "\x28\xb5\x2f\xfd", 4);
	kc_free(c);
}
END_TEST

START_TEST(snappy_xerial_framing)
{
	size_t n = 100 * 1024;
	uint8_t *text = record_like(n);
	uint8_t *c;
	size_t clen;
	ck_assert_int_eq(kc_compress(KC_CODEC_SNAPPY, KC_LEVEL_DEFAULT, 0, text,
				     n, &c, &clen),
			 KC_OK);
	ck_assert_mem_eq(c, "\x82SNAPPY\0\0\0\0\x01\0\0\0\x01", 16);
	/* 100 KiB = blocks of 32, 32, 32 and 4 KiB input. */
	size_t pos = 16, blocks = 0, total = 0;
	while (pos < clen) {
		size_t blen = (size_t)c[pos] << 24 | (size_t)c[pos + 1] << 16 |
			      (size_t)c[pos + 2] << 8 | c[pos + 3];
		size_t ulen;
		ck_assert_int_eq(snappy_uncompressed_length((char *)c + pos + 4,
							    blen, &ulen),
				 SNAPPY_OK);
		ck_assert_uint_le(ulen, 32768);
		total += ulen;
		blocks++;
		pos += 4 + blen;
	}
	ck_assert_uint_eq(pos, clen);
	ck_assert_uint_eq(blocks, 4);
	ck_assert_uint_eq(total, n);
	kc_free(c);

	/* Raw: one plain snappy block that libsnappy itself decodes. */
	ck_assert_int_eq(kc_compress(KC_CODEC_SNAPPY, KC_LEVEL_DEFAULT,
				     KC_COMPRESS_SNAPPY_RAW, text, n, &c, &clen),
			 KC_OK);
	ck_assert_int_eq(snappy_validate_compressed_buffer((char *)c, clen),
			 SNAPPY_OK);
	kc_free(c);
	free(text);
}
END_TEST

/* R-3's record comes out exactly as Java frames it (D-1), and with the
 * magic-0 header checksum 0x1a under the legacy flag. */
START_TEST(lz4_java_framing)
{
	size_t n, wn;
	uint8_t *rec = th_hex(R3_RECORD, &n);
	uint8_t *c;
	size_t clen;
	ck_assert_int_eq(kc_compress(KC_CODEC_LZ4, KC_LEVEL_DEFAULT, 0, rec, n,
				     &c, &clen),
			 KC_OK);
	uint8_t *want = th_hex("04224d18604082150000802800"
			       "0a00080102030406050607020608090a040b0c00000000",
			       &wn);
	ck_assert_uint_eq(clen, wn);
	ck_assert_mem_eq(c, want, wn);
	kc_free(c);
	ck_assert_int_eq(kc_compress(KC_CODEC_LZ4, KC_LEVEL_DEFAULT,
				     KC_COMPRESS_LZ4_LEGACY_HC, rec, n, &c, &clen),
			 KC_OK);
	want[6] = 0x1a;
	ck_assert_uint_eq(clen, wn);
	ck_assert_mem_eq(c, want, wn);
	kc_free(c);
	/* Empty input: header and end mark, as Java writes it. */
	ck_assert_int_eq(kc_compress(KC_CODEC_LZ4, KC_LEVEL_DEFAULT, 0, NULL, 0,
				     &c, &clen),
			 KC_OK);
	ck_assert_uint_eq(clen, 11);
	ck_assert_mem_eq(c, "\x04\x22\x4d\x18\x60\x40\x82\0\0\0\0", 11);
	kc_free(c);
	free(want);
	free(rec);
}
END_TEST

/* ---- golden payloads ----------------------------------------------------- */

START_TEST(golden_payloads)
{
	/* gzip member with a stored block */
	expect_decompress_hex(KC_CODEC_GZIP, 0,
			      "1f8b080000096e8800ff001500eaff" R3_RECORD
			      "0300adc9586715000000",
			      R3_RECORD);
	/* xerial snappy, one block */
	expect_decompress_hex(KC_CODEC_SNAPPY, 0,
			      "82534e41505059000000000100000001000000171550" R3_RECORD,
			      R3_RECORD);
	/* lz4 with content checksum (FLG 0x64) */
	expect_decompress_hex(KC_CODEC_LZ4, 0,
			      "04224d186440a715000080" R3_RECORD "000000000c3bef92",
			      R3_RECORD);
	/* D-1: lz4 as Java frames it (FLG 0x60, HC 0x82) */
	expect_decompress_hex(KC_CODEC_LZ4, 0,
			      "04224d18604082150000" "80" R3_RECORD "00000000",
			      R3_RECORD);
	/* M-10: lz4 frame of empty input with content checksum */
	expect_decompress_hex(KC_CODEC_LZ4, 0, "04224d186440a700000000055dcc02",
			      "");
	/* C-2: zstd frame of empty input */
	expect_decompress_hex(KC_CODEC_ZSTD, 0, "28b52ffd2000010000", "");
	/* M-7: gzip of nothing */
	expect_decompress_hex(KC_CODEC_GZIP, 0,
			      "1f8b080000096e8800ff03000000000000000000", "");
	/* M-8: gzip of two magic-0 messages */
	expect_decompress_hex(
		KC_CODEC_GZIP, 0,
		"1f8b080000000000000063608003beca708f070c0cff810021c8c08829"
		"0300c7e29b4634000000",
		"00000000000000000000000e795748e00000ffffffff00000000"
		"00000000000000010000000e795748e00000ffffffff00000000");
	/* M-9: xerial snappy of two magic-0 messages */
	expect_decompress_hex(
		KC_CODEC_SNAPPY, 0,
		"82534e4150505900000000010000000100000016"
		"3400001901100ee38a6876190f0d01080100003e1a00",
		"00000000000000000000000ee38a687600000000000000000000"
		"00000000000000010000000ee38a687600000000000000000000");
	/* D-2: Python's gzip of three magic-1 messages */
	expect_decompress_hex(
		KC_CODEC_GZIP, 0,
		"1f8b080000000000000363608003f1aed497b98c500ef38bff400064302642"
		"454032e27fd65d7e0957f212a624092ac20452d2e4e4cc0a57f216a6241900"
		"8b286cac69000000",
		"0000000000000000000000178a65e96d010000000000000003e8ffffffff00"
		"00000161000000000000000100000017fcaed3e9010000000000000003e9ff"
		"ffffff000000016200000000000000020000001782424305010000000000"
		"000003edffffffff0000000163");
}
END_TEST

#define C1_BLOCK1 "ac0214534e41505059fe0600fe0600fe0600fe0600960600"
#define C1_BLOCK2 "ac021458455249414cfe0600fe0600fe0600fe0600960600"

static char *snappy_xerial_text(void)
{
	char *s = malloc(601);
	ck_assert_ptr_nonnull(s);
	for (int i = 0; i < 50; i++) {
		memcpy(s + 6 * i, "SNAPPY", 6);
		memcpy(s + 300 + 6 * i, "XERIAL", 6);
	}
	s[600] = 0;
	return s;
}

/* C-1 (two blocks), its redpanda variant with little-endian version and
 * compat, and one of its blocks alone as raw snappy. */
START_TEST(snappy_c1_and_variants)
{
	char *text = snappy_xerial_text();
	size_t n;
	uint8_t *c1 = th_hex("82534e415050590000000001000000010000001" "8" C1_BLOCK1
			     "00000018" C1_BLOCK2,
			     &n);
	ck_assert_uint_eq(n, 72);
	expect_decompress(KC_CODEC_SNAPPY, 0, c1, n, (uint8_t *)text, 600);
	memcpy(c1 + 8, "\x01\0\0\0\x01\0\0\0", 8);
	expect_decompress(KC_CODEC_SNAPPY, 0, c1, n, (uint8_t *)text, 600);
	free(c1);
	uint8_t *raw = th_hex(C1_BLOCK2, &n);
	expect_decompress(KC_CODEC_SNAPPY, 0, raw, n, (uint8_t *)text + 300, 300);
	free(raw);
	/* Header only: no blocks, no bytes. */
	expect_decompress_hex(KC_CODEC_SNAPPY, 0,
			      "82534e41505059000000000100000001", "");
	free(text);
}
END_TEST

/* The magic-0 broken header checksum (D-1 with HC 0x1a) decodes only
 * under the legacy flag; a correct HC decodes under it too. */
START_TEST(lz4_legacy_header_checksum)
{
	const char *broken = "04224d1860401a150000" "80" R3_RECORD "00000000";
	size_t n, rn;
	uint8_t *src = th_hex(broken, &n);
	uint8_t *rec = th_hex(R3_RECORD, &rn);
	uint8_t *out = NULL;
	size_t len;
	ck_assert_int_eq(kc_decompress(KC_CODEC_LZ4, 0, src, n, 1 << 20, &out,
				       &len),
			 KC_ERR_DECOMPRESS);
	ck_assert_ptr_null(out);
	expect_decompress(KC_CODEC_LZ4, KC_COMPRESS_LZ4_LEGACY_HC, src, n, rec,
			  rn);
	src[6] = 0x82;
	expect_decompress(KC_CODEC_LZ4, KC_COMPRESS_LZ4_LEGACY_HC, src, n, rec,
			  rn);
	/* Also with a content size field (FLG 0x68), which moves the HC. */
	uint8_t *sized = th_hex("04224d186840" "1500000000000000" "00" "150000" "80"
				R3_RECORD "00000000",
				&n);
	expect_decompress(KC_CODEC_LZ4, KC_COMPRESS_LZ4_LEGACY_HC, sized, n, rec,
			  rn);
	free(sized);
	free(rec);
	free(src);
}
END_TEST

/* ---- what follows a complete stream -------------------------------------- */

static uint8_t *concat(const uint8_t *a, size_t an, const void *b, size_t bn)
{
	uint8_t *r = malloc(an + bn);
	ck_assert_ptr_nonnull(r);
	memcpy(r, a, an);
	memcpy(r + an, b, bn);
	return r;
}

static void expect_rc(int codec, const uint8_t *src, size_t n, kc_err want)
{
	uint8_t *out = NULL;
	size_t len;
	uint8_t *g = th_guard_copy(src, n);
	kc_err e = kc_decompress(codec, 0, g, n, 1 << 20, &out, &len);
	th_guard_free(g, n);
	ck_assert_msg(e == want, "%s: got %s, want %s", kc_codec_name(codec),
		      kc_err_name(e), kc_err_name(want));
	if (e == KC_OK)
		kc_free(out);
}

START_TEST(trailing_bytes)
{
	uint8_t *c;
	size_t clen;
	const char *msg = "hello kafka";
	/* gzip: a second member is decoded; other bytes are ignored, as by
	 * Java's GZIPInputStream; a second header with a bad body fails. */
	ck_assert_int_eq(kc_compress(KC_CODEC_GZIP, KC_LEVEL_DEFAULT, 0, msg, 11,
				     &c, &clen),
			 KC_OK);
	uint8_t *two = concat(c, clen, c, clen);
	expect_decompress(KC_CODEC_GZIP, 0, two, 2 * clen,
			  (const uint8_t *)"hello kafkahello kafka", 22);
	free(two);
	uint8_t *junk = concat(c, clen, "\0\0garbage", 9);
	expect_decompress(KC_CODEC_GZIP, 0, junk, clen + 9,
			  (const uint8_t *)msg, 11);
	free(junk);
	uint8_t *badnext = concat(c, clen, "\x1f\x8b\x08\0\0\0\0\0\0\xff\xff", 11);
	expect_rc(KC_CODEC_GZIP, badnext, clen + 11, KC_ERR_DECOMPRESS);
	free(badnext);
	kc_free(c);

	/* zstd: frames may follow (skippable ones too); garbage fails,
	 * as zstd-jni would try it as a frame. */
	ck_assert_int_eq(kc_compress(KC_CODEC_ZSTD, KC_LEVEL_DEFAULT, 0, msg, 11,
				     &c, &clen),
			 KC_OK);
	two = concat(c, clen, c, clen);
	expect_decompress(KC_CODEC_ZSTD, 0, two, 2 * clen,
			  (const uint8_t *)"hello kafkahello kafka", 22);
	free(two);
	uint8_t *skip = concat(c, clen, "\x50\x2a\x4d\x18\x02\0\0\0zz", 10);
	expect_decompress(KC_CODEC_ZSTD, 0, skip, clen + 10,
			  (const uint8_t *)msg, 11);
	free(skip);
	junk = concat(c, clen, "garbage!", 8);
	expect_rc(KC_CODEC_ZSTD, junk, clen + 8, KC_ERR_DECOMPRESS);
	free(junk);
	kc_free(c);

	/* lz4: Java stops at the end mark; anything after is ignored. */
	ck_assert_int_eq(kc_compress(KC_CODEC_LZ4, KC_LEVEL_DEFAULT, 0, msg, 11,
				     &c, &clen),
			 KC_OK);
	junk = concat(c, clen, "garbage!", 8);
	expect_decompress(KC_CODEC_LZ4, 0, junk, clen + 8,
			  (const uint8_t *)msg, 11);
	free(junk);
	kc_free(c);

	/* xerial snappy has no end: trailing bytes are read as a block. */
	ck_assert_int_eq(kc_compress(KC_CODEC_SNAPPY, KC_LEVEL_DEFAULT, 0, msg,
				     11, &c, &clen),
			 KC_OK);
	junk = concat(c, clen, "\0\0", 2);
	expect_rc(KC_CODEC_SNAPPY, junk, clen + 2, KC_ERR_DECOMPRESS);
	free(junk);
	kc_free(c);
}
END_TEST

/* ---- corrupt input ------------------------------------------------------- */

/* Decode under the counting allocator with every byte guarded; anything
 * but a clean result or a clean error is a failure, and nothing leaks. */
static kc_err decode_checked(int codec, unsigned flags, const uint8_t *src,
			     size_t n, uint8_t **out, size_t *len)
{
	uint8_t *g = th_guard_copy(src, n);
	th_alloc_fail_at(0);
	*out = NULL;
	kc_err e = kc_decompress(codec, flags, g, n, 1 << 20, out, len);
	th_guard_free(g, n);
	ck_assert_msg(e == KC_OK || e == KC_ERR_DECOMPRESS ||
			      e == KC_ERR_TOO_LARGE,
		      "%s: %s", kc_codec_name(codec), kc_err_name(e));
	if (e != KC_OK)
		ck_assert_ptr_null(*out);
	ck_assert_int_eq(th_alloc_live(), e == KC_OK ? 1 : 0);
	return e;
}

START_TEST(truncation_at_every_offset)
{
	size_t n = 700;
	uint8_t *text = record_like(n);
	for (size_t i = 1; i < NCODECS; i++) {
		uint8_t *c;
		size_t clen;
		ck_assert_int_eq(kc_compress(codecs[i], KC_LEVEL_DEFAULT, 0, text,
					     n, &c, &clen),
				 KC_OK);
		for (size_t cut = 0; cut < clen; cut++) {
			uint8_t *out;
			size_t len;
			kc_err e = decode_checked(codecs[i], 0, c, cut, &out,
						  &len);
			/* Only xerial can end cleanly early: right after the
			 * header, before its single block. */
			if (codecs[i] == KC_CODEC_SNAPPY && cut == 16) {
				ck_assert_int_eq(e, KC_OK);
				ck_assert_uint_eq(len, 0);
			} else {
				ck_assert_msg(e == KC_ERR_DECOMPRESS,
					      "%s cut %zu: %s",
					      kc_codec_name(codecs[i]), cut,
					      kc_err_name(e));
			}
			kc_free(out);
			th_alloc_reset();
		}
		kc_free(c);
	}
	free(text);
}
END_TEST

START_TEST(bit_flips_never_crash)
{
	size_t n = 300;
	uint8_t *text = record_like(n);
	for (size_t i = 1; i < NCODECS; i++) {
		uint8_t *c;
		size_t clen;
		ck_assert_int_eq(kc_compress(codecs[i], KC_LEVEL_DEFAULT, 0, text,
					     n, &c, &clen),
				 KC_OK);
		size_t ok = 0;
		for (size_t bit = 0; bit < 8 * clen; bit++) {
			c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			uint8_t *out;
			size_t len;
			kc_err e = decode_checked(codecs[i], 0, c, clen, &out,
						  &len);
			/* gzip's CRC-32 and ISIZE catch every flip in the
			 * data; flips that pass only touched header fields. */
			if (e == KC_OK && codecs[i] == KC_CODEC_GZIP) {
				ck_assert_uint_eq(len, n);
				ck_assert_mem_eq(out, text, n);
			}
			ok += e == KC_OK;
			kc_free(out);
			th_alloc_reset();
			c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		/* Most flips must be caught somewhere. */
		ck_assert_uint_lt(ok, 8 * clen);
		kc_free(c);
	}
	free(text);
}
END_TEST

START_TEST(corrupt_headers)
{
	/* Snappy xerial magic with a block length past the end. */
	expect_rc(KC_CODEC_SNAPPY,
		  (const uint8_t *)"\x82SNAPPY\0\0\0\0\x01\0\0\0\x01\x7f\xff\xff\xff"
				   "ab",
		  22, KC_ERR_DECOMPRESS);
	/* Raw snappy claiming 2^32-1 bytes from 5 bytes of input. */
	expect_rc(KC_CODEC_SNAPPY, (const uint8_t *)"\xff\xff\xff\xff\x0f", 5,
		  KC_ERR_TOO_LARGE);
	/* Empty input is no stream for any codec. */
	for (size_t i = 1; i < NCODECS; i++)
		expect_rc(codecs[i], (const uint8_t *)"", 0, KC_ERR_DECOMPRESS);
	/* lz4 with a reserved FLG bit set. */
	expect_rc(KC_CODEC_LZ4, (const uint8_t *)"\x04\x22\x4d\x18\x62\x40\x00\0\0\0\0",
		  11, KC_ERR_DECOMPRESS);
}
END_TEST

/* ---- decompression bombs ------------------------------------------------- */

/* A byte-counting allocator: peak bytes held through the codec hook. */
static size_t held, peak;

static void *track_malloc(size_t n, void *opaque)
{
	(void)opaque;
	size_t *p = malloc(n + sizeof(max_align_t));
	if (!p)
		return NULL;
	*p = n;
	held += n;
	if (held > peak)
		peak = held;
	return (char *)p + sizeof(max_align_t);
}

static void track_free(void *q, void *opaque)
{
	(void)opaque;
	if (!q)
		return;
	size_t *p = (size_t *)(void *)((char *)q - sizeof(max_align_t));
	held -= *p;
	free(p);
}

static void *track_realloc(void *q, size_t n, void *opaque)
{
	if (!q)
		return track_malloc(n, opaque);
	size_t *p = (size_t *)(void *)((char *)q - sizeof(max_align_t));
	size_t old = *p;
	/* Count old and new blocks together, as a moving realloc holds
	 * both for a moment. */
	held += n;
	if (held > peak)
		peak = held;
	size_t *r = realloc(p, n + sizeof(max_align_t));
	held -= old;
	if (!r) {
		held -= n;
		held += old;
		return NULL;
	}
	*r = n;
	return (char *)r + sizeof(max_align_t);
}

static const kc_allocator tracker = {track_malloc, track_realloc, track_free,
				     NULL};

static void expect_bomb_stopped(int codec, const uint8_t *c, size_t clen,
				size_t max_out, size_t lib_allowance)
{
	held = peak = 0;
	kc_set_allocator(&tracker);
	uint8_t *out = NULL;
	size_t len;
	kc_err e = kc_decompress(codec, 0, c, clen, max_out, &out, &len);
	kc_set_allocator(NULL);
	ck_assert_msg(e == KC_ERR_TOO_LARGE || e == KC_ERR_DECOMPRESS,
		      "%s: %s", kc_codec_name(codec), kc_err_name(e));
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(held, 0);
	/* The output buffer may reach max_out (plus a moving realloc's
	 * old block); the rest is the library's own working memory. */
	ck_assert_msg(peak <= max_out + max_out / 2 + lib_allowance,
		      "%s: peak %zu", kc_codec_name(codec), peak);
}

START_TEST(bombs_are_stopped_at_the_cap)
{
	size_t n = 100u << 20, max_out = 1u << 20;
	uint8_t *zeros = calloc(n, 1);
	ck_assert_ptr_nonnull(zeros);
	for (size_t i = 1; i < NCODECS; i++) {
		uint8_t *c;
		size_t clen;
		ck_assert_int_eq(kc_compress(codecs[i], KC_LEVEL_DEFAULT, 0,
					     zeros, n, &c, &clen),
				 KC_OK);
		/* zstd keeps a window of up to the frame's (2 MiB at
		 * level 3 here); the others need well under 512 KiB. */
		size_t allowance = codecs[i] == KC_CODEC_ZSTD ? 4u << 20
							       : 512u << 10;
		expect_bomb_stopped(codecs[i], c, clen, max_out, allowance);
		if (codecs[i] == KC_CODEC_SNAPPY) {
			kc_free(c);
			ck_assert_int_eq(kc_compress(codecs[i], KC_LEVEL_DEFAULT,
						     KC_COMPRESS_SNAPPY_RAW,
						     zeros, n, &c, &clen),
					 KC_OK);
			/* Raw: the declared size is refused before any
			 * output is allocated. */
			expect_bomb_stopped(codecs[i], c, clen, max_out, 0);
			ck_assert_uint_lt(peak, 4096);
		}
		kc_free(c);
	}
	free(zeros);
}
END_TEST

/* zstd frames without a content size, or with a false one, still stop
 * at the cap: the decoder streams whatever the header claims. */
START_TEST(zstd_bomb_without_or_with_false_size)
{
	size_t n = 100u << 20, max_out = 1u << 20;
	uint8_t *zeros = calloc(n, 1);
	ck_assert_ptr_nonnull(zeros);
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	ck_assert_int_eq(ZSTD_isError(ZSTD_CCtx_setParameter(
				 cctx, ZSTD_c_contentSizeFlag, 0)),
			 0);
	size_t cap = ZSTD_compressBound(n);
	uint8_t *c = malloc(cap);
	size_t clen = ZSTD_compress2(cctx, c, cap, zeros, n);
	ck_assert_int_eq(ZSTD_isError(clen), 0);
	ck_assert_uint_eq(ZSTD_getFrameContentSize(c, clen),
			  ZSTD_CONTENTSIZE_UNKNOWN);
	expect_bomb_stopped(KC_CODEC_ZSTD, c, clen, max_out, 4u << 20);

	/* Same data with a content size, then the size rewritten to 1000. */
	ck_assert_int_eq(ZSTD_isError(ZSTD_CCtx_setParameter(
				 cctx, ZSTD_c_contentSizeFlag, 1)),
			 0);
	clen = ZSTD_compress2(cctx, c, cap, zeros, n);
	ck_assert_int_eq(ZSTD_isError(clen), 0);
	uint8_t fhd = c[4];
	ck_assert_uint_eq(fhd >> 6, 2); /* 4-byte Frame_Content_Size */
	size_t fcs = 5 + !((fhd >> 5) & 1) + (size_t[]){0, 1, 2, 4}[fhd & 3];
	memcpy(c + fcs, "\xe8\x03\0\0", 4);
	ck_assert_uint_eq(ZSTD_getFrameContentSize(c, clen), 1000);
	expect_bomb_stopped(KC_CODEC_ZSTD, c, clen, max_out, 4u << 20);
	ZSTD_freeCCtx(cctx);
	free(c);
	free(zeros);
}
END_TEST

/* ---- allocation failures ------------------------------------------------- */

/* Fail allocation 1, 2, ... until the call succeeds: every failure must
 * be KC_ERR_NOMEM with nothing left allocated. */
static void nomem_walk(int codec, unsigned flags, const uint8_t *src, size_t n)
{
	uint8_t *c;
	size_t clen;
	unsigned long k;
	for (k = 1;; k++) {
		th_alloc_fail_at(k);
		c = NULL;
		kc_err e = kc_compress(codec, KC_LEVEL_DEFAULT, flags, src, n,
				       &c, &clen);
		if (e == KC_OK)
			break;
		ck_assert_msg(e == KC_ERR_NOMEM, "%s compress fail_at %lu: %s",
			      kc_codec_name(codec), k, kc_err_name(e));
		ck_assert_ptr_null(c);
		ck_assert_int_eq(th_alloc_live(), 0);
		ck_assert_uint_lt(k, 1000);
	}
	ck_assert_uint_gt(k, 1);
	th_alloc_reset();
	for (k = 1;; k++) {
		th_alloc_fail_at(k);
		uint8_t *d = NULL;
		size_t dlen;
		kc_err e = kc_decompress(codec, flags, c, clen, n, &d, &dlen);
		if (e == KC_OK) {
			ck_assert_uint_eq(dlen, n);
			ck_assert_mem_eq(d, src, n);
			kc_free(d);
			ck_assert_int_eq(th_alloc_live(), 0);
			break;
		}
		ck_assert_msg(e == KC_ERR_NOMEM, "%s decompress fail_at %lu: %s",
			      kc_codec_name(codec), k, kc_err_name(e));
		ck_assert_ptr_null(d);
		ck_assert_int_eq(th_alloc_live(), 0);
		ck_assert_uint_lt(k, 1000);
	}
	/* Decoding grew its buffer at least once on the way. */
	ck_assert_uint_gt(k, 2);
	th_alloc_reset();
	kc_free(c);
}

START_TEST(allocation_failures)
{
	/* Highly compressible, so the output buffer has to grow. */
	size_t n = 1 << 20;
	uint8_t *text = repetitive(n);
	for (size_t i = 0; i < NCODECS; i++)
		if (codecs[i] != KC_CODEC_NONE)
			nomem_walk(codecs[i], 0, text, n);
	nomem_walk(KC_CODEC_LZ4, KC_COMPRESS_LZ4_LEGACY_HC, text, n);
	free(text);
}
END_TEST

/* ---- kc_compress_to / kc_decompress_to ---------------------------------- */

START_TEST(to_round_trip_appends_and_reuses)
{
	size_t n = 100000;
	uint8_t *a = record_like(n);
	uint8_t *b = random_bytes(n / 2, 7);
	for (size_t i = 0; i < NCODECS; i++) {
		int codec = codecs[i];
		kc_writer w;
		kc_writer_init(&w);
		kc_writer_copy(&w, "pre", 3);
		ck_assert_int_eq(kc_compress_to(codec, KC_LEVEL_DEFAULT, 0, a,
						n, &w),
				 KC_OK);
		size_t alen = kc_writer_pos(&w) - 3;
		ck_assert_int_eq(kc_compress_to(codec, KC_LEVEL_DEFAULT, 0, b,
						n / 2, &w),
				 KC_OK);
		const uint8_t *data = kc_writer_data(&w);
		ck_assert_mem_eq(data, "pre", 3);
		size_t blen = kc_writer_pos(&w) - 3 - alen;

		uint8_t *buf = NULL;
		size_t cap = 0, len = 0;
		th_alloc_fail_at(0);
		ck_assert_int_eq(kc_decompress_to(codec, 0, data + 3, alen, n,
						  &buf, &cap, &len),
				 KC_OK);
		unsigned long first = th_alloc_count();
		ck_assert_uint_eq(len, n);
		ck_assert_uint_ge(cap, n);
		ck_assert_mem_eq(buf, a, n);
		/* Smaller output into the same block: no move, no growth,
		 * and fewer allocations (only the libraries' contexts). */
		uint8_t *was = buf;
		size_t was_cap = cap;
		th_alloc_fail_at(0);
		ck_assert_int_eq(kc_decompress_to(codec, 0, data + 3 + alen,
						  blen, n, &buf, &cap, &len),
				 KC_OK);
		unsigned long second = th_alloc_count();
		ck_assert_ptr_eq(buf, was);
		ck_assert_uint_eq(cap, was_cap);
		ck_assert_uint_eq(len, n / 2);
		ck_assert_mem_eq(buf, b, n / 2);
		ck_assert_uint_lt(second, first);
		if (codec == KC_CODEC_NONE || codec == KC_CODEC_SNAPPY)
			ck_assert_uint_eq(second, 0);
		th_alloc_reset();
		kc_free(buf);

		/* A writer already large enough: none and snappy append
		 * without allocating at all. */
		kc_writer_reset(&w);
		th_alloc_fail_at(0);
		ck_assert_int_eq(kc_compress_to(codec, KC_LEVEL_DEFAULT, 0, b,
						n / 2, &w),
				 KC_OK);
		if (codec == KC_CODEC_NONE || codec == KC_CODEC_SNAPPY)
			ck_assert_uint_eq(th_alloc_count(), 0);
		ck_assert_uint_eq(kc_writer_pos(&w), blen);
		th_alloc_reset();
		kc_writer_free(&w);
	}
	free(a);
	free(b);
}
END_TEST

START_TEST(to_cap_holds_with_a_reused_block)
{
	size_t n = 50000;
	uint8_t *a = record_like(n);
	for (size_t i = 0; i < NCODECS; i++) {
		int codec = codecs[i];
		uint8_t *c;
		size_t clen;
		ck_assert_int_eq(kc_compress(codec, KC_LEVEL_DEFAULT, 0, a, n,
					     &c, &clen),
				 KC_OK);
		uint8_t *buf = NULL;
		size_t cap = 0, len = 0;
		ck_assert_int_eq(kc_decompress_to(codec, 0, c, clen, n, &buf,
						  &cap, &len),
				 KC_OK);
		ck_assert_uint_eq(len, n);
		/* The block now holds n bytes or more; the cap still
		 * applies to the output, not to the block. */
		size_t old = len;
		ck_assert_int_eq(kc_decompress_to(codec, 0, c, clen, n - 1,
						  &buf, &cap, &len),
				 KC_ERR_TOO_LARGE);
		ck_assert_uint_eq(len, old);
		ck_assert_ptr_nonnull(buf);
		ck_assert_int_eq(kc_decompress_to(codec, 0, c, clen, n, &buf,
						  &cap, &len),
				 KC_OK);
		ck_assert_mem_eq(buf, a, n);
		kc_free(buf);
		kc_free(c);
	}
	free(a);
}
END_TEST

START_TEST(to_bad_arguments)
{
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	kc_writer w;
	kc_writer_init(&w);
	ck_assert_int_eq(kc_compress_to(KC_CODEC_LZ4, KC_LEVEL_DEFAULT, 0, "x",
					1, NULL),
			 KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_compress_to(KC_CODEC_LZ4, KC_LEVEL_DEFAULT, 0,
					NULL, 1, &w),
			 KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_compress_to(9, KC_LEVEL_DEFAULT, 0, "x", 1, &w),
			 KC_ERR_UNSUPPORTED_CODEC);
	ck_assert_int_eq(kc_compress_to(KC_CODEC_GZIP, 42, 0, "x", 1, &w),
			 KC_ERR_INVALID_ARG);
	ck_assert_uint_eq(kc_writer_pos(&w), 0);
	/* A writer that already failed takes nothing more. */
	w.err = KC_ERR_NOMEM;
	ck_assert_int_eq(kc_compress_to(KC_CODEC_NONE, KC_LEVEL_DEFAULT, 0,
					"x", 1, &w),
			 KC_ERR_NOMEM);
	kc_writer_free(&w);

	ck_assert_int_eq(kc_decompress_to(KC_CODEC_NONE, 0, "x", 1, 10, NULL,
					  &cap, &len),
			 KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_decompress_to(KC_CODEC_NONE, 0, "x", 1, 10, &buf,
					  NULL, &len),
			 KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_decompress_to(KC_CODEC_NONE, 0, "x", 1, 10, &buf,
					  &cap, NULL),
			 KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_decompress_to(KC_CODEC_NONE, 0, NULL, 1, 10, &buf,
					  &cap, &len),
			 KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_decompress_to(9, 0, "x", 1, 10, &buf, &cap, &len),
			 KC_ERR_UNSUPPORTED_CODEC);
	ck_assert_int_eq(kc_decompress_to(KC_CODEC_ZSTD, 0, "xyz", 3, 10, &buf,
					  &cap, &len),
			 KC_ERR_DECOMPRESS);
	kc_free(buf);
}
END_TEST

/* Fail allocation 1, 2, ... of the _to calls until they succeed: every
 * failure is KC_ERR_NOMEM, appends nothing, and leaks nothing once the
 * caller frees its writer or block. */
static void nomem_walk_to(int codec, const uint8_t *src, size_t n)
{
	kc_writer w;
	unsigned long k;
	for (k = 1;; k++) {
		kc_writer_init(&w);
		th_alloc_fail_at(k);
		kc_err e = kc_compress_to(codec, KC_LEVEL_DEFAULT, 0, src, n,
					  &w);
		if (e == KC_OK)
			break;
		ck_assert_int_eq(e, KC_ERR_NOMEM);
		ck_assert_uint_eq(kc_writer_pos(&w), 0);
		kc_writer_free(&w);
		ck_assert_int_eq(th_alloc_live(), 0);
		ck_assert_uint_lt(k, 1000);
	}
	ck_assert_uint_gt(k, 1);
	th_alloc_reset();
	for (k = 1;; k++) {
		uint8_t *buf = NULL;
		size_t cap = 0, len = 0;
		th_alloc_fail_at(k);
		kc_err e = kc_decompress_to(codec, 0, kc_writer_data(&w),
					    kc_writer_pos(&w), n, &buf, &cap,
					    &len);
		if (e == KC_OK) {
			ck_assert_uint_eq(len, n);
			ck_assert_mem_eq(buf, src, n);
			kc_free(buf);
			ck_assert_int_eq(th_alloc_live(), 0);
			break;
		}
		ck_assert_int_eq(e, KC_ERR_NOMEM);
		kc_free(buf);
		ck_assert_int_eq(th_alloc_live(), 0);
		ck_assert_uint_lt(k, 1000);
	}
	ck_assert_uint_gt(k, 1);
	th_alloc_reset();
	kc_writer_free(&w);
}

START_TEST(to_allocation_failures)
{
	size_t n = 1 << 18;
	uint8_t *text = repetitive(n);
	for (size_t i = 0; i < NCODECS; i++)
		nomem_walk_to(codecs[i], text, n);
	free(text);
}
END_TEST

/* ---- reusable compressor ----------------------------------------------- */

/* kc_compress_with() through *cc must write what kc_compress_to() does. */
static void expect_same_as_one_shot(kc_compressor **cc, int codec, int level,
				    unsigned flags, const uint8_t *src,
				    size_t n)
{
	kc_writer once, reused;
	kc_writer_init(&once);
	kc_writer_init(&reused);
	ck_assert_int_eq(kc_compress_to(codec, level, flags, src, n, &once),
			 KC_OK);
	kc_err e = kc_compress_with(cc, codec, level, flags, src, n, &reused);
	ck_assert_msg(e == KC_OK, "%s level %d n %zu: %s",
		      kc_codec_name(codec), level, n, kc_err_name(e));
	ck_assert_msg(kc_writer_pos(&reused) == kc_writer_pos(&once),
		      "%s level %d n %zu: %zu bytes, one-shot %zu",
		      kc_codec_name(codec), level, n, kc_writer_pos(&reused),
		      kc_writer_pos(&once));
	if (kc_writer_pos(&once))
		ck_assert_mem_eq(kc_writer_data(&reused),
				 kc_writer_data(&once), kc_writer_pos(&once));
	kc_writer_free(&once);
	kc_writer_free(&reused);
}

/* One compressor through every codec, level, size and kind of input in
 * turn, the contexts going from large inputs to small and back, and
 * from one level to another: each output is the one-shot's bytes. */
START_TEST(compressor_reuse_is_byte_identical)
{
	static const size_t sizes[] = {0, 1, 100, 16384, 70000, 300000, 7};
	static const int levels[][3] = {
		[KC_CODEC_NONE] = {KC_LEVEL_DEFAULT, KC_LEVEL_DEFAULT,
				   KC_LEVEL_DEFAULT},
		[KC_CODEC_GZIP] = {KC_LEVEL_DEFAULT, 1, 9},
		[KC_CODEC_SNAPPY] = {KC_LEVEL_DEFAULT, KC_LEVEL_DEFAULT,
				     KC_LEVEL_DEFAULT},
		[KC_CODEC_LZ4] = {KC_LEVEL_DEFAULT, 9, 1},
		[KC_CODEC_ZSTD] = {KC_LEVEL_DEFAULT, 1, 19},
	};
	uint8_t *inputs[3];
	size_t max = 300000;
	inputs[0] = record_like(max);
	inputs[1] = repetitive(max);
	inputs[2] = random_bytes(max, 7);
	kc_compressor *cc = NULL;
	for (int round = 0; round < 2; round++)
		for (size_t li = 0; li < 3; li++)
			for (size_t si = 0; si < sizeof sizes / sizeof *sizes;
			     si++)
				for (size_t ci = 0; ci < NCODECS; ci++) {
					int c = codecs[ci];
					/* slow, and nothing new */
					if (levels[c][li] >= 19 &&
					    sizes[si] > 16384)
						continue;
					expect_same_as_one_shot(
						&cc, c, levels[c][li], 0,
						inputs[(si + li + round) % 3],
						sizes[si]);
				}
	/* The magic-0 lz4 framing, through the same context. */
	expect_same_as_one_shot(&cc, KC_CODEC_LZ4, KC_LEVEL_DEFAULT,
				KC_COMPRESS_LZ4_LEGACY_HC, inputs[0], 5000);
	ck_assert_ptr_nonnull(cc);
	/* A failed call (a level out of range) leaves it usable. */
	kc_writer w;
	kc_writer_init(&w);
	ck_assert_int_eq(kc_compress_with(&cc, KC_CODEC_ZSTD, 99, 0, inputs[0],
					  100, &w),
			 KC_ERR_INVALID_ARG);
	ck_assert_uint_eq(kc_writer_pos(&w), 0);
	kc_writer_free(&w);
	expect_same_as_one_shot(&cc, KC_CODEC_ZSTD, KC_LEVEL_DEFAULT, 0,
				inputs[1], 20000);
	kc_compressor_free(cc);
	kc_compressor_free(NULL);
	for (int i = 0; i < 3; i++)
		free(inputs[i]);
}
END_TEST

/* Codecs without state leave the caller's compressor as it was; cc NULL
 * is the one-shot path; bad arguments are refused as kc_compress_to()
 * refuses them. */
START_TEST(compressor_only_when_needed)
{
	kc_compressor *cc = NULL;
	kc_writer w;
	kc_writer_init(&w);
	ck_assert_int_eq(kc_compress_with(&cc, KC_CODEC_NONE, KC_LEVEL_DEFAULT,
					  0, "abc", 3, &w),
			 KC_OK);
	ck_assert_int_eq(kc_compress_with(&cc, KC_CODEC_SNAPPY,
					  KC_LEVEL_DEFAULT, 0, "abc", 3, &w),
			 KC_OK);
	ck_assert_ptr_null(cc);
	ck_assert_int_eq(kc_compress_with(NULL, KC_CODEC_ZSTD,
					  KC_LEVEL_DEFAULT, 0, "abc", 3, &w),
			 KC_OK);
	ck_assert_int_eq(kc_compress_with(&cc, KC_CODEC_ZSTD, KC_LEVEL_DEFAULT,
					  0, NULL, 3, &w),
			 KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_compress_with(&cc, KC_CODEC_ZSTD, KC_LEVEL_DEFAULT,
					  0, "abc", 3, NULL),
			 KC_ERR_INVALID_ARG);
	ck_assert_int_eq(kc_compress_with(&cc, 9, KC_LEVEL_DEFAULT, 0, "abc",
					  3, &w),
			 KC_ERR_UNSUPPORTED_CODEC);
	ck_assert_ptr_null(cc);
	kc_writer_free(&w);
}
END_TEST

/* Fail allocation k of a call for k = 1, 2, ... until the call needs no
 * more: with a fresh compressor (the contexts are being created) and
 * with one already used (for gzip at another level, so its context is
 * set up anew). Each failure is KC_ERR_NOMEM with nothing appended; the
 * same compressor then still gives the one-shot's bytes, and freeing it
 * leaves no allocation behind. */
static void nomem_walk_with(int codec, int level_before, int level,
			    const uint8_t *src, size_t n)
{
	unsigned long k;
	for (k = 1;; k++) {
		kc_compressor *cc = NULL;
		/* Counted from here; each th_alloc_fail_at() restarts the
		 * count of live blocks, so the three parts are summed. */
		th_alloc_fail_at(0);
		if (level_before != 0)
			expect_same_as_one_shot(&cc, codec, level_before, 0,
						src, n / 2);
		long live = th_alloc_live();
		kc_writer w;
		kc_writer_init(&w);
		th_alloc_fail_at(k);
		kc_err e = kc_compress_with(&cc, codec, level, 0, src, n, &w);
		live += th_alloc_live();
		th_alloc_fail_at(0);
		bool done = e == KC_OK;
		if (!done) {
			ck_assert_msg(e == KC_ERR_NOMEM, "%s k %lu: %s",
				      kc_codec_name(codec), k, kc_err_name(e));
			ck_assert_uint_eq(kc_writer_pos(&w), 0);
		}
		kc_writer_free(&w);
		expect_same_as_one_shot(&cc, codec, level, 0, src, n);
		kc_compressor_free(cc);
		ck_assert_int_eq(live + th_alloc_live(), 0);
		if (done)
			break;
		ck_assert_uint_lt(k, 1000);
	}
	th_alloc_reset();
}

START_TEST(compressor_allocation_failures)
{
	size_t n = 1 << 17;
	uint8_t *text = repetitive(n);
	for (size_t i = 0; i < NCODECS; i++) {
		nomem_walk_with(codecs[i], 0, KC_LEVEL_DEFAULT, text, n);
		nomem_walk_with(codecs[i], KC_LEVEL_DEFAULT, KC_LEVEL_DEFAULT,
				text, n);
	}
	nomem_walk_with(KC_CODEC_GZIP, 1, 9, text, n);
	nomem_walk_with(KC_CODEC_LZ4, KC_LEVEL_DEFAULT, 9, text, n);
	nomem_walk_with(KC_CODEC_ZSTD, 1, 5, text, n);
	free(text);
}
END_TEST

static Suite *compress_suite(void)
{
	Suite *s = suite_create("compress");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 100);
	tcase_add_test(tc, codec_names);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, round_trip_sizes);
	tcase_add_test(tc, round_trip_every_level);
	tcase_add_test(tc, gzip_and_zstd_framing);
	tcase_add_test(tc, snappy_xerial_framing);
	tcase_add_test(tc, lz4_java_framing);
	tcase_add_test(tc, golden_payloads);
	tcase_add_test(tc, snappy_c1_and_variants);
	tcase_add_test(tc, lz4_legacy_header_checksum);
	tcase_add_test(tc, trailing_bytes);
	tcase_add_test(tc, truncation_at_every_offset);
	tcase_add_test(tc, bit_flips_never_crash);
	tcase_add_test(tc, corrupt_headers);
	tcase_add_test(tc, bombs_are_stopped_at_the_cap);
	tcase_add_test(tc, zstd_bomb_without_or_with_false_size);
	tcase_add_test(tc, allocation_failures);
	tcase_add_test(tc, to_round_trip_appends_and_reuses);
	tcase_add_test(tc, to_cap_holds_with_a_reused_block);
	tcase_add_test(tc, to_bad_arguments);
	tcase_add_test(tc, to_allocation_failures);
	tcase_add_test(tc, compressor_reuse_is_byte_identical);
	tcase_add_test(tc, compressor_only_when_needed);
	tcase_add_test(tc, compressor_allocation_failures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(compress_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
