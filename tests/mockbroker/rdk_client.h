/*
 * Test helpers for the mock suites that drive librdkafka's producer
 * (test_rdkafka.c, test_faults_rdkafka.c): a producer bound to a cluster
 * with delivery reports counted, and a produce loop over one topic handle
 * built on rd_kafka_produce() (rd_kafka_producev()'s argument macros are
 * GNU statement expressions, which this project does not use).
 */
#ifndef KAFKIT_TEST_RDK_CLIENT_H
#define KAFKIT_TEST_RDK_CLIENT_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "kafkit/mock.h"

/* A producer to c's bootstrap list with the n settings kv[i][0] =
 * kv[i][1] (ck-asserts each), delivery reports counted below. */
rd_kafka_t *rdk_producer(km_cluster *c, const char *const (*kv)[2], size_t n);

/* Delivery reports since the last rdk_reset(), by outcome. */
void rdk_reset(void);
int rdk_delivered(void);
int rdk_failed(void);

/* What rdk_produce sends: n messages, value "value-%06d" of the index i,
 * key key_prefix followed by i % key_mod, to any partition. */
typedef struct rdk_load {
	const char *topic;
	int n;
	const char *key_prefix;
	int key_mod;
	/* spread the messages over at least 400 ms (20 pauses of 20 ms),
	 * so that faults and leader moves meet the producer */
	bool pace;
} rdk_load;

/* Produce the load through one topic handle (copies of key and value),
 * waiting out a full queue, then flush (60 s at most). ck-asserts that
 * every message was accepted and the flush completed; delivery outcomes
 * are left to rdk_delivered()/rdk_failed(). */
void rdk_produce(rd_kafka_t *rk, const rdk_load *l);

#endif
