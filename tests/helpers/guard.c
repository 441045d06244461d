/* Guard pages: place data so that it ends exactly at a PROT_NONE page. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "helpers.h"

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static size_t mapping_size(size_t n)
{
	size_t pg = page_size();
	return ((n + pg - 1) / pg + 1) * pg;
}

uint8_t *th_guard_copy(const void *p, size_t n)
{
	size_t total = mapping_size(n);
	uint8_t *m = mmap(NULL, total, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		abort();
	uint8_t *guard = m + total - page_size();
	if (mprotect(guard, page_size(), PROT_NONE) != 0)
		abort();
	uint8_t *dst = guard - n;
	if (n)
		memcpy(dst, p, n);
	return dst;
}

void th_guard_free(uint8_t *p, size_t n)
{
	size_t total = mapping_size(n);
	uint8_t *guard_end = p + n + page_size();
	munmap(guard_end - total, total);
}
