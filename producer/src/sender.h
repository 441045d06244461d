/*
 * The sender thread's internal interface between sender.c (the loop,
 * brokers, metadata, producer id) and produce.c (ProduceRequests and their
 * answers). Everything here runs on the sender thread.
 */
#ifndef KAFKIT_PRODUCER_SENDER_H
#define KAFKIT_PRODUCER_SENDER_H

#include "producer_int.h"

/* The broker with that node id (bootstrap entries have negative ids), or
 * NULL. */
kp__broker *kp__sender_broker(kp_producer *p, int32_t node_id);

/* Add one broker per bootstrap.servers entry, ids -1, -2, ...
 * Returns KP_OK, KP_ERR_NOMEM, KP_ERR_BAD_VALUE (a malformed list). */
kp_err kp__sender_add_bootstrap(kp_producer *p);

/* Enter the fatal state: every later send fails with KP_ERR_FATAL and the
 * next pass fails every buffered record. */
void kp__sender_fail_fatal(kp_producer *p, int16_t kafka_err);

/* After a new producer id or epoch: every partition's sequence restarts
 * at 0; queued batches are restamped when next drained. */
void kp__sender_reset_sequences(kp_producer *p);

/* Report every batch of a list (linked through next) as failed with err
 * (kafka_err: each batch's last_kafka_err). */
void kp__fail_list(kp_producer *p, kp__batch *list, kp_err err);

/* Drain ready batches for every UP leader with room in flight and send
 * them as ProduceRequests. Returns how many requests were sent. */
int kp__produce_pass(kp_producer *p, int64_t now);

/* Free the pooled ProduceRequest contexts (at sender exit, once no
 * request is in flight). */
void kp__produce_pool_free(kp_producer *p);

#endif
