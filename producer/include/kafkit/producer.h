/*
 * kafkit producer: a Kafka producer with the Java client's safety defaults
 * (idempotent, acks=all).
 *
 * Flow: kp_send() runs on the caller's thread: interceptors' on_send, the
 * partitioner, then an append to the partition's open batch in the
 * accumulator (the record is encoded there, its payload copied once, or
 * referenced with a free callback). One sender thread per producer drains
 * ready batches per leader broker, sends ProduceRequests, retries, keeps
 * metadata fresh and reports every record exactly once through its
 * delivery callback. kp_send_sync() is kp_send() plus a wait.
 *
 * Configuration uses Kafka's own key names and the Java client's defaults;
 * see docs/producer-config.md for every key.
 *
 * Threads:
 * - a kp_conf belongs to one thread at a time;
 * - kp_send(), kp_send_sync(), kp_flush(), kp_partitions_for() and
 *   kp_stats_json() may be called from any number of threads at once;
 * - kp_close() once, from one application thread, after every other call on
 *   the producer has returned;
 * - delivery callbacks and on_acknowledgement run on the sender thread; from
 *   there only kp_send() (never blocking: a full buffer fails at once) and
 *   kp_stats_json() may be called; the blocking calls return
 *   KP_ERR_WRONG_THREAD.
 *
 * Memory: every allocation goes through the codec's allocator hook
 * (kc_set_allocator() in kafkit/buf.h). Results this API allocates are
 * freed with kp_free().
 *
 * Errors: kp_err is this library's own enum of local failures (negative, in
 * the range -2000..-2999). Kafka's broker error codes (ErrorCode fields,
 * int16_t) are never mixed into it: a delivery report carries both, and
 * kc_kafka_err_name() in kafkit/err.h names the broker's.
 */
#ifndef KAFKIT_PRODUCER_H
#define KAFKIT_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors -------------------------------------------------------------- */

typedef enum kp_err {
	KP_OK = 0,
	KP_ERR_NOMEM = -2001,             /* an allocation failed */
	KP_ERR_INVALID_ARG = -2002,       /* a NULL or out-of-range argument */
	KP_ERR_UNKNOWN_KEY = -2003,       /* kp_conf_set/get: no such config key */
	KP_ERR_BAD_VALUE = -2004,         /* config value of the wrong type or range */
	KP_ERR_CONF_CONFLICT = -2005,     /* config values that contradict each other */
	KP_ERR_TRUNCATED = -2006,         /* destination buffer too small */
	KP_ERR_BUFFER_FULL = -2007,       /* buffer.memory still full after max.block.ms */
	KP_ERR_RECORD_TOO_LARGE = -2008,  /* record exceeds max.request.size or buffer.memory */
	KP_ERR_UNKNOWN_TOPIC = -2009,     /* topic absent from metadata after max.block.ms */
	KP_ERR_UNKNOWN_PARTITION = -2010, /* partition outside the topic's partitions */
	KP_ERR_DELIVERY_TIMEOUT = -2011,  /* delivery.timeout.ms passed before an ack */
	KP_ERR_TIMED_OUT = -2012,         /* a blocking call ran out of its timeout */
	KP_ERR_BROKER = -2013,            /* the broker refused the batch: see kafka_err */
	KP_ERR_FATAL = -2014,             /* the idempotent producer hit a fatal error */
	KP_ERR_CLOSED = -2015,            /* producer closed before the record was sent */
	KP_ERR_UNSUPPORTED = -2016,       /* no broker support for a needed feature */
	KP_ERR_ENCODE = -2017,            /* the codec failed to build a batch */
	KP_ERR_WRONG_THREAD = -2018,      /* blocking call from a delivery callback */
} kp_err;

/* Name of a kp_err ("KP_ERR_BUFFER_FULL"); "KP_ERR_?" for unknown values.
 * Static string. Any thread. */
const char *kp_err_name(kp_err err);

/* Human sentence for a kp_err; "unknown error" for unknown values. Static
 * string. Any thread. */
const char *kp_err_str(kp_err err);

/* Free memory this API returned (stats JSON, partition arrays). NULL is a
 * no-op. Any thread. */
void kp_free(void *p);

/* ---- records and delivery reports ---------------------------------------- */

/* Let the partitioner choose (kp_record.partition). */
#define KP_PARTITION_ANY (-1)
/* Stamp the record with the current time at kp_send() (kp_record.timestamp). */
#define KP_TIMESTAMP_NOW (-1)

/* One record header. key is a NUL-terminated string (Kafka: varint-length
 * string); value may be NULL (a null header value). Copied at kp_send(). */
typedef struct kp_header {
	const char *key;
	const void *value;
	size_t value_len;
} kp_header;

/* Called once when the producer no longer references a zero-copy record's
 * key and value; `free_opaque` is kp_record.free_opaque. */
typedef void (*kp_free_cb)(void *free_opaque);

/* A record to send. Every pointer belongs to the caller.
 * - topic: NUL-terminated, copied.
 * - partition: 0..n-1, or KP_PARTITION_ANY.
 * - key, value: NULL means null (a null value is a tombstone); key_len and
 *   value_len are then ignored.
 * - headers: header_count entries, copied.
 * - timestamp: CreateTime in ms since the epoch, or KP_TIMESTAMP_NOW.
 * - free_cb NULL: key and value are copied once, into the batch, before
 *   kp_send() returns. free_cb set: the caller lends key and value; the
 *   producer may reference them until it calls free_cb(free_opaque),
 *   exactly once, after the record's delivery report, and they must not
 *   change before then. A key or value larger than
 *   message.copy.max.bytes is then not copied at all: the batch points at
 *   it and the socket write reads it (with compression, the compressor
 *   reads it at seal); smaller ones are still copied, which is cheaper
 *   than an iovec entry. If kp_send() fails, free_cb is never called and
 *   the caller keeps ownership. Header values are always copied. */
typedef struct kp_record {
	const char *topic;
	int32_t partition;
	const void *key;
	size_t key_len;
	const void *value;
	size_t value_len;
	const kp_header *headers;
	size_t header_count;
	int64_t timestamp;
	kp_free_cb free_cb;
	void *free_opaque;
} kp_record;

/* The outcome of one record, reported exactly once per accepted record.
 * On success err is KP_OK and offset/timestamp are the broker's. On failure
 * err says why; kafka_err is the broker's ErrorCode that caused it (0 when
 * the failure was local), so KP_ERR_BROKER always comes with a nonzero
 * kafka_err, and KP_ERR_DELIVERY_TIMEOUT may carry the last retriable one.
 * topic points to the producer's copy, valid during the callback only. */
typedef struct kp_delivery_report {
	const char *topic;
	int32_t partition;     /* -1 if the record failed before partitioning */
	int64_t offset;        /* -1 on failure, and with acks=0 */
	int64_t timestamp;     /* CreateTime sent, or the broker's LogAppendTime */
	int log_append_time;   /* 1 when timestamp is the broker's LogAppendTime */
	kp_err err;
	int16_t kafka_err;
	size_t key_len;        /* serialized sizes, as the Java client reports */
	size_t value_len;
} kp_delivery_report;

/* Delivery callback: runs on the sender thread; `opaque` is kp_send()'s.
 * Keep it short: the sender waits for it. */
typedef void (*kp_delivery_cb)(const kp_delivery_report *dr, void *opaque);

/* ---- configuration ------------------------------------------------------- */

typedef struct kp_conf kp_conf;

/* New configuration holding every key's default (docs/producer-config.md).
 * Returns NULL only when out of memory. Any thread; the object then
 * belongs to one thread at a time. */
kp_conf *kp_conf_new(void);

/* Free a configuration and everything it owns. NULL is a no-op. Producers
 * made from it keep their own copy. */
void kp_conf_destroy(kp_conf *conf);

/* Set `key` (Kafka's name, e.g. "linger.ms") from its string form.
 * Surrounding spaces are ignored; numbers are decimal; booleans
 * "true"/"false" in any case. Each key's type and range are checked here;
 * combinations of keys are checked by kp_conf_validate() and
 * kp_producer_new(). A key set explicitly is treated as the Java client
 * treats user-set keys (an explicit enable.idempotence=true with acks=1 is
 * an error; the default merely turns idempotence off).
 * On error the conf is unchanged and, when err is non-NULL and errlen > 0,
 * err receives a NUL-terminated sentence naming the key and the problem.
 * Returns KP_OK, KP_ERR_UNKNOWN_KEY, KP_ERR_BAD_VALUE, KP_ERR_INVALID_ARG
 * (conf, key or value NULL), KP_ERR_NOMEM. */
kp_err kp_conf_set(kp_conf *conf, const char *key, const char *value,
		   char *err, size_t errlen);

/* Copy the current value of `key` in canonical form ("all" for acks -1,
 * "true"/"false", decimal numbers; "custom" for a partitioner set by
 * kp_conf_set_partitioner()) into buf as a NUL-terminated string.
 * *len: in, the size of buf; out, the size needed including the NUL.
 * buf may be NULL when *len is 0, to ask for the size.
 * Returns KP_OK, KP_ERR_UNKNOWN_KEY, KP_ERR_TRUNCATED (buf too small;
 * nothing written), KP_ERR_INVALID_ARG (conf, key or len NULL). */
kp_err kp_conf_get(const kp_conf *conf, const char *key, char *buf,
		   size_t *len);

/* Check the combinations the Java client rejects when it is constructed:
 * bootstrap.servers set; an explicit enable.idempotence=true needs
 * acks=all, retries > 0 and max.in.flight.requests.per.connection <= 5;
 * an explicit delivery.timeout.ms must be >= linger.ms +
 * request.timeout.ms; compression.level in the codec's range. Defaults
 * that conflict are adjusted instead, as Java does (idempotence turned
 * off; delivery.timeout.ms raised). kp_producer_new() runs the same checks.
 * Returns KP_OK, KP_ERR_CONF_CONFLICT or KP_ERR_BAD_VALUE (with a sentence
 * in err), KP_ERR_INVALID_ARG (conf NULL), KP_ERR_NOMEM. Same thread rule
 * as the conf. */
kp_err kp_conf_validate(const kp_conf *conf, char *err, size_t errlen);

/* Custom partitioner: returns a partition in [0, partition_count) for a
 * record sent with KP_PARTITION_ANY, or KP_PARTITION_ANY to fall back to
 * the built-in choice (murmur2 for keys, uniform sticky for null keys). A
 * value outside the range fails the record with KP_ERR_UNKNOWN_PARTITION.
 * Called for every such record, key NULL or not, on the thread calling
 * kp_send(), possibly from several threads at once. */
typedef int32_t (*kp_partitioner_cb)(const char *topic, const void *key,
				     size_t key_len, int32_t partition_count,
				     void *opaque);

/* Use `cb` as the partitioner (the "partitioner" key then reads "custom");
 * cb NULL restores the default "murmur2". Setting the "partitioner" key
 * afterwards drops the callback.
 * Returns KP_OK or KP_ERR_INVALID_ARG (conf NULL). Conf's thread rule. */
kp_err kp_conf_set_partitioner(kp_conf *conf, kp_partitioner_cb cb,
			       void *opaque);

/* Interceptors, as the Java client's ProducerInterceptor:
 * - on_send: on the thread calling kp_send(), before partitioning; it may
 *   change fields of *rec (pointers it sets must stay valid until kp_send()
 *   returns, or, for zero-copy records, until free_cb runs).
 * - on_acknowledgement: once per record on_send saw, before the record's
 *   delivery callback, on the sender thread; or on the caller's thread
 *   when kp_send() itself fails the record.
 * - on_close: once, from kp_close(), after the last acknowledgement.
 * Any member may be NULL. Interceptors run in the order they were added. */
typedef struct kp_interceptor {
	void (*on_send)(kp_record *rec, void *opaque);
	void (*on_acknowledgement)(const kp_delivery_report *dr, void *opaque);
	void (*on_close)(void *opaque);
} kp_interceptor;

/* Append an interceptor (the struct is copied; opaque is passed to each
 * member). Returns KP_OK, KP_ERR_INVALID_ARG (conf or ic NULL),
 * KP_ERR_NOMEM (the conf is then unchanged). Conf's thread rule. */
kp_err kp_conf_add_interceptor(kp_conf *conf, const kp_interceptor *ic,
			       void *opaque);

/* ---- producer (declared for the sender/network work; not built yet) ----- */

typedef struct kp_producer kp_producer;

/* Create a producer from a copy of `conf` (the caller keeps conf), after
 * kp_conf_validate()'s checks, and start its sender thread. No network I/O
 * blocks here: brokers are contacted by the sender thread.
 * Returns KP_OK with *out set, KP_ERR_CONF_CONFLICT / KP_ERR_BAD_VALUE
 * (sentence in err), KP_ERR_INVALID_ARG (conf or out NULL), KP_ERR_NOMEM.
 * Any application thread. */
kp_err kp_producer_new(const kp_conf *conf, kp_producer **out, char *err,
		       size_t errlen);

/* Send a record asynchronously. Runs the interceptors' on_send and the
 * partitioner, then appends the record to its partition's batch. Blocks
 * up to max.block.ms while the topic's metadata is unknown or
 * buffer.memory is full (never on the sender thread, where it fails at
 * once). On KP_OK the producer reports the record exactly once, through
 * cb (may be NULL) on the sender thread, even when it fails later or the
 * producer is closed. On any other return, cb is never called for it.
 * Returns KP_OK, KP_ERR_INVALID_ARG (p or rec NULL, topic NULL or empty,
 * partition < -1), KP_ERR_UNKNOWN_TOPIC, KP_ERR_UNKNOWN_PARTITION,
 * KP_ERR_BUFFER_FULL, KP_ERR_RECORD_TOO_LARGE, KP_ERR_FATAL (the
 * idempotent producer is in a fatal state), KP_ERR_CLOSED, KP_ERR_NOMEM.
 * Any thread. */
kp_err kp_send(kp_producer *p, const kp_record *rec, kp_delivery_cb cb,
	       void *opaque);

/* Send a record and wait for its delivery report, copied into *dr (may be
 * NULL; dr->topic then points to rec->topic). Built on kp_send(); waits at
 * most max.block.ms + delivery.timeout.ms.
 * Returns kp_send()'s errors, or the record's report error (KP_OK on
 * success), or KP_ERR_WRONG_THREAD on the sender thread. Any application
 * thread. */
kp_err kp_send_sync(kp_producer *p, const kp_record *rec,
		    kp_delivery_report *dr);

/* Make every buffered record ready at once (ignore linger.ms) and wait
 * until all records sent before this call have been reported, up to
 * timeout_ms (-1: no limit). Returns KP_OK, KP_ERR_TIMED_OUT,
 * KP_ERR_INVALID_ARG, KP_ERR_WRONG_THREAD. Any application thread. */
kp_err kp_flush(kp_producer *p, int64_t timeout_ms);

/* Stop accepting records, deliver what is buffered for up to timeout_ms
 * (-1: no limit), then fail every record still unreported with
 * KP_ERR_CLOSED (one report each), run on_close, stop the sender thread and
 * free the producer. p is invalid afterwards, whatever the result.
 * Returns KP_OK when every record was reported before the timeout,
 * KP_ERR_TIMED_OUT when some had to be failed, KP_ERR_WRONG_THREAD (and p
 * stays valid) on the sender thread. Once, from one application thread. */
kp_err kp_close(kp_producer *p, int64_t timeout_ms);

/* A partition as the producer's metadata knows it. */
typedef struct kp_partition_info {
	int32_t partition;
	int32_t leader;       /* broker node id; -1 when leaderless */
	int32_t leader_epoch; /* -1 when the broker does not say */
} kp_partition_info;

/* Partitions of `topic`, fetching metadata if needed and waiting up to
 * timeout_ms (-1: max.block.ms). On KP_OK *parts is an array of *count
 * entries ordered by partition, to free with kp_free().
 * Returns KP_OK, KP_ERR_UNKNOWN_TOPIC (not in metadata in time),
 * KP_ERR_INVALID_ARG, KP_ERR_WRONG_THREAD, KP_ERR_NOMEM. Any application
 * thread. */
kp_err kp_partitions_for(kp_producer *p, const char *topic,
			 int64_t timeout_ms, kp_partition_info **parts,
			 size_t *count);

/* Statistics as one JSON object, built on demand:
 *   {"client_id": s, "time_ms": n,
 *    "buffer": {"used_bytes": n, "total_bytes": n},
 *    "brokers": [{"node_id": n, "host": s, "port": n, "connected": b,
 *                 "requests": n, "retries": n, "batches": n, "bytes": n,
 *                 "errors": n, "in_flight": n,
 *                 "latency_ms": {"avg": n, "p50": n, "p99": n, "max": n}}],
 *    "partitions": [{"topic": s, "partition": n, "leader": n,
 *                    "records": n, "batches": n, "bytes": n, "retries": n,
 *                    "errors": n, "queue_records": n, "queue_bytes": n}]}
 * Counters are totals since kp_producer_new(); bytes are wire bytes.
 * On KP_OK *json is NUL-terminated (kp_free() it) and *len its length.
 * Returns KP_OK, KP_ERR_INVALID_ARG, KP_ERR_NOMEM. Any thread. */
kp_err kp_stats_json(kp_producer *p, char **json, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
