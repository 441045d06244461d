/*
 * What the two halves of the accumulator share: the application side
 * (accumulator.c: topics, partitions, appends, buffer.memory, the batch
 * pool) and the sender side (accumulator_drain.c: readiness, drain,
 * re-enqueue, expiry, split). Not installed; included only by those two
 * files.
 */
#ifndef KAFKIT_PRODUCER_ACCUMULATOR_INT_H
#define KAFKIT_PRODUCER_ACCUMULATOR_INT_H

#include "accumulator.h"

/* Per-node drain cursors, by node id modulo this; nodes that share a slot
 * just share a starting point. */
#define DRAIN_SLOTS 64

/* Compression contexts kept for application threads' seals; more threads
 * sealing at once get contexts of their own for that seal. */
#define CC_SPARE 8

struct mem_waiter;
typedef struct kp__topic kp__topic; /* accumulator.c's own */

struct kp__acc {
	kp__acc_conf conf;
	kc_batch_config bcfg;   /* codec and level; magic set per batch */
	/* Empty builders, one per magic, only read (kc_batch_record_size) to
	 * size a record alone; probe_err: their init's error, if any. */
	kc_batch_builder probe[3];
	kc_err probe_err[3];
	size_t pool_keep;       /* builder bytes a pooled batch may keep */

	pthread_mutex_t table_lock;
	kp__topic **buckets;
	size_t nbuckets, ntopics;
	uint64_t topics_made;   /* seeds each topic's rng differently */
	/* The topic found last, looked at before the table and its lock:
	 * most producers send to one topic, and a topic is never freed
	 * before the accumulator, so a stale pointer is still a topic. */
	_Atomic(kp__topic *) last_topic;
	_Atomic(kp__tp *) all_head;
	kp__tp *all_tail;       /* table_lock */

	/* buffer.memory: bytes charged, changed with atomics so an append
	 * that fits takes no lock. mem_lock guards the waiters; nwaiters
	 * (changed under it) turns the lock-free path off while any append
	 * waits, and tells a release whether to wake one. */
	pthread_mutex_t mem_lock;
	_Atomic size_t mem_used;
	atomic_int nwaiters;
	/* Appends waiting for memory, served first come first served as
	 * Java's BufferPool does, so a large record is not starved by a
	 * stream of small ones. */
	struct mem_waiter *wait_head, *wait_tail;
	pthread_condattr_t wait_attr; /* CLOCK_MONOTONIC, as kn__now_ms() */

	pthread_mutex_t pool_lock;
	kp__batch *pool;
	/* Codec contexts of application threads that seal (pool_lock),
	 * kept between seals as the sender keeps cc. */
	kc_compressor *cc_spare[CC_SPARE];
	size_t ncc_spare;

	atomic_int closed;
	atomic_int flushing;

	/* Sender thread only. */
	uint64_t drains;
	/* kp__acc_expire() need not look before expire_at: no queued batch
	 * reaches expire_timeout_ms sooner (INT64_MIN: look next time). */
	int64_t expire_at;
	int64_t expire_timeout_ms;
	/* Codec contexts for every seal (kp__batch_seal_with), kept from
	 * one batch to the next. */
	kc_compressor *cc;
	/* Full batches still queued that nobody has started to seal (each
	 * marked kp__batch.backlog): appending threads seal the batches they
	 * fill themselves while one is waiting (kp__acc_seal_claim). */
	atomic_int backlog;
	struct {
		int32_t node;
		kp__tp *start;
	} cursor[DRAIN_SLOTS];
};

/* Move the buffer.memory charge of a batch from `from` to `to` bytes,
 * waking the first append waiting for memory when it shrinks. Any thread;
 * lock-free unless it shrinks while appends wait (then takes mem_lock: no
 * other lock may be held). Cannot fail. */
void kp__acc_mem_adjust(kp__acc *a, size_t from, size_t to);

/* A batch for tp, open for `magic`: from the pool, or new. Returns KP_OK,
 * KP_ERR_NOMEM, or the errors of kp__batch_open() (KP_ERR_UNSUPPORTED,
 * KP_ERR_INVALID_ARG) with *out untouched. Any thread; takes pool_lock
 * (no tp lock needed). */
kp_err kp__acc_pool_get(kp__acc *a, kp__tp *tp, int magic, kp__batch **out);

/* Give a batch back to the pool (its large buffers freed, see
 * POOL_KEEP_FACTOR in accumulator.c). Precondition: b is on no list and
 * no longer charged. Any thread; takes pool_lock. */
void kp__acc_pool_put(kp__acc *a, kp__batch *b);

/* prev, the batch a new one was just opened behind on tp, is full. With
 * compression, either count it in the backlog for the sender, or, when a
 * full batch already waits there (the sender is behind), claim it for the
 * calling thread to seal (kp__batch.sealing set; returns 1). The feedback
 * keeps the two threads' compression in balance: the appending thread
 * helps only while batches pile up, so a producer that keeps up leaves
 * compression to the sender. Returns 0 when not claimed.
 * Precondition: tp->lock held. Thread: any appending thread. */
int kp__acc_seal_claim(kp__acc *a, kp__tp *tp, kp__batch *prev);

/* Seal b, claimed by kp__acc_seal_claim(), with a spare codec context,
 * then drop the claim. A failed seal (KP_ERR_NOMEM, KP_ERR_ENCODE) is
 * left for the sender's drain to retry and report. Precondition: no
 * lock held. Thread: the thread that claimed b. */
void kp__acc_seal_claimed(kp__acc *a, kp__tp *tp, kp__batch *b);

/* b leaves its queue (drained, expired, aborted): out of the backlog if
 * counted there. Precondition: b's tp lock held. Thread: sender. */
void kp__acc_backlog_leave(kp__acc *a, kp__batch *b);

/* Free the spare codec contexts. Thread: the destroyer. */
void kp__acc_seal_spares_free(kp__acc *a);

#endif
