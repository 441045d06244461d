/* librdkafka producer helpers shared by the tests that link librdkafka. */
#ifndef KAFKIT_TEST_RDKAFKA_CLIENT_H
#define KAFKIT_TEST_RDKAFKA_CLIENT_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* A producer to `bootstraps` with the n key/value settings in kv and the
 * delivery callback dr; any refused setting fails the test. */
rd_kafka_t *trk_producer(const char *bootstraps, const char *const (*kv)[2],
			 size_t n, void (*dr)(rd_kafka_t *, const rd_kafka_message_t *,
					      void *));

/* Produce one copied message, polling while the local queue is full;
 * any other refusal fails the test. */
void trk_produce(rd_kafka_t *rk, const char *topic, const void *key,
		 size_t key_len, const void *value, size_t value_len);

#endif
