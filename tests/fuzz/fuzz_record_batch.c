/*
 * libFuzzer: the records iterator on RecordBatch v2 input.
 *
 * First byte < 0x80: the rest is a raw `records` blob (as in Fetch), walked
 * with lenient CRCs and again with strict end handling.
 * First byte >= 0x80: the harness builds a valid batch around the input so
 * that mutations reach the record parser behind compression and the CRC:
 * codec = byte0 % 5, recordsCount = byte1, lastOffsetDelta = byte2,
 * attribute bits 3-6 from byte3, then the records region, which is
 * compressed with the codec before the header and CRC-32C are added.
 * Every slice of every record is read so that ASan sees a bad one.
 */
#include <stdlib.h>
#include <string.h>

#include "kafkit/crc.h"
#include "kafkit/records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void touch(kc_bytes b)
{
	if (b.len > 0)
		sink ^= b.ptr[0] ^ b.ptr[b.len - 1];
}

static void walk(const uint8_t *data, size_t size, unsigned flags)
{
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info info;
	kc_record_view rec;
	kc_records_iter_init(&it, data, size, flags, &err);
	it.max_decompressed = 1 << 20; /* keep bombs cheap */
	while (kc_records_next_batch(&it, &info) == 1) {
		while (kc_records_next(&it, &rec) == 1) {
			touch(rec.key);
			touch(rec.value);
			for (int32_t i = 0; i < rec.headers_count; i++) {
				touch(rec.headers[i].value);
				if (rec.headers[i].key.len > 0)
					sink ^= (uint8_t)rec.headers[i].key.ptr[0];
			}
		}
	}
	kc_records_iter_free(&it);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void synth(const uint8_t *data, size_t size)
{
	if (size < 4)
		return;
	int codec = data[0] % 5;
	const uint8_t *region = data + 4;
	size_t rn = size - 4;
	uint8_t *z = NULL;
	size_t zn = rn;
	if (codec != KC_CODEC_NONE &&
	    kc_compress(codec, KC_LEVEL_DEFAULT, 0, region, rn, &z, &zn) !=
		    KC_OK)
		return;
	uint8_t *b = calloc(1, 61 + zn);
	if (!b)
		abort();
	memcpy(b + 61, z ? z : region, zn);
	kc_free(z);
	put32(b + 8, (uint32_t)(61 + zn - 12));     /* batchLength */
	put32(b + 12, (uint32_t)-1);                /* partitionLeaderEpoch */
	b[16] = 2;                                  /* magic */
	b[21] = 0;
	b[22] = (uint8_t)(codec | (data[3] & 0x78)); /* attributes */
	put32(b + 23, data[2]);                     /* lastOffsetDelta */
	memset(b + 43, 0xff, 14);                   /* producer id/epoch/seq */
	put32(b + 57, data[1]);                     /* recordsCount */
	put32(b + 17, kc_crc32c(0, b + 21, 61 + zn - 21));
	walk(b, 61 + zn, 0);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] >= 0x80) {
		synth(data, size);
		return 0;
	}
	walk(data + 1, size - 1, KC_ITER_CRC_LENIENT);
	walk(data + 1, size - 1, KC_ITER_STRICT_END);
	return 0;
}
