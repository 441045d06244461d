/* Key hashes of Java, librdkafka and sarama; uniform sticky for null keys. */
#include "partitioner.h"

#include "kafkit/crc.h"

static inline uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint32_t kp__murmur2(const void *key, size_t n)
{
	const uint32_t m = 0x5bd1e995u;
	const uint8_t *p = key;
	/* Java hashes an int length: keys past 2 GiB cannot reach here. */
	uint32_t h = 0x9747b28cu ^ (uint32_t)n;
	size_t words = n / 4;

	for (size_t i = 0; i < words; i++) {
		uint32_t k = le32(p + 4 * i);
		k *= m;
		k ^= k >> 24;
		k *= m;
		h *= m;
		h ^= k;
	}
	const uint8_t *t = p + 4 * words;
	switch (n & 3) {
	case 3:
		h ^= (uint32_t)t[2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)t[1] << 8;
		/* fall through */
	case 1:
		h ^= t[0];
		h *= m;
		break;
	default:
		break;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return h;
}

uint32_t kp__fnv1a(const void *key, size_t n)
{
	const uint8_t *p = key;
	uint32_t h = 0x811c9dc5u;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x01000193u;
	}
	return h;
}

int32_t kp__partition_murmur2(const void *key, size_t n, int32_t count)
{
	return (int32_t)((kp__murmur2(key, n) & 0x7fffffffu) %
			 (uint32_t)count);
}

int32_t kp__partition_crc32(const void *key, size_t n, int32_t count)
{
	return (int32_t)(kc_crc32(0, key, n) % (uint32_t)count);
}

int32_t kp__partition_fnv1a(const void *key, size_t n, int32_t count)
{
	/* Go's int32(h) % n keeps the dividend's sign; sarama then negates.
	 * In 64 bits so that the INT32_MIN hash needs no special case. */
	uint32_t h = kp__fnv1a(key, n);
	int64_t s = h >= 0x80000000u ? (int64_t)h - 0x100000000 : (int64_t)h;
	int64_t r = s % count;
	return (int32_t)(r < 0 ? -r : r);
}

void kp__sticky_init(kp__sticky *s)
{
	s->partition = -1;
	s->produced = 0;
}

int32_t kp__sticky_partition(kp__sticky *s, const int32_t *available,
			     size_t navail, int32_t count, kp__rng *rng)
{
	if (s->partition >= 0 && s->partition < count)
		return s->partition;
	if (navail > 0)
		s->partition = available[kp__rng_below(rng, (uint32_t)navail)];
	else
		s->partition = (int32_t)kp__rng_below(rng, (uint32_t)count);
	s->produced = 0;
	return s->partition;
}

void kp__sticky_appended(kp__sticky *s, size_t bytes, int batch_done,
			 int64_t batch_size)
{
	s->produced += (int64_t)bytes;
	if ((batch_done && s->produced >= batch_size) ||
	    s->produced >= 2 * batch_size)
		s->partition = -1;
}

static int32_t hash_key(kp__partitioner_kind kind, const void *key,
			size_t n, int32_t count)
{
	switch (kind) {
	case KP__PART_CRC32: return kp__partition_crc32(key, n, count);
	case KP__PART_FNV1A: return kp__partition_fnv1a(key, n, count);
	default: return kp__partition_murmur2(key, n, count);
	}
}

int32_t kp__partition_choose(const kp__partitioner *pt, const char *topic,
			     const void *key, size_t key_len, int32_t count,
			     const int32_t *available, size_t navail,
			     kp__sticky *sticky, kp__rng *rng)
{
	if (pt->kind == KP__PART_CUSTOM && pt->cb) {
		int32_t p = pt->cb(topic, key, key_len, count, pt->cb_opaque);
		if (p != KP_PARTITION_ANY)
			return p;
	}
	if (pt->kind == KP__PART_RANDOM) {
		if (navail > 0)
			return available[kp__rng_below(rng, (uint32_t)navail)];
		return (int32_t)kp__rng_below(rng, (uint32_t)count);
	}
	if (key && !pt->ignore_keys)
		return hash_key(pt->kind, key, key_len, count);
	return kp__sticky_partition(sticky, available, navail, count, rng);
}
