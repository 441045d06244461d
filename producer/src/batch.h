/*
 * One producer batch: the records of one topic-partition encoded in place
 * by the codec's batch builder, plus what each record's delivery report
 * needs. A batch is created by the accumulator on the caller's thread,
 * sealed and sent by the sender thread, and freed (back to the
 * accumulator's pool) after its records were reported.
 *
 * Threading: a batch in a partition queue is guarded by that queue's lock
 * (accumulator.h); once drained it belongs to the sender thread alone.
 */
#ifndef KAFKIT_PRODUCER_BATCH_H
#define KAFKIT_PRODUCER_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "kafkit/producer.h"
#include "kafkit/records.h"

struct kp__tp;

/* What the delivery report of one record needs, kept in the batch's array
 * (grown by doubling and reused with the batch: no allocation per record
 * once the pool is warm). */
typedef struct kp__rec_meta {
	kp_delivery_cb cb;
	void *opaque;
	kp_free_cb free_cb;   /* zero-copy records: called after the report */
	void *free_opaque;
	int64_t timestamp;    /* CreateTime as sent */
	size_t key_len;       /* serialized sizes (0 for null) */
	size_t value_len;
} kp__rec_meta;

typedef struct kp__batch {
	struct kp__batch *next;  /* queue / in-flight / result list link */
	struct kp__tp *tp;       /* the partition it belongs to */
	kc_batch_builder b;
	kp__rec_meta *recs;
	size_t nrecs, recs_cap;
	int magic;               /* the builder's record format, -1 before
	                            its first use */
	int frozen;              /* takes no more appends (split products) */
	uint64_t drain_seq;      /* order of its last drain among all drains
	                            (kp__acc_reenqueue keeps retries in it) */
	int64_t created_ms;      /* monotonic ms of the first append */
	int64_t drained_ms;      /* monotonic ms of the last drain, 0 never */
	int64_t retry_at_ms;     /* not drained before this (backoff) */
	uint32_t attempts;       /* sends so far */
	size_t accounted;        /* bytes charged to buffer.memory */
	int16_t last_kafka_err;  /* last retriable broker error, 0 none */
	int sealed;
	/* An application thread claimed b to seal it outside the partition
	 * lock (accumulator_seal.c): while set, only that thread touches b's
	 * builder, wire and sealed fields, and the sender leaves b queued.
	 * Guarded by the tp lock. */
	int sealing;
	/* Counted in the accumulator's backlog (full, queued, nobody sealing
	 * it yet). Guarded by the tp lock. */
	int backlog;
	/* Idempotence: the state stamped into the sealed v2 header, or -1. */
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	/* Sealed bytes (valid while sealed): contiguous in wire, or, when
	 * the batch references lent values (kc_batch_append_ref), wire is
	 * NULL and wire_lent is the builder's output writer to read as
	 * iovec entries. wire_len is the size either way. */
	const uint8_t *wire;
	const kc_writer *wire_lent;
	size_t wire_len;
} kp__batch;

/* A new empty batch (builder not set up yet, magic -1), from the codec
 * allocator. Returns KP_OK, KP_ERR_NOMEM. Thread: any. */
kp_err kp__batch_new(kp__batch **out);

/* Free b, its builder and record array. NULL is a no-op. Thread: b's
 * owner. */
void kp__batch_free(kp__batch *b);

/* Make b (new, or back from the pool) an empty batch built with cfg:
 * the builder is reset, keeping its memory, when cfg->magic is the magic
 * it was set up with, else set up again; every other field is cleared
 * (producer_id, producer_epoch, base_sequence to -1).
 * Returns KP_OK, KP_ERR_UNSUPPORTED (zstd with magic < 2),
 * KP_ERR_INVALID_ARG (another bad config). Thread: b's owner. */
kp_err kp__batch_open(kp__batch *b, const kc_batch_config *cfg);

/* Encode one record into unsealed b and keep its metadata m (copied).
 * ref_min 0 copies key and value; otherwise a key or value of at least
 * ref_min bytes is referenced (m must then carry the free_cb that keeps
 * the caller's bytes alive until the report). On error b is as it was.
 * Returns KP_OK, KP_ERR_NOMEM, KP_ERR_ENCODE (the codec refused the
 * record: over 2 GiB, bad lengths, headers with magic < 2).
 * Thread: b's owner (the partition lock's holder). */
kp_err kp__batch_append(kp__batch *b, const kp__rec_meta *m,
			int64_t timestamp, kc_bytes key, kc_bytes value,
			const kc_rec_header *headers, size_t nheaders,
			size_t ref_min);

/* b's sealed bytes gathered into one allocation (*out, kc__free it):
 * for readers that need them contiguous when b references lent values
 * (a split); *out is NULL and nothing is allocated when b->wire already
 * is contiguous. Returns KP_OK, KP_ERR_NOMEM, KP_ERR_INVALID_ARG (not
 * sealed). Thread: b's owner. */
kp_err kp__batch_gather(const kp__batch *b, uint8_t **out);

/* Seal b (compression at the builder's codec, CRC) if not sealed yet and
 * set b->wire / b->wire_len. Sealing is idempotent.
 * Returns KP_OK, KP_ERR_ENCODE (codec failure), KP_ERR_NOMEM.
 * Thread: the owner of b (the sender). */
kp_err kp__batch_seal(kp__batch *b);

/* As kp__batch_seal(), compressing with the caller's codec contexts *cc
 * (kc_compress_with(): created there on first need; cc NULL: the
 * builder's own), so the accumulator keeps one set for all its batches
 * rather than one per pooled batch (a zstd context is hundreds of KiB).
 * Same returns. Thread: the owner of b and of *cc (the sender). */
kp_err kp__batch_seal_with(kp__batch *b, kc_compressor **cc);

/* Stamp the producer id, epoch and base sequence into a sealed magic-2
 * batch (header fields producerId, producerEpoch, baseSequence, then the
 * CRC recomputed, by kc_batch_restamp()), so a batch can be re-sent after
 * an epoch bump or a sequence reset without re-encoding. Records b's new
 * state; b->wire and b->wire_lent are unchanged (rewritten in place).
 * Preconditions: b sealed with magic 2.
 * Returns KP_OK or KP_ERR_INVALID_ARG (not sealed, magic < 2).
 * Thread: the sender. */
kp_err kp__batch_stamp(kp__batch *b, int64_t producer_id,
		       int16_t producer_epoch, int32_t base_sequence);

/* Number of records in b. */
static inline size_t kp__batch_count(const kp__batch *b)
{
	return b->nrecs;
}

#endif
