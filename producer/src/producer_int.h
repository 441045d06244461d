/*
 * The producer object shared by the application-facing calls
 * (producer.c) and the sender thread (sender.c, produce.c, idempotence in
 * sender.c), with the rule for every field: set once at construction, an
 * atomic, guarded by a named lock, or owned by the sender thread.
 */
#ifndef KAFKIT_PRODUCER_INT_H
#define KAFKIT_PRODUCER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "accumulator.h"
#include "backoff.h"
#include "broker.h"
#include "conf.h"
#include "kafkit/producer.h"
#include "loop.h"
#include "metadata.h"
#include "rng.h"

struct kp_producer {
	/* Set at construction. */
	kp__conf_values conf;
	kp__acc *acc;
	kp__md *md;
	kn__loop *loop;
	pthread_t thread;
	kp__backoff retry_backoff;

	/* Atomics. */
	atomic_int closing;       /* kp_close() began: refuse sends */
	atomic_int stop;          /* the sender must fail what is left, exit */
	atomic_int fatal;         /* idempotence hit a fatal error */
	atomic_int fatal_kafka_err;
	atomic_int magic;         /* record format for new batches */
	atomic_int flushing;      /* flush or close asked: run at once */

	/* Records accepted and not yet reported; flush and close wait on
	 * out_cond for it to reach 0. Counted atomically, so a send takes no
	 * lock for it; out_lock is taken only to signal a drop to 0, which
	 * a waiter cannot miss because it checks under the same lock. */
	pthread_mutex_t out_lock;
	pthread_cond_t out_cond;
	_Atomic uint64_t outstanding;

	/* Sender thread only. */
	pthread_t sender_tid;     /* valid once sender_started */
	atomic_int sender_started;
	kp__rng rng;
	kp__broker **brokers;     /* known nodes, then bootstrap (id < 0) */
	size_t nbrokers, brokers_cap;
	size_t rr_connect;        /* round robin of connect attempts */
	int md_in_flight;
	int md_wanted;            /* a refresh is due as soon as possible */
	int md_have_brokers;      /* a Metadata response listed brokers */
	int64_t md_last_ms;       /* last Metadata answer (or attempt) */
	uint64_t md_applied;      /* kp__md_version() applied to the tps */
	int64_t producer_id;      /* -1 until InitProducerId answered */
	int16_t producer_epoch;
	int pid_in_flight;
	int64_t pid_retry_at;
	uint32_t pid_attempts;
	int epoch_bump;           /* reset sequences before sending more */
	int produce_in_flight;    /* ProduceRequests awaiting answers */
	uint64_t stat_retries, stat_errors, stat_batches, stat_records;
	void *produce_ctx_pool[8]; /* finished ProduceRequest contexts */
	size_t produce_ctx_pooled;
};

/* Whether the calling thread is p's sender thread. Any thread. */
int kp__on_sender_thread(kp_producer *p);

/* Report every record of b (delivery callbacks after the
 * on_acknowledgement interceptors, then zero-copy free callbacks),
 * count them out of p->outstanding and release b to the accumulator.
 * err KP_OK: offsets base_offset + i (or -1 each when base_offset is -1),
 * timestamps the broker's when log_append_time >= 0.
 * Thread: sender thread (or the closer after the sender stopped). */
void kp__report_batch(kp_producer *p, kp__batch *b, kp_err err,
		      int16_t kafka_err, int64_t base_offset,
		      int64_t log_append_time);

/* The sender thread's body (sender.c). */
void *kp__sender_main(void *arg);

/* Wake the sender's loop. Any thread. */
void kp__sender_wake(kp_producer *p);

/* Build the statistics JSON (stats.c). Thread: sender thread, or any
 * thread once the sender has stopped. Returns KP_OK or KP_ERR_NOMEM. */
kp_err kp__stats_build(kp_producer *p, char **json, size_t *len);

#endif
