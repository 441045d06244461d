/*
 * The shared event loop (mock broker, producer): epoll, a min-heap of timers and an
 * eventfd-woken queue of closures posted by other threads.
 *
 * Each registration of an fd gets a fresh generation number carried in the
 * epoll event data, so an event collected for a connection that a callback
 * closed earlier in the same batch is dropped instead of reaching whatever
 * reused its fd number.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "buf_int.h"
#include "loop.h"

#define MAX_EVENTS 256
#define LOG_LINE_MAX 512

typedef struct fd_slot {
	kn__io_fn fn;
	void *arg;
	uint32_t gen;
	unsigned events;
	int used;
} fd_slot;

typedef struct task {
	kn__task_fn fn;
	void *arg;
	struct task *next;
} task;

struct kn__loop {
	int epfd;
	int evfd;
	fd_slot *slots; /* indexed by fd */
	size_t nslots;

	kn__timer **heap;
	size_t nheap, heap_cap;
	uint64_t timer_seq;

	kn__defer *defer_head, *defer_tail;
	uint64_t defer_epoch;

	pthread_mutex_t post_mu;
	task *post_head, *post_tail; /* under post_mu */
	atomic_int wake_pending;     /* an eventfd write is unconsumed */
	atomic_int stop;

	kn__log_fn log_fn;
	void *log_opaque;

	struct epoll_event events[MAX_EVENTS];
};

uint64_t kn__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void default_log(void *opaque, const char *line)
{
	(void)opaque;
	fprintf(stderr, "kafkit: %s\n", line);
}

/* ---- posted closures ---------------------------------------------------- */

/* Run the closures queued so far; returns how many ran. */
static size_t run_posted(kn__loop *l)
{
	pthread_mutex_lock(&l->post_mu);
	task *t = l->post_head;
	l->post_head = l->post_tail = NULL;
	pthread_mutex_unlock(&l->post_mu);

	size_t ran = 0;

	while (t) {
		task *next = t->next;
		kn__task_fn fn = t->fn;
		void *arg = t->arg;
		kc__free(t);
		fn(l, arg);
		t = next;
		ran++;
	}
	return ran;
}

static void on_wake(kn__loop *l, int fd, unsigned events, void *arg)
{
	(void)events;
	(void)arg;
	/* Consume the counter, then clear the flag, then drain. A poster
	 * whose exchange came before the clear had queued its closure already,
	 * so the drain sees it; one after the clear writes the eventfd again.
	 * (Clearing before the read could swallow the write of a poster whose
	 * flag then stays set: a lost wake-up.) */
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof v);
	(void)r;
	atomic_store(&l->wake_pending, 0);
	run_posted(l);
}

int kn__loop_post(kn__loop *l, kn__task_fn fn, void *arg)
{
	task *t = kc__malloc(sizeof *t);
	if (!t)
		return -ENOMEM;
	t->fn = fn;
	t->arg = arg;
	t->next = NULL;
	pthread_mutex_lock(&l->post_mu);
	if (l->post_tail)
		l->post_tail->next = t;
	else
		l->post_head = t;
	l->post_tail = t;
	pthread_mutex_unlock(&l->post_mu);
	kn__loop_wake(l);
	return 0;
}

void kn__loop_wake(kn__loop *l)
{
	if (atomic_exchange(&l->wake_pending, 1))
		return;
	int saved = errno; /* may run inside a signal handler */
	uint64_t one = 1;
	ssize_t r = write(l->evfd, &one, sizeof one);
	(void)r; /* EAGAIN only when the counter is saturated: still readable */
	errno = saved;
}

void kn__loop_stop(kn__loop *l)
{
	atomic_store(&l->stop, 1);
	kn__loop_wake(l);
}

/* ---- lifecycle ---------------------------------------------------------- */

int kn__loop_new(kn__loop **out)
{
	kn__loop *l = kc__malloc(sizeof *l);
	if (!l)
		return -ENOMEM;
	memset(l, 0, sizeof *l);
	l->evfd = -1;
	atomic_init(&l->wake_pending, 0);
	atomic_init(&l->stop, 0);
	l->log_fn = default_log;
	int rc = pthread_mutex_init(&l->post_mu, NULL);
	if (rc) {
		kc__free(l);
		return -rc;
	}
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		rc = -errno;
		goto fail;
	}
	l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->evfd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = kn__loop_add_fd(l, l->evfd, KN__IO_READ, on_wake, NULL);
	if (rc)
		goto fail;
	*out = l;
	return 0;
fail:
	if (l->evfd >= 0)
		close(l->evfd);
	if (l->epfd >= 0)
		close(l->epfd);
	kc__free(l->slots);
	pthread_mutex_destroy(&l->post_mu);
	kc__free(l);
	return rc;
}

void kn__loop_destroy(kn__loop *l)
{
	if (!l)
		return;
	while (run_posted(l))
		;
	kn__loop_del_fd(l, l->evfd);
	close(l->evfd);
	close(l->epfd);
	kc__free(l->slots);
	kc__free(l->heap);
	pthread_mutex_destroy(&l->post_mu);
	kc__free(l);
}

void kn__loop_set_log(kn__loop *l, kn__log_fn fn, void *opaque)
{
	l->log_fn = fn ? fn : default_log;
	l->log_opaque = fn ? opaque : NULL;
}

void kn__loop_logf(kn__loop *l, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	l->log_fn(l->log_opaque, line);
}

/* ---- file descriptors --------------------------------------------------- */

static uint32_t to_epoll(unsigned events)
{
	return (events & KN__IO_READ ? EPOLLIN : 0u) |
	       (events & KN__IO_WRITE ? EPOLLOUT : 0u);
}

static fd_slot *slot_of(const kn__loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nslots || !l->slots[fd].used)
		return NULL;
	return &l->slots[fd];
}

static int grow_slots(kn__loop *l, int fd)
{
	size_t n = l->nslots ? l->nslots : 64;
	while (n <= (size_t)fd)
		n *= 2;
	fd_slot *s = kc__realloc(l->slots, n * sizeof *s);
	if (!s)
		return -ENOMEM;
	memset(s + l->nslots, 0, (n - l->nslots) * sizeof *s);
	l->slots = s;
	l->nslots = n;
	return 0;
}

int kn__loop_add_fd(kn__loop *l, int fd, unsigned events, kn__io_fn fn,
		    void *arg)
{
	if (fd < 0)
		return -EINVAL;
	if (slot_of(l, fd))
		return -EEXIST;
	if ((size_t)fd >= l->nslots) {
		int rc = grow_slots(l, fd);
		if (rc)
			return rc;
	}
	fd_slot *s = &l->slots[fd];
	uint32_t gen = s->gen + 1;
	struct epoll_event ev = {.events = to_epoll(events)};
	ev.data.u64 = (uint64_t)gen << 32 | (uint32_t)fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	*s = (fd_slot){.fn = fn, .arg = arg, .gen = gen, .events = events,
		       .used = 1};
	return 0;
}

int kn__loop_mod_fd(kn__loop *l, int fd, unsigned events)
{
	fd_slot *s = slot_of(l, fd);
	if (!s)
		return -ENOENT;
	if (s->events == events)
		return 0;
	struct epoll_event ev = {.events = to_epoll(events)};
	ev.data.u64 = (uint64_t)s->gen << 32 | (uint32_t)fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	s->events = events;
	return 0;
}

void kn__loop_del_fd(kn__loop *l, int fd)
{
	fd_slot *s = slot_of(l, fd);
	if (!s)
		return;
	/* Cannot fail for a registered, still open fd; nothing to undo. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	s->used = 0;
	s->fn = NULL;
	s->arg = NULL;
}

int kn__loop_fd_events(const kn__loop *l, int fd)
{
	const fd_slot *s = slot_of(l, fd);
	return s ? (int)s->events : -1;
}

static void dispatch(kn__loop *l, int n)
{
	for (int i = 0; i < n; i++) {
		const struct epoll_event *ev = &l->events[i];
		int fd = (int)(uint32_t)ev->data.u64;
		uint32_t gen = (uint32_t)(ev->data.u64 >> 32);
		fd_slot *s = slot_of(l, fd);
		if (!s || s->gen != gen)
			continue; /* removed or re-registered since collected */
		unsigned ready = 0;
		if ((ev->events & EPOLLIN) && (s->events & KN__IO_READ))
			ready |= KN__IO_READ;
		if ((ev->events & EPOLLOUT) && (s->events & KN__IO_WRITE))
			ready |= KN__IO_WRITE;
		if (ev->events & (EPOLLERR | EPOLLHUP))
			ready |= KN__IO_ERROR;
		if (ready)
			s->fn(l, fd, ready, s->arg);
	}
}

/* ---- timers ------------------------------------------------------------- */

static int timer_before(const kn__timer *a, const kn__timer *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_set(kn__loop *l, size_t i, kn__timer *t)
{
	l->heap[i] = t;
	t->heap_index = i;
}

static void sift_up(kn__loop *l, size_t i)
{
	kn__timer *t = l->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!timer_before(t, l->heap[parent]))
			break;
		heap_set(l, i, l->heap[parent]);
		i = parent;
	}
	heap_set(l, i, t);
}

static void sift_down(kn__loop *l, size_t i)
{
	kn__timer *t = l->heap[i];
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= l->nheap)
			break;
		if (child + 1 < l->nheap &&
		    timer_before(l->heap[child + 1], l->heap[child]))
			child++;
		if (!timer_before(l->heap[child], t))
			break;
		heap_set(l, i, l->heap[child]);
		i = child;
	}
	heap_set(l, i, t);
}

static void heap_remove(kn__loop *l, kn__timer *t)
{
	size_t i = t->heap_index;
	kn__timer *last = l->heap[--l->nheap];
	t->heap_index = SIZE_MAX;
	if (last == t)
		return;
	heap_set(l, i, last);
	sift_up(l, i);
	sift_down(l, last->heap_index);
}

void kn__timer_init(kn__timer *t, kn__timer_fn fn, void *arg)
{
	*t = (kn__timer){.heap_index = SIZE_MAX, .fn = fn, .arg = arg};
}

int kn__timer_active(const kn__timer *t)
{
	return t->heap_index != SIZE_MAX;
}

int kn__timer_start(kn__loop *l, kn__timer *t, uint64_t delay_ms,
		    uint64_t period_ms)
{
	if (!kn__timer_active(t) && l->nheap == l->heap_cap) {
		size_t cap = l->heap_cap ? l->heap_cap * 2 : 16;
		kn__timer **h = kc__realloc(l->heap, cap * sizeof *h);
		if (!h)
			return -ENOMEM;
		l->heap = h;
		l->heap_cap = cap;
	}
	t->due = kn__now_ms() + delay_ms;
	t->period = period_ms;
	t->seq = l->timer_seq++;
	if (kn__timer_active(t)) {
		sift_up(l, t->heap_index);
		sift_down(l, t->heap_index);
	} else {
		heap_set(l, l->nheap++, t);
		sift_up(l, t->heap_index);
	}
	return 0;
}

void kn__timer_stop(kn__loop *l, kn__timer *t)
{
	if (kn__timer_active(t))
		heap_remove(l, t);
}

static void run_timers(kn__loop *l)
{
	uint64_t now = kn__now_ms();
	uint64_t limit = l->timer_seq; /* later starts wait an iteration */
	while (l->nheap) {
		kn__timer *t = l->heap[0];
		if (t->due > now || t->seq >= limit)
			break;
		if (t->period) {
			uint64_t next = t->due + t->period;
			t->due = next > now ? next : now + t->period;
			t->seq = l->timer_seq++;
			sift_down(l, 0);
		} else {
			heap_remove(l, t);
		}
		t->fn(l, t->arg);
	}
}

/* ---- deferred work ------------------------------------------------------ */

void kn__defer_init(kn__defer *d, kn__task_fn fn, void *arg)
{
	*d = (kn__defer){.fn = fn, .arg = arg};
}

void kn__defer_schedule(kn__loop *l, kn__defer *d)
{
	if (d->queued)
		return;
	d->queued = 1;
	d->epoch = l->defer_epoch;
	d->next = NULL;
	d->prev = l->defer_tail;
	if (l->defer_tail)
		l->defer_tail->next = d;
	else
		l->defer_head = d;
	l->defer_tail = d;
}

void kn__defer_cancel(kn__loop *l, kn__defer *d)
{
	if (!d->queued)
		return;
	if (d->prev)
		d->prev->next = d->next;
	else
		l->defer_head = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		l->defer_tail = d->prev;
	d->prev = d->next = NULL;
	d->queued = 0;
}

static void run_deferred(kn__loop *l)
{
	/* Defers queued from now on carry the new epoch and wait for the next
	 * iteration; older ones all sit before them in the list. */
	uint64_t cur = ++l->defer_epoch;
	while (l->defer_head && l->defer_head->epoch != cur) {
		kn__defer *d = l->defer_head;
		kn__defer_cancel(l, d);
		d->fn(l, d->arg);
	}
}

/* ---- running ------------------------------------------------------------ */

static int wait_ms(const kn__loop *l, int max_wait_ms)
{
	if (atomic_load(&l->stop) || l->defer_head)
		return 0;
	if (!l->nheap)
		return max_wait_ms;
	uint64_t now = kn__now_ms();
	uint64_t due = l->heap[0]->due;
	uint64_t left = due > now ? due - now : 0;
	if (left > INT_MAX)
		left = INT_MAX;
	if (max_wait_ms >= 0 && (uint64_t)max_wait_ms < left)
		return max_wait_ms;
	return (int)left;
}

int kn__loop_run_once(kn__loop *l, int max_wait_ms)
{
	int n = epoll_wait(l->epfd, l->events, MAX_EVENTS, wait_ms(l, max_wait_ms));
	if (n < 0) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}
	dispatch(l, n);
	run_timers(l);
	run_deferred(l);
	return 0;
}

int kn__loop_run(kn__loop *l)
{
	for (;;) {
		int rc = kn__loop_run_once(l, -1);
		if (rc)
			return rc;
		if (atomic_exchange(&l->stop, 0))
			return 0;
	}
}
