/*
 * kafkit mock broker: one partition's log (internal).
 *
 * Accepted record batches are stored as sealed bytes with their offsets
 * assigned, back to back in segments (like Kafka's log segments), so a
 * Fetch answers with a slice of one segment and sends it without a copy.
 * An index of batches (a ring, oldest first) maps offsets and timestamps to
 * batches. Each entry is one v2 batch, or one produced legacy message set
 * (all its top-level messages, offsets assigned per message).
 *
 * Large v2 batches can instead be kept where they arrived, in the
 * connection's input buffer (km__plog_append_in_place): such a batch gets
 * a segment of its own that references the buffer, so a Fetch reading it
 * answers with that one batch.
 *
 * Retention drops the oldest batches past a byte or batch limit; a segment
 * is freed (an input buffer released) once none of its batches is in the
 * log and no response being sent still references it
 * (km__segment_ref/unref).
 *
 * Threading: the owner's thread (the cluster's I/O thread).
 */
#ifndef KAFKIT_MOCK_PARTITION_LOG_H
#define KAFKIT_MOCK_PARTITION_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "kafkit/err.h"
#include "kafkit/mock.h"

/* Largest segment allocated for small batches; a batch larger than this
 * gets a segment of its own size. */
#define KM__SEGMENT_MAX ((size_t)1 << 20)

typedef struct km__segment {
	uint8_t *data;     /* own[], or a batch in blk */
	kn__block *blk;    /* an input buffer referenced, or NULL */
	size_t cap, len;
	uint32_t batches;  /* log entries stored in it */
	uint32_t inflight; /* responses still sending from it */
	bool active;       /* the log appends here */
	uint8_t own[];
} km__segment;

typedef struct km__batch {
	int64_t base_offset;
	int64_t last_offset;
	int64_t max_timestamp; /* -1 when none (magic 0) */
	km__segment *seg;
	size_t pos;            /* bytes [pos, pos+len) of seg */
	size_t len;
	int8_t magic;
	int8_t codec;          /* of the first top-level entry */
} km__batch;

typedef struct km__plog {
	km__batch *ring; /* cap entries, a power of 2 */
	size_t head, count, cap;
	km__segment *active;
	size_t next_seg_cap;
	int64_t log_start;  /* first offset still stored */
	int64_t end_offset; /* next offset to assign = high watermark */
	size_t bytes;
	size_t retention_bytes;   /* 0: unlimited */
	size_t retention_batches; /* 0: unlimited */
} km__plog;

/* What the producer side knows about data handed to km__plog_append. */
typedef struct km__append {
	int magic;                /* 2: one RecordBatch; 0/1: a MessageSet */
	int64_t log_append_time;  /* >= 0: LogAppendTime topic, this time */
	int32_t leader_epoch;     /* v2 partitionLeaderEpoch to store */
} km__append;

/* An empty log starting at offset 0. Never fails. */
void km__plog_init(km__plog *l, size_t retention_bytes,
		   size_t retention_batches);

/* Release the index and every segment not referenced by a response in
 * flight (those go with their last km__segment_unref). */
void km__plog_free(km__plog *l);

/* Append validated data (Produce already checked framing, CRCs, magic and
 * counts): copy it into a segment, assign offsets from the end offset
 * (v2: baseOffset; legacy: each top-level message's offset, the last inner
 * offset for a compressed wrapper; magic-0 wrappers are re-encoded since
 * their inner offsets are absolute), store the leader epoch (v2), apply
 * LogAppendTime (v2: attributes and maxTimestamp; magic 1: attributes and
 * timestamp of each top-level message; CRCs recomputed), then enforce
 * retention. *base_offset receives the first offset assigned.
 * Errors: KC_ERR_NOMEM, KC_ERR_INVALID_ARG (data that does not parse or
 * holds no record: a broken precondition), or the compressor's errors
 * (magic-0 re-encoding); the log is unchanged on error. */
kc_err km__plog_append(km__plog *l, const uint8_t *data, size_t len,
		       const km__append *a, int64_t *base_offset);

/* Like km__plog_append for one v2 batch (a->magic == 2), without the
 * copy: the log keeps the len bytes at data, which must lie in blk, and
 * patches them in place (baseOffset, partitionLeaderEpoch, LogAppendTime
 * and the CRC with it). The log takes its own reference to blk, dropped
 * when the batch leaves the log and no response still sends it; the
 * caller keeps its reference. Errors: KC_ERR_NOMEM, KC_ERR_INVALID_ARG (a
 * header too short, lastOffsetDelta < 0: a broken precondition); the log
 * and the bytes are unchanged on error. */
kc_err km__plog_append_in_place(km__plog *l, uint8_t *data, size_t len,
				const km__append *a, kn__block *blk,
				int64_t *base_offset);

/* Entry i (0 = oldest) of the index; i < l->count. */
static inline km__batch *km__plog_at(const km__plog *l, size_t i)
{
	return &l->ring[(l->head + i) & (l->cap - 1)];
}

/* Index of the first entry whose last offset is >= offset (l->count when
 * none). O(log n). */
size_t km__plog_find(const km__plog *l, int64_t offset);

/* A run of whole batches in one segment, for a Fetch response. */
typedef struct km__span {
	km__segment *seg; /* NULL when len == 0 */
	const uint8_t *p;
	size_t len;
	int max_magic;    /* highest magic among the batches, -1 when none */
	bool has_zstd;
} km__span;

/* The batches from the one holding `offset` on, within its segment, as
 * long as they fit max_bytes. The first batch is given whole even when it
 * is larger if whole_first, else cut at max_bytes (a partial batch, which
 * readers ignore). offset must lie in [log_start, end_offset]; at the end
 * offset the span is empty. Takes no reference: see km__segment_ref. */
void km__plog_read(const km__plog *l, int64_t offset, size_t max_bytes,
		   bool whole_first, km__span *out);

/* Keep seg's bytes alive past retention and km__plog_free until the
 * matching unref. */
void km__segment_ref(km__segment *seg);
void km__segment_unref(km__segment *seg);

/* ListOffsets by timestamp: the first record with timestamp >= ts, in
 * offset order. *offset = -1 and *found_ts = -1 when there is none.
 * Errors: the records iterator's (KC_ERR_NOMEM while decompressing). */
kc_err km__plog_offset_for_time(const km__plog *l, int64_t ts,
				int64_t *offset, int64_t *found_ts);

/* ListOffsets MAX_TIMESTAMP (-3): the first record holding the largest
 * timestamp; -1/-1 for an empty log. Errors as above. */
kc_err km__plog_max_timestamp(const km__plog *l, int64_t *offset,
			      int64_t *found_ts);

/* Walk every stored record in offset order, calling fn (stop when it
 * returns non-zero). Errors: the records iterator's. */
kc_err km__plog_walk(const km__plog *l, km_record_fn fn, void *opaque);

#endif
