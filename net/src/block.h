/*
 * kafkit net: reference-counted byte blocks. A connection reads into one;
 * kn__conn_take_input() hands it to a holder (the mock broker's partition
 * log) that keeps request bytes where they arrived instead of copying them.
 *
 * Threading: the count is atomic, so references may be dropped on any
 * thread; the bytes belong to whoever the owner's protocol says.
 */
#ifndef KAFKIT_NET_BLOCK_H
#define KAFKIT_NET_BLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Fields are private to block.c and conn.c. */
typedef struct kn__block {
	atomic_size_t refs;
	size_t cap;
	uint8_t data[];
} kn__block;

/* A block of cap bytes with one reference, for holders that make their
 * own (tests). Returns NULL when out of memory. Any thread. */
kn__block *kn__block_new(size_t cap);

/* The block's bytes. */
uint8_t *kn__block_data(kn__block *b);

/* Another reference to b. Any thread, with a reference already held. */
void kn__block_ref(kn__block *b);

/* Drop a reference; the last one frees the block. NULL is ignored. Any
 * thread (the count is atomic). */
void kn__block_unref(kn__block *b);

/* Bytes the block holds (its capacity, for memory accounting). */
size_t kn__block_size(const kn__block *b);

#endif
