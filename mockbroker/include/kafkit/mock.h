/*
 * kafkit mock broker: an in-process Kafka cluster with real state.
 *
 * A km_cluster is N brokers listening on 127.0.0.1, served by one I/O
 * thread. It keeps topics, partitions (leader, leader epoch, replicas),
 * per-partition logs of the record batches it accepted, and idempotent
 * producer state, and answers ApiVersions, Metadata, Produce, Fetch,
 * ListOffsets, InitProducerId and FindCoordinator at every version the
 * kafkit codec carries, validating requests as a broker does, so that real
 * clients (librdkafka, kafka-python, ...) can run against it.
 *
 * Lifecycle (libuv style): km_cluster_new() creates the cluster and binds
 * its listeners (so km_cluster_bootstraps() is known at once; clients that
 * connect early wait in the listen backlog); km_cluster_start() spawns the
 * I/O thread; km_cluster_destroy() stops it, closes every connection and
 * frees everything.
 *
 * Threading: every function may be called from any thread, but not
 * concurrently with km_cluster_start() or km_cluster_destroy() on the same
 * cluster. Once started, control and inspection functions run on the I/O
 * thread (posted to it; the caller blocks until they finish), so they are
 * safe while clients are connected. Before start they run on the caller's
 * thread. Callbacks (log, request log, partition log walk) run on the I/O
 * thread once started, on the calling thread before; they may call the
 * cluster's functions, except km_cluster_destroy().
 *
 * Memory goes through the codec allocator hook (kc_set_allocator).
 */
#ifndef KAFKIT_MOCK_H
#define KAFKIT_MOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkit/buf.h"
#include "kafkit/records.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct km_cluster km_cluster;

/* Local errors of the mock broker library (Kafka's error codes travel on
 * the wire and are never km_err values). */
typedef enum km_err {
	KM_OK = 0,
	KM_ERR_NOMEM = -2001,       /* an allocation failed */
	KM_ERR_INVALID_ARG = -2002, /* a caller passed an invalid argument */
	KM_ERR_STATE = -2003,       /* not allowed now (e.g. started twice) */
	KM_ERR_EXISTS = -2004,      /* the topic already exists */
	KM_ERR_NOT_FOUND = -2005,   /* no such topic, partition or broker */
	KM_ERR_IO = -2006,          /* a socket, epoll or thread call failed */
} km_err;

/* "KM_ERR_NOMEM", ...; "KM_ERR_?" for unknown values. Any thread. */
const char *km_err_name(km_err err);

/* Receives one log line (no trailing newline), valid during the call. */
typedef void (*km_log_fn)(void *opaque, const char *line);

/* What the cluster did with one request, for the request log. */
typedef struct km_request_info {
	int32_t broker_id;
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	kc_str client_id;      /* slice, valid during the call; len -1: null */
	const char *peer;      /* "ip:port" of the client */
	size_t request_size;   /* frame bytes, Size field included */
	size_t response_size;  /* frame bytes queued, Size included; 0: none */
	int16_t error_code;    /* first non-zero Kafka error in the response */
} km_request_info;

/* Called once per request served (after the response was queued, or when
 * none is sent: Produce with acks=0, a closed connection). */
typedef void (*km_request_fn)(void *opaque, const km_request_info *info);

typedef struct km_options {
	/* n_brokers listening ports (0: any free port), or NULL: all 0. */
	const uint16_t *ports;
	/* Create unknown topics named in Metadata requests that allow it
	 * (Kafka's auto.create.topics.enable). Default true. */
	bool auto_create_topics;
	/* Partitions of auto-created topics. Default 1, Kafka's
	 * num.partitions. */
	int32_t default_partitions;
	/* Replicas reported per partition (leader first; all in sync).
	 * Default min(3, n_brokers); clamped to n_brokers. */
	int32_t replication_factor;
	/* Largest request frame accepted; larger ones close the connection.
	 * Default 100 MiB (socket.request.max.bytes). */
	size_t max_frame;
	/* Largest record batch (v2) or top-level message (v0/v1), log
	 * overhead included, that Produce accepts; larger get
	 * MESSAGE_TOO_LARGE. Default 1048588 (message.max.bytes). */
	int32_t max_message_bytes;
	/* Per-partition retention: once a log holds more than this many
	 * bytes or batches, its oldest batches are dropped (the newest is
	 * always kept) and the log start offset advances. 0: unlimited
	 * (the default). Memory is released in segments of at most 1 MiB. */
	size_t retention_bytes;
	size_t retention_batches;
	/* Cluster id reported by Metadata v2+. Default "kafkit-mock". */
	const char *cluster_id;
	/* Log lines (connection errors, rejected requests). Default: stderr
	 * with a "kafkit-mock: " prefix. */
	km_log_fn log_fn;
	void *log_opaque;
	/* Request log; NULL: none. */
	km_request_fn request_fn;
	void *request_opaque;
} km_options;

/* Fill *o with the defaults above. Any thread. */
void km_options_init(km_options *o);

/* Create a cluster of n_brokers brokers (ids 1..n_brokers) and open their
 * listeners on 127.0.0.1. opts may be NULL for defaults; it is copied
 * (strings and the ports array included).
 * Errors: KM_ERR_INVALID_ARG (out NULL, n_brokers < 1 or > 1024, a negative
 * default_partitions or replication_factor, max_message_bytes < 0),
 * KM_ERR_NOMEM, KM_ERR_IO (a port could not be bound; logged).
 * *out is untouched on error. Any thread. */
km_err km_cluster_new(km_cluster **out, int n_brokers, const km_options *opts);

/* Spawn the I/O thread. Errors: KM_ERR_STATE (already started),
 * KM_ERR_IO (pthread_create failed). Any thread. */
km_err km_cluster_start(km_cluster *c);

/* Stop the I/O thread (if started), close every connection and listener,
 * free every topic and the cluster. NULL is a no-op. Any thread but the
 * I/O thread (so not from a callback). */
void km_cluster_destroy(km_cluster *c);

/* "127.0.0.1:p1,127.0.0.1:p2,..." in broker id order; owned by the
 * cluster, valid until destroy. Any thread. */
const char *km_cluster_bootstraps(const km_cluster *c);

/* Port of broker `broker_id`, or 0 when there is no such broker. */
uint16_t km_cluster_broker_port(const km_cluster *c, int32_t broker_id);

typedef struct km_topic_options {
	/* Timestamps are the broker's append time (message.timestamp.type =
	 * LogAppendTime): stored v2 batches and magic-1 messages are
	 * rewritten with it, and Produce answers it. Default false. */
	bool log_append_time;
	/* 0: the cluster's replication_factor. */
	int32_t replication_factor;
} km_topic_options;

/* Create topic `name` with `partitions` partitions; leaders are spread
 * round robin over the brokers, leader epochs start at 0. opts may be NULL.
 * Errors: KM_ERR_INVALID_ARG (a name Kafka refuses: empty, ".", "..",
 * longer than 249 or other than [A-Za-z0-9._-]; partitions < 1 or
 * > 100000), KM_ERR_EXISTS, KM_ERR_NOMEM. Any thread. */
km_err km_cluster_create_topic(km_cluster *c, const char *name,
			       int32_t partitions,
			       const km_topic_options *opts);

/* Make broker `broker_id` the leader of the partition and bump its leader
 * epoch (also when the leader does not change). The old leader then
 * answers NOT_LEADER_OR_FOLLOWER. The new leader joins the replica list if
 * it was not in it. Errors: KM_ERR_NOT_FOUND (topic, partition or broker),
 * KM_ERR_NOMEM. Any thread. */
km_err km_cluster_set_leader(km_cluster *c, const char *topic,
			     int32_t partition, int32_t broker_id);

typedef struct km_partition_info {
	int32_t leader;
	int32_t leader_epoch;
	int64_t log_start_offset;
	int64_t high_watermark; /* also the log end offset */
	size_t batches;         /* stored batches (legacy: produced sets) */
	size_t bytes;           /* stored batch bytes */
} km_partition_info;

/* State of one partition. Errors: KM_ERR_NOT_FOUND. Any thread. */
km_err km_cluster_partition_info(km_cluster *c, const char *topic,
				 int32_t partition, km_partition_info *out);

/* One stored record, as km_cluster_partition_log walks the log. Slices
 * are valid during the callback only. */
typedef struct km_record {
	int64_t offset;
	int64_t timestamp;       /* -1 for magic 0 */
	bool log_append_time;    /* timestamp is the broker's append time */
	kc_bytes key;            /* len -1: null */
	kc_bytes value;          /* len -1: null */
	const kc_rec_header *headers;
	int32_t headers_count;
	/* the batch (v2) or top-level message set (v0/v1) holding it */
	int magic;
	int codec;               /* kc_codec */
	int64_t batch_base_offset;
	int64_t batch_last_offset;
	int32_t partition_leader_epoch; /* -1 for magic 0/1 */
	int64_t producer_id;     /* -1 when not idempotent */
	int16_t producer_epoch;
	int32_t sequence;        /* this record's sequence, -1 when none */
} km_record;

/* Return 0 to go on, anything else to stop the walk. */
typedef int (*km_record_fn)(void *opaque, const km_record *rec);

/* Call fn for every record of the partition's log, in offset order, from
 * the log start offset. Errors: KM_ERR_NOT_FOUND, KM_ERR_NOMEM (while
 * decompressing). Any thread; fn runs on the I/O thread once started. */
km_err km_cluster_partition_log(km_cluster *c, const char *topic,
				int32_t partition, km_record_fn fn,
				void *opaque);

/* Api keys counted one by one; higher keys are counted in requests only. */
#define KM_API_KEY_LIMIT 128

typedef struct km_counters {
	uint64_t connections_accepted;
	uint64_t connections_open;
	uint64_t connections_failed;  /* closed on an error or a bad request */
	uint64_t requests;            /* frames received */
	uint64_t requests_by_api[KM_API_KEY_LIMIT];
	uint64_t requests_rejected;   /* undecodable, unknown api or version */
	uint64_t error_responses;     /* responses with a non-zero error */
	uint64_t bytes_in;            /* request frames, Size included */
	uint64_t bytes_out;           /* response frames queued */
	uint64_t batches_appended;    /* v2 batches or legacy sets */
	uint64_t records_appended;
	uint64_t duplicate_batches;   /* idempotent retries not appended */
} km_counters;

/* Counters of broker `broker_id`, or of the whole cluster for -1.
 * Errors: KM_ERR_NOT_FOUND. Any thread. */
km_err km_cluster_counters(km_cluster *c, int32_t broker_id,
			   km_counters *out);

#ifdef __cplusplus
}
#endif
#endif
