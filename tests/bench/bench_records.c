/* Record-format throughput: encode (append + seal) and decode (CRC verify,
 * decompress, walk) of batches of 1000 records with 100-byte values, per
 * codec, in records per second.
 *
 *   bench_records [seconds-per-figure]   (default 1)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafkit/records.h"

enum { NREC = 1000, VALUE_LEN = 100 };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Values that look like application payloads: some structure, some
 * entropy, so that codecs have work to do. */
static void make_values(uint8_t v[NREC][VALUE_LEN])
{
	uint32_t x = 2463534242u;
	for (int i = 0; i < NREC; i++) {
		int n = snprintf((char *)v[i], VALUE_LEN,
				 "{\"id\":%d,\"user\":\"u%05d\",\"v\":\"", i,
				 i * 7919 % 100000);
		for (int j = n; j < VALUE_LEN; j++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			v[i][j] = (uint8_t)('a' + x % 16);
		}
	}
}

static void build(kc_batch_builder *b, uint8_t v[NREC][VALUE_LEN],
		  const uint8_t **out, size_t *n)
{
	kc_batch_builder_reset(b);
	for (int i = 0; i < NREC; i++)
		if (kc_batch_append(b, 1700000000000LL + i, KC_BYTES_NULL,
				    kc_bytes_of(v[i], VALUE_LEN), NULL,
				    0) != KC_OK)
			abort();
	if (kc_batch_seal(b, out, n) != KC_OK)
		abort();
}

/* Walk one blob with an iterator whose buffers persist across calls, as a
 * consumer or broker does. */
static int decode(kc_records_iter *it, const kc_decode_error *err,
		  const uint8_t *p, size_t n, uint64_t *sum)
{
	kc_batch_info info;
	kc_record_view rec;
	int count = 0;
	kc_records_iter_reset(it, p, n);
	while (kc_records_next_batch(it, &info) == 1)
		while (kc_records_next(it, &rec) == 1) {
			*sum += (uint64_t)rec.value.len + (uint64_t)rec.offset;
			count++;
		}
	if (err->code != KC_OK)
		abort();
	return count;
}

static void bench(int magic, int codec, double secs,
		  uint8_t v[NREC][VALUE_LEN])
{
	kc_batch_config cfg;
	kc_batch_builder b;
	kc_batch_config_default(&cfg);
	cfg.magic = magic;
	cfg.codec = codec;
	if (kc_batch_builder_init(&b, &cfg) != KC_OK)
		abort();
	const uint8_t *out;
	size_t n;
	build(&b, v, &out, &n); /* warm up: buffers reach full size */
	long batches = 0;
	double t0 = now(), t;
	do {
		for (int k = 0; k < 10; k++)
			build(&b, v, &out, &n);
		batches += 10;
		t = now();
	} while (t - t0 < secs);
	double enc = (double)batches * NREC / (t - t0);

	/* The blob outlives the builder's next use: decode a copy. */
	uint8_t *blob = malloc(n);
	memcpy(blob, out, n);
	kc_records_iter it;
	kc_decode_error err;
	kc_records_iter_init(&it, blob, n, KC_ITER_STRICT_END, &err);
	uint64_t sum = 0;
	long recs = 0;
	t0 = now();
	do {
		for (int k = 0; k < 10; k++)
			recs += decode(&it, &err, blob, n, &sum);
		t = now();
	} while (t - t0 < secs);
	kc_records_iter_free(&it);
	double dec = (double)recs / (t - t0);
	printf("magic %d %-6s  batch %7zu B  encode %6.2f M rec/s  "
	       "decode+crc %6.2f M rec/s  (%llu)\n",
	       magic, kc_codec_name(codec), n, enc / 1e6, dec / 1e6,
	       (unsigned long long)(sum & 1));
	free(blob);
	kc_batch_builder_free(&b);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	if (secs <= 0)
		secs = 1.0;
	static uint8_t values[NREC][VALUE_LEN];
	make_values(values);
	printf("%d records x %d B per batch, %.1f s per figure\n", NREC,
	       VALUE_LEN, secs);
	static const int codecs[] = {KC_CODEC_NONE, KC_CODEC_GZIP,
				     KC_CODEC_LZ4, KC_CODEC_ZSTD,
				     KC_CODEC_SNAPPY};
	for (size_t c = 0; c < sizeof codecs / sizeof *codecs; c++)
		bench(2, codecs[c], secs, values);
	bench(1, KC_CODEC_NONE, secs, values);
	bench(1, KC_CODEC_LZ4, secs, values);
	return 0;
}
