/* Bump allocator for decoded arrays and decompressed regions. */
#include <stdalign.h>

#include "buf_int.h"

struct kc__arena_chunk {
	struct kc__arena_chunk *next;
	size_t size; /* usable bytes after the header */
	alignas(max_align_t) uint8_t data[];
};

enum { ARENA_MIN_CHUNK = 4096 };

void kc_arena_init(kc_arena *a)
{
	*a = (kc_arena){0};
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

void *kc_arena_alloc(kc_arena *a, size_t n)
{
	/* Past 2^40 bytes something upstream trusted a bogus length. */
	if (n >= (size_t)1 << 40)
		return NULL;
	n = align8(n ? n : 1);
	if (a->limit && a->used + n > a->limit)
		return NULL;
	if ((size_t)(a->end - a->cur) < n) {
		size_t want = a->chunks ? a->chunks->size * 2 : ARENA_MIN_CHUNK;
		if (want < n)
			want = n;
		if (want > ((size_t)64 << 20) && n <= ((size_t)64 << 20))
			want = (size_t)64 << 20;
		struct kc__arena_chunk *c = kc__malloc(sizeof *c + want);
		if (!c)
			return NULL;
		c->next = a->chunks;
		c->size = want;
		a->chunks = c;
		a->cur = c->data;
		a->end = c->data + want;
	}
	void *p = a->cur;
	a->cur += n;
	a->used += n;
	return p;
}

void kc_arena_reset(kc_arena *a)
{
	struct kc__arena_chunk *keep = a->chunks;
	if (!keep)
		return;
	struct kc__arena_chunk *c = keep->next;
	while (c) {
		struct kc__arena_chunk *next = c->next;
		kc__free(c);
		c = next;
	}
	keep->next = NULL;
	a->cur = keep->data;
	a->end = keep->data + keep->size;
	a->used = 0;
}

void kc_arena_free(kc_arena *a)
{
	struct kc__arena_chunk *c = a->chunks;
	while (c) {
		struct kc__arena_chunk *next = c->next;
		kc__free(c);
		c = next;
	}
	size_t limit = a->limit;
	*a = (kc_arena){0};
	a->limit = limit;
}
