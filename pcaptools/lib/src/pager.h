/*
 * kafkit pcap internals: a thread that keeps a mapped capture's pages
 * resident just ahead of the reader and gives them back just behind it.
 *
 * Bringing pages of a mapped file in (MADV_POPULATE_READ) is the larger
 * part of an offline decode's kernel time; done on a second thread it
 * overlaps the decode instead of adding to it. Dropping them behind the
 * reader (MADV_DONTNEED, which keeps peak RSS at a few MB instead of the
 * file's size) stays on the reader's thread, so memory is bounded however
 * late the pager runs. The mapping is read-only and private, so a page not
 * yet brought in only costs the reader a page fault, never a wrong byte.
 */
#ifndef KAFKIT_PAGER_H
#define KAFKIT_PAGER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kx__pager {
	const uint8_t *base;
	size_t len;
	size_t page;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t pos;      /* the reader's offset (lock) */
	bool stop;       /* lock */
	size_t told;     /* reader thread only: pos last handed over */
	size_t released; /* reader thread only: given back below this */
	size_t ahead;    /* pager thread only: brought in below this */
} kx__pager;

/* Start paging len bytes mapped at base (len > 0). Returns 0, or -1 when
 * no thread could be started (the caller pages on its own thread).
 * Thread: the reader's. */
int kx__pager_start(kx__pager *p, const uint8_t *base, size_t len);

/* The reader no longer needs the bytes before off, and reads from off on:
 * once per step (1 MB), the pages before off are given back and the pager
 * told to bring in the next few MB. Cheap otherwise. Precondition: p
 * started. Thread: the reader's. */
void kx__pager_advance(kx__pager *p, size_t off);

/* Stop and join the thread; the mapping may be unmapped after. Thread:
 * the reader's. */
void kx__pager_stop(kx__pager *p);

#endif
