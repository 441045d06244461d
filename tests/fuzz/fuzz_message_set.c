/*
 * libFuzzer: the records iterator on legacy MessageSet (magic 0/1) input.
 *
 * First byte < 0x80: the rest is a raw `records` blob, walked with lenient
 * CRCs and again with strict end handling.
 * First byte >= 0x80: the rest is an inner message set that the harness
 * wraps in a valid wrapper message, so that mutations reach inner-set
 * parsing behind compression and the CRC-32: magic = byte0 & 1, codec =
 * 1 + (byte0 >> 1) % 3 (gzip, snappy, lz4), LogAppendTime from bit 3,
 * wrapper offset = byte1.
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
	while (kc_records_next_batch(&it, &info) == 1)
		while (kc_records_next(&it, &rec) == 1) {
			touch(rec.key);
			touch(rec.value);
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
	if (size < 2)
		return;
	int magic = data[0] & 1;
	int codec = 1 + (data[0] >> 1) % 3;
	unsigned flags = codec == KC_CODEC_LZ4 && magic == 0
				 ? KC_COMPRESS_LZ4_LEGACY_HC
				 : 0;
	uint8_t *z;
	size_t zn;
	if (kc_compress(codec, KC_LEVEL_DEFAULT, flags, data + 2, size - 2, &z,
			&zn) != KC_OK)
		return;
	size_t hdr = magic ? 34 : 26; /* where the value starts */
	uint8_t *b = calloc(1, hdr + zn);
	if (!b)
		abort();
	b[7] = data[1];                             /* offset */
	put32(b + 8, (uint32_t)(hdr + zn - 12));    /* message_size */
	b[16] = (uint8_t)magic;                     /* magic */
	b[17] = (uint8_t)(codec | (magic ? data[0] & 0x08 : 0)); /* attributes */
	put32(b + hdr - 8, (uint32_t)-1);           /* key: null */
	put32(b + hdr - 4, (uint32_t)zn);           /* value length */
	memcpy(b + hdr, z, zn);
	kc_free(z);
	put32(b + 12, kc_crc32(0, b + 16, hdr + zn - 16));
	walk(b, hdr + zn, 0);
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
