/*
 * kafkit codec: record batches (magic 2) and legacy message sets (magic 0/1).
 *
 * Builder: append records into one batch, encoded in place as they come
 * (payload copied once), then seal: lengths, compression, CRC. Iterator:
 * walk the batches of a `records` blob (Produce/Fetch), verify each CRC,
 * decompress, and walk the records, returning slices into the blob or into
 * the iterator's decompression buffer.
 *
 * Threading: a builder or iterator belongs to one thread at a time.
 */
#ifndef KAFKIT_RECORDS_H
#define KAFKIT_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "kafkit/buf.h"
#include "kafkit/compress.h"
#include "kafkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RecordBatch v2 attribute bits. */
#define KC_ATTR_CODEC_MASK 0x07
#define KC_ATTR_LOG_APPEND_TIME 0x08
#define KC_ATTR_TRANSACTIONAL 0x10
#define KC_ATTR_CONTROL 0x20
#define KC_ATTR_DELETE_HORIZON 0x40
/* Size of the RecordBatch v2 header up to and including recordsCount. */
#define KC_BATCH_V2_HEADER_SIZE 61
/* Legacy message: offset + message_size prefix. */
#define KC_LEGACY_LOG_OVERHEAD 12

/* One record header (key must not be null). */
typedef struct kc_rec_header {
	kc_str key;
	kc_bytes value;
} kc_rec_header;

/* ---- builder ------------------------------------------------------------ */

typedef struct kc_batch_config {
	int magic;             /* 2, or 1/0 for a legacy message set */
	int codec;             /* kc_codec; zstd only with magic 2 */
	int level;             /* KC_LEVEL_DEFAULT or a codec level */
	int64_t base_offset;   /* 0 from producers */
	int32_t partition_leader_epoch; /* -1 from producers */
	int64_t producer_id;   /* -1 when not idempotent */
	int16_t producer_epoch;
	int32_t base_sequence;
	bool transactional;
	bool log_append_time;  /* timestampType bit */
} kc_batch_config;

/* Defaults a plain producer uses: magic 2, no codec, base offset 0,
 * leader epoch -1, producer id/epoch/sequence -1. */
void kc_batch_config_default(kc_batch_config *cfg);

struct kc_record_header; /* generated (kafkit/messages.h) */

/* Builds one batch. Fields are private. */
typedef struct kc_batch_builder {
	kc_batch_config cfg;
	kc_writer w;          /* the batch as it is built, then as sealed */
	kc_writer z;          /* compressed records, kept across batches */
	kc_wslot header;      /* v2: the 61-byte header, filled at seal */
	int32_t count;
	int64_t base_timestamp;
	int64_t max_timestamp;
	size_t raw_len;       /* uncompressed size, kept once sealed */
	struct kc_record_header *hdrs; /* v2: headers handed to the encoder */
	size_t hdrs_cap;
	bool is_sealed;
	kc_compressor *cc;    /* codec contexts, kept across batches */
} kc_batch_builder;

/* Start an empty batch. Legacy magic 0/1: messages get offsets
 * base_offset + index (relative 0..n-1 inside a magic-1 wrapper), and a
 * codec wraps them at seal in one message at offset base_offset + n - 1.
 * The builder holds no memory until the first append; freeing it is safe
 * even after a failed init. Errors: KC_ERR_INVALID_ARG (magic not 0-2, codec
 * unknown, zstd with magic < 2). */
kc_err kc_batch_builder_init(kc_batch_builder *b, const kc_batch_config *cfg);

/* Append one record, encoded in place (key, value and headers are copied
 * now; the caller's buffers may be reused on return). timestamp in ms
 * (-1 = none; ignored by magic 0). key/value may be null (len -1); header
 * keys may not. Headers exist only in magic 2. A failed append leaves the
 * batch as it was, so it can still be sealed. Errors: KC_ERR_NOMEM,
 * KC_ERR_TOO_LARGE (the batch would pass 2 GiB), KC_ERR_INVALID_ARG
 * (sealed, INT32_MAX records, a length < -1, a null header key, headers
 * with magic 0/1, nheaders > 0 with headers NULL). */
kc_err kc_batch_append(kc_batch_builder *b, int64_t timestamp, kc_bytes key,
		       kc_bytes value, const kc_rec_header *headers,
		       size_t nheaders);

/* As kc_batch_append(), lending rather than copying: a key or value of
 * at least ref_min bytes (0 means 1) is referenced by the batch, not
 * copied, and must stay unchanged until the builder is reset or freed
 * and the last read of its output (kc_batch_output()) is done. Header
 * keys and values are still copied. The sealed batch then references
 * them: without a codec its bytes are read through kc_batch_output() (a
 * writer in iovec mode; the CRC covers the referenced bytes); with a
 * codec, seal gathers them into the batch before compressing, and the
 * output is contiguous again. Magic 0/1 copies everything (each
 * message's CRC is computed as it is appended). Same errors as
 * kc_batch_append(). */
kc_err kc_batch_append_ref(kc_batch_builder *b, int64_t timestamp,
			   kc_bytes key, kc_bytes value,
			   const kc_rec_header *headers, size_t nheaders,
			   size_t ref_min);

/* Records appended so far. */
int32_t kc_batch_count(const kc_batch_builder *b);

/* Uncompressed bytes so far, v2 header included (what batch.size limits
 * compare with); after seal, still the uncompressed size. */
size_t kc_batch_bytes(const kc_batch_builder *b);

/* Bytes the record would add to kc_batch_bytes() if appended now (for the
 * first v2 record, the 61-byte header too). Same arguments as append. */
size_t kc_batch_record_size(const kc_batch_builder *b, int64_t timestamp,
			    kc_bytes key, kc_bytes value,
			    const kc_rec_header *headers, size_t nheaders);

/* Finish the batch: v2 fills the header (lastOffsetDelta = count - 1,
 * baseTimestamp = first record's, maxTimestamp = max, CRC-32C last) after
 * compressing the records region; legacy with a codec wraps the set. An
 * empty v2 batch is a header (+ an empty compressed stream); an empty
 * legacy set is 0 bytes. *out stays valid until the builder is reset or
 * freed; it is NULL when the output references caller bytes
 * (kc_batch_append_ref() without a codec): read it with
 * kc_batch_output() then. *len is the batch's size either way. Sealing twice returns the same bytes; a failed seal leaves the
 * batch intact and may be retried. Errors: KC_ERR_NOMEM, KC_ERR_COMPRESS,
 * KC_ERR_TOO_LARGE. */
kc_err kc_batch_seal(kc_batch_builder *b, const uint8_t **out, size_t *len);

/* As kc_batch_seal(), compressing with the caller's compressor *cc
 * (created there when NULL, see kc_compress_with()) and its scratch
 * output instead of the builder's own: a producer holding many open
 * batches then keeps one set of codec contexts and one compression
 * buffer per sealing thread, not one per batch. The bytes are the same.
 * Preconditions: cc non-NULL; *cc used by one thread at a time.
 * Errors: those of kc_batch_seal() (KC_ERR_NOMEM also when *cc cannot
 * be created). */
kc_err kc_batch_seal_with(kc_batch_builder *b, kc_compressor **cc,
			  const uint8_t **out, size_t *len);

/* Rewrite producerId, producerEpoch and baseSequence of a sealed magic-2
 * batch in place (the bytes kc_batch_seal() returned) and recompute its
 * CRC, so an idempotent producer can re-send a batch after an epoch bump
 * or a sequence reset without encoding it again. The builder's config
 * is unchanged, so a batch built after kc_batch_builder_reset() carries
 * the configured values again. Errors: KC_ERR_INVALID_ARG (not sealed,
 * or magic < 2). */
kc_err kc_batch_restamp(kc_batch_builder *b, int64_t producer_id,
			int16_t producer_epoch, int32_t base_sequence);

/* The sealed batch as a writer (iovec entries through kc_writer_iov(),
 * or kc_writer_data() when nothing is referenced), valid as kc_batch_seal()'s
 * bytes are; NULL before the seal. */
const kc_writer *kc_batch_output(const kc_batch_builder *b);

/* Start over with the same config, keeping memory for reuse: a batch no
 * larger than an earlier one then allocates nothing, compressed or not
 * (the gzip, lz4 and zstd contexts are created at the first compressed
 * seal and kept until the builder is freed). */
void kc_batch_builder_reset(kc_batch_builder *b);
/* Release the builder's memory; it may be initialised again afterwards. */
void kc_batch_builder_free(kc_batch_builder *b);

/* ---- iterator ----------------------------------------------------------- */

/* What the iterator knows about the current batch (for legacy formats: the
 * current top-level message, which is a wrapper when codec != 0). */
typedef struct kc_batch_info {
	int magic;
	int codec;
	int64_t base_offset;     /* v2 baseOffset; legacy: first record's offset */
	int64_t last_offset;     /* offset of the last record */
	int32_t batch_length;    /* v2 batchLength; legacy: message_size */
	int32_t partition_leader_epoch; /* v2 only, else -1 */
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t records_count;   /* v2 recordsCount; legacy: records found */
	uint32_t crc;            /* stored CRC */
	bool crc_ok;             /* computed CRC matches */
	size_t offset;           /* byte offset of the batch in the blob */
	size_t wire_size;        /* bytes the batch occupies in the blob */
	size_t uncompressed_size;/* bytes of the records once decompressed */
} kc_batch_info;

/* One record; slices valid until the next call on the iterator. */
typedef struct kc_record_view {
	int64_t offset;
	int64_t timestamp;       /* -1 when magic 0 */
	int8_t attributes;
	kc_bytes key;
	kc_bytes value;
	const kc_rec_header *headers;
	int32_t headers_count;
} kc_record_view;

/* Iterator flags. */
#define KC_ITER_CRC_LENIENT 1u /* report crc_ok=false and keep going */
#define KC_ITER_STRICT_END 2u  /* a partial trailing batch is an error
                                  (Produce); default: ignore it (Fetch) */

typedef struct kc_records_iter {
	kc_reader r;             /* over the whole blob */
	kc_decode_error *err;
	unsigned flags;
	size_t max_decompressed; /* cap per batch; callers may lower it */
	kc_err failed;           /* sticky: every call after an error returns it */
	kc_batch_info cur;
	kc_reader recs;          /* over the current batch's (decompressed) records */
	int32_t recs_left;       /* records still to read in this batch */
	int32_t prev_delta;      /* v2: offsetDelta of the previous record */
	int64_t legacy_delta;    /* legacy wrappers: absolute - relative offset */
	uint8_t *inflated;       /* decompressed records of the current batch */
	size_t inflated_cap;     /* its size, reused across batches */
	kc_arena arena;          /* header arrays of the current record */
	kc_rec_header *hdrs;     /* header array reused across records */
	int32_t hdrs_cap;
	kc_record_view single;   /* legacy uncompressed: the one record ... */
	bool single_pending;     /* ... still to give */
	bool truncated_tail;     /* a partial batch ended the blob */
	bool in_compressed;      /* recs reads decompressed bytes */
} kc_records_iter;

/* Iterate over a records blob (one or more batches or messages, any magic,
 * as found in Produce and Fetch). err must not be NULL. Allocates nothing;
 * it->max_decompressed (default KC_DEFAULT_MAX_DECOMPRESSED) may be lowered
 * before the first call. */
void kc_records_iter_init(kc_records_iter *it, const void *p, size_t n,
			  unsigned flags, kc_decode_error *err);

/* Move to the next batch: 1 = got one (info filled), 0 = no more, or a
 * negative kc_err (details in *err): KC_ERR_TRUNCATED, KC_ERR_BAD_LENGTH,
 * KC_ERR_BAD_MAGIC, KC_ERR_CRC (unless lenient; inner legacy messages
 * included), KC_ERR_UNSUPPORTED_CODEC, KC_ERR_DECOMPRESS, KC_ERR_TOO_LARGE,
 * KC_ERR_NOMEM, KC_ERR_BAD_COUNT (recordsCount negative, above
 * lastOffsetDelta + 1 or above what the bytes can hold), KC_ERR_BAD_VALUE
 * (negative lastOffsetDelta), KC_ERR_NULL (legacy wrapper without value).
 * A partial trailing batch ends the walk with 0 and sets
 * it->truncated_tail (KC_ERR_TRUNCATED with KC_ITER_STRICT_END). Skips
 * records of the previous batch not read. Errors are sticky: every later
 * call returns the same one. Legacy wrappers are decompressed and their
 * inner set's framing checked here, so info->records_count is exact. */
int kc_records_next_batch(kc_records_iter *it, kc_batch_info *info);

/* Next record of the current batch: 1 = got one, 0 = batch done, or a
 * negative kc_err (KC_ERR_TRUNCATED, KC_ERR_BAD_LENGTH, KC_ERR_VARINT,
 * KC_ERR_BAD_COUNT (fewer records than recordsCount), KC_ERR_TRAILING
 * (bytes after recordsCount records), KC_ERR_BAD_VALUE (offsetDelta not
 * increasing or past lastOffsetDelta), KC_ERR_NULL, KC_ERR_CRC and
 * KC_ERR_BAD_MAGIC (inner legacy messages), KC_ERR_UNSUPPORTED_CODEC (an
 * inner legacy message compressed again), KC_ERR_NOMEM); sticky as above.
 * Offsets are absolute; timestamps are the batch's maxTimestamp (v2) or
 * the wrapper's (v1) under LogAppendTime. */
int kc_records_next(kc_records_iter *it, kc_record_view *rec);

/* Iterate over another records blob with the same flags, error struct
 * and max_decompressed, keeping the buffers of earlier batches, so that
 * walking blob after blob allocates nothing once they are large enough.
 * Precondition: it was initialised with kc_records_iter_init(). Clears a
 * sticky error and it->truncated_tail. Never fails. */
void kc_records_iter_reset(kc_records_iter *it, const void *p, size_t n);

/* Release the iterator's buffers. */
void kc_records_iter_free(kc_records_iter *it);

#ifdef __cplusplus
}
#endif
#endif
