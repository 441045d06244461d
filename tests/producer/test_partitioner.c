/* Partitioners: hash vectors of Java, librdkafka and sarama; uniform
 * sticky; random; custom callback. Vectors: wire-format.md section 13,
 * golden-vectors.md H, the kcat captures' README, sarama's tests. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "partitioner.h"
#include "rng.h"

#define KEY(s) (s), strlen(s)

/* An injected source replaying a list of draws. */
typedef struct seq_src {
	const uint64_t *v;
	size_t n, at;
} seq_src;

static uint64_t seq_next(void *opaque)
{
	seq_src *s = opaque;
	ck_assert_uint_lt(s->at, s->n);
	return s->v[s->at++];
}

/* The draw that makes kp__rng_below(n) return i: the smallest x with
 * (x * n) >> 32 == i, in the top 32 bits. */
static uint64_t pick(uint32_t i, uint32_t n)
{
	uint64_t x = (((uint64_t)i << 32) + n - 1) / n;
	return x << 32;
}

START_TEST(murmur2_hashes)
{
	/* Java UtilsTest#testMurmur2 (signed int32 values). */
	ck_assert_int_eq((int32_t)kp__murmur2(KEY("21")), -973932308);
	ck_assert_int_eq((int32_t)kp__murmur2(KEY("foobar")), -790332482);
	ck_assert_int_eq((int32_t)kp__murmur2(KEY("a-little-bit-long-string")),
			 -985981536);
	ck_assert_int_eq(
		(int32_t)kp__murmur2(KEY("a-little-bit-longer-string")),
		-1486304829);
	ck_assert_int_eq(
		(int32_t)kp__murmur2(
			KEY("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")),
		-58897971);
	ck_assert_int_eq((int32_t)kp__murmur2(KEY("abc")), 479470107);
	/* librdkafka unittest_murmur2. */
	ck_assert_uint_eq(kp__murmur2(KEY("kafka")), 0xd067cf64u);
	ck_assert_uint_eq(kp__murmur2(KEY("giberish123456789")), 0x8f552b0cu);
	ck_assert_uint_eq(kp__murmur2(NULL, 0), 0x106e08d9u);
}
END_TEST

START_TEST(murmur2_partitions)
{
	static const struct {
		const char *key;
		int32_t p100, p10, p1000;
	} v[] = {
		{"foo", 16, 6, -1},   {"bar", 45, 5, -1},
		{"baz", 80, 0, -1},   {"kafka", 80, 0, -1},
		{"sarama", 11, 1, -1}, {"abc", 7, 7, 107},
		{"", 81, 1, 681},     {"123456789", 66, 6, 566},
		{"a", -1, -1, 524},   {"ab", -1, -1, 434},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].key);
		if (v[i].p100 >= 0)
			ck_assert_int_eq(kp__partition_murmur2(v[i].key, n, 100),
					 v[i].p100);
		if (v[i].p10 >= 0)
			ck_assert_int_eq(kp__partition_murmur2(v[i].key, n, 10),
					 v[i].p10);
		if (v[i].p1000 >= 0)
			ck_assert_int_eq(
				kp__partition_murmur2(v[i].key, n, 1000),
				v[i].p1000);
	}
	/* kafka-python: "\x00 " -> 742 of 1000. */
	ck_assert_int_eq(kp__partition_murmur2("\0 ", 2, 1000), 742);
	/* toPositive masks the sign bit; abs() would give 82 here:
	 * murmur2("foobar") = -790332482, & 0x7fffffff = 1357151166. */
	ck_assert_int_eq(kp__partition_murmur2(KEY("foobar"), 100), 66);
}
END_TEST

START_TEST(crc32_partitions)
{
	/* librdkafka consistent(_random), from the kcat captures: 4
	 * partitions. */
	ck_assert_int_eq(kp__partition_crc32(KEY("key1"), 4), 0);
	ck_assert_int_eq(kp__partition_crc32(KEY("key2"), 4), 2);
	ck_assert_int_eq(kp__partition_crc32(KEY("key3"), 4), 0);
	ck_assert_int_eq(kp__partition_crc32(KEY("key4"), 4), 3);
	ck_assert_int_eq(kp__partition_crc32(KEY("key5"), 4), 1);
	/* Unsigned CRC mod n (sarama's consistent CRC partitioner test, 100
	 * partitions; "SheetJS" is 26 unsigned, 70 if read signed). */
	ck_assert_int_eq(kp__partition_crc32(KEY("abc123def456"), 100), 57);
	ck_assert_int_eq(kp__partition_crc32(KEY("SheetJS"), 100), 26);
	ck_assert_int_eq(
		kp__partition_crc32(KEY("9e8c7f4cf45857cfff7645d6"), 100), 24);
	ck_assert_int_eq(
		kp__partition_crc32(KEY("3900446192ff85a5f67da10c"), 100), 75);
	ck_assert_int_eq(
		kp__partition_crc32(KEY("0f4407b7a67d6d27de372198"), 100), 50);
	/* Empty key: CRC 0, partition 0 (librdkafka "consistent"). */
	ck_assert_int_eq(kp__partition_crc32("", 0, 7), 0);
}
END_TEST

START_TEST(fnv1a_hashes_and_partitions)
{
	/* FNV-1a 32-bit reference values. */
	ck_assert_uint_eq(kp__fnv1a(NULL, 0), 0x811c9dc5u);
	ck_assert_uint_eq(kp__fnv1a(KEY("a")), 0xe40c292cu);
	ck_assert_uint_eq(kp__fnv1a(KEY("foobar")), 0xbf9cf968u);
	/* sarama TestHashPartitionerMinInt32: this key hashes to 2^31,
	 * int32 min; sarama's % keeps the sign, then negates: 48 of 50. */
	ck_assert_uint_eq(kp__fnv1a(KEY("1468509572224")), 0x80000000u);
	ck_assert_int_eq(kp__partition_fnv1a(KEY("1468509572224"), 50), 48);
	/* Negative hash: -1080231576 % 100 = -76 -> 76 (unsigned would give
	 * 20, Java's mask 20 as well). */
	ck_assert_int_eq(kp__partition_fnv1a(KEY("foobar"), 100), 76);
	ck_assert_int_eq(kp__partition_fnv1a(KEY("foobar"), 50), 26);
	/* Positive hash: plain modulo. */
	ck_assert_int_eq(kp__partition_fnv1a(KEY("hello"), 100), 23);
	ck_assert_int_eq(kp__partition_fnv1a(KEY("key1"), 100), 83);
}
END_TEST

START_TEST(every_hash_in_range)
{
	uint8_t key[64];
	for (int32_t count = 1; count <= 37; count += 6)
		for (size_t n = 0; n < sizeof(key); n++) {
			key[n] = (uint8_t)(n * 37 + (size_t)count);
			int32_t a = kp__partition_murmur2(key, n + 1, count);
			int32_t b = kp__partition_crc32(key, n + 1, count);
			int32_t c = kp__partition_fnv1a(key, n + 1, count);
			ck_assert(a >= 0 && a < count);
			ck_assert(b >= 0 && b < count);
			ck_assert(c >= 0 && c < count);
		}
}
END_TEST

START_TEST(sticky_stays_then_switches)
{
	const uint64_t draws[] = {pick(2, 4), pick(1, 4), pick(3, 4)};
	seq_src src = {draws, 3, 0};
	kp__rng r;
	kp__rng_inject(&r, seq_next, &src);
	kp__sticky s;
	kp__sticky_init(&s);

	/* 100-byte records, batch.size 1000: 10 records fill the batch. */
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(kp__sticky_partition(&s, NULL, 0, 4, &r), 2);
		kp__sticky_appended(&s, 100, i == 9, 1000);
	}
	ck_assert_uint_eq(src.at, 1);
	/* Batch complete and batch.size reached: the next record draws. */
	ck_assert_int_eq(kp__sticky_partition(&s, NULL, 0, 4, &r), 1);
	ck_assert_uint_eq(src.at, 2);
	/* Enough bytes but the batch is still open: stay (Java waits for
	 * the batch to complete)... */
	kp__sticky_appended(&s, 1500, 0, 1000);
	ck_assert_int_eq(kp__sticky_partition(&s, NULL, 0, 4, &r), 1);
	/* ...unless twice batch.size went there. */
	kp__sticky_appended(&s, 500, 0, 1000);
	ck_assert_int_eq(kp__sticky_partition(&s, NULL, 0, 4, &r), 3);
	ck_assert_uint_eq(src.at, 3);
	/* A batch completed before batch.size bytes does not switch. */
	kp__sticky_appended(&s, 10, 1, 1000);
	ck_assert_int_eq(kp__sticky_partition(&s, NULL, 0, 4, &r), 3);
	ck_assert_uint_eq(src.at, 3);
}
END_TEST

START_TEST(sticky_prefers_available_and_redraws_out_of_range)
{
	const int32_t avail[] = {5, 7};
	const uint64_t draws[] = {pick(1, 2), pick(0, 3)};
	seq_src src = {draws, 2, 0};
	kp__rng r;
	kp__rng_inject(&r, seq_next, &src);
	kp__sticky s;
	kp__sticky_init(&s);
	ck_assert_int_eq(kp__sticky_partition(&s, avail, 2, 8, &r), 7);
	/* The topic shrank to 3 partitions: 7 is gone, draw again. */
	ck_assert_int_eq(kp__sticky_partition(&s, NULL, 0, 3, &r), 0);
	ck_assert_uint_eq(src.at, 2);
}
END_TEST

START_TEST(sticky_is_uniform)
{
	/* KIP-794: with the built-in source, every partition gets its share
	 * of keyless records over many batches. */
	kp__rng r;
	kp__rng_seed(&r, 1234);
	kp__sticky s;
	kp__sticky_init(&s);
	unsigned hits[6] = {0};
	int last = -1, switches = 0;
	for (int i = 0; i < 60000; i++) {
		int32_t p = kp__sticky_partition(&s, NULL, 0, 6, &r);
		ck_assert(p >= 0 && p < 6);
		hits[p]++;
		if (p != last)
			switches++;
		last = p;
		kp__sticky_appended(&s, 100, (i % 10) == 9, 1000);
	}
	for (int i = 0; i < 6; i++)
		ck_assert_uint_gt(hits[i], 8000);
	/* Runs of 10 records: at most one switch per batch. */
	ck_assert_int_le(switches, 6000);
	ck_assert_int_gt(switches, 3000);
}
END_TEST

typedef struct custom_ctx {
	int32_t answer;
	int calls;
	const void *key_seen;
	int32_t count_seen;
} custom_ctx;

static int32_t custom_cb(const char *topic, const void *key, size_t key_len,
			 int32_t count, void *opaque)
{
	custom_ctx *c = opaque;
	ck_assert_str_eq(topic, "t");
	(void)key_len;
	c->calls++;
	c->key_seen = key;
	c->count_seen = count;
	return c->answer;
}

START_TEST(choose_dispatch)
{
	kp__rng r;
	const uint64_t draws[] = {pick(3, 5), pick(4, 5), pick(1, 2)};
	seq_src src = {draws, 3, 0};
	kp__rng_inject(&r, seq_next, &src);
	kp__sticky s;
	kp__sticky_init(&s);
	kp__partitioner pt = {KP__PART_MURMUR2, 0, NULL, NULL};

	/* Keyed: the kind's hash; keyless: sticky. */
	ck_assert_int_eq(kp__partition_choose(&pt, "t", KEY("foo"), 100, NULL,
					      0, &s, &r),
			 16);
	pt.kind = KP__PART_CRC32;
	ck_assert_int_eq(
		kp__partition_choose(&pt, "t", KEY("key4"), 4, NULL, 0, &s, &r),
		3);
	pt.kind = KP__PART_FNV1A;
	ck_assert_int_eq(kp__partition_choose(&pt, "t", KEY("foobar"), 100,
					      NULL, 0, &s, &r),
			 76);
	ck_assert_uint_eq(src.at, 0);
	ck_assert_int_eq(
		kp__partition_choose(&pt, "t", NULL, 0, 5, NULL, 0, &s, &r), 3);
	/* An empty key is a key, not a null key. */
	ck_assert_int_eq(
		kp__partition_choose(&pt, "t", "", 0, 5, NULL, 0, &s, &r),
		kp__partition_fnv1a("", 0, 5));
	/* partitioner.ignore.keys: keyed records go sticky too. */
	pt.ignore_keys = 1;
	ck_assert_int_eq(kp__partition_choose(&pt, "t", KEY("foobar"), 5,
					      NULL, 0, &s, &r),
			 3);
	ck_assert_uint_eq(src.at, 1);
	/* random: a draw per record, keyed or not, from the available set
	 * when there is one. */
	pt.ignore_keys = 0;
	pt.kind = KP__PART_RANDOM;
	ck_assert_int_eq(kp__partition_choose(&pt, "t", KEY("foo"), 5, NULL,
					      0, &s, &r),
			 4);
	const int32_t avail[] = {0, 2};
	ck_assert_int_eq(
		kp__partition_choose(&pt, "t", NULL, 0, 5, avail, 2, &s, &r),
		2);
	ck_assert_uint_eq(src.at, 3);
}
END_TEST

START_TEST(choose_custom)
{
	kp__rng r;
	kp__rng_seed(&r, 9);
	kp__sticky s;
	kp__sticky_init(&s);
	custom_ctx c = {4, 0, NULL, 0};
	kp__partitioner pt = {KP__PART_CUSTOM, 0, custom_cb, &c};

	ck_assert_int_eq(kp__partition_choose(&pt, "t", KEY("foo"), 6, NULL,
					      0, &s, &r),
			 4);
	ck_assert_int_eq(c.count_seen, 6);
	/* Called for null keys too. */
	ck_assert_int_eq(
		kp__partition_choose(&pt, "t", NULL, 0, 6, NULL, 0, &s, &r), 4);
	ck_assert_ptr_null(c.key_seen);
	ck_assert_int_eq(c.calls, 2);
	/* Out-of-range answers come back as is for the caller to reject. */
	c.answer = 99;
	ck_assert_int_eq(kp__partition_choose(&pt, "t", KEY("foo"), 6, NULL,
					      0, &s, &r),
			 99);
	/* KP_PARTITION_ANY falls back to the built-in choice. */
	c.answer = KP_PARTITION_ANY;
	ck_assert_int_eq(kp__partition_choose(&pt, "t", KEY("foo"), 100, NULL,
					      0, &s, &r),
			 16);
	int32_t sp = kp__partition_choose(&pt, "t", NULL, 0, 6, NULL, 0, &s,
					  &r);
	ck_assert_int_eq(sp, s.partition);
	ck_assert_int_eq(c.calls, 5);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("producer_partitioner");
	TCase *t = tcase_create("hashes");
	tcase_add_test(t, murmur2_hashes);
	tcase_add_test(t, murmur2_partitions);
	tcase_add_test(t, crc32_partitions);
	tcase_add_test(t, fnv1a_hashes_and_partitions);
	tcase_add_test(t, every_hash_in_range);
	suite_add_tcase(s, t);
	t = tcase_create("sticky");
	tcase_add_test(t, sticky_stays_then_switches);
	tcase_add_test(t, sticky_prefers_available_and_redraws_out_of_range);
	tcase_add_test(t, sticky_is_uniform);
	suite_add_tcase(s, t);
	t = tcase_create("choose");
	tcase_add_test(t, choose_dispatch);
	tcase_add_test(t, choose_custom);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
