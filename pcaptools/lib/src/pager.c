/* Paging a mapped capture on its own thread (see pager.h). */
#include "pager.h"

#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14; older kernels: EINVAL, harmless */
#endif

/* The reader hands its offset over once per STEP bytes; the pager keeps
 * AHEAD bytes resident past it. */
#define STEP ((size_t)1 << 20)
#define AHEAD ((size_t)4 << 20)

static void *pager_main(void *arg)
{
	kx__pager *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		size_t pos = p->pos;
		size_t want = p->len > AHEAD && pos < p->len - AHEAD
				      ? pos + AHEAD
				      : p->len;
		/* Never behind the reader: those pages are given back. */
		size_t from = (p->ahead > pos ? p->ahead : pos) / p->page *
			      p->page;
		if (from >= want) {
			pthread_cond_wait(&p->cond, &p->lock);
			continue;
		}
		pthread_mutex_unlock(&p->lock);
		madvise((void *)(p->base + from), want - from,
			MADV_POPULATE_READ);
		p->ahead = want;
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int kx__pager_start(kx__pager *p, const uint8_t *base, size_t len)
{
	*p = (kx__pager){.base = base, .len = len};
	long pg = sysconf(_SC_PAGESIZE);
	p->page = pg > 0 ? (size_t)pg : 4096;
	if (pthread_mutex_init(&p->lock, NULL))
		return -1;
	if (pthread_cond_init(&p->cond, NULL)) {
		pthread_mutex_destroy(&p->lock);
		return -1;
	}
	if (pthread_create(&p->thread, NULL, pager_main, p)) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		return -1;
	}
	pthread_setname_np(p->thread, "kafkit-pager");
	return 0;
}

void kx__pager_advance(kx__pager *p, size_t off)
{
	if (off < p->told + STEP)
		return;
	p->told = off;
	size_t drop = off / p->page * p->page;
	if (drop > p->released) {
		madvise((void *)(p->base + p->released), drop - p->released,
			MADV_DONTNEED);
		p->released = drop;
	}
	pthread_mutex_lock(&p->lock);
	p->pos = off;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void kx__pager_stop(kx__pager *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}
