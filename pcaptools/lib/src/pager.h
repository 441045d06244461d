/*
 * kafkit pcap internals: a thread that keeps a mapped capture's pages
 * resident just ahead of the reader and gives them back just behind it.
 *
 * Bringing pages of a mapped file in (MADV_POPULATE_READ) and dropping
 * them again (MADV_DONTNEED, which keeps peak RSS at a few windows instead
 * of the file's size) is about a third of an offline decode's time; done
 * on a second thread it overlaps the decode instead of adding to it. The
 * mapping is read-only and private, so a page dropped too early or not yet
 * brought in only costs the reader a page fault, never a wrong byte.
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
	size_t ahead;    /* pager thread only: resident below this */
	size_t released; /* pager thread only: given back below this */
} kx__pager;

/* Start paging len bytes mapped at base (len > 0). Returns 0, or -1 when
 * no thread could be started (the caller pages on its own thread).
 * Thread: the reader's. */
int kx__pager_start(kx__pager *p, const uint8_t *base, size_t len);

/* The reader no longer needs the bytes before off, and reads from off on.
 * Cheap unless off moved a window since the last call. Precondition: p
 * started. Thread: the reader's. */
void kx__pager_advance(kx__pager *p, size_t off);

/* Stop and join the thread; the mapping may be unmapped after. Thread:
 * the reader's. */
void kx__pager_stop(kx__pager *p);

#endif
