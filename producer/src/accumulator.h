/*
 * The record accumulator: per topic-partition queues of batches built in
 * place, buffer.memory accounting (accumulator.c), linger and batch.size
 * readiness, and the drain the sender uses to fill ProduceRequests
 * (accumulator_drain.c).
 *
 * Threads:
 * - kp__acc_append() runs on application threads (any number at once), and
 *   on the sender thread from delivery callbacks (never blocking there);
 * - everything marked "sender thread" runs on the producer's sender thread
 *   only, which also owns the kp__tp fields marked so;
 * - locks: one mutex for the topic table, one per topic (its sticky
 *   partitioner state), one per partition queue; buffer.memory has its own
 *   mutex and condition variable. No lock is held while blocking for
 *   memory, and none across calls into the application.
 *
 * Memory: records are charged to buffer.memory from the moment they are
 * appended until kp__acc_release() of their batch; batches and their
 * record arrays are pooled, so a warm accumulator allocates nothing per
 * record (a pooled batch keeps builder buffers up to 2 x batch.size, at
 * least 16 KiB; larger ones, from lone large records, are freed).
 */
#ifndef KAFKIT_PRODUCER_ACCUMULATOR_H
#define KAFKIT_PRODUCER_ACCUMULATOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "deadline.h"
#include "partitioner.h"

typedef struct kp__acc kp__acc;

/* One topic-partition the producer has records for. Created by the first
 * append to it and kept until kp__acc_destroy(), so a kp__tp pointer stays
 * valid for the producer's life. */
typedef struct kp__tp {
	const char *topic;        /* the accumulator's copy, NUL-terminated */
	int32_t partition;

	/* Guarded by lock. */
	pthread_mutex_t lock;
	kp__batch *head, *tail;   /* queued batches, oldest first */
	size_t queued_batches;
	size_t queued_records;
	size_t queued_bytes;      /* kc_batch_bytes() of the queued batches */

	/* Sender thread only. */
	int32_t leader;           /* node id, -1 unknown (drain skips it) */
	int32_t leader_epoch;     /* -1 unknown */
	int muted;                /* drain skips it (ordering guards) */
	int in_flight;            /* batches sent and not yet answered */
	int32_t next_sequence;    /* idempotence: next base sequence */
	int32_t acked_sequence;   /* idempotence: last sequence acknowledged
	                             under the current epoch, -1 none */
	uint64_t stat_records, stat_batches, stat_bytes, stat_retries,
		stat_errors;          /* totals, for kp_stats_json */
	void *sender_ud;          /* free for the sender's own use */

	/* The accumulator's list of every tp, appended to by appending
	 * threads while the sender walks it (kp__acc_foreach_tp). */
	_Atomic(struct kp__tp *) next_all;
	struct kp__tp *next_hash;
} kp__tp;

typedef struct kp__acc_conf {
	int64_t batch_size;       /* batch.size: a batch is full past this */
	int64_t buffer_memory;    /* buffer.memory */
	int64_t linger_ms;        /* linger.ms */
	int64_t max_request_size; /* max.request.size: a larger record fails */
	int64_t copy_max;         /* message.copy.max.bytes: a key or value
	                             of a record with a free_cb larger than
	                             this is referenced, not copied */
	int codec;                /* compression.type (KC_CODEC_*) */
	int level;                /* compression.level, KC_LEVEL_DEFAULT */
	kp__partitioner partitioner;
	uint64_t seed;            /* random source of partition choices */
} kp__acc_conf;

/* Create an accumulator. Returns KP_OK, KP_ERR_NOMEM.
 * Thread: any (the producer's constructor). */
kp_err kp__acc_new(kp__acc **out, const kp__acc_conf *conf);

/* Free every tp, queued batch (their records unreported: call
 * kp__acc_abort() first and report them) and pooled memory. NULL is a
 * no-op. Precondition: no other thread uses a. Thread: the closer. */
void kp__acc_destroy(kp__acc *a);

/* One record to append. */
typedef struct kp__append {
	const char *topic;
	int32_t partition;        /* >= 0, or KP_PARTITION_ANY */
	int32_t partition_count;  /* the topic's partitions (metadata), > 0 */
	const int32_t *available; /* partitions with a leader, for sticky */
	size_t navail;
	int magic;                /* record format for a new batch (2, 1, 0) */
	int64_t timestamp;        /* ms; resolved by the caller (no NOW) */
	kc_bytes key;             /* len -1: null */
	kc_bytes value;
	const kp_header *headers;
	size_t nheaders;
	kp_delivery_cb cb;
	void *opaque;
	kp_free_cb free_cb;
	void *free_opaque;
} kp__append;

typedef struct kp__append_result {
	kp__tp *tp;               /* where the record went */
	int new_batch;            /* the record opened a new batch */
	int batch_full;           /* a batch became full: the record's
	                             reached batch.size, or it opened a new
	                             batch behind an older one (which is
	                             ready now): wake the sender */
} kp__append_result;

/* Append one record: choose the partition when r->partition is
 * KP_PARTITION_ANY (configured partitioner, under the topic lock, with the
 * topic's sticky state), charge buffer.memory (waiting until
 * the deadline, fixed at this wait if it is not yet, for memory to be
 * released; dl NULL never waits), then encode the record into the
 * partition's open batch, opening a new one when it would pass batch.size
 * (a lone record larger than batch.size gets a batch of its own) or when
 * r->magic differs from the open batch's.
 * Returns KP_OK (res filled), KP_ERR_RECORD_TOO_LARGE (the record alone
 * exceeds max.request.size or buffer.memory), KP_ERR_BUFFER_FULL (no room
 * by the deadline), KP_ERR_UNKNOWN_PARTITION (partition >= count, or a
 * custom partitioner's answer out of range), KP_ERR_INVALID_ARG,
 * KP_ERR_CLOSED (after kp__acc_close()), KP_ERR_NOMEM, KP_ERR_ENCODE,
 * KP_ERR_UNSUPPORTED (compression.type zstd with magic < 2).
 * The size limits compare the record's bytes as the only record of a new
 * batch (v2: with the 61-byte batch header), which is also what is
 * reserved before the locks are taken. A custom partitioner is called
 * with no lock held.
 * On error nothing was appended and nothing stays charged.
 * With compression, when the record opens a new batch behind a full one
 * while an older batch of the partition still waits for the sender, the
 * full one is sealed (compressed) on the calling thread before returning,
 * with no lock held (accumulator_seal.c).
 * Thread: any. */
kp_err kp__acc_append(kp__acc *a, const kp__append *r, kp__deadline *dl,
		      kp__append_result *res);

/* Call fn for every tp created so far, in creation order. tps created
 * during the walk may or may not be visited. Thread: sender thread. */
void kp__acc_foreach_tp(kp__acc *a, void (*fn)(kp__tp *tp, void *arg),
			void *arg);

/* The earliest kn__now_ms() time at which a queued batch of a partition
 * with a known, unmuted leader becomes ready (linger.ms after its first
 * append, or its retry_at_ms), `now` when one is ready already, INT64_MAX
 * when none will be without new appends. A head batch is ready when it is
 * full (batch.size reached, or a later batch queued behind it), when
 * linger.ms has passed since its first append, while a flush is in
 * progress, or after kp__acc_close(); and never before its retry_at_ms.
 * Thread: sender thread. */
int64_t kp__acc_next_ready(kp__acc *a, int64_t now);

/* Take ready head batches of the partitions led by `node` (not muted),
 * at most one per partition, visiting partitions round robin across calls
 * so none starves, until adding another would pass max_bytes of
 * wire_len (the first one is always taken). Each taken batch is sealed
 * (kp__batch_seal, outside the partition lock) and appended at the end
 * of *list (linked through next, in drain order); its drained_ms is set
 * to now, its drain_seq to the next drain number and attempts
 * incremented. Before sealing, an unsealed batch counts as its
 * uncompressed kc_batch_bytes(); one that turns out past max_bytes once
 * sealed is put back at the front for the next call.
 * A batch that fails to seal is pushed too with wire NULL: the caller
 * fails its records (KP_ERR_ENCODE).
 * Returns the number of batches taken. Thread: sender thread. */
size_t kp__acc_drain(kp__acc *a, int32_t node, int64_t now, size_t max_bytes,
		     kp__batch **list);

/* Put a drained batch back for a retry, at the front of its partition
 * queue but behind the retried batches (attempts > 0) queued there that
 * go first: those with a lower base_sequence when both are stamped,
 * else those drained earlier (lower drain_seq), so retries go out in
 * their original order. retry_at_ms should be set by the caller.
 * Thread: sender thread. */
void kp__acc_reenqueue(kp__acc *a, kp__batch *b);

/* Split a batch the broker refused as too large (MESSAGE_TOO_LARGE) into
 * batches of at most max(min(batch.size, half of b's uncompressed
 * bytes), one record) bytes each (the half makes each split progress
 * even when the broker's limit is below batch.size), decoded from its
 * sealed bytes (b is sealed first if it was not), with the records'
 * metadata moved along, and put them at the front of its queue in record
 * order. They keep b's created_ms, attempts, drain_seq and
 * last_kafka_err, are frozen (no appends) and unsealed, with no
 * producer id or sequence. b is released (its memory charge moves to the
 * new batches).
 * Returns KP_OK, KP_ERR_INVALID_ARG (a batch of one record cannot be
 * split: the caller fails it), KP_ERR_NOMEM, KP_ERR_ENCODE (b could not
 * be sealed or decoded); on error b is left as it was (perhaps sealed).
 * Thread: sender thread. */
kp_err kp__acc_split(kp__acc *a, kp__batch *b);

/* Remove queued (not in flight, retries waiting included) batches whose
 * first append is at least timeout_ms before now, appending them to
 * *list for the caller to fail (KP_ERR_DELIVERY_TIMEOUT). Returns how
 * many. Thread: sender thread. */
size_t kp__acc_expire(kp__acc *a, int64_t now, int64_t timeout_ms,
		      kp__batch **list);

/* Remove every queued batch (for close after its timeout, or a fatal
 * error), appending them to *list, partition by partition, oldest
 * first. Returns how many. Thread: sender thread. */
size_t kp__acc_abort(kp__acc *a, kp__batch **list);

/* Return a batch whose records were all reported: give its memory back
 * to buffer.memory (waking blocked appends) and the batch to the pool.
 * Thread: sender thread (or the closer once the sender has stopped). */
void kp__acc_release(kp__acc *a, kp__batch *b);

/* While at least one flush is in progress every queued batch is ready.
 * Nested: each begin needs one end. Thread: any. */
void kp__acc_flush_begin(kp__acc *a);
void kp__acc_flush_end(kp__acc *a);

/* Refuse further appends (KP_ERR_CLOSED, waking any append blocked on
 * memory) and make every queued batch ready. Idempotent. Thread: any. */
void kp__acc_close(kp__acc *a);

/* Bytes charged to buffer.memory now, and its size. Thread: any. */
size_t kp__acc_memory_used(kp__acc *a);
size_t kp__acc_memory_total(const kp__acc *a);

#endif
