/* An allocator that fails the Nth allocation, to walk every error path. */
#include <stdlib.h>

#include "helpers.h"
#include "kafkit/buf.h"

static unsigned long fail_at_n;
static unsigned long count;
static long live;

static void *counting_malloc(size_t n, void *opaque)
{
	(void)opaque;
	count++;
	if (fail_at_n && count >= fail_at_n)
		return NULL;
	void *p = malloc(n);
	if (p)
		live++;
	return p;
}

static void *counting_realloc(void *p, size_t n, void *opaque)
{
	(void)opaque;
	count++;
	if (fail_at_n && count >= fail_at_n)
		return NULL;
	void *q = realloc(p, n);
	if (q && !p)
		live++;
	return q;
}

static void counting_free(void *p, void *opaque)
{
	(void)opaque;
	if (p)
		live--;
	free(p);
}

void th_alloc_fail_at(unsigned long n)
{
	static const kc_allocator a = {counting_malloc, counting_realloc,
				       counting_free, NULL};
	fail_at_n = n;
	count = 0;
	live = 0;
	kc_set_allocator(&a);
}

unsigned long th_alloc_count(void)
{
	return count;
}

long th_alloc_live(void)
{
	return live;
}

void th_alloc_reset(void)
{
	kc_set_allocator(NULL);
	fail_at_n = 0;
}
