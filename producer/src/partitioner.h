/* Partition choice for records sent with KP_PARTITION_ANY: key hashes
 * compatible with other clients, uniform sticky for null keys, random, or
 * the application's callback. */
#ifndef KAFKIT_PRODUCER_PARTITIONER_H
#define KAFKIT_PRODUCER_PARTITIONER_H

#include <stddef.h>
#include <stdint.h>

#include "kafkit/producer.h"
#include "rng.h"

/* Values of the "partitioner" config key. */
typedef enum kp__partitioner_kind {
	KP__PART_MURMUR2 = 0, /* Java's built-in partitioner (the default) */
	KP__PART_CRC32,       /* librdkafka "consistent" */
	KP__PART_FNV1A,       /* sarama NewHashPartitioner */
	KP__PART_RANDOM,      /* a random partition per record */
	KP__PART_CUSTOM,      /* kp_partitioner_cb */
} kp__partitioner_kind;

/* Kafka's murmur2 (seed 0x9747b28c) of n bytes, as Java's Utils.murmur2
 * computes it (read as uint32). p may be NULL when n is 0. Any thread. */
uint32_t kp__murmur2(const void *p, size_t n);

/* 32-bit FNV-1a of n bytes (offset basis 0x811c9dc5, prime 0x01000193).
 * p may be NULL when n is 0. Any thread. */
uint32_t kp__fnv1a(const void *p, size_t n);

/* Key -> partition for count > 0 partitions, each as its client does it:
 * murmur2: (hash & 0x7fffffff) % count (Java's toPositive, not abs);
 * crc32:   CRC-32 (IEEE) of the key, unsigned, % count (librdkafka);
 * fnv1a:   hash read as int32, truncating %, negated when negative
 *          (sarama's default, not its WithAbsFirst variant).
 * Empty keys are hashed like any other. Any thread. */
int32_t kp__partition_murmur2(const void *key, size_t n, int32_t count);
int32_t kp__partition_crc32(const void *key, size_t n, int32_t count);
int32_t kp__partition_fnv1a(const void *key, size_t n, int32_t count);

/* Uniform sticky state of one topic (KIP-480, KIP-794): records without a
 * key stay on one partition until about batch.size bytes went there and
 * its batch is complete, then a new partition is drawn at random among
 * those with a leader. Not thread-safe: the accumulator's topic lock
 * guards it. */
typedef struct kp__sticky {
	int32_t partition; /* -1: draw at next use */
	int64_t produced;  /* bytes appended since the last draw */
} kp__sticky;

void kp__sticky_init(kp__sticky *s);

/* The partition a keyless record goes to. available: the navail
 * partitions that have a leader now (may be NULL when navail is 0; then
 * all count partitions are candidates). A sticky choice that has fallen
 * out of range (the topic shrank in metadata) is redrawn.
 * Preconditions: count > 0; every available entry in [0, count). */
int32_t kp__sticky_partition(kp__sticky *s, const int32_t *available,
			     size_t navail, int32_t count, kp__rng *rng);

/* After appending `bytes` to the sticky partition: count them and, as
 * Java does, switch partition at the next record when at least batch_size
 * bytes went there and batch_done (the append completed its batch, or
 * had to open a new one), or when twice batch_size went there anyway. */
void kp__sticky_appended(kp__sticky *s, size_t bytes, int batch_done,
			 int64_t batch_size);

/* The configured partitioner of a producer. */
typedef struct kp__partitioner {
	kp__partitioner_kind kind;
	int ignore_keys; /* partitioner.ignore.keys: keyed records go sticky */
	kp_partitioner_cb cb;
	void *cb_opaque;
} kp__partitioner;

/* Partition for a record sent with KP_PARTITION_ANY, for count > 0
 * partitions (available/navail as in kp__sticky_partition; sticky is the
 * topic's state). Built-in kinds always return [0, count); a custom
 * callback's answer is returned as is (the caller fails out-of-range
 * values with KP_ERR_UNKNOWN_PARTITION) unless it is KP_PARTITION_ANY,
 * which falls back to murmur2 / sticky. Keyless records go sticky in every
 * kind except random. Thread: the caller's, holding the topic's lock. */
int32_t kp__partition_choose(const kp__partitioner *pt, const char *topic,
			     const void *key, size_t key_len, int32_t count,
			     const int32_t *available, size_t navail,
			     kp__sticky *sticky, kp__rng *rng);

#endif
