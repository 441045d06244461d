/*
 * kafkit mock broker: cluster state (internal).
 *
 * Brokers (id, listener, connections, counters), topics and partitions
 * (leader, leader epoch, replicas reported as in sync, log, producer
 * state), producer id allocation and transactional ids. struct km_cluster
 * is the public handle; its lifecycle and threading live in mock.c.
 *
 * Threading: everything here belongs to the cluster's I/O thread once it
 * is started, to the creating thread before.
 */
#ifndef KAFKIT_MOCK_CLUSTER_H
#define KAFKIT_MOCK_CLUSTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kafkit/mock.h"
#include "listener.h"
#include "loop.h"
#include "partition_log.h"
#include "producer_state.h"

/* Kafka's topic name limit (Topic.MAX_NAME_LENGTH). */
#define KM__TOPIC_NAME_MAX 249
#define KM__PARTITIONS_MAX 100000

typedef struct km__session km__session;
typedef struct km__parked km__parked;
typedef struct km__req km__req;
typedef struct km__decision km__decision;
typedef struct km__faults km__faults;

/* Fault injection's decision point: called for every decoded request
 * before its handler runs (see server.h). */
typedef void (*km__pre_fn)(void *opaque, const km__req *rq, km__decision *d);

typedef struct km__broker {
	km_cluster *cluster;
	int32_t id;
	kn__listener *ls;
	uint16_t port;
	km__session *sessions; /* open connections, newest first */
	km_counters counters;
	bool stalled; /* fault: connections are not read */
	bool down;    /* fault: listener closed */
} km__broker;

typedef struct km__topic km__topic;

typedef struct km__partition {
	km__topic *topic;
	int32_t index;
	int32_t leader;       /* broker id */
	int32_t leader_epoch;
	int32_t *replicas;    /* leader first when created; all in the ISR */
	int32_t nreplicas;
	km__plog log;
	km__pstate producers;
} km__partition;

struct km__topic {
	char *name; /* NUL-terminated */
	size_t name_len;
	kc_uuid id;
	bool log_append_time;
	int32_t npartitions;
	km__partition *partitions;
};

/* A transactional id's producer id and current epoch. */
typedef struct km__txn_id {
	char *id;
	size_t len;
	int64_t pid;
	int16_t epoch;
} km__txn_id;

struct km_cluster {
	kn__loop *loop;
	km_options opts;       /* copied; ports and cluster_id point below */
	uint16_t *ports;
	char *cluster_id;
	char *bootstraps;
	km__broker *brokers;   /* index = id - 1 */
	int32_t nbrokers;
	km__topic **topics;
	size_t ntopics, topics_cap;
	int64_t next_pid;
	km__txn_id *txn_ids;
	size_t ntxn_ids, txn_ids_cap;
	uint64_t uuid_state;   /* topic id generator */

	/* request processing scratch, reused per request */
	kc_arena arena;
	kc_writer out;

	/* Fetch requests waiting for data (server.c) */
	km__parked *parked;
	kn__defer recheck;
	kn__timer idle_timer; /* idle.c */

	km__pre_fn pre_fn;
	void *pre_opaque;
	km__faults *faults; /* faults.c; NULL until the first fault call */
	struct km__capture *capture; /* capture.c; NULL: no pcap_path */

	/* I/O thread (mock.c) */
	pthread_t thread;
	bool started;
};

/* A control call: runs on the thread that owns the cluster's state. */
typedef km_err (*km__call_fn)(km_cluster *c, void *arg);

/* fn(c, arg) on the I/O thread once the cluster is started (posted; the
 * caller waits), else, or when called from the I/O thread, directly.
 * Returns fn's result, or KM_ERR_NOMEM when it could not be posted.
 * Thread: any. */
km_err km__cluster_call(km_cluster *c, km__call_fn fn, void *arg);

/* Whether Kafka accepts `name` as a topic name: 1..249 bytes of
 * [A-Za-z0-9._-], not "." or "..". */
bool km__topic_name_valid(const char *name, size_t len);

/* The topic named exactly so, or NULL. */
km__topic *km__cluster_topic(const km_cluster *c, const char *name,
			     size_t len);

/* The topic with this id, or NULL (the zero id never matches). */
km__topic *km__cluster_topic_by_id(const km_cluster *c, const kc_uuid *id);

/* The partition, or NULL when the topic has no such index. */
km__partition *km__topic_partition(const km__topic *t, int32_t index);

/* Kafka's checks before a partition is used through broker broker_id
 * (Partition.localLogWithEpochOrThrow): a current_leader_epoch (-1: none
 * given) older than the partition's is FENCED_LEADER_EPOCH, a newer one
 * UNKNOWN_LEADER_EPOCH; then a broker that does not lead it is
 * NOT_LEADER_OR_FOLLOWER. 0 when it may be used. */
int16_t km__partition_check(const km__partition *p, int32_t broker_id,
			    int32_t current_leader_epoch);

/* The broker with this id, or NULL. */
km__broker *km__cluster_broker(const km_cluster *c, int32_t id);

/* Create a topic (name validated by the caller) with leaders round robin
 * over the brokers, starting after the previous topic's start so that
 * load spreads. *out (may be NULL) receives it.
 * Returns KM_OK, KM_ERR_EXISTS or KM_ERR_NOMEM. */
km_err km__cluster_create_topic(km_cluster *c, const char *name, size_t len,
				int32_t partitions, int32_t replication,
				bool log_append_time, km__topic **out);

/* Move leadership (see km_cluster_set_leader). Returns KM_OK or
 * KM_ERR_NOMEM (the replica list could not grow). */
km_err km__partition_set_leader(km__partition *p, int32_t broker_id);

/* A fresh producer id. */
int64_t km__cluster_next_pid(km_cluster *c);

/* InitProducerId for a transactional id: a new id at epoch 0 the first
 * time, then the same id with the epoch bumped (a new id once the epoch
 * would pass INT16_MAX), fencing the previous holder.
 * Returns 0 or -ENOMEM. */
int km__cluster_txn_init(km_cluster *c, kc_str txn_id, int64_t *pid,
			 int16_t *epoch);

/* Broker coordinating a group or transactional id: a hash of the key over
 * the brokers, as Kafka spreads __consumer_offsets partitions. */
km__broker *km__cluster_coordinator(const km_cluster *c, kc_str key);

/* Free every topic and transactional id. */
void km__cluster_free_state(km_cluster *c);

/* Wall-clock time in ms (timestamps on the wire). */
int64_t km__wall_ms(void);

#endif
