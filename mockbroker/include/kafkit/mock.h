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
	uint32_t faults;       /* KM_FAULT_F_* bits: what fault injection did */
} km_request_info;

/* km_request_info.faults bits. */
#define KM_FAULT_F_DELAYED 1u   /* the response was held back */
#define KM_FAULT_F_SWALLOWED 2u /* served, but no response was sent */
#define KM_FAULT_F_CLOSED 4u    /* the connection was closed instead */
#define KM_FAULT_F_ERROR 8u     /* an injected error code was answered */
#define KM_FAULT_F_THROTTLED 16u /* an injected throttle_time_ms */

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
	/* Close a connection that stayed idle this long: no frame served, no
	 * byte read or written, nothing owed to it (Kafka's
	 * connections.max.idle.ms). A frame dribbled byte by byte keeps the
	 * connection active, as in Kafka. Checked every min(timeout / 2,
	 * 1 s). Default 600000 (10 minutes); 0: never. */
	uint32_t idle_timeout_ms;
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
	/* Record every request frame the brokers receive and every response
	 * they send to this pcap file (created or truncated), as synthesized
	 * Ethernet/IPv4/TCP connections 127.0.0.1:<client port> ->
	 * 127.0.0.1:<broker port> with handshakes, sequence numbers and FINs,
	 * so kafkit-pcap, tshark or Wireshark can read a run without capture
	 * privileges. Packets reach the file every second and at destroy; a
	 * write error (disk full) is logged once and stops the recording,
	 * never the brokers. NULL (the default): no recording. */
	const char *pcap_path;
} km_options;

/* Fill *o with the defaults above. Any thread. */
void km_options_init(km_options *o);

/* Create a cluster of n_brokers brokers (ids 1..n_brokers) and open their
 * listeners on 127.0.0.1. opts may be NULL for defaults; it is copied
 * (strings and the ports array included).
 * Errors: KM_ERR_INVALID_ARG (out NULL, n_brokers < 1 or > 1024, a negative
 * default_partitions or replication_factor, max_message_bytes < 0),
 * KM_ERR_NOMEM, KM_ERR_IO (a port could not be bound, or pcap_path could
 * not be opened; logged).
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

/* One topic, as km_cluster_topics walks them: its name (NUL-terminated,
 * valid during the call) and partition count. Return 0 to go on, anything
 * else to stop the walk. */
typedef int (*km_topic_fn)(void *opaque, const char *name,
			   int32_t partitions);

/* Call fn for every topic, created by km_cluster_create_topic or
 * auto-created by Metadata requests, in creation order. Topics fn creates
 * are walked too. Errors: KM_ERR_INVALID_ARG (c or fn NULL). Any thread;
 * fn runs on the I/O thread once started. */
km_err km_cluster_topics(km_cluster *c, km_topic_fn fn, void *opaque);

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
	/* fault injection (requests hit, by what) */
	uint64_t faults_delayed;
	uint64_t faults_swallowed;
	uint64_t faults_closed;
	uint64_t faults_errors;       /* requests or partitions answered an
				       * injected error */
	uint64_t faults_throttled;
	uint64_t leader_changes;      /* leaderships this broker lost */
} km_counters;

/* Counters of broker `broker_id`, or of the whole cluster for -1.
 * Errors: KM_ERR_NOT_FOUND. Any thread. */
km_err km_cluster_counters(km_cluster *c, int32_t broker_id,
			   km_counters *out);

/* ---- fault injection ----------------------------------------------------
 *
 * Every function below may be called from any thread while clients run:
 * once the cluster is started it is posted to the I/O thread and the caller
 * waits until it ran (before start it runs on the caller's thread). Rules
 * (delay, swallow, close, throttle, errors, scheduled leader changes) get a
 * km_fault_id, which km_fault_cancel removes; a rule whose count is used
 * up removes itself. Several rules may match one request: their delays add
 * up, any swallow or close applies (close first), the largest throttle
 * wins, and the oldest error rule that hits answers its code. Random
 * choices (probabilities, random leaders, jitter) come from one generator
 * per cluster, seeded with km_fault_seed (default seed 1), so a run on one
 * thread of events is reproducible. */

/* Wildcard for a broker id, an api key or a partition. */
#define KM_ANY (-1)

/* A rule's id; never 0. */
typedef uint64_t km_fault_id;

/* Which requests a rule applies to, and how often it hits. */
typedef struct km_fault_match {
	int32_t broker_id;  /* KM_ANY (the default) or 1..n_brokers */
	int16_t api_key;    /* KM_ANY (the default) or an api key */
	/* Each matching request is hit with this probability, in (0, 1].
	 * Default 1. */
	double probability;
	/* The rule removes itself after hitting this many requests; 0 (the
	 * default): never. Ignored by km_fault_errors (its code list sets
	 * the count). */
	uint32_t count;
} km_fault_match;

/* Fill *m with the defaults: any broker, any api, probability 1, no
 * count. Any thread. */
void km_fault_match_init(km_fault_match *m);

/* Seed the fault generator (0 is taken as 1). Errors: KM_ERR_INVALID_ARG
 * (c NULL). */
km_err km_fault_seed(km_cluster *c, uint64_t seed);

/* Hold the responses to matching requests for delay_ms plus a uniform
 * random 0..jitter_ms (an RTT). Later responses on the connection wait
 * behind a held one, so order is kept. id may be NULL.
 * Errors: KM_ERR_INVALID_ARG (c or m NULL, a bad match, delay_ms +
 * jitter_ms > 3600000), KM_ERR_NOT_FOUND (no such broker), KM_ERR_NOMEM. */
km_err km_fault_delay(km_cluster *c, const km_fault_match *m,
		      uint32_t delay_ms, uint32_t jitter_ms, km_fault_id *id);

/* Serve matching requests (state changes, appends) but never send their
 * responses, so clients time out and retry. "The next K requests":
 * probability 1, count K. Errors: as km_fault_delay. */
km_err km_fault_swallow(km_cluster *c, const km_fault_match *m,
			km_fault_id *id);

/* Close the connection instead of serving matching requests (nothing is
 * applied). Errors: as km_fault_delay. */
km_err km_fault_close(km_cluster *c, const km_fault_match *m,
		      km_fault_id *id);

/* Answer matching requests with throttle_time_ms = throttle_ms (they are
 * served normally). Errors: as km_fault_delay, and KM_ERR_INVALID_ARG for
 * throttle_ms < 0. */
km_err km_fault_throttle(km_cluster *c, const km_fault_match *m,
			 int32_t throttle_ms, km_fault_id *id);

/* Error queue: the next ncodes hits get codes[0], codes[1], ... in order,
 * then the rule removes itself. A code 0 serves that hit normally. With
 * topic NULL a hit is a matching request, and every element of its
 * response gets the code (nothing is applied). With a topic, a hit is one
 * partition of that topic (partition KM_ANY: any of its partitions) in a
 * matching Produce, Fetch or ListOffsets request: that partition alone
 * gets the code and is not applied, the others are served. codes are
 * copied. Errors: as km_fault_delay, and KM_ERR_INVALID_ARG for ncodes 0
 * or > 100000, codes NULL, or an invalid topic name (the topic need not
 * exist yet). */
km_err km_fault_errors(km_cluster *c, const km_fault_match *m,
		       const char *topic, int32_t partition,
		       const int16_t *codes, size_t ncodes, km_fault_id *id);

/* How a leader change picks the new leader. */
typedef enum km_leader_pick {
	/* The next replica after the current leader in the replica list
	 * (with a single replica: the next broker id), skipping brokers
	 * that are down. */
	KM_LEADER_ROUND_ROBIN = 0,
	/* A uniformly random other replica (single replica: other
	 * broker) among those up. */
	KM_LEADER_RANDOM = 1,
} km_leader_pick;

/* Move the leader of partition `partition` of `topic` now, as
 * km_cluster_set_leader does, to the broker `pick` selects. topic NULL:
 * every topic; partition KM_ANY: every partition. A partition with no
 * other broker up keeps its leader (its epoch is not bumped).
 * Errors: KM_ERR_INVALID_ARG (bad pick, partition < -1),
 * KM_ERR_NOT_FOUND (no such topic or partition), KM_ERR_NOMEM. */
km_err km_fault_leader_move(km_cluster *c, const char *topic,
			    int32_t partition, km_leader_pick pick);

/* Scheduled leader changes: every every_ms, km_fault_leader_move(topic,
 * partition, pick); the topic and partitions are looked up at each tick
 * (a topic created later is included when topic is NULL; a named topic
 * that does not exist is skipped). count > 0: stop after count ticks.
 * Errors: KM_ERR_INVALID_ARG (every_ms 0 or > 3600000, bad pick,
 * partition < -1, an invalid topic name), KM_ERR_NOMEM. */
km_err km_fault_leader_schedule(km_cluster *c, const char *topic,
				int32_t partition, uint32_t every_ms,
				km_leader_pick pick, uint32_t count,
				km_fault_id *id);

/* Remove rule or schedule `id`. Errors: KM_ERR_NOT_FOUND (unknown, or
 * already removed itself). */
km_err km_fault_cancel(km_cluster *c, km_fault_id id);

/* Remove every rule and schedule and un-stall every broker (brokers that
 * are down stay down). Errors: KM_ERR_INVALID_ARG (c NULL). */
km_err km_fault_clear(km_cluster *c);

/* Stall (stalled true) or un-stall a broker (KM_ANY: all): it keeps
 * accepting connections but reads nothing from them, open ones and new
 * ones, until un-stalled; responses already queued still go out.
 * Errors: KM_ERR_NOT_FOUND (no such broker). */
km_err km_fault_stall(km_cluster *c, int32_t broker_id, bool stalled);

/* Take a broker down: close its listener (connecting clients are
 * refused) and drop its connections. move_leaders: each partition it
 * leads moves, as KM_LEADER_ROUND_ROBIN picks, to another broker that is
 * up (a partition with none keeps its leader); otherwise leadership stays
 * and its clients fail until the broker is back. Metadata leaves a down
 * broker out, as Kafka lists live brokers only: a partition it still leads
 * answers LEADER_NOT_AVAILABLE with leader -1, and a down replica leaves
 * the ISR for offline_replicas (v5+). No-op (KM_OK) when already down. Errors: KM_ERR_NOT_FOUND,
 * KM_ERR_NOMEM. */
km_err km_fault_broker_down(km_cluster *c, int32_t broker_id,
			    bool move_leaders);

/* Bring a broker back up on the same port (leadership does not move
 * back). No-op when up. Errors: KM_ERR_NOT_FOUND, KM_ERR_IO (the port was
 * taken meanwhile; logged; the broker stays down), KM_ERR_NOMEM. */
km_err km_fault_broker_up(km_cluster *c, int32_t broker_id);

/* Whether broker_id is up: 1 up, 0 down, or KM_ERR_NOT_FOUND. */
int km_fault_broker_is_up(km_cluster *c, int32_t broker_id);

/* Drop every connection of a broker (KM_ANY: all brokers) now; the
 * listener keeps accepting. Errors: KM_ERR_NOT_FOUND. */
km_err km_fault_drop_connections(km_cluster *c, int32_t broker_id);

/* Each connection of a broker (KM_ANY: all) open now closes once nbytes
 * more bytes were written to it, cut mid-response if need be (0: as soon
 * as possible). Connections opened later are not affected.
 * Errors: KM_ERR_NOT_FOUND. */
km_err km_fault_drop_after(km_cluster *c, int32_t broker_id,
			   uint64_t nbytes);

#ifdef __cplusplus
}
#endif
#endif
