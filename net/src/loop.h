/*
 * kafkit net: the event loop shared by the mock broker and the producer (internal).
 *
 * A small epoll loop in the manner of redis's ae.c: file descriptors with
 * readiness callbacks, one-shot and periodic timers in milliseconds, and a
 * queue of closures that other threads post to the loop thread.
 *
 * Threading: a loop, its fds and its timers belong to the thread that runs
 * kn__loop_run(). Only kn__loop_post(), kn__loop_wake() and kn__loop_stop()
 * may be called from other threads (the last two also from signal handlers).
 *
 * Errors are negative errno values (-ENOMEM, -EBADF, ...); 0 is success.
 * Allocations go through the codec allocator hook (kc_set_allocator), so
 * a failing allocator reaches these paths too.
 */
#ifndef KAFKIT_NET_LOOP_H
#define KAFKIT_NET_LOOP_H

#include <stddef.h>
#include <stdint.h>

typedef struct kn__loop kn__loop;

/* Readiness bits for fd callbacks. KN__IO_ERROR (EPOLLERR or EPOLLHUP) is
 * reported whatever the interest mask, as epoll does. */
#define KN__IO_READ 1u
#define KN__IO_WRITE 2u
#define KN__IO_ERROR 4u

/* Called on the loop thread with the ready bits, filtered by the current
 * interest (plus KN__IO_ERROR). It may modify or remove any fd, its own
 * included, and close it. */
typedef void (*kn__io_fn)(kn__loop *loop, int fd, unsigned events, void *arg);

/* Called on the loop thread when a timer is due. */
typedef void (*kn__timer_fn)(kn__loop *loop, void *arg);

/* Called on the loop thread with the argument given to kn__loop_post. */
typedef void (*kn__task_fn)(kn__loop *loop, void *arg);

/* Receives one formatted log line (no trailing newline). */
typedef void (*kn__log_fn)(void *opaque, const char *line);

/* A timer embedded in the owner's struct (libuv style), so starting one
 * allocates nothing once the heap has room and the owner controls its
 * lifetime. Fields are private to loop.c. */
typedef struct kn__timer {
	uint64_t due;      /* monotonic ms */
	uint64_t period;   /* 0: one-shot */
	uint64_t seq;      /* breaks ties between equal `due`: start order */
	size_t heap_index; /* SIZE_MAX while inactive */
	kn__timer_fn fn;
	void *arg;
} kn__timer;

/* Work deferred to the end of the current loop iteration (redis's
 * beforeSleep), embedded in the owner's struct so scheduling cannot fail.
 * Connections use it to flush output once per iteration. Fields are private
 * to loop.c. */
typedef struct kn__defer {
	kn__task_fn fn;
	void *arg;
	struct kn__defer *prev, *next;
	uint64_t epoch; /* the iteration that queued it */
	int queued;
} kn__defer;

/* ---- lifecycle ---------------------------------------------------------- */

/* Create a loop (epoll instance, eventfd for wake-ups) in *out.
 * Returns 0, -ENOMEM, or the negative errno of epoll_create1/eventfd
 * (-EMFILE, -ENFILE). *out is untouched on failure.
 * Thread: any; the loop then belongs to the thread that runs it. */
int kn__loop_new(kn__loop **out);

/* Run posted closures still queued (in order, and those they post, so the
 * memory they own is released), then free the loop. Preconditions:
 * kn__loop_run is not running; every fd was removed (kn__loop_del_fd),
 * every timer stopped and every defer cancelled or run; no thread posts any
 * more. NULL is a no-op.
 * Thread: the loop thread. */
void kn__loop_destroy(kn__loop *loop);

/* Run iterations until kn__loop_stop. The stop request is consumed, so the
 * loop can be run again. A stop requested before the call makes it return
 * after one non-blocking iteration.
 * Returns 0, or the negative errno of a failed epoll_wait (never -EINTR).
 * Thread: the loop thread. */
int kn__loop_run(kn__loop *loop);

/* One iteration: wait up to max_wait_ms (-1: until an fd, timer or wake-up
 * is due; 0: poll) for events, dispatch them (posted closures run here,
 * woken by their eventfd), fire due timers, then run the defers queued so
 * far. Waits less when a timer is due sooner, a defer is queued or a stop is
 * pending.
 * Returns 0 or the negative errno of a failed epoll_wait (-EINTR is
 * reported as 0). Thread: the loop thread. */
int kn__loop_run_once(kn__loop *loop, int max_wait_ms);

/* Ask kn__loop_run to return after the current iteration.
 * Thread: any, and async-signal-safe (an atomic store and an eventfd
 * write): a SIGINT handler may call it. */
void kn__loop_stop(kn__loop *loop);

/* ---- cross-thread work -------------------------------------------------- */

/* Queue fn(loop, arg) to run on the loop thread, after every closure posted
 * before it, and wake the loop. Closures posted from within a closure run in
 * a later iteration. Returns 0 or -ENOMEM (fn will not run; arg stays
 * the caller's). Thread: any (not from a signal handler: it locks a mutex
 * and allocates). */
int kn__loop_post(kn__loop *loop, kn__task_fn fn, void *arg);

/* Make a blocked or future epoll_wait return so the loop runs an iteration
 * (for owners that changed shared state under their own lock). Cheap when a
 * wake-up is already pending. Thread: any, and async-signal-safe. */
void kn__loop_wake(kn__loop *loop);

/* ---- file descriptors --------------------------------------------------- */

/* Watch fd for `events` (KN__IO_READ | KN__IO_WRITE, or 0 to get only
 * errors), calling fn(loop, fd, ready, arg) level-triggered. Events already
 * collected for an earlier registration of the same fd number are never
 * delivered to this one. The fd stays the caller's; it must be non-blocking
 * for the usual read-until-EAGAIN handling.
 * Returns 0, -EINVAL (fd < 0), -EEXIST (already watched), -ENOMEM, or the
 * negative errno of epoll_ctl. Thread: the loop thread. */
int kn__loop_add_fd(kn__loop *loop, int fd, unsigned events, kn__io_fn fn,
		    void *arg);

/* Change the interest of a watched fd. No system call when unchanged.
 * Returns 0, -ENOENT (not watched), or the negative errno of epoll_ctl.
 * Thread: the loop thread. */
int kn__loop_mod_fd(kn__loop *loop, int fd, unsigned events);

/* Stop watching fd; pending events for it are dropped. Call it before
 * closing the fd. No-op when fd is not watched. Thread: the loop thread. */
void kn__loop_del_fd(kn__loop *loop, int fd);

/* Current interest of fd (KN__IO_READ | KN__IO_WRITE bits), or -1 when it
 * is not watched. Thread: the loop thread. */
int kn__loop_fd_events(const kn__loop *loop, int fd);

/* ---- timers ------------------------------------------------------------- */

/* Prepare a timer; it starts inactive. Never fails. Thread: any, before the
 * timer is started. */
void kn__timer_init(kn__timer *t, kn__timer_fn fn, void *arg);

/* (Re)arm t to fire delay_ms from now, then every period_ms if period_ms
 * is not 0. Timers fire in order of due time, ties in the order they were
 * started. A periodic timer that fell behind skips the missed ticks rather
 * than firing in a burst. Timers started or due again while timers are
 * firing wait for the next iteration, so a zero delay cannot starve I/O.
 * A firing timer is already rescheduled (periodic) or inactive (one-shot)
 * when its callback runs, so the callback may stop, restart or free it.
 * Returns 0 or -ENOMEM (only when t was inactive; t is then unchanged).
 * Thread: the loop thread. */
int kn__timer_start(kn__loop *loop, kn__timer *t, uint64_t delay_ms,
		    uint64_t period_ms);

/* Disarm t; no-op when inactive. Thread: the loop thread. */
void kn__timer_stop(kn__loop *loop, kn__timer *t);

/* Whether t is armed. Thread: the loop thread. */
int kn__timer_active(const kn__timer *t);

/* Monotonic clock in ms, read now. Thread: any. */
uint64_t kn__now_ms(void);

/* ---- deferred work ------------------------------------------------------ */

/* Prepare d; it starts unqueued. Never fails. Thread: any, before use. */
void kn__defer_init(kn__defer *d, kn__task_fn fn, void *arg);

/* Queue d to run fn(loop, arg) once at the end of this iteration (or of the
 * next one when called from a defer callback). Queued defers run in
 * scheduling order. No-op when already queued; never fails.
 * Thread: the loop thread. */
void kn__defer_schedule(kn__loop *loop, kn__defer *d);

/* Unqueue d; no-op when not queued. Thread: the loop thread. */
void kn__defer_cancel(kn__loop *loop, kn__defer *d);

/* ---- logging ------------------------------------------------------------ */

/* Send log lines to fn(opaque, line); NULL restores the default (stderr,
 * prefixed "kafkit: "). Thread: the loop thread, or any before run. */
void kn__loop_set_log(kn__loop *loop, kn__log_fn fn, void *opaque);

/* Format one line and hand it to the log sink (truncated at 512 bytes).
 * Thread: the loop thread. */
void kn__loop_logf(kn__loop *loop, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
