/* A small random source the partitioner and backoff draw from; tests
 * inject their own to make choices deterministic. */
#ifndef KAFKIT_PRODUCER_RNG_H
#define KAFKIT_PRODUCER_RNG_H

#include <stdint.h>

/* An injected source: returns 64 uniformly random bits. */
typedef uint64_t (*kp__rand_fn)(void *opaque);

/* fn NULL: the built-in splitmix64 over `state`. Not thread-safe: each
 * user (the partitioner under its lock, the sender thread) owns one. */
typedef struct kp__rng {
	kp__rand_fn fn;
	void *opaque;
	uint64_t state;
} kp__rng;

/* Use the built-in generator from `seed` (the producer seeds it from the
 * OS; any value is fine). Never fails. */
void kp__rng_seed(kp__rng *r, uint64_t seed);

/* Draw from fn(opaque) instead. Preconditions: fn non-NULL. */
void kp__rng_inject(kp__rng *r, kp__rand_fn fn, void *opaque);

/* 64 random bits. */
uint64_t kp__rng_next(kp__rng *r);

/* Uniform integer in [0, n). Preconditions: n > 0. */
uint32_t kp__rng_below(kp__rng *r, uint32_t n);

/* Uniform double in [0, 1), from the top 53 bits of one draw. */
double kp__rng_unit(kp__rng *r);

#endif
