/* The codec's allocator hook: every allocation goes through here so tests
 * can fail the Nth one. */
#include <stdlib.h>

#include "buf_int.h"

static void *default_malloc(size_t n, void *opaque)
{
	(void)opaque;
	return malloc(n);
}
static void *default_realloc(void *p, size_t n, void *opaque)
{
	(void)opaque;
	return realloc(p, n);
}
static void default_free(void *p, void *opaque)
{
	(void)opaque;
	free(p);
}

static kc_allocator allocator = {default_malloc, default_realloc, default_free,
				 NULL};

void kc_set_allocator(const kc_allocator *a)
{
	if (a)
		allocator = *a;
	else
		allocator = (kc_allocator){default_malloc, default_realloc,
					   default_free, NULL};
}

void *kc__malloc(size_t n)
{
	return allocator.malloc_fn(n ? n : 1, allocator.opaque);
}

void *kc__realloc(void *p, size_t n)
{
	return allocator.realloc_fn(p, n ? n : 1, allocator.opaque);
}

void kc__free(void *p)
{
	if (p)
		allocator.free_fn(p, allocator.opaque);
}

void kc_free(void *p)
{
	kc__free(p);
}
