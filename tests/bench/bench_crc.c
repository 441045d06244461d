/*
 * Throughput of the checksums and the compression codecs.
 *
 *   bench_crc
 *
 * CRCs: GB/s (1e9 bytes/s) on 64 KiB and 1 MiB buffers. Codecs: MB/s
 * (1e6 bytes/s of uncompressed data) compressing and decompressing a
 * buffer shaped like 1000 records of about 100 bytes, default levels.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafkit/buf.h"
#include "kafkit/compress.h"
#include "kafkit/crc.h"

/* Each figure runs for at least this long. */
#define MIN_SECONDS 0.5

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

/* Returns bytes per second. The sink keeps the loop from being elided. */
static volatile uint32_t sink;

static double crc_rate(crc_fn f, const uint8_t *b, size_t n)
{
	uint64_t bytes = 0;
	uint32_t c = 0;
	double t0 = now(), t;
	do {
		for (int i = 0; i < 16; i++)
			c = f(c, b, n);
		bytes += 16 * (uint64_t)n;
		t = now() - t0;
	} while (t < MIN_SECONDS);
	sink = c;
	return (double)bytes / t;
}

/* Roughly a record: length/attributes/deltas varints, a key, a JSON
 * value with varying digits, an empty header count. */
static size_t fill_records(uint8_t *b, size_t cap, int count)
{
	uint32_t s = 12345;
	size_t len = 0;
	for (int i = 0; i < count; i++) {
		char rec[160];
		int n = snprintf(rec, sizeof rec,
				 "%c%c%c%ckey-%06d{\"user\":%u,\"event\":\"click\","
				 "\"page\":\"/item/%05u\",\"ts\":17%08u,"
				 "\"amount\":%u.%02u}%c",
				 0xc6, 0x01, 0x00, (char)(i * 2), i,
				 xorshift(&s) % 100000, xorshift(&s) % 100000,
				 xorshift(&s) % 100000000, xorshift(&s) % 1000,
				 xorshift(&s) % 100, 0);
		if (n < 0 || len + (size_t)n > cap)
			break;
		memcpy(b + len, rec, (size_t)n);
		len += (size_t)n;
	}
	return len;
}

static void bench_codec(int codec, const uint8_t *src, size_t n)
{
	uint8_t *c = NULL, *d = NULL;
	size_t clen = 0, dlen = 0;
	uint64_t bytes = 0;
	double t0 = now(), t;
	do {
		kc_free(c);
		if (kc_compress(codec, KC_LEVEL_DEFAULT, 0, src, n, &c, &clen) !=
		    KC_OK) {
			fprintf(stderr, "%s: compress failed\n",
				kc_codec_name(codec));
			exit(1);
		}
		bytes += n;
		t = now() - t0;
	} while (t < MIN_SECONDS);
	double comp = (double)bytes / t;

	bytes = 0;
	t0 = now();
	do {
		kc_free(d);
		if (kc_decompress(codec, 0, c, clen, n, &d, &dlen) != KC_OK ||
		    dlen != n) {
			fprintf(stderr, "%s: decompress failed\n",
				kc_codec_name(codec));
			exit(1);
		}
		bytes += n;
		t = now() - t0;
	} while (t < MIN_SECONDS);
	double decomp = (double)bytes / t;
	printf("%-7s %9zu -> %7zu bytes (ratio %5.2f)  compress %8.1f MB/s  "
	       "decompress %8.1f MB/s\n",
	       kc_codec_name(codec), n, clen, (double)n / (double)clen,
	       comp / 1e6, decomp / 1e6);
	kc_free(c);
	kc_free(d);
}

int main(void)
{
	static const size_t sizes[] = {64 * 1024, 1024 * 1024};
	size_t max = sizes[1];
	uint8_t *b = malloc(max);
	if (!b)
		return 1;
	uint32_t s = 1;
	for (size_t i = 0; i < max; i++)
		b[i] = (uint8_t)xorshift(&s);

	printf("kc_crc32c uses: %s\n", kc_crc32c_impl());
	for (size_t i = 0; i < 2; i++) {
		size_t n = sizes[i];
		printf("%5zu KiB  crc32c %6.2f GB/s  crc32c_sw %6.2f GB/s  "
		       "crc32 %6.2f GB/s\n",
		       n / 1024, crc_rate(kc_crc32c, b, n) / 1e9,
		       crc_rate(kc_crc32c_sw, b, n) / 1e9,
		       crc_rate(kc_crc32, b, n) / 1e9);
	}

	size_t n = fill_records(b, max, 1000);
	for (int codec = KC_CODEC_GZIP; codec <= KC_CODEC_ZSTD; codec++)
		bench_codec(codec, b, n);
	free(b);
	return 0;
}
