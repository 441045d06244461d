/*
 * bench_mock's replay load generator: connections that each replay one
 * pre-encoded ProduceRequest to a partition leader as fast as the broker
 * answers, to measure a broker rather than a client.
 */
#ifndef KAFKIT_BENCH_MOCK_REPLAY_H
#define KAFKIT_BENCH_MOCK_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* The Produce version replayed; its responses are decoded with it. */
#define BM_REPLAY_PRODUCE_VERSION 7

typedef struct bm_replay_cfg {
	const char *topic;
	const uint16_t *ports; /* leader port of each partition */
	int partitions;
	int conns;             /* connection i sends to partition
				* i % partitions */
	int batch_records;     /* records per request */
	int window;            /* requests in flight per connection */
	long messages;         /* rounded up to whole requests */
	const uint8_t *value;  /* every record's value */
	size_t value_len;
} bm_replay_cfg;

/* Called with end = false once every connection is open, just before the
 * timed part, and with end = true once every response arrived, while the
 * load threads still exist (so their CPU time can be sampled). */
typedef void (*bm_replay_mark_fn)(void *arg, int end);

/* Run the load: cfg->conns threads named "loadgen", each sending its
 * share of the requests (acks=1, one uncompressed batch of
 * cfg->batch_records records) with cfg->window in flight and checking
 * that every response answers in order without an error. *secs receives
 * the time between the two marks. Returns the messages sent, or -1 with
 * *fail naming the first failure (connect, send, a closed connection, an
 * out-of-order, undecodable or failed response). Exits the process when
 * it cannot allocate or encode. */
long bm_replay_run(const bm_replay_cfg *cfg, bm_replay_mark_fn mark,
		   void *arg, double *secs, const char **fail);

#endif
