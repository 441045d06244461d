/* Check suite for the event loop (net/src/loop.c). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "loop.h"

static kn__loop *new_loop(void)
{
	kn__loop *l = NULL;
	ck_assert_int_eq(kn__loop_new(&l), 0);
	ck_assert_ptr_nonnull(l);
	return l;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- timers ------------------------------------------------------------- */

#define MAX_FIRED 64

typedef struct fire_log {
	char ids[MAX_FIRED];
	uint64_t at[MAX_FIRED];
	int n;
	int stop_at; /* stop the loop after this many firings (0: never) */
} fire_log;

static fire_log flog;

typedef struct tagged {
	kn__timer t;
	char id;
} tagged;

static void record_fire(kn__loop *l, void *arg)
{
	tagged *tt = arg;
	ck_assert_int_lt(flog.n, MAX_FIRED);
	flog.at[flog.n] = kn__now_ms();
	flog.ids[flog.n++] = tt->id;
	if (flog.stop_at && flog.n == flog.stop_at)
		kn__loop_stop(l);
}

static void tagged_start(kn__loop *l, tagged *tt, char id, uint64_t delay)
{
	tt->id = id;
	kn__timer_init(&tt->t, record_fire, tt);
	ck_assert_int_eq(kn__timer_start(l, &tt->t, delay, 0), 0);
}

START_TEST(test_timers_fire_in_order)
{
	kn__loop *l = new_loop();
	memset(&flog, 0, sizeof flog);
	tagged a, b, c, d, e, x, y;
	uint64_t t0 = kn__now_ms();
	/* Delays far apart so that starting the timers one after another on
	 * a loaded machine (or under TSan) cannot reorder them. */
	tagged_start(l, &a, 'A', 300);
	tagged_start(l, &b, 'B', 100);
	tagged_start(l, &c, 'C', 200);
	tagged_start(l, &d, 'D', 100); /* ties with B: start order decides */
	tagged_start(l, &e, 'E', 0);
	tagged_start(l, &x, 'X', 150);
	tagged_start(l, &y, 'Y', 1000);
	kn__timer_stop(l, &x.t);
	ck_assert(!kn__timer_active(&x.t));
	kn__timer_stop(l, &x.t); /* stopping twice is harmless */
	/* Restarting an active timer moves it. */
	ck_assert_int_eq(kn__timer_start(l, &y.t, 1, 0), 0);
	flog.stop_at = 6;
	ck_assert_int_eq(kn__loop_run(l), 0);
	ck_assert_int_eq(flog.n, 6);
	ck_assert_str_eq(flog.ids, "EYBDCA"); /* X stopped, Y moved */
	ck_assert_uint_ge(flog.at[5] - t0, 300);
	ck_assert_uint_ge(flog.at[2] - t0, 100);
	for (int i = 0; i < 6; i++)
		ck_assert_uint_ge(flog.at[i], t0);
	ck_assert(!kn__timer_active(&a.t));
	kn__loop_destroy(l);
}
END_TEST

typedef struct periodic {
	kn__timer t;
	int fired;
	int limit;
	uint64_t start;
	uint64_t at[16];
} periodic;

static void periodic_fire(kn__loop *l, void *arg)
{
	periodic *p = arg;
	/* A periodic timer is already rescheduled when its callback runs. */
	ck_assert(kn__timer_active(&p->t));
	p->at[p->fired++] = kn__now_ms();
	if (p->fired == p->limit) {
		kn__timer_stop(l, &p->t);
		kn__loop_stop(l);
	}
}

START_TEST(test_periodic_timer)
{
	kn__loop *l = new_loop();
	periodic p = {.limit = 5};
	kn__timer_init(&p.t, periodic_fire, &p);
	p.start = kn__now_ms();
	ck_assert_int_eq(kn__timer_start(l, &p.t, 5, 5), 0);
	ck_assert_int_eq(kn__loop_run(l), 0);
	ck_assert_int_eq(p.fired, 5);
	ck_assert(!kn__timer_active(&p.t));
	/* Tick i is never early: at or after start + 5 * (i + 1). */
	for (int i = 0; i < 5; i++)
		ck_assert_uint_ge(p.at[i], p.start + 5u * (unsigned)(i + 1));
	kn__loop_destroy(l);
}
END_TEST

static int freed_in_callback;

static void free_self(kn__loop *l, void *arg)
{
	kn__timer *t = arg;
	kn__timer_stop(l, t); /* periodic: must stop before freeing */
	free(t);
	freed_in_callback++;
}

START_TEST(test_timer_freed_by_its_callback)
{
	kn__loop *l = new_loop();
	freed_in_callback = 0;
	kn__timer *once = malloc(sizeof *once);
	kn__timer *every = malloc(sizeof *every);
	kn__timer_init(once, free_self, once);
	kn__timer_init(every, free_self, every);
	ck_assert_int_eq(kn__timer_start(l, once, 1, 0), 0);
	ck_assert_int_eq(kn__timer_start(l, every, 1, 1), 0);
	uint64_t deadline = kn__now_ms() + 2000;
	while (freed_in_callback < 2 && kn__now_ms() < deadline)
		ck_assert_int_eq(kn__loop_run_once(l, 10), 0);
	ck_assert_int_eq(freed_in_callback, 2);
	kn__loop_destroy(l);
}
END_TEST

static int zero_count;

static void restart_zero(kn__loop *l, void *arg)
{
	zero_count++;
	ck_assert_int_eq(kn__timer_start(l, arg, 0, 0), 0);
}

START_TEST(test_zero_delay_timer_cannot_starve)
{
	kn__loop *l = new_loop();
	kn__timer t;
	kn__timer_init(&t, restart_zero, &t);
	zero_count = 0;
	ck_assert_int_eq(kn__timer_start(l, &t, 0, 0), 0);
	/* Each iteration fires it once, however often it restarts itself. */
	for (int i = 1; i <= 3; i++) {
		ck_assert_int_eq(kn__loop_run_once(l, 0), 0);
		ck_assert_int_eq(zero_count, i);
	}
	kn__timer_stop(l, &t);
	kn__loop_destroy(l);
}
END_TEST

#define NSTRESS 1000

typedef struct stress_timer {
	kn__timer t;
	int stopped;
} stress_timer;

static stress_timer stress[NSTRESS];
static uint64_t last_due, last_seq;
static int stress_fired, stress_misordered, stress_wrong;

static void stress_fire(kn__loop *l, void *arg)
{
	stress_timer *s = arg;
	(void)l;
	if (s->stopped)
		stress_wrong++;
	/* due and seq are still those of this firing (one-shot). */
	if (s->t.due < last_due ||
	    (s->t.due == last_due && s->t.seq < last_seq))
		stress_misordered++;
	last_due = s->t.due;
	last_seq = s->t.seq;
	stress_fired++;
}

START_TEST(test_timer_heap_stress)
{
	kn__loop *l = new_loop();
	srand(7);
	for (int i = 0; i < NSTRESS; i++) {
		kn__timer_init(&stress[i].t, stress_fire, &stress[i]);
		ck_assert_int_eq(kn__timer_start(l, &stress[i].t,
						 (uint64_t)(rand() % 40), 0),
				 0);
	}
	int expect = NSTRESS;
	for (int i = 0; i < NSTRESS; i += 3) {
		kn__timer_stop(l, &stress[i].t);
		stress[i].stopped = 1;
		expect--;
	}
	/* Restart a few with new delays; they must still fire once. */
	for (int i = 1; i < NSTRESS; i += 7) {
		ck_assert_int_eq(kn__timer_start(l, &stress[i].t,
						 (uint64_t)(rand() % 40), 0),
				 0);
		if (stress[i].stopped) {
			stress[i].stopped = 0;
			expect++;
		}
	}
	uint64_t deadline = kn__now_ms() + 3000;
	while (stress_fired < expect && kn__now_ms() < deadline)
		ck_assert_int_eq(kn__loop_run_once(l, 10), 0);
	ck_assert_int_eq(stress_fired, expect);
	ck_assert_int_eq(stress_misordered, 0);
	ck_assert_int_eq(stress_wrong, 0);
	for (int i = 0; i < NSTRESS; i++)
		ck_assert(!kn__timer_active(&stress[i].t));
	kn__loop_destroy(l);
}
END_TEST

/* ---- cross-thread posts, wake-up, stop ---------------------------------- */

#define POSTERS 4
#define POSTS_EACH 5000

static pthread_t loop_thread;
static kn__loop *shared_loop;
static int posted_seen, posted_wrong_thread, posted_misordered;
static int last_seq_of[POSTERS];

static void on_posted(kn__loop *l, void *arg)
{
	uintptr_t v = (uintptr_t)arg;
	int who = (int)(v >> 20), seq = (int)(v & 0xfffff);
	if (!pthread_equal(pthread_self(), loop_thread))
		posted_wrong_thread++;
	if (seq != last_seq_of[who] + 1)
		posted_misordered++;
	last_seq_of[who] = seq;
	if (++posted_seen == POSTERS * POSTS_EACH)
		kn__loop_stop(l);
}

static void *poster(void *arg)
{
	uintptr_t who = (uintptr_t)arg;
	for (uintptr_t seq = 1; seq <= POSTS_EACH; seq++) {
		int rc = kn__loop_post(shared_loop, on_posted,
				       (void *)(who << 20 | seq));
		if (rc)
			return (void *)1;
	}
	return NULL;
}

START_TEST(test_post_from_threads_runs_on_loop_thread)
{
	shared_loop = new_loop();
	loop_thread = pthread_self();
	pthread_t th[POSTERS];
	for (uintptr_t i = 0; i < POSTERS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, poster, (void *)i),
				 0);
	ck_assert_int_eq(kn__loop_run(shared_loop), 0);
	for (int i = 0; i < POSTERS; i++) {
		void *res;
		pthread_join(th[i], &res);
		ck_assert_ptr_null(res);
		ck_assert_int_eq(last_seq_of[i], POSTS_EACH);
	}
	ck_assert_int_eq(posted_seen, POSTERS * POSTS_EACH);
	ck_assert_int_eq(posted_wrong_thread, 0);
	ck_assert_int_eq(posted_misordered, 0);
	kn__loop_destroy(shared_loop);
}
END_TEST

static void *wake_later(void *arg)
{
	sleep_ms(50);
	kn__loop_wake(arg);
	return NULL;
}

START_TEST(test_wake_from_thread_unblocks)
{
	kn__loop *l = new_loop();
	pthread_t th;
	uint64_t t0 = kn__now_ms();
	ck_assert_int_eq(pthread_create(&th, NULL, wake_later, l), 0);
	/* Nothing watched but the wake-up: blocks until the other thread. */
	ck_assert_int_eq(kn__loop_run_once(l, -1), 0);
	ck_assert_uint_ge(kn__now_ms() - t0, 40);
	pthread_join(th, NULL);
	kn__loop_destroy(l);
}
END_TEST

static void *stop_later(void *arg)
{
	sleep_ms(30);
	kn__loop_stop(arg);
	return NULL;
}

START_TEST(test_stop_from_thread)
{
	kn__loop *l = new_loop();
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, stop_later, l), 0);
	ck_assert_int_eq(kn__loop_run(l), 0);
	pthread_join(th, NULL);
	kn__loop_destroy(l);
}
END_TEST

static kn__loop *signal_loop;

static void on_alarm(int sig)
{
	(void)sig;
	kn__loop_stop(signal_loop);
}

START_TEST(test_stop_from_signal_handler)
{
	signal_loop = new_loop();
	struct sigaction sa = {.sa_handler = on_alarm};
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	struct itimerval it = {.it_value = {0, 20000}};
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	ck_assert_int_eq(kn__loop_run(signal_loop), 0);
	kn__loop_destroy(signal_loop);
}
END_TEST

static void stop_loop(kn__loop *l, void *arg)
{
	(void)arg;
	kn__loop_stop(l);
}

START_TEST(test_stop_before_run_is_consumed)
{
	kn__loop *l = new_loop();
	kn__loop_stop(l);
	ck_assert_int_eq(kn__loop_run(l), 0);
	/* The request was consumed: the next run waits for its own stop. */
	kn__timer t;
	kn__timer_init(&t, stop_loop, NULL);
	ck_assert_int_eq(kn__timer_start(l, &t, 20, 0), 0);
	uint64_t t0 = kn__now_ms();
	ck_assert_int_eq(kn__loop_run(l), 0);
	ck_assert_uint_ge(kn__now_ms() - t0, 15);
	kn__loop_destroy(l);
}
END_TEST

static int destroy_runs;

static void count_and_repost(kn__loop *l, void *arg)
{
	destroy_runs++;
	if (arg)
		ck_assert_int_eq(kn__loop_post(l, count_and_repost, NULL), 0);
}

START_TEST(test_destroy_runs_pending_posts)
{
	kn__loop *l = new_loop();
	destroy_runs = 0;
	ck_assert_int_eq(kn__loop_post(l, count_and_repost, NULL), 0);
	ck_assert_int_eq(kn__loop_post(l, count_and_repost, l), 0);
	kn__loop_destroy(l);
	ck_assert_int_eq(destroy_runs, 3);
}
END_TEST

/* ---- deferred work ------------------------------------------------------ */

static char defer_order[16];
static int defer_n;

typedef struct tagged_defer {
	kn__defer d;
	char id;
	int again; /* reschedule itself this many times */
} tagged_defer;

static void defer_fire(kn__loop *l, void *arg)
{
	tagged_defer *td = arg;
	defer_order[defer_n++] = td->id;
	if (td->again-- > 0)
		kn__defer_schedule(l, &td->d);
}

START_TEST(test_defer_order_and_cancel)
{
	kn__loop *l = new_loop();
	tagged_defer a = {.id = 'a'}, b = {.id = 'b', .again = 2},
		     c = {.id = 'c'};
	kn__defer_init(&a.d, defer_fire, &a);
	kn__defer_init(&b.d, defer_fire, &b);
	kn__defer_init(&c.d, defer_fire, &c);
	kn__defer_schedule(l, &a.d);
	kn__defer_schedule(l, &b.d);
	kn__defer_schedule(l, &a.d); /* already queued: no second run */
	kn__defer_schedule(l, &c.d);
	kn__defer_cancel(l, &c.d);
	kn__defer_cancel(l, &c.d);
	/* A queued defer makes the wait zero, so -1 does not block. */
	ck_assert_int_eq(kn__loop_run_once(l, -1), 0);
	ck_assert_str_eq(defer_order, "ab");
	/* b rescheduled itself: once per iteration, never twice in one. */
	ck_assert_int_eq(kn__loop_run_once(l, -1), 0);
	ck_assert_str_eq(defer_order, "abb");
	ck_assert_int_eq(kn__loop_run_once(l, -1), 0);
	ck_assert_str_eq(defer_order, "abbb");
	ck_assert_int_eq(kn__loop_run_once(l, 0), 0);
	ck_assert_str_eq(defer_order, "abbb");
	kn__loop_destroy(l);
}
END_TEST

/* ---- file descriptors --------------------------------------------------- */

typedef struct io_rec {
	int calls;
	unsigned events;
	int fd;
	int drain;          /* read one byte per call */
	int victim;         /* fd to remove and replace on the first call */
	int replacement;    /* readable fd dup2'ed onto victim's number */
	struct io_rec *replacement_rec;
} io_rec;

static void io_cb(kn__loop *l, int fd, unsigned events, void *arg)
{
	io_rec *r = arg;
	r->calls++;
	r->events = events;
	r->fd = fd;
	if (r->drain) {
		char ch;
		ck_assert_int_eq(read(fd, &ch, 1), 1);
	}
	if (r->victim >= 0) {
		/* Same fd number, new file, registered before the stale event
		 * collected for the old one is dispatched. */
		kn__loop_del_fd(l, r->victim);
		ck_assert_int_eq(dup2(r->replacement, r->victim), r->victim);
		ck_assert_int_eq(kn__loop_add_fd(l, r->victim, KN__IO_READ, io_cb,
						 r->replacement_rec),
				 0);
		r->victim = -1;
	}
}

START_TEST(test_fd_callbacks)
{
	kn__loop *l = new_loop();
	int p[2];
	ck_assert_int_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	io_rec rr = {.drain = 1, .victim = -1}, wr = {.victim = -1};
	ck_assert_int_eq(kn__loop_add_fd(l, p[0], KN__IO_READ, io_cb, &rr), 0);
	ck_assert_int_eq(kn__loop_add_fd(l, p[0], KN__IO_READ, io_cb, &rr),
			 -EEXIST);
	ck_assert_int_eq(kn__loop_add_fd(l, -1, KN__IO_READ, io_cb, &rr),
			 -EINVAL);
	ck_assert_int_eq(kn__loop_mod_fd(l, 999, KN__IO_READ), -ENOENT);
	ck_assert_int_eq(kn__loop_fd_events(l, 999), -1);
	ck_assert_int_eq(kn__loop_fd_events(l, p[0]), (int)KN__IO_READ);

	ck_assert_int_eq(kn__loop_run_once(l, 0), 0);
	ck_assert_int_eq(rr.calls, 0); /* nothing to read yet */
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(kn__loop_run_once(l, 1000), 0);
	ck_assert_int_eq(rr.calls, 1);
	ck_assert_uint_eq(rr.events, KN__IO_READ);
	ck_assert_int_eq(rr.fd, p[0]);
	ck_assert_int_eq(kn__loop_run_once(l, 0), 0);
	ck_assert_int_eq(rr.calls, 1); /* drained: level-triggered, quiet */

	/* Interest 0: readable data is not reported. */
	ck_assert_int_eq(write(p[1], "y", 1), 1);
	ck_assert_int_eq(kn__loop_mod_fd(l, p[0], 0), 0);
	ck_assert_int_eq(kn__loop_run_once(l, 0), 0);
	ck_assert_int_eq(rr.calls, 1);
	ck_assert_int_eq(kn__loop_mod_fd(l, p[0], KN__IO_READ), 0);
	ck_assert_int_eq(kn__loop_run_once(l, 1000), 0);
	ck_assert_int_eq(rr.calls, 2);

	ck_assert_int_eq(kn__loop_add_fd(l, p[1], KN__IO_WRITE, io_cb, &wr), 0);
	ck_assert_int_eq(kn__loop_run_once(l, 1000), 0);
	ck_assert_int_eq(wr.calls, 1);
	ck_assert_uint_eq(wr.events, KN__IO_WRITE);

	kn__loop_del_fd(l, p[1]);
	kn__loop_del_fd(l, p[1]); /* no-op */
	ck_assert_int_eq(kn__loop_fd_events(l, p[1]), -1);
	ck_assert_int_eq(kn__loop_run_once(l, 0), 0);
	ck_assert_int_eq(wr.calls, 1);

	/* The write end closes: the read end reports hang-up as an error. */
	close(p[1]);
	ck_assert_int_eq(kn__loop_mod_fd(l, p[0], 0), 0);
	rr.drain = 0;
	ck_assert_int_eq(kn__loop_run_once(l, 1000), 0);
	ck_assert_int_eq(rr.calls, 3);
	ck_assert_uint_eq(rr.events, KN__IO_ERROR);
	kn__loop_del_fd(l, p[0]);
	close(p[0]);
	kn__loop_destroy(l);
}
END_TEST

START_TEST(test_stale_event_not_delivered_to_reused_fd)
{
	kn__loop *l = new_loop();
	int a[2], b[2], c[2];
	ck_assert_int_eq(pipe2(a, O_NONBLOCK), 0);
	ck_assert_int_eq(pipe2(b, O_NONBLOCK), 0);
	ck_assert_int_eq(pipe2(c, O_NONBLOCK), 0);
	io_rec fresh = {.victim = -1};
	/* Whichever of a/b fires first replaces the other. */
	io_rec ra = {.victim = b[0], .replacement = c[0],
		     .replacement_rec = &fresh};
	io_rec rb = {.victim = a[0], .replacement = c[0],
		     .replacement_rec = &fresh};
	ck_assert_int_eq(kn__loop_add_fd(l, a[0], KN__IO_READ, io_cb, &ra), 0);
	ck_assert_int_eq(kn__loop_add_fd(l, b[0], KN__IO_READ, io_cb, &rb), 0);
	ck_assert_int_eq(write(a[1], "a", 1), 1);
	ck_assert_int_eq(write(b[1], "b", 1), 1);
	ck_assert_int_eq(kn__loop_run_once(l, 1000), 0);
	/* One of them ran and replaced the other; the other's stale event
	 * reached neither its old record nor the new registration. */
	ck_assert_int_eq(ra.calls + rb.calls, 1);
	ck_assert_int_eq(fresh.calls, 0);
	/* The new registration works once its own file is readable. */
	ck_assert_int_eq(write(c[1], "c", 1), 1);
	ck_assert_int_eq(kn__loop_run_once(l, 1000), 0);
	ck_assert_int_ge(fresh.calls, 1);
	kn__loop_del_fd(l, a[0]);
	kn__loop_del_fd(l, b[0]);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
		close(c[i]);
	}
	kn__loop_destroy(l);
}
END_TEST

/* ---- logging ------------------------------------------------------------ */

static char last_line[1024];
static int lines;

static void capture(void *opaque, const char *line)
{
	*(int *)opaque += 1;
	snprintf(last_line, sizeof last_line, "%s", line);
}

START_TEST(test_log_sink)
{
	kn__loop *l = new_loop();
	kn__loop_set_log(l, capture, &lines);
	kn__loop_logf(l, "conn %s: %d", "127.0.0.1:1", 42);
	ck_assert_int_eq(lines, 1);
	ck_assert_str_eq(last_line, "conn 127.0.0.1:1: 42");
	char big[800];
	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = 0;
	kn__loop_logf(l, "%s", big);
	ck_assert_uint_eq(strlen(last_line), 511);
	kn__loop_set_log(l, NULL, NULL); /* back to stderr */
	kn__loop_logf(l, "to stderr");
	ck_assert_int_eq(lines, 2);
	kn__loop_destroy(l);
}
END_TEST

/* ---- allocation failures ------------------------------------------------ */

static void noop_task(kn__loop *l, void *arg)
{
	(void)l;
	(*(int *)arg)++;
}

static void noop_timer(kn__loop *l, void *arg)
{
	(void)l;
	(void)arg;
}

/* Every allocation the loop makes, failed in turn: each failure is
 * reported as -ENOMEM and nothing leaks. */
START_TEST(test_alloc_failures)
{
	int p[2];
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	/* A high fd number makes the fd table grow. */
	int high = fcntl(p[0], F_DUPFD_CLOEXEC, 300);
	ck_assert_int_ge(high, 300);
	unsigned long k;
	int failures = 0;
	for (k = 1;; k++) {
		th_alloc_fail_at(k);
		kn__loop *l = NULL;
		kn__timer timers[40];
		int ran = 0, posted = 0, failed = 0, rc;
		rc = kn__loop_new(&l);
		if (rc) {
			ck_assert_int_eq(rc, -ENOMEM);
			ck_assert_ptr_null(l);
			failed = 1;
			goto check;
		}
		for (int i = 0; i < 40; i++)
			kn__timer_init(&timers[i], noop_timer, NULL);
		for (int i = 0; i < 40 && !failed; i++) {
			rc = kn__timer_start(l, &timers[i], 1000, 0);
			if (rc) {
				ck_assert_int_eq(rc, -ENOMEM);
				ck_assert(!kn__timer_active(&timers[i]));
				failed = 1;
			}
		}
		for (int i = 0; i < 3 && !failed; i++) {
			rc = kn__loop_post(l, noop_task, &ran);
			if (rc) {
				ck_assert_int_eq(rc, -ENOMEM);
				failed = 1;
			} else {
				posted++;
			}
		}
		if (!failed) {
			rc = kn__loop_add_fd(l, high, KN__IO_READ, io_cb, NULL);
			if (rc) {
				ck_assert_int_eq(rc, -ENOMEM);
				failed = 1;
			} else {
				kn__loop_del_fd(l, high);
			}
		}
		ck_assert_int_eq(kn__loop_run_once(l, 0), 0);
		ck_assert_int_eq(ran, posted);
		for (int i = 0; i < 40; i++)
			if (kn__timer_active(&timers[i]))
				kn__timer_stop(l, &timers[i]);
		kn__loop_destroy(l);
check:
		ck_assert_int_eq(th_alloc_live(), 0);
		if (!failed)
			break;
		failures++;
	}
	unsigned long total = th_alloc_count();
	th_alloc_reset();
	/* The clean run made k-1 allocations, each failed once before. */
	ck_assert_uint_lt(total, k);
	ck_assert_int_eq(failures, (int)k - 1);
	ck_assert_int_ge(failures, 5);
	close(high);
	close(p[0]);
	close(p[1]);
}
END_TEST

static Suite *loop_suite(void)
{
	Suite *s = suite_create("net_loop");
	TCase *tc = tcase_create("timers");
	tcase_add_test(tc, test_timers_fire_in_order);
	tcase_add_test(tc, test_periodic_timer);
	tcase_add_test(tc, test_timer_freed_by_its_callback);
	tcase_add_test(tc, test_zero_delay_timer_cannot_starve);
	tcase_add_test(tc, test_timer_heap_stress);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_add_test(tc, test_post_from_threads_runs_on_loop_thread);
	tcase_add_test(tc, test_wake_from_thread_unblocks);
	tcase_add_test(tc, test_stop_from_thread);
	tcase_add_test(tc, test_stop_from_signal_handler);
	tcase_add_test(tc, test_stop_before_run_is_consumed);
	tcase_add_test(tc, test_destroy_runs_pending_posts);
	suite_add_tcase(s, tc);

	tc = tcase_create("io");
	tcase_add_test(tc, test_defer_order_and_cancel);
	tcase_add_test(tc, test_fd_callbacks);
	tcase_add_test(tc, test_stale_event_not_delivered_to_reused_fd);
	tcase_add_test(tc, test_log_sink);
	tcase_add_test(tc, test_alloc_failures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(loop_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
