/* Reference-counted byte blocks (see block.h). */
#include "block.h"

#include "buf_int.h"

kn__block *kn__block_new(size_t cap)
{
	kn__block *b = kc__malloc(sizeof *b + cap);
	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->cap = cap;
	return b;
}

void kn__block_ref(kn__block *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void kn__block_unref(kn__block *b)
{
	if (b && atomic_fetch_sub_explicit(&b->refs, 1,
					    memory_order_acq_rel) == 1)
		kc__free(b);
}

uint8_t *kn__block_data(kn__block *b)
{
	return b->data;
}

size_t kn__block_size(const kn__block *b)
{
	return b->cap;
}
