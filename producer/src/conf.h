/* Producer configuration: Kafka's key names, typed values, per-key checks
 * at kp_conf_set() and the Java client's construction-time checks in
 * kp__conf_resolve(). The kp_conf object itself is defined here so the
 * producer can read its values. */
#ifndef KAFKIT_PRODUCER_CONF_H
#define KAFKIT_PRODUCER_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "kafkit/producer.h"

typedef struct kp__interceptor_slot {
	kp_interceptor ic;
	void *opaque;
} kp__interceptor_slot;

/* Typed values, one field per key (every number is int64_t so that one
 * table drives parsing and printing). Strings are owned; NULL means unset
 * (only bootstrap.servers has no default). */
typedef struct kp__conf_values {
	char *bootstrap_servers;
	char *client_id;                  /* "" by default */
	int64_t acks;                     /* -1 (all), 0 or 1 */
	int64_t linger_ms;
	int64_t batch_size;
	int64_t buffer_memory;
	int64_t max_block_ms;
	int64_t compression_type;         /* KC_CODEC_* */
	int64_t compression_level;        /* -1: the codec's default */
	int64_t max_request_size;
	int64_t message_copy_max_bytes;   /* larger lent values: referenced */
	int64_t request_timeout_ms;
	int64_t delivery_timeout_ms;
	int64_t retries;
	int64_t retry_backoff_ms;
	int64_t retry_backoff_max_ms;
	int64_t max_in_flight;
	int64_t enable_idempotence;       /* 0 or 1 */
	int64_t metadata_max_age_ms;
	int64_t partitioner;              /* kp__partitioner_kind */
	int64_t partitioner_ignore_keys;  /* 0 or 1 */
	int64_t socket_connection_setup_timeout_ms;
	int64_t socket_connection_setup_timeout_max_ms;
	int64_t reconnect_backoff_ms;
	int64_t reconnect_backoff_max_ms;
	kp_partitioner_cb partitioner_cb; /* set with KP__PART_CUSTOM only */
	void *partitioner_opaque;
	kp__interceptor_slot *interceptors;
	size_t interceptor_count;
} kp__conf_values;

struct kp_conf {
	kp__conf_values v;
	uint64_t user_set; /* bit i: key i of the table was set explicitly */
};

/* Copy conf's values into *out and apply the Java client's construction
 * rules: bootstrap.servers required; enable.idempotence set explicitly to
 * true needs acks=all, retries > 0 and max.in.flight <= 5 (left at its
 * default, idempotence is turned off instead); delivery.timeout.ms set
 * explicitly must be >= linger.ms + request.timeout.ms (left at its
 * default, it is raised to that sum); compression.level within the codec's
 * range (gzip 1..9, lz4 1..17, zstd -131072..22, or -1).
 * On KP_OK *out owns copies (free with kp__conf_values_clear()); on error
 * *out is zeroed and owns nothing.
 * Returns KP_OK, KP_ERR_BAD_VALUE, KP_ERR_CONF_CONFLICT (a sentence in
 * err when errlen > 0), KP_ERR_NOMEM. Conf's thread rule. */
kp_err kp__conf_resolve(const kp_conf *conf, kp__conf_values *out, char *err,
			size_t errlen);

/* Free what a resolved *v owns and zero it. NULL-safe. */
void kp__conf_values_clear(kp__conf_values *v);

/* Walk a bootstrap.servers list ("host:port, [v6addr]:port, ..."): copy
 * the next entry's host (brackets removed) into host and its port into
 * *port, and advance *cursor. Returns 1 for an entry, 0 at the end, -1 on
 * a syntax error (empty entry, missing or bad port 1..65535, host longer
 * than hostlen - 1). Any thread. */
int kp__servers_next(const char **cursor, char *host, size_t hostlen,
		     uint16_t *port);

#endif
