/* An allocator that fails the Nth allocation, to walk every error path.
 * Counters are atomic: threaded code (the producer's sender, the mock's
 * I/O thread) allocates while the test thread does. */
#include <stdatomic.h>
#include <stdlib.h>

#include "helpers.h"
#include "kafkit/buf.h"

static atomic_ulong fail_at_n;
static atomic_ulong count;
static atomic_long live;

static void *counting_malloc(size_t n, void *opaque)
{
	(void)opaque;
	unsigned long nth = atomic_fetch_add(&count, 1) + 1;
	unsigned long fail = atomic_load(&fail_at_n);
	if (fail && nth >= fail)
		return NULL;
	void *p = malloc(n);
	if (p)
		atomic_fetch_add(&live, 1);
	return p;
}

static void *counting_realloc(void *p, size_t n, void *opaque)
{
	(void)opaque;
	unsigned long nth = atomic_fetch_add(&count, 1) + 1;
	unsigned long fail = atomic_load(&fail_at_n);
	if (fail && nth >= fail)
		return NULL;
	void *q = realloc(p, n);
	if (q && !p)
		atomic_fetch_add(&live, 1);
	return q;
}

static void counting_free(void *p, void *opaque)
{
	(void)opaque;
	if (p)
		atomic_fetch_sub(&live, 1);
	free(p);
}

void th_alloc_fail_at(unsigned long n)
{
	static const kc_allocator a = {counting_malloc, counting_realloc,
				       counting_free, NULL};
	atomic_store(&fail_at_n, n);
	atomic_store(&count, 0);
	atomic_store(&live, 0);
	kc_set_allocator(&a);
}

unsigned long th_alloc_count(void)
{
	return atomic_load(&count);
}

long th_alloc_live(void)
{
	return atomic_load(&live);
}

void th_alloc_reset(void)
{
	kc_set_allocator(NULL);
	atomic_store(&fail_at_n, 0);
}
