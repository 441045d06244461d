/*
 * kafkit mock broker: fault injection (internal side).
 *
 * The public km_fault_* calls (kafkit/mock.h) keep rules in the cluster's
 * km__faults, created at the first call, which also installs the server's
 * decision point. Request-level rules (delay, swallow, close, throttle,
 * errors without a topic) are decided there; topic-partition error queues
 * are asked by the Produce, Fetch and ListOffsets handlers for each
 * partition. Scheduled leader changes run on loop timers.
 *
 * Threading: the cluster's I/O thread once started (the creating thread
 * before), like the rest of the cluster state.
 */
#ifndef KAFKIT_MOCK_FAULTS_H
#define KAFKIT_MOCK_FAULTS_H

#include <stdint.h>

#include "cluster.h"
#include "server.h"

/* The error a topic-partition error queue injects for partition p of
 * request rq (consuming that queue entry), or 0 to serve it normally.
 * A hit is counted in the broker's faults_errors and flagged in
 * rq->faults. */
int16_t km__faults_partition_error(km__req *rq, const km__partition *p);

/* Move p's leadership to broker `to` (km__partition_set_leader) and count
 * the loss on the old leader when it changes. Returns KM_OK or
 * KM_ERR_NOMEM. */
km_err km__faults_set_leader(km_cluster *c, km__partition *p, int32_t to);

/* Stop the schedules' timers and free every rule. Called by the cluster's
 * destroy, once the I/O thread has stopped. No-op without faults. */
void km__faults_free(km_cluster *c);

#endif
