/*
 * One broker as the producer's sender sees it: a non-blocking TCP
 * connection on the sender's event loop, the ApiVersions handshake, and
 * the requests in flight on it, answered in order (Kafka answers a
 * connection's requests in the order they were sent).
 *
 * States: DOWN -> CONNECTING (non-blocking connect, bounded by
 * socket.connection.setup.timeout.ms) -> HANDSHAKE (ApiVersions, retried
 * at v0 when the broker refuses our version) -> UP -> DOWN on a close,
 * an I/O error, a bad frame or a request that outlived request.timeout.ms
 * (the connection is closed then, as the Java client does, failing every
 * request in flight on it). Reconnects wait reconnect.backoff.ms growing
 * exponentially up to reconnect.backoff.max.ms.
 *
 * Threads: everything here runs on the sender thread.
 */
#ifndef KAFKIT_PRODUCER_BROKER_H
#define KAFKIT_PRODUCER_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "backoff.h"
#include "kafkit/buf.h"
#include "kafkit/producer.h"
#include "loop.h"

typedef struct kp__broker kp__broker;

typedef enum kp__broker_state {
	KP__BROKER_DOWN = 0,
	KP__BROKER_CONNECTING,
	KP__BROKER_HANDSHAKE,
	KP__BROKER_UP,
} kp__broker_state;

/* A request's outcome, called once per request that expects a response:
 * err KP_OK with the response body (after the response header, valid
 * during the call), or KP_ERR_TIMED_OUT (request.timeout.ms passed; the
 * connection was closed), KP_ERR_CLOSED (the connection closed or failed
 * first, or the broker was destroyed), with body NULL. */
typedef void (*kp__response_fn)(kp__broker *b, kp_err err, int16_t api_key,
				int16_t api_version, const uint8_t *body,
				size_t len, void *arg);

typedef struct kp__broker_opts {
	const char *client_id;
	int64_t request_timeout_ms;
	/* socket.connection.setup.timeout.ms .. max: grows with each
	 * consecutive failed connect, as the Java client's does. */
	kp__backoff setup_timeout;
	kp__backoff reconnect;          /* reconnect.backoff.ms .. max */
	kp__rng *rng;                   /* the sender's (jitter) */
	/* State changes: on_up once the handshake is done; on_down when an
	 * UP, CONNECTING or HANDSHAKE broker goes DOWN (reason is a sentence,
	 * valid during the call). Requests in flight were failed before. */
	void (*on_up)(kp__broker *b, void *arg);
	void (*on_down)(kp__broker *b, const char *reason, void *arg);
	void *arg;
} kp__broker_opts;

/* A broker known by node id (the sender gives bootstrap entries negative
 * ids) at host:port; starts DOWN. opts is copied (client_id
 * too). Returns KP_OK, KP_ERR_NOMEM, KP_ERR_INVALID_ARG (host too long). */
kp_err kp__broker_new(kp__broker **out, kn__loop *loop, int32_t node_id,
		      const char *host, uint16_t port,
		      const kp__broker_opts *opts);

/* Close the connection (failing requests in flight with KP_ERR_CLOSED,
 * without calling on_down) and free b. NULL is a no-op. */
void kp__broker_destroy(kp__broker *b);

/* Metadata moved the node: connect to host:port from the next connect
 * on (a live connection is kept). Returns KP_OK or KP_ERR_INVALID_ARG
 * (host too long). */
kp_err kp__broker_set_address(kp__broker *b, const char *host, uint16_t port);

/* Start connecting when DOWN and the reconnect backoff has passed (at
 * `now`, kn__now_ms()); otherwise nothing. Returns the state after the
 * call. A failure to even start (resolution, socket) counts as a failed
 * attempt and leaves b DOWN with its backoff grown. */
kp__broker_state kp__broker_connect(kp__broker *b, int64_t now);

/* Close a live connection now because of a fault (logged with the peer):
 * requests in flight fail with KP_ERR_CLOSED, on_down is called with
 * `reason`. No-op when DOWN. */
void kp__broker_disconnect(kp__broker *b, const char *reason);

/* The same for a connection closed on purpose (not logged). */
void kp__broker_close_quietly(kp__broker *b, const char *reason);

kp__broker_state kp__broker_state_of(const kp__broker *b);
int32_t kp__broker_node_id(const kp__broker *b);
const char *kp__broker_host(const kp__broker *b);
uint16_t kp__broker_port(const kp__broker *b);

/* Earliest time a DOWN broker may connect again (0: now). */
int64_t kp__broker_next_connect_ms(const kp__broker *b);

/* Highest version of api_key that both the broker (per its ApiVersions)
 * and `ours_max` support, at least `ours_min`; -1 when none or not UP. */
int16_t kp__broker_version(const kp__broker *b, int16_t api_key,
			   int16_t ours_min, int16_t ours_max);

/* Encode `body` (the api's request struct) as a request frame and queue
 * it. With expect_response 0 (Produce acks=0) fn runs once the frame was
 * written to the socket (KP_OK, body NULL) or dropped unsent by a closing
 * connection (KP_ERR_CLOSED).
 * Byte and string values of ref_threshold bytes or more (0: none) are
 * referenced rather than copied (record batches): they must stay valid
 * until fn runs.
 * Returns KP_OK, KP_ERR_INVALID_ARG (not UP), KP_ERR_ENCODE (the codec
 * refused the body), KP_ERR_NOMEM; on error fn is not called. */
kp_err kp__broker_send(kp__broker *b, int16_t api_key, int16_t api_version,
		       const void *body, size_t ref_threshold,
		       int expect_response, kp__response_fn fn, void *arg);

/* A bytes field of a request body that is really src's output: the body
 * carries kc_bytes_of(placeholder, kc_writer_pos(src)), and the frame
 * takes src's pieces in its place (kc_writer_splice()). */
typedef struct kp__splice {
	const void *placeholder;
	const kc_writer *src;
} kp__splice;

/* kp__broker_send() for a body with n spliced fields (record batches
 * that reference lent values). ref_threshold must not exceed the
 * smallest spliced length, or the placeholder would be copied.
 * Returns those of kp__broker_send(), KP_ERR_ENCODE also when a
 * placeholder is not found. */
kp_err kp__broker_send_spliced(kp__broker *b, int16_t api_key,
			       int16_t api_version, const void *body,
			       size_t ref_threshold, const kp__splice *splices,
			       size_t n, int expect_response,
			       kp__response_fn fn, void *arg);

/* Requests sent and not yet answered (those expecting a response). */
int kp__broker_in_flight(const kp__broker *b);

/* Counters for kp_stats_json (sender thread). */
typedef struct kp__broker_stats {
	uint64_t requests, bytes_out, errors, connects, disconnects;
	uint64_t batches, retries; /* counted by the sender (produce.c) */
	uint64_t rtt_count, rtt_sum_ms, rtt_max_ms;
	uint32_t rtt_hist[32]; /* bucket i: rtt in [2^(i-1), 2^i) ms */
} kp__broker_stats;
kp__broker_stats *kp__broker_stats_of(kp__broker *b);

#endif
