/* Exponential backoff with jitter, as Java's ExponentialBackoff:
 *   backoff(attempts) = min(max, initial * multiplier^min(attempts, expMax)
 *                                 * uniform[1 - jitter, 1 + jitter))
 * where expMax = log(max / initial) / log(multiplier). The producer uses
 * it for retries (retry.backoff.ms, retry.backoff.max.ms), reconnects
 * (reconnect.backoff.ms, reconnect.backoff.max.ms) and connection setup
 * timeouts, always with multiplier 2 and jitter 0.2 as Java does. */
#ifndef KAFKIT_PRODUCER_BACKOFF_H
#define KAFKIT_PRODUCER_BACKOFF_H

#include <stdint.h>

#include "rng.h"

/* Java's multiplier and jitter for every client backoff. */
#define KP__BACKOFF_MULTIPLIER 2
#define KP__BACKOFF_JITTER 0.2

typedef struct kp__backoff {
	int64_t initial; /* min(initial, max), as Java clamps it */
	int64_t max;
	int multiplier;
	double jitter;
	double exp_max; /* 0: constant backoff of `initial`, no jitter */
} kp__backoff;

/* Set up a backoff. When max <= initial the backoff is the constant max
 * (Java: retry.backoff.max.ms below retry.backoff.ms wins from the start).
 * Returns 0, or -1 (b untouched) when initial or max is negative,
 * multiplier < 2 or jitter outside [0, 1]. Any thread. */
int kp__backoff_init(kp__backoff *b, int64_t initial_ms, int multiplier,
		     int64_t max_ms, double jitter);

/* Delay in ms before attempt number `attempts` + 1, where attempts counts
 * the retries already made (0 for the first retry: about `initial`).
 * Draws one value from rng unless jitter is 0 or the backoff is constant.
 * Result in [0, max]. Thread: the rng's owner. */
int64_t kp__backoff_ms(const kp__backoff *b, uint32_t attempts, kp__rng *rng);

#endif
