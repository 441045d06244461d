/*
 * Internal: the pieces of the batch builder and records iterator that live
 * in the legacy-format file (message_set.c) and the v2 files
 * (record_batch.c, records_iter.c). Not installed.
 */
#ifndef KAFKIT_RECORDS_INT_H
#define KAFKIT_RECORDS_INT_H

#include "kafkit/records.h"

/* Smallest possible v2 Record: length, attributes, timestampDelta,
 * offsetDelta, keyLength, valueLength, headersCount, one byte each. */
#define KC__RECORD_MIN_SIZE 7
/* Smallest legacy message_size per magic (crc..value, null key/value). */
#define KC__LEGACY_MIN_SIZE_V0 14
#define KC__LEGACY_MIN_SIZE_V1 22

/* Two's-complement addition: offsets and timestamps come from the wire and
 * may be anything, so their sums must not be signed overflow. */
static inline int64_t kc__add_wrap(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}
static inline int64_t kc__sub_wrap(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a - (uint64_t)b);
}

/* Legacy builder steps (magic 0/1), called by the public builder functions
 * after their common checks. Same errors as those. */
kc_err kc__msgset_append(kc_batch_builder *b, int64_t timestamp, kc_bytes key,
			 kc_bytes value);
size_t kc__msgset_record_size(const kc_batch_builder *b, kc_bytes key,
			      kc_bytes value);
kc_err kc__msgset_seal(kc_batch_builder *b);

/* Legacy iterator steps. `start` is the entry's first byte in the blob and
 * `size` its message_size, both already checked to lie inside the blob.
 * Fills it->cur and prepares it for kc__msgset_next(). Returns KC_OK or an
 * error already recorded in it->err. */
kc_err kc__msgset_open(kc_records_iter *it, const uint8_t *start, int32_t size,
		       int magic);
/* Next record of the current legacy entry: 1, 0 (done) or a kc_err. */
int kc__msgset_next(kc_records_iter *it, kc_record_view *rec);

/* Records iterator: stores a failure as sticky and returns it; sets the
 * error's in_compressed flag when the failure was in decompressed bytes. */
int kc__iter_fail(kc_records_iter *it, kc_err e);

/* Decompress n bytes at src (codec, flags per kc_decompress) into
 * it->inflated, a block reused (grown, never shrunk) across batches,
 * capped by it->max_decompressed, and point it->recs at the result. src
 * lies in the blob, where a failure is recorded under `field`.
 * Returns KC_OK or a recorded error. */
kc_err kc__iter_inflate(kc_records_iter *it, int codec, unsigned flags,
			const uint8_t *src, size_t n, const char *field);

#endif
