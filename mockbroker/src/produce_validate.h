/*
 * kafkit mock broker: validating the records of one Produce partition as
 * a broker does (internal).
 *
 * Two steps, in Kafka's order: km__produce_precheck is KafkaApis'
 * ProduceRequest.validateRecords (framing, batch count, magic, zstd vs
 * version), done before acks and leadership are looked at;
 * km__produce_validate is the log's validation (CRCs, sizes, decompression,
 * counts and offsets of every record, producer fields).
 *
 * Threading: any (pure functions over the request bytes).
 */
#ifndef KAFKIT_MOCK_PRODUCE_VALIDATE_H
#define KAFKIT_MOCK_PRODUCE_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "kafkit/buf.h"

/* What validation learnt about the records. */
typedef struct km__produce_info {
	int magic;
	int32_t nrecords;
	/* v2 only (else -1 / false) */
	int32_t last_offset_delta;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	bool transactional;
} km__produce_info;

/* The record format a Produce version carries: magic 0 for v0-1, 1 for v2,
 * 2 for v3+. */
int km__produce_magic(int16_t version);

/* Framing and format rules of the request version: the records must be
 * non-null; v3+ exactly one batch of magic 2, zstd only from v7; v0-2 a
 * message set of the version's magic and no zstd (stricter than Kafka,
 * which takes any legacy magic there, as real clients never mix them).
 * Returns 0, or
 * INVALID_RECORD, CORRUPT_MESSAGE (framing) or
 * UNSUPPORTED_COMPRESSION_TYPE, with *why a static sentence. An empty v0-2
 * set passes (and appends nothing, as in Kafka). */
int16_t km__produce_precheck(kc_bytes records, int16_t version,
			     const char **why);

/* Full validation after km__produce_precheck passed: every entry's size
 * (log overhead included) within max_message_bytes (MESSAGE_TOO_LARGE),
 * CRCs, lengths, codecs and compressed data (CORRUPT_MESSAGE), v2 batches
 * with recordsCount = lastOffsetDelta + 1 and offset deltas 0..n-1, no
 * control batch, a sequence when there is a producer id, magic-1 wrappers
 * with consecutive inner offsets (INVALID_RECORD). Fills *info. Returns
 * 0 or the Kafka error code, with *why a static sentence; UNKNOWN_SERVER_ERROR when memory ran
 * out while decompressing. A batch decompressing past max_inflated bytes
 * is CORRUPT_MESSAGE (the mock's bound on memory per batch). */
int16_t km__produce_validate(kc_bytes records, int16_t version,
			     int32_t max_message_bytes, size_t max_inflated,
			     km__produce_info *info, const char **why);

#endif
