/*
 * The time kp_send() may block (max.block.ms), one deadline for all its
 * waits (metadata, then buffer memory), fixed at the first wait: a send
 * that never waits never reads the clock, which costs about a tenth of
 * the whole send.
 */
#ifndef KAFKIT_PRODUCER_DEADLINE_H
#define KAFKIT_PRODUCER_DEADLINE_H

#include <stdint.h>

#include "loop.h"

typedef struct kp__deadline {
	int64_t budget_ms; /* > 0: may wait this long, from the first wait */
	int64_t until_ms;  /* kn__now_ms() deadline once fixed, else 0 */
} kp__deadline;

/* d's deadline in kn__now_ms() time, fixed now if it was not yet; 0 means
 * "do not wait" (d NULL, or neither a budget nor a deadline).
 * Thread: d's owner. */
static inline int64_t kp__deadline_until(kp__deadline *d)
{
	if (!d)
		return 0;
	if (!d->until_ms && d->budget_ms > 0)
		d->until_ms = (int64_t)kn__now_ms() + d->budget_ms;
	return d->until_ms;
}

#endif
