/* splitmix64 as the default source: fast, one word of state, and good
 * enough for spreading partitions and jittering backoffs. */
#include "rng.h"

void kp__rng_seed(kp__rng *r, uint64_t seed)
{
	r->fn = 0;
	r->opaque = 0;
	r->state = seed;
}

void kp__rng_inject(kp__rng *r, kp__rand_fn fn, void *opaque)
{
	r->fn = fn;
	r->opaque = opaque;
}

uint64_t kp__rng_next(kp__rng *r)
{
	if (r->fn)
		return r->fn(r->opaque);
	uint64_t z = (r->state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

uint32_t kp__rng_below(kp__rng *r, uint32_t n)
{
	/* Multiply-shift on the top 32 bits: the bias is at most n / 2^32,
	 * far below anything a partition spread can show, and one draw keeps
	 * injected sequences easy to predict in tests. */
	return (uint32_t)(((kp__rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

double kp__rng_unit(kp__rng *r)
{
	return (double)(kp__rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}
