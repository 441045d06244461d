/* Java's ExponentialBackoff, with the random source injected. */
#include "backoff.h"

#include <float.h>
#include <math.h>

int kp__backoff_init(kp__backoff *b, int64_t initial_ms, int multiplier,
		     int64_t max_ms, double jitter)
{
	if (initial_ms < 0 || max_ms < 0 || multiplier < 2 || !(jitter >= 0) ||
	    jitter > 1)
		return -1;
	b->initial = initial_ms < max_ms ? initial_ms : max_ms;
	b->max = max_ms;
	b->multiplier = multiplier;
	b->jitter = jitter;
	/* An initial of 0 grows from 1 ms in the exponent, as in Java, so the
	 * cap is still reached (0 * 2^n stays 0 there too). */
	b->exp_max = max_ms > b->initial
			     ? log((double)max_ms /
				   (double)(b->initial > 1 ? b->initial : 1)) /
				       log((double)multiplier)
			     : 0;
	return 0;
}

int64_t kp__backoff_ms(const kp__backoff *b, uint32_t attempts, kp__rng *rng)
{
	if (b->exp_max == 0)
		return b->initial;
	double exp = (double)attempts < b->exp_max ? (double)attempts
						    : b->exp_max;
	double term = (double)b->initial * pow((double)b->multiplier, exp);
	double factor = 1.0;
	if (b->jitter >= DBL_MIN)
		factor = 1.0 - b->jitter + 2.0 * b->jitter * kp__rng_unit(rng);
	double v = factor * term;
	if (v >= (double)b->max)
		return b->max;
	return (int64_t)v;
}
