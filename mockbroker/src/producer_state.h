/*
 * kafkit mock broker: idempotent producer state of one partition
 * (internal).
 *
 * Per producer id: the epoch last appended and the metadata of its last 5
 * batches (Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN), enough to
 * answer a retried batch with its original offset and to check that the
 * next batch continues the sequence. The rules follow Kafka's
 * ProducerAppendInfo (3.x): a lower epoch is INVALID_PRODUCER_EPOCH; a new
 * epoch must start at sequence 0 unless the producer is unknown here; within
 * an epoch the first sequence must follow the last one (wrapping from
 * INT32_MAX to 0), else OUT_OF_ORDER_SEQUENCE_NUMBER; an unknown producer
 * may start at any sequence.
 *
 * Threading: the owner's thread (the cluster's I/O thread).
 */
#ifndef KAFKIT_MOCK_PRODUCER_STATE_H
#define KAFKIT_MOCK_PRODUCER_STATE_H

#include <stddef.h>
#include <stdint.h>

/* Batches remembered per producer and partition. */
#define KM__PRODUCER_BATCHES 5

typedef struct km__pbatch {
	int32_t first_seq, last_seq;
	int64_t first_offset, last_offset;
	int64_t timestamp; /* append time answered for LogAppendTime */
} km__pbatch;

typedef struct km__pentry {
	int64_t pid; /* -1: free slot */
	int16_t epoch;
	uint8_t n;   /* batches remembered */
	uint8_t next;/* ring slot for the next batch */
	km__pbatch b[KM__PRODUCER_BATCHES];
} km__pentry;

/* Open-addressing table of producers, keyed by producer id. */
typedef struct km__pstate {
	km__pentry *slots;
	size_t cap, count;
} km__pstate;

/* An empty table; allocates on first record. Never fails. */
void km__pstate_init(km__pstate *s);
void km__pstate_free(km__pstate *s);

/* Check a batch of producer pid/epoch holding sequences
 * [first_seq, last_seq] before appending it. Returns 0 and *dup = NULL
 * when it may be appended; 0 and *dup = the remembered batch when it is a
 * retry of one of the last 5 (answer dup->first_offset, append nothing);
 * KM__E_INVALID_PRODUCER_EPOCH or KM__E_OUT_OF_ORDER_SEQUENCE_NUMBER.
 * *dup stays valid until the next km__pstate_record. */
int16_t km__pstate_check(const km__pstate *s, int64_t pid, int16_t epoch,
			 int32_t first_seq, int32_t last_seq,
			 const km__pbatch **dup);

/* Make room for one more producer, so that the km__pstate_record after
 * an append cannot fail. Returns 0 or -ENOMEM (state unchanged). */
int km__pstate_reserve(km__pstate *s);

/* Remember an appended batch (a new epoch forgets the old one's batches;
 * the oldest of 5 is dropped). Precondition: km__pstate_reserve succeeded
 * since the last producer was added. */
void km__pstate_record(km__pstate *s, int64_t pid, int16_t epoch,
		       const km__pbatch *b);

/* The last sequence of a batch: first + lastOffsetDelta, wrapping from
 * INT32_MAX to 0 (DefaultRecordBatch.incrementSequence). */
int32_t km__seq_add(int32_t first, int32_t delta);

#endif
