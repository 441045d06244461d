/*
 * kafkit mock broker: closing idle connections (internal), as Kafka's
 * connections.max.idle.ms does.
 *
 * A sweep timer looks at every connection each min(timeout / 2, 1 s). A
 * connection is active when, since the previous sweep, a frame was served
 * or the bytes buffered in or waiting out changed (so a client dribbling
 * a frame byte by byte is active, as any read is activity for Kafka's
 * selector), or when the broker owes it something (a parked Fetch, a
 * delayed response) or is stalled by a fault. One that stayed inactive
 * for idle_timeout_ms is closed and logged.
 *
 * Threading: the thread that owns the cluster's loop (the caller before
 * km_cluster_start, the I/O thread after).
 */
#ifndef KAFKIT_MOCK_IDLE_H
#define KAFKIT_MOCK_IDLE_H

#include "cluster.h"

/* Prepare the sweep's timer (inactive). Never fails. Call once, before
 * anything can fail in km_cluster_new (km__idle_stop relies on it). */
void km__idle_init(km_cluster *c);

/* Start the sweep when c->opts.idle_timeout_ms is not 0 (no-op else).
 * Call once, after the loop exists and before it runs.
 * Returns 0 or -ENOMEM. */
int km__idle_start(km_cluster *c);

/* Stop the sweep (no-op when not started); before the loop is freed, with
 * the loop not running. */
void km__idle_stop(km_cluster *c);

#endif
