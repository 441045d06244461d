/*
 * The producer's topic metadata: which topics the application uses, their
 * partitions and leaders, shared between application threads (kp_send()
 * waits here for an unknown topic) and the sender thread (which fetches
 * Metadata and applies it).
 *
 * A topic's state is published as an immutable, reference-counted
 * snapshot, so kp_send() reads partition counts and leaders without
 * holding the lock while it partitions and appends.
 *
 * Threads: functions marked "sender thread" run on the producer's sender
 * thread only; the others may run on any thread. One mutex guards the
 * table; a condition variable wakes threads waiting for a topic.
 */
#ifndef KAFKIT_PRODUCER_METADATA_H
#define KAFKIT_PRODUCER_METADATA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "deadline.h"
#include "kafkit/messages.h"
#include "kafkit/producer.h"

typedef struct kp__md kp__md;

typedef struct kp__md_partition {
	int32_t partition;
	int32_t leader;       /* node id, -1 when leaderless */
	int32_t leader_epoch; /* -1 when the broker does not say */
	int16_t error;        /* the partition's ErrorCode in Metadata */
} kp__md_partition;

/* One topic as the last Metadata described it. Immutable once published;
 * freed when the last reference is dropped. */
typedef struct kp__md_topic {
	atomic_int refs;
	const char *name;     /* the table's copy, lives as long as md */
	int32_t count;        /* partitions, > 0 */
	kp__md_partition *parts; /* count entries, indexed by partition */
	int32_t *available;   /* partitions with a leader, ascending */
	size_t navail;
} kp__md_topic;

/* Create the table. wake(wake_arg) is called (from any thread, with no
 * lock held) when an application thread needs a Metadata request sent
 * now: the sender wakes its loop.
 * Returns KP_OK, KP_ERR_NOMEM. Thread: any. */
kp_err kp__md_new(kp__md **out, void (*wake)(void *arg), void *wake_arg);

/* Free the table and every snapshot still referenced only by it.
 * Precondition: no thread uses md and every kp__md_topic_get() reference
 * was put back. NULL is a no-op. Thread: the closer. */
void kp__md_destroy(kp__md *md);

/* A reference to `topic`'s snapshot in *out, registering the topic as one
 * the producer uses. When it is not known yet (or the last Metadata gave
 * it no partitions), ask the sender for Metadata and wait until the
 * deadline (NULL: do not wait; fixed now if it is not yet).
 * Returns KP_OK (put *out back with kp__md_topic_put()),
 * KP_ERR_UNKNOWN_TOPIC (not known by the deadline, or Metadata answered
 * with a non-retriable error for it: *kafka_err, when not NULL, gets that
 * ErrorCode, else 0), KP_ERR_CLOSED (kp__md_close() was called),
 * KP_ERR_NOMEM. Thread: any. */
kp_err kp__md_topic_get(kp__md *md, const char *topic, kp__deadline *dl,
			kp__md_topic **out, int16_t *kafka_err);

/* Drop a reference from kp__md_topic_get() or kp__md_topic_peek(). NULL
 * is a no-op. Thread: any. */
void kp__md_topic_put(kp__md_topic *t);

/* Like kp__md_topic_get() with no wait and no registration: the current
 * snapshot or NULL. Thread: any. */
kp__md_topic *kp__md_topic_peek(kp__md *md, const char *topic);

/* Names of every registered topic, for the next MetadataRequest: *names
 * receives an array (kc__free() it) of *n pointers that stay valid as
 * long as md. Returns KP_OK, KP_ERR_NOMEM. Thread: sender thread. */
kp_err kp__md_topic_names(kp__md *md, const char ***names, size_t *n);

/* Apply a MetadataResponse: publish a new snapshot for every registered
 * topic it describes with partitions; a topic answered with
 * UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE or another retriable
 * error keeps its waiters waiting; a non-retriable topic error wakes them
 * with KP_ERR_UNKNOWN_TOPIC. Bumps the version when anything changed.
 * Returns KP_OK, KP_ERR_NOMEM (the table is unchanged).
 * Thread: sender thread. */
kp_err kp__md_apply(kp__md *md, const kc_metadata_response *resp);

/* Record a leader learnt elsewhere (ProduceResponse currentLeader, v10+):
 * republish the topic's snapshot with partition's leader and epoch when
 * epoch is newer than the known one. Returns 1 when it changed anything,
 * 0 when not (unknown topic or partition, older epoch), KP_ERR_NOMEM.
 * Thread: sender thread. */
int kp__md_set_leader(kp__md *md, const char *topic, int32_t partition,
		      int32_t leader, int32_t leader_epoch);

/* Incremented whenever a snapshot is republished. Thread: any. */
uint64_t kp__md_version(kp__md *md);

/* Whether some registered topic has no usable snapshot yet, or a
 * partition of a known one has no leader: the sender then refreshes after
 * retry.backoff.ms rather than waiting for metadata.max.age.ms.
 * Thread: any. */
int kp__md_incomplete(kp__md *md);

/* Ask for a Metadata request as soon as the sender can send one (after a
 * NOT_LEADER_OR_FOLLOWER, a disconnect, an unknown topic) and return
 * whether one was already asked for. Thread: any. */
int kp__md_request_update(kp__md *md);

/* Take the pending request made by kp__md_request_update() or by a
 * waiting kp__md_topic_get(): returns 1 once per request, 0 when none is
 * pending. Thread: sender thread. */
int kp__md_take_update_request(kp__md *md);

/* Wake every waiter with KP_ERR_CLOSED and refuse new waits. Thread:
 * any. */
void kp__md_close(kp__md *md);

#endif
